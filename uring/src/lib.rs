//! io_uring pieces both users of io_uring share (the media relay, `causeway_media::relay`, and
//! the SIP UDP transport, `causeway_sip::transport`): provided buffers for multishot receives,
//! the header of a `sendmsg`, and the conversions of socket addresses to and from the kernel's.
//!
//! Each user owns its ring, its thread and what it does with a datagram; nothing here submits.
//! Linux only, as both users.

pub mod addr;
pub mod buffers;
pub mod send;

pub use buffers::{Buffers, NAME_LEN, PAYLOAD_AT};
pub use send::SendHeader;
