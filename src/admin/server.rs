//! The admin listener: accepts connections (plain or TLS), bounds what each may cost, and hands
//! requests to the routes (`routes`). Owns sockets and limits only: what is answered is in
//! `routes`, who may ask in `auth`.
//!
//! Choices:
//! - hyper's HTTP/1.1 connection (axum's router as its service) instead of `axum::serve`:
//!   `axum::serve` takes no TLS acceptor, no header-read timeout and no cap on connections.
//! - Every connection is bounded three ways, so that a slow or hostile client cannot hold the
//!   listener: at most `MAX_CONNECTIONS` at once (more are closed at accept), the request head
//!   must arrive within `HEAD_TIMEOUT` and fit `MAX_HEAD`, and a connection lives at most
//!   `CONNECTION_LIFETIME` (a browser simply reconnects on its next refresh).

use super::auth::Gate;
use super::routes;
use super::snapshot::{AdminStatus, Status};
use axum::extract::ConnectInfo;
use causeway_config::zones::AdminUser;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Connections served at once; an operator's page and a few scripts need far fewer.
const MAX_CONNECTIONS: usize = 32;
/// Time for a request head (and for a TLS handshake) to arrive.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head read; hyper's minimum buffer, far above any GET of ours.
const MAX_HEAD: usize = 8192;
/// A keep-alive connection is closed after this long, whatever it does.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// A part of the node that answers GETs under paths of its own (the call history, the
/// metrics), beside the status the listener always serves.
pub trait Endpoint: Send + Sync {
    /// `Some((content type, body))` when `path` (without the query) is this endpoint's.
    fn get(&self, path: &str) -> Option<(&'static str, String)>;
}

/// The latest snapshot, as JSON, and the listener's own counters (read back into the next
/// snapshot by the publisher).
#[derive(Clone, Default)]
pub struct StatusHandle {
    json: Arc<Mutex<String>>,
    counters: Arc<Counters>,
}

/// What the listener counts for the status JSON's `admin` object.
#[derive(Default)]
pub struct Counters {
    pub auth_failures: AtomicU64,
    pub rate_limited: AtomicU64,
}

impl StatusHandle {
    pub fn set(&self, s: Status) {
        let json = serde_json::to_string_pretty(&s).unwrap_or_else(|_| "{}".into());
        if let Ok(mut g) = self.json.lock() {
            *g = json;
        }
    }
    pub fn get(&self) -> String {
        self.json.lock().map(|g| g.clone()).unwrap_or_default()
    }
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
    /// The listener's counters as the status shows them.
    pub fn admin_status(&self) -> AdminStatus {
        AdminStatus {
            auth_failures: self.counters.auth_failures.load(Relaxed),
            rate_limited: self.counters.rate_limited.load(Relaxed),
        }
    }
}

/// What the admin listener asks of the node's configuration: `POST /reload` (re-read the file)
/// and `POST /config` (a cluster document to commit); the answer says what was applied, or
/// why nothing was.
pub enum Ask {
    Reload(Reply),
    Apply(String, Reply),
}

pub type Reply = tokio::sync::oneshot::Sender<Result<String, String>>;

/// Where the admin listener sends its `Ask`s.
pub type Asks = tokio::sync::mpsc::Sender<Ask>;

/// Where and how the listener serves: `[admin]` with the TLS configuration built from the
/// node's certificate when `[admin] tls`.
pub struct Access {
    pub listen: SocketAddr,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub users: Vec<AdminUser>,
}

/// Serves the status page, the status JSON and `endpoints` on `access.listen` until the
/// runtime stops.
pub async fn serve(
    access: Access,
    handle: StatusHandle,
    (endpoints, asks): (Vec<Arc<dyn Endpoint>>, Option<Asks>),
) -> std::io::Result<()> {
    let listener = TcpListener::bind(access.listen).await?;
    let scheme = if access.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(
        users = access.users.len(),
        "status page on {scheme}://{}/",
        access.listen
    );
    let gate = Arc::new(Gate::new(access.users, handle.clone()));
    let app = routes::router(handle, (endpoints, asks), gate);
    let tls = access.tls.map(TlsAcceptor::from);
    tokio::spawn(accept(listener, tls, app));
    Ok(())
}

async fn accept(listener: TcpListener, tls: Option<TlsAcceptor>, app: axum::Router) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (sock, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // out of descriptors: let some close instead of spinning
                tracing::debug!("admin accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue; // dropped: closed at once
        };
        let (tls, app) = (tls.clone(), app.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let _ =
                tokio::time::timeout(CONNECTION_LIFETIME, connection(sock, peer, tls, app)).await;
        });
    }
}

/// One connection: the TLS handshake if any, then HTTP/1.1 requests until it closes.
async fn connection(
    sock: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    app: axum::Router,
) {
    let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
        // what `auth` rate-limits by
        req.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(req)
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD);
    let served = match tls {
        Some(acceptor) => match tokio::time::timeout(HEAD_TIMEOUT, acceptor.accept(sock)).await {
            Ok(Ok(stream)) => http.serve_connection(TokioIo::new(stream), service).await,
            _ => return,
        },
        None => http.serve_connection(TokioIo::new(sock), service).await,
    };
    if let Err(e) = served {
        tracing::debug!(%peer, "admin connection: {e}");
    }
}
