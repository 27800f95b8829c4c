//! The outgoing side of the peer protocol: a connection to one peer (TCP, then TLS when
//! configured, then `Hello`), kept open and reused, re-dialled after any failure; and
//! openraft's `RaftNetworkFactory`/`RaftNetwork` on top of it. Also the state the incoming
//! side shares with it ([`Shared`]): the peer table, TLS, last contact, refusal counter.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    Unreachable,
};
use openraft::network::{Backoff, RPCOption};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, RaftNetwork, RaftNetworkFactory};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};

use crate::types::TypeConfig;
use crate::wire::{self, FrameError, Request, Response};
use crate::Tls;

/// A byte stream to or from a peer, plain or TLS.
pub trait PeerStream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> PeerStream for T {}

/// What the listener, the outgoing connections and the status share.
pub struct Shared {
    pub name: String,
    pub node_id: u64,
    pub peers: BTreeMap<u64, SocketAddr>,
    pub tls: Option<Tls>,
    /// When each peer was last heard from (an answer to us, or a request from it).
    last_contact: Mutex<HashMap<u64, Instant>>,
    /// Connections closed unheard: from a non-peer address, a bad handshake, garbage.
    pub refused: AtomicU64,
}

impl Shared {
    pub fn new(
        name: String,
        node_id: u64,
        peers: BTreeMap<u64, SocketAddr>,
        tls: Option<Tls>,
    ) -> Shared {
        Shared {
            name,
            node_id,
            peers,
            tls,
            last_contact: Mutex::new(HashMap::new()),
            refused: AtomicU64::new(0),
        }
    }

    pub fn touch(&self, peer: u64) {
        let mut map = self.last_contact.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(peer, Instant::now());
    }

    pub fn last_contact(&self, peer: u64) -> Option<Instant> {
        let map = self.last_contact.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&peer).copied()
    }

    pub fn refuse(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Is `ip` the address of some peer (other than this one's own id, which may share it)?
    pub fn is_peer_ip(&self, ip: IpAddr) -> bool {
        self.peers.values().any(|a| a.ip() == ip)
    }
}

/// Why a call to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("cannot connect to peer {0}: {1}")]
    Unreachable(u64, std::io::Error),
    #[error("peer {0}: {1}")]
    Frame(u64, FrameError),
    #[error("peer {0} did not answer within {1:?}")]
    Timeout(u64, Duration),
    #[error("peer {0} answered out of turn")]
    Unexpected(u64),
}

/// One peer, seen from here: its address and the open connection, if any.
pub struct PeerClient {
    shared: Arc<Shared>,
    target: u64,
    addr: SocketAddr,
    conn: Option<Box<dyn PeerStream>>,
}

impl PeerClient {
    pub fn new(shared: Arc<Shared>, target: u64, addr: SocketAddr) -> PeerClient {
        PeerClient {
            shared,
            target,
            addr,
            conn: None,
        }
    }

    /// Dial, secure and greet the peer.
    async fn connect(&self) -> Result<Box<dyn PeerStream>, CallError> {
        let unreachable = |e| CallError::Unreachable(self.target, e);
        let socket = match self.addr {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(unreachable)?;
        // Leave from our own peer address: the far side admits connections by source address.
        if let Some(own) = self.shared.peers.get(&self.shared.node_id) {
            if !own.ip().is_unspecified() && own.is_ipv4() == self.addr.is_ipv4() {
                socket
                    .bind(SocketAddr::new(own.ip(), 0))
                    .map_err(unreachable)?;
            }
        }
        let tcp: TcpStream = socket.connect(self.addr).await.map_err(unreachable)?;
        let _ = tcp.set_nodelay(true);
        let mut stream: Box<dyn PeerStream> = match &self.shared.tls {
            None => Box::new(tcp),
            Some(tls) => {
                let connector = tokio_rustls::TlsConnector::from(tls.client.clone());
                let name = ServerName::IpAddress(self.addr.ip().into());
                Box::new(connector.connect(name, tcp).await.map_err(unreachable)?)
            }
        };
        let hello = wire::encode(&Request::Hello {
            cluster: self.shared.name.clone(),
            from: self.shared.node_id,
        })
        .map_err(|e| CallError::Frame(self.target, e))?;
        wire::write_frame(&mut stream, &hello)
            .await
            .map_err(|e| CallError::Frame(self.target, e))?;
        match wire::read_frame(&mut stream).await {
            Ok(Response::Hello) => Ok(stream),
            Ok(_) => Err(CallError::Unexpected(self.target)),
            Err(e) => Err(CallError::Frame(self.target, e)),
        }
    }

    /// Send one encoded request and wait for its answer, within `ttl` for the whole exchange
    /// (dialling included). Any failure drops the connection; the next call re-dials.
    pub async fn call(&mut self, frame: &[u8], ttl: Duration) -> Result<Response, CallError> {
        let result = tokio::time::timeout(ttl, self.exchange(frame)).await;
        let result = result.unwrap_or(Err(CallError::Timeout(self.target, ttl)));
        match &result {
            Ok(_) => self.shared.touch(self.target),
            Err(_) => self.conn = None,
        }
        result
    }

    async fn exchange(&mut self, frame: &[u8]) -> Result<Response, CallError> {
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.connect().await?,
        };
        let frame_err = |e| CallError::Frame(self.target, e);
        wire::write_frame(&mut conn, frame)
            .await
            .map_err(frame_err)?;
        let response = wire::read_frame(&mut conn).await.map_err(frame_err)?;
        self.conn = Some(conn);
        Ok(response)
    }

    fn rpc_error<E: std::error::Error>(&self, e: CallError) -> RPCError<u64, BasicNode, E> {
        match e {
            CallError::Unreachable(_, io) => RPCError::Unreachable(Unreachable::new(&io)),
            other => RPCError::Network(NetworkError::new(&other)),
        }
    }
}

/// Makes one [`PeerClient`] per replication stream openraft opens.
pub struct NetworkFactory {
    pub shared: Arc<Shared>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> PeerClient {
        // The peer table is the authority; the membership's address is a fallback only.
        let addr = self
            .shared
            .peers
            .get(&target)
            .copied()
            .or_else(|| node.addr.parse().ok())
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        PeerClient::new(self.shared.clone(), target, addr)
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        let entries = rpc.entries.len() as u64;
        let frame = match wire::encode(&Request::AppendEntries(rpc)) {
            Ok(frame) => frame,
            // openraft retries with fewer entries.
            Err(FrameError::TooLarge(_)) if entries > 1 => {
                return Err(RPCError::PayloadTooLarge(
                    PayloadTooLarge::new_entries_hint(entries / 2),
                ))
            }
            Err(e) => return Err(RPCError::Network(NetworkError::new(&e))),
        };
        match self.call(&frame, option.hard_ttl()).await {
            Ok(Response::AppendEntries(Ok(r))) => Ok(r),
            Ok(Response::AppendEntries(Err(e))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(self.rpc_error(CallError::Unexpected(self.target))),
            Err(e) => Err(self.rpc_error(e)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        let frame = wire::encode(&Request::InstallSnapshot(rpc))
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        match self.call(&frame, option.hard_ttl()).await {
            Ok(Response::InstallSnapshot(Ok(r))) => Ok(r),
            Ok(Response::InstallSnapshot(Err(e))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(self.rpc_error(CallError::Unexpected(self.target))),
            Err(e) => Err(self.rpc_error(e)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        let frame = wire::encode(&Request::Vote(rpc))
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        match self.call(&frame, option.hard_ttl()).await {
            Ok(Response::Vote(Ok(r))) => Ok(r),
            Ok(Response::Vote(Err(e))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(_) => Err(self.rpc_error(CallError::Unexpected(self.target))),
            Err(e) => Err(self.rpc_error(e)),
        }
    }

    fn backoff(&self) -> Backoff {
        // A restarted peer is re-dialled within this; short, as the cluster is small.
        Backoff::new(std::iter::repeat(Duration::from_millis(200)))
    }
}
