//! causeway media: everything a node does with the media of the calls it anchors, for SIP and
//! H.323 alike.
//!
//! When a node anchors a call, the media descriptions passing through it (SDP offers and
//! answers; H.245 logical channels) are rewritten to point at the node, and RTP/RTCP is relayed
//! through port pairs of the media range, latching to where each leg's media really comes
//! from.
//!
//! - [`sdp`]: SDP parsing and rewriting (pure);
//! - [`ports`]: the even/odd port pairs of the media range (pure);
//! - [`latch`]: per-leg source latching (pure);
//! - [`session`]: the relay table: sessions, routes by local port, packet decisions (pure);
//! - [`call`]: a call's sides and legs, as signaling describes them to the relay;
//! - [`anchor`]: the anchoring state machines and [`MediaAnchor`], what SIP and H.323 anchor
//!   through: [`Anchor`] for SDP (offers and answers in, relay sessions, rewritten bodies and
//!   commands for the relay driver out), [`ChannelAnchor`] for H.245 logical-channel addresses
//!   (one relay session per H.245 session of a call, its ports bound through a [`Relay`]);
//! - [`relay`] (Linux): the tokio driver that owns the sockets and moves the packets.
//!
//! Depends on `config` only; the SIP and H.323 stacks depend on it, never the other way.

pub mod anchor;
pub mod call;
pub mod latch;
pub mod ports;
#[cfg(target_os = "linux")]
pub mod relay;
pub mod sdp;
pub mod session;

pub use anchor::{
    Anchor, AnchorConfig, Anchored, ChannelAddress, ChannelAnchor, MediaAnchor, MediaRefusal,
    Relay, RelayCommand, RelayEvent,
};
pub use call::{Leg, Legs, LinkEnd, Side};
pub use session::Component;
