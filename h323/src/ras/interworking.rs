//! The H.323 side of SIP <-> H.323 interworking as the gatekeeper routes it: a dialled alias a
//! SIP UA registered here (the alias table shared with the SIP registrar), or with `[interworking]
//! mode = "on"` an alias the search sends only to zones that carry SIP alone (DNS zones,
//! traversal zones without H.323), goes to the node's interworking gateway with the SIP URI as
//! a url-ID destinationAddress. The native protocol is searched first: registrations, neighbor
//! zones (LRQ) and H.323 traversal zones come before the gateway.
//!
//! Loop guard: a Setup from the gateway itself (its sourceInfo's vendor productId is
//! [`crate::endpoint::INTERWORKING_PRODUCT`], whatever address it comes from) is never routed
//! to the gateway.
//!
//! Must not touch: registrations, sockets, the call-signaling relay (it only builds the
//! [`Destination`]).

use super::location::Step;
use super::Gatekeeper;
use crate::asn::{self, AliasKind};
use crate::call::Destination;
use causeway_config::InterworkingMode;
use std::net::SocketAddr;

/// The zone name of calls routed to the gateway (logs, status, `CallEvent::Routed`).
pub const INTERWORKING_ZONE: &str = "Interworking";

impl Gatekeeper {
    /// The node's SIP <-> H.323 interworking gateway (its call-signaling address) and the
    /// configured mode, or none: calls to SIP UAs are then refused as before.
    pub fn set_interworking(&mut self, interworking: Option<(SocketAddr, InterworkingMode)>) {
        self.interworking = interworking;
    }

    /// Whether a call (from the gateway or not) to a SIP UA registered here is interworked.
    pub(super) fn interworks_registered(&self, from_gateway: bool) -> bool {
        !from_gateway && self.interworking.is_some_and(|(_, m)| m.enabled())
    }

    /// Whether a call whose search found only zones that carry SIP alone is interworked.
    pub(super) fn interworks_zones(&self, from_gateway: bool) -> bool {
        !from_gateway
            && self
                .interworking
                .is_some_and(|(_, m)| m == InterworkingMode::On)
    }

    /// The gateway as the destination of a call for SIP URI `uri` (a SIP AOR, or the alias
    /// the search gave a SIP zone), as a url-ID that replaces the forwarded Setup's
    /// destinationAddress; `None` without a gateway or for a URI no url-ID can carry.
    pub(super) fn gateway_destination(&self, uri: &str) -> Option<Destination> {
        let (addr, _) = self.interworking?;
        let alias = asn::alias_address(AliasKind::Url, &sip_uri(uri))?;
        Some(Destination {
            addr,
            alias: Some(alias),
            zone: INTERWORKING_ZONE.into(),
            link: None,
            alternates: Vec::new(),
        })
    }

    /// The gateway for a SIP UA registered on another peer: the call's zone is the cluster's,
    /// so that with `[media] anchor = "all"` this side leaves the media to that peer, which
    /// anchors the SIP call it receives (a call crosses one relay, not two).
    fn gateway_to_peer(&self, aor: &str) -> Option<Destination> {
        let mut d = self.gateway_destination(aor)?;
        d.zone = super::CLUSTER_ZONE.into();
        Some(d)
    }

    /// The gateway for a step of dialled alias `dialled` that only SIP reaches, when the mode
    /// allows it; a SIP UA's alias that is not interworked is logged.
    pub(super) fn interwork(
        &self,
        step: &Step,
        dialled: &str,
        from_gateway: bool,
    ) -> Option<Destination> {
        match step {
            Step::SipOnly(aor, false) if self.interworks_registered(from_gateway) => {
                self.gateway_destination(aor)
            }
            Step::SipOnly(aor, true) if self.interworks_registered(from_gateway) => {
                self.gateway_to_peer(aor)
            }
            Step::SipOnly(aor, _) => {
                let why = self.not_interworked(from_gateway);
                tracing::info!("H.323 call to `{dialled}`: registered by SIP ({aor}); {why}");
                None
            }
            Step::SipZone(alias) if self.interworks_zones(from_gateway) => {
                self.gateway_destination(alias)
            }
            _ => None,
        }
    }

    /// Why a SIP UA's alias is not reached, for the log.
    fn not_interworked(&self, from_gateway: bool) -> &'static str {
        match self.interworking {
            None => "SIP/H.323 interworking is not available",
            Some((_, InterworkingMode::Off)) => {
                "SIP/H.323 interworking is off ([interworking] mode = \"off\")"
            }
            Some(_) if from_gateway => "the call comes from the interworking gateway",
            Some(_) => "interworked",
        }
    }
}

/// `sip:<aor>` for an AOR that has no scheme (`alice@example.com`); one that has (`sip:`,
/// `sips:`) is kept.
pub(super) fn sip_uri(aor: &str) -> String {
    let has_scheme = ["sip:", "sips:"].iter().any(|s| {
        aor.get(..s.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(s))
    });
    if has_scheme {
        aor.to_string()
    } else {
        format!("sip:{aor}")
    }
}
