//! The admin listener of issue 13: the status web page as headless Chromium renders it (a node
//! on loopback with a registration, a call with its message ladder and a traversal link to a
//! peer nobody listens on), the ladder's layout drawn from fixed JSON, and admin access (`check-config` off
//! loopback, users over HTTPS: 401 counted, then 429, the limits on slow or huge requests).
//!
//! Chromium is Debian's `chromium` (.ci/run installs it). The screenshots in `docs/` are these
//! tests' own: `CAUSEWAY_SCREENSHOTS=$PWD/docs cargo test --test web`.

use causeway_tests::{env_bin, free_port, register, sipp_uac, sipp_uas, Node, NodeOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PAGE: &str = include_str!("../../src/admin/page.html");

/// `chromium` with the flags every run here needs, then `args`; panics when it is missing.
fn chromium(args: &[&str]) -> Output {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
        ])
        .args(args)
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) => o,
        Err(e) => panic!("`chromium` cannot run ({e}): apt-get install -y chromium"),
    }
}

/// The DOM of `url` once its scripts have run (up to 8 s of virtual time: two refreshes).
fn dom(url: &str) -> String {
    let o = chromium(&["--virtual-time-budget=8000", "--dump-dom", url]);
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// An HTTP GET over plain TCP: the status code and the body.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(3)) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let code = resp.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (code, body.to_string())
}

/// Polls `f` every 100 ms until it is true or `limit` passes; whether it became true.
fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

#[test]
fn status_page_in_chromium_shows_role_registration_call_and_down_link_with_its_alarm() {
    // a traversal link to a port nobody listens on: down, with its alarm
    let dead = free_port();
    let extra = format!(
        "[[zone]]\nname = \"to-edge\"\ntype = \"traversal-client\"\npeer = \"127.0.0.1\"\n\
         sip_port = {dead}\ntransport = \"tcp\"\nusername = \"control-1\"\npassword = \"x\"\n\
         retry_first = 1\nretry_max = 2\n"
    );
    let node = Node::start(NodeOptions {
        extra: &extra,
        ..NodeOptions::default()
    });
    let admin = SocketAddr::from(([127, 0, 0, 1], node.admin_port));
    let (_uas, uas_port) = sipp_uas("uas_call.xml", "u1");
    register(&node, "alice", uas_port);
    let call = sipp_uac(&node, "uac_call.xml", "alice", "u1", 1, 1);
    assert!(call.status.success(), "the call failed: {call:?}");
    assert!(
        eventually(Duration::from_secs(10), || {
            let (_, s) = get(admin, "/status");
            s.contains("traversal link to-edge is down") && s.contains("sip:alice@example.com")
        }),
        "no alarm or registration in the status: {}",
        get(admin, "/status").1
    );
    // a source sending garbage is blocked, and the page lists it
    let flooder = causeway_tests::UdpClient::from_ip([127, 0, 0, 2].into());
    for _ in 0..40 {
        flooder.send_lossy(node.udp(), b"garbage, not SIP\r\n\r\n");
    }
    assert!(
        eventually(Duration::from_secs(10), || get(admin, "/status")
            .1
            .contains("127.0.0.2")),
        "no block in the status: {}",
        get(admin, "/status").1
    );
    let (page_code, page) = get(admin, "/");
    assert_eq!(page_code, 200);
    assert!(
        page.starts_with("<!DOCTYPE html>"),
        "GET / is the page, not JSON"
    );

    let d = dom(&format!("http://{admin}/"));
    assert!(d.contains(">control (C)<"), "role not shown: {d}");
    assert!(
        d.contains("sip:alice@example.com"),
        "registration not shown: {d}"
    );
    assert!(
        d.contains(r#"data-zone="to-edge""#)
            && d.contains(r#"<span class="pill crit">down</span>"#),
        "down link not shown: {d}"
    );
    assert!(
        d.contains("traversal link to-edge is down"),
        "alarm not shown: {d}"
    );
    assert!(
        d.contains(r#"<td class="mono">127.0.0.2</td><td><span class="pill crit">garbage</span>"#),
        "the blocked source not shown: {d}"
    );
    assert!(
        d.contains(r#"class="pill crit">1 critical<"#),
        "health: {d}"
    );
    // the call, from the call history (GET /calls), and its ladder drawn from /calls/<id>
    let (calls_code, calls) = get(admin, "/calls");
    assert_eq!(calls_code, 200, "{calls}");
    assert!(calls.contains("alice"), "{calls}");
    assert!(
        d.contains(r#"id="calls-list""#) && d.contains("alice@"),
        "call not shown: {d}"
    );
    let list: serde_json::Value = serde_json::from_str(&calls).expect("calls JSON");
    let id = list["calls"][0]["id"].as_str().expect("a call id");
    let enc: String = id
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let ladder = dom(&format!("http://{admin}/#call={enc}"));
    assert!(
        ladder.contains(r#"class="wide on" id="ladder-panel""#)
            && ladder.contains(r#"<div class="label">INVITE sip:alice@example.com</div>"#)
            && ladder.contains(r#"<div class="label">200 OK (BYE)</div>"#),
        "the real call's ladder: {ladder}"
    );
    let first: u64 = d
        .split("data-first-render-ms=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX);
    assert!(first < 3000, "first render took {first} ms");
    println!("status page: first complete render {first} ms after navigation start");
    screenshot(&format!("http://{admin}/"), "status-page.png", 1000);
}

/// Writes a screenshot of `url` as `name` into `$CAUSEWAY_SCREENSHOTS` (or a temporary
/// directory) and checks a PNG came out.
fn screenshot(url: &str, name: &str, height: u32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = std::env::var_os("CAUSEWAY_SCREENSHOTS")
        .map_or_else(|| dir.path().to_path_buf(), std::path::PathBuf::from)
        .join(name);
    let started = Instant::now();
    let o = chromium(&[
        "--virtual-time-budget=4000",
        &format!("--window-size=1400,{height}"),
        &format!("--screenshot={}", path.display()),
        url,
    ]);
    let png = std::fs::read(&path).unwrap_or_default();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "no screenshot at {}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    println!(
        "screenshot {} in {} ms",
        path.display(),
        started.elapsed().as_millis()
    );
}

// ------------------------------------------------------------------ the ladder

/// A stand-in for a node with a call history: serves the page and fixed JSON in the shapes
/// the history serves (`/calls`, `/calls/<id>`, `/searches`), until dropped.
struct FakeNode {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl FakeNode {
    fn start() -> FakeNode {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => answer(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeNode { addr, stop }
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer(mut s: TcpStream) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap_or(0);
    let req = String::from_utf8_lossy(&buf[..n]);
    let path = req.split(' ').nth(1).unwrap_or("");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (code, ctype, body) = match path {
        "/" => ("200 OK", "text/html", PAGE.to_string()),
        "/status" => ("200 OK", "application/json", fake_status(now)),
        "/calls" => ("200 OK", "application/json", fake_calls(now)),
        "/calls/c2" => ("200 OK", "application/json", fake_ladder(now)),
        "/searches" => ("200 OK", "application/json", fake_searches(now)),
        _ => ("404 Not Found", "application/json", "{}".to_string()),
    };
    let _ = write!(
        s,
        "HTTP/1.1 {code}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn fake_status(now: u64) -> String {
    format!(
        r#"{{"system":"lab-e1","role":"edge","version":"0.1.0","time":{now},
        "zones":[{{"name":"LocalZone","type":"local","detail":"domains example.com"}}],
        "links":[],"registrations":[],"media":null,"h323":null,"alarms":[],
        "admin":{{"auth_failures":0,"rate_limited":0}},
        "cluster":{{"name":"expe.example.com","node_id":2,"role":"follower","leader":1,"term":3,
          "last_log_index":9,"applied_index":9,"document_index":8,
          "document_hash":"3f1c0a9b7d6e5f4a3f1c0a9b7d6e5f4a3f1c0a9b7d6e5f4a3f1c0a9b7d6e5f4a",
          "peers":[{{"node_id":1,"addr":"192.0.2.31:4372","is_self":false,"matched_index":null,
            "last_contact":{{"secs":0,"nanos":120000000}}}},
            {{"node_id":2,"addr":"192.0.2.32:4372","is_self":true,"matched_index":null,"last_contact":null}}],
          "refused_connections":4,"since_quorum_ack":null}}}}"#
    )
}

fn call(id: &str, state: &str, now: u64, ended: &str, outcome: &str) -> String {
    format!(
        r#"{{"id":"{id}","protocol":"sip","from":"sip:carol@example.com","to":"sip:dave@example.com",
        "started":{s},"answered":{a},"ended":{ended},"state":"{state}","outcome":{outcome},"messages":5"#,
        s = now - 20,
        a = now - 19,
    )
}

fn fake_calls(now: u64) -> String {
    format!(
        r#"{{"calls":[{}}},{}}}]}}"#,
        call("c2", "active", now, "null", "null"),
        call("c1", "ended", now, &(now - 5).to_string(), "200"),
    )
}

fn fake_ladder(now: u64) -> String {
    let m = |t: u64, dir: &str, remote: &str, summary: &str| {
        format!(
            r#"{{"t":{t}.25,"dir":"{dir}","transport":"UDP","local":"192.0.2.1:5060","remote":"{remote}","summary":"{summary}","text":"{summary} SIP/2.0\r\nCall-ID: ladder-1\r\n"}}"#
        )
    };
    let msgs = [
        m(
            now - 20,
            "in",
            "192.0.2.10:5060",
            "INVITE sip:dave@example.com",
        ),
        m(
            now - 20,
            "out",
            "192.0.2.20:5060",
            "INVITE sip:dave@192.0.2.20",
        ),
        m(now - 19, "in", "192.0.2.20:5060", "200 OK"),
        m(now - 19, "out", "192.0.2.10:5060", "200 OK"),
    ];
    format!(
        r#"{},"ladder":[{}]}}"#,
        call("c2", "active", now, "null", "null"),
        msgs.join(",")
    )
}

fn fake_searches(now: u64) -> String {
    format!(
        r#"{{"searches":[{{"t":{now},"alias":"dave@example.com","source_zone":"LocalZone",
        "protocol":"sip","trace":["rule local: registered"],"targets":["sip:dave@192.0.2.20"],
        "outcome":"routed"}}]}}"#
    )
}

#[test]
fn a_linked_call_opens_its_message_ladder_with_a_column_per_peer() {
    let fake = FakeNode::start();
    let d = dom(&format!("http://{}/#call=c2", fake.addr));
    assert!(
        d.contains(r#"class="wide on" id="ladder-panel""#),
        "ladder closed: {d}"
    );
    for peer in ["192.0.2.10:5060", "192.0.2.20:5060"] {
        assert!(
            d.contains(&format!(r#"<div class="peer" title="{peer}">"#)),
            "{peer}: {d}"
        );
    }
    assert!(
        d.contains(r#"<div class="peer node">causeway</div>"#),
        "{d}"
    );
    assert!(
        d.contains(r#"data-msg="3" title="UDP 192.0.2.1:5060 → 192.0.2.10:5060">"#)
            && !d.contains(r#"data-msg="4""#),
        "four messages: {d}"
    );
    // in from the left peer: an arrow pointing right into the node's column
    assert!(
        d.contains(r#"<div class="arrow right" style="grid-column:2 / 4;margin-left:25.000%;margin-right:25.000%"><div class="label">INVITE sip:dave@example.com</div>"#),
        "{d}"
    );
    assert!(
        d.contains(r#"<div class="arrow left" style="grid-column:2 / 4;"#),
        "{d}"
    );
    assert!(
        d.contains(">+0.000<") && d.contains(">+1.000<"),
        "relative times: {d}"
    );
    // one active call, one recent call, the searches panel shown
    assert!(
        d.contains(r#"<tr class="click sel" data-call="c2">"#),
        "{d}"
    );
    assert!(
        d.contains(r#"data-call="c1""#) && d.contains(r#"id="calls-list""#),
        "{d}"
    );
    assert!(
        !d.contains(r#"id="searches-panel" class="wide" hidden"#),
        "{d}"
    );
    assert!(
        d.contains("dave@example.com</b>") && d.contains("rule local: registered"),
        "{d}"
    );
    assert!(d.contains(">edge (E)<"), "{d}");
    // a cluster peer: its view of the cluster, the leader marked
    assert!(
        !d.contains(r#"id="cluster-panel" hidden"#)
            && d.contains(">expe.example.com<")
            && d.contains(">2 (follower)<")
            && d.contains(">3f1c0a9b7d6e5f4a at 8<")
            && d.contains(r#"1 <span class="pill ok">leader</span>"#)
            && d.contains("0.1 s ago"),
        "the cluster panel: {d}"
    );
    screenshot(
        &format!("http://{}/#call=c2", fake.addr),
        "status-page-ladder.png",
        1000,
    );
}

// ------------------------------------------------------------------ admin access

fn hash_password(password: &str) -> String {
    let mut child = Command::new(env_bin())
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("hash-password");
    if let Some(mut i) = child.stdin.take() {
        let _ = writeln!(i, "{password}");
    }
    let o = child.wait_with_output().expect("hash-password output");
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn check_config(dir: &Path, admin: &str) -> Output {
    let cfg = dir.join("node.toml");
    let toml =
        format!("[system]\nrole = \"control\"\ndomain = \"example.com\"\n\n[admin]\n{admin}");
    std::fs::write(&cfg, toml).expect("write");
    Command::new(env_bin())
        .arg("check-config")
        .arg(&cfg)
        .output()
        .expect("check-config")
}

#[test]
fn check_config_refuses_admin_off_loopback_without_tls_and_users() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hash = hash_password("s3cret pass");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let user = format!("[[admin.users]]\nname = \"ops\"\npassword_hash = \"{hash}\"\n");
    let o = check_config(dir.path(), "listen = \"0.0.0.0:7080\"\n");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("node.toml:6:1: field `admin.listen`")
            && err.contains("needs `tls = true` and `users`"),
        "{err}"
    );
    let o = check_config(dir.path(), &format!("listen = \"0.0.0.0:7080\"\n{user}"));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs `tls = true`"));
    let o = check_config(dir.path(), "listen = \"0.0.0.0:7080\"\ntls = true\n");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs `users`"));
    let o = check_config(
        dir.path(),
        &format!("listen = \"0.0.0.0:7080\"\ntls = true\n{user}"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = check_config(
        dir.path(),
        "[[admin.users]]\nname = \"ops\"\npassword_hash = \"x\"\n",
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("admin.users[0].password_hash"));
}

/// `causeway status --tls --user ops` with `password`: exit status and stderr, stdout.
fn status_as(admin: SocketAddr, password: &str) -> (bool, String, String) {
    let o = Command::new(env_bin())
        .args(["status", "--json", "--tls", "--user", "ops", "--admin"])
        .arg(admin.to_string())
        .env("CAUSEWAY_ADMIN_PASSWORD", password)
        .output()
        .expect("causeway status");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).to_string(),
        String::from_utf8_lossy(&o.stdout).to_string(),
    )
}

/// The response head of a raw request over TLS (`curl -k`).
fn curl_head(url: &str, user: Option<&str>) -> String {
    let mut c = Command::new("curl");
    c.args(["-k", "-s", "-i", "-m", "5", url]);
    if let Some(u) = user {
        c.args(["-u", u]);
    }
    let o = c.output().expect("curl (apt-get install -y curl)");
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    text.split("\r\n\r\n").next().unwrap_or("").to_string()
}

#[test]
fn admin_users_over_tls_wrong_password_is_401_counted_then_429() {
    let port = free_port();
    let hash = hash_password("right");
    let extra = format!(
        "[admin]\nlisten = \"127.0.0.1:{port}\"\ntls = true\n\
         [[admin.users]]\nname = \"ops\"\npassword_hash = \"{hash}\"\n"
    );
    let _node = Node::start(NodeOptions {
        extra: &extra,
        ..NodeOptions::default()
    });
    let admin = SocketAddr::from(([127, 0, 0, 1], port));
    let url = format!("https://{admin}/status");
    // TLS only: a plain HTTP request gets no page
    assert_eq!(
        get(admin, "/").0,
        0,
        "plain HTTP answered on a TLS listener"
    );
    let head = curl_head(&url, None);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(
        head.contains("www-authenticate: Basic realm=\"causeway\""),
        "{head}"
    );
    // every path, the endpoints' too, is behind the users
    let head = curl_head(&format!("https://{admin}/calls"), None);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let head = curl_head(&format!("https://{admin}/"), Some("ops:right"));
    assert!(
        head.starts_with("HTTP/1.1 200") && head.contains("text/html"),
        "{head}"
    );

    let (ok, err, _) = status_as(admin, "wrong");
    assert!(!ok && err.contains("HTTP 401"), "{err}");
    // counted: the next snapshot (about a second later) has it
    let counted = eventually(Duration::from_secs(5), || {
        let (ok, _, json) = status_as(admin, "right");
        ok && json.contains("\"auth_failures\": 1")
    });
    assert!(counted, "{:?}", status_as(admin, "right"));
    let (ok, _, json) = status_as(admin, "right");
    assert!(ok && json.contains("\"role\": \"control\""), "{json}");
    // four more wrong ones use up the five a minute, then even the right one waits
    for _ in 0..4 {
        let (ok, err, _) = status_as(admin, "wrong");
        assert!(!ok && err.contains("HTTP 401"), "{err}");
    }
    let (ok, err, _) = status_as(admin, "right");
    assert!(!ok && err.contains("HTTP 429"), "{err}");
    let head = curl_head(&url, Some("ops:right"));
    assert!(
        head.starts_with("HTTP/1.1 429") && head.contains("retry-after: "),
        "{head}"
    );
}

#[test]
fn a_silent_client_is_dropped_and_a_huge_request_head_refused() {
    let node = Node::start(NodeOptions::default());
    let admin = SocketAddr::from(([127, 0, 0, 1], node.admin_port));
    // a head that never ends: the connection is closed within the head timeout (10 s)
    let mut slow = TcpStream::connect(admin).expect("connect");
    slow.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    let _ = slow.set_read_timeout(Some(Duration::from_secs(15)));
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let held = started.elapsed();
    assert!(
        held >= Duration::from_secs(8) && held < Duration::from_secs(14),
        "held {held:?}"
    );
    // a head larger than the buffer is refused, not read on
    let mut big = TcpStream::connect(admin).expect("connect");
    let _ = big.set_read_timeout(Some(Duration::from_secs(5)));
    let filler = "x".repeat(20_000);
    let _ = write!(
        big,
        "GET /status HTTP/1.1\r\nHost: x\r\nX-Filler: {filler}\r\n\r\n"
    );
    let mut resp = Vec::new();
    let closed = big.read_to_end(&mut resp);
    let resp = String::from_utf8_lossy(&resp);
    assert!(closed.is_ok(), "still open after 5 s: {closed:?}");
    assert!(
        resp.is_empty() || resp.starts_with("HTTP/1.1 431"),
        "answered a 20 kB head: {}",
        resp.lines().next().unwrap_or("")
    );
    // and the listener still serves
    assert_eq!(get(admin, "/status").0, 200);
}
