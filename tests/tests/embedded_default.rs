//! `causeway run` with no configuration: the embedded default must listen on UDP and TCP 5060
//! and TLS 5061 on all interfaces (IPv4 and IPv6) with a self-signed certificate, and answer
//! OPTIONS on each. The fixed ports would collide with anything else on the machine, so node and
//! probe run in a private network namespace (`unshare -n`) with only loopback.

use causeway_tests::env_bin;
use std::process::Command;

#[test]
fn embedded_default_listens_on_5060_and_5061_everywhere() {
    let probe = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/probe_default.py"
    );
    let log = tempfile::NamedTempFile::new().unwrap();
    let script = r#"ip link set lo up || exit 97
"$BIN" run 2>"$LOG" &
pid=$!
i=0; while [ $i -lt 200 ] && ! grep -q running "$LOG"; do sleep 0.05; i=$((i+1)); done
python3 "$PROBE"; rc=$?
kill $pid; wait $pid
exit $rc"#;
    let o = Command::new("unshare")
        .args(["-n", "--", "sh", "-c", script])
        .env("BIN", env_bin())
        .env("LOG", log.path())
        .env("PROBE", probe)
        .output()
        .expect("unshare (util-linux) is needed; the e2e tests run as root");
    let out = String::from_utf8_lossy(&o.stdout);
    let node_log = std::fs::read_to_string(log.path()).unwrap_or_default();
    assert!(
        o.status.success(),
        "{}\n{out}\n{node_log}",
        String::from_utf8_lossy(&o.stderr)
    );
    for expected in [
        "udp 127.0.0.1 200",
        "udp [::1] 200",
        "tcp 127.0.0.1 200",
        "tls-cert present",
        "tls 127.0.0.1 200",
    ] {
        assert!(
            out.contains(expected),
            "missing `{expected}` in:\n{out}\nnode log:\n{node_log}"
        );
    }
    for listening in [
        "listening on SIP UDP 0.0.0.0:5060",
        "listening on SIP UDP [::]:5060",
        "listening on SIP TCP 0.0.0.0:5060",
        "listening on SIP TCP [::]:5060",
        "listening on SIP TLS 0.0.0.0:5061",
        "listening on SIP TLS [::]:5061",
        "self-signed",
    ] {
        assert!(
            node_log.contains(listening),
            "missing `{listening}` in the log:\n{node_log}"
        );
    }
}
