//! Unit tests of `media/src/relay/mmsg.rs`.

use super::*;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

#[test]
fn socket_addresses_round_trip_through_kernel_storage() {
    for s in ["127.0.0.1:36000", "[2001:db8::1]:5004", "[fe80::1%3]:1"] {
        let a: SocketAddr = s.parse().unwrap();
        // SAFETY: all-zero is a valid sockaddr_storage.
        let mut ss: libc::sockaddr_storage = unsafe { MaybeUninit::zeroed().assume_init() };
        let len = to_storage(a, &mut ss);
        assert_eq!(from_storage(&ss, len), Some(a));
    }
    // SAFETY: as above.
    let ss: libc::sockaddr_storage = unsafe { MaybeUninit::zeroed().assume_init() };
    assert_eq!(from_storage(&ss, 0), None);
}

/// Real loopback sockets, no runtime: a batch in, forwarded out of another socket, with
/// an oversize datagram flagged as truncated.
#[test]
fn receive_a_batch_and_forward_it_from_the_buffers() {
    let relay_in = UdpSocket::bind("127.0.0.1:0").unwrap();
    let relay_out = UdpSocket::bind("127.0.0.1:0").unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut b = Batch::new();
    let empty = b.recv(relay_in.as_raw_fd()).unwrap_err();
    assert_eq!(empty.kind(), io::ErrorKind::WouldBlock);
    for n in 0..3u8 {
        peer.send_to(&[n; 172], relay_in.local_addr().unwrap())
            .unwrap();
    }
    peer.send_to(&[9; BUF + 10], relay_in.local_addr().unwrap())
        .unwrap();
    let got = b.recv(relay_in.as_raw_fd()).unwrap();
    assert_eq!(got, 4);
    for i in 0..3 {
        let r = b.received(i).unwrap();
        assert_eq!(r.src, Some(peer.local_addr().unwrap()));
        assert_eq!((r.len, r.truncated), (172, false));
        assert!(b.push_send(i, sink.local_addr().unwrap()));
    }
    assert!(b.received(3).unwrap().truncated);
    assert!(b.received(4).is_none());
    let res = b.send(relay_out.as_raw_fd()).unwrap();
    assert_eq!((res.sent, res.failed), (3, 0));
    let mut buf = [0u8; 400];
    for n in 0..3u8 {
        let (len, from) = sink.recv_from(&mut buf).unwrap();
        assert_eq!(from, relay_out.local_addr().unwrap());
        assert_eq!(&buf[..len], &[n; 172][..]);
    }
}

#[test]
fn a_refused_destination_skips_one_datagram_only() {
    let relay_in = UdpSocket::bind("127.0.0.1:0").unwrap();
    let relay_out = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..2 {
        sink.send_to(&[1; 20], relay_in.local_addr().unwrap())
            .unwrap();
    }
    let mut b = Batch::new();
    assert_eq!(b.recv(relay_in.as_raw_fd()).unwrap(), 2);
    // an IPv6 destination from an IPv4 socket is refused by the kernel
    b.push_send(0, "[2001:db8::1]:5004".parse().unwrap());
    b.push_send(1, sink.local_addr().unwrap());
    let res = b.send(relay_out.as_raw_fd()).unwrap();
    assert_eq!((res.sent, res.failed), (1, 1));
    assert!(res.last_error.is_some());
}
