//! UDP: one socket per listener, a receive task per socket, and sends from the listening socket
//! the core names (the one a flow arrived on) or else the first of the destination's address
//! family (so the source port is the SIP port, RFC 3261 18.1.1).
//!
//! STUN keep-alives (RFC 5626 4.4.2) are answered on the socket they came to (`stun`).
//! A full event queue drops datagrams (counted) instead of buffering without bound.

use super::stun::{self, Stun};
use super::{Received, Shared, Transmit, Transport, TransportEvent};
use bytes::Bytes;
use causeway_guard::Input;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::net::UdpSocket;

const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// A non-blocking socket bound to `addr`, not yet given to an I/O path.
pub(super) fn bind(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let domain = if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        // so that 0.0.0.0:5060 and [::]:5060 can both be bound
        s.set_only_v6(true)?;
    }
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

pub(super) async fn receive(shared: Arc<Shared>, local: SocketAddr, sock: Arc<UdpSocket>) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, remote) = tokio::select! {
            r = sock.recv_from(&mut buf) => match r {
                Ok(x) => x,
                // ICMP errors surface here on some systems; the socket stays usable
                Err(_) => continue,
            },
            _ = shutdown.changed() => return,
        };
        match datagram(&shared, local, remote, &buf[..n]) {
            Datagram::Message(r) => queue(&shared, r),
            Datagram::Stun(reply) => answer_stun(&shared, &sock, &reply, remote),
            Datagram::Ignored => {}
        }
    }
}

/// What a datagram is to the core.
pub(super) enum Datagram {
    /// A message for the core.
    Message(Received),
    /// A STUN keep-alive, answered on the socket it came to with this.
    Stun(Vec<u8>),
    /// Nothing: blocked, over the size, a keep-alive or garbage (counted where it counts).
    Ignored,
}

/// What `data`, from `remote` to the socket bound to `local`, is: the checks every datagram
/// passes, whichever path received it.
pub(super) fn datagram(
    shared: &Shared,
    local: SocketAddr,
    remote: SocketAddr,
    data: &[u8],
) -> Datagram {
    let dropped = || {
        shared
            .stats
            .dropped_datagrams
            .fetch_add(1, Ordering::Relaxed);
        Datagram::Ignored
    };
    // a blocked (or now over-budget) source gets nothing, not even a STUN answer
    if !shared.admit(remote, Input::Message) {
        return dropped();
    }
    if data.is_empty() || data.len() > shared.cfg.max_message_size {
        return dropped();
    }
    // RFC 5626 4.4.1: a CRLF keep-alive datagram is not a message
    if data.iter().all(|b| *b == b'\r' || *b == b'\n') {
        return Datagram::Ignored;
    }
    // RFC 5626 4.4.2: a STUN keep-alive is answered here, never seen by the core
    match stun::classify(data, remote) {
        Stun::No => {}
        Stun::Answer(reply) => return Datagram::Stun(reply),
        Stun::Drop => return dropped(),
    }
    shared.stats.messages_in.fetch_add(1, Ordering::Relaxed);
    Datagram::Message(Received {
        data: Bytes::copy_from_slice(data),
        kind: Transport::Udp,
        local,
        remote,
        conn: None,
        mtls_peer: None,
    })
}

/// Hands a received message to the core through the event queue (dropped when it is full).
fn queue(shared: &Shared, r: Received) {
    if shared.events.try_send(TransportEvent::Message(r)).is_err() {
        shared
            .stats
            .dropped_datagrams
            .fetch_add(1, Ordering::Relaxed);
    }
}

pub(super) fn answer_stun(
    shared: &Shared,
    sock: &impl std::os::fd::AsFd,
    reply: &[u8],
    remote: SocketAddr,
) {
    // straight to the socket, not through the runtime's readiness (the io_uring path's sockets
    // are not the runtime's); a full socket drops the answer, as a lost datagram would
    if socket2::SockRef::from(sock)
        .send_to(reply, &remote.into())
        .is_ok()
    {
        shared.stats.stun_answered.fetch_add(1, Ordering::Relaxed);
    }
}

/// The socket of `listeners` to send `out` from: the one bound to `out.local` (a wildcard
/// socket matches by port), else the first of the destination's family.
pub(super) fn socket_for<'a, S>(listeners: &'a [(SocketAddr, S)], out: &Transmit) -> Option<&'a S> {
    let family = |a: &SocketAddr| a.is_ipv4() == out.dest.is_ipv4();
    let bound_to = |a: &SocketAddr, l: &SocketAddr| {
        a.port() == l.port() && (a.ip() == l.ip() || a.ip().is_unspecified())
    };
    let chosen = out
        .local
        .and_then(|l| listeners.iter().find(|(a, _)| family(a) && bound_to(a, &l)));
    chosen
        .or_else(|| listeners.iter().find(|(a, _)| family(a)))
        .map(|(_, s)| s)
}

pub(super) fn send(shared: &Arc<Shared>, out: Transmit) {
    let Some(sock) = socket_for(&shared.udp, &out).cloned() else {
        shared.fail(out.token, format!("no UDP socket for {}", out.dest));
        return;
    };
    match sock.try_send_to(&out.data, out.dest) {
        Ok(_) => {
            shared.stats.messages_out.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => send_later(shared, sock, out),
        Err(e) => shared.fail(out.token, e.to_string()),
    }
}

/// The socket buffer is full: waits for room in a task of its own.
fn send_later(shared: &Arc<Shared>, sock: Arc<UdpSocket>, out: Transmit) {
    let shared = shared.clone();
    tokio::spawn(async move {
        match sock.send_to(&out.data, out.dest).await {
            Ok(_) => {
                shared.stats.messages_out.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => shared.fail(out.token, e.to_string()),
        }
    });
}
