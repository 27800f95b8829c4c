//! SIP <-> H.323 interworking, as a gateway inside the node: a back-to-back user agent whose
//! SIP side talks to the node's own SIP proxy and whose H.323 side talks to the node's own
//! gatekeeper (routed call signaling), both over loopback, as the reference systems' B2BUA
//! does. The two stacks therefore route, anchor media and cross traversal zones for each leg
//! exactly as for a native call; this crate only translates.
//!
//! Sans-IO like every machine of the workspace. Must not touch sockets or clocks (the
//! binary's `node::interwork` drives it), nor the proxy's or the gatekeeper's state.
//!
//! The media and cause mapping (sans-IO, pure functions): [`media`] is the neutral model that
//! [`sdp_map`] (SDP), [`fast_start`] (H.323 fastStart) and [`caps`] (H.245 capabilities and
//! logical channels) map to and from; [`cause`] maps clearing causes, [`dtmf`] digits.

pub mod caps;
pub mod cause;
pub mod driver;
pub mod dtmf;
pub mod fast_start;
pub mod gateway;
mod h245_codec;
pub mod media;
pub mod sdp_map;
pub mod tap;
#[cfg(test)]
mod test_support;
