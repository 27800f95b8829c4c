//! Tests of the gatekeeper in a cluster (`ras::cluster`): aliases another peer publishes are
//! located there with LRQ, that peer's LRQs are answered, and its aliases cannot be registered
//! here.

use super::*;
use causeway_zones::{PeerAliases, PeerInfo};

const PEER_RAS: &str = "198.51.100.2:1719";

/// Peer 2 holds H.323 alias 2001 and SIP AOR bob@example.com.
fn peers() -> PeerAliases {
    let p = PeerAliases::default();
    let info = PeerInfo {
        ras: Some(sa(PEER_RAS)),
        q931: Some(sa("198.51.100.2:1720")),
        gatekeeper_id: Some("peer2".into()),
        ..Default::default()
    };
    p.update(
        2,
        info,
        &[
            ("2001".into(), Some(Protocol::H323)),
            ("bob@example.com".into(), Some(Protocol::Sip)),
        ],
    );
    p
}

/// The gatekeeper's answer to a full RRQ from `ras` for E.164 `alias`.
fn rrq_answer(gk: &mut Gatekeeper, ras: &str, alias: &str, now: Instant) -> RasMessage {
    let (sent, _) = exchange(gk, ras, &rrq(1, ras, vec![e164(alias)]), now);
    one(sent).1
}

fn resolve(gk: &mut Gatekeeper, call: u64, alias: AliasAddress, out: &mut Vec<Output>) -> Resolve {
    let now = Instant::now();
    let caller = sa("192.0.2.10:40000");
    gk.resolve(call, &[alias], None, caller, false, sa(GK_RAS), now, out)
}

#[test]
fn an_alias_on_another_peer_is_located_there_with_lrq() {
    let mut gk = gatekeeper().with_cluster_peers(peers());
    let mut out = Vec::new();
    assert_eq!(
        resolve(&mut gk, 1, e164("2001"), &mut out),
        Resolve::Pending
    );
    let (sent, _) = split(std::mem::take(&mut out));
    let (to, msg) = one(sent);
    assert_eq!(to, sa(PEER_RAS));
    let RasMessage::locationRequest(q) = msg else {
        panic!("{msg:?}")
    };
    assert_eq!(q.destination_info, vec![e164("2001")]);
    // registered nowhere in the cluster: not registered, no LRQ
    assert_eq!(
        resolve(&mut gk, 2, e164("2002"), &mut out),
        Resolve::Failed(RouteFailure::NotRegistered)
    );
    assert!(out.is_empty());
    // without the cluster, 2001 is simply not registered
    let mut alone = gatekeeper();
    assert_eq!(
        resolve(&mut alone, 3, e164("2001"), &mut out),
        Resolve::Failed(RouteFailure::NotRegistered)
    );
}

/// Interworked here, in the cluster's zone: the call's callee leg is then a cluster peer's,
/// and with `anchor = "all"` this side leaves the media to the peer that anchors the SIP call
/// (one relay, not two).
#[test]
fn a_sip_ua_on_another_peer_is_interworked_here() {
    let mut gk = gatekeeper().with_cluster_peers(peers());
    gk.set_interworking(Some((
        sa("127.0.0.1:41000"),
        causeway_config::InterworkingMode::Registered,
    )));
    let mut out = Vec::new();
    match resolve(&mut gk, 1, h323id("bob@example.com"), &mut out) {
        Resolve::Found(d) => {
            assert_eq!(d.addr, sa("127.0.0.1:41000"), "the gateway: {d:?}");
            assert_eq!(d.zone, crate::ras::CLUSTER_ZONE);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_peers_lrq_is_answered_and_its_aliases_are_not_registered_here() {
    let mut gk = gatekeeper().with_cluster_peers(peers());
    let now = Instant::now();
    register(&mut gk, "192.0.2.11:1719", vec![e164("1002")], now);
    let lrq = lrq(5, vec![e164("1002")], sa(PEER_RAS));
    let (sent, _) = exchange(&mut gk, PEER_RAS, &lrq, now);
    assert!(matches!(one(sent).1, RasMessage::locationConfirm(_)));
    // a stranger on another port of the peer's address is not the peer's gatekeeper
    let (sent, _) = exchange(&mut gk, "198.51.100.2:5000", &lrq, now);
    assert!(matches!(one(sent).1, RasMessage::locationReject(_)));

    let (sent, _) = exchange(
        &mut gk,
        "192.0.2.12:1719",
        &rrq(1, "192.0.2.12:1719", vec![e164("2001")]),
        now,
    );
    let RasMessage::registrationReject(r) = one(sent).1 else {
        panic!("2001 is peer 2's")
    };
    assert!(matches!(
        r.reject_reason,
        RegistrationRejectReason::duplicateAlias(_)
    ));
}

#[test]
fn rcf_names_the_other_peers_as_alternate_gatekeepers() {
    let mut gk = gatekeeper().with_cluster_peers(peers());
    let now = Instant::now();
    let (sent, _) = exchange(
        &mut gk,
        "192.0.2.11:1719",
        &rrq(1, "192.0.2.11:1719", vec![e164("1002")]),
        now,
    );
    let RasMessage::registrationConfirm(c) = one(sent).1 else {
        panic!()
    };
    let alt = c.alternate_gatekeeper.expect("alternates");
    assert_eq!(alt.len(), 1);
    assert_eq!(asn::socket_addr(&alt[0].ras_address), Some(sa(PEER_RAS)));
    assert!(alt[0].need_to_register);
    let id = alt[0]
        .gatekeeper_identifier
        .as_ref()
        .map(|g| asn::bmp_text(&g.0));
    assert_eq!(
        id,
        Some(Some("peer2".to_string())),
        "the peer's own identifier"
    );
    assert_eq!(alt[0].priority, 0);
    // alone: no alternates
    let mut alone = gatekeeper();
    let (sent, _) = exchange(
        &mut alone,
        "192.0.2.11:1719",
        &rrq(1, "192.0.2.11:1719", vec![e164("1002")]),
        now,
    );
    let RasMessage::registrationConfirm(c) = one(sent).1 else {
        panic!()
    };
    assert!(c.alternate_gatekeeper.is_none());
}

#[test]
fn the_same_endpoint_moving_from_a_peer_keeps_its_aliases_another_does_not() {
    // peer 2 holds 3001 for the endpoint whose RAS address is 192.0.2.12:1719
    let p = peers();
    let ip = "192.0.2.12:1719".parse().ok();
    let info = p.peers()[0].1.clone();
    p.update_with(2, info, &[("3001".into(), Some((Protocol::H323, ip)))]);
    let mut gk = gatekeeper().with_cluster_peers(p);
    let now = Instant::now();
    let other = rrq_answer(&mut gk, "192.0.2.12:1720", "3001", now);
    assert!(
        matches!(other, RasMessage::registrationReject(_)),
        "another endpoint: {other:?}"
    );
    let moving = rrq_answer(&mut gk, "192.0.2.12:1719", "3001", now);
    assert!(
        matches!(moving, RasMessage::registrationConfirm(_)),
        "the same endpoint, moving here: {moving:?}"
    );
}

#[test]
fn a_peers_stale_claim_does_not_take_an_alias_registered_here() {
    let p = peers();
    let mut gk = gatekeeper().with_cluster_peers(p.clone());
    let now = Instant::now();
    register(&mut gk, "192.0.2.14:1719", vec![e164("4001")], now);
    // a race: peer 2 published 4001 too (for someone else)
    let info = p.peers()[0].1.clone();
    p.update(2, info, &[("4001".into(), Some(Protocol::H323))]);
    let answer = rrq_answer(&mut gk, "192.0.2.14:1719", "4001", now);
    assert!(
        matches!(answer, RasMessage::registrationConfirm(_)),
        "the registered endpoint's own alias: {answer:?}"
    );
}
