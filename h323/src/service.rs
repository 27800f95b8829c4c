//! The H.323 side of a node as one sans-IO value: the gatekeeper and the call-signaling relay,
//! with the relay's route lookups answered by the gatekeeper (registrations, search rules, LRQ
//! to neighbors).
//!
//! The same verbs as its halves: [`Service::handle`] takes one [`Input`] (a RAS datagram or a
//! call-signaling input) and `now`, [`Service::handle_timeout`] runs what is due, and
//! [`Service::poll_timeout`] is the next deadline; everything for the driver comes out as one
//! [`Output`].
//!
//! Owns only that plumbing; protocol behaviour is in [`crate::ras`] and [`crate::call`]. Must
//! not touch sockets or clocks (the driver owns them).

use crate::call::{self, CallSignaling};
use crate::ras::{self, Gatekeeper, Resolve};
use std::net::SocketAddr;
use std::time::Instant;

/// One input of the H.323 side, for either half.
// built and consumed one at a time: the size of a call input costs nothing worth a Box
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Input<'a> {
    /// One RAS datagram (the gatekeeper).
    Ras(ras::Datagram<'a>),
    /// One call-signaling input (the relay).
    Call(call::Input<'a>),
}

/// What the driver must do, from either half.
// moved once from the service to the driver: boxing the large RAS variant buys nothing
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Output {
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

    /// One input, to the half it is for; route questions between the halves are answered
    /// before this returns.
    pub fn handle(&mut self, input: Input<'_>, now: Instant, out: &mut Vec<Output>) {
        match input {
            Input::Ras(d) => self.gatekeeper.handle(d, now, &mut self.ras_out),
            Input::Call(i) => self.calls.handle(i, now, &mut self.call_out),
        }
        self.settle(now, out);
    }

    /// Runs what is due at `now` in both halves.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.gatekeeper.handle_timeout(now, &mut self.ras_out);
        self.calls.handle_timeout(now, &mut self.call_out);
        self.settle(now, out);
    }

    /// The next deadline of either half.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.gatekeeper.poll_timeout(), self.calls.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Feeds route questions and answers between the halves until neither has any, and hands
    /// everything else to the driver.
    fn settle(&mut self, now: Instant, out: &mut Vec<Output>) {
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
                    other => out.push(Output::Ras(other)),
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
                    other => out.push(Output::Call(other)),
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
