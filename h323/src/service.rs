//! The H.323 side of a node as one sans-IO value: the gatekeeper and the call-signaling relay,
//! with the relay's route lookups answered by the gatekeeper (registrations, search rules, LRQ
//! to neighbors).
//!
//! Owns only that plumbing; protocol behaviour is in [`crate::ras`] and [`crate::call`]. Must
//! not touch sockets or clocks (the driver owns them).

use crate::call::{self, CallSignaling};
use crate::ras::{self, Gatekeeper, Resolve};
use std::net::SocketAddr;
use std::time::Instant;

/// What the driver must do, from either half.
// moved once from the service to the driver: boxing the large RAS variant buys nothing
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Action {
    Ras(ras::Output),
    Call(call::Output),
}

pub struct Service {
    pub gatekeeper: Gatekeeper,
    pub calls: CallSignaling,
    /// Our RAS address, written as the replyAddress of LRQs.
    ras_local: SocketAddr,
    call_out: Vec<call::Output>,
    ras_out: Vec<ras::Output>,
}

impl Service {
    pub fn new(gatekeeper: Gatekeeper, calls: CallSignaling, ras_local: SocketAddr) -> Service {
        Service {
            gatekeeper,
            calls,
            ras_local,
            call_out: Vec::new(),
            ras_out: Vec::new(),
        }
    }

    /// One RAS datagram.
    pub fn ras(&mut self, d: ras::Datagram<'_>, now: Instant, out: &mut Vec<Action>) {
        self.gatekeeper.handle(d, now, &mut self.ras_out);
        self.settle(now, out);
    }

    /// One call-signaling input.
    pub fn call(&mut self, input: call::Input<'_>, now: Instant, out: &mut Vec<Action>) {
        self.calls.handle(input, now, &mut self.call_out);
        self.settle(now, out);
    }

    pub fn poll(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.gatekeeper.poll(now, &mut self.ras_out);
        self.calls.poll(now, &mut self.call_out);
        self.settle(now, out);
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        match (self.gatekeeper.next_timeout(), self.calls.next_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Feeds route questions and answers between the halves until neither has any, and hands
    /// everything else to the driver.
    fn settle(&mut self, now: Instant, out: &mut Vec<Action>) {
        // each round answers routes; an answer can only produce outputs, never a new route
        // question of the same call, so this ends (bounded anyway against a future bug)
        for _ in 0..64 {
            if self.call_out.is_empty() && self.ras_out.is_empty() {
                return;
            }
            let mut routed = Vec::new();
            for o in self.ras_out.drain(..) {
                match o {
                    ras::Output::Resolved { call, result } => routed.push((call, result)),
                    other => out.push(Action::Ras(other)),
                }
            }
            for o in std::mem::take(&mut self.call_out) {
                match o {
                    call::Output::Route {
                        call,
                        called,
                        called_number,
                        caller,
                        caller_aliases: _,
                    } => {
                        let r = self.gatekeeper.resolve(
                            call,
                            &called,
                            called_number.as_deref(),
                            caller,
                            self.ras_local,
                            now,
                            &mut self.ras_out,
                        );
                        match r {
                            Resolve::Found(d) => routed.push((call, Ok(d))),
                            Resolve::Failed(f) => routed.push((call, Err(f))),
                            Resolve::Pending => {}
                        }
                    }
                    other => out.push(Action::Call(other)),
                }
            }
            for (call, result) in routed {
                self.calls.handle(
                    call::Input::Routed { call, result },
                    now,
                    &mut self.call_out,
                );
            }
        }
    }
}
