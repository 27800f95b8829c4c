//! Client transactions (RFC 3261 17.1): INVITE (17.1.1, with the RFC 6026 Accepted state and
//! timer M) and non-INVITE (17.1.2). The caller sends the request once when it creates the
//! transaction; afterwards this machine says when to retransmit, when the transaction timed out
//! (timers B/F), and when it is over (timers D/K/M).
//!
//! Knows status codes and opaque bytes only; building the ACK for a non-2xx is the caller's
//! (it has the parser), handed in through `on_response`.

use super::{millis, ms, TimerConfig, Timers};
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
    timers: Timers,
    /// timers A / E's current interval, milliseconds
    interval: u32,
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
            interval: millis(timers.t1),
            retransmit_at: (!reliable).then(|| now + timers.t1),
            timeout_at: Some(now + timers.t1x64()),
            end_at: None,
            timers: Timers::of(timers),
        }
    }

    pub fn state(&self) -> ClientState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ClientState::Terminated
    }

    /// Whether anything may still reach the TU: a response (Calling, Trying, Proceeding; a
    /// 2xx retransmission in Accepted) or a timeout. In Completed the transaction only absorbs
    /// retransmissions until timer D or K.
    pub fn passes_up_more(&self) -> bool {
        !matches!(self.state, ClientState::Completed | ClientState::Terminated)
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
                        self.release_request();
                        self.end_at = Some(now + self.timers.t1x64());
                        (true, None)
                    } else {
                        let a = ack();
                        self.ack = Some(a.clone());
                        self.state = Completed;
                        self.retransmit_at = None;
                        self.timeout_at = None;
                        self.release_request();
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
                        self.release_request();
                        if self.reliable {
                            self.terminate();
                        } else {
                            self.end_at = Some(now + self.timers.t4()); // timer K
                        }
                        (true, None)
                    }
                }
                _ => (false, None),
            }
        }
    }

    /// After a final response the request is never sent again: the transaction waits out its
    /// timers (32 s in Accepted) holding only what it still answers with, not the request.
    fn release_request(&mut self) {
        self.request = Bytes::new();
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
                ClientState::Calling => self.interval.saturating_mul(2),
                // timer E doubles up to T2, and is T2 once a provisional arrived
                ClientState::Trying => self.interval.saturating_mul(2).min(self.timers.t2_ms()),
                _ => self.timers.t2_ms(),
            };
            self.retransmit_at = Some(now + ms(self.interval));
            return ClientTimeout::Retransmit(self.request.clone());
        }
        ClientTimeout::Nothing
    }
}

#[cfg(test)]
mod tests;
