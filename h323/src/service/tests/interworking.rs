//! A Setup through the whole H.323 side to the interworking gateway: routed by the
//! gatekeeper, connected to the gateway's call-signaling address, and forwarded with the SIP
//! AOR as its destinationAddress; the gateway's own Setup (its productId in sourceInfo) for a
//! SIP UA is cleared instead of looping back to it.

use super::*;
use causeway_config::InterworkingMode;
use causeway_h323_asn1::h323_messages::H323UUPDUH323MessageBody as Body;
use causeway_h323_asn1::rasn::types::OctetString;
use causeway_zones::{Owner, Protocol, SharedAliases};

const GATEWAY: &str = "127.0.0.1:41720";

fn node() -> Service {
    let now = Instant::now();
    let gk_cfg = gk_config("gk", "c", None);
    let shared = SharedAliases::default();
    let sip = Owner {
        protocol: Protocol::Sip,
        id: "sip:carol@example.com".into(),
        until: Some(now + Duration::from_secs(600)),
        address: None,
    };
    shared.claim("sip:carol@example.com", sip, now).unwrap();
    let gk = Gatekeeper::new(gk_cfg, Router::new(&["example.com".to_string()]), vec![])
        .with_shared_aliases(shared);
    let calls = CallSignaling::new(call::CallConfig::default(), None);
    let mut s = Service::new(gk, calls, sa("192.0.2.1:1719"));
    s.set_interworking(Some((sa(GATEWAY), InterworkingMode::Registered)));
    s
}

/// A Setup for url-ID `called` on a new connection `conn` from `peer`; `product` replaces
/// sourceInfo's vendor productId.
fn setup(
    s: &mut Service,
    conn: u64,
    peer: &str,
    called: &str,
    product: Option<&[u8]>,
) -> Vec<Output> {
    let now = Instant::now();
    let mut out = Vec::new();
    let accepted = call::Input::Accepted {
        conn,
        peer: sa(peer),
        local: sa("192.0.2.1:1720"),
        link: None,
    };
    s.handle(Input::Call(accepted), now, &mut out);
    let ids = CallIds {
        crv: 9,
        call_id: [0x17; 16],
        conf_id: [2; 16],
    };
    let dest = crate::asn::typed_alias(&format!("url:{called}")).unwrap();
    let mut body = ep::setup_uuie(&ids, vec![], Some(vec![dest]), None, None, sa(peer)).unwrap();
    if let (Body::setup(u), Some(p)) = (&mut body, product) {
        if let Some(v) = u.source_info.vendor.as_mut() {
            v.product_id = Some(OctetString::from(p.to_vec()));
        }
    }
    let mut q = Q931::new(MessageType::Setup, CallReference::new(9, false).unwrap());
    q.set_user_user(&ep::encode_uu(body, true, vec![]).unwrap())
        .unwrap();
    let data = call::Input::Data {
        conn,
        payload: &q.encode(),
    };
    s.handle(Input::Call(data), now, &mut out);
    out
}

#[test]
fn a_setup_for_a_sip_ua_is_forwarded_to_the_gateway_with_the_aor() {
    let mut s = node();
    let out = setup(&mut s, 1, "192.0.2.10:40000", "carol@example.com", None);
    let callee = out
        .iter()
        .find_map(|o| match o {
            Output::Call(call::Output::Connect { conn, to }) if *to == sa(GATEWAY) => Some(*conn),
            _ => None,
        })
        .expect("a connection to the gateway");
    let mut out = Vec::new();
    let up = call::Input::Connected {
        conn: callee,
        local: sa("127.0.0.1:15000"),
    };
    s.handle(Input::Call(up), Instant::now(), &mut out);
    let forwarded = out
        .iter()
        .find_map(|o| match o {
            Output::Call(call::Output::Send { conn, payload }) if *conn == callee => {
                Some(payload.clone())
            }
            _ => None,
        })
        .expect("the Setup to the gateway");
    let q = Q931::parse(&forwarded).unwrap();
    assert_eq!(q.message_type, MessageType::Setup);
    let uu = ep::decode_uu(&q.user_user().unwrap().unwrap().data).unwrap();
    let Body::setup(u) = &uu.h323_uu_pdu.h323_message_body else {
        panic!("not a Setup-UUIE")
    };
    let want = crate::asn::alias_address(crate::asn::AliasKind::Url, "sip:carol@example.com");
    assert_eq!(u.destination_address, Some(vec![want.unwrap()]));
}

#[test]
fn the_gateway_s_own_setup_for_a_sip_ua_is_cleared_not_looped() {
    let mut s = node();
    let product = crate::endpoint::INTERWORKING_PRODUCT;
    let out = setup(
        &mut s,
        1,
        "127.0.0.1:39000",
        "carol@example.com",
        Some(product),
    );
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::Call(call::Output::Connect { .. }))),
        "no connection anywhere: {out:?}"
    );
    assert_eq!(release_cause(&out, 1), Some(3), "unreachableDestination");
    // any other product is interworked
    let out = setup(
        &mut s,
        2,
        "127.0.0.1:39001",
        "carol@example.com",
        Some(b"other"),
    );
    assert!(out.iter().any(
        |o| matches!(o, Output::Call(call::Output::Connect { to, .. }) if *to == sa(GATEWAY))
    ));
}
