//! The media relay of anchored calls: when a node anchors a call, the SDP of every offer and
//! answer passing through it is rewritten to point at the node (`sdp`), and RTP/RTCP is relayed
//! through port pairs of the media range (`ports`), latching to where each leg's media really
//! comes from (`latch`), in a table of relay sessions (`session`) that the tokio driver
//! (`relay`) consults per batch of packets. `anchor` is the proxy core's hook: it turns offers
//! and answers into sessions and rewritten SDP.
//!
//! Each submodule is sans-IO unless its doc says otherwise; the SIP proxy core decides which
//! calls are anchored and never reaches into these modules' state.

#[cfg(target_os = "linux")]
pub mod anchor;
#[cfg(all(test, target_os = "linux"))]
mod anchor_tests;
pub mod latch;
pub mod ports;
#[cfg(target_os = "linux")]
pub mod relay;
pub mod sdp;
pub mod session;
