//! Helpers for tests that run nodes and peers inside network namespaces the test made:
//! a causeway node (`NsNode`), sipp UAS/UAC in a namespace. Creating and removing namespaces
//! is the tests' own business (their topology differs).

use crate::{env_bin, free_port, scenario};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A causeway node running in a namespace.
pub struct NsNode {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl NsNode {
    pub fn start(ns: &str, toml: &str) -> NsNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("node.toml");
        std::fs::write(&cfg, toml).expect("config");
        let log = dir.path().join("node.log");
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(env_bin())
            .args(["run", "--config"])
            .arg(&cfg)
            .env("RUST_LOG", "info,causeway_sip=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("spawn causeway");
        let n = NsNode {
            child,
            log,
            _dir: dir,
        };
        n.wait_for("running", 1, Duration::from_secs(20));
        n
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
    /// Waits until `needle` has been logged `count` times.
    pub fn wait_for(&self, needle: &str, count: usize, timeout: Duration) {
        crate::wait_for_log(&self.log, needle, count, timeout)
    }
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        self.log()
    }
}

impl Drop for NsNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `causeway status --json` of the node running in namespace `ns`.
pub fn status(ns: &str) -> String {
    let o = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(env_bin())
        .args(["status", "--json"])
        .output()
        .expect("causeway status");
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub struct Bg(pub Child);
impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn sipp_uas(ns: &str, ip: &str, port: u16) -> Bg {
    sipp_uas_with(ns, ip, port, "uas_call.xml", &[])
}

/// A sipp UAS of scenario `name` in namespace `ns`, with extra sipp arguments.
pub fn sipp_uas_with(ns: &str, ip: &str, port: u16, name: &str, extra: &[&str]) -> Bg {
    let child = Command::new("ip")
        .args(["netns", "exec", ns, "sipp", "-sf"])
        .arg(scenario(name))
        .args(["-i", ip, "-p", &port.to_string(), "-t", "u1", "-nostdin"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp uas");
    std::thread::sleep(Duration::from_millis(300));
    Bg(child)
}

/// One call of `service@domain` from a sipp UAC at `ip` to the proxy at `proxy`.
pub fn sipp_call(ns: &str, ip: &str, proxy: &str, service: &str, domain: &str) -> Output {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "sipp", proxy, "-sf"])
        .arg(scenario("uac_call_domain.xml"))
        .args(["-key", "domain", domain, "-s", service, "-i", ip])
        .args(["-p", &free_port().to_string(), "-t", "u1", "-m", "1"])
        .args(["-timeout", "20s", "-nostdin"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp uac");
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait_with_output().expect("sipp output")
}

/// The firewall topology of `tests/scripts/fw_topology.sh` (inside, fw, dmz, internet, nat),
/// created for one test and removed when dropped.
pub struct FwTopology {
    tag: String,
}

fn fw_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join("fw_topology.sh")
}

impl FwTopology {
    /// `prefix` keeps tests that run side by side apart (at most 4 characters with the pid).
    pub fn up(prefix: &str) -> FwTopology {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        assert!(
            root,
            "the firewall topology needs network namespaces: run as root"
        );
        let tag = format!("{prefix}{}", std::process::id() % 1000);
        let st = Command::new("bash")
            .arg(fw_script())
            .args(["up", &tag])
            .status()
            .expect("run fw_topology.sh");
        assert!(
            st.success(),
            "fw_topology.sh up failed (iproute2 and nftables installed?)"
        );
        FwTopology { tag }
    }

    /// The namespace of a leaf: "in", "fw", "dmz", "net" or "nat".
    pub fn ns(&self, leaf: &str) -> String {
        format!("cw{}-{leaf}", self.tag)
    }

    /// (TCP connection attempts, UDP datagrams) the firewall dropped on the way into inside.
    pub fn counters(&self) -> (u64, u64) {
        let o = Command::new("bash")
            .arg(fw_script())
            .args(["counters", &self.tag])
            .output()
            .expect("counters");
        let text = String::from_utf8_lossy(&o.stdout);
        let mut it = text.split_whitespace().map(|v| v.parse().unwrap_or(0));
        (it.next().unwrap_or(0), it.next().unwrap_or(0))
    }
}

impl FwTopology {
    /// What the NAT dropped on the way into the home network, unsolicited: (TCP connection
    /// attempts, SIP datagrams from port 5060/5061, other UDP datagrams, other packets).
    pub fn home_counters(&self) -> (u64, u64, u64, u64) {
        let o = Command::new("bash")
            .arg(fw_script())
            .args(["home", &self.tag])
            .output()
            .expect("home counters");
        let text = String::from_utf8_lossy(&o.stdout);
        let mut it = text.split_whitespace().map(|v| v.parse().unwrap_or(0));
        let mut next = || it.next().unwrap_or(0);
        (next(), next(), next(), next())
    }
}

impl Drop for FwTopology {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(fw_script())
            .args(["down", &self.tag])
            .status();
    }
}
