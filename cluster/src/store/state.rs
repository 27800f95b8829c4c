//! The applied state (openraft's `RaftStateMachine` + `RaftSnapshotBuilder`): the last
//! configuration document with the index of the entry that carried it, the id of the last
//! applied entry and the membership. It is small, so it is kept whole in `state.json`,
//! replaced atomically after each applied batch, and a snapshot is the same bytes.
//!
//! The document is also published on a `watch` channel: the node reconfigures itself from
//! there, on every peer, once an entry is applied locally.

use std::io::{self, Cursor};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{
    BasicNode, Entry, EntryPayload, ErrorSubject, ErrorVerb, LogId, RaftSnapshotBuilder, Snapshot,
    SnapshotMeta, StorageError, StoredMembership,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::disk;
use super::{io_err, json_err};
use crate::types::{document_hash, ApplyResponse, TypeConfig};
use crate::AppliedDocument;

/// What `state.json` and a snapshot hold.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, BasicNode>,
    document: Option<StoredDocument>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredDocument {
    index: u64,
    text: String,
}

#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<u64, BasicNode>,
    data: Vec<u8>,
}

/// The state machine. Only openraft's core task holds it.
pub struct StateMachine {
    dir: PathBuf,
    state: State,
    published: Arc<watch::Sender<Option<AppliedDocument>>>,
}

impl StateMachine {
    /// Open the state in `dir` (empty when absent). The returned receiver already shows the
    /// document found on disk.
    pub fn open(
        dir: &Path,
    ) -> io::Result<(StateMachine, watch::Receiver<Option<AppliedDocument>>)> {
        let state: State = match disk::read_optional(&dir.join("state.json"))? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(json_err)?,
            None => State::default(),
        };
        let (tx, rx) = watch::channel(published(&state));
        Ok((
            StateMachine {
                dir: dir.to_path_buf(),
                state,
                published: Arc::new(tx),
            },
            rx,
        ))
    }

    fn persist(&self) -> io::Result<()> {
        let bytes = serde_json::to_vec(&self.state).map_err(json_err)?;
        disk::write_atomic(&self.dir.join("state.json"), &bytes)
    }

    fn publish(&self) {
        let next = published(&self.state);
        self.published.send_if_modified(|current| {
            let changed = current.as_ref().map(|d| d.index) != next.as_ref().map(|d| d.index);
            if changed {
                *current = next;
            }
            changed
        });
    }
}

fn published(state: &State) -> Option<AppliedDocument> {
    state.document.as_ref().map(|d| AppliedDocument {
        index: d.index,
        hash: document_hash(&d.text),
        text: Arc::from(d.text.as_str()),
    })
}

fn write_snapshot(dir: &Path, meta: &SnapshotMeta<u64, BasicNode>, data: &[u8]) -> io::Result<()> {
    let stored = StoredSnapshot {
        meta: meta.clone(),
        data: data.to_vec(),
    };
    let bytes = serde_json::to_vec(&stored).map_err(json_err)?;
    disk::write_atomic(&dir.join("snapshot.json"), &bytes)
}

fn snapshot_err(e: io::Error) -> StorageError<u64> {
    io_err(ErrorSubject::Snapshot(None), ErrorVerb::Write, e)
}

/// Builds a snapshot from a copy of the state taken when openraft asked for the builder.
pub struct SnapshotBuilder {
    dir: PathBuf,
    state: State,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<u64>> {
        let data = serde_json::to_vec(&self.state).map_err(|e| snapshot_err(json_err(e)))?;
        let last = self.state.last_applied;
        let meta = SnapshotMeta {
            last_log_id: last,
            last_membership: self.state.membership.clone(),
            snapshot_id: match last {
                Some(id) => format!("{}-{}", id.leader_id.term, id.index),
                None => "empty".to_string(),
            },
        };
        write_snapshot(&self.dir, &meta, &data).map_err(snapshot_err)?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), StorageError<u64>> {
        Ok((self.state.last_applied, self.state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ApplyResponse>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut responses = Vec::new();
        for entry in entries {
            self.state.last_applied = Some(entry.log_id);
            let response = match entry.payload {
                EntryPayload::Blank => ApplyResponse::default(),
                EntryPayload::Normal(doc) => {
                    let hash = document_hash(&doc.text);
                    self.state.document = Some(StoredDocument {
                        index: entry.log_id.index,
                        text: doc.text,
                    });
                    ApplyResponse { hash: Some(hash) }
                }
                EntryPayload::Membership(m) => {
                    self.state.membership = StoredMembership::new(Some(entry.log_id), m);
                    ApplyResponse::default()
                }
            };
            responses.push(response);
        }
        self.persist()
            .map_err(|e| io_err(ErrorSubject::StateMachine, ErrorVerb::Write, e))?;
        self.publish();
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            dir: self.dir.clone(),
            state: self.state.clone(),
        }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let data = snapshot.into_inner();
        let read_err = |e| {
            io_err(
                ErrorSubject::Snapshot(Some(meta.signature())),
                ErrorVerb::Read,
                e,
            )
        };
        let state: State = serde_json::from_slice(&data).map_err(|e| read_err(json_err(e)))?;
        write_snapshot(&self.dir, meta, &data).map_err(snapshot_err)?;
        self.state = State {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
            document: state.document,
        };
        self.persist()
            .map_err(|e| io_err(ErrorSubject::StateMachine, ErrorVerb::Write, e))?;
        self.publish();
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<u64>> {
        let read = || -> io::Result<Option<StoredSnapshot>> {
            match disk::read_optional(&self.dir.join("snapshot.json"))? {
                Some(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(json_err)?)),
                None => Ok(None),
            }
        };
        let stored =
            read().map_err(|e| io_err(ErrorSubject::Snapshot(None), ErrorVerb::Read, e))?;
        Ok(stored.map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, Membership};

    use super::*;
    use crate::types::DocumentEntry;

    fn log_id(index: u64) -> LogId<u64> {
        LogId::new(CommittedLeaderId::new(1, 1), index)
    }

    fn normal(index: u64, text: &str) -> Entry<TypeConfig> {
        Entry {
            log_id: log_id(index),
            payload: EntryPayload::Normal(DocumentEntry { text: text.into() }),
        }
    }

    #[tokio::test]
    async fn apply_persists_publishes_and_snapshots_install_elsewhere() {
        let a = tempfile::tempdir().unwrap();
        let (mut sm, rx) = StateMachine::open(a.path()).unwrap();
        assert!(rx.borrow().is_none());
        let members = Membership::new(vec![[1u64].into()], ());
        let entries = vec![
            Entry {
                log_id: log_id(1),
                payload: EntryPayload::Membership(members),
            },
            normal(2, "one"),
            Entry {
                log_id: log_id(3),
                payload: EntryPayload::Blank,
            },
        ];
        let responses = sm.apply(entries).await.unwrap();
        assert_eq!(
            responses[1].hash.as_deref(),
            Some(document_hash("one").as_str())
        );
        assert_eq!(responses[2], ApplyResponse::default());
        assert_eq!(rx.borrow().as_ref().map(|d| d.index), Some(2));

        // Reopened: the state is back, applied up to the blank entry.
        let (mut again, rx2) = StateMachine::open(a.path()).unwrap();
        assert_eq!(again.applied_state().await.unwrap().0, Some(log_id(3)));
        assert_eq!(
            rx2.borrow().as_ref().map(|d| d.hash.clone()),
            Some(document_hash("one"))
        );

        // A snapshot built here installs into an empty machine elsewhere.
        let snapshot = sm
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        let b = tempfile::tempdir().unwrap();
        let (mut other, rx3) = StateMachine::open(b.path()).unwrap();
        other
            .install_snapshot(&snapshot.meta, snapshot.snapshot)
            .await
            .unwrap();
        assert_eq!(rx3.borrow().as_ref().map(|d| d.index), Some(2));
        let current = other.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(current.meta.last_log_id, Some(log_id(3)));
        assert_eq!(other.applied_state().await.unwrap().0, Some(log_id(3)));
    }
}
