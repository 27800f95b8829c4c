//! Sockets from the signaling port range (`[h323] signaling_ports`): outbound connections
//! and H.245 listeners bound on a port of the range, tried in a rotating order, and the local
//! address the kernel routes towards a peer. Split from the driver for size; owns no state
//! beyond the rotation counter the driver passes in.

use super::CONNECT_TIMEOUT;
use causeway_config::PortRange;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

fn port_at(ports: PortRange, next: &AtomicU64) -> u16 {
    let (lo, hi) = (u64::from(ports.start), u64::from(ports.end));
    let span = hi - lo + 1;
    let n = next.fetch_add(1, Ordering::Relaxed);
    (lo + n % span) as u16
}

fn unspecified_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    }
}

/// Connects from the next free source port of the signaling range (reference table 001:
/// "H.323 call signaling 15000-19999").
pub(super) async fn connect_from_range(
    to: SocketAddr,
    ports: PortRange,
    next: &AtomicU64,
) -> std::io::Result<(TcpStream, SocketAddr)> {
    let mut last = std::io::Error::new(std::io::ErrorKind::AddrInUse, "no free source port");
    for _ in 0..ports.len().min(512) {
        let port = port_at(ports, next);
        let sock = if to.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        sock.set_reuseaddr(true)?;
        if let Err(e) = sock.bind(SocketAddr::new(unspecified_like(to.ip()), port)) {
            last = e;
            continue;
        }
        return match tokio::time::timeout(CONNECT_TIMEOUT, sock.connect(to)).await {
            Ok(Ok(s)) => {
                let local = s.local_addr()?;
                Ok((s, local))
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::AddrInUse => {
                last = e;
                continue;
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out",
            )),
        };
    }
    Err(last)
}

/// An H.245 listener on `ip`, on a free port of the signaling range.
pub(super) fn listen_in_range(
    ip: IpAddr,
    ports: PortRange,
    next: &AtomicU64,
) -> std::io::Result<TcpListener> {
    let mut last = std::io::Error::new(std::io::ErrorKind::AddrInUse, "no free port in range");
    for _ in 0..ports.len().min(512) {
        let port = port_at(ports, next);
        let sock = if ip.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Err(e) = sock.bind(SocketAddr::new(ip, port)) {
            last = e;
            continue;
        }
        // listen() can still find the port taken (a socket bound with SO_REUSEADDR, as the
        // outbound connections of the range are, that started listening meanwhile): the
        // next port is tried rather than the call's H.245 given up
        match sock.listen(8) {
            Ok(l) => return Ok(l),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The source IP the kernel would use towards `peer` (a connected UDP socket sends nothing).
pub fn route_source(peer: IpAddr) -> IpAddr {
    let probe = std::net::UdpSocket::bind(SocketAddr::new(unspecified_like(peer), 0))
        .and_then(|s| s.connect(SocketAddr::new(peer, 9)).map(|_| s))
        .and_then(|s| s.local_addr());
    match probe {
        Ok(a) => a.ip(),
        Err(_) => unspecified_like(peer),
    }
}
