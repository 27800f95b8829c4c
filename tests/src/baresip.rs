//! A headless baresip (package baresip-core) in a network namespace, as a real UA with RTP: a
//! sine tone as the microphone, /dev/null as the speaker, driven over ctrl_tcp on the
//! namespace's loopback; and the checks the media and NAT tests make with it (call established,
//! audio both ways).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Baresip {
    ns: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Baresip {
    /// A UA listening on `ip:5070` with one account line (baresip's `accounts` syntax).
    pub fn start(ns: &str, ip: &str, account: &str) -> Baresip {
        Self::start_with(ns, ip, account, "")
    }

    /// The same with extra config lines. RFC 5626 outbound (`;sipnat=outbound` in the account)
    /// needs an instance UUID, which the `uuid` module makes before the account module runs.
    pub fn start_with(ns: &str, ip: &str, account: &str, extra: &str) -> Baresip {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = format!(
            "poll_method\t\tepoll\n\
             sip_listen\t\t{ip}:5070\n\
             audio_player\t\taufile,/dev/null\n\
             audio_source\t\tausine,440\n\
             audio_alert\t\taufile,/dev/null\n\
             ausrc_srate\t\t48000\n\
             auplay_srate\t\t48000\n\
             ausrc_channels\t\t2\n\
             auplay_channels\t\t2\n\
             rtp_stats\t\tyes\n\
             module_path\t\t/usr/lib/baresip/modules\n\
             module\t\t\tg711.so\n\
             module\t\t\tausine.so\n\
             module\t\t\taufile.so\n\
             module\t\t\tmenu.so\n\
             module\t\t\tctrl_tcp.so\n\
             module_app\t\tuuid.so\n\
             module_app\t\taccount.so\n\
             ctrl_tcp_listen\t\t127.0.0.1:4444\n\
             sip_verify_server\tno\n\
             {extra}"
        );
        std::fs::write(dir.path().join("config"), config).expect("config");
        std::fs::write(dir.path().join("accounts"), format!("{account}\n")).expect("accounts");
        let log = std::fs::File::create(dir.path().join("baresip.log")).expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "baresip", "-f"])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("baresip is missing: apt-get install -y baresip-core");
        let b = Baresip {
            ns: ns.to_string(),
            child,
            dir,
        };
        let end = Instant::now() + Duration::from_secs(10);
        while b.command("listcalls").is_none() {
            assert!(Instant::now() < end, "baresip in {ns} did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        b
    }

    /// What baresip printed (registration results, call events).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }

    /// Waits until the log shows `needle` (e.g. a registration's `200 OK`).
    pub fn wait_log(&self, needle: &str, timeout: Duration) {
        let end = Instant::now() + timeout;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < end,
                "baresip in {} never printed `{needle}`:\n{}",
                self.ns,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One ctrl_tcp command; the `data` of its response.
    pub fn command(&self, cmd: &str) -> Option<String> {
        let (name, params) = cmd.split_once(' ').unwrap_or((cmd, ""));
        let py = r#"
import json, socket, sys, time
name, params = sys.argv[1], sys.argv[2]
s = socket.create_connection(("127.0.0.1", 4444), timeout=3)
body = json.dumps({"command": name, "params": params, "token": "t"}).encode()
s.sendall(b"%d:%s," % (len(body), body))
buf = b""
end = time.time() + 3
while time.time() < end:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
    # netstrings: events and the response; print the response's data
    while b":" in buf:
        n, rest = buf.split(b":", 1)
        if not n.isdigit() or len(rest) < int(n) + 1:
            break
        msg, buf = rest[: int(n)], rest[int(n) + 1 :]
        m = json.loads(msg)
        if m.get("response"):
            print(m.get("data", ""))
            sys.exit(0)
sys.exit(1)
"#;
        let o = Command::new("ip")
            .args(["netns", "exec", &self.ns, "python3", "-c", py, name, params])
            .output()
            .ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).to_string())
    }

    /// (RTP packets sent, RTP packets received) of the current call, from `audio_debug`.
    pub fn rtp_counts(&self) -> (u64, u64) {
        let d = self.command("audio_debug").unwrap_or_default();
        let num_after = |key: &str| -> u64 {
            d.find(key)
                .map(|i| {
                    d[i + key.len()..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                })
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        (num_after("TX: packets="), num_after("rcvd="))
    }

    /// Whether a call is up or being set up.
    pub fn in_call(&self) -> bool {
        let calls = self.command("listcalls").unwrap_or_default();
        calls.contains("ESTABLISHED") || calls.contains("INCOMING") || calls.contains("RINGING")
    }

    /// Kills the process (its TCP connections close with it).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits for `ua`'s call to be established.
pub fn wait_established(ua: &Baresip, what: &str) {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let calls = ua.command("listcalls").unwrap_or_default();
        if calls.contains("ESTABLISHED") {
            return;
        }
        assert!(
            Instant::now() < end,
            "{what}: call not established: {calls}\n{}",
            ua.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Both directions carried audio: what one side received is within 5 % of what the other
/// sent, allowing the first second (50 packets) for the relays to latch. The two UAs are read
/// one after the other (a few packets apart), hence the slack above as well.
pub fn assert_audio_both_ways(a: &Baresip, b: &Baresip, what: &str) {
    let (a_tx, a_rx) = a.rtp_counts();
    let (b_tx, b_rx) = b.rtp_counts();
    let ok = |sent: u64, got: u64| sent > 150 && got + 50 + sent / 20 >= sent && got <= sent + 25;
    assert!(
        ok(a_tx, b_rx) && ok(b_tx, a_rx),
        "{what}: RTP A sent {a_tx}, B got {b_rx}; B sent {b_tx}, A got {a_rx}"
    );
}
