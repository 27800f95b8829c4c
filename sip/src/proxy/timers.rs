//! The proxy core's timers: one heap of deadlines for server and client transactions, timer C
//! (RFC 3261 16.8) and the registrar's purge; each entry wakes its owner, which re-arms if it
//! still needs to (stale entries are skipped). The transaction machines decide what a timer
//! means (`transaction`); this module only delivers the wake-ups.

use super::core::{send_reply, Core};
use super::forward::to_hop;
use super::io::Output;
use super::tables::{Timer, TxId};
use crate::transaction::ClientTimeout;
use std::time::{Duration, Instant};
use tracing::debug;

/// AORs a purge frees at a time (about a millisecond of work).
const PURGE_BATCH: usize = 5_000;
/// Between two slices of a purge.
const PURGE_SLICE: Duration = Duration::from_millis(20);
/// Between two purges that found nothing more than they freed.
const PURGE_GAP: Duration = Duration::from_secs(1);

impl Core {
    /// Everything due at `now`, in deadline order.
    pub(super) fn run_timers(&mut self, now: Instant, out: &mut Vec<Output>) {
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::Server(id) => self.server_timer(id, now, out),
                Timer::Client(id) => self.client_timer(id, now, out),
                Timer::TimerC(id) => self.timer_c(id, now, out),
                Timer::Purge => self.purge(now),
                Timer::Probe => self.probe(now, out),
            }
        }
        self.end_done(now);
        self.media_timeout(now, out);
        self.shrink_tables();
    }

    /// Expired registrations go in slices of `PURGE_BATCH` AORs a `PURGE_SLICE` apart, so
    /// that 100,000 running out together do not hold up calls for the time it takes to free
    /// them; a purge runs at most once a `PURGE_GAP` otherwise (bindings run out one after the
    /// other at the pace they registered, and each purge is a pass over the whole table).
    /// Lookups skip expired bindings, so a late purge only holds memory a little longer.
    fn purge(&mut self, now: Instant) {
        self.purge_at = None;
        let p = self.registrar.purge_some(now, PURGE_BATCH);
        if p.removed > 0 {
            debug!(removed = p.removed, "expired registrations purged");
        }
        let at = if p.more {
            Some(now + PURGE_SLICE)
        } else {
            p.next.map(|t| t.max(now + PURGE_GAP))
        };
        if let Some(at) = at {
            self.purge_at = Some(at);
            self.arm(now, Some(at), Timer::Purge);
        }
    }

    pub(super) fn arm_purge(&mut self, now: Instant) {
        if self.purge_at.is_none() {
            if let Some(at) = self.registrar.next_expiry() {
                self.purge_at = Some(at);
                self.arm(now, Some(at), Timer::Purge);
            }
        }
    }

    fn server_timer(&mut self, id: TxId, now: Instant, out: &mut Vec<Output>) {
        let Some(s) = self.servers.get_mut(&id) else {
            return;
        };
        if s.machine.poll_timeout().is_some_and(|t| t > now) {
            return; // a stale entry: the machine re-armed later
        }
        if let Some(bytes) = s.machine.handle_timeout(now) {
            send_reply(&s.reply, bytes, out);
        }
        let at = s.machine.poll_timeout();
        self.arm(now, at, Timer::Server(id));
        self.reap_server(id);
    }

    fn client_timer(&mut self, id: TxId, now: Instant, out: &mut Vec<Output>) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        if c.machine.poll_timeout().is_some_and(|t| t > now) {
            return;
        }
        match c.machine.handle_timeout(now) {
            ClientTimeout::Retransmit(bytes) => {
                out.push(Output::Transmit(to_hop(&c.hop, bytes, 0)));
            }
            ClientTimeout::TimedOut => {
                let ctx = c.ctx;
                let dest = c.hop.addr;
                let is_cancel = c.is_cancel;
                self.remove_client(id);
                self.unreachable.failed(dest, now);
                if let (Some(ctx), false) = (ctx, is_cancel) {
                    let reason = format!("Request Timeout (no answer from {dest})");
                    self.branch_failed(ctx, 408, &reason, now, out);
                }
                return;
            }
            ClientTimeout::Nothing => {}
        }
        let at = self.clients.get(&id).and_then(|c| c.machine.poll_timeout());
        self.arm(now, at, Timer::Client(id));
        self.reap_client(id);
    }

    /// RFC 3261 16.8: timer C fired on an INVITE branch.
    fn timer_c(&mut self, id: TxId, now: Instant, out: &mut Vec<Output>) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        // a branch that has had its final response owes nothing: its timer C is moot (a
        // serial fork's earlier branch waits out timer D while a later one rings)
        if !c.machine.passes_up_more() || c.timer_c_fired {
            return;
        }
        c.timer_c_fired = true;
        if c.provisional {
            self.cancel_branch(id, now, out);
        } else {
            let ctx = c.ctx;
            self.remove_client(id);
            if let Some(ctx) = ctx {
                self.branch_failed(ctx, 408, "Request Timeout (timer C)", now, out);
            }
        }
    }
}
