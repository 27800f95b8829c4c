//! The router against configurations written as an operator would write them.

use super::*;
use crate::route::{Protocol, ZoneKind};
use crate::rule::LOCAL_DOMAIN_RULE;
use causeway_config::LOCAL_ZONE;

const HEAD: &str = r#"
[system]
role = "control"
domain = "example.com"

[[zone]]
name = "to-edge"
type = "traversal-client"
peer = "edge.example.com"
username = "c"
password = "p"

[[zone]]
name = "partner"
type = "neighbor"
peer = "sip.partner.org:5060"

[[zone]]
name = "internet"
type = "dns"
"#;

fn router(rules: &str) -> Router {
    let text = format!("{HEAD}{rules}");
    let cfg = Config::parse("t.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    Router::from_config(&cfg)
}

fn req<'a>(alias: &'a Alias) -> RouteRequest<'a> {
    RouteRequest {
        alias,
        protocol: Protocol::Sip,
        source_zone: LOCAL_ZONE,
        source_registered: false,
    }
}

/// (zone, alias) of each target, in order.
fn targets_of(r: &Router, rq: &RouteRequest) -> Vec<(String, String)> {
    r.route(rq)
        .targets
        .into_iter()
        .map(|t| (t.zone, t.alias.to_string()))
        .collect()
}

fn route_to(r: &Router, alias: &str) -> Vec<(String, String)> {
    let a = Alias::parse(alias);
    targets_of(r, &req(&a))
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(z, a)| (z.to_string(), a.to_string()))
        .collect()
}

fn rule(name: &str, priority: u16, body: &str) -> String {
    format!("\n[[search_rule]]\nname = \"{name}\"\npriority = {priority}\n{body}\n")
}

#[test]
fn every_pattern_type_with_every_behaviour() {
    // (pattern_type, pattern, behaviour, replace, dialled, target alias)
    let cases = [
        (
            "exact",
            "bob@partner.org",
            "leave",
            "",
            "bob@partner.org",
            "bob@partner.org",
        ),
        (
            "exact",
            "bob@partner.org",
            "strip",
            "",
            "bob@partner.org",
            "",
        ),
        (
            "exact",
            "bob@partner.org",
            "replace",
            "robert@partner.org",
            "bob@partner.org",
            "robert@partner.org",
        ),
        (
            "prefix",
            "9",
            "leave",
            "",
            "9123@partner.org",
            "9123@partner.org",
        ),
        (
            "prefix",
            "9",
            "strip",
            "",
            "9123@partner.org",
            "123@partner.org",
        ),
        (
            "prefix",
            "9",
            "replace",
            "0044",
            "9123@partner.org",
            "0044123@partner.org",
        ),
        (
            "suffix",
            "@partner.org",
            "leave",
            "",
            "bob@partner.org",
            "bob@partner.org",
        ),
        (
            "suffix",
            "@partner.org",
            "strip",
            "",
            "bob@partner.org",
            "bob",
        ),
        (
            "suffix",
            ".partner.org",
            "replace",
            ".partner.net",
            "bob@sip.partner.org",
            "bob@sip.partner.net",
        ),
        (
            "regex",
            "(.*)@partner\\\\.org",
            "leave",
            "",
            "bob@partner.org",
            "bob@partner.org",
        ),
        (
            "regex",
            "(.*)@partner\\\\.org",
            "strip",
            "",
            "bob@partner.org",
            "",
        ),
        (
            "regex",
            "(.*)@partner\\\\.org",
            "replace",
            "\\\\1@partner.net",
            "bob@partner.org",
            "bob@partner.net",
        ),
    ];
    for (ty, pat, behaviour, replace, dialled, want) in cases {
        let r = router(&rule(
            "r",
            100,
            &format!(
                "pattern_type = \"{ty}\"\npattern = \"{pat}\"\npattern_behavior = \"{behaviour}\"\nreplace = \"{replace}\"\ntarget = \"partner\""
            ),
        ));
        assert_eq!(
            route_to(&r, dialled),
            pairs(&[("partner", want)]),
            "{ty} {behaviour}"
        );
        assert_eq!(
            route_to(&r, "nobody@elsewhere.net"),
            vec![],
            "{ty} {behaviour}"
        );
    }
}

#[test]
fn target_carries_zone_kind_rule_and_priority() {
    let r = router(&rule(
        "example.com to C",
        100,
        "pattern_type = \"suffix\"\npattern = \"@example.org\"\ntarget = \"to-edge\"",
    ));
    let a = Alias::parse("bob@example.org");
    let route = r.route(&req(&a));
    assert_eq!(
        route.targets,
        vec![Target {
            zone: "to-edge".into(),
            kind: ZoneKind::TraversalClient,
            alias: a.clone(),
            rule: "example.com to C".into(),
            priority: 100,
        }]
    );
}

#[test]
fn transforms_run_in_priority_order_each_on_the_previous_output() {
    // file order is not priority order: the regex (priority 1) runs first, then the suffix
    // rewrite sees its output
    let r = router(
        r#"
[[transform]]
priority = 5
pattern_type = "suffix"
pattern = "@old.example"
replace = "@partner.org"

[[transform]]
priority = 1
pattern_type = "regex"
pattern = '00(\d+)@(.*)'
replace = '+\1@\2'

[[search_rule]]
name = "partner"
pattern_type = "suffix"
pattern = "@partner.org"
target = "partner"
"#,
    );
    let a = Alias::parse("0044123@OLD.example");
    let route = r.route(&req(&a));
    assert_eq!(
        route.targets.first().map(|t| t.alias.to_string()),
        Some("+44123@partner.org".to_string()),
        "{:#?}",
        lines(&route)
    );
    assert_eq!(
        lines(&route)[..2],
        [
            "transform regex `00(\\d+)@(.*)` (priority 1): `0044123@old.example` -> `+44123@old.example`",
            "transform suffix `@old.example` (priority 5): `+44123@old.example` -> `+44123@partner.org`",
        ]
    );
}

#[test]
fn transforms_of_equal_priority_keep_file_order() {
    let r = router(
        r#"
[[transform]]
pattern_type = "prefix"
pattern = "a"
replace = "b"

[[transform]]
pattern_type = "prefix"
pattern = "b"
replace = "c"

[[search_rule]]
name = "all"
pattern_type = "regex"
pattern = ".*"
target = "partner"
"#,
    );
    // a -> b (first), then b -> c (second sees the first's output)
    assert_eq!(route_to(&r, "a1"), pairs(&[("partner", "c1")]));
    assert_eq!(route_to(&r, "b1"), pairs(&[("partner", "c1")]));
}

#[test]
fn regex_replace_with_capture_groups() {
    // below 50, or the implicit rule would take example.com to LocalZone first
    let r = router(&rule(
        "dial 9",
        40,
        r#"pattern_type = "regex"
pattern = '9(\d+)@(example\.com)'
pattern_behavior = "replace"
replace = '\1@pstn.\2'
target = "partner""#,
    ));
    assert_eq!(
        route_to(&r, "9555@example.com"),
        pairs(&[("partner", "555@pstn.example.com")])
    );
}

#[test]
fn rules_run_by_priority_not_file_order() {
    let r = router(&format!(
        "{}{}",
        rule(
            "late",
            200,
            "pattern_type = \"regex\"\npattern = \".*\"\ntarget = \"internet\""
        ),
        rule(
            "early",
            10,
            "pattern_type = \"regex\"\npattern = \".*\"\non_match = \"continue\"\ntarget = \"partner\""
        ),
    ));
    assert_eq!(
        route_to(&r, "bob@partner.org"),
        pairs(&[
            ("partner", "bob@partner.org"),
            ("internet", "bob@partner.org")
        ])
    );
}

#[test]
fn equal_priority_rules_are_tried_together_in_file_order() {
    // both rules stop, but stop ends the search only after the whole priority group
    let r = router(&format!(
        "{}{}{}",
        rule(
            "first",
            100,
            "pattern_type = \"suffix\"\npattern = \".org\"\ntarget = \"partner\""
        ),
        rule(
            "second",
            100,
            "pattern_type = \"suffix\"\npattern = \".org\"\ntarget = \"to-edge\""
        ),
        rule(
            "later",
            101,
            "pattern_type = \"suffix\"\npattern = \".org\"\ntarget = \"internet\""
        ),
    ));
    let a = Alias::parse("bob@partner.org");
    let route = r.route(&req(&a));
    assert_eq!(
        route
            .targets
            .iter()
            .map(|t| t.rule.as_str())
            .collect::<Vec<_>>(),
        ["first", "second"]
    );
    assert_eq!(
        route.trace.lines().last(),
        Some("stop: rule \"first\" matched with on_match stop; 1 rule(s) of later priority not tried")
    );
}

#[test]
fn stop_ends_the_search_continue_goes_on() {
    let rules = |on_match: &str| {
        format!(
            "{}{}",
            rule(
                "a",
                10,
                &format!("pattern_type = \"prefix\"\npattern = \"bob\"\non_match = \"{on_match}\"\ntarget = \"partner\"")
            ),
            rule(
                "b",
                20,
                "pattern_type = \"prefix\"\npattern = \"bob\"\ntarget = \"internet\""
            ),
        )
    };
    assert_eq!(
        route_to(&router(&rules("stop")), "bob@x.org"),
        pairs(&[("partner", "bob@x.org")])
    );
    assert_eq!(
        route_to(&router(&rules("continue")), "bob@x.org"),
        pairs(&[("partner", "bob@x.org"), ("internet", "bob@x.org")])
    );
    // a stop rule that does not match stops nothing
    assert_eq!(route_to(&router(&rules("stop")), "alice@x.org"), vec![]);
}

#[test]
fn a_zone_and_alias_already_found_is_not_added_twice() {
    let body =
        "pattern_type = \"regex\"\npattern = \".*\"\non_match = \"continue\"\ntarget = \"partner\"";
    let r = router(&format!("{}{}", rule("a", 10, body), rule("b", 20, body)));
    let a = Alias::parse("bob@x.org");
    let route = r.route(&req(&a));
    assert_eq!(route.targets.len(), 1);
    assert!(
        lines(&route)[1].contains("already a target"),
        "{:#?}",
        lines(&route)
    );
}

#[test]
fn source_any_registered_and_zone() {
    let r = router(&format!(
        "{}{}{}",
        rule(
            "from partner",
            10,
            "source = \"partner\"\npattern_type = \"regex\"\npattern = \".*\"\non_match = \"continue\"\ntarget = \"to-edge\""
        ),
        rule(
            "registered only",
            20,
            "source = \"registered\"\npattern_type = \"regex\"\npattern = \".*\"\non_match = \"continue\"\ntarget = \"internet\""
        ),
        rule(
            "anyone",
            30,
            "pattern_type = \"regex\"\npattern = \".*\"\ntarget = \"partner\""
        ),
    ));
    let a = Alias::parse("bob@x.org");
    let zones = |source_zone: &str, source_registered: bool| -> Vec<String> {
        let rq = RouteRequest {
            alias: &a,
            protocol: Protocol::Sip,
            source_zone,
            source_registered,
        };
        r.route(&rq).targets.into_iter().map(|t| t.zone).collect()
    };
    assert_eq!(zones(LOCAL_ZONE, false), ["partner"]);
    assert_eq!(zones(LOCAL_ZONE, true), ["internet", "partner"]);
    assert_eq!(zones("partner", false), ["to-edge", "partner"]);
    let rq = req(&a);
    assert!(lines(&r.route(&rq))[0]
        .contains("skipped, only for calls from zone `partner`, this one came from `LocalZone`"));
}

#[test]
fn source_local_zone_names_the_local_endpoints() {
    let r = router(&rule(
        "inside out",
        10,
        "source = \"LocalZone\"\npattern_type = \"regex\"\npattern = \".*\"\ntarget = \"internet\"",
    ));
    let a = Alias::parse("bob@x.org");
    assert_eq!(r.route(&req(&a)).targets.len(), 1);
    let from_edge = RouteRequest {
        source_zone: "to-edge",
        ..req(&a)
    };
    assert!(r.route(&from_edge).targets.is_empty());
}

#[test]
fn protocol_filter() {
    let r = router(&format!(
        "{}{}",
        rule(
            "h323 only",
            10,
            "protocol = \"h323\"\npattern_type = \"regex\"\npattern = \".*\"\ntarget = \"partner\""
        ),
        rule(
            "sip only",
            10,
            "protocol = \"sip\"\npattern_type = \"regex\"\npattern = \".*\"\ntarget = \"internet\""
        ),
    ));
    let a = Alias::parse("1234");
    let zone = |protocol| {
        let rq = RouteRequest {
            protocol,
            ..req(&a)
        };
        r.route(&rq)
            .targets
            .into_iter()
            .map(|t| t.zone)
            .collect::<Vec<_>>()
    };
    assert_eq!(zone(Protocol::Sip), ["internet"]);
    assert_eq!(zone(Protocol::H323), ["partner"]);
    let route = r.route(&req(&a));
    assert_eq!(
        lines(&route)[0],
        "rule \"h323 only\" (priority 10): skipped, only for H.323 requests, this is SIP"
    );
}

#[test]
fn implicit_rule_routes_registrar_domains_to_local_zone_and_stops() {
    let r = router(&rule(
        "everything else",
        100,
        "pattern_type = \"regex\"\npattern = \".*\"\ntarget = \"internet\"",
    ));
    let a = Alias::new(Some("alice"), Some("EXAMPLE.com"));
    let route = r.route(&req(&a));
    assert_eq!(
        route.targets,
        vec![Target {
            zone: LOCAL_ZONE.into(),
            kind: ZoneKind::Local,
            alias: a.clone(),
            rule: LOCAL_DOMAIN_RULE.into(),
            priority: 50,
        }]
    );
    // a foreign domain falls through the implicit rule to the explicit one
    assert_eq!(
        route_to(&r, "bob@example.org"),
        pairs(&[("internet", "bob@example.org")])
    );
}

#[test]
fn explicit_rules_below_50_run_before_the_implicit_rule() {
    let r = router(&format!(
        "{}{}",
        rule(
            "urgent",
            10,
            "pattern_type = \"exact\"\npattern = \"help@example.com\"\ntarget = \"partner\""
        ),
        rule(
            "copy",
            20,
            "pattern_type = \"prefix\"\npattern = \"copy\"\non_match = \"continue\"\ntarget = \"internet\""
        ),
    ));
    assert_eq!(
        route_to(&r, "help@example.com"),
        pairs(&[("partner", "help@example.com")])
    );
    assert_eq!(
        route_to(&r, "copy@example.com"),
        pairs(&[
            ("internet", "copy@example.com"),
            (LOCAL_ZONE, "copy@example.com")
        ])
    );
}

#[test]
fn implicit_rule_is_first_of_its_priority_group() {
    let r = router(&rule(
        "same priority",
        50,
        "pattern_type = \"suffix\"\npattern = \"@example.com\"\ntarget = \"partner\"",
    ));
    assert_eq!(
        route_to(&r, "bob@example.com"),
        pairs(&[
            (LOCAL_ZONE, "bob@example.com"),
            ("partner", "bob@example.com")
        ])
    );
}

#[test]
fn implicit_rule_can_be_turned_off_and_replaced_by_an_explicit_one() {
    let r = router(&format!(
        "\n[routing]\nlocal_domain_rule = false\n{}",
        rule(
            "local numbers",
            100,
            "pattern_type = \"regex\"\npattern = '(\\d+)'\npattern_behavior = \"replace\"\nreplace = '\\1@example.com'\ntarget = \"LocalZone\""
        ),
    ));
    assert_eq!(route_to(&r, "bob@example.com"), vec![]);
    let a = Alias::parse("1234");
    let route = r.route(&req(&a));
    assert_eq!(route.targets.len(), 1);
    assert_eq!(route.targets[0].kind, ZoneKind::Local);
    assert_eq!(route.targets[0].alias, Alias::parse("1234@example.com"));
}

#[test]
fn no_match_gives_no_targets_and_says_why() {
    let r = router(&rule(
        "partner",
        100,
        "pattern_type = \"suffix\"\npattern = \"@partner.org\"\ntarget = \"partner\"",
    ));
    let a = Alias::parse("bob@example.org");
    let route = r.route(&req(&a));
    assert!(route.targets.is_empty());
    assert_eq!(
        lines(&route),
        [
            "rule \"registrar domains (implicit)\" (priority 50): skipped, `example.org` is not a registrar domain",
            "rule \"partner\" (priority 100): skipped, suffix `@partner.org` does not match `bob@example.org`",
            "no search rule matches `bob@example.org`",
        ]
    );
}

#[test]
fn router_new_has_only_the_implicit_rule() {
    let r = Router::new(&["example.com".into()]);
    assert_eq!(r.hop_limit(), causeway_config::defaults::HOP_LIMIT);
    assert!(r.is_local_domain("Example.COM"));
    assert!(r.zone("partner").is_none());
    assert_eq!(
        route_to(&r, "a@example.com"),
        pairs(&[(LOCAL_ZONE, "a@example.com")])
    );
    assert_eq!(route_to(&r, "a@example.org"), vec![]);
}

#[test]
fn configured_zones_and_hop_limit_are_exposed() {
    let r = router("\n[routing]\nhop_limit = 7\n");
    assert_eq!(r.hop_limit(), 7);
    assert_eq!(
        r.zone("partner").and_then(|z| z.peer.as_deref()),
        Some("sip.partner.org:5060")
    );
    assert!(r.zone(LOCAL_ZONE).is_none());
}

#[test]
fn an_unvalidated_bad_regex_is_skipped_not_a_panic() {
    let text = format!(
        "{HEAD}{}",
        rule(
            "bad",
            10,
            "pattern_type = \"regex\"\npattern = \"(\"\ntarget = \"partner\""
        )
    );
    // toml parse without validation: build the Config by hand from a valid one
    let mut cfg = Config::parse("t.toml", &text.replace("\"(\"", "\"x\"")).expect("valid");
    cfg.search_rules[0].pattern = "(".into();
    cfg.search_rules.push(causeway_config::zones::SearchRule {
        target: "nowhere".into(),
        ..cfg.search_rules[0].clone()
    });
    cfg.search_rules[1].pattern = "x".into();
    let r = Router::from_config(&cfg);
    let a = Alias::parse("x");
    let route = r.route(&req(&a));
    assert!(route.targets.is_empty());
    assert!(
        lines(&route)[0].contains("is not a valid regex"),
        "{:#?}",
        lines(&route)
    );
    assert!(
        lines(&route)[1].contains("`nowhere` does not exist"),
        "{:#?}",
        lines(&route)
    );
}

proptest::proptest! {
    #[test]
    fn route_never_panics(alias in "\\PC*", proto in 0..2u8, from in 0..3u8, reg: bool) {
        let r = router(&format!(
            "{}{}{}{}",
            "\n[[transform]]\npattern_type = \"regex\"\npattern = '(.*)@(.*)@(.*)'\nreplace = '\\3\\2\\1$0\\9'\n",
            rule("strip", 10, "pattern_type = \"prefix\"\npattern = \"9\"\npattern_behavior = \"strip\"\non_match = \"continue\"\ntarget = \"partner\""),
            rule("rx", 10, "pattern_type = \"regex\"\npattern = '(\\w*)(\\W?)(.*)'\npattern_behavior = \"replace\"\nreplace = '\\3\\2\\1'\non_match = \"continue\"\ntarget = \"to-edge\""),
            rule("sfx", 60, "source = \"registered\"\npattern_type = \"suffix\"\npattern = \"é\"\npattern_behavior = \"replace\"\nreplace = \"e\"\ntarget = \"internet\""),
        ));
        let a = Alias::parse(&alias);
        let rq = RouteRequest {
            alias: &a,
            protocol: if proto == 0 { Protocol::Sip } else { Protocol::H323 },
            source_zone: ["LocalZone", "partner", ""][usize::from(from)],
            source_registered: reg,
        };
        let route = r.route(&rq);
        proptest::prop_assert!(!route.trace.is_empty());
    }
}

/// Every decision reaches the recorder, of every clone of the router, with the trace and
/// targets the caller gets.
#[test]
fn recorder_sees_each_decision_as_the_caller_does() {
    use std::sync::{Arc, Mutex};
    #[derive(Default)]
    struct Keep(Mutex<Vec<(String, String, Route)>>);
    impl SearchRecorder for Keep {
        fn record(&self, rq: &RouteRequest<'_>, route: &Route) {
            if let Ok(mut v) = self.0.lock() {
                v.push((
                    rq.alias.to_string(),
                    rq.source_zone.to_string(),
                    route.clone(),
                ));
            }
        }
    }
    let keep = Arc::new(Keep::default());
    let r = router("").with_recorder(keep.clone());
    let clone = r.clone();
    let a = Alias::parse("bob@example.com");
    let first = r.route(&req(&a));
    let b = Alias::parse("nobody@elsewhere.org");
    let second = clone.route(&req(&b));
    let seen = keep.0.lock().map(|v| v.clone()).unwrap_or_default();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].0, "bob@example.com");
    assert_eq!(seen[0].1, LOCAL_ZONE);
    assert_eq!(seen[0].2, first);
    assert_eq!(seen[1].2, second);
    assert!(second.targets.is_empty());
}

/// A route's trace lines, for indexing.
fn lines(route: &Route) -> Vec<&str> {
    route.trace.lines().collect()
}
