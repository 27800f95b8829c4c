//! Server transactions (RFC 3261 17.2): INVITE (17.2.1, with the RFC 6026 Accepted state and
//! timer L) and non-INVITE (17.2.2). They hold the last response so retransmitted requests are
//! answered without bothering the TU, retransmit a non-2xx final INVITE response until its ACK
//! (timer G), and say when they are over (timers H, I, J, L).
//!
//! Knows status codes and opaque bytes only.

use super::TimerConfig;
use bytes::Bytes;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerState {
    /// non-INVITE received, nothing sent yet.
    Trying,
    Proceeding,
    Completed,
    /// INVITE: the ACK for our non-2xx arrived (timer I).
    Confirmed,
    /// RFC 6026: a 2xx was sent; further 2xx from the TU still go out (timer L).
    Accepted,
    Terminated,
}

#[derive(Debug)]
pub struct Server {
    invite: bool,
    reliable: bool,
    state: ServerState,
    last: Option<Bytes>,
    timers: TimerConfig,
    interval: Duration,
    /// timer G
    retransmit_at: Option<Instant>,
    /// timers H, I, J, L
    end_at: Option<Instant>,
}

impl Server {
    pub fn new(invite: bool, reliable: bool, _now: Instant, timers: &TimerConfig) -> Server {
        Server {
            invite,
            reliable,
            state: if invite {
                ServerState::Proceeding
            } else {
                ServerState::Trying
            },
            last: None,
            timers: timers.clone(),
            interval: timers.t1,
            retransmit_at: None,
            end_at: None,
        }
    }

    pub fn state(&self) -> ServerState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ServerState::Terminated
    }

    /// Whether a final response has been sent.
    pub fn has_final(&self) -> bool {
        !matches!(self.state, ServerState::Trying | ServerState::Proceeding)
    }

    fn terminate(&mut self) {
        self.state = ServerState::Terminated;
        self.retransmit_at = None;
        self.end_at = None;
    }

    /// A retransmission of the request, or (INVITE) the ACK of our non-2xx final response.
    /// Returns the response to send again, if any.
    pub fn on_request(&mut self, is_ack: bool, now: Instant) -> Option<Bytes> {
        use ServerState::*;
        if is_ack {
            if self.invite && self.state == Completed {
                self.state = Confirmed;
                self.retransmit_at = None;
                // timer I: T4 on unreliable transports, zero on reliable ones
                if self.reliable {
                    self.terminate();
                } else {
                    self.end_at = Some(now + self.timers.t4);
                }
            }
            return None;
        }
        match self.state {
            Proceeding | Completed => self.last.clone(),
            Trying | Confirmed | Accepted | Terminated => None,
        }
    }

    /// The TU sends a response. Returns the bytes to transmit, or `None` when the state forbids
    /// sending it (a second final response, say).
    pub fn respond(&mut self, status: u16, bytes: Bytes, now: Instant) -> Option<Bytes> {
        use ServerState::*;
        let provisional = status < 200;
        let success = (200..300).contains(&status);
        match self.state {
            Trying | Proceeding => {
                if provisional {
                    self.state = Proceeding;
                    self.last = Some(bytes.clone());
                } else if self.invite && success {
                    self.state = Accepted;
                    self.last = None;
                    self.end_at = Some(now + self.timers.t1x64()); // timer L
                } else if self.invite {
                    self.state = Completed;
                    self.last = Some(bytes.clone());
                    if !self.reliable {
                        self.interval = self.timers.t1;
                        self.retransmit_at = Some(now + self.interval); // timer G
                    }
                    self.end_at = Some(now + self.timers.t1x64()); // timer H
                } else {
                    self.state = Completed;
                    self.last = Some(bytes.clone());
                    if self.reliable {
                        self.terminate();
                    } else {
                        self.end_at = Some(now + self.timers.t1x64()); // timer J
                    }
                }
                Some(bytes)
            }
            Accepted if success => Some(bytes),
            _ => None,
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.retransmit_at, self.end_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Returns a response to retransmit (timer G), if due.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Bytes> {
        if self.end_at.is_some_and(|t| t <= now) {
            // timer H (no ACK came), I, J or L: the transaction is over
            self.terminate();
            return None;
        }
        if self.retransmit_at.is_some_and(|t| t <= now) {
            self.interval = (self.interval * 2).min(self.timers.t2);
            self.retransmit_at = Some(now + self.interval);
            return self.last.clone();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
}
