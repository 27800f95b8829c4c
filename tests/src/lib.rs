//! Harness of the end-to-end tests: start the real `causeway` binary on free loopback ports with
//! a generated configuration, drive it with sipp and with small SIP clients of our own over
//! UDP, TCP and TLS (rustls), and stop everything a test started.
//!
//! The tests themselves are in `tests/tests/*.rs` (test targets of the root package, so Cargo
//! builds the binary first and hands its path in `CARGO_BIN_EXE_causeway`).

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `../shared` beside the repository (CI clones the repository with it there).
pub mod baresip;
pub mod cluster;
pub mod h323ep;
pub mod netns;
pub mod tshark;

pub fn shared() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared"))
}

/// A sipp scenario of ours.
pub fn scenario(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/sipp")).join(name)
}

/// Ports this test process handed out already: the system may give a port it just released
/// again (a node's SIP and admin ports once came out the same), so none is handed out twice.
fn first_time(port: u16) -> bool {
    static GIVEN: std::sync::Mutex<Option<std::collections::HashSet<u16>>> =
        std::sync::Mutex::new(None);
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    given.get_or_insert_with(Default::default).insert(port)
}

/// A port free for both UDP and TCP on 127.0.0.1, never in the outbound range 25000-29999,
/// and never handed out before in this test process.
pub fn free_port() -> u16 {
    for _ in 0..200 {
        let Ok(u) = UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(port) = u.local_addr().map(|a| a.port()) else {
            continue;
        };
        if (25000..=29999).contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() && first_time(port) {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1");
}

/// A port free for TCP on 127.0.0.1 below the ephemeral range (30000-32767, away from the
/// outbound default 25000-29999): a peer that restarts gets it back, where a port the system
/// handed out may meanwhile be the source port of another connection.
pub fn stable_port() -> u16 {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    for _ in 0..500 {
        let port = rng.gen_range(30000..=32767);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() && first_time(port) {
            return port;
        }
    }
    panic!("no free port in 30000-32767 on 127.0.0.1");
}

/// A block of 50 ports for a node's outbound connections, away from the outbound default.
pub fn outbound_block() -> String {
    let n = u32::from(free_port() % 200);
    let start = 40000 + n * 50;
    format!("{}-{}", start, start + 49)
}

/// The Record-Route entries of a response, one each (sipp combines them into one field).
pub fn record_routes(resp: &str) -> Vec<String> {
    header_values(resp, "Record-Route")
        .iter()
        .flat_map(|v| {
            v.split(',')
                .map(|x| x.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Raw SIP text with `\n` line ends turned into CRLF.
pub fn crlf(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\n', "\r\n")
}

pub fn status(resp: &str) -> u16 {
    resp.get(8..11).and_then(|s| s.parse().ok()).unwrap_or(0)
}

pub fn header_values(msg: &str, name: &str) -> Vec<String> {
    let head = msg.split("\r\n\r\n").next().unwrap_or("");
    head.lines()
        .skip(1)
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
        .collect()
}

/// A running causeway; stopped (SIGTERM, then SIGKILL) on drop.
pub struct Node {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub tls_port: u16,
    pub mtls_port: u16,
    pub admin_port: u16,
    log: PathBuf,
}

#[derive(Default)]
pub struct NodeOptions<'a> {
    /// extra lines for the `[sip]` table
    pub sip: &'a str,
    /// extra tables appended to the file
    pub extra: &'a str,
    pub mtls: bool,
    /// `[system] role`; `control` when unset.
    pub role: Option<&'a str>,
    /// extra lines for the `[admin]` table (whose `listen` is the node's free admin port)
    pub admin: &'a str,
}

impl Node {
    pub fn start(opts: NodeOptions<'_>) -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        let (port, tls_port, mtls_port) = (free_port(), free_port(), free_port());
        let admin_port = free_port();
        let admin = if opts.extra.contains("[admin]") {
            String::new()
        } else {
            format!(
                "[admin]\nlisten = \"127.0.0.1:{admin_port}\"\n{}\n",
                opts.admin
            )
        };
        let toml = format!(
            r#"[system]
name = "e2e"
role = "{role}"
domain = "example.com"

[sip]
udp = {{ enabled = true, listen = "127.0.0.1:{port}" }}
tcp = {{ enabled = true, listen = "127.0.0.1:{port}" }}
tls = {{ enabled = true, listen = "127.0.0.1:{tls_port}" }}
mtls = {{ enabled = {mtls}, listen = "127.0.0.1:{mtls_port}" }}
outbound_ports = "{outbound}"
{sip}

{admin}
{extra}
"#,
            role = opts.role.unwrap_or("control"),
            mtls = opts.mtls,
            outbound = outbound_block(),
            sip = opts.sip,
            extra = opts.extra,
        );
        let cfg = dir.path().join("node.toml");
        std::fs::write(&cfg, toml).expect("write config");
        let log = dir.path().join("node.log");
        let child = spawn(&cfg, &log);
        let node = Node {
            child,
            dir,
            port,
            tls_port,
            mtls_port,
            admin_port,
            log,
        };
        node.wait_for("running", Duration::from_secs(20));
        node
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the node (SIGTERM, then SIGKILL); its directory (configuration, data) stays.
    pub fn stop(&mut self) {
        stop(&mut self.child);
    }

    /// Starts the node again on the same configuration file, logging to a new file.
    pub fn restart(&mut self) {
        stop(&mut self.child);
        let n = std::fs::read_dir(self.dir.path())
            .map(|d| d.count())
            .unwrap_or(0);
        self.log = self.dir.path().join(format!("node.{n}.log"));
        self.child = spawn(&self.dir.path().join("node.toml"), &self.log);
        self.wait_for("running", Duration::from_secs(20));
    }

    pub fn wait_for(&self, needle: &str, timeout: Duration) {
        wait_for_log(&self.log, needle, 1, timeout)
    }

    pub fn udp(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    /// `causeway status --json` of this node (`Null` when it does not answer).
    pub fn status_json(&self) -> serde_json::Value {
        let o = Command::new(env_bin())
            .args(["status", "--json", "--admin"])
            .arg(format!("127.0.0.1:{}", self.admin_port))
            .output()
            .expect("causeway status");
        serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
    }
    /// `GET path` on the node's admin listener: the status code (0 when it does not answer)
    /// and the body.
    pub fn admin_get(&self, path: &str) -> (u16, String) {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.admin_port)) else {
            return (0, String::new());
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        );
        let mut r = String::new();
        let _ = s.read_to_string(&mut r);
        let code = r.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = r.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (code, body.to_string())
    }
    /// `causeway status` of this node, as printed.
    pub fn status_text(&self) -> String {
        let o = Command::new(env_bin())
            .args(["status", "--admin"])
            .arg(format!("127.0.0.1:{}", self.admin_port))
            .output()
            .expect("causeway status");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
    pub fn tls(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.tls_port))
    }
    pub fn mtls(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.mtls_port))
    }
}

fn spawn(cfg: &Path, log: &Path) -> Child {
    Command::new(env_bin())
        .args(["run", "--config"])
        .arg(cfg)
        .env("RUST_LOG", "info,causeway_sip=debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("spawn causeway")
}

impl Drop for Node {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn stop(child: &mut Child) {
    // already stopped (and reaped): its pid may be someone else's by now
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits until the log file at `path` holds `needle` `count` times; panics with the log when
/// it does not in time.
pub fn wait_for_log(path: &Path, needle: &str, count: usize, timeout: Duration) {
    let read = || std::fs::read_to_string(path).unwrap_or_default();
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if read().matches(needle).count() >= count {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "causeway did not log `{needle}` {count}x in time; log:\n{}",
        read()
    );
}

/// The causeway binary under test: `CAUSEWAY_BIN`, else the one Cargo built beside the test
/// executable (`target/<profile>/causeway`, the test being in `target/<profile>/deps/`).
pub fn env_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CAUSEWAY_BIN") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("CARGO_BIN_EXE_causeway") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("causeway"))
        .expect("target directory");
    assert!(
        bin.exists(),
        "{} not built: run the tests with cargo test",
        bin.display()
    );
    bin
}

// ------------------------------------------------------------------ sipp

fn require(bin: &str, package: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "`{bin}` is missing: apt-get install -y {package}");
}

/// Runs sipp in the foreground with a time limit; returns its output (status: sipp's exit code,
/// 0 when every call succeeded).
pub fn sipp(args: &[&str], limit: Duration) -> Output {
    require("sipp", "sip-tester");
    let mut child = Command::new("sipp")
        .args(args)
        .args(["-nostdin"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sipp");
    let end = Instant::now() + limit;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > end {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("sipp output")
}

/// sipp in the background (a UAS), stopped on drop.
pub struct Background(pub Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn sipp_background(args: &[&str]) -> Background {
    require("sipp", "sip-tester");
    let child = Command::new("sipp")
        .args(args)
        .args(["-nostdin"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sipp");
    std::thread::sleep(Duration::from_millis(300));
    Background(child)
}

/// A sipp UAS on a free loopback port running our scenario `name`; `transport` is sipp's
/// `-t` value ("u1" for UDP, "t1" for TCP).
pub fn sipp_uas(name: &str, transport: &str) -> (Background, u16) {
    let port = free_port();
    let uas = sipp_background(&[
        "-sf",
        &scenario(name).display().to_string(),
        "-i",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-t",
        transport,
    ]);
    (uas, port)
}

/// A sipp UAC sending `calls` calls of our scenario `name` to `node` for user `service`, at
/// `rate` calls/s; sipp's exit status is 0 when every call succeeded.
pub fn sipp_uac(
    node: &Node,
    name: &str,
    service: &str,
    transport: &str,
    calls: u32,
    rate: u32,
) -> Output {
    sipp_uac_with(node, name, service, transport, calls, rate, &[])
}

/// [`sipp_uac`] with more sipp options (`-l` to cap the calls open at once, …).
pub fn sipp_uac_with(
    node: &Node,
    name: &str,
    service: &str,
    transport: &str,
    calls: u32,
    rate: u32,
    extra: &[&str],
) -> Output {
    sipp_uac_port(node.port, (name, service, transport), calls, rate, extra)
}

/// [`sipp_uac_with`] to the node listening on 127.0.0.1:`port` (for a thread that may not
/// borrow the node).
pub fn sipp_uac_port(
    port: u16,
    (name, service, transport): (&str, &str, &str),
    calls: u32,
    rate: u32,
    extra: &[&str],
) -> Output {
    let node_port = port;
    let limit = 15 + calls / rate.max(1);
    let calls_text = calls.to_string();
    let rate_text = rate.to_string();
    let port = free_port().to_string();
    let timeout = format!("{limit}s");
    let target = format!("127.0.0.1:{node_port}");
    let file = scenario(name).display().to_string();
    let mut args: Vec<&str> = vec![
        &target,
        "-sf",
        &file,
        "-s",
        service,
        "-i",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        transport,
        "-m",
        &calls_text,
        "-r",
        &rate_text,
        "-timeout",
        &timeout,
    ];
    args.extend_from_slice(extra);
    sipp(&args, Duration::from_secs(u64::from(limit) + 5))
}

/// Registers `user@example.com` at `node` with a Contact on 127.0.0.1:`contact_port`.
pub fn register(node: &Node, user: &str, contact_port: u16) {
    register_with(node, user, &format!("127.0.0.1:{contact_port}"));
}

/// Registers `user@example.com` with Contact `<sip:user@{contact}>` (`contact` may carry
/// `;transport=tcp`).
pub fn register_with(node: &Node, user: &str, contact: &str) {
    let contact_port: String = contact.chars().filter(char::is_ascii_digit).collect();
    let c = UdpClient::new();
    let msg = crlf(&format!(
        "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP {local};branch=z9hG4bKreg{user}{contact_port}
Max-Forwards: 70
From: <sip:{user}@example.com>;tag=r1
To: <sip:{user}@example.com>
Call-ID: reg-{user}-{contact_port}
CSeq: 1 REGISTER
Contact: <sip:{user}@{contact}>
Expires: 600
Content-Length: 0

",
        local = c.local()
    ));
    let r = c.request(node.udp(), &msg);
    assert_eq!(status(&r), 200, "REGISTER failed: {r}");
}

// ------------------------------------------------------------------ raw clients

pub struct UdpClient(UdpSocket);

impl Default for UdpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl UdpClient {
    pub fn new() -> UdpClient {
        UdpClient::from_ip([127, 0, 0, 1].into())
    }
    /// A client on another source address (a loopback address other than 127.0.0.1 is another
    /// source to the node: an attacker beside the legitimate clients).
    pub fn from_ip(ip: std::net::IpAddr) -> UdpClient {
        let s = UdpSocket::bind((ip, 0)).expect("udp bind");
        s.set_read_timeout(Some(Duration::from_millis(200))).ok();
        UdpClient(s)
    }
    /// Sends without waiting or failing (a flood: a full socket buffer only loses datagrams).
    pub fn send_lossy(&self, to: SocketAddr, data: &[u8]) -> bool {
        self.0.send_to(data, to).is_ok()
    }
    pub fn local(&self) -> SocketAddr {
        self.0.local_addr().expect("local addr")
    }
    pub fn send(&self, to: SocketAddr, data: &[u8]) {
        self.0.send_to(data, to).expect("udp send");
    }
    /// Every datagram received within `wait`.
    pub fn recv_all(&self, wait: Duration) -> Vec<String> {
        let end = Instant::now() + wait;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        while Instant::now() < end {
            if let Ok((n, _)) = self.0.recv_from(&mut buf) {
                out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        out
    }
    /// Sends and returns the first final (or only) response within 3 s, or "" if none.
    pub fn request(&self, to: SocketAddr, msg: &str) -> String {
        self.send(to, msg.as_bytes());
        let end = Instant::now() + Duration::from_secs(3);
        let mut buf = vec![0u8; 65536];
        let mut last = String::new();
        while Instant::now() < end {
            if let Ok((n, _)) = self.0.recv_from(&mut buf) {
                last = String::from_utf8_lossy(&buf[..n]).into_owned();
                if status(&last) >= 200 {
                    return last;
                }
            }
        }
        last
    }
}

/// The header fields a real UA's REGISTER carries besides the required ones (User-Agent,
/// Allow, Supported, Accept, Allow-Events), for raw requests in tests: over UDP the node never
/// answers with more bytes than it was sent (`[protection] amplification_limit`), and a
/// minimal request is shorter than most answers. Each line ends in `\n` (`crlf` converts).
pub const UA_HEADERS: &str =
    "User-Agent: causeway-e2e softphone 1.0 (x86_64-linux; headers like a real UA)
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, MESSAGE, NOTIFY, REFER, SUBSCRIBE
Supported: path, outbound, gruu, replaces, timer, 100rel
Accept: application/sdp, application/dtmf-relay, text/plain
Allow-Events: presence, message-summary, refer, dialog, conference, talk, hold
";

/// A TCP connection to `to` from address `from` (the system's choice when `None`).
pub fn connect_from(from: Option<std::net::IpAddr>, to: SocketAddr) -> std::io::Result<TcpStream> {
    let Some(ip) = from else {
        return TcpStream::connect(to);
    };
    let domain = socket2::Domain::for_address(to);
    let s = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    s.bind(&SocketAddr::new(ip, 0).into())?;
    s.connect_timeout(&to.into(), Duration::from_secs(3))?;
    Ok(s.into())
}

/// A TCP or TLS SIP connection with Content-Length framing.
pub struct StreamClient {
    io: Box<dyn ReadWrite>,
    buf: Vec<u8>,
    pub local: SocketAddr,
}

pub trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

/// A client certificate for MTLS tests.
pub struct ClientCert {
    pub certs: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl StreamClient {
    pub fn tcp(to: SocketAddr) -> StreamClient {
        StreamClient::tcp_from(None, to).expect("tcp connect")
    }

    /// TCP from source address `from` (any when `None`).
    pub fn tcp_from(
        from: Option<std::net::IpAddr>,
        to: SocketAddr,
    ) -> std::io::Result<StreamClient> {
        let s = connect_from(from, to)?;
        s.set_read_timeout(Some(Duration::from_millis(200))).ok();
        let local = s.local_addr().expect("local");
        Ok(StreamClient {
            io: Box::new(s),
            buf: Vec::new(),
            local,
        })
    }

    /// TLS to `to`, accepting any server certificate; with `cert`, offers a client certificate.
    pub fn tls(to: SocketAddr, cert: Option<ClientCert>) -> std::io::Result<StreamClient> {
        StreamClient::tls_from(None, to, cert)
    }

    /// [`StreamClient::tls`] from source address `from`.
    pub fn tls_from(
        from: Option<std::net::IpAddr>,
        to: SocketAddr,
        cert: Option<ClientCert>,
    ) -> std::io::Result<StreamClient> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServer(provider)));
        let config = match cert {
            Some(c) => builder
                .with_client_auth_cert(c.certs, c.key)
                .map_err(std::io::Error::other)?,
            None => builder.with_no_client_auth(),
        };
        let conn = rustls::ClientConnection::new(
            Arc::new(config),
            ServerName::try_from("localhost").map_err(std::io::Error::other)?,
        )
        .map_err(std::io::Error::other)?;
        let tcp = connect_from(from, to)?;
        tcp.set_read_timeout(Some(Duration::from_millis(200))).ok();
        let local = tcp.local_addr()?;
        let mut s = rustls::StreamOwned::new(conn, tcp);
        // drive the handshake now, so a refused handshake shows here
        let end = Instant::now() + Duration::from_secs(3);
        while s.conn.is_handshaking() {
            match s.conn.complete_io(&mut s.sock) {
                Ok(_) => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    if Instant::now() > end {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(StreamClient {
            io: Box::new(s),
            buf: Vec::new(),
            local,
        })
    }

    pub fn send(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.io.write_all(data)?;
        self.io.flush()
    }

    /// The next framed message within `wait`, or None (timeout or closed).
    pub fn recv(&mut self, wait: Duration) -> Option<String> {
        let end = Instant::now() + wait;
        loop {
            if let Some(m) = self.take_frame() {
                return Some(m);
            }
            if Instant::now() > end {
                return None;
            }
            let mut chunk = [0u8; 8192];
            match self.io.read(&mut chunk) {
                Ok(0) => return self.take_frame(),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return None,
            }
        }
    }

    /// Whether the peer closed the connection within `wait`.
    pub fn closed(&mut self, wait: Duration) -> bool {
        let end = Instant::now() + wait;
        while Instant::now() < end {
            let mut chunk = [0u8; 1024];
            match self.io.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return true,
            }
        }
        false
    }

    /// Sends and returns the first final response within 3 s.
    pub fn request(&mut self, msg: &str) -> Option<String> {
        self.send(msg.as_bytes()).ok()?;
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            let m = self.recv(Duration::from_millis(500))?;
            if status(&m) >= 200 {
                return Some(m);
            }
        }
        None
    }

    fn take_frame(&mut self) -> Option<String> {
        while self.buf.starts_with(b"\r\n") {
            self.buf.drain(..2);
        }
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        let head_end = text.find("\r\n\r\n")?;
        let cl: usize = header_values(&text[..head_end + 4], "Content-Length")
            .first()
            .or(header_values(&text[..head_end + 4], "l").first())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let total = head_end + 4 + cl;
        if self.buf.len() < total {
            return None;
        }
        let frame: Vec<u8> = self.buf.drain(..total).collect();
        Some(String::from_utf8_lossy(&frame).into_owned())
    }
}

#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A CA, and a client certificate it signed, written as PEM into `dir` (`ca.pem`).
pub fn make_ca_and_client(dir: &Path) -> ClientCert {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca cert");
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write ca");
    let key = KeyPair::generate().expect("client key");
    let params = CertificateParams::new(vec!["client.example.com".to_string()]).expect("params");
    let cert = params.signed_by(&key, &ca, &ca_key).expect("client cert");
    ClientCert {
        certs: vec![cert.der().clone()],
        key: PrivateKeyDer::try_from(key.serialize_der()).expect("key der"),
    }
}

/// A CA's PEM file and a server certificate it signed, with its key, for a node whose peers
/// verify it (`tls_verify = "enforce"`).
pub struct ServerPki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A CA called `name` and a server certificate it signed for `names` (DNS names or IP
/// addresses), written as PEM into `dir` (`<name>-ca.pem`, `<name>-server.pem`,
/// `<name>-server.key`). Each call is a new, unrelated CA: its subject carries `name`, so two
/// of them never look like one.
pub fn make_ca_and_server(dir: &Path, name: &str, names: &[&str]) -> ServerPki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    };
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("causeway test CA {name}"));
    let ca = ca_params.self_signed(&ca_key).expect("ca cert");
    let key = KeyPair::generate().expect("server key");
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, format!("causeway test server {name}"));
    // a node's certificate is used both ways: as a server on its listeners and as a client on
    // the links it opens (MTLS)
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.signed_by(&key, &ca, &ca_key).expect("server cert");
    let pki = ServerPki {
        ca: dir.join(format!("{name}-ca.pem")),
        cert: dir.join(format!("{name}-server.pem")),
        key: dir.join(format!("{name}-server.key")),
    };
    std::fs::write(&pki.ca, ca.pem()).expect("write ca");
    std::fs::write(&pki.cert, cert.pem()).expect("write server cert");
    std::fs::write(&pki.key, key.serialize_pem()).expect("write server key");
    pki
}

// ------------------------------------------------------------------ h323-endpoint

/// The `h323-endpoint` binary of this crate: `H323_ENDPOINT_BIN`, else the one in the test
/// executable's profile directory. Cargo does not build a dependency's binaries for the root
/// package's tests, and a nested `cargo build` would wait forever on the lock that the running
/// `cargo test` holds, so it is built beforehand:
/// `cargo build -p causeway-tests --bin h323-endpoint`.
pub fn h323_endpoint_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("H323_ENDPOINT_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("h323-endpoint"))
        .expect("target directory");
    assert!(
        bin.exists(),
        "{} not built: run `cargo build -p causeway-tests --bin h323-endpoint` (same profile and \
         target directory) before these tests",
        bin.display()
    );
    bin
}

/// A running `h323-endpoint`: its JSON events collected from stdout; stopped on drop (stdin
/// closed so it unregisters, then killed if it has not exited in 5 s).
pub struct H323Endpoint {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    events: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    pub name: String,
}

impl H323Endpoint {
    pub fn start(name: &str, args: &[&str]) -> H323Endpoint {
        let mut cmd = Command::new(h323_endpoint_bin());
        cmd.args(args);
        H323Endpoint::spawn(name, cmd)
    }

    /// An endpoint run in network namespace `ns` (`ip netns exec`).
    pub fn start_in(ns: &str, name: &str, args: &[&str]) -> H323Endpoint {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns])
            .arg(h323_endpoint_bin())
            .args(args);
        H323Endpoint::spawn(name, cmd)
    }

    fn spawn(name: &str, mut cmd: Command) -> H323Endpoint {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn h323-endpoint");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let events = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = events.clone();
        let tag = name.to_owned();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("[{tag}] {line}");
                let v = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({"event":"unparsed","line":line}));
                sink.lock().unwrap().push(v);
            }
        });
        H323Endpoint {
            child,
            stdin,
            events,
            name: name.to_owned(),
        }
    }

    pub fn events(&self) -> Vec<serde_json::Value> {
        self.events.lock().unwrap().clone()
    }

    /// The first event matching `pred`, waiting up to `timeout`; panics with every event
    /// seen when none comes.
    pub fn wait(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let end = Instant::now() + timeout;
        loop {
            if let Some(v) = self.events().into_iter().find(&pred) {
                return v;
            }
            if Instant::now() > end {
                panic!(
                    "{}: no `{what}` event within {timeout:?}; events: {:#?}",
                    self.name,
                    self.events()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The first event named `event`.
    pub fn wait_event(&self, event: &str, timeout: Duration) -> serde_json::Value {
        self.wait(event, timeout, |v| v["event"] == event)
    }

    /// SIGKILL: the endpoint vanishes without unregistering.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Closes stdin (the endpoint unregisters and exits) and waits for the exit status.
    pub fn finish(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.stdin.take();
        self.exit_status(timeout)
    }

    /// Waits for the process to exit by itself.
    pub fn exit_status(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for H323Endpoint {
    fn drop(&mut self) {
        self.stdin.take();
        if self.exit_status(Duration::from_secs(5)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
