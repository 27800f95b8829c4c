//! The incoming side of the peer protocol: accepts on this peer's address, closes (and
//! counts) connections from addresses that are not peers, secures the rest with TLS when
//! configured, checks the `Hello` (cluster name, a known node id whose configured address is
//! the source address), then serves requests in order: openraft's RPCs go to the local
//! Raft, `Forward` goes through [`crate::apply::leader_apply`], `Publish` to the directory's
//! [`Exchange`] under the connection's peer id.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use openraft::Raft;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::apply::leader_apply;
use crate::net::{PeerStream, Shared};
use crate::publish::Exchange;
use crate::types::TypeConfig;
use crate::wire::{self, FrameError, Request, Response};

/// Most incoming connections served at once. Each peer opens one per replication stream
/// and one per forwarded write: a handful each, for at most five others. Past this, new
/// connections are refused (and counted) so that no address can make us hold tasks and
/// buffers without bound.
const MAX_CONNECTIONS: usize = 64;

/// A peer has this long to finish TLS and `Hello` after connecting.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
enum HandshakeError {
    #[error("TLS: {0}")]
    Tls(io::Error),
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("hello refused: {0}")]
    Refused(&'static str),
    #[error("no hello within {HANDSHAKE_TIMEOUT:?}")]
    Timeout,
}

/// Accept peers until `stop` changes (or its sender is gone); then every connection task
/// is aborted with the listener.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    raft: Raft<TypeConfig>,
    exchange: Arc<Exchange>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, from)) => {
                    if !shared.is_peer_ip(from.ip()) {
                        shared.refuse();
                        tracing::warn!(%from, "cluster: connection from a non-peer address refused");
                        drop(tcp);
                        continue;
                    }
                    if conns.len() >= MAX_CONNECTIONS {
                        shared.refuse();
                        tracing::warn!(%from, "cluster: too many peer connections, refused");
                        drop(tcp);
                        continue;
                    }
                    conns.spawn(connection(tcp, from, shared.clone(), raft.clone(), exchange.clone()));
                }
                Err(e) => {
                    // Out of descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "cluster: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}

async fn handshake(
    tcp: TcpStream,
    from: SocketAddr,
    shared: &Shared,
) -> Result<(Box<dyn PeerStream>, u64), HandshakeError> {
    let mut stream: Box<dyn PeerStream> = match &shared.tls {
        None => Box::new(tcp),
        Some(tls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.server.clone());
            Box::new(acceptor.accept(tcp).await.map_err(HandshakeError::Tls)?)
        }
    };
    let Request::Hello { cluster, from: id } = wire::read_frame(&mut stream).await? else {
        return Err(HandshakeError::Refused("first frame is not a hello"));
    };
    if cluster != shared.name {
        return Err(HandshakeError::Refused("another cluster's name"));
    }
    if id == shared.node_id {
        return Err(HandshakeError::Refused("our own node id"));
    }
    match shared.peers.get(&id) {
        Some(addr) if addr.ip() == from.ip() => {}
        Some(_) => {
            return Err(HandshakeError::Refused(
                "node id from another peer's address",
            ))
        }
        None => return Err(HandshakeError::Refused("unknown node id")),
    }
    wire::write_frame(&mut stream, &wire::encode(&Response::Hello)?).await?;
    Ok((stream, id))
}

async fn connection(
    tcp: TcpStream,
    from: SocketAddr,
    shared: Arc<Shared>,
    raft: Raft<TypeConfig>,
    exchange: Arc<Exchange>,
) {
    let _ = tcp.set_nodelay(true);
    let greeted = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(tcp, from, &shared)).await;
    let (mut stream, peer) = match greeted.unwrap_or(Err(HandshakeError::Timeout)) {
        Ok(ok) => ok,
        Err(e) => {
            shared.refuse();
            tracing::warn!(%from, error = %e, "cluster: connection refused");
            return;
        }
    };
    loop {
        let request: Request = match wire::read_frame(&mut stream).await {
            Ok(request) => request,
            Err(FrameError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return,
            Err(e) => {
                tracing::warn!(peer, error = %e, "cluster: peer connection closed");
                return;
            }
        };
        shared.touch(peer);
        let response = handle(request, peer, &raft, &exchange).await;
        let frame = match wire::encode(&response) {
            Ok(frame) => frame,
            Err(e) => {
                tracing::warn!(peer, error = %e, "cluster: answer not sendable");
                return;
            }
        };
        if let Err(e) = wire::write_frame(&mut stream, &frame).await {
            tracing::debug!(peer, error = %e, "cluster: peer went away");
            return;
        }
    }
}

async fn handle(
    request: Request,
    peer: u64,
    raft: &Raft<TypeConfig>,
    exchange: &Exchange,
) -> Response {
    match request {
        Request::Hello { .. } => Response::Hello,
        Request::AppendEntries(rpc) => Response::AppendEntries(raft.append_entries(rpc).await),
        Request::Vote(rpc) => Response::Vote(raft.vote(rpc).await),
        Request::InstallSnapshot(rpc) => {
            Response::InstallSnapshot(raft.install_snapshot(rpc).await)
        }
        Request::Forward { text, timeout_ms } => {
            Response::Forward(leader_apply(raft, text, Duration::from_millis(timeout_ms)).await)
        }
        Request::Publish(publication) => Response::Published(exchange.receive(peer, publication)),
    }
}
