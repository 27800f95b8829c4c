//! Client transactions (RFC 3261 17.1): INVITE (17.1.1, with the RFC 6026 Accepted state and
//! timer M) and non-INVITE (17.1.2). The caller sends the request once when it creates the
//! transaction; afterwards this machine says when to retransmit, when the transaction timed out
//! (timers B/F), and when it is over (timers D/K/M).
//!
//! Knows status codes and opaque bytes only; building the ACK for a non-2xx is the caller's
//! (it has the parser), handed in through `on_response`.

use super::TimerConfig;
use bytes::Bytes;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    /// INVITE sent, nothing heard (timer A retransmits on unreliable transports).
    Calling,
    /// non-INVITE sent, nothing heard (timer E).
    Trying,
    Proceeding,
    /// a final non-2xx (INVITE: ACK sent; timer D) or any final (non-INVITE: timer K).
    Completed,
    /// RFC 6026: a 2xx to an INVITE; later 2xx retransmissions still pass up (timer M).
    Accepted,
    Terminated,
}

/// What a timer firing asks of the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientTimeout {
    /// Send these bytes again (timers A, E).
    Retransmit(Bytes),
    /// Timer B or F: no final response; the TU treats it as a 408.
    TimedOut,
    /// Nothing to do (a wait timer ended the transaction, or nothing was due).
    Nothing,
}

#[derive(Debug)]
pub struct Client {
    invite: bool,
    reliable: bool,
    state: ClientState,
    request: Bytes,
    ack: Option<Bytes>,
    timers: TimerConfig,
    interval: Duration,
    /// timers A / E
    retransmit_at: Option<Instant>,
    /// timers B / F
    timeout_at: Option<Instant>,
    /// timers D / K / M
    end_at: Option<Instant>,
}

impl Client {
    /// A transaction whose request the caller has just sent.
    pub fn new(
        invite: bool,
        request: Bytes,
        reliable: bool,
        now: Instant,
        timers: &TimerConfig,
    ) -> Client {
        Client {
            invite,
            reliable,
            state: if invite {
                ClientState::Calling
            } else {
                ClientState::Trying
            },
            request,
            ack: None,
            interval: timers.t1,
            retransmit_at: (!reliable).then(|| now + timers.t1),
            timeout_at: Some(now + timers.t1x64()),
            end_at: None,
            timers: timers.clone(),
        }
    }

    pub fn state(&self) -> ClientState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ClientState::Terminated
    }

    fn terminate(&mut self) {
        self.state = ClientState::Terminated;
        self.retransmit_at = None;
        self.timeout_at = None;
        self.end_at = None;
    }

    /// A response matched this transaction. Returns whether to pass it up to the TU, and bytes
    /// to transmit (the ACK for a non-2xx final response to an INVITE, first time and on every
    /// retransmission of that response). `ack` is only called when an ACK is needed.
    pub fn on_response(
        &mut self,
        status: u16,
        now: Instant,
        ack: &dyn Fn() -> Bytes,
    ) -> (bool, Option<Bytes>) {
        use ClientState::*;
        let provisional = status < 200;
        let success = (200..300).contains(&status);
        if self.invite {
            match self.state {
                Calling | Proceeding => {
                    if provisional {
                        // 17.1.1.2: no more retransmissions, and timer B no longer applies
                        self.state = Proceeding;
                        self.retransmit_at = None;
                        self.timeout_at = None;
                        (true, None)
                    } else if success {
                        self.state = Accepted;
                        self.retransmit_at = None;
                        self.timeout_at = None;
                        self.end_at = Some(now + self.timers.t1x64());
                        (true, None)
                    } else {
                        let a = ack();
                        self.ack = Some(a.clone());
                        self.state = Completed;
                        self.retransmit_at = None;
                        self.timeout_at = None;
                        if self.reliable {
                            self.terminate();
                        } else {
                            // timer D: at least 32 s on unreliable transports
                            self.end_at =
                                Some(now + Duration::from_secs(32).max(self.timers.t1x64()));
                        }
                        (true, Some(a))
                    }
                }
                Accepted => (success, None),
                Completed => (
                    false,
                    if status >= 300 {
                        self.ack.clone()
                    } else {
                        None
                    },
                ),
                Trying | Terminated => (false, None),
            }
        } else {
            match self.state {
                Trying | Proceeding => {
                    if provisional {
                        self.state = Proceeding;
                        (true, None)
                    } else {
                        self.state = Completed;
                        self.retransmit_at = None;
                        self.timeout_at = None;
                        if self.reliable {
                            self.terminate();
                        } else {
                            self.end_at = Some(now + self.timers.t4); // timer K
                        }
                        (true, None)
                    }
                }
                _ => (false, None),
            }
        }
    }

    /// The transport could not send the request (17.1.4): the transaction is over.
    pub fn on_transport_error(&mut self, _now: Instant) {
        self.terminate();
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.retransmit_at, self.timeout_at, self.end_at]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) -> ClientTimeout {
        if self.end_at.is_some_and(|t| t <= now) {
            self.terminate();
            return ClientTimeout::Nothing;
        }
        if self.timeout_at.is_some_and(|t| t <= now) {
            self.terminate();
            return ClientTimeout::TimedOut;
        }
        if self.retransmit_at.is_some_and(|t| t <= now) {
            self.interval = match self.state {
                // timer A doubles without a cap (bounded by timer B)
                ClientState::Calling => self.interval * 2,
                // timer E doubles up to T2, and is T2 once a provisional arrived
                ClientState::Trying => (self.interval * 2).min(self.timers.t2),
                _ => self.timers.t2,
            };
            self.retransmit_at = Some(now + self.interval);
            return ClientTimeout::Retransmit(self.request.clone());
        }
        ClientTimeout::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T1: Duration = Duration::from_millis(500);

    fn ack() -> Bytes {
        Bytes::from_static(b"ACK")
    }

    fn run_until(
        c: &mut Client,
        start: Instant,
        until: Duration,
    ) -> Vec<(Duration, ClientTimeout)> {
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
}
