//! The media taps' sockets and tasks: each interworked call gets an RTP/RTCP pair towards the
//! SIP side and one towards the H.323 side, bound at once when the gateway asks
//! ([`TapPorts::open`]), and a task that runs the call's [`Tap`] over them, takes the
//! gateway's commands and reports SIP-side digits back to the driver.
//!
//! Must not decide anything about the media (that is `crate::tap`'s).

use super::Event;
use crate::gateway::{TapAddrs, TapCmd, TapPorts};
use crate::tap::{Action, Side, Tap};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Commands queued towards one tap before more are dropped (a digit or a peer change).
const COMMANDS: usize = 64;
/// Attempts at an even port with its odd neighbour free.
const PAIR_TRIES: usize = 32;

/// The taps alive, by call, for the driver to send commands to.
pub(super) type Registry = Arc<Mutex<HashMap<u64, mpsc::Sender<TapCmd>>>>;

pub(super) struct DriverTaps {
    pub ip: IpAddr,
    pub registry: Registry,
    pub events: mpsc::Sender<Event>,
}

/// An RTP/RTCP pair on `ip` (RTP even, RTCP the next port: RFC 3550 11).
fn pair(ip: IpAddr) -> std::io::Result<(std::net::UdpSocket, std::net::UdpSocket)> {
    let mut last = None;
    for _ in 0..PAIR_TRIES {
        let rtp = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?;
        let port = rtp.local_addr()?.port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        match std::net::UdpSocket::bind(SocketAddr::new(ip, port + 1)) {
            Ok(rtcp) => return Ok((rtp, rtcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no even port with a free neighbour")))
}

fn tokio_socket(s: std::net::UdpSocket) -> std::io::Result<UdpSocket> {
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s)
}

impl TapPorts for DriverTaps {
    fn open(&mut self, call: u64) -> Result<TapAddrs, String> {
        let bind = || -> std::io::Result<[UdpSocket; 4]> {
            let (a, b) = pair(self.ip)?;
            let (c, d) = pair(self.ip)?;
            Ok([
                tokio_socket(a)?,
                tokio_socket(b)?,
                tokio_socket(c)?,
                tokio_socket(d)?,
            ])
        };
        let socks = bind().map_err(|e| format!("media tap on {}: {e}", self.ip))?;
        let addr = |i: usize| socks[i].local_addr().map_err(|e| e.to_string());
        let addrs = TapAddrs {
            sip: (addr(0)?, addr(1)?),
            h323: (addr(2)?, addr(3)?),
        };
        let (tx, rx) = mpsc::channel(COMMANDS);
        if let Ok(mut r) = self.registry.lock() {
            r.insert(call, tx);
        }
        tokio::spawn(run(call, socks, rx, self.events.clone()));
        Ok(addrs)
    }
}

/// Sends a command to call `call`'s tap; `Close` also forgets it.
pub(super) fn command(registry: &Registry, call: u64, cmd: TapCmd) {
    let Ok(mut r) = registry.lock() else {
        return;
    };
    let close = cmd == TapCmd::Close;
    if let Some(tx) = r.get(&call) {
        // a full queue drops the command (a digit is lost, never the process)
        let _ = tx.try_send(cmd);
    }
    if close {
        r.remove(&call);
    }
}

/// The socket index of (side, rtcp).
fn index(side: Side, rtcp: bool) -> usize {
    (side as usize) * 2 + usize::from(rtcp)
}

async fn run(
    call: u64,
    socks: [UdpSocket; 4],
    mut rx: mpsc::Receiver<TapCmd>,
    events: mpsc::Sender<Event>,
) {
    let mut tap = Tap::with_ssrc(rand::random());
    let mut bufs = [[0u8; 2048]; 4];
    loop {
        let [b0, b1, b2, b3] = &mut bufs;
        let held = tap.poll_timeout();
        let (i, r) = tokio::select! {
            _ = async {
                match held {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            } => {
                send_digits(&mut tap, &socks).await;
                continue;
            }
            r = socks[0].recv_from(b0) => (0, r),
            r = socks[1].recv_from(b1) => (1, r),
            r = socks[2].recv_from(b2) => (2, r),
            r = socks[3].recv_from(b3) => (3, r),
            cmd = rx.recv() => {
                match cmd {
                    None | Some(TapCmd::Close) => return,
                    Some(c) => apply(&mut tap, c, &socks).await,
                }
                continue;
            }
        };
        let Ok((n, from)) = r else {
            continue;
        };
        let side = if i < 2 { Side::Sip } else { Side::H323 };
        let data = bufs[i][..n].to_vec();
        match tap.on_packet(side, i % 2 == 1, from, data, Instant::now()) {
            Action::Send {
                from_side,
                rtcp,
                to,
                data,
            } => {
                let _ = socks[index(from_side, rtcp)].send_to(&data, to).await;
            }
            Action::Digit { digit, duration_ms } => {
                let _ = events.try_send(Event::Digit(call, digit, duration_ms));
            }
            Action::Drop => {}
        }
        if tap.digits_ready() {
            send_digits(&mut tap, &socks).await;
        }
    }
}

/// The held digits that are due, towards the SIP side.
async fn send_digits(tap: &mut Tap, socks: &[UdpSocket; 4]) {
    for (to, p) in tap.handle_timeout(Instant::now()) {
        let _ = socks[index(Side::Sip, false)].send_to(&p, to).await;
    }
}

async fn apply(tap: &mut Tap, cmd: TapCmd, socks: &[UdpSocket; 4]) {
    match cmd {
        TapCmd::Peer { side, rtp, rtcp } => tap.set_peer(side, rtp, rtcp),
        TapCmd::SipTelephoneEvent(pt) => tap.set_sip_te(pt),
        TapCmd::Mute { towards, on } => tap.set_mute(towards, on),
        TapCmd::Digit { digit, duration_ms } => {
            for (to, p) in tap.digit_to_sip(digit, duration_ms, Instant::now()) {
                let _ = socks[index(Side::Sip, false)].send_to(&p, to).await;
            }
        }
        TapCmd::Close => {}
    }
}
