//! The Raft log and vote on disk (openraft's `RaftLogStorage` + `RaftLogReader`).
//!
//! Every entry is one record of the append-only file `log`, fsynced before openraft is told
//! the append is durable. The entries are also kept in memory, indexed: the log holds whole
//! configuration documents, few of them, since openraft compacts it behind each snapshot
//! (`purge`), so the in-memory copy stays bounded by the snapshot policy.
//!
//! Truncation (a follower's conflicting suffix) cuts the file at the first removed entry.
//! Purge records the purged id first (`purged.json`), then rewrites the file with the entries
//! that remain; a crash between the two leaves extra entries that `open` drops.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{
    Entry, ErrorSubject, ErrorVerb, LogId, LogState, RaftLogReader, StorageError, Vote,
};

use super::disk::{self, RecordFile};
use super::{io_err, json_err};
use crate::types::TypeConfig;

struct Stored {
    offset: u64,
    entry: Entry<TypeConfig>,
}

struct Inner {
    dir: PathBuf,
    file: RecordFile,
    entries: BTreeMap<u64, Stored>,
    purged: Option<LogId<u64>>,
    vote: Option<Vote<u64>>,
}

/// The log store; clones share the same files (openraft wants a separate reader handle).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Mutex<Inner>>,
}

impl LogStore {
    /// Open the log in `dir`, creating it when absent.
    pub fn open(dir: &Path) -> io::Result<LogStore> {
        let vote = match disk::read_optional(&dir.join("vote.json"))? {
            Some(bytes) => Some(serde_json::from_slice(&bytes).map_err(json_err)?),
            None => None,
        };
        let purged: Option<LogId<u64>> = match disk::read_optional(&dir.join("purged.json"))? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(json_err)?,
            None => None,
        };
        let (file, records) = RecordFile::open(&dir.join("log"))?;
        let mut entries = BTreeMap::new();
        for (offset, payload) in records {
            let entry: Entry<TypeConfig> = serde_json::from_slice(&payload).map_err(json_err)?;
            if purged.is_some_and(|p| entry.log_id.index <= p.index) {
                continue;
            }
            entries.insert(entry.log_id.index, Stored { offset, entry });
        }
        check_contiguous(&entries, purged)?;
        Ok(LogStore {
            inner: Arc::new(Mutex::new(Inner {
                dir: dir.to_path_buf(),
                file,
                entries,
                purged,
                vote,
            })),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the files half-updated in a way the
        // in-memory copy hides: every mutation writes the file first.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The entries must follow each other without a gap, starting right after the purged id.
fn check_contiguous(entries: &BTreeMap<u64, Stored>, purged: Option<LogId<u64>>) -> io::Result<()> {
    let mut expect = purged.map(|p| p.index + 1);
    for &index in entries.keys() {
        if expect.is_some_and(|e| e != index) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("cluster log: entry {index} follows a gap (expected {expect:?})"),
            ));
        }
        expect = Some(index + 1);
    }
    Ok(())
}

impl Inner {
    fn append(&mut self, entries: Vec<Entry<TypeConfig>>) -> io::Result<()> {
        let mut encoded = Vec::new();
        let mut starts = Vec::with_capacity(entries.len());
        for entry in &entries {
            starts.push(encoded.len() as u64);
            let json = serde_json::to_vec(entry).map_err(json_err)?;
            disk::encode_record(&json, &mut encoded)?;
        }
        let at = self.file.append(&encoded)?;
        for (entry, start) in entries.into_iter().zip(starts) {
            let offset = at + start;
            self.entries
                .insert(entry.log_id.index, Stored { offset, entry });
        }
        Ok(())
    }

    fn truncate(&mut self, from: u64) -> io::Result<()> {
        let Some(offset) = self.entries.range(from..).next().map(|(_, s)| s.offset) else {
            return Ok(());
        };
        self.file.truncate(offset)?;
        self.entries.split_off(&from);
        Ok(())
    }

    fn purge(&mut self, upto: LogId<u64>) -> io::Result<()> {
        let bytes = serde_json::to_vec(&Some(upto)).map_err(json_err)?;
        disk::write_atomic(&self.dir.join("purged.json"), &bytes)?;
        self.purged = Some(upto);
        self.entries = self.entries.split_off(&(upto.index + 1));
        // Rewrite the file with what remains.
        let mut encoded = Vec::new();
        let mut offsets = Vec::with_capacity(self.entries.len());
        for stored in self.entries.values() {
            offsets.push(encoded.len() as u64);
            let json = serde_json::to_vec(&stored.entry).map_err(json_err)?;
            disk::encode_record(&json, &mut encoded)?;
        }
        let path = self.dir.join("log");
        disk::write_atomic(&path, &encoded)?;
        let (file, _) = RecordFile::open(&path)?;
        self.file = file;
        for (stored, offset) in self.entries.values_mut().zip(offsets) {
            stored.offset = offset;
        }
        Ok(())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<u64>> {
        let inner = self.lock();
        Ok(inner
            .entries
            .range(range)
            .map(|(_, s)| s.entry.clone())
            .collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<u64>> {
        let inner = self.lock();
        let last = inner.entries.values().next_back().map(|s| s.entry.log_id);
        Ok(LogState {
            last_purged_log_id: inner.purged,
            last_log_id: last.or(inner.purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        let mut inner = self.lock();
        let write = || -> io::Result<()> {
            let bytes = serde_json::to_vec(vote).map_err(json_err)?;
            disk::write_atomic(&inner.dir.join("vote.json"), &bytes)
        };
        write().map_err(|e| io_err(ErrorSubject::Vote, ErrorVerb::Write, e))?;
        inner.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        Ok(self.lock().vote)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let result = self.lock().append(entries.into_iter().collect());
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(io::Error::new(e.kind(), e.to_string())));
                Err(io_err(ErrorSubject::Logs, ErrorVerb::Write, e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        self.lock()
            .truncate(log_id.index)
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        self.lock()
            .purge(log_id)
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload};

    use super::*;
    use crate::types::DocumentEntry;

    fn entry(term: u64, index: u64, text: &str) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
            payload: EntryPayload::Normal(DocumentEntry { text: text.into() }),
        }
    }

    fn indexes(store: &LogStore) -> Vec<u64> {
        store.lock().entries.keys().copied().collect()
    }

    #[test]
    fn append_truncate_purge_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        store
            .lock()
            .append((1..=5).map(|i| entry(1, i, "doc")).collect())
            .unwrap();
        store.lock().truncate(4).unwrap();
        store.lock().append(vec![entry(2, 4, "new")]).unwrap();
        store
            .lock()
            .purge(LogId::new(CommittedLeaderId::new(1, 1), 2))
            .unwrap();
        store.lock().append(vec![entry(2, 5, "more")]).unwrap();
        assert_eq!(indexes(&store), vec![3, 4, 5]);
        drop(store);

        let store = LogStore::open(dir.path()).unwrap();
        assert_eq!(indexes(&store), vec![3, 4, 5]);
        let inner = store.lock();
        assert_eq!(inner.purged.map(|p| p.index), Some(2));
        assert_eq!(inner.entries[&4].entry.log_id.leader_id.term, 2);
    }

    #[test]
    fn gap_in_the_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        store
            .lock()
            .append(vec![entry(1, 1, "a"), entry(1, 3, "c")])
            .unwrap();
        drop(store);
        assert!(LogStore::open(dir.path()).is_err());
    }
}
