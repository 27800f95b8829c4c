//! The peer protocol: length-prefixed JSON frames over TCP (or TLS), one request then one
//! response at a time on a connection. A connection opens with `Hello` naming the cluster
//! and the sender's node id; then carries openraft's three RPCs, `Forward`, by which a
//! follower hands a document to the leader, and `Publish`, a peer's directory state (see
//! `directory`).
//!
//! Frame: `u32 BE length | JSON`. A length above [`MAX_FRAME`] closes the connection before
//! anything is allocated for it.

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::directory::{Publication, Reply};
use crate::types::TypeConfig;
use crate::{Applied, ApplyError};

/// Largest frame either side sends or accepts. An append carries whole documents (each at
/// most `MAX_DOCUMENT`, at worst six bytes of JSON per byte when every byte needs a `\u`
/// escape); openraft halves its batch when told a payload is too large, so one entry per
/// frame must fit: 6 × 1 MiB plus framing is within 8 MiB.
pub const MAX_FRAME: usize = 8 * 1024 * 1024;

/// What a peer asks.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    Hello {
        cluster: String,
        from: u64,
    },
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<u64>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// Apply this document (sent to the leader by a follower); `timeout_ms` is what the
    /// originator has left.
    Forward {
        text: String,
        timeout_ms: u64,
    },
    /// The sender's directory state, or changes of it.
    Publish(Publication),
}

/// What a peer answers.
#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    Hello,
    AppendEntries(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    InstallSnapshot(Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>),
    Forward(Result<Applied, ApplyError>),
    Published(Reply),
}

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {0} bytes is above the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("malformed frame: {0}")]
    Malformed(#[from] serde_json::Error),
}

/// Encode a message as one frame (length prefix included).
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, FrameError> {
    let mut out = vec![0u8; 4];
    serde_json::to_writer(&mut out, message)?;
    let len = out.len() - 4;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    // len <= MAX_FRAME < u32::MAX
    out[..4].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(out)
}

/// Write an encoded frame and flush it.
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, frame: &[u8]) -> Result<(), FrameError> {
    w.write_all(frame).await?;
    w.flush().await?;
    Ok(())
}

/// Decode a frame's body (what follows the length prefix).
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    if body.len() > MAX_FRAME {
        return Err(FrameError::TooLarge(body.len()));
    }
    Ok(serde_json::from_slice(body)?)
}

/// Read one frame and decode it.
pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
) -> Result<T, FrameError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    decode(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frame_round_trip() {
        let frame = encode(&Request::Hello {
            cluster: "c".into(),
            from: 3,
        })
        .unwrap();
        let mut slice = frame.as_slice();
        let back: Request = read_frame(&mut slice).await.unwrap();
        assert!(matches!(back, Request::Hello { from: 3, .. }));
    }

    #[tokio::test]
    async fn oversized_length_is_refused_before_allocating() {
        let mut bytes: &[u8] = &[0xff, 0xff, 0xff, 0xff, b'{'];
        let r: Result<Request, _> = read_frame(&mut bytes).await;
        assert!(matches!(r, Err(FrameError::TooLarge(_))));
    }

    #[tokio::test]
    async fn garbage_is_malformed() {
        let mut bytes: &[u8] = &[0, 0, 0, 3, b'x', b'y', b'z'];
        let r: Result<Request, _> = read_frame(&mut bytes).await;
        assert!(matches!(r, Err(FrameError::Malformed(_))));
    }

    #[test]
    fn a_publication_from_before_last_reads_as_not_last() {
        let old = br#"{"Publish":{"epoch":1,"seq":2,"base":2,"reset":true,"about":{},"changes":[["a","1"]]}}"#;
        match decode::<Request>(old) {
            Ok(Request::Publish(p)) => assert!(p.reset && !p.last),
            other => panic!("{other:?}"),
        }
    }

    proptest::proptest! {
        /// Whatever arrives, reading yields a message or an error, never a panic; and a
        /// forwarded document survives the trip whatever its characters.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let mut slice = bytes.as_slice();
            let _ = rt.block_on(read_frame::<_, Request>(&mut slice));
        }

        #[test]
        fn publish_round_trip(
            epoch in proptest::num::u64::ANY,
            seq in proptest::num::u64::ANY,
            reset in proptest::bool::ANY,
            last in proptest::bool::ANY,
            about in proptest::collection::btree_map(".{0,20}", ".{0,20}", 0..4),
            changes in proptest::collection::vec((".{0,20}", proptest::option::of(".{0,20}")), 0..8),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let sent = Publication { epoch, seq, base: seq / 2, reset, last, about, changes };
            let frame = encode(&Request::Publish(sent.clone())).unwrap();
            let mut slice = frame.as_slice();
            let back: Request = rt.block_on(read_frame(&mut slice)).unwrap();
            match back {
                Request::Publish(p) => proptest::prop_assert_eq!(p, sent),
                other => proptest::prop_assert!(false, "{other:?}"),
            }
            let reply = Response::Published(Reply::Refused("x".into()));
            let frame = encode(&reply).unwrap();
            let back: Response = decode(&frame[4..]).unwrap();
            proptest::prop_assert!(matches!(back, Response::Published(Reply::Refused(r)) if r == "x"));
        }

        #[test]
        fn forward_round_trip(text in ".{0,200}", timeout_ms in proptest::num::u64::ANY) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let frame = encode(&Request::Forward { text: text.clone(), timeout_ms }).unwrap();
            let mut slice = frame.as_slice();
            let back: Request = rt.block_on(read_frame(&mut slice)).unwrap();
            match back {
                Request::Forward { text: t, timeout_ms: m } => {
                    proptest::prop_assert_eq!(t, text);
                    proptest::prop_assert_eq!(m, timeout_ms);
                }
                other => proptest::prop_assert!(false, "{other:?}"),
            }
        }
    }
}
