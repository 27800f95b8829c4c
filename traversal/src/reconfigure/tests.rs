//! A reload of C's traversal links, sans-IO: an unchanged zone's client goes on as it was, a
//! changed one starts over towards its new peer, a removed one's link goes down, a new one
//! connects; the core's client zones follow. A fake clock, no sockets.

use super::*;
use crate::test_core;
use causeway_config::Transport;
use causeway_sip::proxy::{Link, Transmit};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

use test_core::{link, node};

/// The REGISTERs the node sends at `now`, by destination.
fn registers(node: &mut LinkedProxy, now: Instant) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    node.handle_timeout(now, &mut out);
    let mut dests: Vec<SocketAddr> = out
        .into_iter()
        .filter_map(|o| match o {
            Output::Transmit(Transmit { dest, data, .. }) if data.starts_with(b"REGISTER") => {
                Some(dest)
            }
            _ => None,
        })
        .collect();
    dests.sort();
    dests
}

fn reconfig(links: Vec<LinkConfig>, unchanged: &[&str]) -> Reconfig {
    let cfg = causeway_config::Config::parse("t.toml", test_core::CONTROL).expect("test config");
    Reconfig {
        policy: Policy {
            domains: cfg.registrar_domains(),
            registrar: test_core::registrar_policy(),
            auth: None,
            router: causeway_zones::Router::from_config(&cfg),
            amplification_limit: true,
        },
        credentials: HashMap::new(),
        links,
        unchanged: unchanged.iter().map(|z| z.to_string()).collect(),
        rng: StdRng::seed_from_u64(42),
    }
}

#[test]
fn only_the_changed_zones_links_start_over() {
    let now = Instant::now();
    let mut node = node(
        vec![
            link("keep", "127.0.0.1:7001"),
            link("move", "127.0.0.1:7002"),
            link("drop", "127.0.0.1:7003"),
        ],
        now,
    );
    let first = registers(&mut node, now);
    assert_eq!(first.len(), 3, "every client registers at start: {first:?}");
    // `drop` is up, as C's core sees it
    let mut out = Vec::new();
    let up = Link {
        zone: "drop".into(),
        kind: Transport::Tcp,
        remote: addr("127.0.0.1:7003"),
        local: addr("127.0.0.1:40003"),
        conn: causeway_sip::proxy::ConnId(3),
        since: SystemTime::UNIX_EPOCH,
        refreshed: SystemTime::UNIX_EPOCH,
    };
    let set = LinkEvent::Set {
        name: "drop".into(),
        link: Some(up),
    };
    node.core.handle(Event::Link(set), now, &mut out);
    assert!(node.core().links().contains_key("drop"));

    let later = now + Duration::from_millis(10);
    let r = reconfig(
        vec![
            link("keep", "127.0.0.1:7001"),
            link("move", "127.0.0.1:7012"),
            link("new", "127.0.0.1:7004"),
        ],
        &["keep"],
    );
    let applied = node.reconfigure(r, later, &mut out);
    assert_eq!(
        applied,
        Applied {
            kept: vec!["keep".into()],
            added: vec!["new".into()],
            restarted: vec!["move".into()],
            removed: vec!["drop".into()],
        }
    );
    assert!(
        !node.core().links().contains_key("drop"),
        "a removed zone's link is down"
    );
    // the kept client is still waiting for E's answer: it sends nothing new; the changed zone
    // registers with its new peer, the new zone with its own
    assert_eq!(
        registers(&mut node, later),
        vec![addr("127.0.0.1:7004"), addr("127.0.0.1:7012")]
    );
    let zones: Vec<&str> = node.clients.iter().map(LinkClient::zone).collect();
    assert_eq!(zones, ["keep", "move", "new"]);
}

#[test]
fn new_clients_get_token_ranges_no_other_client_holds() {
    let now = Instant::now();
    let mut node = node(vec![link("a", "127.0.0.1:7001")], now);
    let mut out = Vec::new();
    for round in 0..3 {
        let r = reconfig(
            vec![link("a", "127.0.0.1:7001"), link("b", "127.0.0.1:7002")],
            &[],
        );
        node.reconfigure(r, now, &mut out);
        let t = now + Duration::from_secs(round);
        let tokens: Vec<u64> = {
            let mut o = Vec::new();
            node.handle_timeout(t, &mut o);
            o.into_iter()
                .filter_map(|o| match o {
                    Output::Transmit(t) => Some(t.token),
                    _ => None,
                })
                .collect()
        };
        assert!(tokens.iter().all(|t| *t >= CLIENT_TOKENS));
        let owners = |t: u64| node.clients.iter().filter(|c| c.owns_token(t)).count();
        assert!(tokens.iter().all(|t| owners(*t) == 1), "{tokens:?}");
    }
}
