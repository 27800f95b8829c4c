//! The values that cross between the sans-IO proxy core and the tokio side (transport, driver,
//! the traversal layer above): what the core is fed ([`Event`]), what it asks for
//! ([`Output`]: a [`Transmit`] to send, a DNS lookup, a connection alias, a link message, a
//! relay command), and the verbs every SIP state machine answers to ([`Machine`]).
//!
//! No tokio here: the transport imports these shapes, never the other way.

use super::links::{Link, LinkResponse};
use crate::dns::{Hop as DnsHop, SipTarget};
use crate::message::Message;
use bytes::Bytes;
use causeway_config::Transport;
pub use causeway_guard::Report;
use causeway_media::{RelayCommand, RelayEvent};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// A stream connection, named by the transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnId(pub u64);

/// One message as it arrived.
#[derive(Clone, Debug)]
pub struct Received {
    /// One whole message (streams) or one whole datagram (UDP).
    pub data: Bytes,
    pub kind: Transport,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub conn: Option<ConnId>,
    /// SHA-256 fingerprint of a verified MTLS client certificate.
    pub mtls_peer: Option<String>,
}

/// One message to send.
#[derive(Clone, Debug)]
pub struct Transmit {
    pub kind: Transport,
    pub dest: SocketAddr,
    pub data: Bytes,
    /// Prefer this connection (responses go back on the request's connection).
    pub conn: Option<ConnId>,
    /// TLS server name (SNI) for a new outbound connection.
    pub server_name: Option<String>,
    /// Echoed in `Event::SendFailed`; 0 when the sender does not care.
    pub token: u64,
    /// Send only on an existing connection (`conn`, or one to `dest`), never open one: a
    /// traversal link held by the peer cannot be dialled back through its firewall.
    pub reuse_only: bool,
    /// TLS client configuration for a new outbound connection, instead of the node's
    /// (a traversal client zone has its own verification mode and CA).
    pub client_tls: Option<Arc<rustls::ClientConfig>>,
    /// UDP: send from the socket bound to this address (a flow's datagrams must leave from
    /// where its requests arrived, or the NAT in front of the peer drops them); `None`: the
    /// first socket of the destination's family.
    pub local: Option<SocketAddr>,
}

/// A DNS lookup the driver must run; the answer comes back as `Event::Dns`.
#[derive(Clone, Debug)]
pub struct DnsQuery {
    pub ctx: u64,
    pub target: SipTarget,
    /// The DNS zone whose nameservers to ask; `None`: the node's resolver.
    pub zone: Option<String>,
    /// Ask the operating system (getaddrinfo: the hosts file as it is now, search domains,
    /// nsswitch) for the host's addresses at the target's port, not RFC 3263: a configured
    /// peer's host name, looked up as the rest of the system would.
    pub system: bool,
}

/// Where a request came from: its transport, our address, the peer, the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    pub kind: Transport,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub conn: Option<ConnId>,
}

/// The traversal layer above the core (crate `traversal`) talking to it.
#[derive(Clone, Debug)]
pub enum LinkEvent {
    /// The link named `name` (see `links::link_name`) is up on this connection, or down
    /// (`None`).
    Set { name: String, link: Option<Link> },
    /// The answer to `LinkOutput::Register`: the response to send on server transaction `tx`.
    Answer {
        tx: u64,
        status: u16,
        reason: String,
        headers: Vec<(&'static str, String)>,
    },
}

/// What the core hands the traversal layer.
#[derive(Clone, Debug)]
pub enum LinkOutput {
    /// A response to a traversal client's REGISTER (C).
    Response(LinkResponse),
    /// A REGISTER on traversal server zone `zone`'s port (E): admit it or not, and answer with
    /// `LinkEvent::Answer { tx, .. }`.
    Register {
        tx: u64,
        zone: String,
        request: Message,
        flow: Flow,
    },
}

/// Everything that can happen to the core.
#[derive(Debug)]
pub enum Event {
    Received(Received),
    /// The transport could not deliver the message sent with `token`.
    SendFailed {
        token: u64,
        error: String,
    },
    /// A stream connection closed.
    Closed {
        conn: ConnId,
        remote: SocketAddr,
    },
    /// The answer to `Output::Dns`.
    Dns {
        ctx: u64,
        answer: Result<Vec<DnsHop>, String>,
    },
    Link(LinkEvent),
    /// The media relay driver's answer to `Output::Media`.
    Media(RelayEvent),
}

/// Everything the core asks of the world, in the order it must happen.
#[derive(Debug)]
pub enum Output {
    Transmit(Transmit),
    Dns(DnsQuery),
    /// RFC 5923: requests for `addr` may use connection `conn`.
    Alias {
        conn: ConnId,
        addr: SocketAddr,
    },
    /// Boxed: rare, and a whole message; a `Transmit` stays small.
    Link(Box<LinkOutput>),
    Media(RelayCommand),
    /// What `source` sent told something about it (unparsable, credentials that failed, a
    /// traversal peer that proved itself): for the node's guard, which blocks a source over
    /// its budget and never limits a peer.
    Report {
        source: IpAddr,
        report: Report,
    },
}

/// The verbs of every sans-IO state machine of the workspace: one input path, one timer path,
/// one deadline; outputs are appended to `out` in the order they must be carried out.
pub trait Machine {
    fn handle(&mut self, event: Event, now: Instant, out: &mut Vec<Output>);
    /// Runs what is due at `now`.
    fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Output>);
    /// When `handle_timeout` must run next.
    fn poll_timeout(&self) -> Option<Instant>;
}

/// Wall-clock time for what must show it or sign it (digest nonces, status), derived from the
/// monotonic `now` every input carries: the core never reads a clock. Made once by the driver
/// (`WallClock::at(Instant::now(), SystemTime::now())`), or by a test with any epoch.
#[derive(Clone, Copy, Debug)]
pub struct WallClock {
    mono: Instant,
    wall: SystemTime,
}

impl WallClock {
    pub fn at(mono: Instant, wall: SystemTime) -> WallClock {
        WallClock { mono, wall }
    }

    pub fn wall(&self, now: Instant) -> SystemTime {
        match now.checked_duration_since(self.mono) {
            Some(d) => self.wall + d,
            None => self
                .wall
                .checked_sub(self.mono.duration_since(now))
                .unwrap_or(self.wall),
        }
    }

    /// Unix seconds at `now`.
    pub fn unix(&self, now: Instant) -> u64 {
        self.wall(now)
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs()
    }
}
