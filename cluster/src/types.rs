//! The Raft type configuration: what one log entry carries (a whole configuration document)
//! and what applying it answers. Everything openraft is generic over is fixed here, so the
//! rest of the crate names `TypeConfig` and nothing else of openraft's type machinery.

use std::io::Cursor;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The application data of one log entry: the full cluster-wide configuration text. Each
/// entry replaces the document as a whole; there is no merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentEntry {
    pub text: String,
}

/// What applying a log entry answers to the writer: the hash of the document now in force
/// (`None` for openraft's own blank and membership entries).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyResponse {
    pub hash: Option<String>,
}

openraft::declare_raft_types!(
    /// The openraft type configuration of the causeway cluster.
    pub TypeConfig:
        D = DocumentEntry,
        R = ApplyResponse,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// Lower-case hex SHA-256 of a document: the identity peers compare to tell that they run
/// the same configuration.
pub fn document_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}
