//! Unit tests of `sip/src/transaction/client.rs`.

use super::*;
use proptest::prelude::*;

const T1: Duration = Duration::from_millis(500);

fn ack() -> Bytes {
    Bytes::from_static(b"ACK")
}

fn run_until(c: &mut Client, start: Instant, until: Duration) -> Vec<(Duration, ClientTimeout)> {
    let mut out = Vec::new();
    while let Some(t) = c.poll_timeout() {
        if t > start + until {
            break;
        }
        let r = c.handle_timeout(t);
        out.push((t - start, r));
    }
    out
}

#[test]
fn rfc3261_17_1_1_2_timer_a_doubles_and_timer_b_times_out() {
    let now = Instant::now();
    let mut c = Client::new(
        true,
        Bytes::from_static(b"INVITE"),
        false,
        now,
        &TimerConfig::default(),
    );
    let events = run_until(&mut c, now, Duration::from_secs(40));
    let retrans: Vec<u64> = events
        .iter()
        .filter(|(_, e)| matches!(e, ClientTimeout::Retransmit(_)))
        .map(|(t, _)| t.as_millis() as u64)
        .collect();
    assert_eq!(retrans, vec![500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(events.last().unwrap(), &(T1 * 64, ClientTimeout::TimedOut));
    assert!(c.is_terminated());
}

#[test]
fn rfc3261_17_1_1_2_reliable_transport_never_retransmits() {
    let now = Instant::now();
    let mut c = Client::new(true, Bytes::new(), true, now, &TimerConfig::default());
    let events = run_until(&mut c, now, Duration::from_secs(40));
    assert_eq!(events, vec![(T1 * 64, ClientTimeout::TimedOut)]);
}

#[test]
fn rfc3261_17_1_1_2_provisional_stops_timers_a_and_b() {
    let now = Instant::now();
    let mut c = Client::new(true, Bytes::new(), false, now, &TimerConfig::default());
    assert_eq!(c.on_response(180, now, &ack), (true, None));
    assert_eq!(c.state(), ClientState::Proceeding);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn rfc3261_17_1_1_2_completed_absorbs_retransmitted_4xx_and_resends_ack() {
    let now = Instant::now();
    let mut c = Client::new(true, Bytes::new(), false, now, &TimerConfig::default());
    assert_eq!(c.on_response(486, now, &ack), (true, Some(ack())));
    assert_eq!(c.state(), ClientState::Completed);
    assert_eq!(c.on_response(486, now, &ack), (false, Some(ack())));
    // timer D: 32 s on UDP
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(32)));
    assert_eq!(
        c.handle_timeout(now + Duration::from_secs(32)),
        ClientTimeout::Nothing
    );
    assert!(c.is_terminated());
}

#[test]
fn rfc3261_17_1_1_2_timer_d_is_zero_on_reliable_transports() {
    let now = Instant::now();
    let mut c = Client::new(true, Bytes::new(), true, now, &TimerConfig::default());
    assert_eq!(c.on_response(404, now, &ack), (true, Some(ack())));
    assert!(c.is_terminated());
}

#[test]
fn rfc6026_accepted_passes_2xx_retransmissions_up_until_timer_m() {
    let now = Instant::now();
    let mut c = Client::new(true, Bytes::new(), false, now, &TimerConfig::default());
    assert_eq!(c.on_response(200, now, &ack), (true, None));
    assert_eq!(c.state(), ClientState::Accepted);
    assert_eq!(c.on_response(200, now + T1, &ack), (true, None));
    assert_eq!(c.on_response(486, now + T1, &ack), (false, None));
    assert_eq!(c.poll_timeout(), Some(now + T1 * 64));
    c.handle_timeout(now + T1 * 64);
    assert!(c.is_terminated());
}

#[test]
fn rfc3261_17_1_2_2_timer_e_caps_at_t2_and_is_t2_after_provisional() {
    let now = Instant::now();
    let cfg = TimerConfig::default();
    let mut c = Client::new(false, Bytes::new(), false, now, &cfg);
    let events = run_until(&mut c, now, Duration::from_secs(12));
    let times: Vec<u64> = events.iter().map(|(t, _)| t.as_millis() as u64).collect();
    assert_eq!(times, vec![500, 1500, 3500, 7500, 11500]);
    let now2 = now + Duration::from_secs(12);
    assert_eq!(c.on_response(100, now2, &ack), (true, None));
    let next = c.poll_timeout().unwrap();
    c.handle_timeout(next);
    assert_eq!(c.poll_timeout().unwrap() - next, cfg.t2);
}

#[test]
fn rfc3261_17_1_2_2_timer_f_and_timer_k() {
    let now = Instant::now();
    let mut c = Client::new(false, Bytes::new(), false, now, &TimerConfig::default());
    let events = run_until(&mut c, now, Duration::from_secs(40));
    assert_eq!(events.last().unwrap(), &(T1 * 64, ClientTimeout::TimedOut));
    let mut c = Client::new(false, Bytes::new(), false, now, &TimerConfig::default());
    assert_eq!(c.on_response(200, now, &ack), (true, None));
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(5)));
    assert_eq!(c.on_response(200, now, &ack), (false, None));
}

#[test]
fn rfc3261_17_1_4_transport_error_terminates() {
    let now = Instant::now();
    let mut c = Client::new(false, Bytes::new(), true, now, &TimerConfig::default());
    c.on_transport_error(now);
    assert!(c.is_terminated());
    assert_eq!(c.poll_timeout(), None);
}

proptest! {
    #[test]
    fn client_always_terminates_and_goes_quiet(
        invite: bool, reliable: bool,
        steps in proptest::collection::vec((0u16..700, 0u64..5000), 0..20)
    ) {
        let start = Instant::now();
        let mut now = start;
        let mut c = Client::new(invite, Bytes::new(), reliable, now, &TimerConfig::default());
        for (status, dt) in steps {
            now += Duration::from_millis(dt);
            if let Some(t) = c.poll_timeout() { if t <= now { c.handle_timeout(t); } }
            let status = status.max(100);
            let was_terminated = c.is_terminated();
            let (deliver, tx) = c.on_response(status, now, &ack);
            if was_terminated { prop_assert!(!deliver && tx.is_none()); }
        }
        // whatever happened, the machine ends within its longest lifetime
        let mut n = 0;
        while let Some(t) = c.poll_timeout() {
            prop_assert!(t <= now + Duration::from_secs(200));
            c.handle_timeout(t);
            n += 1;
            prop_assert!(n < 100);
        }
        prop_assert!(c.is_terminated() || c.state() == ClientState::Proceeding);
    }
}

/// After a final response the request is not held for the rest of the transaction's life
/// (32 s in Accepted, timer K in Completed): it is never sent again.
#[test]
fn a_final_response_releases_the_request() {
    let now = Instant::now();
    let t = TimerConfig::default();
    for (invite, status) in [(true, 200), (true, 486), (false, 200)] {
        let mut c = Client::new(invite, Bytes::from_static(b"REQUEST"), false, now, &t);
        assert!(!c.request.is_empty());
        c.on_response(100, now, &ack);
        assert!(!c.request.is_empty(), "a provisional response keeps it");
        c.on_response(status, now, &ack);
        assert!(c.request.is_empty(), "invite {invite} status {status}");
        let later = run_until(&mut c, now, Duration::from_secs(40));
        assert!(
            !later
                .iter()
                .any(|(_, x)| matches!(x, ClientTimeout::Retransmit(_))),
            "{later:?}"
        );
    }
}
