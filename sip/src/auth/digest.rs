//! Digest computation and policy (RFC 7616 3.4.1, RFC 8760): the challenges a registrar sends,
//! the check of an Authorization value, and the client's response.
//!
//! Nonces are `hex(issue time) . hex(random) . hex(HMAC-SHA256(secret, time, random, realm))`:
//! unique per challenge (the randomness is the caller's), checkable without a table of issued
//! nonces, `stale=true` once older than the lifetime (the client retries without asking its
//! user), refused when not ours. Replays are refused (RFC 7616 3.4/5.12): the highest nonce
//! count accepted is kept per nonce that has been used, and a request whose `nc` is not higher
//! (or a second use of a nonce without qop) gets a fresh challenge. That table is bounded
//! ([`MAX_USED_NONCES`]): nonces leave it when they expire, and when it is full the oldest goes
//! and every nonce issued up to its time counts as stale from then on, so nothing that left the
//! table can be replayed.

use super::params::parse_auth_value;
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Used nonces remembered for replay checks: 24 bytes of key and value each (about 4 MB at
/// most with the map's overhead), enough for every client of a 100,000-registration node to
/// hold one live nonce at a 300 s lifetime with room to spare.
pub const MAX_USED_NONCES: usize = 131_072;
/// `hex(ts) hex(random) hex(mac)`.
const NONCE_LEN: usize = 16 + 16 + 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    fn from_name(s: &str) -> Option<Algorithm> {
        if s.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    fn hash(self, data: &str) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(data.as_bytes())),
            Algorithm::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
        }
    }
}

#[derive(thiserror::Error, Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    #[error("authentication scheme `{0}` is not supported")]
    UnsupportedScheme(String),
    #[error("malformed credentials: {0}")]
    Malformed(String),
    #[error("credentials are for realm `{0}`")]
    RealmMismatch(String),
    // the texts name no user: they may reach a client, and a scanner must not learn from them
    // which usernames exist (the log lines carry the name)
    #[error("authentication failed")]
    UnknownUser(String),
    #[error("authentication failed")]
    WrongResponse { username: String },
    #[error("the nonce has expired")]
    StaleNonce,
    #[error("the nonce count was used before (a replay)")]
    Replayed,
    #[error("the nonce was not issued here")]
    BadNonce,
    #[error("digest algorithm `{0}` is not supported")]
    UnsupportedAlgorithm(String),
    #[error("qop `{0}` is not supported")]
    UnsupportedQop(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthOk {
    pub username: String,
}

pub struct DigestServer {
    realm: String,
    algorithms: Vec<Algorithm>,
    secret: [u8; 32],
    lifetime: Duration,
    used: UsedNonces,
}

/// Nonces that verified at least once: (issue time, random part) -> highest nc accepted.
#[derive(Default)]
struct UsedNonces {
    map: HashMap<(u64, u64), u32>,
    /// Nonces issued at or before this time are stale: one of them left a full table.
    floor: u64,
    cap: usize,
}

impl UsedNonces {
    /// Accepts `nc` for nonce `(ts, random)` if it is higher than any accepted before.
    fn accept(&mut self, ts: u64, random: u64, nc: u32, now: u64, lifetime: u64) -> bool {
        if let Some(last) = self.map.get_mut(&(ts, random)) {
            if nc <= *last {
                return false;
            }
            *last = nc;
            return true;
        }
        if self.map.len() >= self.cap {
            self.map
                .retain(|(t, _), _| now.saturating_sub(*t) <= lifetime);
        }
        if self.map.len() >= self.cap {
            if let Some(&(t, r)) = self.map.keys().min_by_key(|(t, _)| *t) {
                self.map.remove(&(t, r));
                self.floor = self.floor.max(t);
            }
        }
        self.map.insert((ts, random), nc);
        true
    }
}

fn unix(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl DigestServer {
    pub fn new(
        realm: &str,
        algorithms: &[Algorithm],
        secret: [u8; 32],
        lifetime: Duration,
    ) -> Self {
        DigestServer {
            realm: realm.to_string(),
            algorithms: if algorithms.is_empty() {
                vec![Algorithm::Sha256, Algorithm::Md5]
            } else {
                algorithms.to_vec()
            },
            secret,
            lifetime,
            used: UsedNonces {
                cap: MAX_USED_NONCES,
                ..UsedNonces::default()
            },
        }
    }

    /// The same with a smaller table of used nonces (tests of its bound).
    pub fn with_nonce_table(mut self, cap: usize) -> Self {
        self.used.cap = cap.max(1);
        self
    }

    fn nonce_mac(&self, ts: u64, random: u64) -> Hmac<Sha256> {
        // HMAC takes keys of any length: this cannot fail
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts a 32-byte key"));
        m.update(&ts.to_be_bytes());
        m.update(&random.to_be_bytes());
        m.update(self.realm.as_bytes());
        m
    }

    fn nonce(&self, now: SystemTime, random: u64) -> String {
        let ts = unix(now);
        let mac = self.nonce_mac(ts, random).finalize().into_bytes();
        format!("{ts:016x}{random:016x}{}", hex::encode(&mac[..16]))
    }

    /// One WWW-Authenticate value per algorithm, in the configured order (RFC 8760 2.4:
    /// the preferred, SHA-256, first), all with one new nonce made with `random`.
    pub fn challenge(&self, now: SystemTime, stale: bool, random: u64) -> Vec<String> {
        let nonce = self.nonce(now, random);
        self.algorithms
            .iter()
            .map(|a| {
                format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{}",
                    self.realm,
                    a.name(),
                    if stale { ", stale=true" } else { "" }
                )
            })
            .collect()
    }

    /// The nonce's (issue time, random part) when we made it and it is still fresh.
    fn check_nonce(&self, nonce: &str, now: SystemTime) -> Result<(u64, u64), AuthError> {
        if nonce.len() != NONCE_LEN || !nonce.is_ascii() {
            return Err(AuthError::BadNonce);
        }
        let ts = u64::from_str_radix(&nonce[..16], 16).map_err(|_| AuthError::BadNonce)?;
        let random = u64::from_str_radix(&nonce[16..32], 16).map_err(|_| AuthError::BadNonce)?;
        let mac = hex::decode(&nonce[32..]).map_err(|_| AuthError::BadNonce)?;
        self.nonce_mac(ts, random)
            .verify_truncated_left(&mac)
            .map_err(|_| AuthError::BadNonce)?;
        let age = unix(now).saturating_sub(ts);
        if age > self.lifetime.as_secs() || ts > unix(now) + 60 || ts <= self.used.floor {
            return Err(AuthError::StaleNonce);
        }
        Ok((ts, random))
    }

    /// Verifies an Authorization value for a request with `method`; `lookup` gives a user's
    /// password.
    pub fn verify(
        &mut self,
        header_value: &str,
        method: &str,
        lookup: impl Fn(&str) -> Option<String>,
        now: SystemTime,
    ) -> Result<AuthOk, AuthError> {
        let v = parse_auth_value(header_value)?;
        if !v.scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::UnsupportedScheme(v.scheme));
        }
        let get = |n: &str| {
            v.get(n)
                .ok_or_else(|| AuthError::Malformed(format!("missing `{n}`")))
        };
        let username = get("username")?;
        let realm = get("realm")?;
        let nonce = get("nonce")?;
        let uri = get("uri")?;
        let response = get("response")?;
        let algorithm = match v.get("algorithm") {
            None => Algorithm::Md5,
            Some(a) => Algorithm::from_name(a)
                .filter(|a| self.algorithms.contains(a))
                .ok_or_else(|| AuthError::UnsupportedAlgorithm(a.to_string()))?,
        };
        if realm != self.realm {
            return Err(AuthError::RealmMismatch(realm.to_string()));
        }
        let (ts, random) = self.check_nonce(nonce, now)?;
        let qop = v.get("qop");
        let password = lookup(username).ok_or_else(|| AuthError::UnknownUser(username.into()))?;
        let ha1 = algorithm.hash(&format!("{username}:{realm}:{password}"));
        let ha2 = algorithm.hash(&format!("{method}:{uri}"));
        // without qop there is no count: the nonce is good for one request
        let (expected, count) = match qop {
            Some("auth") => {
                let nc = get("nc")?;
                let cnonce = get("cnonce")?;
                let count = parse_nc(nc)?;
                let h = algorithm.hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
                (h, count)
            }
            Some(other) => return Err(AuthError::UnsupportedQop(other.to_string())),
            None => (algorithm.hash(&format!("{ha1}:{nonce}:{ha2}")), 1),
        };
        if !constant_eq(
            expected.as_bytes(),
            response.to_ascii_lowercase().as_bytes(),
        ) {
            // a wrong password does not use the nonce up
            return Err(AuthError::WrongResponse {
                username: username.to_string(),
            });
        }
        let lifetime = self.lifetime.as_secs();
        if !self.used.accept(ts, random, count, unix(now), lifetime) {
            return Err(AuthError::Replayed);
        }
        Ok(AuthOk {
            username: username.to_string(),
        })
    }
}

/// RFC 7616 3.4: `nc` is exactly 8 hexadecimal digits; 0 is never a valid count.
fn parse_nc(nc: &str) -> Result<u32, AuthError> {
    let n = (nc.len() == 8 && nc.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u32::from_str_radix(nc, 16).ok())
        .flatten()
        .filter(|n| *n > 0);
    n.ok_or_else(|| AuthError::Malformed(format!("bad nc `{nc}`")))
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The Authorization value a client sends in answer to `challenge_value`.
pub fn respond(
    challenge_value: &str,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
    cnonce: &str,
    nc: u32,
) -> Result<String, AuthError> {
    let c = parse_auth_value(challenge_value)?;
    if !c.scheme.eq_ignore_ascii_case("Digest") {
        return Err(AuthError::UnsupportedScheme(c.scheme));
    }
    let realm = c
        .get("realm")
        .ok_or_else(|| AuthError::Malformed("missing `realm`".into()))?;
    let nonce = c
        .get("nonce")
        .ok_or_else(|| AuthError::Malformed("missing `nonce`".into()))?;
    let algorithm = match c.get("algorithm") {
        None => Algorithm::Md5,
        Some(a) => {
            Algorithm::from_name(a).ok_or_else(|| AuthError::UnsupportedAlgorithm(a.into()))?
        }
    };
    let qop_auth = c
        .get("qop")
        .is_some_and(|q| q.split(',').any(|t| t.trim() == "auth"));
    let ha1 = algorithm.hash(&format!("{username}:{realm}:{password}"));
    let ha2 = algorithm.hash(&format!("{method}:{uri}"));
    let nc = format!("{nc:08x}");
    let mut out = format!(
        "Digest username=\"{username}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", algorithm={}",
        algorithm.name()
    );
    let response = if qop_auth {
        out.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{cnonce}\""));
        algorithm.hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
    } else {
        algorithm.hash(&format!("{ha1}:{nonce}:{ha2}"))
    };
    out.push_str(&format!(", response=\"{response}\""));
    if let Some(o) = c.get("opaque") {
        out.push_str(&format!(", opaque=\"{o}\""));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
