//! Server transactions (RFC 3261 17.2): INVITE (17.2.1, with the RFC 6026 Accepted state and
//! timer L) and non-INVITE (17.2.2). They hold the last response so retransmitted requests are
//! answered without bothering the TU, retransmit a non-2xx final INVITE response until its ACK
//! (timer G), and say when they are over (timers H, I, J, L).
//!
//! Knows status codes and opaque bytes only.

use super::{millis, ms, TimerConfig, Timers};
use bytes::Bytes;
use std::time::Instant;

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
    /// A non-2xx final INVITE response goes out again only for a retransmitted request,
    /// never on timer G alone (`answer_retransmissions_only`).
    echo_only: bool,
    state: ServerState,
    /// The response to send again, copied out of the one sent: kept as plain bytes, a clone
    /// of the `Bytes` would cost a shared header besides (32 bytes, 100,000s of times)
    last: Option<Box<[u8]>>,
    timers: Timers,
    /// timer G's current interval, milliseconds
    interval: u32,
    /// timer G
    retransmit_at: Option<Instant>,
    /// timers H, I, J, L
    end_at: Option<Instant>,
}

/// What is left of a completed non-INVITE server transaction (`Server::into_completed`).
#[derive(Debug)]
pub struct Completed {
    /// The final response, sent again for each retransmitted request.
    pub response: Box<[u8]>,
    /// Timer J: the transaction is over.
    pub end: Instant,
}

impl Server {
    pub fn new(invite: bool, reliable: bool, _now: Instant, timers: &TimerConfig) -> Server {
        Server {
            invite,
            reliable,
            echo_only: false,
            state: if invite {
                ServerState::Proceeding
            } else {
                ServerState::Trying
            },
            last: None,
            timers: Timers::of(timers),
            interval: millis(timers.t1),
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

    pub fn is_invite(&self) -> bool {
        self.invite
    }

    /// A non-2xx final response to this INVITE sent with no provisional one before it is sent
    /// again only when the request is (RFC 3261 17.2.1 has the server answer each
    /// retransmitted INVITE), not on timer G: so a source that never acknowledges (a flood, a
    /// forged source address) gets one copy per request it sent, not eleven. A client whose
    /// copy was lost still gets another by retransmitting its INVITE (timer A runs until it
    /// hears something); one whose ACK was lost has its transaction end at timer H as if the
    /// ACK had come. After a provisional response the client has stopped retransmitting
    /// (17.1.1.2), so timer G stays. For the node's own answers over UDP (the amplification
    /// limit, issue 15).
    pub fn answer_retransmissions_only(&mut self) {
        self.echo_only = true;
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
                    self.end_at = Some(now + self.timers.t4());
                }
            }
            return None;
        }
        match self.state {
            Proceeding | Completed => self.resend(),
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
                    self.last = Some(bytes.as_ref().into());
                } else if self.invite && success {
                    self.state = Accepted;
                    self.last = None;
                    self.end_at = Some(now + self.timers.t1x64()); // timer L
                } else if self.invite {
                    // the client retransmits its INVITE only until it hears a provisional
                    let echoed = self.echo_only && self.last.is_none();
                    self.state = Completed;
                    self.last = Some(bytes.as_ref().into());
                    if !self.reliable && !echoed {
                        self.interval = self.timers.t1_ms();
                        self.retransmit_at = Some(now + self.timers.t1()); // timer G
                    }
                    self.end_at = Some(now + self.timers.t1x64()); // timer H
                } else {
                    self.state = Completed;
                    self.last = Some(bytes.as_ref().into());
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

    fn resend(&self) -> Option<Bytes> {
        self.last.as_deref().map(Bytes::copy_from_slice)
    }

    /// A non-INVITE transaction in Completed (its final response sent over an unreliable
    /// transport): what it still has to do is answer retransmissions with `response` until
    /// `end` (timer J). The caller may keep just that instead of the machine.
    pub fn into_completed(self) -> Result<Completed, Server> {
        if self.invite || self.state != ServerState::Completed {
            return Err(self);
        }
        match (self.last, self.end_at) {
            (Some(response), Some(end)) => Ok(Completed { response, end }),
            (last, end_at) => Err(Server {
                last,
                end_at,
                ..self
            }),
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
            self.interval = self.interval.saturating_mul(2).min(self.timers.t2_ms());
            self.retransmit_at = Some(now + ms(self.interval));
            return self.resend();
        }
        None
    }
}

#[cfg(test)]
mod tests;
