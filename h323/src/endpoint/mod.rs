//! The endpoint side of the protocol: the ASN.1 messages an H.323 endpoint sends, and the
//! readers it needs for what it receives. Values follow what an H.225.0 version 4+ endpoint
//! must send (mandatory extension additions present; the comments name them). The
//! gatekeeper's replies are built in [`crate::ras::build`].
//!
//! Why this is in the product crate although only tests use it today (the `h323-endpoint`
//! test tool and the gatekeeper's own tests build their requests with it): the next issues
//! give it production callers. The H.460.18 traversal client on C registers to E with RRQ
//! and keep-alives as an endpoint would, and the SIP<->H.323 interworking gateway sends
//! Setup/Connect/TCS/OLC as an endpoint. Both will build their messages here.
//!
//! Layout: `ras` (RAS requests an endpoint sends), `q931` (the UUIEs of its call signaling),
//! `h245` (the basic H.245 messages of an audio call); what they share (the endpoint's
//! identity and per-call values) is here. ASN.1 value conversions are [`crate::asn`]'s.
//!
//! Values only: no sockets, no state, no retransmission or H.245 procedures (the caller runs
//! those). Must not touch the gatekeeper's side (`crate::ras`, `crate::call`). The generated
//! types are `#[non_exhaustive]`, so every value is made through its positional `new`.
//!
//! Choice: the endpoint speaks IPv4 only. An address it is to send (its RAS, call-signaling,
//! H.245 or media address) must be IPv4; an IPv6 one is an error naming it (the builders
//! return `Err`), where [`crate::asn::transport_address`] itself would write any family.

mod h245;
mod q931;
mod ras;

pub use h245::{
    decode_h245, encode_h245, end_session, msd, msd_ack, olc, olc_ack, tcs, tcs_ack, H245Msg,
    TERMINAL_TYPE,
};
pub use q931::{
    alerting_uuie, call_back_facility, call_proceeding_uuie, connect_uuie, decode_uu, encode_uu,
    facility_uuie, release_complete_uuie, setup_uuie, status_uuie,
};
pub use ras::{arq, decode_ras, drq, encode_ras, grq, irr, rrq, seq_of, ucf, urq};

use crate::asn;
use causeway_h323_asn1::h323_messages as h225;
use causeway_h323_asn1::rasn::types::OctetString;
use std::net::SocketAddr;

/// The vendor productId of the node's SIP <-> H.323 interworking gateway: the gatekeeper never
/// routes a Setup whose sourceInfo carries it back to the gateway (loop guard).
pub const INTERWORKING_PRODUCT: &[u8] = b"causeway interworking";

/// Errors of the endpoint builders: a message for the test tool to print.
pub type Result<T> = std::result::Result<T, String>;

/// What an endpoint says about itself in RAS.
#[derive(Clone, Debug)]
pub struct Me {
    pub ras: SocketAddr,
    pub csa: SocketAddr,
    pub aliases: Vec<h225::AliasAddress>,
}

/// Per-call values shared by ARQ, DRQ and the UUIEs.
#[derive(Clone, Debug)]
pub struct CallIds {
    pub crv: u16,
    pub call_id: [u8; 16],
    pub conf_id: [u8; 16],
}

/// An address the endpoint is to send: IPv4 only (see the module doc).
fn ipv4(addr: SocketAddr) -> Result<SocketAddr> {
    match addr {
        SocketAddr::V4(_) => Ok(addr),
        SocketAddr::V6(a) => Err(format!("{a}: only IPv4 transport addresses are supported")),
    }
}

/// The H.225.0 transport address of an address the endpoint sends (IPv4 only).
fn ipv4_transport(addr: SocketAddr) -> Result<h225::TransportAddress> {
    ipv4(addr).map(asn::transport_address)
}

fn vendor() -> h225::VendorIdentifier {
    h225::VendorIdentifier::new(
        // T.35 country 181 (USA) and a manufacturer code of no real vendor.
        h225::H221NonStandard::new(181, 0, 21324),
        Some(OctetString::from(&b"causeway h323-endpoint"[..])),
        Some(OctetString::from(&b"0.1"[..])),
        None,
    )
}

/// `EndpointType` of a terminal.
pub fn terminal_type() -> h225::EndpointType {
    h225::EndpointType::new(
        None,
        Some(vendor()),
        None,
        None,
        None,
        Some(h225::TerminalInfo::new(None)),
        false,
        false,
        None,
        None,
    )
}
