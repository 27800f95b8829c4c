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

/// Ends every request in flight on `ring` (waiting up to a second): `Ok` once none is left
/// (none to end included). An error means the kernel may still use what it was given, which
/// the caller must then leak rather than free.
pub fn cancel_all(ring: &io_uring::IoUring) -> std::io::Result<()> {
    let any = io_uring::types::CancelBuilder::any();
    let timeout = io_uring::types::Timespec::new().sec(1);
    match ring.submitter().register_sync_cancel(Some(timeout), any) {
        Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(e),
        _ => Ok(()),
    }
}
