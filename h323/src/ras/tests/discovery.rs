//! Tests of discovery (`ras::discovery`): GRQ unicast and multicast, GCF and GRJ.

use super::*;

fn grq(n: u16, ras: SocketAddr, gk: Option<&str>) -> RasMessage {
    RasMessage::gatekeeperRequest(GatekeeperRequest::new(
        RequestSeqNum(n),
        asn::h225_protocol_identifier(),
        None,
        asn::transport_address(ras),
        terminal(),
        gk.map(asn::gatekeeper_id),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ))
}

#[test]
fn grq_is_confirmed_unless_it_names_another_gatekeeper() {
    let mut gk = gatekeeper();
    let now = Instant::now();
    let (sent, _) = exchange(
        &mut gk,
        "192.0.2.10:5000",
        &grq(1, sa("192.0.2.10:1719"), None),
        now,
    );
    let (to, msg) = one(sent);
    assert_eq!(
        to,
        sa("192.0.2.10:1719"),
        "replies go to the rasAddress given"
    );
    let RasMessage::gatekeeperConfirm(c) = msg else {
        panic!()
    };
    assert_eq!(asn::socket_addr(&c.ras_address), Some(sa(GK_RAS)));
    let (sent, _) = exchange(
        &mut gk,
        "192.0.2.10:5000",
        &grq(2, sa("192.0.2.10:1719"), Some("other")),
        now,
    );
    assert!(matches!(one(sent).1, RasMessage::gatekeeperReject(_)));
    // multicast (224.0.1.41): ours is answered unicast to the rasAddress, another's ignored
    for (gk_id, answered) in [(None, true), (Some("cw-gk"), true), (Some("other"), false)] {
        let bytes = aper::encode(&grq(3, sa("192.0.2.10:1719"), gk_id)).unwrap();
        let mut out = Vec::new();
        let d = Datagram {
            from: sa("192.0.2.10:5000"),
            local: sa(GK_RAS),
            bytes: &bytes,
            multicast: true,
        };
        gk.handle(d, now, &mut out);
        let (sent, _) = split(out);
        assert_eq!(sent.len(), usize::from(answered), "{gk_id:?}: {sent:?}");
        if answered {
            assert_eq!(sent[0].0, sa("192.0.2.10:1719"));
            assert!(matches!(sent[0].1, RasMessage::gatekeeperConfirm(_)));
        }
    }
}
