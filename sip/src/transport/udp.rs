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

pub(super) fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
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
    UdpSocket::from_std(s.into())
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
        // a blocked (or now over-budget) source gets nothing, not even a STUN answer
        if !shared.admit(remote, Input::Message) {
            shared
                .stats
                .dropped_datagrams
                .fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if n == 0 || n > shared.cfg.max_message_size {
            shared
                .stats
                .dropped_datagrams
                .fetch_add(1, Ordering::Relaxed);
            continue;
        }
        // RFC 5626 4.4.1: a CRLF keep-alive datagram is not a message
        if buf[..n].iter().all(|b| *b == b'\r' || *b == b'\n') {
            continue;
        }
        // RFC 5626 4.4.2: a STUN keep-alive is answered here, never seen by the core
        match stun::classify(&buf[..n], remote) {
            Stun::No => {}
            Stun::Answer(reply) => {
                if sock.try_send_to(&reply, remote).is_ok() {
                    shared.stats.stun_answered.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            Stun::Drop => {
                shared
                    .stats
                    .dropped_datagrams
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
        }
        shared.stats.messages_in.fetch_add(1, Ordering::Relaxed);
        let ev = TransportEvent::Message(Received {
            data: Bytes::copy_from_slice(&buf[..n]),
            kind: Transport::Udp,
            local,
            remote,
            conn: None,
            mtls_peer: None,
        });
        if shared.events.try_send(ev).is_err() {
            shared
                .stats
                .dropped_datagrams
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The socket to send `out` from: the one bound to `out.local` (a wildcard socket matches by
/// port), else the first of the destination's family.
fn socket_for(shared: &Shared, out: &Transmit) -> Option<Arc<UdpSocket>> {
    let family = |a: &SocketAddr| a.is_ipv4() == out.dest.is_ipv4();
    let bound_to = |a: &SocketAddr, l: &SocketAddr| {
        a.port() == l.port() && (a.ip() == l.ip() || a.ip().is_unspecified())
    };
    let chosen = out.local.and_then(|l| {
        shared
            .udp
            .iter()
            .find(|(a, _)| family(a) && bound_to(a, &l))
    });
    chosen
        .or_else(|| shared.udp.iter().find(|(a, _)| family(a)))
        .map(|(_, s)| s.clone())
}

pub(super) fn send(shared: &Arc<Shared>, out: Transmit) {
    let sock = socket_for(shared, &out);
    let Some(sock) = sock else {
        shared.fail(out.token, format!("no UDP socket for {}", out.dest));
        return;
    };
    match sock.try_send_to(&out.data, out.dest) {
        Ok(_) => {
            shared.stats.messages_out.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            // the socket buffer is full: wait for room in a task of its own
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
        Err(e) => shared.fail(out.token, e.to_string()),
    }
}
