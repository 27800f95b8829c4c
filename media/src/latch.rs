//! Latching of one relay leg's RTP or RTCP flow (symmetric RTP, sans-IO): the relay waits until
//! it receives media, then sends media back to the source the far side actually sends from.
//! Behind a NAT that source is not what the SDP says, so the SDP address is only a starting
//! point.
//!
//! It owns the decision "is this packet from our peer, and where do we send to it"; it knows
//! nothing of ports, sockets or the other leg (the session table pairs legs up). Every input
//! carries `now`; there is no clock here.
//!
//! Once latched only that exact source (IP and port) is accepted, so a stranger that learns a
//! relay port cannot hijack the flow. A new source can take over only under
//! `Relatch::AfterSilence`, once the latched source has been silent that long (an endpoint
//! that moved, or a NAT binding that changed).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Which first packet may latch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LatchRule {
    /// Any source (NAT-friendly: the SDP may name a private address).
    #[default]
    AnySource,
    /// Only the IP the SDP named, from any port (a NAT that keeps the address but maps the
    /// port), or the peer's IP as signaling saw it (`Latch::admitting`). With neither nothing
    /// can latch.
    ExpectedIpOnly,
}

/// Whether a latched flow may move to another source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Relatch {
    /// Never: the first source keeps the flow for the life of the session.
    #[default]
    Never,
    /// Once the latched source has been silent this long, the next source (that the
    /// `LatchRule` admits) may latch.
    AfterSilence(Duration),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatchConfig {
    pub rule: LatchRule,
    pub relatch: Relatch,
}

/// Why a packet was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The flow is latched to another source.
    Stranger,
    /// Not latched yet, and `LatchRule::ExpectedIpOnly` refuses this source's IP.
    NotExpectedIp,
}

/// What to do with one received packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// From the latched source: relay it.
    Accept,
    /// The first packet: its source is now latched; relay it.
    Latched,
    /// A new source took over a silent flow (`Relatch::AfterSilence`); relay it.
    Relatched {
        from: SocketAddr,
    },
    Drop(DropReason),
}

impl Verdict {
    pub fn accepted(self) -> bool {
        !matches!(self, Verdict::Drop(_))
    }
}

/// Where the latch is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Nothing received yet; `expected` is the SDP's address, if it gave a usable one.
    Unlatched { expected: Option<SocketAddr> },
    Latched {
        source: SocketAddr,
        last_seen: Instant,
    },
}

/// One flow's latch.
#[derive(Clone, Debug)]
pub struct Latch {
    config: LatchConfig,
    /// From the SDP; kept after latching because `ExpectedIpOnly` checks relatches too.
    expected: Option<SocketAddr>,
    /// Another IP `ExpectedIpOnly` admits: the peer's address as its signaling connection was
    /// seen (a NAT rewrites the source of its media to that, not to what the SDP says).
    also: Option<IpAddr>,
    latched: Option<(SocketAddr, Instant)>,
}

impl Latch {
    pub fn new(expected: Option<SocketAddr>, config: LatchConfig) -> Latch {
        Latch {
            config,
            expected,
            also: None,
            latched: None,
        }
    }

    /// The same latch, `ExpectedIpOnly` admitting `ip` too (nothing more with `None`).
    pub fn admitting(mut self, ip: Option<IpAddr>) -> Latch {
        self.also = ip;
        self
    }

    /// A packet from `src` arrived at `now`.
    pub fn handle(&mut self, src: SocketAddr, now: Instant) -> Verdict {
        match self.latched {
            Some((source, ref mut last_seen)) if source == src => {
                // `max`: an input clock that steps back must not make silence look longer.
                *last_seen = (*last_seen).max(now);
                Verdict::Accept
            }
            Some((source, last_seen)) => {
                let silent = now.saturating_duration_since(last_seen);
                match self.config.relatch {
                    Relatch::AfterSilence(d) if silent >= d => match self.admit(src) {
                        Ok(()) => {
                            self.latched = Some((src, now));
                            Verdict::Relatched { from: source }
                        }
                        Err(r) => Verdict::Drop(r),
                    },
                    _ => Verdict::Drop(DropReason::Stranger),
                }
            }
            None => match self.admit(src) {
                Ok(()) => {
                    self.latched = Some((src, now));
                    Verdict::Latched
                }
                Err(r) => Verdict::Drop(r),
            },
        }
    }

    /// Whether the `LatchRule` lets `src` latch.
    fn admit(&self, src: SocketAddr) -> Result<(), DropReason> {
        match self.config.rule {
            LatchRule::AnySource => Ok(()),
            LatchRule::ExpectedIpOnly => {
                let ip = src.ip();
                if self.expected.is_some_and(|e| e.ip() == ip) || self.also == Some(ip) {
                    Ok(())
                } else {
                    Err(DropReason::NotExpectedIp)
                }
            }
        }
    }

    /// Where to send this flow's media: the latched source, or before anything arrived the
    /// SDP's address (so media can flow towards a peer that has not sent yet).
    pub fn destination(&self) -> Option<SocketAddr> {
        self.latched.map(|(s, _)| s).or(self.expected)
    }

    pub fn state(&self) -> State {
        match self.latched {
            Some((source, last_seen)) => State::Latched { source, last_seen },
            None => State::Unlatched {
                expected: self.expected,
            },
        }
    }

    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched.map(|(s, _)| s)
    }

    pub fn expected(&self) -> Option<SocketAddr> {
        self.expected
    }

    /// Forgets the latched source and expects `expected` (a multiplexed leg re-keyed: its
    /// old source no longer reaches it).
    /// A packet from `src` whose leg was named by something other than its source (an
    /// H.460.19 multiplexID): `src` is latched whatever the rule, as the keep-alives of a
    /// NATed H.460.19 client are meant to be.
    pub fn take(&mut self, src: SocketAddr, now: Instant) -> Verdict {
        match self.latched {
            Some((s, _)) if s == src => {
                self.latched = Some((src, now));
                Verdict::Accept
            }
            Some(_) => {
                self.latched = Some((src, now));
                Verdict::Relatched { from: src }
            }
            None => {
                self.latched = Some((src, now));
                Verdict::Latched
            }
        }
    }

    pub fn reset(&mut self, expected: Option<SocketAddr>) {
        self.expected = expected;
        self.latched = None;
    }

    /// A new offer or answer named another address. The latch stays: a NATed peer's real
    /// source does not change because its SDP did (a relatch rule covers real moves).
    pub fn set_expected(&mut self, expected: Option<SocketAddr>) {
        self.expected = expected;
    }
}

#[cfg(test)]
mod tests;
