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
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RFC_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const RFC_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn rfc7616_response(alg: &str) -> String {
        let ch = format!("Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={alg}, nonce=\"{RFC_NONCE}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"");
        respond(
            &ch,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle of Life",
            RFC_CNONCE,
            1,
        )
        .unwrap()
    }

    #[test]
    fn rfc7616_3_9_1_md5_example() {
        let r = rfc7616_response("MD5");
        assert!(
            r.contains("response=\"8ca523f5e9506fed4657c9700eebdbec\""),
            "{r}"
        );
    }

    #[test]
    fn rfc7616_3_9_1_sha256_example() {
        let r = rfc7616_response("SHA-256");
        assert!(
            r.contains(
                "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""
            ),
            "{r}"
        );
    }

    fn server() -> DigestServer {
        DigestServer::new(
            "example.com",
            &[Algorithm::Sha256, Algorithm::Md5],
            [7; 32],
            Duration::from_secs(300),
        )
    }

    fn pw(u: &str) -> Option<String> {
        (u == "alice").then(|| "secret".to_string())
    }

    #[test]
    fn challenge_respond_verify_round_trip_both_algorithms() {
        let s = server();
        let now = SystemTime::now();
        let ch = s.challenge(now, false);
        assert_eq!(ch.len(), 2);
        assert!(ch[0].contains("algorithm=SHA-256"));
        assert!(ch[1].contains("algorithm=MD5"));
        for c in &ch {
            let a = respond(
                c,
                "REGISTER",
                "sip:example.com",
                "alice",
                "secret",
                "abc",
                1,
            )
            .unwrap();
            assert_eq!(
                s.verify(&a, "REGISTER", pw, now),
                Ok(AuthOk {
                    username: "alice".into()
                })
            );
            let bad =
                respond(c, "REGISTER", "sip:example.com", "alice", "wrong", "abc", 1).unwrap();
            assert_eq!(
                s.verify(&bad, "REGISTER", pw, now),
                Err(AuthError::WrongResponse {
                    username: "alice".into()
                })
            );
        }
    }

    #[test]
    fn stale_forged_foreign_and_unknown() {
        let s = server();
        let then = SystemTime::now();
        let ch = &s.challenge(then, false)[0];
        let a = respond(ch, "REGISTER", "sip:x", "alice", "secret", "c", 1).unwrap();
        assert_eq!(
            s.verify(&a, "REGISTER", pw, then + Duration::from_secs(301)),
            Err(AuthError::StaleNonce)
        );
        let forged = a.replacen("nonce=\"", "nonce=\"0", 1);
        assert!(matches!(
            s.verify(&forged, "REGISTER", pw, then),
            Err(AuthError::BadNonce)
        ));
        let other = DigestServer::new(
            "example.com",
            &[Algorithm::Sha256],
            [9; 32],
            Duration::from_secs(300),
        );
        assert_eq!(
            other.verify(&a, "REGISTER", pw, then),
            Err(AuthError::BadNonce)
        );
        let mallory = respond(ch, "REGISTER", "sip:x", "mallory", "x", "c", 1).unwrap();
        assert_eq!(
            s.verify(&mallory, "REGISTER", pw, then),
            Err(AuthError::UnknownUser("mallory".into()))
        );
        assert_eq!(
            s.verify("NewAuth realm=\"example.com\"", "REGISTER", pw, then),
            Err(AuthError::UnsupportedScheme("NewAuth".into()))
        );
    }

    proptest! {
        #[test]
        fn any_credentials_round_trip(user in "[a-zA-Z0-9._-]{1,20}", pass in "[ -~]{0,30}") {
            let s = DigestServer::new("r", &[Algorithm::Sha256], [1; 32], Duration::from_secs(60));
            let now = SystemTime::now();
            let ch = &s.challenge(now, false)[0];
            let pass2 = pass.replace(['"', '\\'], "");
            let a = respond(ch, "REGISTER", "sip:r", &user, &pass2, "cn", 7).unwrap();
            let ok = s.verify(&a, "REGISTER", |_| Some(pass2.clone()), now);
            prop_assert_eq!(ok, Ok(AuthOk { username: user.clone() }));
        }

        #[test]
        fn verify_never_panics(v in ".{0,300}") {
            let _ = server().verify(&v, "REGISTER", pw, SystemTime::now());
        }
    }
}
