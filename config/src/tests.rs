//! Unit tests of `config/src/lib.rs`: loading the embedded default and whole files, and the
//! zone tables.

use super::*;

fn err(text: &str) -> ConfigError {
    Config::parse("t.toml", text).expect_err("should be rejected")
}

const MINIMAL: &str = "[system]\nrole = \"control\"\ndomain = \"example.com\"\n";

#[test]
fn embedded_default_is_valid_and_as_documented() {
    let c = Config::embedded_default();
    assert_eq!(c.system.role, Role::Control);
    assert_eq!(c.system.domain, "example.com");
    let udp = c.sip.listener("udp", c.system.role).unwrap();
    assert!(udp.enabled);
    assert_eq!(udp.listen[0].port(), defaults::SIP_UDP_PORT);
    assert!(c.sip.listener("tls", c.system.role).unwrap().enabled);
    assert!(!c.sip.listener("mtls", c.system.role).unwrap().enabled);
    assert_eq!(c.sip.outbound_ports, defaults::SIP_OUTBOUND_PORTS);
    assert_eq!(c.registrar_domains(), vec!["example.com".to_string()]);
}

#[test]
fn h323_keys_parse_with_defaults_and_bad_values_are_named() {
    let c = Config::parse("t.toml", MINIMAL).unwrap();
    assert!(!c.h323.enabled, "off unless configured");
    assert_eq!(c.h323.ras_listen.port(), defaults::H323_RAS_PORT);
    assert_eq!(c.h323.time_to_live, 1800);
    let d = Config::embedded_default();
    assert!(d.h323.enabled);
    assert_eq!(d.h323.q931_listen.port(), defaults::H323_Q931_PORT);
    assert_eq!(d.h323.signaling_ports, defaults::H323_SIGNALING_PORTS);
    let c = Config::parse(
        "t.toml",
        &format!(
            "{MINIMAL}[h323]\nenabled = true\nras_listen = \"127.0.0.1:11719\"\n\
                 q931_listen = \"127.0.0.1:11720\"\nsignaling_ports = \"16000-16999\"\n\
                 time_to_live = 60\nregistration_deny = [\"^bad\"]\n"
        ),
    )
    .unwrap();
    assert_eq!(c.h323.ras_listen, "127.0.0.1:11719".parse().unwrap());
    assert_eq!(c.h323.signaling_ports.start, 16000);
    assert_eq!(c.h323.time_to_live, 60);
    let e = err(&format!("{MINIMAL}[h323]\nregistration_allow = [\"(\"]\n"));
    assert!(e.to_string().contains("h323.registration_allow[0]"), "{e}");
    let e = err(&format!("{MINIMAL}[h323]\ntime_to_live = 0\n"));
    assert!(e.to_string().contains("h323.time_to_live"), "{e}");
    let e = err(&format!("{MINIMAL}[h323]\nttl = 5\n"));
    assert!(e.to_string().contains("ttl"), "{e}");
}

#[test]
fn interworking_mode_defaults_to_registered_and_refuses_unknown_keys() {
    use crate::interworking::InterworkingMode;
    let c = Config::parse("t.toml", MINIMAL).unwrap();
    assert_eq!(c.interworking.mode, InterworkingMode::Registered);
    assert_eq!(
        Config::embedded_default().interworking.mode,
        InterworkingMode::Registered
    );
    for (text, mode) in [
        ("off", InterworkingMode::Off),
        ("registered", InterworkingMode::Registered),
        ("on", InterworkingMode::On),
    ] {
        let c = Config::parse(
            "t.toml",
            &format!("{MINIMAL}[interworking]\nmode = \"{text}\"\n"),
        )
        .unwrap();
        assert_eq!(c.interworking.mode, mode);
        assert_eq!(mode.to_string(), text);
    }
    assert!(!InterworkingMode::Off.enabled() && InterworkingMode::On.enabled());
    let e = err(&format!("{MINIMAL}[interworking]\nmode = \"always\"\n"));
    assert!(e.to_string().contains("interworking.mode"), "{e}");
    let e = err(&format!(
        "{MINIMAL}[interworking]\ngateway = \"127.0.0.1:1\"\n"
    ));
    assert!(e.to_string().contains("gateway"), "{e}");
}

#[test]
fn issue_example_keys_all_parse() {
    let text = r#"
[system]
name = "edge-1"
role = "control"
domain = "example.com"

[sip]
udp  = { enabled = true,  listen = "127.0.0.1:5060" }
tcp  = { enabled = true,  listen = "127.0.0.1:5060" }
tls  = { enabled = true,  listen = "127.0.0.1:5061" }
mtls = { enabled = false, listen = "127.0.0.1:5062" }
outbound_ports = "25000-29999"

[registrar]
domains = ["example.com"]
min_expires = 60
max_expires = 3600
default_expires = 3600
"#;
    let c = Config::parse("t.toml", text).expect("valid");
    assert_eq!(c.system.name, "edge-1");
    assert_eq!(
        c.sip.listener("tls", Role::Control).unwrap().listen,
        vec!["127.0.0.1:5061".parse().unwrap()]
    );
}

#[test]
fn edge_role_has_udp_and_tcp_off_by_default() {
    let c = Config::parse("t.toml", &MINIMAL.replace("control", "edge")).unwrap();
    assert!(!c.sip.listener("udp", Role::Edge).unwrap().enabled);
    assert!(!c.sip.listener("tcp", Role::Edge).unwrap().enabled);
    assert!(c.sip.listener("tls", Role::Edge).unwrap().enabled);
}

#[test]
fn unknown_key_names_line_column_and_field() {
    let e = err(&format!("{MINIMAL}[registrar]\nmin_expire = 5\n"));
    assert_eq!(e.file, "t.toml");
    assert_eq!(e.position, Some((5, 1)));
    assert_eq!(e.field.as_deref(), Some("registrar.min_expire"));
    assert!(e.message.contains("unknown field `min_expire`"), "{e}");
}

#[test]
fn wrong_type_names_the_field() {
    let e = err(&format!("{MINIMAL}[registrar]\nmin_expires = \"soon\"\n"));
    assert_eq!(e.position, Some((5, 15)));
    assert_eq!(e.field.as_deref(), Some("registrar.min_expires"));
}

#[test]
fn bad_listen_address_in_inline_table() {
    let e = err(&format!(
        "{MINIMAL}[sip]\nudp = {{ enabled = true, listen = \"127.0.0.1\" }}\n"
    ));
    assert_eq!(e.field.as_deref(), Some("sip.udp.listen"), "{e}");
    assert_eq!(e.position.map(|p| p.0), Some(5));
    assert!(e.message.contains("not an address:port"), "{e}");
}

#[test]
fn bad_port_range() {
    let e = err(&format!(
        "{MINIMAL}[sip]\noutbound_ports = \"29999-25000\"\n"
    ));
    assert_eq!(e.field.as_deref(), Some("sip.outbound_ports"));
    assert!(e.message.contains("starts after it ends"));
}

#[test]
fn bad_role() {
    let e = err("[system]\nrole = \"middle\"\ndomain = \"example.com\"\n");
    assert_eq!(e.field.as_deref(), Some("system.role"));
    assert_eq!(e.position, Some((2, 8)));
}

#[test]
fn missing_system_table() {
    let e = err("[sip]\n");
    assert!(e.message.contains("system"), "{e}");
}

#[test]
fn validation_errors_point_at_the_field() {
    let e = err(&format!(
        "{MINIMAL}[registrar]\nmax_expires = 30\nmin_expires = 60\n"
    ));
    assert_eq!(e.field.as_deref(), Some("registrar.min_expires"));
    assert_eq!(e.position, Some((6, 1)));
    let e = err(&format!("{MINIMAL}[registrar]\nauthenticate = true\n"));
    assert_eq!(e.field.as_deref(), Some("registrar.authenticate"));
    let e = err(&format!(
            "{MINIMAL}[[credential]]\nusername = \"a\"\npassword = \"x\"\n[[credential]]\nusername = \"a\"\npassword = \"y\"\n"
        ));
    assert_eq!(e.field.as_deref(), Some("credential[1].username"));
    assert_eq!(e.position, Some((8, 1)));
}

#[test]
fn missing_certificate_file() {
    let e = err(&format!(
        "{MINIMAL}[sip]\ncertificate = \"/nonexistent.pem\"\nprivate_key = \"/nonexistent.key\"\n"
    ));
    assert_eq!(e.field.as_deref(), Some("sip.certificate"));
    assert!(
        e.to_string()
            .starts_with("t.toml:5:1: field `sip.certificate`: file"),
        "{e}"
    );
}

#[test]
fn toml_syntax_error_has_position() {
    let e = err("[system\nrole = 1\n");
    assert_eq!(e.position.map(|p| p.0), Some(1));
}

mod zone_tests {
    use crate::zones::{OnMatch, PatternBehavior, PatternType, ZoneType};
    use crate::Transport;
    use crate::*;

    const EDGE: &str = r#"
[system]
role = "edge"
domain = "example.com"

[[credential]]
username = "control-1"
password = "secret"

[[zone]]
name = "from-control"
type = "traversal-server"
username = "control-1"

[[zone]]
name = "second"
type = "traversal-server"
transport = "tcp"
username = "control-1"

[[zone]]
name = "internet"
type = "dns"
nameservers = ["127.0.0.1:5353"]

[[transform]]
priority = 1
pattern_type = "regex"
pattern = "(.*)@old\\.example"
replace = "\\1@example.com"

[[search_rule]]
name = "example.com to C"
pattern_type = "suffix"
pattern = "@example.com"
target = "from-control"
"#;

    #[test]
    fn issue_keys_parse_with_defaults() {
        let c = Config::parse("e.toml", EDGE).expect("valid");
        assert_eq!(c.zones.len(), 3);
        assert_eq!(c.zones[0].kind, ZoneType::TraversalServer);
        assert_eq!(c.zones[0].transport(), Transport::Tls);
        // 7001 for the first traversal zone, 7002 for the second
        assert_eq!(traversal_server_port(&c, 0), 7001);
        assert_eq!(traversal_server_port(&c, 1), 7002);
        let r = &c.search_rules[0];
        assert_eq!(r.priority, 100);
        assert_eq!(r.source, "any");
        assert_eq!(r.on_match, OnMatch::Stop);
        assert_eq!(r.pattern_behavior, PatternBehavior::Leave);
        assert_eq!(c.transforms[0].pattern_type, PatternType::Regex);
        assert_eq!(c.routing.hop_limit, 15);
    }

    fn err(text: &str) -> String {
        Config::parse("e.toml", text)
            .expect_err("should be rejected")
            .to_string()
    }

    #[test]
    fn bad_routing_tables_name_the_field() {
        let e = err(&EDGE.replace("target = \"from-control\"", "target = \"nowhere\""));
        assert!(
            e.contains("search_rule[0].target") && e.contains("`nowhere`"),
            "{e}"
        );
        let e = err(&EDGE.replace(
            "username = \"control-1\"\n\n[[zone]]\nname = \"second\"",
            "username = \"nobody\"\n\n[[zone]]\nname = \"second\"",
        ));
        assert!(
            e.contains("zone[0].username") && e.contains("nobody"),
            "{e}"
        );
        let e = err(&EDGE.replace("pattern = \"(.*)@old\\\\.example\"", "pattern = \"(.*\""));
        assert!(
            e.contains("transform[0].pattern") && e.contains("bad regex"),
            "{e}"
        );
        let e = err(&EDGE.replace("name = \"second\"", "name = \"from-control\""));
        assert!(e.contains("defined twice"), "{e}");
        let e = err(&EDGE.replace(
            "nameservers = [\"127.0.0.1:5353\"]",
            "nameservers = [\"127.0.0.1:5353\"]\npeer = \"x\"",
        ));
        assert!(e.contains("zone[2].peer"), "{e}");
        let e = err(&EDGE.replace(
            "transport = \"tcp\"",
            "transport = \"tcp\"\nsip_port = 7001",
        ));
        assert!(e.contains("already the port"), "{e}");
    }

    /// The H.323 side of traversal zones: 6001, 6002 counted like 7001, 7002; off unless
    /// `[h323]` is; each fault named at its key.
    #[test]
    fn traversal_zones_carry_h323_with_the_reference_ports() {
        let c = Config::parse("e.toml", EDGE).expect("valid");
        assert!(!c.zones[0].carries_h323(c.h323.enabled));
        let on = format!("{EDGE}\n[h323]\nenabled = true\n");
        let c = Config::parse("e.toml", &on).expect("valid");
        assert!(c.zones[0].carries_h323(true) && !c.zones[2].carries_h323(true));
        assert_eq!(traversal_server_h323_port(&c, 0), 6001);
        assert_eq!(traversal_server_h323_port(&c, 1), 6002);
        assert_eq!(c.zones[0].h323_mode(), crate::zones::H323Mode::H46018);
        assert_eq!(c.h323.h46018_port, 2777);
        assert_eq!(c.h323.assent_port, 2776);
        assert_eq!(c.h323.token_skew, 300);
        // `h323 = true` needs the gatekeeper
        let e = err(&EDGE.replace("transport = \"tcp\"", "transport = \"tcp\"\nh323 = true"));
        assert!(
            e.contains("zone[1].h323") && e.contains("[h323] enabled"),
            "{e}"
        );
        // two server zones on one RAS port
        let e = err(&on.replace(
            "transport = \"tcp\"",
            "transport = \"tcp\"\nh323_port = 6001",
        ));
        assert!(
            e.contains("zone[1].h323_port") && e.contains("`from-control`"),
            "{e}"
        );
        // not the gatekeeper's own RAS port either
        let e = err(&on.replace(
            "transport = \"tcp\"",
            "transport = \"tcp\"\nh323_port = 1719",
        ));
        assert!(e.contains("gatekeeper's RAS port"), "{e}");
        // a zone turned off does not hold its port
        let off = on.replace(
            "username = \"control-1\"\n\n[[zone]]\nname = \"second\"",
            "username = \"control-1\"\nh323 = false\n\n[[zone]]\nname = \"second\"",
        );
        let off = off.replace(
            "transport = \"tcp\"",
            "transport = \"tcp\"\nh323_port = 6001",
        );
        Config::parse("e.toml", &off).expect("a zone without H.323 holds no RAS port");
        // H.323 keys only on traversal zones
        let e = err(&on.replace(
            "nameservers = [\"127.0.0.1:5353\"]",
            "nameservers = [\"127.0.0.1:5353\"]\nh323_mode = \"assent\"",
        ));
        assert!(
            e.contains("zone[2].h323_mode") && e.contains("traversal"),
            "{e}"
        );
        let e = err(&on.replace(
            "transport = \"tcp\"",
            "transport = \"tcp\"\nh323_keepalive_interval = 10",
        ));
        assert!(e.contains("zone[1].h323_keepalive_interval"), "{e}");
    }

    const CONTROL: &str = r#"
[system]
role = "control"
domain = "example.com"

[h323]
enabled = true

[[zone]]
name = "to-edge"
type = "traversal-client"
peer = "edge.example.com"
username = "control-1"
password = "secret"
"#;

    #[test]
    fn a_traversal_client_carrying_h323_names_the_edge_port() {
        let e = err(CONTROL);
        assert!(
            e.contains("zone[0]") && e.contains("needs `h323_port`"),
            "{e}"
        );
        let ok = format!("{CONTROL}h323_port = 6001\nh323_mode = \"assent\"\n");
        let c = Config::parse("c.toml", &ok).expect("valid");
        assert_eq!(c.zones[0].h323_mode(), crate::zones::H323Mode::Assent);
        assert_eq!(c.zones[0].h323_keepalive_interval(), 19);
        for (v, good) in [(4, false), (5, true), (30, true), (31, false)] {
            let t = format!("{ok}h323_keepalive_interval = {v}\n");
            assert_eq!(Config::parse("c.toml", &t).is_ok(), good, "{v}");
        }
        let sip_only = format!("{CONTROL}h323 = false\n");
        Config::parse("c.toml", &sip_only).expect("a SIP-only link needs no H.323 port");
    }
}

/// `[admin]` away from loopback: refused without TLS and users, accepted with both; a user's
/// hash must be an argon2 PHC string.
#[test]
fn admin_off_loopback_needs_tls_and_users() {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let hash = argon2::Argon2::default()
        .hash_password(b"pw", &SaltString::generate(&mut OsRng))
        .map(|h| h.to_string())
        .unwrap_or_default();
    let admin = |extra: &str| format!("{MINIMAL}[admin]\nlisten = \"0.0.0.0:7080\"\n{extra}");
    let user = format!("[[admin.users]]\nname = \"ops\"\npassword_hash = \"{hash}\"\n");
    let e = err(&admin(""));
    assert_eq!(e.field.as_deref(), Some("admin.listen"));
    assert_eq!(e.position, Some((5, 1)));
    assert!(e.to_string().contains("`tls = true` and `users`"), "{e}");
    let e = err(&admin("tls = true\n"));
    assert!(e.to_string().contains("needs `users`"), "{e}");
    let e = err(&admin(&user));
    assert!(
        e.to_string().contains("needs `tls = true` in [admin]"),
        "{e}"
    );
    let c = Config::parse("t.toml", &admin(&format!("tls = true\n{user}")));
    assert!(c.is_ok(), "{:?}", c.err());
    let e = err(&admin(&format!(
        "tls = true\n{}",
        user.replace(&hash, "$6$salt$notargon")
    )));
    assert_eq!(e.field.as_deref(), Some("admin.users[0].password_hash"));
    let e = err(&format!("{MINIMAL}[admin]\n{user}{user}"));
    assert_eq!(e.field.as_deref(), Some("admin.users[1].name"));
    assert!(e.to_string().contains("defined twice"), "{e}");
}

/// The history bounds: defaults, 0 turns a history off, a budget too small to hold a call or
/// beyond 4 GiB is refused where it is written.
#[test]
fn admin_history_bounds() {
    let c = Config::parse("t.toml", MINIMAL).expect("minimal");
    assert_eq!(c.admin.call_history, 1000);
    assert_eq!(c.admin.call_history_bytes, 16 * 1024 * 1024);
    assert_eq!(c.admin.search_history, 1000);
    let off = format!("{MINIMAL}[admin]\ncall_history = 0\ncall_history_bytes = 0\n");
    assert!(Config::parse("t.toml", &off).is_ok());
    let e = err(&format!("{MINIMAL}[admin]\ncall_history_bytes = 1000\n"));
    assert_eq!(e.field.as_deref(), Some("admin.call_history_bytes"));
    assert!(e.to_string().contains("between 65536"), "{e}");
    let e = err(&format!("{MINIMAL}[admin]\ncall_history = 2000000\n"));
    assert_eq!(e.field.as_deref(), Some("admin.call_history"));
}

#[test]
fn media_relay_io_defaults_to_auto_and_names_the_choices() {
    let c = Config::parse("t.toml", MINIMAL).unwrap();
    assert_eq!(c.media.relay_io, IoPath::Auto);
    for (text, io) in [
        ("auto", IoPath::Auto),
        ("io_uring", IoPath::IoUring),
        ("epoll", IoPath::Epoll),
    ] {
        let c = Config::parse(
            "t.toml",
            &format!("{MINIMAL}[media]\nrelay_io = \"{text}\"\n"),
        )
        .unwrap();
        assert_eq!(c.media.relay_io, io);
        assert_eq!(io.name(), text);
    }
    let e = err(&format!("{MINIMAL}[media]\nrelay_io = \"uring\"\n")).to_string();
    assert!(e.contains("relay_io") && e.contains("io_uring"), "{e}");
}

#[test]
fn sip_udp_batch_defaults_to_2_ms_and_is_bounded() {
    let c = Config::parse("t.toml", MINIMAL).unwrap();
    assert_eq!(c.sip.udp_batch_us, 2000);
    let c = Config::parse("t.toml", &format!("{MINIMAL}[sip]\nudp_batch_us = 0\n")).unwrap();
    assert_eq!(c.sip.udp_batch_us, 0);
    let e = err(&format!("{MINIMAL}[sip]\nudp_batch_us = 100001\n"));
    assert_eq!(e.field.as_deref(), Some("sip.udp_batch_us"));
}

#[test]
fn sip_threads_default_to_one_and_two_need_io_uring() {
    let c = Config::parse("t.toml", MINIMAL).unwrap();
    assert_eq!(c.sip.threads, 1);
    let c = Config::parse("t.toml", &format!("{MINIMAL}[sip]\nthreads = 2\n")).unwrap();
    assert_eq!(c.sip.threads, 2);
    for bad in [
        "threads = 0",
        "threads = 3",
        "threads = 2\nudp_io = \"epoll\"",
    ] {
        let e = err(&format!("{MINIMAL}[sip]\n{bad}\n"));
        assert_eq!(e.field.as_deref(), Some("sip.threads"), "{bad}");
    }
}

#[test]
fn media_keepalive_payload_type_defaults_to_116_and_must_be_dynamic() {
    let c = Config::parse("t.toml", MINIMAL).unwrap();
    assert_eq!(c.media.keepalive_payload_type, 116);
    let c = Config::parse(
        "t.toml",
        &format!("{MINIMAL}[media]\nkeepalive_payload_type = 96\n"),
    )
    .unwrap();
    assert_eq!(c.media.keepalive_payload_type, 96);
    for bad in [0, 95, 128] {
        let e = err(&format!(
            "{MINIMAL}[media]\nkeepalive_payload_type = {bad}\n"
        ));
        let e = e.to_string();
        assert!(e.contains("media.keepalive_payload_type"), "{e}");
        assert!(e.contains("96 to 127"), "{e}");
    }
    // not a u8 at all: a type error naming the key
    let e = err(&format!("{MINIMAL}[media]\nkeepalive_payload_type = 300\n"));
    assert!(e.to_string().contains("keepalive_payload_type"), "{e}");
}

#[test]
fn cluster_table_parses_with_defaults_and_bad_peers_are_named() {
    let c = Config::parse("t.toml", MINIMAL).unwrap();
    assert!(c.cluster.is_none(), "a single node unless configured");
    let c = Config::parse(
        "t.toml",
        &format!(
            "{MINIMAL}[cluster]\nname = \"expc.example.com\"\nnode_id = 2\n\
             peers = [\"10.0.0.1\", \"10.0.0.2\", \"127.0.0.1:14373\"]\n"
        ),
    )
    .unwrap();
    let cl = c.cluster.unwrap();
    assert_eq!(cl.port, defaults::CLUSTER_TLS_PORT);
    assert_eq!(cl.tls_verify, TlsVerify::Permissive);
    assert_eq!(cl.own_addr(), Some("10.0.0.2:4372".parse().unwrap()));
    assert_eq!(cl.peer_addrs()[2], (3, "127.0.0.1:14373".parse().unwrap()));

    let cluster = |body: &str| err(&format!("{MINIMAL}[cluster]\nname = \"c.example\"\n{body}"));
    let e = cluster("node_id = 4\npeers = [\"10.0.0.1\", \"10.0.0.2\", \"10.0.0.3\"]\n");
    assert_eq!(e.field.as_deref(), Some("cluster.node_id"));
    assert_eq!(e.position.map(|p| p.0), Some(6));
    let e = cluster("node_id = 1\npeers = [\"10.0.0.1\", \"10.0.0.1:4372\"]\n");
    assert_eq!(e.field.as_deref(), Some("cluster.peers[1]"));
    assert!(e.message.contains("twice"), "{e}");
    let e = cluster("node_id = 1\npeers = [\"expc-1.example.com\"]\n");
    assert!(e.message.contains("not an IP address"), "{e}");
    let seven: Vec<String> = (1..=7).map(|i| format!("\"10.0.0.{i}\"")).collect();
    let e = cluster(&format!("node_id = 1\npeers = [{}]\n", seven.join(", ")));
    assert!(e.message.contains("1 to 6 peers"), "{e}");
}

#[test]
fn a_neighbor_zone_lists_the_peers_of_a_remote_cluster() {
    let zone = |body: &str| format!("{MINIMAL}[[zone]]\nname = \"B\"\ntype = \"neighbor\"\n{body}");
    let c = Config::parse(
        "t.toml",
        &zone("peers = [\"10.1.0.1\", \"10.1.0.2:5070\", \"b3.example.com\"]\n"),
    )
    .unwrap();
    assert_eq!(
        c.zones[0].peer_list(),
        ["10.1.0.1", "10.1.0.2:5070", "b3.example.com"]
    );
    let one = Config::parse("t.toml", &zone("peer = \"10.1.0.1\"\n")).unwrap();
    assert_eq!(one.zones[0].peer_list(), ["10.1.0.1"]);
    let e = err(&zone("peer = \"10.1.0.1\"\npeers = [\"10.1.0.2\"]\n")).to_string();
    assert!(e.contains("not both"), "{e}");
    let e = err(&zone("peers = [\"10.1.0.1\", \"a b\"]\n")).to_string();
    assert!(e.contains("peers[1]") && e.contains("host[:port]"), "{e}");
    let seven: Vec<String> = (1..=7).map(|i| format!("\"10.1.0.{i}\"")).collect();
    let e = err(&zone(&format!("peers = [{}]\n", seven.join(", ")))).to_string();
    assert!(e.contains("at most 6"), "{e}");
    let e = err(&zone("")).to_string();
    assert!(e.contains("peer"), "{e}");
    let e = err(&format!(
        "{MINIMAL}[[zone]]\nname = \"d\"\ntype = \"dns\"\npeers = [\"10.1.0.1\"]\n"
    ))
    .to_string();
    assert!(e.contains("peers") && e.contains("neighbor"), "{e}");
}

#[test]
fn a_traversal_client_zone_lists_the_peers_of_an_e_cluster() {
    let zone = |body: &str| {
        format!(
            "{MINIMAL}[[zone]]\nname = \"E\"\ntype = \"traversal-client\"\n\
             username = \"c\"\npassword = \"p\"\n{body}"
        )
    };
    let c = Config::parse(
        "t.toml",
        &zone("peers = [\"10.2.0.1\", \"e2.example.com\"]\n"),
    )
    .unwrap();
    assert_eq!(c.zones[0].peer_list(), ["10.2.0.1", "e2.example.com"]);
    // the port is the zone's `sip_port` unless a peer names its own
    let c = Config::parse(
        "t.toml",
        &zone("peers = [\"10.2.0.1\", \"10.2.0.2:7005\"]\n"),
    )
    .unwrap();
    let split: Vec<_> = c.zones[0]
        .peer_list()
        .into_iter()
        .map(crate::zones::Zone::split_peer)
        .collect();
    assert_eq!(split, [("10.2.0.1", None), ("10.2.0.2", Some(7005))]);
    assert_eq!(
        crate::zones::Zone::split_peer("[::1]:7001"),
        ("::1", Some(7001))
    );
    assert_eq!(crate::zones::Zone::split_peer("::1"), ("::1", None));
    let e = err(&zone("peers = [\"10.2.0.1\", \"10.2.0.2:70000\"]\n")).to_string();
    assert!(e.contains("peers[1]") && e.contains("sip_port"), "{e}");
    let e = err(&zone("peers = [\"10.2.0.1\", \"10.2.0.1\"]\n")).to_string();
    assert!(e.contains("peers[1]") && e.contains("twice"), "{e}");
    let e = err(&zone("peer = \"10.2.0.1\"\npeers = [\"10.2.0.2\"]\n")).to_string();
    assert!(e.contains("not both"), "{e}");
    let seven: Vec<String> = (1..=7).map(|i| format!("\"10.2.0.{i}\"")).collect();
    let e = err(&zone(&format!("peers = [{}]\n", seven.join(", ")))).to_string();
    assert!(e.contains("at most 6"), "{e}");
    let e = err(&format!(
        "{MINIMAL}[[zone]]\nname = \"E\"\ntype = \"traversal-server\"\nusername = \"c\"\n\
         peers = [\"10.2.0.1\"]\n"
    ))
    .to_string();
    assert!(e.contains("peers") && e.contains("traversal-client"), "{e}");
}
