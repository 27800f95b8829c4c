//! The UDP ring on loopback: messages both ways on IPv4 and IPv6 from the listener's own port,
//! STUN answered without the core, a truncated datagram dropped, a refused send told to the
//! core with its token, a blocked destination withheld, the inbox's eventfd waking the ring.
//! Each test drives the ring on its own thread, as the driver does.

use super::*;
use crate::transport::{start, ListenerSpec, TransportConfig};
use bytes::Bytes;
use causeway_config::{IoPath, Transport};
use causeway_guard::{Input, Report};
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;
use tokio::sync::mpsc;

/// A transport on io_uring, or `None` where this kernel forbids io_uring (then the test has
/// nothing to check); a kernel that allows it must give the ring.
async fn ring_transport(
    listeners: &[&str],
    max_message_size: usize,
) -> Option<(TransportHandle, mpsc::Receiver<TransportEvent>)> {
    batched_ring_transport(listeners, max_message_size, Duration::ZERO).await
}

async fn batched_ring_transport(
    listeners: &[&str],
    max_message_size: usize,
    udp_batch: Duration,
) -> Option<(TransportHandle, mpsc::Receiver<TransportEvent>)> {
    if let Err(e) = probe() {
        let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
            .map(|s| s.trim() != "0")
            .unwrap_or(true);
        assert!(disabled, "io_uring allowed but refused: {e}");
        eprintln!("io_uring disabled here: nothing to test");
        return None;
    }
    let cfg = TransportConfig {
        listeners: listeners
            .iter()
            .map(|a| ListenerSpec {
                kind: Transport::Udp,
                addr: a.parse().unwrap(),
                mtls: false,
            })
            .collect(),
        outbound_ports: 41400..=41449,
        idle_timeout: Duration::from_secs(60),
        max_message_size,
        max_headers: 64,
        max_connections: 100,
        max_connections_per_ip: 50,
        tls: None,
        trusted_ca: None,
        verify_outbound: false,
        guard: Arc::new(std::sync::Mutex::new(causeway_guard::Guard::new(
            &causeway_config::Protection::default(),
        ))),
        message_timeout: Duration::from_secs(10),
        udp_io: IoPath::IoUring,
        udp_batch,
        udp_thread: false,
    };
    let (h, rx) = start(cfg).await.unwrap();
    assert_eq!(h.udp_io(), IoPath::IoUring);
    Some((h, rx))
}

fn eventfd() -> OwnedFd {
    // SAFETY: no pointers; the descriptor is checked and then owned.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    assert!(raw >= 0);
    // SAFETY: fresh descriptor.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

fn udp_addr(h: &TransportHandle, v6: bool) -> SocketAddr {
    h.local_addrs()
        .into_iter()
        .find(|(k, a, _)| *k == Transport::Udp && a.is_ipv6() == v6)
        .map(|(_, a, _)| a)
        .unwrap()
}

fn transmit(dest: SocketAddr, data: &'static [u8], token: u64) -> Transmit {
    Transmit {
        kind: Transport::Udp,
        dest,
        data: Bytes::from_static(data),
        conn: None,
        server_name: None,
        token,
        reuse_only: false,
        client_tls: None,
        local: None,
    }
}

const OPTIONS: &[u8] = b"OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";

/// Waits on the ring (up to 3 s) for the next message; whether the eventfd fired meanwhile.
fn next_message(ring: &mut UdpRing) -> (Option<crate::proxy::Received>, bool) {
    let end = Instant::now() + Duration::from_secs(3);
    let mut events = Vec::new();
    let mut woken = false;
    while Instant::now() < end {
        ring.wait(Some(end)).unwrap();
        woken |= ring.drain(&mut events);
        for ev in events.drain(..) {
            if let TransportEvent::Message(m) = ev {
                return (Some(m), woken);
            }
        }
    }
    (None, woken)
}

#[tokio::test]
async fn messages_both_ways_on_ipv4_and_ipv6_from_the_listener_port() {
    let Some((h, _rx)) = ring_transport(&["127.0.0.1:0", "[::1]:0"], 65535).await else {
        return;
    };
    let wake = eventfd();
    let mut ring = UdpRing::new(&h, wake.as_raw_fd()).unwrap();
    for v6 in [false, true] {
        let client = std::net::UdpSocket::bind(if v6 { "[::1]:0" } else { "127.0.0.1:0" }).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        let server = udp_addr(&h, v6);
        client.send_to(OPTIONS, server).unwrap();
        let (m, _) = next_message(&mut ring);
        let m = m.expect("the message");
        assert_eq!(&m.data[..], OPTIONS);
        assert_eq!(m.remote, client.local_addr().unwrap());
        assert_eq!(m.local, server);
        assert_eq!(m.kind, Transport::Udp);
        ring.send(transmit(m.remote, b"SIP/2.0 200 OK\r\n\r\n", 0));
        ring.wait(Some(Instant::now())).unwrap();
        let mut buf = [0u8; 512];
        let (n, from) = client.recv_from(&mut buf).expect("the answer");
        assert_eq!(&buf[..n], b"SIP/2.0 200 OK\r\n\r\n");
        assert_eq!(from, server, "sent from the listener's port");
    }
    assert_eq!(h.stats().messages_in.load(Relaxed), 2);
    assert_eq!(h.stats().messages_out.load(Relaxed), 2);
}

#[tokio::test]
async fn stun_is_answered_and_an_oversized_datagram_dropped() {
    let Some((h, _rx)) = ring_transport(&["127.0.0.1:0"], 1024).await else {
        return;
    };
    let wake = eventfd();
    let mut ring = UdpRing::new(&h, wake.as_raw_fd()).unwrap();
    let server = udp_addr(&h, false);
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut stun = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
    stun.extend_from_slice(b"keepalive-02");
    client.send_to(&stun, server).unwrap();
    client.send_to(&[b'x'; 2000], server).unwrap();
    client.send_to(OPTIONS, server).unwrap();
    let (m, _) = next_message(&mut ring);
    assert_eq!(
        &m.expect("the OPTIONS").data[..],
        OPTIONS,
        "the first message the core sees"
    );
    let mut buf = [0u8; 512];
    let (n, from) = client.recv_from(&mut buf).expect("a STUN answer");
    assert_eq!(from, server);
    assert_eq!(&buf[..2], &[0x01, 0x01], "Binding success");
    assert_eq!(&buf[8..20], b"keepalive-02");
    assert!(n >= 32);
    assert_eq!(h.stats().stun_answered.load(Relaxed), 1);
    assert_eq!(
        h.stats().dropped_datagrams.load(Relaxed),
        1,
        "the oversized one"
    );
}

#[tokio::test]
async fn a_refused_send_and_a_blocked_destination_are_told_with_their_tokens() {
    let Some((h, mut rx)) = ring_transport(&["127.0.0.1:0"], 65535).await else {
        return;
    };
    let wake = eventfd();
    let mut ring = UdpRing::new(&h, wake.as_raw_fd()).unwrap();
    // port 0 is no destination: the kernel refuses the send while it is submitted
    ring.send(transmit("127.0.0.1:0".parse().unwrap(), b"x", 7));
    let blocked: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    for _ in 0..1000 {
        let mut g = h.shared.cfg.guard.lock().unwrap();
        g.handle(blocked, Input::Report(Report::Garbage), Instant::now());
    }
    let peer = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    ring.send(transmit(peer.local_addr().unwrap(), b"y", 8));
    ring.wait(Some(Instant::now())).unwrap();
    ring.drain(&mut Vec::new());
    let mut told = Vec::new();
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
        if let TransportEvent::SendFailed { token, .. } = ev {
            told.push(token);
        }
        if told.len() == 2 {
            break;
        }
    }
    told.sort();
    assert_eq!(told, vec![7, 8]);
    assert!(
        peer.recv_from(&mut [0u8; 16]).is_err(),
        "the blocked peer got it"
    );
    assert_eq!(h.stats().messages_out.load(Relaxed), 0);
    assert_eq!(h.stats().send_failures.load(Relaxed), 1);
    assert_eq!(h.stats().withheld.load(Relaxed), 1);
    // the slots went back: a later send goes out
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    ring.send(transmit(client.local_addr().unwrap(), b"z", 9));
    ring.wait(Some(Instant::now())).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(client.recv_from(&mut buf).expect("sent").0, 1);
}

#[tokio::test]
async fn the_eventfd_wakes_the_ring() {
    let Some((h, _rx)) = ring_transport(&["127.0.0.1:0"], 65535).await else {
        return;
    };
    let wake = eventfd();
    let mut ring = UdpRing::new(&h, wake.as_raw_fd()).unwrap();
    let fd = wake.as_raw_fd();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let one = 1u64.to_ne_bytes();
        // SAFETY: 8 bytes to an eventfd the test keeps open until the join.
        unsafe { libc::write(fd, one.as_ptr().cast(), 8) };
    });
    let started = Instant::now();
    ring.wait(Some(started + Duration::from_secs(5))).unwrap();
    assert!(ring.drain(&mut Vec::new()), "woken by the eventfd");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "not by the deadline"
    );
    writer.join().unwrap();
    // and once re-armed, a deadline alone ends the wait with nothing
    let end = Instant::now() + Duration::from_millis(20);
    ring.wait(Some(end)).unwrap();
    assert!(!ring.drain(&mut Vec::new()));
    assert!(Instant::now() >= end);
}

/// Review: a wait whose deadline has passed (`wait(Some(past))`, as the core's loop does when a
/// timer is already due) must still reap what arrived; with DEFER_TASKRUN, an enter without
/// GETEVENTS runs no deferred task work, so neither receives nor the eventfd's read complete.
#[tokio::test]
async fn a_past_deadline_wait_still_reaps_datagrams_and_the_wake() {
    let Some((h, _rx)) = ring_transport(&["127.0.0.1:0"], 65535).await else {
        return;
    };
    let wake = eventfd();
    let mut ring = UdpRing::new(&h, wake.as_raw_fd()).unwrap();
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.send_to(OPTIONS, udp_addr(&h, false)).unwrap();
    let one = 1u64.to_ne_bytes();
    // SAFETY: 8 bytes to our own eventfd.
    unsafe { libc::write(wake.as_raw_fd(), one.as_ptr().cast(), 8) };
    std::thread::sleep(Duration::from_millis(50));
    let mut events = Vec::new();
    let mut woken = false;
    for _ in 0..20 {
        ring.wait(Some(Instant::now())).unwrap();
        woken |= ring.drain(&mut events);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        !events.is_empty() && woken,
        "20 turns with a due deadline: {} events, woken {woken}",
        events.len()
    );
}

/// Review: more refused sends in one turn than the completion queue holds (4096). The
/// errors past it wait in the kernel's overflow list, but `drain` frees their slots anyway
/// (the submission queue is empty); a later message reuses a slot and is told the old error
/// when the overflow is flushed, while the old message's failure is never told.
#[tokio::test]
async fn refusals_past_the_completion_queue_are_not_told_to_other_messages() {
    let Some((h, mut rx)) = ring_transport(&["127.0.0.1:0"], 65535).await else {
        return;
    };
    let wake = eventfd();
    let mut ring = UdpRing::new(&h, wake.as_raw_fd()).unwrap();
    const N: u64 = 5000;
    for t in 1..=N {
        // port 0: refused while submitted
        ring.send(transmit("127.0.0.1:0".parse().unwrap(), b"x", t));
    }
    ring.wait(Some(Instant::now())).unwrap();
    ring.drain(&mut Vec::new());
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    ring.send(transmit(client.local_addr().unwrap(), b"z", 99_999));
    for _ in 0..3 {
        ring.wait(Some(Instant::now() + Duration::from_millis(20)))
            .unwrap();
        ring.drain(&mut Vec::new());
    }
    assert_eq!(client.recv_from(&mut [0u8; 16]).expect("sent").0, 1);
    let mut told = Vec::new();
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
        if let TransportEvent::SendFailed { token, .. } = ev {
            told.push(token);
        }
    }
    assert!(
        !told.contains(&99_999),
        "a message that went was told it failed"
    );
    told.sort();
    told.dedup();
    assert_eq!(told.len() as u64, N, "every refused message told once");
}

/// A ring on one IPv4 listener with a batch wait, and its eventfd (dropped after the ring);
/// `None` where io_uring or its minimum wait (Linux 6.12) is missing: nothing to test.
async fn batched_ring(
    batch: Duration,
) -> Option<(
    TransportHandle,
    mpsc::Receiver<TransportEvent>,
    OwnedFd,
    UdpRing,
)> {
    let (h, rx) = batched_ring_transport(&["127.0.0.1:0"], 65535, batch).await?;
    let wake = eventfd();
    let ring = UdpRing::new(&h, wake.as_raw_fd()).unwrap();
    if ring.batch_us == 0 {
        eprintln!("no io_uring minimum wait on this kernel: nothing to test");
        return None;
    }
    Some((h, rx, wake, ring))
}

/// With a batch wait the kernel holds a wait for 64 completions, but only for the batch time:
/// one datagram alone ends the wait once that time is up, long before the deadline.
#[tokio::test]
async fn a_lone_datagram_ends_a_batched_wait_after_the_batch_time() {
    let batch = Duration::from_millis(300);
    let Some((h, _rx, _wake, mut ring)) = batched_ring(batch).await else {
        return;
    };
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.send_to(OPTIONS, udp_addr(&h, false)).unwrap();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(20);
    let mut events = Vec::new();
    while events.is_empty() && Instant::now() < deadline {
        ring.wait(Some(deadline)).unwrap();
        ring.drain(&mut events);
    }
    assert!(matches!(events.first(), Some(TransportEvent::Message(_))));
    // the batch time (not the 64 completions, nor the 20 s deadline) ended the wait
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

/// Review: a batch wait with no deadline must not end when the batch time is over with
/// nothing in (an idle node would wake every `batch_us`): it goes on until something comes.
#[tokio::test]
async fn a_batched_wait_without_deadline_lasts_until_something_comes() {
    let batch = Duration::from_millis(200);
    let Some((_h, _rx, wake, mut ring)) = batched_ring(batch).await else {
        return;
    };
    let fd = wake.as_raw_fd();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        let one = 1u64.to_ne_bytes();
        // SAFETY: 8 bytes to an eventfd the test keeps open until the join.
        unsafe { libc::write(fd, one.as_ptr().cast(), 8) };
    });
    ring.wait(None).unwrap();
    // ended by the eventfd, not by the batch time running out with nothing
    assert!(
        ring.drain(&mut Vec::new()),
        "the wait ended before the eventfd was written"
    );
    writer.join().unwrap();
}

/// The kernel looks at a wait's deadline only after its minimum wait: a deadline sooner than
/// the batch time is met late, but by no more than the batch time (the timers' slack).
#[tokio::test]
async fn a_deadline_sooner_than_the_batch_time_is_late_by_at_most_the_batch_time() {
    let batch = Duration::from_millis(300);
    let Some((_h, _rx, _wake, mut ring)) = batched_ring(batch).await else {
        return;
    };
    let start = Instant::now();
    ring.wait(Some(start + Duration::from_millis(10))).unwrap();
    assert!(
        start.elapsed() < Duration::from_millis(3000),
        "{:?}",
        start.elapsed()
    );
}
