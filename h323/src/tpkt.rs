//! TPKT framing (RFC 1006 section 6): how H.225.0 call signaling (TCP 1720) and H.245 carry
//! one message per packet over a byte stream.
//!
//! ```text
//!  0        1        2        3
//! +--------+--------+--------+--------+----------------
//! | vrsn=3 |reserved|  packet length  |  payload ...
//! +--------+--------+--------+--------+----------------
//! ```
//!
//! The length is big-endian and counts the 4-byte header, so a payload is at most
//! 65535 - 4 = 65531 bytes and a length below 4 is invalid. RFC 1006 says the reserved octet is
//! 0; it is not checked on input (receivers ignore it in practice, e.g. Wireshark's dissector)
//! and always written as 0.
//!
//! Choices: a bad version or a length below 4 is fatal for the connection ([`TpktError`]): after
//! it the stream can no longer be resynchronised, so the driver closes the TCP connection. A
//! frame longer than the configured maximum is fatal for the same reason (skipping it would
//! mean buffering or discarding an attacker-chosen amount). The buffer is bounded: at most one
//! maximum frame plus one read of slack ([`TpktFramer::capacity`]); a driver that pops every
//! whole frame after each push never meets that limit.
//!
//! This module holds no socket; it only turns bytes into payloads and back.

use bytes::{Buf, Bytes, BytesMut};

/// The TPKT version octet (RFC 1006 section 6).
pub const TPKT_VERSION: u8 = 3;
/// Length of the TPKT header.
pub const TPKT_HEADER_LEN: usize = 4;
/// The largest payload a TPKT can carry (16-bit length including the header).
pub const TPKT_MAX_PAYLOAD: usize = u16::MAX as usize - TPKT_HEADER_LEN;

/// Why a TPKT stream or payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TpktError {
    /// The first octet of a header was not 3.
    #[error("TPKT version {0}, expected 3")]
    BadVersion(u8),
    /// The length field was below the header size.
    #[error("TPKT length {0} is shorter than the 4-byte header")]
    LengthTooShort(u16),
    /// The frame announced more payload than this framer accepts.
    #[error("TPKT payload of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// Announced payload length.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// More bytes were pushed than the buffer holds; pop frames between pushes.
    #[error("TPKT buffer full: {pending} bytes pending, capacity {capacity}")]
    BufferFull {
        /// Bytes that would be buffered.
        pending: usize,
        /// Buffer capacity.
        capacity: usize,
    },
    /// A payload to encode is longer than a TPKT can carry.
    #[error("payload of {0} bytes does not fit in a TPKT (max 65531)")]
    PayloadTooLarge(usize),
}

/// Frames a TCP byte stream into TPKT payloads.
///
/// After any error the framer stays failed (every later call returns the same error): the
/// connection must be closed.
#[derive(Debug)]
pub struct TpktFramer {
    buf: BytesMut,
    max_payload: usize,
    capacity: usize,
    failed: Option<TpktError>,
}

impl TpktFramer {
    /// Slack over one maximum frame that the buffer admits (one socket read).
    pub const READ_SLACK: usize = 16 * 1024;

    /// A framer accepting payloads of at most `max_payload` bytes (capped at
    /// [`TPKT_MAX_PAYLOAD`]).
    pub fn new(max_payload: usize) -> Self {
        let max_payload = max_payload.min(TPKT_MAX_PAYLOAD);
        TpktFramer {
            buf: BytesMut::new(),
            max_payload,
            capacity: max_payload + TPKT_HEADER_LEN + Self::READ_SLACK,
            failed: None,
        }
    }

    /// The most bytes the framer will buffer.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes buffered but not yet returned as a frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Appends bytes read from the stream. Refused (and the framer failed) when the buffer
    /// would exceed [`capacity`](Self::capacity).
    pub fn push(&mut self, data: &[u8]) -> Result<(), TpktError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let pending = self.buf.len().saturating_add(data.len());
        if pending > self.capacity {
            return Err(self.fail(TpktError::BufferFull {
                pending,
                capacity: self.capacity,
            }));
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// The next whole payload, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, TpktError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let Some(header) = self.buf.get(..TPKT_HEADER_LEN) else {
            // Check the version as soon as it arrives, so garbage fails early.
            return match self.buf.first() {
                Some(&v) if v != TPKT_VERSION => Err(self.fail(TpktError::BadVersion(v))),
                _ => Ok(None),
            };
        };
        let version = header[0];
        let len = u16::from_be_bytes([header[2], header[3]]);
        if version != TPKT_VERSION {
            return Err(self.fail(TpktError::BadVersion(version)));
        }
        if usize::from(len) < TPKT_HEADER_LEN {
            return Err(self.fail(TpktError::LengthTooShort(len)));
        }
        let payload_len = usize::from(len) - TPKT_HEADER_LEN;
        if payload_len > self.max_payload {
            return Err(self.fail(TpktError::FrameTooLarge {
                len: payload_len,
                max: self.max_payload,
            }));
        }
        if self.buf.len() < usize::from(len) {
            return Ok(None);
        }
        self.buf.advance(TPKT_HEADER_LEN);
        Ok(Some(self.buf.split_to(payload_len).freeze()))
    }

    fn fail(&mut self, e: TpktError) -> TpktError {
        self.failed = Some(e);
        self.buf = BytesMut::new();
        e
    }
}

/// One TPKT: header then `payload`. Fails when the payload exceeds [`TPKT_MAX_PAYLOAD`].
pub fn encode(payload: &[u8]) -> Result<Bytes, TpktError> {
    if payload.len() > TPKT_MAX_PAYLOAD {
        return Err(TpktError::PayloadTooLarge(payload.len()));
    }
    let len = (payload.len() + TPKT_HEADER_LEN) as u16;
    let mut out = BytesMut::with_capacity(usize::from(len));
    out.extend_from_slice(&[TPKT_VERSION, 0]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out.freeze())
}

#[cfg(test)]
mod tests;
