//! `causeway check-route`: the dial-plan check prints the router's targets in order and exits
//! 0 with a route, 2 without one, 1 on a bad configuration or an unknown `--from` zone.

use causeway_tests::env_bin;
use std::process::Command;

/// A control node for example.com with a link to its edge, a partner neighbor and DNS.
const CONFIG: &str = r#"
[system]
role = "control"
domain = "example.com"

[[zone]]
name = "to-edge"
type = "traversal-client"
peer = "edge.example.com"
username = "control-1"
password = "secret"

[[zone]]
name = "partner"
type = "neighbor"
peer = "sip.partner.org"

[[zone]]
name = "internet"
type = "dns"

# an old domain folded into the partner's
[[transform]]
pattern_type = "suffix"
pattern = "@old.partner.org"
replace = "@partner.org"

# 9 + number: to the partner's gateway, number kept
[[search_rule]]
name = "dial 9"
priority = 10
protocol = "sip"
pattern_type = "regex"
pattern = '9(\d+)@example\.com'
pattern_behavior = "replace"
replace = '\1@gw.partner.org'
target = "partner"

[[search_rule]]
name = "partner domain"
priority = 100
pattern_type = "suffix"
pattern = "@partner.org"
on_match = "continue"
target = "partner"

# anything else, and a copy of partner calls, through the edge: but only for local callers
[[search_rule]]
name = "out through E"
priority = 200
source = "LocalZone"
pattern_type = "regex"
pattern = ".*@.*"
target = "to-edge"

# calls from the edge that no earlier rule took: DNS
[[search_rule]]
name = "from the edge"
priority = 300
source = "to-edge"
pattern_type = "regex"
pattern = ".*"
target = "internet"
"#;

fn check_route(args: &[&str]) -> (i32, String, String) {
    check_route_with(CONFIG, args)
}

fn check_route_with(config: &str, args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("node.toml");
    std::fs::write(&f, config).expect("write config");
    let o = Command::new(env_bin())
        .arg("check-route")
        .arg("--config")
        .arg(&f)
        .args(args)
        .output()
        .expect("run causeway");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The numbered target lines of the output.
fn targets(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| {
            l.split_once(". zone ")
                .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        })
        .collect()
}

#[test]
fn transform_then_suffix_rule_continues_to_the_edge() {
    let (code, out, err) = check_route(&["sip:bob@OLD.partner.org;transport=tls"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("`bob@old.partner.org` -> `bob@partner.org`"),
        "{out}"
    );
    assert_eq!(
        targets(&out),
        [
            "1. zone `partner` (neighbor) alias bob@partner.org  [rule \"partner domain\"]",
            "2. zone `to-edge` (traversal-client) alias bob@partner.org  [rule \"out through E\"]",
        ],
        "{out}"
    );
}

#[test]
fn regex_replace_with_capture_group() {
    let (code, out, err) = check_route(&["9555123@example.com"]);
    assert_eq!(code, 0, "{out}{err}");
    // "dial 9" stops the search before the implicit example.com -> LocalZone rule at 50
    assert_eq!(
        targets(&out),
        ["1. zone `partner` (neighbor) alias 555123@gw.partner.org  [rule \"dial 9\"]"],
        "{out}"
    );
}

#[test]
fn stop_ends_the_search_and_says_so() {
    let (code, out, err) = check_route(&["carol@elsewhere.net"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        targets(&out),
        ["1. zone `to-edge` (traversal-client) alias carol@elsewhere.net  [rule \"out through E\"]"],
        "{out}"
    );
    assert!(
        out.contains("stop: rule \"out through E\" matched with on_match stop"),
        "{out}"
    );
    assert!(!out.contains("`internet`"), "{out}");
}

#[test]
fn local_domain_goes_to_local_zone() {
    let (code, out, err) = check_route(&["alice@example.com"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        targets(&out),
        ["1. zone `LocalZone` (local) alias alice@example.com  [rule \"registrar domains (implicit)\"]"],
        "{out}"
    );
    // no gateway without the gatekeeper
    assert!(
        out.contains("\n   interworking: none, [h323] is not enabled\n"),
        "{out}"
    );
}

/// The line under a `LocalZone` target says whether a registration of the other protocol
/// would be interworked, by `[interworking] mode`; with "on", an H.323 call to a zone that
/// carries SIP alone is interworked too.
#[test]
fn local_zone_targets_say_what_interworking_does() {
    // the link to E carries SIP only
    let h323 = CONFIG.replacen(
        "password = \"secret\"\n",
        "password = \"secret\"\nh323 = false\n",
        1,
    );
    let h323 = format!("{h323}\n[h323]\nenabled = true\n");
    let (code, out, err) = check_route_with(&h323, &["alice@example.com"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("\n   interworked if registered by H.323 (after SIP registrations; [interworking] mode = \"registered\")\n"),
        "{out}"
    );
    let (_, out, _) = check_route_with(&h323, &["alice@example.com", "--protocol", "h323"]);
    assert!(
        out.contains("interworked if registered by SIP (after H.323 registrations;"),
        "{out}"
    );
    let off = format!("{h323}\n[interworking]\nmode = \"off\"\n");
    let (_, out, _) = check_route_with(&off, &["alice@example.com"]);
    assert!(
        out.contains("\n   interworking is off ([interworking] mode = \"off\"): registrations by H.323 are not reached\n"),
        "{out}"
    );
    // from the edge, an H.323 call for the internet goes to the DNS zone (SIP only)
    let on = format!("{h323}\n[interworking]\nmode = \"on\"\n");
    let args = [
        "carol@elsewhere.net",
        "--from",
        "to-edge",
        "--protocol",
        "h323",
    ];
    let (_, out, _) = check_route_with(&on, &args);
    assert!(
        out.contains("\n   zone carries SIP only: interworked ([interworking] mode = \"on\")\n"),
        "{out}"
    );
    let (_, out, _) = check_route_with(&h323, &args);
    assert!(
        out.contains("zone carries SIP only: not reached from H.323"),
        "{out}"
    );
}

#[test]
fn from_restricts_rules_by_source() {
    // from the edge, "out through E" (source LocalZone) does not apply, "from the edge" does
    let (code, out, err) = check_route(&["carol@elsewhere.net", "--from", "to-edge"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("rule \"out through E\" (priority 200): skipped, only for calls from zone `LocalZone`, this one came from `to-edge`"),
        "{out}"
    );
    assert_eq!(
        targets(&out),
        ["1. zone `internet` (dns) alias carol@elsewhere.net  [rule \"from the edge\"]"],
        "{out}"
    );
}

#[test]
fn from_must_name_a_zone() {
    let (code, out, err) = check_route(&["carol@elsewhere.net", "--from", "nowhere"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("--from `nowhere` is neither LocalZone nor a configured zone"),
        "{err}"
    );
}

#[test]
fn no_route_exits_2() {
    // a bare number: no domain for the implicit rule, no `@` for "out through E"
    let (code, out, err) = check_route(&["1234"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("no search rule matches `1234`"), "{out}");
    assert_eq!(out.lines().last(), Some("no route"), "{out}");
    assert!(targets(&out).is_empty(), "{out}");
}

#[test]
fn protocol_filter() {
    // "dial 9" is for SIP only: an H.323 call to the same alias falls to the implicit rule
    let (code, out, err) = check_route(&["9555123@example.com", "--protocol", "h323"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(
            "rule \"dial 9\" (priority 10): skipped, only for SIP requests, this is H.323"
        ),
        "{out}"
    );
    assert_eq!(
        targets(&out),
        ["1. zone `LocalZone` (local) alias 9555123@example.com  [rule \"registrar domains (implicit)\"]"],
        "{out}"
    );
}

#[test]
fn bad_config_exits_1_like_check_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("bad.toml");
    std::fs::write(
        &f,
        "[system]\nrole = \"control\"\ndomain = \"example.com\"\n[[search_rule]]\nname = \"x\"\npattern_type = \"exact\"\npattern = \"a\"\ntarget = \"nowhere\"\n",
    )
    .expect("write config");
    let o = Command::new(env_bin())
        .args(["check-route", "--config"])
        .arg(&f)
        .arg("a")
        .output()
        .expect("run causeway");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: ")
            && err.contains("bad.toml:")
            && err.contains("search_rule[0].target"),
        "{err}"
    );
}
