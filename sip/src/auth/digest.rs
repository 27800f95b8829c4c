//! Digest computation and policy (RFC 7616 3.4.1, RFC 8760): the challenges a registrar sends,
//! the check of an Authorization value, and the client's response.
//!
//! Nonces are stateless: `hex(issue time) . hex(H(secret, issue time, realm))`, so a restart or
//! a second worker needs no shared table; a nonce older than the lifetime is answered with
//! `stale=true` (the client retries without asking its user), a nonce we did not make is
//! refused. No replay cache is kept (bounded memory; nc reuse within the lifetime is allowed).

use super::params::parse_auth_value;
use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    #[error("unknown user `{0}`")]
    UnknownUser(String),
    #[error("wrong password for `{username}`")]
    WrongResponse { username: String },
    #[error("the nonce has expired")]
    StaleNonce,
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
        }
    }

    fn nonce_mac(&self, ts: u64) -> String {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(ts.to_be_bytes());
        h.update(self.realm.as_bytes());
        hex::encode(&h.finalize()[..16])
    }

    fn nonce(&self, now: SystemTime) -> String {
        let ts = unix(now);
        format!("{ts:016x}{}", self.nonce_mac(ts))
    }

    /// One WWW-Authenticate value per algorithm, in the configured order (RFC 8760 2.4:
    /// the preferred, SHA-256, first).
    pub fn challenge(&self, now: SystemTime, stale: bool) -> Vec<String> {
        let nonce = self.nonce(now);
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

    fn check_nonce(&self, nonce: &str, now: SystemTime) -> Result<(), AuthError> {
        if nonce.len() != 48 || !nonce.is_ascii() {
            return Err(AuthError::BadNonce);
        }
        let ts = u64::from_str_radix(&nonce[..16], 16).map_err(|_| AuthError::BadNonce)?;
        let mac = self.nonce_mac(ts);
        if !constant_eq(mac.as_bytes(), &nonce.as_bytes()[16..]) {
            return Err(AuthError::BadNonce);
        }
        let age = unix(now).saturating_sub(ts);
        if age > self.lifetime.as_secs() || ts > unix(now) + 60 {
            return Err(AuthError::StaleNonce);
        }
        Ok(())
    }

    /// Verifies an Authorization value for a request with `method`; `lookup` gives a user's
    /// password.
    pub fn verify(
        &self,
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
        self.check_nonce(nonce, now)?;
        let qop = v.get("qop");
        let password = lookup(username).ok_or_else(|| AuthError::UnknownUser(username.into()))?;
        let ha1 = algorithm.hash(&format!("{username}:{realm}:{password}"));
        let ha2 = algorithm.hash(&format!("{method}:{uri}"));
        let expected = match qop {
            Some("auth") => {
                let nc = get("nc")?;
                let cnonce = get("cnonce")?;
                algorithm.hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
            }
            Some(other) => return Err(AuthError::UnsupportedQop(other.to_string())),
            None => algorithm.hash(&format!("{ha1}:{nonce}:{ha2}")),
        };
        if constant_eq(
            expected.as_bytes(),
            response.to_ascii_lowercase().as_bytes(),
        ) {
            Ok(AuthOk {
                username: username.to_string(),
            })
        } else {
            Err(AuthError::WrongResponse {
                username: username.to_string(),
            })
        }
    }
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
