//! The driver on real loopback sockets: packets relayed both ways through the ports the table
//! handed out, a stranger dropped after latching, E's multiplexed pair, sockets closed on
//! removal. Sessions are set up in the table and their sockets opened through `execute`, as
//! the anchoring state machine and a signaling driver do together. Timing rules (latching,
//! expiry) are the table's and are tested there with a fake clock; here a timeout only guards
//! against a hang.
//!
//! Every test runs on both I/O paths (`on_both_paths!`), io_uring on ports 1000 above epoll's,
//! all in 30000-31999: below the ephemeral range the peers' sockets are bound in.
//! The io_uring runs fail, rather than fall back, on a kernel without it.

use super::mmsg::BATCH;
use super::*;
use crate::latch::LatchConfig;
use crate::ports::PortPair;
use crate::session::{AddError, LegSpec, SessionId};
use causeway_config::PortRange;
use std::net::Ipv4Addr;
use tokio::net::UdpSocket;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WAIT: Duration = Duration::from_secs(5);

/// An I/O path and the offset of its ports.
#[derive(Clone, Copy)]
struct Path {
    io: IoPath,
    off: u16,
}

const EPOLL: Path = Path {
    io: IoPath::Epoll,
    off: 0,
};
const URING: Path = Path {
    io: IoPath::IoUring,
    off: 1000,
};

impl Path {
    /// A relay on this path with ports `start..start + 100` (shifted by the path's offset)
    /// and, when `mux` is given, the multiplexed pair there.
    fn config(self, start: u16, mux: Option<u16>) -> RelayConfig {
        let start = start + self.off;
        let mut c = RelayConfig::new(
            LO,
            TableConfig {
                ports: PortRange {
                    start,
                    end: start + 99,
                },
                multiplexed: mux.and_then(|m| PortPair::new(m + self.off)),
                max_sessions: 10,
                latch: LatchConfig::default(),
            },
        );
        c.io = self.io;
        c
    }

    fn at(self, port: u16) -> SocketAddr {
        at(port + self.off)
    }

    fn spawn(self, config: RelayConfig) -> RelayHandle {
        let relay = spawn(config).expect("the relay starts on this path");
        assert_eq!(relay.io(), self.io);
        relay
    }
}

/// Runs each named `async fn(Path)` as two tests, one per I/O path.
macro_rules! on_both_paths {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn epoll() {
                    super::$name(super::EPOLL).await
                }
                #[tokio::test]
                async fn io_uring() {
                    super::$name(super::URING).await
                }
            }
        )*
    };
}

on_both_paths!(
    relays_both_ways_and_counts,
    a_stranger_is_not_relayed_after_latching_and_remove_closes_the_ports,
    the_multiplexed_pair_carries_calls_told_apart_by_source,
    limits_come_back_as_errors,
    keepalives_carry_the_configured_payload_type_on_sockets_with_a_set_buffer,
    multiplex_ids_are_taken_off_on_e_and_put_on_by_c,
    a_burst_larger_than_the_buffers_arrives_whole,
    dropping_the_last_handle_frees_every_port,
    ports_closed_under_traffic_serve_the_next_session,
);

async fn peer() -> UdpSocket {
    UdpSocket::bind((LO, 0)).await.unwrap()
}

async fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 2048];
    let (n, from) = tokio::time::timeout(WAIT, s.recv_from(&mut buf))
        .await
        .expect("a relayed packet")
        .unwrap();
    buf.truncate(n);
    (buf, from)
}

fn at(port: u16) -> SocketAddr {
    SocketAddr::new(LO, port)
}

/// Sets a session up and opens its sockets.
fn open(relay: &RelayHandle, a: LegSpec, b: LegSpec) -> Result<SessionInfo, AddError> {
    let info = relay.table().lock().add(a, b, Instant::now())?;
    assert_eq!(
        relay.execute(RelayCommand::Open(info)),
        Some(RelayEvent::Opened(info.id))
    );
    Ok(info)
}

/// A session between two peers' sockets (leg A expects `a`, leg B `b`), its sockets open.
fn open_between(relay: &RelayHandle, a: &UdpSocket, b: &UdpSocket) -> SessionInfo {
    let own = |s: &UdpSocket| LegSpec::own(Some(s.local_addr().unwrap()));
    open(relay, own(a), own(b)).unwrap()
}

/// Ends a session and closes its sockets; `None` if it had ended already.
fn remove(relay: &RelayHandle, id: SessionId) -> Option<SessionInfo> {
    let ended = relay.table().lock().remove(id)?;
    assert_eq!(relay.execute(RelayCommand::Close(ended)), None);
    Some(ended)
}

async fn relays_both_ways_and_counts(path: Path) {
    let relay = path.spawn(path.config(30000, None));
    let (a, b) = (peer().await, peer().await);
    let s = open_between(&relay, &a, &b);
    let (ra, rb) = (at(s.a.pair().rtp()), at(s.b.pair().rtp()));

    a.send_to(b"from a", ra).await.unwrap();
    assert_eq!(recv(&b).await, (b"from a".to_vec(), rb));
    b.send_to(b"from b", rb).await.unwrap();
    assert_eq!(recv(&a).await, (b"from b".to_vec(), ra));
    // a burst larger than one batch arrives whole and in order
    for n in 0..(BATCH as u8 * 2 + 3) {
        a.send_to(&[n; 172], ra).await.unwrap();
    }
    for n in 0..(BATCH as u8 * 2 + 3) {
        assert_eq!(recv(&b).await.0, vec![n; 172]);
    }
    let st = relay.stats();
    assert_eq!(st.table.forwarded.packets, 2 + 2 * BATCH as u64 + 3);
    assert_eq!(st.sent, st.table.forwarded.packets);
    assert_eq!(st.received, st.sent);
    assert_eq!(relay.ports_in_use(), 2);
}

async fn a_stranger_is_not_relayed_after_latching_and_remove_closes_the_ports(path: Path) {
    let relay = path.spawn(path.config(30100, None));
    let (a, b, evil) = (peer().await, peer().await, peer().await);
    let s = open_between(&relay, &a, &b);
    let ra = at(s.a.pair().rtp());
    a.send_to(b"1", ra).await.unwrap();
    recv(&b).await;
    evil.send_to(b"hijack", ra).await.unwrap();
    a.send_to(b"2", ra).await.unwrap();
    // only A's second packet comes through; the stranger's was dropped before it
    assert_eq!(recv(&b).await.0, b"2".to_vec());
    assert_eq!(relay.stats().table.dropped_stranger, 1);

    assert_eq!(remove(&relay, s.id), Some(s));
    assert_eq!(remove(&relay, s.id), None);
    assert_eq!(relay.ports_in_use(), 0);
    assert_eq!(relay.stats().table.sessions, 0);
    // the sockets are closed: the ports can be bound again (at once on io_uring, where
    // `Close` returns when the ring has let go; epoll's readers go when next scheduled)
    for port in [ra.port(), s.b.pair().rtp()] {
        bindable(path, at(port)).await;
    }
}

/// Waits until `addr` can be bound, for at most `WAIT`; at once on io_uring.
async fn bindable(path: Path, addr: SocketAddr) {
    let deadline = Instant::now() + WAIT;
    loop {
        match std::net::UdpSocket::bind(addr) {
            Ok(_) => return,
            Err(e) if path.io == IoPath::IoUring || Instant::now() > deadline => {
                panic!("{addr} still bound: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// More packets at once than the io_uring path has buffers (1024) and than a batch of the
/// epoll path: the test holds the table while they arrive, so the relay finds them all queued
/// at once, spread over 8 sockets (each within its socket buffer). Every one is relayed, in
/// order.
async fn a_burst_larger_than_the_buffers_arrives_whole(path: Path) {
    const CALLS: usize = 8;
    const EACH: usize = 180;
    let relay = path.spawn(path.config(30700, None));
    let mut calls = Vec::new();
    for _ in 0..CALLS {
        let a = std::net::UdpSocket::bind((LO, 0)).unwrap();
        let b = peer().await;
        let s = open(
            &relay,
            LegSpec::own(Some(a.local_addr().unwrap())),
            LegSpec::own(Some(b.local_addr().unwrap())),
        )
        .unwrap();
        calls.push((a, b, at(s.a.pair().rtp())));
    }
    {
        let _held = relay.table();
        let _held = _held.lock();
        for n in 0..EACH {
            for (a, _, to) in &calls {
                a.send_to(&[n as u8; 172], to).unwrap();
            }
        }
    }
    for (_, b, _) in &calls {
        for n in 0..EACH {
            assert_eq!(recv(b).await.0, vec![n as u8; 172]);
        }
    }
    let st = relay.stats();
    assert_eq!(st.received, (CALLS * EACH) as u64);
    assert_eq!(st.sent, (CALLS * EACH) as u64);
    assert_eq!(st.send_failed + st.truncated + st.recv_errors, 0);
}

/// The relay stops with its last handle, and its sockets close.
async fn dropping_the_last_handle_frees_every_port(path: Path) {
    let relay = path.spawn(path.config(30800, Some(30898)));
    let s = open(&relay, LegSpec::own(Some(at(9))), LegSpec::own(Some(at(9)))).unwrap();
    let ports = [
        s.a.pair().rtp(),
        s.b.pair().rtcp(),
        30898 + path.off,
        30899 + path.off,
    ];
    drop(relay);
    for port in ports {
        let deadline = Instant::now() + WAIT;
        while std::net::UdpSocket::bind(at(port)).is_err() {
            assert!(Instant::now() < deadline, "port {port} still bound");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn the_multiplexed_pair_carries_calls_told_apart_by_source(path: Path) {
    let relay = path.spawn(path.config(30200, Some(30200)));
    let (c1, c2, ua1, ua2) = (peer().await, peer().await, peer().await, peer().await);
    let one = open(
        &relay,
        LegSpec::multiplexed(Some(c1.local_addr().unwrap())),
        LegSpec::own(Some(ua1.local_addr().unwrap())),
    )
    .unwrap();
    let two = open(
        &relay,
        LegSpec::multiplexed(Some(c2.local_addr().unwrap())),
        LegSpec::own(Some(ua2.local_addr().unwrap())),
    )
    .unwrap();
    let mux = path.at(30200);
    c1.send_to(b"call one", mux).await.unwrap();
    c2.send_to(b"call two", mux).await.unwrap();
    assert_eq!(
        recv(&ua1).await,
        (b"call one".to_vec(), at(one.b.pair().rtp()))
    );
    assert_eq!(
        recv(&ua2).await,
        (b"call two".to_vec(), at(two.b.pair().rtp()))
    );
    ua2.send_to(b"to c2", at(two.b.pair().rtp())).await.unwrap();
    assert_eq!(recv(&c2).await, (b"to c2".to_vec(), mux));
    // an unknown source on the multiplexed pair goes nowhere
    let stranger = peer().await;
    stranger.send_to(b"?", mux).await.unwrap();
    c1.send_to(b"after", mux).await.unwrap();
    assert_eq!(recv(&ua1).await.0, b"after".to_vec());
    assert_eq!(relay.stats().table.dropped_unknown_source, 1);
}

async fn limits_come_back_as_errors(path: Path) {
    let mut cfg = path.config(30300, None);
    cfg.table.max_sessions = 1;
    let relay = path.spawn(cfg);
    let leg = || LegSpec::own(Some(at(9)));
    open(&relay, leg(), leg()).unwrap();
    let e = open(&relay, leg(), leg()).unwrap_err();
    assert!(matches!(e, AddError::TooManySessions { max: 1 }));
    let e = open(&relay, LegSpec::multiplexed(Some(at(9))), leg()).unwrap_err();
    assert!(matches!(e, AddError::TooManySessions { .. }), "{e:?}");
}

async fn keepalives_carry_the_configured_payload_type_on_sockets_with_a_set_buffer(path: Path) {
    let mut cfg = path.config(30400, None);
    cfg.keepalive_payload_type = 100;
    cfg.recv_buffer = Some(4 * 1024 * 1024);
    let relay = path.spawn(cfg);
    let (inside, e) = (peer().await, peer().await);
    let e_addr = e.local_addr().unwrap();
    // C: the callee leg is C's end of the link to E
    let s = open(
        &relay,
        LegSpec::own(Some(inside.local_addr().unwrap())),
        LegSpec::own(Some(e_addr)).on_link(Some(crate::call::LinkEnd::Client)),
    )
    .unwrap();
    relay.execute(RelayCommand::KeepAlive {
        session: s.id,
        side: crate::call::Side::Callee,
    });
    let (p, from) = recv(&e).await;
    assert_eq!(from, at(s.b.pair().rtp()));
    assert_eq!(p.len(), keepalive::RTP_LEN);
    assert_eq!(p[1], 100, "payload type, marker clear");
}

/// H.460.19 multiplexed media through real sockets: on E, C's packets prefixed with the leg's
/// multiplexID come from a source no leg expects (a NAT) and reach the outside without it; the
/// outside's answer goes back to that source. On C, a link leg told E's ID puts it in front of
/// every packet towards E, keep-alives included.
async fn multiplex_ids_are_taken_off_on_e_and_put_on_by_c(path: Path) {
    let relay = path.spawn(path.config(30500, Some(30500)));
    let (c_advertised, natted, ua) = (peer().await, peer().await, peer().await);
    let s = open(
        &relay,
        LegSpec::multiplexed(Some(c_advertised.local_addr().unwrap()))
            .on_link(Some(crate::call::LinkEnd::Server)),
        LegSpec::own(Some(ua.local_addr().unwrap())),
    )
    .unwrap();
    let id = relay
        .table()
        .lock()
        .multiplex_id(s.id, crate::call::Side::Caller)
        .expect("an ID");
    let mut packet = id.to_be_bytes().to_vec();
    packet.extend_from_slice(&[0x80; 20]);
    natted.send_to(&packet, path.at(30500)).await.unwrap();
    assert_eq!(recv(&ua).await, (vec![0x80; 20], at(s.b.pair().rtp())));
    ua.send_to(&[0x80; 30], at(s.b.pair().rtp())).await.unwrap();
    assert_eq!(recv(&natted).await, (vec![0x80; 30], path.at(30500)));
    assert_eq!(relay.stats().table.demuxed_by_id, 1);

    // C: the inside endpoint's media towards E's multiplexed pair carries E's ID
    // no sweep: its keep-alives would race the packets this test reads
    let mut c_config = path.config(30600, None);
    c_config.sweep_every = Duration::from_secs(3600);
    let c_relay = path.spawn(c_config);
    let (inside, e_mux) = (peer().await, peer().await);
    let s = open(
        &c_relay,
        LegSpec::own(Some(inside.local_addr().unwrap())),
        LegSpec::own(Some(e_mux.local_addr().unwrap())).on_link(Some(crate::call::LinkEnd::Client)),
    )
    .unwrap();
    c_relay
        .table()
        .lock()
        .set_send_mux_id(s.id, crate::call::Side::Callee, Some(0x0102_0304))
        .unwrap();
    inside
        .send_to(&[0x80; 20], at(s.a.pair().rtp()))
        .await
        .unwrap();
    let mut want = vec![1, 2, 3, 4];
    want.extend_from_slice(&[0x80; 20]);
    assert_eq!(recv(&e_mux).await, (want, at(s.b.pair().rtp())));
    // E asked for payload type 120 in its traversal parameters
    c_relay
        .table()
        .lock()
        .set_keepalive_pt(s.id, crate::call::Side::Callee, Some(120))
        .unwrap();
    c_relay.execute(RelayCommand::KeepAlive {
        session: s.id,
        side: crate::call::Side::Callee,
    });
    let (ka, _) = recv(&e_mux).await;
    assert_eq!(&ka[..4], &[1, 2, 3, 4], "keep-alives carry it too");
    assert_eq!(ka.len(), 4 + 12);
    assert_eq!(ka[4 + 1], 120, "with the payload type E asked for");
}

/// A session closed while its caller still sends, and the next session on the same ports (a
/// range of two pairs hands them out again): the new sockets relay between the new peers, and
/// nothing of the old traffic reaches them.
async fn ports_closed_under_traffic_serve_the_next_session(path: Path) {
    let mut cfg = path.config(30900, None);
    cfg.table.ports.end = cfg.table.ports.start + 3;
    let relay = path.spawn(cfg);
    let (a, b) = (peer().await, peer().await);
    let s = open_between(&relay, &a, &b);
    let ra = at(s.a.pair().rtp());
    a.send_to(b"first", ra).await.unwrap();
    assert_eq!(recv(&b).await.0, b"first".to_vec());
    let noise = std::thread::spawn({
        let a = std::net::UdpSocket::bind((LO, 0)).unwrap();
        move || {
            for _ in 0..2000 {
                let _ = a.send_to(b"old", ra);
            }
        }
    });
    remove(&relay, s.id).unwrap();
    noise.join().unwrap();
    for port in [
        ra.port(),
        s.a.pair().rtcp(),
        s.b.pair().rtp(),
        s.b.pair().rtcp(),
    ] {
        bindable(path, at(port)).await;
    }
    let (c, d) = (peer().await, peer().await);
    let t = open_between(&relay, &c, &d);
    assert_eq!(
        [t.a.pair().rtp(), t.b.pair().rtp()],
        [s.a.pair().rtp(), s.b.pair().rtp()],
        "the same ports again"
    );
    c.send_to(b"second", at(t.a.pair().rtp())).await.unwrap();
    assert_eq!(recv(&d).await.0, b"second".to_vec());
    d.send_to(b"back", at(t.b.pair().rtp())).await.unwrap();
    assert_eq!(recv(&c).await.0, b"back".to_vec());
}
