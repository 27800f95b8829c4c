//! The DNS zone end to end (issue 3, RFC 3263): a real DNS server (dnsmasq from Debian) serves
//! NAPTR, SRV and A records for `far.test`; causeway routes `@far.test` to its DNS zone and fails
//! over through the SRV targets in priority order: the first refuses (503), the second does not
//! answer at all (nothing listens; the client transaction times out), the third completes the
//! call. Everything runs in a network namespace with only loopback, made by the test, because
//! the node is fed DNS names.
//!
//! Needs root, iproute2, dnsmasq (package dnsmasq-base), sipp.

use causeway_tests::netns::{sipp_call, sipp_uas_with, Bg, NsNode};
use causeway_tests::outbound_block;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Ns(String);

impl Ns {
    fn new() -> Ns {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("cwdns{}-{n}", std::process::id() % 100_000);
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "cannot create a network namespace: run as root with iproute2"
        );
        let ok = Command::new("ip")
            .args(["-n", &name, "link", "set", "lo", "up"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "cannot bring up lo in {name}");
        Ns(name)
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn dnsmasq(ns: &str, records: &[String]) -> Bg {
    let bin = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("dnsmasq is missing: apt-get install -y dnsmasq-base");
    let child = Command::new("ip")
        .args(["netns", "exec", ns, bin])
        .args([
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--port=5353",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--user=root",
            "--pid-file=",
            "--log-queries",
            "--log-facility=-",
        ])
        .args(records)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dnsmasq");
    std::thread::sleep(Duration::from_millis(500));
    Bg(child)
}

fn node_toml() -> String {
    format!(
        r#"[system]
name = "dns-test"
role = "control"
domain = "example.com"

[sip]
udp = {{ enabled = true, listen = "127.0.0.1:5060" }}
tcp = {{ enabled = true, listen = "127.0.0.1:5060" }}
tls = {{ enabled = false }}
outbound_ports = "{outbound}"
# timer B = 64*T1 = 6.4 s: a silent target is given up within the caller's patience
t1_ms = 100

[[zone]]
name = "internet"
type = "dns"
nameservers = ["127.0.0.1:5353"]

[[search_rule]]
name = "far.test by DNS"
pattern_type = "suffix"
pattern = "@far.test"
target = "internet"
"#,
        outbound = outbound_block()
    )
}

#[test]
fn rfc3263_failover_through_srv_targets_against_a_real_dns_server() {
    let ns = Ns::new();
    let records: Vec<String> = [
        // NAPTR: UDP preferred by order, TCP after it (RFC 3263 4.1)
        "--naptr-record=far.test,10,10,S,SIP+D2U,,_sip._udp.far.test",
        "--naptr-record=far.test,20,10,S,SIP+D2T,,_sip._tcp.far.test",
        // SRV priorities 10, 20, 30 (RFC 2782): refuse, silent, good
        "--srv-host=_sip._udp.far.test,refuse.far.test,5071,10,0",
        "--srv-host=_sip._udp.far.test,silent.far.test,5072,20,0",
        "--srv-host=_sip._udp.far.test,good.far.test,5073,30,0",
        "--host-record=refuse.far.test,127.0.0.1",
        "--host-record=silent.far.test,127.0.0.1",
        "--host-record=good.far.test,127.0.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let _dns = dnsmasq(&ns.0, &records);
    let node = NsNode::start(&ns.0, &node_toml());
    let mut refuse = sipp_uas_with(&ns.0, "127.0.0.1", 5071, "uas_503.xml", &["-m", "1"]);
    let _good = sipp_uas_with(&ns.0, "127.0.0.1", 5073, "uas_call.xml", &[]);

    let t = Instant::now();
    let o = sipp_call(&ns.0, "127.0.0.1", "127.0.0.1:5060", "carol", "far.test");
    let took = t.elapsed();
    assert!(
        o.status.success(),
        "the call through the DNS zone failed\nsipp: {}\nnode log:\n{}",
        String::from_utf8_lossy(&o.stderr),
        node.log()
    );
    // the first SRV target was tried (and refused) before the others
    let end = Instant::now() + Duration::from_secs(5);
    let refused = loop {
        if let Ok(Some(st)) = refuse.0.try_wait() {
            break st.success();
        }
        if Instant::now() > end {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(refused, "the priority-10 target never got the INVITE");
    // ... and the silent one cost one client-transaction timeout, no more
    assert!(
        took >= Duration::from_secs(6) && took < Duration::from_secs(20),
        "failover took {took:?}; log:\n{}",
        node.log()
    );
    // in SRV priority order: 5071 (refused), 5072 (silent), 5073 (answered)
    let log = node.log();
    let at = |p: &str| log.find(&format!("127.0.0.1:{p}")).unwrap_or(usize::MAX);
    assert!(
        at("5071") < at("5072") && at("5072") < at("5073") && at("5073") != usize::MAX,
        "targets not tried in SRV priority order; log:\n{log}"
    );
}

#[test]
fn a_name_without_records_gets_a_clear_failure() {
    let ns = Ns::new();
    let _dns = dnsmasq(&ns.0, &["--host-record=other.test,127.0.0.1".to_string()]);
    let node = NsNode::start(&ns.0, &node_toml());
    let o = sipp_call(&ns.0, "127.0.0.1", "127.0.0.1:5060", "nobody", "far.test");
    assert!(
        !o.status.success(),
        "a call to a name with no records succeeded"
    );
    assert!(
        node.log().contains("DNS gave no target"),
        "log:\n{}",
        node.log()
    );
}
