//! Durable file primitives for the store: atomic replace of a small file (write a temporary,
//! fsync, rename, fsync the directory) and an append-only record file whose records carry a
//! length and a CRC so that a torn write at the tail (power loss mid-append) is detected and
//! cut off on open instead of poisoning the log.
//!
//! Record layout: `u32 BE length | u32 BE crc32(payload) | payload`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Upper bound of one record's payload. A log entry holds one document (bounded by
/// `MAX_DOCUMENT` in the crate root) JSON-escaped; anything larger on disk is corruption.
pub const MAX_RECORD: usize = 16 * 1024 * 1024;

/// Replace `path` with `bytes` so that a crash leaves either the old or the new content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_dir(path)
}

/// Read a whole small file; `None` when it does not exist.
pub fn read_optional(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// fsync the directory holding `path`, so that a rename or a new file survives a crash.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => Ok(()),
    }
}

/// Encode one record (length, CRC, payload) into `out`.
pub fn encode_record(payload: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&n| n as usize <= MAX_RECORD)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "record too large"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Intact records read back, each with the file offset it starts at.
pub type Records = Vec<(u64, Vec<u8>)>;

/// An append-only file of records.
pub struct RecordFile {
    file: File,
    len: u64,
}

impl RecordFile {
    /// Open (or create) the file and read every intact record, each with the offset it
    /// starts at. A damaged or partial tail is truncated away.
    pub fn open(path: &Path) -> io::Result<(RecordFile, Records)> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (records, good) = decode_records(&bytes);
        if good < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                cut = bytes.len() - good,
                "cluster log: damaged tail cut off"
            );
            file.set_len(good as u64)?;
            file.sync_all()?;
        }
        sync_dir(path)?;
        file.seek(SeekFrom::Start(good as u64))?;
        Ok((
            RecordFile {
                file,
                len: good as u64,
            },
            records,
        ))
    }

    /// Append already-encoded records and fsync. Returns the offset they start at.
    pub fn append(&mut self, encoded: &[u8]) -> io::Result<u64> {
        let at = self.len;
        self.file.seek(SeekFrom::Start(at))?;
        self.file.write_all(encoded)?;
        self.file.sync_data()?;
        self.len += encoded.len() as u64;
        Ok(at)
    }

    /// Cut the file at `offset` (drops every record from there on) and fsync.
    pub fn truncate(&mut self, offset: u64) -> io::Result<()> {
        self.file.set_len(offset)?;
        self.file.sync_data()?;
        self.len = offset;
        Ok(())
    }
}

/// Split `bytes` into records; returns them with their offsets and the length of the intact
/// prefix.
pub fn decode_records(bytes: &[u8]) -> (Records, usize) {
    let mut records = Vec::new();
    let mut at = 0usize;
    while let Some(header) = bytes.get(at..at + 8) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_RECORD {
            break;
        }
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        records.push((at as u64, payload.to_vec()));
        at += 8 + len;
    }
    (records, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_tail_is_cut_and_appends_continue() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let (mut file, records) = RecordFile::open(&path).unwrap();
        assert!(records.is_empty());
        let mut buf = Vec::new();
        encode_record(b"one", &mut buf).unwrap();
        encode_record(b"two", &mut buf).unwrap();
        file.append(&buf).unwrap();
        drop(file);
        // A half-written third record.
        let mut raw = fs::read(&path).unwrap();
        raw.extend_from_slice(&[0, 0, 0, 9, 1, 2]);
        fs::write(&path, &raw).unwrap();

        let (mut file, records) = RecordFile::open(&path).unwrap();
        let payloads: Vec<_> = records.iter().map(|(_, p)| p.as_slice()).collect();
        assert_eq!(payloads, vec![&b"one"[..], &b"two"[..]]);
        let mut buf = Vec::new();
        encode_record(b"three", &mut buf).unwrap();
        file.append(&buf).unwrap();
        drop(file);
        let (_, records) = RecordFile::open(&path).unwrap();
        assert_eq!(records.len(), 3);
    }

    #[test]
    fn flipped_byte_stops_the_scan() {
        let mut buf = Vec::new();
        encode_record(b"alpha", &mut buf).unwrap();
        encode_record(b"beta", &mut buf).unwrap();
        let last = buf.len() - 1;
        buf[last] ^= 0xff;
        let (records, good) = decode_records(&buf);
        assert_eq!(records.len(), 1);
        assert_eq!(good, 8 + 5);
    }

    #[test]
    fn atomic_write_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vote.json");
        assert!(read_optional(&path).unwrap().is_none());
        write_atomic(&path, b"a").unwrap();
        write_atomic(&path, b"b").unwrap();
        assert_eq!(read_optional(&path).unwrap().unwrap(), b"b");
    }

    proptest::proptest! {
        /// Records written are read back in order; any damage after them is cut, never a panic.
        #[test]
        fn records_round_trip_then_garbage(
            payloads in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..64), 0..8),
            tail in proptest::collection::vec(proptest::num::u8::ANY, 0..32),
        ) {
            let mut buf = Vec::new();
            for p in &payloads {
                encode_record(p, &mut buf).unwrap();
            }
            let intact = buf.len();
            buf.extend_from_slice(&tail);
            let (records, good) = decode_records(&buf);
            proptest::prop_assert!(good >= intact);
            let back: Vec<_> = records.into_iter().map(|(_, p)| p).take(payloads.len()).collect();
            proptest::prop_assert_eq!(back, payloads);
        }
    }
}
