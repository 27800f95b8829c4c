//! Unit tests of `sip/src/transaction/server.rs`.

use super::*;
use proptest::prelude::*;
use std::time::Duration;

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

#[test]
fn rfc3261_17_2_1_retransmitted_invite_gets_the_last_provisional() {
    let now = Instant::now();
    let mut s = Server::new(true, false, now, &TimerConfig::default());
    assert_eq!(s.on_request(false, now), None);
    assert_eq!(s.respond(100, b("100"), now), Some(b("100")));
    assert_eq!(s.on_request(false, now), Some(b("100")));
}

#[test]
fn rfc3261_17_2_1_timer_g_retransmits_until_ack_and_timer_i_ends() {
    let now = Instant::now();
    let cfg = TimerConfig::default();
    let mut s = Server::new(true, false, now, &cfg);
    assert_eq!(s.respond(486, b("486"), now), Some(b("486")));
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = s.poll_timeout().unwrap();
        assert_eq!(s.handle_timeout(t), Some(b("486")));
        times.push((t - now).as_millis());
    }
    assert_eq!(times, vec![500, 1500, 3500, 7500, 11500]);
    let t = now + Duration::from_secs(12);
    assert_eq!(s.on_request(true, t), None);
    assert_eq!(s.state(), ServerState::Confirmed);
    assert_eq!(s.poll_timeout(), Some(t + cfg.t4));
    s.handle_timeout(t + cfg.t4);
    assert!(s.is_terminated());
}

/// The amplification limit's INVITE server (issue 15): no copy on timer G, one per
/// retransmitted request, the ACK still absorbed and timer H still the end; but timer G as
/// ever once a provisional went out.
#[test]
fn answering_retransmissions_only_sends_one_copy_per_request() {
    let now = Instant::now();
    let cfg = TimerConfig::default();
    let mut s = Server::new(true, false, now, &cfg);
    s.answer_retransmissions_only();
    assert_eq!(s.respond(404, b("404"), now), Some(b("404")));
    // the next deadline is timer H, and nothing is sent on the way there
    assert_eq!(s.poll_timeout(), Some(now + cfg.t1 * 64));
    for ms in [500, 1500, 3500, 7500] {
        assert_eq!(s.handle_timeout(now + Duration::from_millis(ms)), None);
    }
    // a retransmitted INVITE (its answer was lost) gets the answer again
    let t = now + Duration::from_secs(8);
    assert_eq!(s.on_request(false, t), Some(b("404")));
    assert_eq!(s.on_request(true, t), None);
    assert_eq!(s.state(), ServerState::Confirmed);
    // without the ACK: timer H ends it, as ever
    let mut s = Server::new(true, false, now, &cfg);
    s.answer_retransmissions_only();
    s.respond(403, b("403"), now);
    assert_eq!(s.handle_timeout(now + cfg.t1 * 64), None);
    assert!(s.is_terminated());
    // after a provisional the client no longer retransmits its INVITE: timer G stays
    let mut s = Server::new(true, false, now, &cfg);
    s.answer_retransmissions_only();
    s.respond(100, b("100"), now);
    s.respond(480, b("480"), now);
    assert_eq!(s.handle_timeout(now + cfg.t1), Some(b("480")));
    // a 2xx is not concerned (RFC 6026: the TU retransmits it)
    let mut s = Server::new(true, false, now, &cfg);
    s.answer_retransmissions_only();
    assert_eq!(s.respond(200, b("200"), now), Some(b("200")));
    assert_eq!(s.state(), ServerState::Accepted);
}

#[test]
fn rfc3261_17_2_1_timer_h_ends_without_ack() {
    let now = Instant::now();
    let mut s = Server::new(true, true, now, &TimerConfig::default());
    s.respond(404, b("404"), now);
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(32)));
    s.handle_timeout(now + Duration::from_secs(32));
    assert!(s.is_terminated());
}

#[test]
fn rfc6026_accepted_sends_2xx_retransmissions_and_absorbs_requests() {
    let now = Instant::now();
    let mut s = Server::new(true, false, now, &TimerConfig::default());
    assert_eq!(s.respond(200, b("200"), now), Some(b("200")));
    assert_eq!(s.state(), ServerState::Accepted);
    assert_eq!(s.respond(200, b("200"), now), Some(b("200")));
    assert_eq!(s.respond(486, b("486"), now), None);
    assert_eq!(s.on_request(false, now), None);
    s.handle_timeout(now + Duration::from_secs(32));
    assert!(s.is_terminated());
}

#[test]
fn rfc3261_17_2_2_non_invite_timer_j() {
    let now = Instant::now();
    let mut s = Server::new(false, false, now, &TimerConfig::default());
    assert_eq!(s.on_request(false, now), None, "Trying: nothing to resend");
    s.respond(200, b("200"), now);
    assert_eq!(s.on_request(false, now), Some(b("200")));
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(32)));
    let mut r = Server::new(false, true, now, &TimerConfig::default());
    r.respond(200, b("200"), now);
    assert!(r.is_terminated(), "timer J is zero on reliable transports");
}

proptest! {
    #[test]
    fn server_never_sends_two_finals_and_terminates(
        invite: bool, reliable: bool,
        steps in proptest::collection::vec((0u16..700, any::<bool>(), 0u64..5000), 0..20)
    ) {
        let start = Instant::now();
        let mut now = start;
        let mut s = Server::new(invite, reliable, now, &TimerConfig::default());
        let mut finals = 0;
        for (status, ack, dt) in steps {
            now += Duration::from_millis(dt);
            if let Some(t) = s.poll_timeout() { if t <= now { s.handle_timeout(t); } }
            s.on_request(ack, now);
            let status = status.max(100);
            if s.respond(status, Bytes::new(), now).is_some() && status >= 300 {
                finals += 1;
            }
        }
        prop_assert!(finals <= 1);
        let mut n = 0;
        while let Some(t) = s.poll_timeout() {
            s.handle_timeout(t);
            n += 1;
            prop_assert!(n < 100);
        }
        prop_assert!(s.is_terminated() || !s.has_final());
    }
}
