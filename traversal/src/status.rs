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
    pub fn fill_media(&mut self, r: &crate::media::relay::RelayStats, ports_in_use: usize) {
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
