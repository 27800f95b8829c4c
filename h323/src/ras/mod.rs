//! The RAS gatekeeper (H.225.0 section 7, UDP 1719): discovery (GRQ), registration (RRQ, with
//! lightweight re-registration and time to live), unregistration both ways (URQ), admission of
//! gatekeeper-routed calls (ARQ/DRQ/BRQ), probing of stale endpoints (IRQ/IRR) and location
//! requests to and from neighbor zones (LRQ).
//!
//! Sans-IO: [`Gatekeeper::handle`] takes one datagram, the address it arrived on and `now`, and
//! pushes [`Output`]s (datagrams to send, route answers for the call-signaling relay, events);
//! [`Gatekeeper::handle_timeout`] runs what is due (registration expiry, probe and LRQ
//! deadlines) and [`Gatekeeper::poll_timeout`] says when that is next. The zones router
//! decides where a dialled alias goes; this module resolves `LocalZone` targets against its
//! registrations and asks neighbor zones with LRQ.
//!
//! Layout, one file per RAS procedure, each with the choices (operator-visible behaviours)
//! it makes in its module doc:
//! - `discovery`: GRQ (unicast and multicast) -> GCF/GRJ.
//! - `registration`: RRQ (full and lightweight), URQ from endpoints, IRR; time to live, IRQ
//!   probes and URQ ttlExpired; the shared alias table's side of registering.
//! - `admission`: ARQ/DRQ/BRQ and the admitted calls.
//! - `location`: LRQ from neighbors, LCF/LRJ to our LRQs, the plan of a dialled alias and
//!   [`Gatekeeper::resolve`] for the call-signaling relay; `interworking`: when a call goes
//!   to the node's SIP <-> H.323 gateway instead; `cluster`: aliases registered on the other
//!   peers of the node's cluster, located there with LRQ.
//! - [`build`]: the messages the gatekeeper sends; [`table`]: the registration table.
//!
//! This file holds the [`Gatekeeper`] value, its configuration, inputs and outputs, the
//! dispatch of a datagram to its procedure and the timers. Choices made here:
//! - A datagram that does not decode is counted and reported (malformed), never answered.
//! - Replies go to the address a request names (rasAddress, replyAddress) unless the datagram
//!   came from another IP: then a NAT rewrote its source, the named address is the endpoint's
//!   private one, and the reply goes where the request came from ([`answer_to`]; as GNU
//!   Gatekeeper does). Same IP with another port is an endpoint sending from a second socket,
//!   and the named address stands.
//! - Requests a gatekeeper does not serve (NSM, RAI, SCI, IRQ) get XRS so the endpoint stops
//!   retrying (H.225.0 7.13); confirms and rejects it never asked for are ignored.
//!
//! Must not touch: sockets, clocks, Q.931.

mod admission;
pub mod build;
mod cluster;
pub use cluster::CLUSTER_ZONE;
mod discovery;
mod interworking;
mod location;
mod registration;
pub mod table;

pub use interworking::INTERWORKING_ZONE;

use crate::asn;
use crate::call::{CallId, Destination, RouteFailure};
use admission::Admitted;
use causeway_h323_asn1::h323_messages::{AliasAddress, EndpointIdentifier, RasMessage};
use causeway_h323_asn1::rasn::aper;
use causeway_h323_asn1::rasn::types::BmpString;
use causeway_zones::{Router, SharedAliases};
use location::Locate;
use regex::Regex;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use table::{Endpoint, Table};

/// The gatekeeper's settings (from `[h323]`).
#[derive(Clone, Debug)]
pub struct GatekeeperConfig {
    pub gatekeeper_id: String,
    /// Largest time to live granted, seconds.
    pub time_to_live: u32,
    /// How long an endpoint whose TTL ran out has to answer the IRQ.
    pub probe_timeout: Duration,
    pub max_registrations: usize,
    /// Admitted calls at once (ARQ past this: resourceUnavailable).
    pub max_calls: usize,
    /// The call-signaling port written into ACF and LCF.
    pub q931_port: u16,
    /// The call-signaling IP when the listener is bound to one; else the IP each datagram
    /// arrived on.
    pub q931_ip: Option<IpAddr>,
    pub allow: Vec<Regex>,
    pub deny: Vec<Regex>,
    /// Prefix of endpoint identifiers (unique per run, so an endpoint cannot refresh a
    /// registration of a previous run by guessing its identifier).
    pub endpoint_id_prefix: String,
    /// How long a neighbor has to answer an LRQ.
    pub locate_timeout: Duration,
    /// Endpoints that announce H.460.18 get it, with this time to live (their keep-alive,
    /// seconds); `None`: not offered.
    pub h46018_ttl: Option<u32>,
}

/// One datagram received on the RAS socket.
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    pub from: SocketAddr,
    /// Our address as the peer reached it (its IP goes into GCF/ACF/LCF).
    pub local: SocketAddr,
    pub bytes: &'a [u8],
    /// Arrived on the multicast discovery socket (224.0.1.41).
    pub multicast: bool,
}

// Outputs and answers are moved once from the gatekeeper to the driver: boxing the large
// ASN.1 alias inside would cost an allocation for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Send {
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    /// The answer to a [`Gatekeeper::resolve`] that returned [`Resolve::Pending`].
    Resolved {
        call: CallId,
        result: Result<Destination, RouteFailure>,
    },
    Event(RasEvent),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    Endpoint,
    Gatekeeper,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RasEvent {
    Registered {
        id: String,
        aliases: Vec<String>,
        ras: SocketAddr,
        ttl: u32,
        lightweight: bool,
    },
    Unregistered {
        id: String,
        by: By,
    },
    /// TTL ran out and the IRQ probe went unanswered.
    Expired {
        id: String,
    },
    Rejected {
        message: &'static str,
        reason: String,
        from: SocketAddr,
    },
    Admitted {
        endpoint: String,
        answer: bool,
        called: Vec<String>,
    },
    Malformed {
        from: SocketAddr,
        error: String,
    },
    /// An SCR (to an SCI the service sent an H.460.18 endpoint).
    ServiceControlResponse {
        seq: u16,
        from: SocketAddr,
    },
}

/// What [`Gatekeeper::resolve`] found.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolve {
    Found(Destination),
    Failed(RouteFailure),
    /// An LRQ is out; the answer comes as [`Output::Resolved`].
    Pending,
    /// A traversal zone that carries H.323 (the service knows its flow): the call goes there,
    /// as `alias`.
    Traversal {
        zone: String,
        alias: AliasAddress,
    },
    /// A registered H.460.18 endpoint: announce the call with an SCI to `ras`; it calls back
    /// to `signalling`.
    CallBack {
        ras: SocketAddr,
        signalling: SocketAddr,
    },
}

/// Messages received, by type, and other counters (for status).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub received: BTreeMap<&'static str, u64>,
    pub sent: u64,
    pub malformed: u64,
    pub rejected: u64,
}

/// One registration, for status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationView {
    pub id: String,
    pub aliases: Vec<String>,
    pub ras: SocketAddr,
    pub call_signal: Vec<SocketAddr>,
    pub seconds_left: u64,
    pub probing: bool,
}

pub struct Gatekeeper {
    cfg: GatekeeperConfig,
    router: Router,
    table: Table,
    calls: HashMap<(String, [u8; 16], bool), Admitted>,
    locates: HashMap<u16, Locate>,
    /// Neighbor zones by the IP of their peer: (zone name, RAS address).
    neighbors: Vec<(String, SocketAddr)>,
    next_seq: u16,
    next_endpoint: u64,
    counters: Counters,
    /// The alias table shared with the SIP registrar, when the node runs both.
    shared: Option<SharedAliases>,
    /// Traversal zones that carry H.323 (search rule targets the service routes).
    traversal: Vec<String>,
    /// The node's SIP <-> H.323 gateway (call-signaling address) and `[interworking] mode`.
    interworking: Option<(SocketAddr, causeway_config::InterworkingMode)>,
    /// The other peers of the node's cluster and what they hold.
    peers: Option<causeway_zones::PeerAliases>,
    /// What the SIP probes found of a remote cluster's peers (the order of LRQs to them).
    health: Option<causeway_zones::PeerHealth>,
}

impl Gatekeeper {
    /// `neighbors`: the neighbor zones as (name, RAS address), from `[[zone]] type = "neighbor"`.
    pub fn new(
        cfg: GatekeeperConfig,
        router: Router,
        neighbors: Vec<(String, SocketAddr)>,
    ) -> Gatekeeper {
        Gatekeeper {
            cfg,
            router,
            table: Table::default(),
            calls: HashMap::new(),
            locates: HashMap::new(),
            neighbors,
            next_seq: 1,
            next_endpoint: 1,
            counters: Counters::default(),
            shared: None,
            traversal: Vec::new(),
            interworking: None,
            peers: None,
            health: None,
        }
    }

    /// A reload's policy, dial plan and neighbor zones, from the next RAS message on. The
    /// call-signaling address and the endpoint identifier prefix stay (they are this run's);
    /// registrations and admitted calls stay too: a changed limit applies to the next RRQ/ARQ.
    pub fn reconfigure(
        &mut self,
        cfg: GatekeeperConfig,
        router: Router,
        neighbors: Vec<(String, SocketAddr)>,
    ) {
        let GatekeeperConfig {
            q931_port,
            q931_ip,
            endpoint_id_prefix,
            ..
        } = std::mem::replace(&mut self.cfg, cfg);
        self.cfg.q931_port = q931_port;
        self.cfg.q931_ip = q931_ip;
        self.cfg.endpoint_id_prefix = endpoint_id_prefix;
        self.router = router;
        self.neighbors = neighbors;
    }

    /// The traversal zones that carry H.323: calls routed to them are the service's to place
    /// ([`Resolve::Traversal`]).
    pub fn with_traversal_zones(mut self, zones: Vec<String>) -> Gatekeeper {
        self.traversal = zones;
        self
    }

    /// What the SIP core's probes find of a remote cluster's peers: LRQs to a zone's peers go
    /// in that order.
    pub fn with_peer_health(mut self, health: causeway_zones::PeerHealth) -> Gatekeeper {
        self.health = Some(health);
        self
    }

    /// How the SIP probes last found the peer at `ip` (none without a shared view).
    pub fn peer_health(&self, ip: std::net::IpAddr) -> Option<causeway_zones::Health> {
        self.health.as_ref()?.get(ip)
    }

    /// Shares the alias table with the SIP registrar: an alias a SIP UA registered cannot be
    /// registered here (duplicateAlias), and the other way round.
    pub fn with_shared_aliases(mut self, shared: SharedAliases) -> Gatekeeper {
        self.shared = Some(shared);
        self
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn registrations(&self) -> &Table {
        &self.table
    }

    /// The bandwidth of the admitted calls, in H.225.0 units of 100 bit/s (each call as its
    /// ARQ or last BRQ asked).
    pub fn admitted_bandwidth(&self) -> u64 {
        self.calls.values().map(|a| u64::from(a.bandwidth)).sum()
    }

    pub fn admitted_calls(&self) -> usize {
        self.calls.len()
    }

    pub fn registration_views(&self, now: Instant) -> Vec<RegistrationView> {
        let mut v: Vec<_> = self
            .table
            .iter()
            .map(|e| RegistrationView {
                id: e.id.clone(),
                aliases: e.aliases.iter().map(ToString::to_string).collect(),
                ras: e.ras,
                call_signal: e.call_signal.clone(),
                seconds_left: e.expires.saturating_duration_since(now).as_secs(),
                probing: e.probe.is_some(),
            })
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    fn seq(&mut self) -> u16 {
        let n = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        n
    }

    fn send(&mut self, to: SocketAddr, msg: &RasMessage, out: &mut Vec<Output>) {
        match aper::encode(msg) {
            Ok(bytes) => {
                self.counters.sent += 1;
                out.push(Output::Send { to, bytes });
            }
            // Only values we built ourselves get here; a failure is a bug in a builder, which
            // must not take the node down.
            Err(e) => tracing::error!("RAS encode failed: {e}"),
        }
    }

    fn reject(
        &mut self,
        message: &'static str,
        reason: &str,
        from: SocketAddr,
        out: &mut Vec<Output>,
    ) {
        self.counters.rejected += 1;
        out.push(Output::Event(RasEvent::Rejected {
            message,
            reason: reason.to_string(),
            from,
        }));
    }

    fn signal_address(&self, local: SocketAddr) -> SocketAddr {
        SocketAddr::new(self.cfg.q931_ip.unwrap_or(local.ip()), self.cfg.q931_port)
    }

    /// Handles one RAS datagram.
    pub fn handle(&mut self, d: Datagram<'_>, now: Instant, out: &mut Vec<Output>) {
        let msg: RasMessage = match aper::decode(d.bytes) {
            Ok(m) => m,
            Err(e) => {
                self.counters.malformed += 1;
                out.push(Output::Event(RasEvent::Malformed {
                    from: d.from,
                    error: e.to_string(),
                }));
                return;
            }
        };
        *self.counters.received.entry(name(&msg)).or_default() += 1;
        match msg {
            RasMessage::gatekeeperRequest(m) => self.on_grq(&m, d, out),
            RasMessage::registrationRequest(m) => self.on_rrq(&m, d, now, out),
            RasMessage::unregistrationRequest(m) => self.on_urq(&m, d, out),
            RasMessage::admissionRequest(m) => self.on_arq(&m, d, now, out),
            RasMessage::disengageRequest(m) => self.on_drq(&m, d, out),
            RasMessage::bandwidthRequest(m) => self.on_brq(&m, d, out),
            RasMessage::infoRequestResponse(m) => self.on_irr(&m, d, now, out),
            RasMessage::locationRequest(m) => self.on_lrq(&m, d, out),
            RasMessage::locationConfirm(m) => self.on_lcf(&m, now, out),
            RasMessage::locationReject(m) => self.on_lrj(m.request_seq_num.0, now, out),
            RasMessage::serviceControlResponse(m) => {
                out.push(Output::Event(RasEvent::ServiceControlResponse {
                    seq: m.request_seq_num.0,
                    from: d.from,
                }))
            }
            // answers to our URQs and IRQs need nothing more
            RasMessage::unregistrationConfirm(_)
            | RasMessage::unregistrationReject(_)
            | RasMessage::unknownMessageResponse(_)
            | RasMessage::requestInProgress(_)
            | RasMessage::infoRequestAck(_)
            | RasMessage::infoRequestNak(_) => {}
            other => {
                // Requests a gatekeeper does not serve (and confirms it never asked for):
                // XRS for requests, so the endpoint stops retrying (H.225.0 7.13).
                if let Some(n) = request_seq(&other) {
                    let reply = answer_to(reply_address(&other), d.from);
                    self.send(reply, &build::xrs(n, d.bytes), out);
                }
            }
        }
    }

    /// Whether a gatekeeperIdentifier names this gatekeeper.
    fn is_our_id(&self, id: &BmpString) -> bool {
        asn::bmp_text(id).is_some_and(|s| s == self.cfg.gatekeeper_id)
    }

    /// The registered endpoint a request names, by endpointIdentifier.
    fn endpoint_of(&self, id: &EndpointIdentifier) -> Option<&Endpoint> {
        asn::bmp_text(&id.0).and_then(|id| self.table.get(&id))
    }

    /// The next deadline: the earliest time [`Gatekeeper::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let locate = self.locates.values().map(|l| l.deadline).min();
        match (self.table.next_deadline(), locate) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs what is due at `now`: expiry, IRQ probes and LRQ deadlines.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.expire_registrations(now, out);
        self.expire_locates(now, out);
    }
}

/// The message name for counters and logs.
pub fn name(m: &RasMessage) -> &'static str {
    match m {
        RasMessage::gatekeeperRequest(_) => "GRQ",
        RasMessage::gatekeeperConfirm(_) => "GCF",
        RasMessage::gatekeeperReject(_) => "GRJ",
        RasMessage::registrationRequest(_) => "RRQ",
        RasMessage::registrationConfirm(_) => "RCF",
        RasMessage::registrationReject(_) => "RRJ",
        RasMessage::unregistrationRequest(_) => "URQ",
        RasMessage::unregistrationConfirm(_) => "UCF",
        RasMessage::unregistrationReject(_) => "URJ",
        RasMessage::admissionRequest(_) => "ARQ",
        RasMessage::admissionConfirm(_) => "ACF",
        RasMessage::admissionReject(_) => "ARJ",
        RasMessage::bandwidthRequest(_) => "BRQ",
        RasMessage::bandwidthConfirm(_) => "BCF",
        RasMessage::bandwidthReject(_) => "BRJ",
        RasMessage::disengageRequest(_) => "DRQ",
        RasMessage::disengageConfirm(_) => "DCF",
        RasMessage::disengageReject(_) => "DRJ",
        RasMessage::locationRequest(_) => "LRQ",
        RasMessage::locationConfirm(_) => "LCF",
        RasMessage::locationReject(_) => "LRJ",
        RasMessage::infoRequest(_) => "IRQ",
        RasMessage::infoRequestResponse(_) => "IRR",
        RasMessage::nonStandardMessage(_) => "NSM",
        RasMessage::unknownMessageResponse(_) => "XRS",
        RasMessage::requestInProgress(_) => "RIP",
        RasMessage::resourcesAvailableIndicate(_) => "RAI",
        RasMessage::resourcesAvailableConfirm(_) => "RAC",
        RasMessage::infoRequestAck(_) => "IACK",
        RasMessage::infoRequestNak(_) => "INAK",
        RasMessage::serviceControlIndication(_) => "SCI",
        RasMessage::serviceControlResponse(_) => "SCR",
        RasMessage::admissionConfirmSequence(_) => "ACFseq",
        _ => "other",
    }
}

/// Where the answer to a request goes: the address it names, unless it came from another IP
/// (a NAT between us rewrote it), then the source (module doc).
pub(crate) fn answer_to(named: Option<SocketAddr>, from: SocketAddr) -> SocketAddr {
    match named {
        Some(a) if a.ip() == from.ip() => a,
        _ => from,
    }
}

/// Whether a request naming `named` crossed a NAT on its way from `from`.
pub(crate) fn behind_nat(named: SocketAddr, from: SocketAddr) -> bool {
    named.ip() != from.ip()
}

/// The sequence number of a request we do not serve (for XRS); confirms/rejects get no XRS.
fn request_seq(m: &RasMessage) -> Option<u16> {
    match m {
        RasMessage::nonStandardMessage(r) => Some(r.request_seq_num.0),
        RasMessage::resourcesAvailableIndicate(r) => Some(r.request_seq_num.0),
        RasMessage::serviceControlIndication(r) => Some(r.request_seq_num.0),
        RasMessage::infoRequest(r) => Some(r.request_seq_num.0),
        _ => None,
    }
}

fn reply_address(m: &RasMessage) -> Option<SocketAddr> {
    match m {
        RasMessage::infoRequest(r) => r.reply_address.as_ref().and_then(asn::socket_addr),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
