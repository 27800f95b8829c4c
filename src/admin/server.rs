//! The admin listener: `GET /status` (and `GET /`) answer the latest status snapshot as JSON,
//! on a loopback address.
//!
//! The HTTP side is deliberately tiny (one GET, one JSON answer, connection closed): it is an
//! operator's probe on loopback, not an API server. It never touches the node's state machines;
//! it reads the last snapshot only.

use super::snapshot::Status;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A part of the node that answers GETs under paths of its own (the call history, the
/// metrics), beside the status the listener always serves.
pub trait Endpoint: Send + Sync {
    /// `Some((content type, body))` when `path` (without the query) is this endpoint's.
    fn get(&self, path: &str) -> Option<(&'static str, String)>;
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
pub async fn serve(
    addr: SocketAddr,
    handle: StatusHandle,
    endpoints: Vec<Arc<dyn Endpoint>>,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("status on http://{addr}/status");
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            let endpoints = endpoints.clone();
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
                let path = req
                    .strip_prefix("GET ")
                    .and_then(|r| r.split(' ').next())
                    .map(|p| p.split('?').next().unwrap_or(p))
                    .unwrap_or("");
                let found = match path {
                    "/status" | "/" => Some(("application/json", handle.get())),
                    p => endpoints.iter().find_map(|e| e.get(p)),
                };
                let (code, ctype, body) = match found {
                    Some((ctype, body)) => ("200 OK", ctype, body),
                    None => (
                        "404 Not Found",
                        "application/json",
                        "{\"error\": \"GET /status\"}".to_string(),
                    ),
                };
                let resp = format!(
                    "HTTP/1.1 {code}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok(())
}
