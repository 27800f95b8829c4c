//! The io_uring path's provided buffers: `BUFS` buffers of `STRIDE` octets, and the ring of
//! entries through which they are handed to the kernel (a multishot receive picks one per
//! datagram) and handed back once their packet is forwarded or dropped.
//!
//! It owns the two page-aligned allocations and the buffer ring's tail, and how a buffer is
//! laid out: the kernel's `io_uring_recvmsg_out` header, the source address, the payload. It
//! knows nothing of sockets or sessions.

use super::super::mmsg::BUF;
use io_uring::types::BufRingEntry;
use io_uring::Submitter;
use std::alloc::{self, Layout};
use std::io;
use std::mem::size_of;
use std::sync::atomic::{AtomicU16, Ordering};

/// Provided buffers (a power of two, at most 32768). A buffer is held from its packet's
/// arrival to its send's submission, within one wake-up: 1024 outlast any burst the socket
/// buffers hold. When they run out a socket's receive ends with `ENOBUFS` (the packets wait
/// in the socket) and is armed again once buffers are back.
pub(super) const BUFS: u16 = 1024;
/// Room for the source address: a `sockaddr_in6`, the larger of the two.
pub(super) const NAME_LEN: usize = size_of::<libc::sockaddr_in6>();
/// Where the payload starts in a buffer: after the kernel's `io_uring_recvmsg_out` (four
/// `u32`s) and the name. A multiplexID prefix is written over the name's last four octets,
/// once the source has been read.
pub(super) const PAYLOAD_AT: usize = 16 + NAME_LEN;
/// Buffer stride: the header, the name and `BUF` octets of payload, rounded to a cache line.
pub(super) const STRIDE: usize = (PAYLOAD_AT + BUF).div_ceil(64) * 64;

/// Page-aligned, zeroed memory the kernel reads or writes while the ring lives.
struct Region {
    ptr: *mut u8,
    layout: Layout,
}

impl Region {
    fn new(size: usize) -> io::Result<Region> {
        let layout = Layout::from_size_align(size, 4096).map_err(io::Error::other)?;
        // SAFETY: the layout has a non-zero size (the callers' constants).
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        Ok(Region { ptr, layout })
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if self.ptr.is_null() {
            return;
        }
        // SAFETY: allocated in `new` with this layout.
        unsafe { alloc::dealloc(self.ptr, self.layout) }
    }
}

pub(super) struct Buffers {
    /// `BUFS` entries of the buffer ring.
    ring: Region,
    /// `BUFS` buffers of `STRIDE` octets.
    bufs: Region,
    /// The next ring entry to fill, shown to the kernel by `publish`.
    tail: u16,
}

impl Buffers {
    /// The allocations, every buffer still ours (`recycle` hands them over).
    pub(super) fn new() -> io::Result<Buffers> {
        Ok(Buffers {
            ring: Region::new(usize::from(BUFS) * size_of::<BufRingEntry>())?,
            bufs: Region::new(usize::from(BUFS) * STRIDE)?,
            tail: 0,
        })
    }

    /// Registers the ring as buffer group `group`.
    ///
    /// # Safety
    /// The kernel writes into the buffers until the io_uring is closed: `self` must outlive
    /// it, or be leaked (`leak`).
    pub(super) unsafe fn register(&self, submitter: &Submitter, group: u16) -> io::Result<()> {
        // SAFETY: the ring memory is page-aligned, zeroed, BUFS entries long; lifetime as the
        // caller promises.
        unsafe { submitter.register_buf_ring_with_flags(self.ring.ptr as u64, BUFS, group, 0) }
    }

    /// The start of buffer `bid`.
    pub(super) fn ptr(&self, bid: u16) -> *mut u8 {
        let bid = usize::from(bid % BUFS);
        // SAFETY: bid < BUFS, so the offset stays inside the allocation.
        unsafe { self.bufs.ptr.add(bid * STRIDE) }
    }

    /// The first `len` octets of buffer `bid`, which the kernel has handed back.
    pub(super) fn get(&self, bid: u16, len: usize) -> &[u8] {
        // SAFETY: len <= STRIDE, and the kernel does not write a buffer between handing it
        // back and its return to the ring.
        unsafe { std::slice::from_raw_parts(self.ptr(bid), len.min(STRIDE)) }
    }

    /// Writes a multiplexID at `at` (just before the payload, over the name, already read).
    pub(super) fn prefix(&mut self, bid: u16, at: usize, id: u32) {
        if at + 4 > STRIDE {
            return;
        }
        let bytes = id.to_be_bytes();
        // SAFETY: at + 4 <= STRIDE, inside buffer `bid`, which we own; no reference into the
        // buffer is alive (`&mut self`).
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr(bid).add(at), 4) }
    }

    /// Hands buffer `bid` back to the kernel (seen at the next `publish`).
    pub(super) fn recycle(&mut self, bid: u16) {
        let at = usize::from(self.tail & (BUFS - 1));
        let addr = self.ptr(bid) as u64;
        // SAFETY: the ring has BUFS entries; entry `at` is not in the kernel's hands (the tail
        // never passes the kernel's head by more than BUFS, as there are only BUFS buffers).
        let entry = unsafe { &mut *self.ring.ptr.cast::<BufRingEntry>().add(at) };
        entry.set_addr(addr);
        entry.set_len(STRIDE as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes the recycled buffers visible to the kernel.
    pub(super) fn publish(&mut self) {
        // SAFETY: the tail field of the ring's first entry, as the kernel reads it; written
        // only here and only by this thread.
        let tail = unsafe { &*BufRingEntry::tail(self.ring.ptr.cast()).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }

    /// Never frees the memory: for when the kernel may still use it.
    pub(super) fn leak(&mut self) {
        for r in [&mut self.ring, &mut self.bufs] {
            r.ptr = std::ptr::null_mut();
        }
    }
}
