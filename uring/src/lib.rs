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

/// Ends every request in flight on `ring` (waiting up to a second) and finishes them: `Ok`
/// once none is left (none to end included) and the kernel has let go of what they held. An
/// error means the kernel may still use what it was given, which the caller must then leak
/// rather than free.
///
/// Both rings are built with `IORING_SETUP_DEFER_TASKRUN`, so a cancelled request's last step
/// (its final completion, and the release of its reference to the socket) waits for the ring's
/// thread to ask for completions. Left there, it runs after the ring is closed, on a kernel
/// worker, later: the sockets can stay bound after the process has exited, and a node
/// restarted at once cannot bind its port (in a scratch program, 153 of 300 processes that
/// exited right after the cancel still held their port once reaped; most likely what made the
/// traversal test's restart of E fail once with "Address already in use"). `settle` runs it
/// here.
pub fn cancel_all(ring: &mut io_uring::IoUring) -> std::io::Result<()> {
    let any = io_uring::types::CancelBuilder::any();
    let timeout = io_uring::types::Timespec::new().sec(1);
    match ring.submitter().register_sync_cancel(Some(timeout), any) {
        Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(e),
        _ => settle(ring),
    }
}

/// `IORING_ENTER_GETEVENTS` (the crate keeps its `sys` module private).
const GETEVENTS: u32 = 1;
/// How long `settle` may take. A pass runs a share of the deferred work (the kernel runs 20
/// items per call here: one cancelled request takes one pass, sixty take three), so a relay
/// with 24,000 ports armed needs about 1,200 passes of a few microseconds each.
const SETTLE_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs the completions deferred to this thread and drops them, until two passes in a row find
/// none (one could end on a share of the work that posted nothing), or `SETTLE_TIME` has
/// passed (an error: the caller then keeps what the requests were given, as for a failed
/// cancel).
fn settle(ring: &mut io_uring::IoUring) -> std::io::Result<()> {
    let until = std::time::Instant::now() + SETTLE_TIME;
    let mut quiet = 0;
    while std::time::Instant::now() < until {
        // SAFETY: no argument is passed; with nothing to submit and no minimum, the call runs
        // the deferred work and returns at once.
        unsafe {
            ring.submitter()
                .enter::<libc::sigset_t>(0, 0, GETEVENTS, None)
        }?;
        let taken = ring.completion().count();
        quiet = if taken == 0 { quiet + 1 } else { 0 };
        if quiet == 2 {
            return Ok(());
        }
    }
    Err(std::io::Error::other(
        "io_uring completions still coming a second after the requests were cancelled",
    ))
}

#[cfg(test)]
mod tests;
