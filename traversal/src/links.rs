//! The driver extension that runs C's traversal clients beside the proxy core: it hands them
//! their timers, the responses to their REGISTERs and connection events, and tells the core
//! when a link comes up or goes down. It also refreshes the status snapshot the admin listener
//! serves, once a second.
//!
//! It owns no sockets; the proxy driver (`causeway_sip::driver`) calls it.

use crate::client::{Event, LinkClient};
use crate::status::{Status, StatusHandle};
use causeway_sip::driver::Extension;
use causeway_sip::proxy::{Core, Link};
use causeway_sip::transport::{ConnId, Outbound};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

const STATUS_EVERY: Duration = Duration::from_secs(1);

pub struct Links {
    clients: Vec<LinkClient>,
    /// send tokens of link REGISTERs: high bit set so they never collide with the core's
    next_token: u64,
    status: StatusHandle,
    template: Status,
    publish_at: Instant,
    relay: Option<causeway_media::relay::RelayHandle>,
    h323: Option<causeway_h323::driver::StatusHandle>,
}

impl Links {
    pub fn new(
        clients: Vec<LinkClient>,
        status: StatusHandle,
        template: Status,
        now: Instant,
        relay: Option<causeway_media::relay::RelayHandle>,
    ) -> Links {
        Links {
            clients,
            next_token: 1 << 63,
            status,
            template,
            publish_at: now,
            relay,
            h323: None,
        }
    }

    /// Includes the H.323 side's snapshot in the status.
    pub fn with_h323(mut self, h323: causeway_h323::driver::StatusHandle) -> Links {
        self.h323 = Some(h323);
        self
    }

    fn token(&mut self) -> u64 {
        self.next_token = self.next_token.wrapping_add(1) | (1 << 63);
        self.next_token
    }

    fn apply(core: &mut Core, zone: &str, ev: Option<Event>) -> bool {
        let changed = ev.is_some();
        match ev {
            Some(Event::Down { .. }) => core.set_link(zone, None),
            // only a response brings a link up, and `on_tick` handles that with the kind
            Some(Event::Up { .. }) | None => {}
        }
        changed
    }

    fn publish(&mut self, core: &Core, now: Instant) {
        let mut s = self.template.clone();
        s.fill(core, &self.clients, now);
        if let Some(h) = &self.h323 {
            if let Ok(snap) = h.lock() {
                s.fill_h323(&snap);
            }
        }
        if let Some(r) = &self.relay {
            s.fill_media(&r.stats(), r.ports_in_use());
        }
        self.status.set(s);
        self.publish_at = now + STATUS_EVERY;
    }
}

impl Extension for Links {
    fn next_timeout(&self) -> Option<Instant> {
        self.clients
            .iter()
            .filter_map(LinkClient::poll_timeout)
            .chain(std::iter::once(self.publish_at))
            .min()
    }

    fn on_tick(
        &mut self,
        core: &mut Core,
        now: Instant,
        wall: SystemTime,
        out: &mut Vec<Outbound>,
    ) {
        for r in core.take_link_responses() {
            for i in 0..self.clients.len() {
                let token = self.token();
                let c = &mut self.clients[i];
                let before = c.state_name();
                let ev = c.on_response(&r, now, wall, out, token);
                let zone = c.zone().to_string();
                let kind = c.kind();
                if let Some(Event::Up {
                    conn,
                    local,
                    remote,
                }) = &ev
                {
                    tracing::info!(zone = %zone, peer = %remote, "traversal link up");
                    core.set_link(
                        &zone,
                        Some(Link {
                            kind,
                            remote: *remote,
                            local: *local,
                            conn: *conn,
                            since: wall,
                            refreshed: wall,
                            expires: None,
                        }),
                    );
                } else {
                    Self::apply(core, &zone, ev);
                }
                if self.clients[i].state_name() != before {
                    // a link changed state: publish at once, not at the next second
                    self.publish_at = now;
                }
            }
        }
        for i in 0..self.clients.len() {
            if self.clients[i].poll_timeout().is_some_and(|t| t <= now) {
                let token = self.token();
                let c = &mut self.clients[i];
                let before = c.state_name();
                let ev = c.on_timeout(now, wall, out, token);
                let zone = c.zone().to_string();
                Self::apply(core, &zone, ev);
                if self.clients[i].state_name() != before {
                    self.publish_at = now;
                }
            }
        }
        if self.publish_at <= now {
            // once a second: calls whose media died are ended (or reported) by the core
            core.media_sweep(now, out);
            self.publish(core, now);
        }
    }

    fn on_closed(&mut self, conn: ConnId, remote: SocketAddr, core: &mut Core, now: Instant) {
        let wall = SystemTime::now();
        for c in &mut self.clients {
            let ev = c.on_closed(conn, remote, now, wall);
            let zone = c.zone().to_string();
            if Self::apply(core, &zone, ev) {
                self.publish_at = now;
            }
        }
    }

    fn on_send_failed(&mut self, token: u64, error: &str, core: &mut Core, now: Instant) -> bool {
        let wall = SystemTime::now();
        let mut mine = false;
        for c in &mut self.clients {
            if c.owns_token(token) {
                mine = true;
                let ev = c.on_send_failed(error, now, wall);
                let zone = c.zone().to_string();
                Self::apply(core, &zone, ev);
                self.publish_at = now;
            }
        }
        mine || token >= 1 << 63
    }
}
