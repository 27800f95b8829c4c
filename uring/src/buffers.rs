//! Provided buffers for multishot receives: `count` buffers of one stride, and the ring of
//! entries through which they are handed to the kernel (a multishot `recvmsg` picks one per
//! datagram) and handed back once the datagram has been dealt with.
//!
//! It owns the two page-aligned allocations and the buffer ring's tail, and how a buffer is
//! laid out: the kernel's `io_uring_recvmsg_out` header, the source address, the payload. It
//! knows nothing of sockets, sessions or messages.

use io_uring::types::BufRingEntry;
use io_uring::Submitter;
use std::alloc::{self, Layout};
use std::io;
use std::mem::size_of;
use std::sync::atomic::{AtomicU16, Ordering};

/// Room for the source address: a `sockaddr_in6`, the larger of the two.
pub const NAME_LEN: usize = size_of::<libc::sockaddr_in6>();
/// Where the payload starts in a buffer: after the kernel's `io_uring_recvmsg_out` (four
/// `u32`s) and the name. Whatever a user writes in front of the payload (the relay's
/// multiplexID) goes over the name's last octets, once the source has been read.
pub const PAYLOAD_AT: usize = 16 + NAME_LEN;

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

pub struct Buffers {
    /// `count` entries of the buffer ring.
    ring: Region,
    /// `count` buffers of `stride` octets.
    bufs: Region,
    /// The next ring entry to fill, shown to the kernel by `publish`.
    tail: u16,
    count: u16,
    stride: usize,
}

impl Buffers {
    /// `count` buffers (a power of two, at most 32768) with room for `payload` octets each
    /// (after the header and the name, rounded to a cache line). Every buffer is still ours
    /// (`recycle` hands them over).
    pub fn new(count: u16, payload: usize) -> io::Result<Buffers> {
        if !count.is_power_of_two() || count > 32768 {
            return Err(io::Error::other(
                "provided buffers: count must be a power of two",
            ));
        }
        let stride = (PAYLOAD_AT + payload).div_ceil(64) * 64;
        Ok(Buffers {
            ring: Region::new(usize::from(count) * size_of::<BufRingEntry>())?,
            bufs: Region::new(usize::from(count) * stride)?,
            tail: 0,
            count,
            stride,
        })
    }

    pub fn count(&self) -> u16 {
        self.count
    }

    /// Octets per buffer: header, name and payload.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Registers the ring as buffer group `group`.
    ///
    /// # Safety
    /// The kernel writes into the buffers until the io_uring is closed: `self` must outlive
    /// it, or be leaked (`leak`).
    pub unsafe fn register(&self, submitter: &Submitter, group: u16) -> io::Result<()> {
        // SAFETY: the ring memory is page-aligned, zeroed, `count` entries long; lifetime as
        // the caller promises.
        unsafe {
            submitter.register_buf_ring_with_flags(self.ring.ptr as u64, self.count, group, 0)
        }
    }

    /// The start of buffer `bid`.
    pub fn ptr(&self, bid: u16) -> *mut u8 {
        let bid = usize::from(bid % self.count);
        // SAFETY: bid < count, so the offset stays inside the allocation.
        unsafe { self.bufs.ptr.add(bid * self.stride) }
    }

    /// The first `len` octets of buffer `bid`, which the kernel has handed back.
    pub fn get(&self, bid: u16, len: usize) -> &[u8] {
        // SAFETY: len <= stride, and the kernel does not write a buffer between handing it
        // back and its return to the ring.
        unsafe { std::slice::from_raw_parts(self.ptr(bid), len.min(self.stride)) }
    }

    /// Writes `bytes` at `at` in buffer `bid` (the relay's multiplexID, just before the
    /// payload, over the name already read); nothing if it would not fit.
    pub fn write(&mut self, bid: u16, at: usize, bytes: &[u8]) {
        if at + bytes.len() > self.stride {
            return;
        }
        // SAFETY: at + len <= stride, inside buffer `bid`, which we own; no reference into
        // the buffer is alive (`&mut self`).
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr(bid).add(at), bytes.len()) }
    }

    /// Hands buffer `bid` back to the kernel (seen at the next `publish`).
    pub fn recycle(&mut self, bid: u16) {
        let at = usize::from(self.tail & (self.count - 1));
        let addr = self.ptr(bid) as u64;
        // SAFETY: the ring has `count` entries; entry `at` is not in the kernel's hands (the
        // tail never passes the kernel's head by more than `count`: there are only `count`
        // buffers).
        let entry = unsafe { &mut *self.ring.ptr.cast::<BufRingEntry>().add(at) };
        entry.set_addr(addr);
        entry.set_len(self.stride as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes the recycled buffers visible to the kernel.
    pub fn publish(&mut self) {
        // SAFETY: the tail field of the ring's first entry, as the kernel reads it; written
        // only here and only by this thread.
        let tail = unsafe { &*BufRingEntry::tail(self.ring.ptr.cast()).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }

    /// Never frees the memory: for when the kernel may still use it.
    pub fn leak(&mut self) {
        for r in [&mut self.ring, &mut self.bufs] {
            r.ptr = std::ptr::null_mut();
        }
    }
}
