//! The tokio driver of the proxy core: the only place where the core meets real time and real
//! sockets. It moves transport events into `proxy::Core`, the core's outputs into the transport,
//! and sleeps until the core's next deadline. No protocol decisions are made here.

use crate::proxy::{Core, NetEnv};
use crate::transport::{TransportEvent, TransportHandle};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Instant, SystemTime};
use tokio::sync::mpsc::Receiver;

/// Events handled per wake-up before outputs are flushed; bounds latency under load.
const BATCH: usize = 64;

pub async fn run(
    mut core: Core,
    handle: TransportHandle,
    mut events: Receiver<TransportEvent>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut out = Vec::with_capacity(BATCH * 2);
    // one timer, re-armed only when the core's next deadline moves
    let far = || tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
    let sleep = tokio::time::sleep_until(far());
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    loop {
        let deadline = core.next_timeout();
        if deadline != armed {
            armed = deadline;
            sleep.as_mut().reset(
                deadline
                    .map(tokio::time::Instant::from_std)
                    .unwrap_or_else(far),
            );
        }
        let mut fired = false;
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            ev = events.recv() => {
                let Some(ev) = ev else { break };
                let now = Instant::now();
                let wall = SystemTime::now();
                dispatch(&mut core, ev, now, wall, &mut out);
                // drain what is already queued, so one wake-up serves a burst
                for _ in 1..BATCH {
                    match events.try_recv() {
                        Ok(ev) => dispatch(&mut core, ev, now, wall, &mut out),
                        Err(_) => break,
                    }
                }
            }
            _ = &mut sleep => fired = true,
        }
        if fired || core.next_timeout().is_some_and(|t| t <= Instant::now()) {
            core.on_timeout(Instant::now(), &mut out);
            armed = None;
        }
        for (conn, addr) in core.take_aliases() {
            handle.alias(conn, addr);
        }
        for o in out.drain(..) {
            handle.send(o);
        }
    }
}

fn dispatch(
    core: &mut Core,
    ev: TransportEvent,
    now: Instant,
    wall: SystemTime,
    out: &mut Vec<crate::transport::Outbound>,
) {
    match ev {
        TransportEvent::Message(inbound) => core.on_message(inbound, now, wall, out),
        TransportEvent::SendFailed { token, error } => core.on_send_failed(token, &error, now, out),
        TransportEvent::Closed { conn, .. } => core.on_connection_closed(conn),
        TransportEvent::BadFrame { remote, error, .. } => {
            tracing::debug!(%remote, %error, "bad stream frame: connection closed");
        }
    }
}

/// `NetEnv` answered by the operating system.
pub struct OsNetEnv;

impl NetEnv for OsNetEnv {
    fn source_ip_for(&self, dest: IpAddr) -> Option<IpAddr> {
        // A connected UDP socket sends nothing; it only asks the routing table.
        let bind: SocketAddr = match dest {
            IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let s = UdpSocket::bind(bind).ok()?;
        s.connect((dest, 9)).ok()?;
        s.local_addr().ok().map(|a| a.ip())
    }

    fn is_local_ip(&self, ip: IpAddr) -> bool {
        UdpSocket::bind((ip, 0)).is_ok()
    }
}
