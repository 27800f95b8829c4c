//! STUN keep-alives on the SIP UDP ports (RFC 5626 4.4.2 and 8.4, RFC 5389): a UA using SIP
//! outbound over UDP sends Binding requests to its registrar's SIP port and expects a Binding
//! success response with its reflexive address (XOR-MAPPED-ADDRESS); it learns from a changed
//! address that its NAT mapping moved and re-registers.
//!
//! Sans-IO and pure: bytes and the source address in, the response out. Hand-written on purpose:
//! the one request answered has a fixed 20-byte header, and every datagram on a SIP port must be
//! told apart from SIP in a few compares before anything is decoded. The crates looked at
//! (`stun_codec`, `stun-rs`, `webrtc-stun`) decode every attribute into allocated structures,
//! which is work a SIP port must not do for the datagrams that are not STUN at all.
//!
//! Owns only the STUN encoding; the socket that answers is `udp`'s.

use std::net::{IpAddr, SocketAddr};

const MAGIC_COOKIE: u32 = 0x2112_A442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const BINDING_ERROR: u16 = 0x0111;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
const ATTR_FINGERPRINT: u16 = 0x8028;
const ATTR_ERROR_CODE: u16 = 0x0009;
const ATTR_UNKNOWN_ATTRIBUTES: u16 = 0x000A;
/// Comprehension-required attributes a Binding request may carry that need no action here:
/// MAPPED-ADDRESS, USERNAME, MESSAGE-INTEGRITY, ERROR-CODE, UNKNOWN-ATTRIBUTES, REALM, NONCE,
/// XOR-MAPPED-ADDRESS (RFC 5389), PRIORITY, USE-CANDIDATE (RFC 8445).
const KNOWN: [u16; 10] = [
    0x0001, 0x0006, 0x0008, 0x0009, 0x000A, 0x0014, 0x0015, 0x0020, 0x0024, 0x0025,
];
/// RFC 5389 15.5: FINGERPRINT is CRC-32 of the message XOR this.
const FINGERPRINT_XOR: u32 = 0x5354_554e;
const HEADER: usize = 20;

/// What a datagram on a SIP port is, as far as STUN goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Stun {
    /// Not STUN: SIP or junk, for the SIP parser.
    No,
    /// A Binding request: send this answer back to where it came from.
    Answer(Vec<u8>),
    /// STUN, but nothing to answer (a response, an indication, another method): drop it.
    Drop,
}

/// The STUN message type of `d` when it is one: the two top bits zero, the magic cookie, a
/// length that is a multiple of 4 and matches the datagram. A SIP message starts with a letter
/// (`0x41`+), never a zero top byte pair.
fn header(d: &[u8]) -> Option<u16> {
    let h = d.get(..HEADER)?;
    let kind = u16::from_be_bytes([h[0], h[1]]);
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let cookie = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let ok = kind & 0xC000 == 0
        && cookie == MAGIC_COOKIE
        && len.is_multiple_of(4)
        && HEADER + len == d.len();
    ok.then_some(kind)
}

/// Classifies a datagram that arrived on a SIP UDP port from `source`, and answers a Binding
/// request (RFC 5389 7.3: a success response with XOR-MAPPED-ADDRESS, FINGERPRINT when the
/// request had one; 420 with UNKNOWN-ATTRIBUTES for comprehension-required attributes we do not
/// know).
pub fn classify(d: &[u8], source: SocketAddr) -> Stun {
    let Some(kind) = header(d) else {
        return Stun::No;
    };
    if kind != BINDING_REQUEST {
        return Stun::Drop;
    }
    let mut txid = [0u8; 12];
    txid.copy_from_slice(&d[8..HEADER]);
    let mut unknown = Vec::new();
    let mut fingerprint = false;
    for (t, _) in attributes(&d[HEADER..]) {
        match t {
            ATTR_FINGERPRINT => fingerprint = true,
            // RFC 5389's own and ICE's (RFC 8445) are understood and need nothing from us: a
            // keep-alive server does not authenticate (RFC 5626 8.4)
            t if KNOWN.contains(&t) => {}
            // comprehension-required (0x0000-0x7FFF) and not understood
            t if t < 0x8000 && unknown.len() < 8 => unknown.push(t),
            _ => {}
        }
    }
    Stun::Answer(if unknown.is_empty() {
        success(&txid, source, fingerprint)
    } else {
        unknown_attributes(&txid, &unknown)
    })
}

/// The attributes of a message body, as (type, value); stops at the first one that overruns.
fn attributes(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let t = u16::from_be_bytes([*b.first()?, *b.get(1)?]);
        let len = usize::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?]));
        let padded = (len + 3) & !3;
        let value = b.get(4..4 + len)?;
        b = b.get(4 + padded..).unwrap_or(&[]);
        Some((t, value))
    })
}

fn message(kind: u16, txid: &[u8; 12], body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(HEADER + body.len() + 8);
    m.extend_from_slice(&kind.to_be_bytes());
    m.extend_from_slice(&(body.len() as u16).to_be_bytes());
    m.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    m.extend_from_slice(txid);
    m.extend_from_slice(body);
    m
}

fn attribute(out: &mut Vec<u8>, t: u16, value: &[u8]) {
    out.extend_from_slice(&t.to_be_bytes());
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
    out.resize(out.len() + ((4 - value.len() % 4) % 4), 0);
}

/// RFC 5389 15.2: the address XORed with the magic cookie (and for IPv6 the transaction ID).
fn xor_mapped(txid: &[u8; 12], a: SocketAddr) -> Vec<u8> {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let mut v = vec![0u8];
    let port = a.port() ^ u16::from_be_bytes([cookie[0], cookie[1]]);
    match a.ip() {
        IpAddr::V4(ip) => {
            v.push(0x01);
            v.extend_from_slice(&port.to_be_bytes());
            v.extend(ip.octets().iter().zip(cookie).map(|(o, c)| o ^ c));
        }
        IpAddr::V6(ip) => {
            v.push(0x02);
            v.extend_from_slice(&port.to_be_bytes());
            let key = cookie.iter().chain(txid.iter());
            v.extend(ip.octets().iter().zip(key).map(|(o, k)| o ^ k));
        }
    }
    v
}

fn success(txid: &[u8; 12], source: SocketAddr, fingerprint: bool) -> Vec<u8> {
    let mut body = Vec::with_capacity(32);
    attribute(
        &mut body,
        ATTR_XOR_MAPPED_ADDRESS,
        &xor_mapped(txid, source),
    );
    let mut m = message(BINDING_SUCCESS, txid, &body);
    if fingerprint {
        add_fingerprint(&mut m);
    }
    m
}

fn unknown_attributes(txid: &[u8; 12], unknown: &[u16]) -> Vec<u8> {
    let mut body = Vec::with_capacity(48);
    let mut code = vec![0, 0, 4, 20];
    code.extend_from_slice(b"Unknown Attribute");
    attribute(&mut body, ATTR_ERROR_CODE, &code);
    let list: Vec<u8> = unknown.iter().flat_map(|t| t.to_be_bytes()).collect();
    attribute(&mut body, ATTR_UNKNOWN_ATTRIBUTES, &list);
    message(BINDING_ERROR, txid, &body)
}

/// RFC 5389 15.5: the length counts the FINGERPRINT attribute, the CRC covers what precedes it.
fn add_fingerprint(m: &mut Vec<u8>) {
    let len = (m.len() - HEADER + 8) as u16;
    m[2..4].copy_from_slice(&len.to_be_bytes());
    let crc = crc32fast::hash(m) ^ FINGERPRINT_XOR;
    attribute(m, ATTR_FINGERPRINT, &crc.to_be_bytes());
}

#[cfg(test)]
mod tests;
