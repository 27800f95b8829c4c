//! Stream framing of SIP over TCP/TLS (RFC 3261 18.3): a message ends Content-Length octets
//! after the blank line that ends its header section; Content-Length is mandatory on streams.
//! RFC 5626 3.5.1 keep-alives: a double CRLF ("ping") between messages is answered with a
//! single CRLF ("pong"); a single CRLF is a pong and is ignored.
//!
//! Sans-IO: bytes in, frames out. Limits bound memory: a frame larger than `max_message_size`
//! or with more than `max_headers` lines is an error, and the connection is closed.

use bytes::{Bytes, BytesMut};
use memchr::memmem;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Message(Bytes),
    /// A CRLFCRLF keep-alive: answer with CRLF.
    Ping,
}

#[derive(thiserror::Error, Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame larger than {0} bytes")]
    TooLarge(usize),
    #[error("more than {0} header lines")]
    TooManyHeaders(usize),
    #[error("no Content-Length on a stream transport")]
    MissingContentLength,
    #[error("bad Content-Length `{0}`")]
    BadContentLength(String),
}

pub struct Framer {
    buf: BytesMut,
    max_message_size: usize,
    max_headers: usize,
}

impl Framer {
    pub fn new(max_message_size: usize, max_headers: usize) -> Self {
        Framer {
            buf: BytesMut::with_capacity(4096),
            max_message_size,
            max_headers,
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered but not yet framed.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// A message is under way: bytes are held that are more than a CRLF kept back as maybe
    /// the first half of a ping. Two pongs a read apart look like such a half and the next
    /// ping; they are keep-alive traffic, not a message coming slowly (the slowloris deadline
    /// must not cut a quiet traversal link that exchanges only keep-alives).
    pub fn message_pending(&self) -> bool {
        !self.buf.is_empty() && !b"\r\n\r\n".starts_with(&self.buf[..])
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        loop {
            if self.buf.starts_with(b"\r\n\r\n") {
                let _ = self.buf.split_to(4);
                return Ok(Some(Frame::Ping));
            }
            if self.buf.starts_with(b"\r\n") {
                if self.buf.len() < 4 && b"\r\n\r\n".starts_with(&self.buf[..]) {
                    return Ok(None); // maybe the first half of a ping
                }
                let _ = self.buf.split_to(2); // a pong, or a stray CRLF before a message
                continue;
            }
            break;
        }
        if self.buf.is_empty() {
            return Ok(None);
        }
        let Some(head_end) = memmem::find(&self.buf, b"\r\n\r\n") else {
            if self.buf.len() > self.max_message_size {
                return Err(FrameError::TooLarge(self.max_message_size));
            }
            if memchr::memchr_iter(b'\n', &self.buf).count() > self.max_headers + 1 {
                return Err(FrameError::TooManyHeaders(self.max_headers));
            }
            return Ok(None);
        };
        let head = &self.buf[..head_end];
        let mut lines = 0usize;
        let mut content_length: Option<usize> = None;
        for line in head.split(|b| *b == b'\n').skip(1) {
            lines += 1;
            if lines > self.max_headers {
                return Err(FrameError::TooManyHeaders(self.max_headers));
            }
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = memchr::memchr(b':', line) else {
                continue;
            };
            let name = trim(&line[..colon]);
            if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
                let v = trim(&line[colon + 1..]);
                let s = std::str::from_utf8(v).unwrap_or("");
                let n: usize = s
                    .parse()
                    .map_err(|_| FrameError::BadContentLength(s.chars().take(20).collect()))?;
                content_length = Some(n);
            }
        }
        let cl = content_length.ok_or(FrameError::MissingContentLength)?;
        let total = head_end
            .checked_add(4)
            .and_then(|h| h.checked_add(cl))
            .ok_or(FrameError::TooLarge(self.max_message_size))?;
        if total > self.max_message_size {
            return Err(FrameError::TooLarge(self.max_message_size));
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        Ok(Some(Frame::Message(self.buf.split_to(total).freeze())))
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests;
