//! Who may read the admin listener: HTTP Basic against `[admin] users` (argon2 PHC hashes), a
//! per-client-address limit on wrong passwords, and `causeway hash-password`. With no users
//! configured every request passes (the listener is then loopback-only, `config::validate`).
//!
//! Choices:
//! - A request without credentials gets 401 but is not a failure: that is how a browser asks
//!   for them. A wrong name or password is counted and limited.
//! - `Limiter` is plain data fed the time, so its window is tested without waiting.
//! - argon2 is slow on purpose (tens of milliseconds); it runs on the blocking pool, since the
//!   node's runtime is one thread shared with SIP. The page refreshes every few seconds with
//!   the same credentials, so verified ones are remembered (as a SHA-256 digest, bounded) and
//!   not hashed again.

use super::server::StatusHandle;
use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use causeway_config::zones::AdminUser;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Wrong passwords a client address may send in one window before it is refused (429).
pub const FAILURES_ALLOWED: u32 = 5;
/// The window those failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Client addresses remembered at once (bounded memory under a spread-out attack).
const MAX_CLIENTS: usize = 1024;
/// Verified credentials remembered at once.
const MAX_VERIFIED: usize = 64;

/// Wrong passwords per client address, in a fixed window that starts at the first failure.
#[derive(Default)]
pub struct Limiter {
    clients: HashMap<IpAddr, Window>,
}

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
}

impl Limiter {
    /// How long `ip` must still wait, when it has used up its failures.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let w = self.clients.get(&ip)?;
        let left = WINDOW.checked_sub(now.saturating_duration_since(w.start))?;
        (w.failures >= FAILURES_ALLOWED && !left.is_zero()).then_some(left)
    }

    pub fn failed(&mut self, ip: IpAddr, now: Instant) {
        let expired = |w: &Window| now.saturating_duration_since(w.start) >= WINDOW;
        if self.clients.len() >= MAX_CLIENTS && !self.clients.contains_key(&ip) {
            self.clients.retain(|_, w| !expired(w));
            // still full: forget the oldest window rather than grow
            if self.clients.len() >= MAX_CLIENTS {
                if let Some(oldest) = self.clients.iter().min_by_key(|(_, w)| w.start) {
                    let oldest = *oldest.0;
                    self.clients.remove(&oldest);
                }
            }
        }
        let w = self.clients.entry(ip).or_insert(Window {
            start: now,
            failures: 0,
        });
        if expired(w) {
            *w = Window {
                start: now,
                failures: 0,
            };
        }
        w.failures += 1;
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.clients.len()
    }
}

/// The users, the limiter and the listener's counters: the state of the auth middleware.
pub struct Gate {
    users: Vec<AdminUser>,
    limiter: Mutex<Limiter>,
    verified: Mutex<HashSet<[u8; 32]>>,
    status: StatusHandle,
}

impl Gate {
    pub fn new(users: Vec<AdminUser>, status: StatusHandle) -> Gate {
        Gate {
            users,
            limiter: Mutex::default(),
            verified: Mutex::default(),
            status,
        }
    }

    /// Whether `name`/`password` is a configured user. An unknown name still costs one argon2
    /// verification, so that timing does not tell which names exist.
    async fn verify(&self, name: &str, password: &str) -> bool {
        let digest: [u8; 32] = Sha256::new()
            .chain_update(name)
            .chain_update([0])
            .chain_update(password)
            .finalize()
            .into();
        if self.verified.lock().is_ok_and(|v| v.contains(&digest)) {
            return true;
        }
        let user = self.users.iter().find(|u| u.name == name);
        let Some(hash) = user.or(self.users.first()).map(|u| u.password_hash.clone()) else {
            return false;
        };
        let password = password.to_string();
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false);
        let ok = matches && user.is_some();
        if ok {
            if let Ok(mut v) = self.verified.lock() {
                if v.len() >= MAX_VERIFIED {
                    v.clear();
                }
                v.insert(digest);
            }
        }
        ok
    }
}

/// The middleware: passes the request on, or answers 401 / 429.
pub async fn require(State(gate): State<Arc<Gate>>, req: Request, next: Next) -> Response {
    if gate.users.is_empty() {
        return next.run(req).await;
    }
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let now = Instant::now();
    let blocked = gate.limiter.lock().ok().and_then(|l| l.blocked(ip, now));
    if let Some(wait) = blocked {
        gate.status.counters().rate_limited.fetch_add(1, Relaxed);
        let secs = wait.as_secs().max(1).to_string();
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, secs)],
            "too many wrong passwords; try again later\n",
        )
            .into_response();
    }
    let given = credentials(req.headers());
    if let Some((name, password)) = &given {
        if gate.verify(name, password).await {
            return next.run(req).await;
        }
        gate.status.counters().auth_failures.fetch_add(1, Relaxed);
        if let Ok(mut l) = gate.limiter.lock() {
            l.failed(ip, now);
        }
        tracing::warn!(%ip, user = %name, "admin: wrong credentials");
    }
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"causeway\", charset=\"UTF-8\""),
        )],
        "credentials required\n",
    )
        .into_response()
}

/// The name and password of an `Authorization: Basic` header.
fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (name, password) = text.split_once(':')?;
    Some((name.to_string(), password.to_string()))
}

/// An argon2id PHC string of `password` with a fresh salt (argon2's default parameters).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))
    }

    #[test]
    fn five_failures_block_the_address_for_the_rest_of_the_window() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        for i in 0..FAILURES_ALLOWED {
            assert_eq!(l.blocked(ip(1), t0), None, "after {i} failures");
            l.failed(ip(1), t0 + Duration::from_secs(u64::from(i)));
        }
        let at = t0 + Duration::from_secs(10);
        assert_eq!(l.blocked(ip(1), at), Some(WINDOW - Duration::from_secs(10)));
        assert_eq!(
            l.blocked(ip(2), at),
            None,
            "another address is not affected"
        );
        assert_eq!(l.blocked(ip(1), t0 + WINDOW), None, "the window is over");
        l.failed(ip(1), t0 + WINDOW);
        assert_eq!(
            l.blocked(ip(1), t0 + WINDOW),
            None,
            "a new window starts at 1"
        );
    }

    #[test]
    fn limiter_memory_is_bounded() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        for i in 0..(MAX_CLIENTS as u32 + 500) {
            let a = IpAddr::from(std::net::Ipv6Addr::from(u128::from(i)));
            l.failed(a, t0 + Duration::from_millis(u64::from(i)));
        }
        assert_eq!(l.len(), MAX_CLIENTS);
    }

    #[test]
    fn basic_credentials_are_decoded() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic b3BzOnMzY3I6ZXQ="), // ops:s3cr:et
        );
        assert_eq!(
            credentials(&h),
            Some(("ops".to_string(), "s3cr:et".to_string()))
        );
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(credentials(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!"));
        assert_eq!(credentials(&h), None);
    }

    #[tokio::test]
    async fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let hash = hash_password("right").unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        let users = vec![AdminUser {
            name: "ops".into(),
            password_hash: hash,
        }];
        let gate = Gate::new(users, StatusHandle::default());
        assert!(gate.verify("ops", "right").await);
        assert!(gate.verify("ops", "right").await, "remembered");
        assert!(!gate.verify("ops", "wrong").await);
        assert!(!gate.verify("eve", "right").await, "unknown name");
    }
}
