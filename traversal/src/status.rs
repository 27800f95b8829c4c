//! The node status (`causeway status`): zones, traversal link state and registrations, as a
//! JSON snapshot refreshed by the driver extension, served over HTTP on a loopback address.
//!
//! The HTTP side is deliberately tiny (one GET, one JSON answer, connection closed): it is an
//! operator's probe on loopback, not an API server. It never touches the proxy core; it reads
//! the last snapshot only.

use crate::client::{LinkClient, LinkStatus};
use causeway_sip::proxy::Core;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Debug, Default, Serialize)]
pub struct ZoneStatus {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// What the zone points at: a peer, a port, nameservers.
    pub detail: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Registration {
    pub aor: String,
    pub contact: String,
    pub expires_in: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    pub system: String,
    pub role: String,
    pub version: String,
    /// Unix seconds of this snapshot.
    pub time: u64,
    pub zones: Vec<ZoneStatus>,
    pub links: Vec<LinkStatus>,
    pub registrations: Vec<Registration>,
    /// The media relay, when the node anchors calls.
    pub media: Option<MediaStatus>,
    /// The gatekeeper and H.323 call signaling, when `[h323] enabled`.
    pub h323: Option<H323Status>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct H323Registration {
    pub endpoint_id: String,
    pub aliases: Vec<String>,
    pub ras: String,
    pub call_signal: Vec<String>,
    pub expires_in: u64,
    pub probing: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct H323Call {
    pub id: u64,
    pub caller: String,
    pub called: String,
    pub callee: Option<String>,
    pub state: String,
    pub h245: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct H323Status {
    pub registrations: Vec<H323Registration>,
    pub calls: Vec<H323Call>,
    /// Calls admitted by ARQ and not yet disengaged.
    pub admitted_calls: usize,
    /// Setups received since start.
    pub calls_total: u64,
    /// RAS messages received, by type (GRQ, RRQ, ARQ, ...).
    pub ras_received: std::collections::BTreeMap<String, u64>,
    pub ras_malformed: u64,
    pub ras_rejected: u64,
    /// Q.931/H.245 messages or streams that could not be parsed.
    pub signaling_malformed: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct MediaStatus {
    pub sessions: usize,
    pub sessions_created: u64,
    /// Port pairs held by sessions (E's multiplexed pair not counted).
    pub ports_in_use: usize,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub dropped_stranger: u64,
    pub dropped_unknown: u64,
    pub expired: u64,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Status {
    /// Fills the live parts from the core and C's clients.
    pub fn fill(&mut self, core: &Core, clients: &[LinkClient], now: Instant) {
        self.time = unix(SystemTime::now());
        self.links = clients.iter().map(LinkClient::status).collect();
        // E's side: the links C holds to us
        let mut server: Vec<LinkStatus> = core
            .links()
            .iter()
            .filter(|(zone, _)| !clients.iter().any(|c| c.zone() == zone.as_str()))
            .map(|(zone, l)| LinkStatus {
                zone: zone.clone(),
                peer: l.remote.to_string(),
                transport: l.kind.via_token().to_string(),
                state: "up".into(),
                since: unix(l.since),
                last_keepalive: Some(unix(l.refreshed)),
                last_error: None,
                attempts: 0,
            })
            .collect();
        // server zones without a link are down
        for z in &self.zones {
            if z.kind == "traversal-server" && !server.iter().any(|s| s.zone == z.name) {
                server.push(LinkStatus {
                    zone: z.name.clone(),
                    state: "down".into(),
                    ..LinkStatus::default()
                });
            }
        }
        server.sort_by(|a, b| a.zone.cmp(&b.zone));
        self.links.extend(server);
        self.registrations = core
            .registrations(now)
            .into_iter()
            .map(|(aor, contact, expires_in)| Registration {
                aor,
                contact,
                expires_in,
            })
            .collect();
    }
}

impl Status {
    pub fn fill_media(&mut self, r: &causeway_media::relay::RelayStats, ports_in_use: usize) {
        self.media = Some(MediaStatus {
            sessions: r.table.sessions,
            sessions_created: r.created,
            ports_in_use,
            packets_received: r.received,
            packets_sent: r.sent,
            dropped_stranger: r.table.dropped_stranger,
            dropped_unknown: r.table.dropped_unknown_port + r.table.dropped_unknown_source,
            expired: r.table.expired,
        });
    }
}

impl Status {
    pub fn fill_h323(&mut self, h: &causeway_h323::driver::Snapshot) {
        self.h323 = Some(H323Status {
            registrations: h
                .registrations
                .iter()
                .map(|r| H323Registration {
                    endpoint_id: r.id.clone(),
                    aliases: r.aliases.clone(),
                    ras: r.ras.to_string(),
                    call_signal: r.call_signal.iter().map(ToString::to_string).collect(),
                    expires_in: r.seconds_left,
                    probing: r.probing,
                })
                .collect(),
            calls: h
                .calls
                .iter()
                .map(|c| H323Call {
                    id: c.id,
                    caller: c.caller.to_string(),
                    called: c.called.clone(),
                    callee: c.callee.map(|a| a.to_string()),
                    state: format!("{:?}", c.state),
                    h245: format!("{:?}", c.h245),
                })
                .collect(),
            admitted_calls: h.admitted_calls,
            calls_total: h.calls_total,
            ras_received: h
                .ras_received
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            ras_malformed: h.ras_malformed,
            ras_rejected: h.ras_rejected,
            signaling_malformed: h.q931_malformed,
        });
    }
}

/// The latest snapshot, as JSON.
#[derive(Clone, Default)]
pub struct StatusHandle(Arc<Mutex<String>>);

impl StatusHandle {
    pub fn set(&self, s: Status) {
        let json = serde_json::to_string_pretty(&s).unwrap_or_else(|_| "{}".into());
        if let Ok(mut g) = self.0.lock() {
            *g = json;
        }
    }
    pub fn get(&self) -> String {
        self.0.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

/// Serves `GET /status` on `addr` until the task is dropped.
pub async fn serve(addr: SocketAddr, handle: StatusHandle) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("status on http://{addr}/status");
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut n = 0;
                let read = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                    while n < buf.len() {
                        match sock.read(&mut buf[n..]).await {
                            Ok(0) | Err(_) => break,
                            Ok(k) => {
                                n += k;
                                if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                                    break;
                                }
                            }
                        }
                    }
                })
                .await;
                if read.is_err() {
                    return;
                }
                let req = String::from_utf8_lossy(&buf[..n]);
                let (code, body) = if req.starts_with("GET /status ") || req.starts_with("GET / ") {
                    ("200 OK", handle.get())
                } else {
                    ("404 Not Found", "{\"error\": \"GET /status\"}".to_string())
                };
                let resp = format!(
                    "HTTP/1.1 {code}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok(())
}
