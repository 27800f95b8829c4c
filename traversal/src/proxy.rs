//! The SIP side of a node with its traversal links: the proxy core (crate `sip`) and both ends
//! of the C<->E link protocol beside it, C's link clients (`client`) and E's admission
//! (`edge`), as one sans-IO `Machine` the SIP driver runs.
//!
//! It routes between them and nothing else: a link REGISTER the core hands over
//! (`LinkOutput::Register`) goes to the admission, a response to a client's REGISTER
//! (`LinkOutput::Response`) to the clients, and what they decide goes back into the core as
//! `LinkEvent`s; transport events that concern the links (a closed connection, a failed send
//! of a client's REGISTER) reach them too. Status is read from it, never written.

use crate::client::{Event as ClientEvent, Input as ClientInput, LinkClient, LinkStatus};
use crate::edge::{Admission, Input as AdmissionInput};
use causeway_config::Transport;
use causeway_sip::dns::SipTarget;
use causeway_sip::proxy::{
    Core, DnsQuery, Event, Interworking, Link, LinkEvent, LinkOutput, Machine, Output, Report,
    Transmit, WallClock,
};
use std::net::SocketAddr;
use std::time::Instant;

/// Send tokens at or above this are the link clients' (the core's count up from 1).
pub const CLIENT_TOKENS: u64 = 1 << 63;
/// Each client's tokens: `CLIENT_TOKENS + index * CLIENT_TOKEN_SPAN + n`.
pub const CLIENT_TOKEN_SPAN: u64 = 1 << 40;

pub struct LinkedProxy {
    pub(crate) core: Core,
    pub(crate) clients: Vec<LinkClient>,
    pub(crate) admission: Admission,
    pub(crate) clock: WallClock,
    /// The token span the next new client gets (`reconfigure` adds clients).
    pub(crate) next_client: u64,
}

impl LinkedProxy {
    pub fn new(
        core: Core,
        clients: Vec<LinkClient>,
        admission: Admission,
        clock: WallClock,
    ) -> Self {
        LinkedProxy {
            next_client: clients.len() as u64,
            core,
            clients,
            admission,
            clock,
        }
    }

    pub fn core(&self) -> &Core {
        &self.core
    }

    /// The core's SIP <-> H.323 interworking gateway ([`Core::set_interworking`]), for a
    /// node that binds the gateway after the links are built.
    pub fn set_interworking(&mut self, interworking: Option<Interworking>) {
        self.core.set_interworking(interworking);
    }

    /// Every traversal link of the node: C's clients, then the links C peers hold to our
    /// server zones (`server_zones` names them all, up or not: a zone without a link is one
    /// "down" line), by zone name.
    pub fn link_status(&self, server_zones: &[String]) -> Vec<LinkStatus> {
        let unix = |t: std::time::SystemTime| {
            t.duration_since(std::time::SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        };
        let mut links: Vec<LinkStatus> = self.clients.iter().map(LinkClient::status).collect();
        let mut sorted: Vec<&String> = server_zones.iter().collect();
        sorted.sort();
        for zone in sorted {
            let up = self.core.zone_links(zone);
            if up.is_empty() {
                links.push(LinkStatus {
                    zone: zone.clone(),
                    state: "down".into(),
                    ..LinkStatus::default()
                });
            }
            for (_, l) in up {
                links.push(LinkStatus {
                    zone: zone.clone(),
                    peer: l.remote.to_string(),
                    transport: l.kind.via_token().to_string(),
                    state: "up".into(),
                    since: unix(l.since),
                    last_keepalive: Some(unix(l.refreshed)),
                    last_error: None,
                    attempts: 0,
                    ups: 0,
                });
            }
        }
        links
    }

    /// What a client decided, as the core's link table sees it.
    fn client_event(
        &mut self,
        i: usize,
        ev: Option<ClientEvent>,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        let Some(ev) = ev else {
            return;
        };
        let zone = self.clients[i].zone().to_string();
        let name = self.clients[i].name();
        let link = match ev {
            ClientEvent::Up {
                conn,
                local,
                remote,
            } => {
                tracing::info!(zone = %zone, link = %name, peer = %remote, "traversal link up");
                // E proved itself (it answered our credentials): exempt from `[protection]`,
                // as the peers resolved at start are (a name found later, an E that moved)
                out.push(Output::Report {
                    source: remote.ip(),
                    report: Report::Peer,
                });
                let wall = self.clock.wall(now);
                Some(Link {
                    zone,
                    kind: self.clients[i].kind(),
                    remote,
                    local,
                    conn,
                    since: wall,
                    refreshed: wall,
                })
            }
            ClientEvent::Down { .. } => None,
            ClientEvent::Lookup { token, host, port } => {
                // by the operating system, as the rest of the host would (hosts file, search
                // domains); answered in `handle`
                let kind = self.clients[i].kind();
                let target = SipTarget {
                    host,
                    port: Some(port),
                    transport: Some(kind),
                    secure: kind == Transport::Tls,
                };
                out.push(Output::Dns(DnsQuery {
                    ctx: token,
                    target,
                    zone: None,
                    system: true,
                }));
                return;
            }
        };
        self.core
            .handle(Event::Link(LinkEvent::Set { name, link }), now, out);
    }

    /// Feeds `input` to every client.
    fn tell_clients(&mut self, input: ClientInput<'_>, now: Instant, out: &mut Vec<Output>) {
        let mut sent = Vec::new();
        for i in 0..self.clients.len() {
            let ev = self.clients[i].handle(input, now, &mut sent);
            self.client_event(i, ev, now, out);
        }
        out.extend(sent.into_iter().map(Output::Transmit));
    }

    /// Answers the link outputs among `out[start..]` in place (what they produce is appended
    /// and answered in turn); every other output stays where it is. Link outputs are rare: the
    /// common path only looks at each output once.
    fn settle(&mut self, start: usize, now: Instant, out: &mut Vec<Output>) {
        let mut i = start;
        while i < out.len() {
            if !matches!(out[i], Output::Link(_)) {
                i += 1;
                continue;
            }
            let Output::Link(link) = out.remove(i) else {
                continue;
            };
            match *link {
                LinkOutput::Response(r) => self.tell_clients(ClientInput::Response(&r), now, out),
                LinkOutput::Register {
                    tx,
                    zone,
                    request,
                    flow,
                } => {
                    let mut events = Vec::new();
                    let source = flow.remote.ip();
                    let input = AdmissionInput::Register {
                        tx,
                        zone: &zone,
                        request: &request,
                        flow,
                    };
                    self.admission.handle(input, now, &mut events);
                    for ev in events {
                        if let Some(report) = guard_report(&ev) {
                            out.push(Output::Report { source, report });
                        }
                        self.core.handle(Event::Link(ev), now, out);
                    }
                }
            }
        }
    }

    /// E's links whose registration ran out are down before anything else is looked at.
    fn expire(&mut self, now: Instant, out: &mut Vec<Output>) {
        if self.admission.poll_timeout().is_some_and(|t| t <= now) {
            let mut events = Vec::new();
            self.admission.handle_timeout(now, &mut events);
            for ev in events {
                self.core.handle(Event::Link(ev), now, out);
            }
        }
    }
}

/// What an admission tells the guard: a link up proves its peer, a refused one (403) is a
/// failed authentication.
fn guard_report(ev: &LinkEvent) -> Option<Report> {
    match ev {
        LinkEvent::Set { link: Some(_), .. } => Some(Report::Peer),
        LinkEvent::Answer { status: 403, .. } => Some(Report::AuthFailure),
        _ => None,
    }
}

impl Machine for LinkedProxy {
    fn handle(&mut self, event: Event, now: Instant, out: &mut Vec<Output>) {
        let start = out.len();
        self.expire(now, out);
        match &event {
            Event::SendFailed { token, error } if *token >= CLIENT_TOKENS => {
                for i in 0..self.clients.len() {
                    if self.clients[i].owns_token(*token) {
                        let mut sent: Vec<Transmit> = Vec::new();
                        let input = ClientInput::SendFailed { error };
                        let ev = self.clients[i].handle(input, now, &mut sent);
                        self.client_event(i, ev, now, out);
                        out.extend(sent.into_iter().map(Output::Transmit));
                    }
                }
                // a client's token is never the core's
            }
            Event::Dns { ctx, answer } if *ctx >= CLIENT_TOKENS => {
                let addrs: Vec<SocketAddr> = match answer {
                    Ok(hops) => hops.iter().map(|h| h.addr).collect(),
                    Err(_) => Vec::new(),
                };
                let answer = match answer {
                    Ok(_) => Ok(&addrs[..]),
                    Err(e) => Err(e.as_str()),
                };
                let input = ClientInput::Resolved {
                    token: *ctx,
                    answer,
                };
                for i in 0..self.clients.len() {
                    if self.clients[i].owns_token(*ctx) {
                        let mut sent: Vec<Transmit> = Vec::new();
                        let ev = self.clients[i].handle(input, now, &mut sent);
                        self.client_event(i, ev, now, out);
                        out.extend(sent.into_iter().map(Output::Transmit));
                    }
                }
            }
            Event::Closed { conn, remote } => {
                let (conn, remote) = (*conn, *remote);
                self.core.handle(event, now, out);
                self.admission
                    .handle(AdmissionInput::Closed { conn }, now, &mut Vec::new());
                self.tell_clients(ClientInput::Closed { conn, remote }, now, out);
            }
            _ => self.core.handle(event, now, out),
        }
        self.settle(start, now, out);
    }

    fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Output>) {
        let start = out.len();
        self.expire(now, out);
        for i in 0..self.clients.len() {
            if self.clients[i].poll_timeout().is_some_and(|t| t <= now) {
                let mut sent = Vec::new();
                let ev = self.clients[i].handle_timeout(now, &mut sent);
                self.client_event(i, ev, now, out);
                out.extend(sent.into_iter().map(Output::Transmit));
            }
        }
        if self.core.poll_timeout().is_some_and(|t| t <= now) {
            self.core.handle_timeout(now, out);
        }
        self.settle(start, now, out);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.clients
            .iter()
            .filter_map(LinkClient::poll_timeout)
            .chain(self.admission.poll_timeout())
            .chain(self.core.poll_timeout())
            .min()
    }
}

#[cfg(test)]
mod tests;
