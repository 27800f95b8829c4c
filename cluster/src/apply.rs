//! Writing a document: on the leader ([`leader_apply`]: confirm a majority, then
//! `client_write`, which returns once the entry is committed and applied here), and from any
//! peer ([`apply_anywhere`]: find the leader, apply locally or `Forward` to it, follow a
//! leader change until the deadline).
//!
//! Choices: the leader confirms it still reaches a majority *before* proposing, so that a
//! leader cut off from the others refuses (`NoQuorum`, nothing proposed; the asking peer
//! retries until its deadline in case the majority returns) instead of appending an entry
//! that could commit much later. The race left — the majority vanishes
//! between the check and the commit — is reported as `NotCommitted`, which says that the
//! entry may still be applied.

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::Raft;
use tokio::time::Instant;

use crate::net::{CallError, PeerClient, Shared};
use crate::types::{document_hash, DocumentEntry, TypeConfig};
use crate::wire::{self, Request, Response};
use crate::{Applied, ApplyError, MAX_DOCUMENT};

/// Longest wait an apply accepts; longer ones (a peer's `Forward` may ask anything) are cut
/// to this, so that no deadline arithmetic can overflow.
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// How often a peer re-looks for the leader while none is known or the known one fails.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Apply `text` on this peer, which should be the leader.
pub async fn leader_apply(
    raft: &Raft<TypeConfig>,
    text: String,
    timeout: Duration,
) -> Result<Applied, ApplyError> {
    check_size(&text)?;
    let me = raft.metrics().borrow().id;
    let timeout = timeout.min(MAX_TIMEOUT);
    let start = Instant::now();
    let deadline = start + timeout;
    match tokio::time::timeout_at(deadline, raft.get_read_log_id()).await {
        Err(_) | Ok(Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_)))) => {
            return Err(ApplyError::NoQuorum {
                leader: me,
                waited_ms: ms(start.elapsed()),
            })
        }
        Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)))) => {
            return Err(ApplyError::NotLeader {
                leader: f.leader_id,
            })
        }
        Ok(Err(RaftError::Fatal(_))) => return Err(ApplyError::Shutdown),
        Ok(Ok(_)) => {}
    }
    let hash = document_hash(&text);
    match tokio::time::timeout_at(deadline, raft.client_write(DocumentEntry { text })).await {
        Err(_) => Err(ApplyError::NotCommitted {
            leader: me,
            waited_ms: ms(timeout),
        }),
        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
            Err(ApplyError::NotLeader {
                leader: f.leader_id,
            })
        }
        Ok(Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(e)))) => {
            Err(ApplyError::Engine(e.to_string()))
        }
        Ok(Err(RaftError::Fatal(_))) => Err(ApplyError::Shutdown),
        Ok(Ok(written)) => Ok(Applied {
            index: written.log_id.index,
            hash: written.data.hash.unwrap_or(hash),
        }),
    }
}

/// Hand `text` to the leader `leader` and wait for its answer.
async fn forward(
    shared: &Arc<Shared>,
    leader: u64,
    text: String,
    timeout: Duration,
) -> Result<Applied, ApplyError> {
    let Some(addr) = shared.peers.get(&leader).copied() else {
        return Err(ApplyError::Unreachable {
            peer: leader,
            reason: "not in the peer table".into(),
        });
    };
    // The leader gets a little less than we have, so its answer arrives before we give up.
    let margin = (timeout / 10).min(Duration::from_millis(200));
    let request = Request::Forward {
        text,
        timeout_ms: ms(timeout.saturating_sub(margin)),
    };
    let frame = wire::encode(&request).map_err(|e| ApplyError::Unreachable {
        peer: leader,
        reason: e.to_string(),
    })?;
    let mut client = PeerClient::new(shared.clone(), leader, addr);
    match client.call(&frame, timeout).await {
        Ok(Response::Forward(result)) => result,
        Ok(_) => Err(ApplyError::Unreachable {
            peer: leader,
            reason: "answered out of turn".into(),
        }),
        Err(CallError::Timeout(..)) => Err(ApplyError::NotCommitted {
            leader,
            waited_ms: ms(timeout),
        }),
        Err(CallError::Unreachable(_, io)) => Err(ApplyError::Unreachable {
            peer: leader,
            reason: io.to_string(),
        }),
        Err(e) => Err(ApplyError::Unreachable {
            peer: leader,
            reason: e.to_string(),
        }),
    }
}

/// Apply `text` from this peer, whatever its role, within `timeout`.
pub async fn apply_anywhere(
    raft: &Raft<TypeConfig>,
    shared: &Arc<Shared>,
    text: String,
    timeout: Duration,
) -> Result<Applied, ApplyError> {
    check_size(&text)?;
    let timeout = timeout.min(MAX_TIMEOUT);
    let start = Instant::now();
    let deadline = start + timeout;
    let mut metrics = raft.metrics();
    let mut last_error = None;
    loop {
        let leader = metrics.borrow_and_update().current_leader;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let attempt = match leader {
            None => None,
            Some(id) if id == shared.node_id => {
                Some(leader_apply(raft, text.clone(), remaining).await)
            }
            Some(id) => Some(forward(shared, id, text.clone(), remaining).await),
        };
        match attempt {
            Some(Ok(applied)) => return Ok(applied),
            Some(Err(e)) if e.is_retriable() => last_error = Some(e),
            Some(Err(e)) => return Err(e),
            None => {}
        }
        let now = Instant::now();
        if now >= deadline {
            let waited_ms = ms(now - start);
            return Err(match last_error {
                Some(ApplyError::NoQuorum { leader, .. }) => {
                    ApplyError::NoQuorum { leader, waited_ms }
                }
                Some(e) => e,
                None => ApplyError::NoLeader { waited_ms },
            });
        }
        // Wake on a leader change, or re-try after a pause.
        let pause = deadline.min(now + RETRY_PAUSE);
        if let Ok(Err(_)) = tokio::time::timeout_at(pause, metrics.changed()).await {
            return Err(ApplyError::Shutdown);
        }
    }
}

/// Documents above `MAX_DOCUMENT` are refused before they reach the log (a log entry must fit
/// one peer-protocol frame).
fn check_size(text: &str) -> Result<(), ApplyError> {
    if text.len() > MAX_DOCUMENT {
        return Err(ApplyError::TooLarge {
            len: text.len(),
            max: MAX_DOCUMENT,
        });
    }
    Ok(())
}
