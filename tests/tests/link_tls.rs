//! The traversal link over TLS with `tls_verify = "enforce"`, on loopback: E (role edge) serves
//! a traversal-server zone with a certificate a test CA issued for 127.0.0.1; C dials it and
//! verifies that certificate against the zone's `ca`. With E's own CA the link comes up; with
//! an unrelated CA the handshake fails on every attempt and the link stays down.
//!
//! No namespaces or root needed: both nodes listen on free 127.0.0.1 ports.

use causeway_tests::{free_port, make_ca_and_server, Node, NodeOptions};
use std::path::Path;
use std::time::{Duration, Instant};

/// E: an edge node whose traversal-server zone listens on `zone_port` with the certificate in
/// `cert`/`key`.
fn start_edge(zone_port: u16, cert: &Path, key: &Path) -> Node {
    start_edge_with(zone_port, cert, key, None)
}

/// E, and with `client_ca` its zone demands a client certificate chaining to it (MTLS).
fn start_edge_with(zone_port: u16, cert: &Path, key: &Path, client_ca: Option<&Path>) -> Node {
    let mut sip = format!(
        "certificate = \"{}\"\nprivate_key = \"{}\"",
        cert.display(),
        key.display()
    );
    if let Some(ca) = client_ca {
        sip.push_str(&format!("\ntrusted_ca = \"{}\"", ca.display()));
    }
    let mtls = client_ca.is_some();
    let extra = format!(
        r#"[[credential]]
username = "control-1"
password = "secret"

[[zone]]
name = "from-control"
type = "traversal-server"
sip_port = {zone_port}
transport = "tls"
username = "control-1"
listen_ip = "127.0.0.1"
mtls = {mtls}

# signaling only: tests run side by side and would all want the multiplexed pair 36000/36001
[media]
anchor = "none"
"#
    );
    Node::start(NodeOptions {
        sip: &sip,
        extra: &extra,
        role: Some("edge"),
        ..Default::default()
    })
}

/// C: a control node whose traversal-client zone dials 127.0.0.1:`zone_port` and only accepts
/// a certificate that chains to `ca` and names 127.0.0.1.
fn start_control(zone_port: u16, ca: &Path) -> Node {
    start_control_with(zone_port, ca, None)
}

/// C, presenting `own` (certificate, key) to E when given.
fn start_control_with(zone_port: u16, ca: &Path, own: Option<(&Path, &Path)>) -> Node {
    let sip = own
        .map(|(c, k)| {
            format!(
                "certificate = \"{}\"\nprivate_key = \"{}\"",
                c.display(),
                k.display()
            )
        })
        .unwrap_or_default();
    let extra = format!(
        r#"[[zone]]
name = "to-edge"
type = "traversal-client"
peer = "127.0.0.1"
sip_port = {zone_port}
transport = "tls"
username = "control-1"
password = "secret"
tls_verify = "enforce"
ca = "{}"
retry_first = 1
retry_max = 2
client_certificate = {}
"#,
        ca.display(),
        own.is_some()
    );
    Node::start(NodeOptions {
        sip: &sip,
        extra: &extra,
        ..Default::default()
    })
}

#[test]
fn enforce_with_the_ca_of_e_brings_the_link_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = make_ca_and_server(dir.path(), "edge", &["127.0.0.1"]);
    let zone_port = free_port();
    let e = start_edge(zone_port, &pki.cert, &pki.key);
    let c = start_control(zone_port, &pki.ca);
    c.wait_for("traversal link up", Duration::from_secs(10));
    e.wait_for("traversal link up", Duration::from_secs(5));
    assert!(
        !c.log().contains("TLS handshake"),
        "a verified handshake failed on the way:\n{}",
        c.log()
    );
}

#[test]
fn enforce_with_an_unrelated_ca_keeps_the_link_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = make_ca_and_server(dir.path(), "edge", &["127.0.0.1"]);
    let stranger = make_ca_and_server(dir.path(), "stranger", &["127.0.0.1"]);
    let zone_port = free_port();
    let e = start_edge(zone_port, &pki.cert, &pki.key);
    let t0 = Instant::now();
    let c = start_control(zone_port, &stranger.ca);
    c.wait_for("traversal link down", Duration::from_secs(10));
    // retry_first = 1 and retry_max = 2: a few more attempts fit in the next seconds, and
    // none may succeed
    let watch = Duration::from_secs(4);
    if let Some(left) = watch.checked_sub(t0.elapsed()) {
        std::thread::sleep(left);
    }
    let log = c.log();
    assert!(
        !log.contains("traversal link up"),
        "C accepted a certificate from an unknown CA:\n{log}"
    );
    let failures = log
        .lines()
        .filter(|l| {
            l.contains("traversal link down")
                && l.contains("cannot reach E")
                && l.contains("TLS handshake")
        })
        .count();
    assert!(
        failures >= 2,
        "every attempt fails in the TLS handshake, and C keeps retrying ({failures} seen):\n{log}"
    );
    assert!(
        log.contains("UnknownIssuer"),
        "the failure is the certificate's issuer, not something else:\n{log}"
    );
    assert!(
        !e.log().contains("traversal link up"),
        "E admitted a link:\n{}",
        e.log()
    );
}

#[test]
fn mtls_zone_admits_c_only_with_a_certificate_from_its_trusted_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let edge = make_ca_and_server(dir.path(), "edge", &["127.0.0.1"]);
    let control = make_ca_and_server(dir.path(), "control", &["control", "127.0.0.1"]);
    // with C's certificate: the link comes up
    let zone_port = free_port();
    let e = start_edge_with(zone_port, &edge.cert, &edge.key, Some(&control.ca));
    let c = start_control_with(zone_port, &edge.ca, Some((&control.cert, &control.key)));
    c.wait_for("traversal link up", Duration::from_secs(10));
    e.wait_for("traversal link up", Duration::from_secs(5));
    drop(c);
    drop(e);
    // without one: E ends every handshake, the zone stays down
    let zone_port = free_port();
    let e = start_edge_with(zone_port, &edge.cert, &edge.key, Some(&control.ca));
    let c = start_control(zone_port, &edge.ca);
    c.wait_for("traversal link down", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !c.log().contains("traversal link up") && !e.log().contains("traversal link up"),
        "a link without a client certificate came up:\nC:\n{}\nE:\n{}",
        c.log(),
        e.log()
    );
}
