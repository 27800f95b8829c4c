//! The cluster's durable store, in `data_dir`: the Raft log and vote ([`log`]) and the
//! applied state — the last document, its log id and the membership — with its snapshot
//! ([`state`]). Both sit on the file primitives of [`disk`].
//!
//! This module is the boundary towards the consensus engine: what is kept on disk (a vote
//! file, an append-only log of JSON entries, a state file) is plain and small, and only the
//! trait impls in `log.rs` and `state.rs` speak openraft. Replacing the engine means
//! rewriting those impls, not the files' meaning.
//!
//! Disk writes are plain blocking calls inside openraft's async methods: a configuration
//! change costs a few small fsyncs (log append, state file), well under a millisecond to a
//! few milliseconds; not worth a blocking-pool hop at this rate.
//!
//! Files in `data_dir`:
//! - `vote.json`: the last vote, replaced atomically.
//! - `log`: append-only records, one JSON log entry each (see `disk.rs` for the framing).
//! - `purged.json`: the id of the last log entry compacted away.
//! - `state.json`: the applied state machine.
//! - `snapshot.json`: the last snapshot (meta + the state it captured).

pub mod disk;
pub mod log;
pub mod state;

use std::io;

use openraft::{ErrorSubject, ErrorVerb, StorageError};

/// An I/O failure on `subject` as openraft's storage error; openraft stops the node on it
/// (a store that cannot write must not keep voting).
pub(crate) fn io_err(
    subject: ErrorSubject<u64>,
    verb: ErrorVerb,
    e: io::Error,
) -> StorageError<u64> {
    StorageError::from_io_error(subject, verb, e)
}

/// Turn a (de)serialisation failure into the I/O error the store reports.
pub(crate) fn json_err(e: serde_json::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}
