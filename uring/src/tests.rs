//! `cancel_all` on a ring built as both users build theirs (single issuer, deferred task work):
//! the port a cancelled receive waited on binds again as soon as the ring and the socket are
//! closed.

use super::*;
use io_uring::{opcode, types::Fd, IoUring};
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

/// The ring, or `None` where this kernel forbids io_uring (then there is nothing to check); a
/// kernel that allows it must give the ring.
fn ring() -> Option<IoUring> {
    let mut b = IoUring::builder();
    b.setup_single_issuer().setup_defer_taskrun();
    match b.build(64) {
        Ok(r) => Some(r),
        Err(e) => {
            let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
                .map(|s| s.trim() != "0")
                .unwrap_or(true);
            assert!(disabled, "io_uring allowed but refused: {e}");
            None
        }
    }
}

#[test]
fn a_cancelled_receive_lets_go_of_its_socket_at_once() {
    // without `settle`, a port stayed bound for a while within the first few rounds
    for round in 0..50 {
        let Some(mut ring) = ring() else { return };
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = sock.local_addr().unwrap();
        let mut buf = vec![0u8; 2048];
        // sixty: the kernel runs twenty deferred items per call, so settling takes passes
        for i in 0..60 {
            let recv = opcode::Recv::new(Fd(sock.as_raw_fd()), buf.as_mut_ptr(), 2048)
                .build()
                .user_data(i);
            // SAFETY: `buf` outlives the request: the ring is dropped (and the request ended)
            // before it.
            unsafe { ring.submission().push(&recv) }.unwrap();
        }
        ring.submit().unwrap();
        cancel_all(&mut ring).unwrap();
        drop(ring);
        drop(sock);
        drop(buf);
        assert!(
            UdpSocket::bind(addr).is_ok(),
            "round {round}: {addr} still bound after its ring and its socket were closed"
        );
    }
}

#[test]
fn cancelling_an_idle_ring_is_fine() {
    let Some(mut ring) = ring() else { return };
    cancel_all(&mut ring).unwrap();
    cancel_all(&mut ring).unwrap();
}
