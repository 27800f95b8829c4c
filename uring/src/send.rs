//! The header of one `sendmsg` entry: the `msghdr`, its one `iovec` and the destination's
//! address, which the kernel reads while the entry is submitted, so it must stay where it is
//! (boxed, or in a slice that never grows) until the send is done.
//!
//! Owns nothing it points at: the payload is the caller's, and must live as long as the header
//! is in the kernel's hands.

use crate::addr::to_storage;
use io_uring::types::Fd;
use io_uring::{opcode, squeue};
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::RawFd;

pub struct SendHeader {
    hdr: libc::msghdr,
    iov: libc::iovec,
    name: libc::sockaddr_storage,
}

impl SendHeader {
    pub fn zeroed() -> SendHeader {
        // SAFETY: msghdr, iovec and sockaddr_storage are C structs of integers and pointers,
        // for which all-zero is valid.
        unsafe { MaybeUninit::zeroed().assume_init() }
    }

    /// Points the header at `len` octets from `data`, for `to`.
    pub fn set(&mut self, to: SocketAddr, data: *const u8, len: usize) {
        let name_len = to_storage(to, &mut self.name);
        self.iov = libc::iovec {
            iov_base: data as *mut libc::c_void,
            iov_len: len,
        };
        // SAFETY: as in `zeroed`.
        self.hdr = unsafe { MaybeUninit::zeroed().assume_init() };
        self.hdr.msg_name = (&mut self.name as *mut libc::sockaddr_storage).cast();
        self.hdr.msg_namelen = name_len;
        self.hdr.msg_iov = &mut self.iov;
        self.hdr.msg_iovlen = 1;
    }

    /// A send on `fd` that the kernel finishes while it is submitted (`MSG_DONTWAIT`: sent, or
    /// refused), posting a completion only when refused.
    pub fn send_now(&self, fd: RawFd, user_data: u64) -> squeue::Entry {
        opcode::SendMsg::new(Fd(fd), &self.hdr)
            .flags(libc::MSG_DONTWAIT as u32)
            .build()
            .flags(squeue::Flags::SKIP_SUCCESS)
            .user_data(user_data)
    }

    /// A send on `fd` that waits for room in the socket, and always posts its completion.
    pub fn send_waiting(&self, fd: RawFd, user_data: u64) -> squeue::Entry {
        opcode::SendMsg::new(Fd(fd), &self.hdr)
            .build()
            .user_data(user_data)
    }
}
