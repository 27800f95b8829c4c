//! The finished non-INVITE server transactions of our own answers (REGISTER, OPTIONS,
//! refusals) and of forwarded requests over an unreliable transport, kept until timer J
//! (64*T1, RFC 3261 17.2.2) to answer retransmissions of their request with the same final
//! response; and the INVITE server transactions answered 2xx (RFC 6026 Accepted, until timer
//! L), which answer nothing (no response kept) and forward their branch's 2xx
//! retransmissions along their flow (the record then names the branch too).
//!
//! Every one is kept 64*T1 from its final response and nearly all are pushed then, so they end
//! in the order they were made (one pushed later is held back behind those before it, never
//! ended early): they are written back to back into 64 KiB chunks (end time, key, flow,
//! response) and read off the front as they fall due; a chunk is freed once all of it has
//! ended. Under a registration load this is
//! 100,000s of records: a record is its bytes (about 60 beside the response, no allocation of
//! its own) where a boxed record, its response's allocation, a map slot and a queue entry took
//! about 190 (BENCHMARKS.md, registrations). A record is named by its offset in the log, which
//! only grows, so a name is never reused.
//!
//! Owns only the records; the index from transaction key to record is the core's. Decoding
//! reads what `push` wrote, through checked slicing all the same: an offset past the records
//! kept, or before them, gives `None` (offsets come only from `push`; one inside a record
//! would read garbage, never panic).

use super::io::{ConnId, Flow};
use super::tables::TxKey;
use causeway_config::Transport;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::{Duration, Instant};

/// Bytes of a chunk (one record larger than this gets a chunk of its own size).
const CHUNK: usize = 64 * 1024;

const V6_LOCAL: u8 = 1 << 2;
const V6_REMOTE: u8 = 1 << 3;
const HAS_CONN: u8 = 1 << 4;
const HAS_BRANCH: u8 = 1 << 5;

struct Chunk {
    /// The log offset of `data[0]`.
    start: u64,
    data: Vec<u8>,
    /// Records before this index have ended.
    read: usize,
}

/// See the module doc.
#[derive(Default)]
pub(super) struct DoneLog {
    chunks: VecDeque<Chunk>,
    /// The offset the next record gets.
    next: u64,
    /// End times are kept as nanoseconds after this (the first record's end).
    epoch: Option<Instant>,
    len: usize,
    /// The last chunk freed, for the next one needed (a log that empties and fills again
    /// does not allocate each time).
    spare: Option<Vec<u8>>,
}

/// An accepted INVITE's two hashes of its branch: its `client_index` key's
/// (`tables::client_key`) and a keyed one that a response's branch must match too.
pub(super) type BranchHashes = (u64, u64);

/// One record as read back.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct DoneRecord<'a> {
    pub end: Instant,
    pub key: TxKey,
    pub reply: Flow,
    pub response: &'a [u8],
    /// An accepted INVITE's hashes of its branch.
    pub branch: Option<BranchHashes>,
}

impl DoneLog {
    /// Records kept.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Keeps a record until `end`; returns its offset, the name `get` takes. `None` for a
    /// response of 4 GiB or more (its length would not fit the record).
    pub fn push(&mut self, end: Instant, key: TxKey, reply: &Flow, response: &[u8]) -> Option<u64> {
        self.push_record(end, (key, None), reply, response)
    }

    /// Keeps an accepted INVITE's record (no response) until `end` (timer L): its server
    /// transaction's key and flow, and its branch's two hashes.
    pub fn push_accepted(
        &mut self,
        end: Instant,
        key: TxKey,
        branch: BranchHashes,
        reply: &Flow,
    ) -> Option<u64> {
        self.push_record(end, (key, Some(branch)), reply, &[])
    }

    fn push_record(
        &mut self,
        end: Instant,
        (key, branch): (TxKey, Option<BranchHashes>),
        reply: &Flow,
        response: &[u8],
    ) -> Option<u64> {
        let len = u32::try_from(response.len()).ok()?;
        let epoch = *self.epoch.get_or_insert(end);
        // an end before the epoch (the clock stepped back) is kept until the epoch
        let nanos = end.saturating_duration_since(epoch).as_nanos();
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
        let size = record_size(reply, branch, response.len());
        let fits = self
            .chunks
            .back()
            .is_some_and(|c| c.data.capacity() - c.data.len() >= size);
        if !fits {
            let mut data = match self.spare.take() {
                Some(v) if v.capacity() >= size => v,
                spare => {
                    // too small for this (outsized) record: kept for the next chunk
                    self.spare = spare;
                    Vec::with_capacity(size.max(CHUNK))
                }
            };
            data.clear();
            self.chunks.push_back(Chunk {
                start: self.next,
                data,
                read: 0,
            });
        }
        let at = self.next;
        if let Some(c) = self.chunks.back_mut() {
            write_record(&mut c.data, (nanos, key, branch), reply, (len, response));
        }
        self.next += size as u64;
        self.len += 1;
        Some(at)
    }

    /// The record at `at`, unless it has ended.
    pub fn get(&self, at: u64) -> Option<DoneRecord<'_>> {
        let i = self
            .chunks
            .partition_point(|c| c.start <= at)
            .checked_sub(1)?;
        let c = self.chunks.get(i)?;
        let offset = usize::try_from(at - c.start).ok()?;
        if offset < c.read {
            return None;
        }
        self.read_at(c, offset).map(|(r, _)| r)
    }

    /// When the oldest record ends.
    pub fn front_end(&self) -> Option<Instant> {
        let c = self.chunks.front()?;
        self.read_at(c, c.read).map(|(r, _)| r.end)
    }

    /// The oldest record when it has ended by `now`: its key, offset and branch. Call until
    /// `None`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(TxKey, u64, Option<BranchHashes>)> {
        let c = self.chunks.front()?;
        let record = self.read_at(c, c.read);
        debug_assert!(record.is_some(), "the front record of a chunk decodes");
        let (r, size) = record?;
        if r.end > now {
            return None;
        }
        let (key, at, branch) = (r.key, c.start + c.read as u64, r.branch);
        let c = self.chunks.front_mut()?;
        c.read += size;
        self.len -= 1;
        if c.read >= c.data.len() {
            if let Some(c) = self.chunks.pop_front() {
                if c.data.capacity() == CHUNK {
                    self.spare = Some(c.data);
                }
            }
        }
        Some((key, at, branch))
    }

    /// Gives back the chunk table's slack after a load has passed.
    pub fn shrink(&mut self) {
        if self.chunks.capacity() > 4 * self.chunks.len() + 64 {
            self.chunks.shrink_to(2 * self.chunks.len());
        }
    }

    fn read_at<'a>(&self, c: &'a Chunk, offset: usize) -> Option<(DoneRecord<'a>, usize)> {
        let epoch = self.epoch?;
        let mut r = Reader(c.data.get(offset..)?);
        let nanos = r.u64()?;
        let key = (r.u64()?, r.u64()?);
        let flags = r.take(1)?[0];
        let kind = match flags & 3 {
            0 => Transport::Udp,
            1 => Transport::Tcp,
            _ => Transport::Tls,
        };
        let local = r.addr(flags & V6_LOCAL != 0)?;
        let remote = r.addr(flags & V6_REMOTE != 0)?;
        let conn = match flags & HAS_CONN {
            0 => None,
            _ => Some(ConnId(r.u64()?)),
        };
        let branch = match flags & HAS_BRANCH {
            0 => None,
            _ => Some((r.u64()?, r.u64()?)),
        };
        let len = usize::try_from(r.u32()?).ok()?;
        let response = r.take(len)?;
        let size = c.data.len() - offset - r.0.len();
        let record = DoneRecord {
            end: epoch.checked_add(Duration::from_nanos(nanos))?,
            key,
            reply: Flow {
                kind,
                local,
                remote,
                conn,
            },
            response,
            branch,
        };
        Some((record, size))
    }
}

fn addr_size(a: &SocketAddr) -> usize {
    match a {
        SocketAddr::V4(_) => 4 + 2,
        SocketAddr::V6(_) => 16 + 2 + 4 + 4,
    }
}

fn record_size(reply: &Flow, branch: Option<BranchHashes>, response: usize) -> usize {
    8 + 16
        + 1
        + addr_size(&reply.local)
        + addr_size(&reply.remote)
        + if reply.conn.is_some() { 8 } else { 0 }
        + if branch.is_some() { 16 } else { 0 }
        + 4
        + response
}

fn write_record(
    out: &mut Vec<u8>,
    (nanos, key, branch): (u64, TxKey, Option<BranchHashes>),
    reply: &Flow,
    (len, response): (u32, &[u8]),
) {
    out.extend_from_slice(&nanos.to_le_bytes());
    out.extend_from_slice(&key.0.to_le_bytes());
    out.extend_from_slice(&key.1.to_le_bytes());
    let mut flags = match reply.kind {
        Transport::Udp => 0,
        Transport::Tcp => 1,
        Transport::Tls => 2,
    };
    if reply.local.is_ipv6() {
        flags |= V6_LOCAL;
    }
    if reply.remote.is_ipv6() {
        flags |= V6_REMOTE;
    }
    if reply.conn.is_some() {
        flags |= HAS_CONN;
    }
    if branch.is_some() {
        flags |= HAS_BRANCH;
    }
    out.push(flags);
    write_addr(out, &reply.local);
    write_addr(out, &reply.remote);
    if let Some(ConnId(c)) = reply.conn {
        out.extend_from_slice(&c.to_le_bytes());
    }
    if let Some((b, check)) = branch {
        out.extend_from_slice(&b.to_le_bytes());
        out.extend_from_slice(&check.to_le_bytes());
    }
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(response);
}

fn write_addr(out: &mut Vec<u8>, a: &SocketAddr) {
    match a {
        SocketAddr::V4(v4) => out.extend_from_slice(&v4.ip().octets()),
        SocketAddr::V6(v6) => out.extend_from_slice(&v6.ip().octets()),
    }
    out.extend_from_slice(&a.port().to_le_bytes());
    if let SocketAddr::V6(v6) = a {
        out.extend_from_slice(&v6.flowinfo().to_le_bytes());
        out.extend_from_slice(&v6.scope_id().to_le_bytes());
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn addr(&mut self, v6: bool) -> Option<SocketAddr> {
        if !v6 {
            let ip: [u8; 4] = self.take(4)?.try_into().ok()?;
            let port = u16::from_le_bytes(self.take(2)?.try_into().ok()?);
            return Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port));
        }
        let ip: [u8; 16] = self.take(16)?.try_into().ok()?;
        let port = u16::from_le_bytes(self.take(2)?.try_into().ok()?);
        let flowinfo = self.u32()?;
        let scope = self.u32()?;
        let a = SocketAddrV6::new(Ipv6Addr::from(ip), port, flowinfo, scope);
        Some(SocketAddr::V6(a))
    }
}

#[cfg(test)]
mod tests;
