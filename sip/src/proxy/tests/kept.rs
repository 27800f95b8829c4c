//! What a call leaves behind for the 32 s its finished transactions are kept (RFC 3261 17,
//! RFC 6026): no more than each still needs. A context's target queue goes with its last
//! target; a context goes once its branch has nothing more to pass up (and an answered
//! branch's timers no longer act for it); a forwarded BYE's
//! server transaction becomes a record of the done log, and still answers its retransmissions.

use super::*;
use crate::proxy::tables::{client_key, done_offset};

/// A BYE of the dialog the INVITE `branch` set up, along its Route.
fn bye(branch: &str, via_branch: &str) -> String {
    format!(
        "BYE sip:bob@{UAS} SIP/2.0
Via: SIP/2.0/UDP {UAC};branch={via_branch}
Route: <sip:{PROXY};transport=udp;lr>
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a1
To: <sip:bob@example.com>;tag=b1
Call-ID: call-{branch}
CSeq: 2 BYE
Content-Length: 0

"
    )
}

/// A call answered 200 by bob: the forwarded INVITE.
fn answered(h: &mut Harness, branch: &str) -> Transmit {
    h.register("bob", UAS, "1.0");
    let out = h.send(UAC, &invite(branch, "bob"));
    let fwd = out.iter().find(|t| t.dest == addr(UAS)).unwrap().clone();
    let out = h.send(UAS, &answer(&fwd, 200, "OK", Some("b1")));
    assert_eq!(status_of(&out[0]), 200);
    fwd
}

fn done_records(h: &Harness) -> usize {
    h.core.done.len()
}

#[test]
fn rfc6026_an_answered_invite_is_one_done_log_record_until_timer_l() {
    let mut h = Harness::new();
    h.register("bob", UAS, "1.0");
    let out = h.send(UAC, &invite("z9hG4bKkept1", "bob"));
    let fwd = out.iter().find(|t| t.dest == addr(UAS)).unwrap().clone();
    let armed = h.core.timers.len();
    let up = h.send(UAS, &answer(&fwd, 200, "OK", Some("b1")));
    assert_eq!(status_of(&up[0]), 200);
    assert_eq!(
        h.core.timers.len(),
        armed,
        "no timer M or L armed: the record ends itself"
    );
    // the branch, the context and the server transaction went at the 2xx: one done-log
    // record, named by both indexes, does what they still did
    assert!(h.core.ctxs.is_empty(), "no context");
    assert!(h.core.clients.is_empty(), "no client transaction");
    assert!(h.core.servers.is_empty(), "no server transaction");
    assert_eq!(done_records(&h), 2, "the REGISTER's and the INVITE's");
    let entry = h.core.client_index.values().next().copied();
    assert!(entry.and_then(done_offset).is_some(), "{entry:?}");
    // a 2xx retransmission still goes up the way the first went; anything else does not
    let ok = answer(&fwd, 200, "OK", Some("b1"));
    h.advance(Duration::from_secs(2));
    let up = h.send(UAS, &ok);
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!((status_of(&up[0]), up[0].dest), (200, addr(UAC)));
    assert_eq!(header(&text(&up[0]), "Via").len(), 1, "our Via popped");
    let stray = answer(&fwd, 486, "Busy Here", Some("b2"));
    assert!(
        h.send(UAS, &stray).is_empty(),
        "a non-2xx after the 2xx is dropped"
    );
    // the INVITE retransmitted is absorbed by the server transaction
    assert!(h.send(UAC, &invite("z9hG4bKkept1", "bob")).is_empty());
    // timer L: the record goes, and the branch's entry with it
    h.advance(Duration::from_secs(31));
    assert_eq!(done_records(&h), 0);
    assert!(h.core.client_index.is_empty());
    let out = h.send(UAS, &ok);
    assert_eq!(out.len(), 1, "stateless now: {out:?}");
    assert_eq!((out[0].dest, out[0].conn), (addr(UAC), None));
}

#[test]
fn rfc3261_17_2_2_a_forwarded_bye_is_kept_as_its_response_until_timer_j() {
    let mut h = Harness::new();
    answered(&mut h, "z9hG4bKkept2");
    let out = h.send(UAC, &bye("z9hG4bKkept2", "z9hG4bKbye2"));
    let fwd_bye = out.iter().find(|t| t.dest == addr(UAS)).unwrap().clone();
    let ok = answer(&fwd_bye, 200, "OK", None);
    let armed = h.core.timers.len();
    let up = h.send(UAS, &ok);
    // one deadline armed: the branch's timer K; none for the retired server transaction
    assert_eq!(h.core.timers.len(), armed + 1);
    assert_eq!((status_of(&up[0]), up[0].dest), (200, addr(UAC)));
    // the BYE's context is gone (its branch only waits out timer K), and its server
    // transaction is a done-log record: no machine, no context
    assert!(h.core.ctxs.is_empty(), "no context left");
    assert!(h.core.servers.is_empty());
    assert_eq!(
        done_records(&h),
        3,
        "the REGISTER's, the INVITE's and the BYE's"
    );
    // a retransmitted BYE gets the same 200 back, not forwarded again
    h.advance(Duration::from_secs(10));
    let again = h.send(UAC, &bye("z9hG4bKkept2", "z9hG4bKbye2"));
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].data, up[0].data);
    // bob's retransmitted 200 meets the BYE's branch (timer K is 5 s): absorbed
    let h2 = &mut Harness::new();
    answered(h2, "z9hG4bKkept3");
    let out = h2.send(UAC, &bye("z9hG4bKkept3", "z9hG4bKbye3"));
    let fwd = out.iter().find(|t| t.dest == addr(UAS)).unwrap().clone();
    let ok = answer(&fwd, 200, "OK", None);
    assert_eq!(h2.send(UAS, &ok).len(), 1);
    assert!(
        h2.send(UAS, &ok).is_empty(),
        "a retransmission passes no more"
    );
    // timer J: the record goes, and the BYE is a new request again
    h.advance(Duration::from_secs(23));
    assert_eq!(done_records(&h), 0);
    let out = h.send(UAC, &bye("z9hG4bKkept2", "z9hG4bKbye2"));
    assert!(out.iter().any(|t| t.dest == addr(UAS)), "{out:?}");
}

/// A MESSAGE for `to_user`.
fn message(branch: &str, to_user: &str) -> String {
    invite(branch, to_user)
        .replace("INVITE sip:", "MESSAGE sip:")
        .replace("CSeq: 1 INVITE", "CSeq: 1 MESSAGE")
}

#[test]
fn rfc3261_16_7_a_non_invite_s_context_goes_once_its_last_branch_is_answered() {
    let mut h = Harness::new();
    h.register("bob", UAS, "1.0");
    h.register("bob", UAS2, "0.5");
    let out = h.send(UAC, &message("z9hG4bKmsg1", "bob"));
    let first = out.iter().find(|t| t.dest == addr(UAS)).unwrap().clone();
    let out = h.send(
        UAS,
        &answer(&first, 480, "Temporarily Unavailable", Some("x")),
    );
    let second = out.iter().find(|t| t.dest == addr(UAS2)).unwrap().clone();
    assert_eq!(h.core.ctxs.len(), 1, "the second branch is under way");
    let out = h.send(UAS2, &answer(&second, 200, "OK", Some("y")));
    let up = out.iter().find(|t| t.dest == addr(UAC)).unwrap().clone();
    assert_eq!(status_of(&up), 200);
    // both branches wait out timer K, but neither passes anything up any more
    assert_eq!(h.core.clients.len(), 2);
    assert!(
        h.core.ctxs.is_empty(),
        "no context once the 200 went upstream"
    );
    assert!(
        h.core.servers.is_empty(),
        "the server transaction is retired"
    );
    assert_eq!(done_records(&h), 3, "two REGISTERs' and the MESSAGE's");
    // late answers of either branch are absorbed; the retransmitted request gets its 200
    let late = answer(&first, 480, "Temporarily Unavailable", Some("x"));
    assert!(h.send(UAS, &late).is_empty());
    assert!(h
        .send(UAS2, &answer(&second, 200, "OK", Some("y")))
        .is_empty());
    let again = h.send(UAC, &message("z9hG4bKmsg1", "bob"));
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].data, up.data);
}

#[test]
fn rfc3261_16_8_timer_c_of_an_answered_earlier_branch_does_not_fail_the_ringing_one() {
    let now = Instant::now();
    let mut s = settings();
    s.timers.timer_c = Duration::from_secs(10);
    let listeners = vec![(Transport::Udp, addr(PROXY))];
    let mut h = Harness {
        core: core(s, listeners, now),
        now,
        other: Vec::new(),
    };
    h.register("bob", UAS, "1.0");
    h.register("bob", UAS2, "0.5");
    let out = h.send(UAC, &invite("z9hG4bKtc1", "bob"));
    let first = out.iter().find(|t| t.dest == addr(UAS)).unwrap().clone();
    h.advance(Duration::from_secs(5));
    let out = h.send(UAS, &answer(&first, 486, "Busy Here", Some("x")));
    let second = out.iter().find(|t| t.dest == addr(UAS2)).unwrap().clone();
    let out = h.send(UAS2, &answer(&second, 180, "Ringing", Some("y")));
    assert_eq!(status_of(&out[0]), 180);
    // the first branch's timer C falls due while it waits out timer D
    let out = h.advance(Duration::from_secs(6));
    assert!(
        !out.iter().any(|t| t.dest == addr(UAC)),
        "nothing upstream while the second branch rings: {out:?}"
    );
    let out = h.send(UAS2, &answer(&second, 200, "OK", Some("y")));
    let up: Vec<_> = out.iter().filter(|t| t.dest == addr(UAC)).collect();
    assert_eq!(up.len(), 1);
    assert_eq!(status_of(up[0]), 200);
}

#[test]
fn rfc6026_an_accepted_invite_s_2xx_goes_up_its_caller_s_connection_and_only_its_own() {
    let mut h = Harness::new();
    h.register("bob", UAS, "1.0");
    let inv = invite("z9hG4bKtcp1", "bob").replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    let out = h.send_from(UAC, Transport::Tcp, &inv);
    let fwd = out.iter().find(|t| t.dest == addr(UAS)).unwrap().clone();
    let ok = answer(&fwd, 200, "OK", Some("b1"));
    let up = h.send(UAS, &ok);
    assert_eq!((up[0].kind, up[0].conn), (Transport::Tcp, Some(ConnId(7))));
    assert!(h.core.servers.is_empty() && h.core.clients.is_empty());
    // the retransmission through the record: the caller's connection, as the first
    let again = h.send(UAS, &ok);
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(
        (again[0].kind, again[0].conn),
        (Transport::Tcp, Some(ConnId(7)))
    );
    // a branch whose index hash is this call's, but not its branch: not this call's 2xx
    // (forwarded along its Via, statelessly: no connection named)
    let t = text(&fwd);
    let ours = header(&t, "Via")[0].split(";branch=").nth(1).unwrap();
    let ours = ours.split(';').next().unwrap().to_string();
    let entry = *h.core.client_index.get(&client_key(&ours, false)).unwrap();
    let other = format!("{ours}x");
    h.core.client_index.insert(client_key(&other, false), entry);
    let out = h.send(UAS, &ok.replace(&ours, &other));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].conn, None, "not sent on the call's connection");
}
