//! Batched UDP I/O for the relay driver (Linux): `recvmmsg` of up to `BATCH` datagrams into
//! buffers that live as long as the thread, and `sendmmsg` of the ones to forward straight
//! from those buffers, so relaying a packet neither allocates nor copies it.
//!
//! It owns the raw `mmsghdr`/`iovec`/`sockaddr` arrays and the conversions between kernel
//! socket addresses and `SocketAddr`. It knows nothing of sessions: the driver says which
//! received packet goes where.

use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::RawFd;

/// Datagrams per `recvmmsg` call.
pub const BATCH: usize = 32;
/// Receive buffer per datagram. RTP stays below the path MTU (RFC 3550 section 11 leaves it
/// to the lower layers, and media stacks packetise to fit 1500); a larger datagram arrives
/// truncated and is dropped rather than forwarded cut.
pub const BUF: usize = 2048;
/// Room in front of every received datagram: an H.460.19 multiplexID is put there when the
/// packet goes to E's multiplexed pair, without moving the packet.
pub const HEAD: usize = 4;

/// The kernel-facing arrays. Every field is plain data for which all-zero bytes are a valid
/// value (null pointers, zero lengths), which is what `Batch::new` relies on.
struct Raw {
    bufs: [[u8; HEAD + BUF]; BATCH],
    names: [libc::sockaddr_storage; BATCH],
    iovs: [libc::iovec; BATCH],
    hdrs: [libc::mmsghdr; BATCH],
    out_names: [libc::sockaddr_storage; BATCH],
    out_iovs: [libc::iovec; BATCH],
    out_hdrs: [libc::mmsghdr; BATCH],
}

/// One thread's receive/send arrays (about 80 KiB), reused for every batch.
pub struct Batch {
    raw: Box<Raw>,
    /// Datagrams received by the last `recv`.
    len: usize,
    /// Entries queued by `push_send` since the last `send`.
    out: usize,
}

/// One received datagram.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    pub src: Option<SocketAddr>,
    pub len: usize,
    /// Longer than `BUF`: only a prefix arrived.
    pub truncated: bool,
}

impl Batch {
    pub fn new() -> Batch {
        // SAFETY: all fields of `Raw` are integers, byte arrays, and C structs of integers
        // and raw pointers, for which the all-zero bit pattern is valid.
        let raw: Box<Raw> = unsafe { Box::<Raw>::new_zeroed().assume_init() };
        Batch {
            raw,
            len: 0,
            out: 0,
        }
    }

    /// Receives up to `BATCH` datagrams from non-blocking `fd`. `Ok(0)` never means "empty":
    /// an empty socket is `Err(WouldBlock)`.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.len = 0;
        let raw = &mut *self.raw;
        for i in 0..BATCH {
            raw.iovs[i] = libc::iovec {
                iov_base: raw.bufs[i][HEAD..].as_mut_ptr().cast(),
                iov_len: BUF,
            };
            // SAFETY: msghdr is a C struct of integers and pointers; zero is valid (and
            // covers private padding fields some libcs add).
            let mut h: libc::msghdr = unsafe { MaybeUninit::zeroed().assume_init() };
            h.msg_name = (&mut raw.names[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut raw.iovs[i];
            h.msg_iovlen = 1;
            raw.hdrs[i] = libc::mmsghdr {
                msg_hdr: h,
                msg_len: 0,
            };
        }
        // SAFETY: every header points into `raw`, which outlives the call; the kernel writes
        // at most `iov_len` bytes per buffer and `msg_namelen` bytes per name.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                raw.hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        // n <= BATCH by the contract of recvmmsg
        self.len = (n as usize).min(BATCH);
        Ok(self.len)
    }

    /// The `i`-th datagram of the last `recv`.
    pub fn received(&self, i: usize) -> Option<Received> {
        if i >= self.len {
            return None;
        }
        let h = &self.raw.hdrs[i];
        let len = h.msg_len as usize;
        Some(Received {
            src: from_storage(&self.raw.names[i], h.msg_hdr.msg_namelen),
            len: len.min(BUF),
            truncated: h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 || len > BUF,
        })
    }

    /// The bytes of the `i`-th datagram of the last `recv` (empty for an index not received).
    pub fn data(&self, i: usize) -> &[u8] {
        let len = self.received(i).map_or(0, |r| r.len);
        &self.raw.bufs[i.min(BATCH - 1)][HEAD..HEAD + len]
    }

    /// Queues received datagram `i` to be sent to `to` by the next `send`. Returns false
    /// (and queues nothing) for an index that was not received or a full queue.
    #[cfg(test)]
    pub fn push_send(&mut self, i: usize, to: SocketAddr) -> bool {
        self.push_framed(i, to, 0, None)
    }

    /// `push_send` with the first `skip` octets left out (a multiplexID that came in front)
    /// and `prefix` put in front (E's multiplexID, big-endian, in the room `HEAD` keeps).
    pub fn push_framed(
        &mut self,
        i: usize,
        to: SocketAddr,
        skip: usize,
        prefix: Option<u32>,
    ) -> bool {
        let Some(r) = self.received(i) else {
            return false;
        };
        if self.out >= BATCH || skip > r.len {
            return false;
        }
        let o = self.out;
        let raw = &mut *self.raw;
        let name_len = to_storage(to, &mut raw.out_names[o]);
        // the packet is bufs[i][HEAD + skip .. HEAD + len]; a prefix goes just before it (at
        // least HEAD octets of room, as skip >= 0)
        let mut start = HEAD + skip;
        if let Some(id) = prefix {
            start -= 4;
            raw.bufs[i][start..start + 4].copy_from_slice(&id.to_be_bytes());
        }
        let end = HEAD + r.len;
        raw.out_iovs[o] = libc::iovec {
            iov_base: raw.bufs[i][start..].as_mut_ptr().cast(),
            iov_len: end - start,
        };
        // SAFETY: as in `recv`.
        let mut h: libc::msghdr = unsafe { MaybeUninit::zeroed().assume_init() };
        h.msg_name = (&mut raw.out_names[o] as *mut libc::sockaddr_storage).cast();
        h.msg_namelen = name_len;
        h.msg_iov = &mut raw.out_iovs[o];
        h.msg_iovlen = 1;
        raw.out_hdrs[o] = libc::mmsghdr {
            msg_hdr: h,
            msg_len: 0,
        };
        self.out += 1;
        true
    }

    pub fn queued(&self) -> usize {
        self.out
    }

    /// Forgets what `push_send` queued.
    pub fn clear_send(&mut self) {
        self.out = 0;
    }

    /// Sends the queued datagrams from `fd` without blocking and clears the queue. A datagram
    /// the kernel refuses (an unreachable address family, say) is skipped and the rest go;
    /// when the send buffer is full the rest are dropped, not retried: late media is useless.
    /// `Err(WouldBlock)` when nothing at all could be sent.
    pub fn send(&mut self, fd: RawFd) -> io::Result<SendResult> {
        let total = self.out;
        self.out = 0;
        let mut res = SendResult::default();
        let mut at = 0;
        while at < total {
            // SAFETY: headers `at..total` were filled by `push_send` and point into `raw`.
            let n = unsafe {
                libc::sendmmsg(
                    fd,
                    self.raw.out_hdrs[at..total].as_mut_ptr(),
                    (total - at) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if n > 0 {
                res.sent += n as usize;
                at += n as usize;
                continue;
            }
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                res.failed += total - at;
                if res.sent == 0 {
                    return Err(e);
                }
                break;
            }
            // this one datagram is refused; the rest may go
            res.failed += 1;
            res.last_error = e.raw_os_error();
            at += 1;
        }
        Ok(res)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendResult {
    pub sent: usize,
    pub failed: usize,
    pub last_error: Option<i32>,
}

pub(super) use causeway_uring::addr::{from_storage, to_storage};

#[cfg(test)]
mod tests;
