//! The amplification limit (issue 15): over UDP an answer of the core's own is never longer
//! than the request it answers; first compacted (no Server, no capability lists, one
//! challenge), else kept by its transaction and never sent, retransmissions included. Over
//! TCP, and for a registrar's success, answers are whole. A final answer of the core's own to
//! an INVITE over UDP goes out once per INVITE received, never on timer G alone.

use super::*;
use crate::proxy::core::AuthSettings;

fn harness(algorithms: Vec<crate::auth::Algorithm>) -> Harness {
    let mut s = settings();
    s.auth = Some(AuthSettings {
        realm: "example.com".into(),
        algorithms,
        credentials: [("bob".to_string(), "secret".to_string())].into(),
        nonce_lifetime: Duration::from_secs(300),
        secret: [5; 32],
    });
    let now = Instant::now();
    let mut core = core(
        s,
        vec![(Transport::Udp, addr(PROXY)), (Transport::Tcp, addr(PROXY))],
        now,
    );
    core.set_amplification_limit(true);
    Harness {
        core,
        now,
        other: Vec::new(),
    }
}

/// A REGISTER padded with `extra` header lines (a real UA's User-Agent, Allow, Supported).
fn register(branch: &str, extra: &str) -> String {
    format!(
        "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP {UAS};branch=z9hG4bK{branch}
Max-Forwards: 70
From: <sip:bob@example.com>;tag=r1
To: <sip:bob@example.com>
Call-ID: amp-bob
CSeq: 1 REGISTER
Contact: <sip:bob@{UAS}>
{extra}Expires: 600
Content-Length: 0

"
    )
}

const UA: &str = "User-Agent: Example Phone 4.2.1 (build 2026-11-30, firmware 7.1)
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, MESSAGE, NOTIFY, REFER
Supported: path, outbound, gruu, replaces
";

fn both() -> Vec<crate::auth::Algorithm> {
    vec![crate::auth::Algorithm::Sha256, crate::auth::Algorithm::Md5]
}

#[test]
fn a_challenge_longer_than_the_register_is_compacted_to_one_md5_challenge() {
    let mut h = harness(both());
    let req = register("a1", UA).replace('\n', "\r\n");
    let out = h.send(UAS, &register("a1", UA));
    assert_eq!(out.len(), 1);
    let r = text(&out[0]);
    assert_eq!(status_of(&out[0]), 401, "{r}");
    assert!(
        out[0].data.len() <= req.len(),
        "{} > {}",
        out[0].data.len(),
        req.len()
    );
    let challenges = header(&r, "WWW-Authenticate");
    assert_eq!(challenges.len(), 1, "{r}");
    assert!(challenges[0].contains("MD5"), "{r}");
    assert!(header(&r, "Server").is_empty(), "{r}");
}

#[test]
fn a_register_long_enough_gets_both_challenges() {
    let mut h = harness(both());
    let padding = format!("{UA}Accept: application/sdp\nAllow-Events: presence, message-summary, refer, dialog, conference\nX-Device: {}\n", "x".repeat(200));
    let out = h.send(UAS, &register("a2", &padding));
    let r = text(&out[0]);
    assert_eq!(header(&r, "WWW-Authenticate").len(), 2, "{r}");
    assert!(!header(&r, "Server").is_empty(), "{r}");
}

#[test]
fn a_minimal_request_whose_answer_cannot_shrink_enough_gets_none_even_when_retransmitted() {
    let mut h = harness(both());
    let out = h.send(UAS, &register("a3", ""));
    assert!(
        out.is_empty(),
        "{:?}",
        out.iter().map(text).collect::<Vec<_>>()
    );
    let out = h.send(UAS, &register("a3", ""));
    assert!(out.is_empty(), "a retransmission is not answered either");
    assert_eq!(h.core.stats().amplification_refused, 1);
    // the same REGISTER over TCP (the handshake proved the address) is answered whole
    let tcp = register("a4", "").replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    let out = h.send_from(UAS, Transport::Tcp, &tcp);
    assert_eq!(header(&text(&out[0]), "WWW-Authenticate").len(), 2);
}

#[test]
fn an_options_answer_drops_its_capability_lists_to_fit() {
    let mut h = harness(both());
    let options = format!(
        "OPTIONS sip:{PROXY} SIP/2.0
Via: SIP/2.0/UDP {UAS};branch=z9hG4bKopt1
Max-Forwards: 70
From: <sip:probe@example.com>;tag=o1
To: <sip:{PROXY}>
Call-ID: amp-options-1
CSeq: 1 OPTIONS
User-Agent: a probe with a name long enough
Content-Length: 0

"
    );
    let out = h.send(UAS, &options);
    let r = text(&out[0]);
    assert_eq!(status_of(&out[0]), 200, "{r}");
    assert!(out[0].data.len() <= options.replace('\n', "\r\n").len());
    assert!(header(&r, "Allow").is_empty(), "{r}");
}

/// An INVITE flood from a source that never acknowledges (a forged address) got eleven copies
/// of each refusal before (timer G until timer H): now one per INVITE. The INVITE over TCP is
/// untouched (no timer G there), and a relayed answer is not the core's own.
#[test]
fn an_unacknowledged_refusal_of_an_invite_goes_out_once_per_invite() {
    let mut h = harness(both());
    // a real UA's INVITE: long enough for the 404 to go out at all
    let invite = |branch: &str| {
        invite(branch, "nobody").replace("Content-Length: 0", &format!("{UA}Content-Length: 0"))
    };
    let out = h.send(UAC, &invite("z9hG4bKamp1"));
    let statuses: Vec<u16> = out.iter().map(status_of).collect();
    assert_eq!(statuses.last(), Some(&404), "{statuses:?}");
    let finals = |out: &[Transmit]| out.iter().filter(|t| status_of(t) >= 200).count();
    assert_eq!(finals(&out), 1);
    // timer H's 32 s pass: nothing more goes to the source
    let later = h.advance(Duration::from_secs(40));
    assert!(
        later.is_empty(),
        "{:?}",
        later.iter().map(text).collect::<Vec<_>>()
    );
    // a UA whose copy was lost retransmits its INVITE and gets it again
    let out = h.send(UAC, &invite("z9hG4bKamp2"));
    assert_eq!(finals(&out), 1);
    let again = h.send(UAC, &invite("z9hG4bKamp2"));
    assert_eq!(finals(&again), 1);
    assert_eq!(status_of(&again[0]), 404);
}

/// A relayed final answer keeps timer G: the UAC got the 100, is in Proceeding and no longer
/// retransmits its INVITE (RFC 3261 17.1.1.2), so a lost 486 would never be sent again
/// (a review found f413cc2 turning timer G off from the 100 Trying).
#[test]
fn a_relayed_final_answer_to_an_invite_is_still_retransmitted_on_timer_g() {
    let mut h = Harness::new();
    h.core.set_amplification_limit(true);
    h.register("bob", UAS, "1.0");
    let invite = invite("z9hG4bKrel1", "bob")
        .replace("Content-Length: 0", &format!("{UA}Content-Length: 0"));
    let out = h.send(UAC, &invite);
    assert_eq!(status_of(&out[0]), 100, "the 100 Trying goes out");
    let fwd = out.iter().find(|o| o.dest == addr(UAS)).expect("forwarded");
    let out = h.send(UAS, &answer(fwd, 486, "Busy Here", Some("b1")));
    let finals = |out: &[Transmit]| {
        out.iter()
            .filter(|o| o.dest == addr(UAC) && status_of(o) == 486)
            .count()
    };
    assert_eq!(finals(&out), 1);
    // timer G (T1 = 500 ms): the relayed 486 goes again until the ACK comes
    let later = h.advance(Duration::from_millis(600));
    assert_eq!(
        finals(&later),
        1,
        "relayed 486 not retransmitted on timer G"
    );
}

/// The node's own final answer after a provisional one (here the answer after timer B)
/// cannot count on the client retransmitting its INVITE either (Proceeding): timer G stays.
#[test]
fn the_nodes_own_480_after_a_100_is_still_retransmitted_on_timer_g() {
    let mut h = Harness::new();
    h.core.set_amplification_limit(true);
    h.register("bob", UAS, "1.0");
    let invite = invite("z9hG4bKrel2", "bob")
        .replace("Content-Length: 0", &format!("{UA}Content-Length: 0"));
    let out = h.send(UAC, &invite);
    assert_eq!(status_of(&out[0]), 100);
    // the callee never answers; timer B ends the branch and the node answers itself
    let later = h.advance(Duration::from_millis(32_100));
    let own: Vec<_> = later.iter().filter(|o| o.dest == addr(UAC)).collect();
    assert_eq!(own.len(), 1, "one final answer of the node's own");
    let status = status_of(own[0]);
    assert!(status >= 300, "{status}");
    let again = h.advance(Duration::from_millis(600));
    assert_eq!(
        again.iter().filter(|o| o.dest == addr(UAC)).count(),
        1,
        "own {status} after a 100 not retransmitted on timer G"
    );
}
