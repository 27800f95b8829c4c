//! UAs behind NAT, sans-IO: RFC 3581 on the responses the core makes, bindings reached over the
//! flow they registered on (RFC 5626 outbound, and NAT detection for the rest), flow tokens in
//! Record-Route for the dialog, and what a closed or failed flow does.

use super::*;

/// A UA's public address as the NAT shows it, and what it thinks its address is.
const NAT_PUBLIC: &str = "203.0.113.5:40000";
const PRIVATE: &str = "192.168.1.10:5060";

fn register_text(via: &str, contact: &str, extra: &str) -> String {
    format!(
        "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP {via};branch=z9hG4bKreg{};rport
Max-Forwards: 70
From: <sip:dave@example.com>;tag=r1
To: <sip:dave@example.com>
Call-ID: reg-dave
CSeq: {} REGISTER
Contact: {contact}
{extra}Expires: 3600
Content-Length: 0

",
        contact.len() + extra.len(),
        contact.len()
    )
}

fn only(out: &[Transmit]) -> &Transmit {
    assert_eq!(
        out.len(),
        1,
        "{:?}",
        out.iter().map(text).collect::<Vec<_>>()
    );
    &out[0]
}

#[test]
fn rfc3581_4_responses_the_node_makes_fill_rport_and_add_received() {
    let mut h = Harness::new();
    for kind in [Transport::Udp, Transport::Tcp] {
        let via = "127.0.0.1:5999";
        let text_in = register_text(via, "<sip:dave@127.0.0.1:5999>", "");
        let out = h.send_from("127.0.0.1:40000", kind, &text_in);
        let r = text(only(&out));
        assert!(r.starts_with("SIP/2.0 200"), "{r}");
        let v = header(&r, "Via")[0];
        assert!(
            v.contains("rport=40000") && v.contains("received=127.0.0.1"),
            "{kind:?}: {v}"
        );
    }
    // a refusal the node makes (404 for a request for itself) too
    let out = h.send_from(
        "127.0.0.1:40001",
        Transport::Udp,
        "INVITE sip:example.com SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKnouser;rport
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a1
To: <sip:example.com>
Call-ID: nouser
CSeq: 1 INVITE
Content-Length: 0

",
    );
    let last = out.last().expect("an answer");
    assert!(
        header(&text(last), "Via")[0].contains("rport=40001"),
        "{}",
        text(last)
    );
}

#[test]
fn rfc5626_a_ua_behind_a_nat_is_called_at_its_source_and_reached_in_the_dialog() {
    let mut h = Harness::new();
    let out = h.send(
        NAT_PUBLIC,
        &register_text(PRIVATE, &format!("<sip:dave@{PRIVATE}>"), ""),
    );
    assert_eq!(status_of(only(&out)), 200);
    let out = h.send(UAC, &invite("z9hG4bKnat", "dave"));
    let inv = out
        .iter()
        .find(|o| text(o).starts_with("INVITE "))
        .expect("forwarded");
    assert_eq!(inv.dest, addr(NAT_PUBLIC), "to the NAT's mapping");
    assert_eq!(
        inv.local,
        Some(addr(PROXY)),
        "from the socket it registered to"
    );
    let t = text(inv);
    assert!(t.starts_with(&format!("INVITE sip:dave@{PRIVATE} ")), "{t}");
    let rr = header(&t, "Record-Route");
    assert!(rr.iter().any(|r| r.contains("cw-flow=")), "{rr:?}");

    // dave answers; alice's BYE comes back along the Record-Route to the private Contact
    let ok = answer(inv, 200, "OK", Some("d1")).replace(
        "Content-Length: 0",
        &format!("Contact: <sip:dave@{PRIVATE}>\nContent-Length: 0"),
    );
    let out = h.send(NAT_PUBLIC, &ok);
    assert!(out.iter().any(|o| o.dest == addr(UAC)), "200 upstream");
    let route: Vec<&str> = rr.iter().rev().copied().collect();
    let bye = format!(
        "BYE sip:dave@{PRIVATE} SIP/2.0
Via: SIP/2.0/UDP {UAC};branch=z9hG4bKbye1;rport
Max-Forwards: 70
Route: {}
From: <sip:alice@example.com>;tag=a1
To: <sip:dave@example.com>;tag=d1
Call-ID: call-z9hG4bKnat
CSeq: 2 BYE
Content-Length: 0

",
        route.join(", ")
    );
    let out = h.send(UAC, &bye);
    let fwd = out
        .iter()
        .find(|o| text(o).starts_with("BYE "))
        .expect("BYE forwarded");
    assert_eq!(
        fwd.dest,
        addr(NAT_PUBLIC),
        "down dave's flow, not to {PRIVATE}"
    );

    // dave's own BYE carries the same token, which names the flow it came on: ignored
    let bye2 = format!(
        "BYE sip:alice@{UAC} SIP/2.0
Via: SIP/2.0/UDP {PRIVATE};branch=z9hG4bKbye2;rport
Max-Forwards: 70
Route: {}
From: <sip:dave@example.com>;tag=d1
To: <sip:alice@example.com>;tag=a1
Call-ID: call-z9hG4bKnat
CSeq: 1 BYE
Content-Length: 0

",
        rr.join(", ")
    );
    let out = h.send(NAT_PUBLIC, &bye2);
    let fwd = out
        .iter()
        .find(|o| text(o).starts_with("BYE "))
        .expect("BYE forwarded");
    assert_eq!(fwd.dest, addr(UAC));
}

#[test]
fn a_ua_at_its_own_address_is_called_at_its_contact() {
    let mut h = Harness::new();
    h.register("bob", UAS2, "1.0");
    let out = h.send(UAC, &invite("z9hG4bKplain", "bob"));
    let inv = out
        .iter()
        .find(|o| text(o).starts_with("INVITE "))
        .expect("forwarded");
    assert_eq!(inv.dest, addr(UAS2));
    let rr = header(&text(inv), "Record-Route").join(",");
    assert!(!rr.contains("cw-flow"), "{rr}");
}

const OB_CONTACT: &str =
    "<sip:dave@127.0.0.1:5180;transport=tcp;ob>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1";

fn register_outbound(h: &mut Harness) -> String {
    let out = h.send_from(
        "127.0.0.1:55626",
        Transport::Tcp,
        &register_text("127.0.0.1:55626", OB_CONTACT, "Supported: outbound, path\n")
            .replace("SIP/2.0/UDP", "SIP/2.0/TCP"),
    );
    text(only(&out))
}

#[test]
fn rfc5626_6_outbound_registration_gets_require_flow_timer_and_its_flow() {
    let mut h = Harness::new();
    let r = register_outbound(&mut h);
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    assert_eq!(header(&r, "Require"), ["outbound"]);
    assert_eq!(header(&r, "Flow-Timer"), ["120"]);
    let c = header(&r, "Contact")[0];
    assert!(
        c.contains("reg-id=1") && c.contains("+sip.instance="),
        "{c}"
    );

    let out = h.send(UAC, &invite("z9hG4bKob", "dave"));
    let inv = out
        .iter()
        .find(|o| text(o).starts_with("INVITE "))
        .expect("forwarded");
    assert_eq!(
        inv.conn,
        Some(ConnId(7)),
        "on the registration's connection"
    );
    assert!(inv.reuse_only, "never a new connection to the Contact");
    assert_eq!(inv.dest, addr("127.0.0.1:55626"));

    // the flow has failed: 430 to the caller, and the binding is gone
    let mut o = Vec::new();
    h.core.handle(
        Event::SendFailed {
            token: inv.token,
            error: "no connection".into(),
        },
        h.now,
        &mut o,
    );
    let out = h.transmits(o);
    let resp = out
        .iter()
        .find(|o| o.dest == addr(UAC) && text(o).starts_with("SIP/2.0 4"))
        .expect("final upstream");
    assert_eq!(status_of(resp), 430, "{}", text(resp));
    assert!(h.core.registrations(h.now).is_empty());
}

#[test]
fn rfc5626_6_a_new_flow_of_the_same_instance_replaces_the_binding() {
    let mut h = Harness::new();
    register_outbound(&mut h);
    let again = register_text(
        "127.0.0.1:55700",
        &OB_CONTACT.replace("5180", "5190"),
        "Supported: outbound\n",
    )
    .replace("SIP/2.0/UDP", "SIP/2.0/TCP")
    .replace("CSeq: ", "CSeq: 9");
    let out = h.send_from("127.0.0.1:55700", Transport::Tcp, &again);
    let r = text(only(&out));
    assert!(r.starts_with("SIP/2.0 200"), "{r}");
    let regs = h.core.registrations(h.now);
    assert_eq!(regs.len(), 1, "{regs:?}");
    assert!(regs[0].contact.contains("5190"), "{regs:?}");
    assert_eq!(
        regs[0].flow.as_deref(),
        Some("outbound tcp 127.0.0.1:55700"),
        "status shows the flow"
    );
}

#[test]
fn rfc5626_6_outbound_past_a_proxy_without_ob_in_path_is_439() {
    let mut h = Harness::new();
    let text_in = register_text("127.0.0.1:5999", OB_CONTACT, "Supported: outbound\n").replace(
        "Max-Forwards: 70",
        "Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKua\nMax-Forwards: 70",
    );
    let out = h.send("127.0.0.1:5999", &text_in);
    assert_eq!(status_of(only(&out)), 439);
}

#[test]
fn closed_connections_take_nat_bindings_with_them_and_leave_outbound_ones_for_430() {
    let mut h = Harness::new();
    // a private Contact over TCP: reachable only over the connection
    let nat = register_text(
        "10.0.0.5:5060",
        "<sip:carol@10.0.0.5:5060;transport=tcp>",
        "",
    )
    .replace("dave", "carol")
    .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    let out = h.send_from("127.0.0.1:50000", Transport::Tcp, &nat);
    let r = text(only(&out));
    assert!(
        header(&r, "Contact")[0].contains("expires=540"),
        "capped below the idle timeout: {r}"
    );
    let mut o = Vec::new();
    h.core.handle(
        Event::Closed {
            conn: ConnId(7),
            remote: addr("127.0.0.1:50000"),
        },
        h.now,
        &mut o,
    );
    assert!(h.core.registrations(h.now).is_empty(), "carol is gone");

    register_outbound(&mut h);
    h.core.handle(
        Event::Closed {
            conn: ConnId(7),
            remote: addr("127.0.0.1:55626"),
        },
        h.now,
        &mut o,
    );
    assert_eq!(
        h.core.registrations(h.now).len(),
        1,
        "outbound: kept until a request finds the flow failed"
    );
}
