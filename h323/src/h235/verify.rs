//! Verifying: a received datagram and its decoded RAS message in, who sent it (or what was
//! wrong with its token) out.
//!
//! Owns the receiver's checks in the order the module doc gives and the [`Verifier`]'s
//! settings. Must not touch: the token's construction (`sign`), the decision to reject.

use super::replay::ReplayCache;
use super::sign::{hmac_state, password_key};
use super::{crypto_tokens, procedure_one, same_oid, HASH_LEN, MAX_HASH_PLACES, OID_T, OID_U};
use crate::asn;
use causeway_h323_asn1::h235_security_messages::ClearToken;
use causeway_h323_asn1::h323_messages::RasMessage;
use causeway_h323_asn1::rasn::aper;
use hmac::Mac;

/// The default time window, seconds either way (the "clock skew window").
pub const DEFAULT_SKEW_WINDOW: u32 = 300;
/// Senders remembered at once by default (authenticated ones only: zones and users).
pub const DEFAULT_MAX_SENDERS: usize = 1024;
/// Accepted tokens remembered per sender by default.
pub const DEFAULT_PER_SENDER: usize = 32;

/// What a verified token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// `sendersID`: whose password verified the hash.
    pub sender: String,
    /// `generalID`, if the token had one (then equal to our identifier).
    pub general_id: Option<String>,
    pub timestamp: u32,
    pub random: i64,
}

/// Why a token was refused. Every variant means `securityDenial` for the request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no H.235.1 procedure I token (nestedcryptoToken/cryptoHashedToken, tokenOID A)")]
    NoToken,
    #[error("malformed token: {0}")]
    Malformed(Malformed),
    #[error("generalID {got:?} is not ours ({expected:?})")]
    WrongGeneralId {
        expected: String,
        got: Option<String>,
    },
    #[error("no password for sendersID {sender:?}")]
    UnknownSender { sender: String },
    #[error("hash does not verify with the password of {sender:?}")]
    BadHash { sender: String },
    /// `skew` = token time - our time, seconds.
    #[error("timeStamp {skew:+} s from our clock, beyond the window of {window} s")]
    Stale { skew: i64, window: u32 },
    #[error("token of {sender:?} (timeStamp {timestamp}, random {random}) seen before")]
    Replayed {
        sender: String,
        timestamp: u32,
        random: i64,
    },
}

/// What is wrong in the datagram or its token's fields.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("the datagram is not a RAS message")]
    Decode,
    #[error("hashedVals tokenOID is not T (0.0.8.235.0.x.5)")]
    ClearTokenOid,
    #[error("algorithmOID is not U, HMAC-SHA1-96 (0.0.8.235.0.x.6)")]
    Algorithm,
    #[error("hash of {bits} bits, expected 96")]
    HashLength { bits: usize },
    #[error("no timeStamp")]
    NoTimestamp,
    #[error("no random")]
    NoRandom,
    #[error("random beyond 64 bits")]
    RandomRange,
    #[error("no sendersID")]
    NoSendersId,
    #[error("an identifier is not valid UTF-16")]
    IdentifierText,
    #[error("the hash octets are not in the datagram")]
    HashNotInDatagram,
}

impl From<Malformed> for TokenError {
    fn from(m: Malformed) -> Self {
        TokenError::Malformed(m)
    }
}

/// The receiver's side: our identifier, the window, and the memory of accepted tokens.
#[derive(Debug)]
pub struct Verifier {
    local_id: String,
    window: u32,
    require_general_id: bool,
    replay: ReplayCache,
}

/// The token's fields, read and checked for presence.
struct Fields {
    sender: String,
    general_id: Option<String>,
    timestamp: u32,
    random: i64,
    hash: [u8; HASH_LEN],
}

impl Verifier {
    /// A verifier for tokens whose `generalID` is `local_id` (our gatekeeper or endpoint
    /// identifier), with the default window and memory.
    pub fn new(local_id: impl Into<String>) -> Self {
        Verifier {
            local_id: local_id.into(),
            window: DEFAULT_SKEW_WINDOW,
            require_general_id: true,
            replay: ReplayCache::new(DEFAULT_MAX_SENDERS, DEFAULT_PER_SENDER),
        }
    }

    /// The time window, seconds either way.
    pub fn with_window(mut self, seconds: u32) -> Self {
        self.window = seconds;
        self
    }

    /// The replay memory's bounds (each at least 1). Forgets what it remembered.
    pub fn with_memory(mut self, max_senders: usize, per_sender: usize) -> Self {
        self.replay = ReplayCache::new(max_senders, per_sender);
        self
    }

    /// Whether a token without `generalID` is refused (default: yes).
    pub fn require_general_id(mut self, required: bool) -> Self {
        self.require_general_id = required;
        self
    }

    /// Our identifier changes (an endpoint learns its endpoint identifier from RCF).
    pub fn set_local_id(&mut self, local_id: impl Into<String>) {
        self.local_id = local_id.into();
    }

    pub fn local_id(&self) -> &str {
        &self.local_id
    }

    pub fn window(&self) -> u32 {
        self.window
    }

    /// Senders in the replay memory.
    pub fn senders_remembered(&self) -> usize {
        self.replay.senders()
    }

    /// Accepted tokens in the replay memory, all senders.
    pub fn tokens_remembered(&self) -> usize {
        self.replay.pairs()
    }

    /// Decodes `datagram` and verifies its token: the message and who sent it.
    pub fn verify_datagram<F, P>(
        &mut self,
        datagram: &[u8],
        password_of: F,
        now_unix: u32,
    ) -> Result<(RasMessage, Verified), TokenError>
    where
        F: FnOnce(&str) -> Option<P>,
        P: AsRef<[u8]>,
    {
        let msg: RasMessage = aper::decode(datagram).map_err(|_| Malformed::Decode)?;
        let verified = self.verify(datagram, &msg, password_of, now_unix)?;
        Ok((msg, verified))
    }

    /// Verifies the procedure-I token of `msg`, which the caller decoded from `datagram`.
    /// `password_of` gives the password of a `sendersID`; `now_unix` is our Unix time. An
    /// accepted token is remembered and refused the next time.
    pub fn verify<F, P>(
        &mut self,
        datagram: &[u8],
        msg: &RasMessage,
        password_of: F,
        now_unix: u32,
    ) -> Result<Verified, TokenError>
    where
        F: FnOnce(&str) -> Option<P>,
        P: AsRef<[u8]>,
    {
        let f = fields(msg)?;
        self.check_general_id(f.general_id.as_deref())?;
        let password = password_of(&f.sender).ok_or_else(|| TokenError::UnknownSender {
            sender: f.sender.clone(),
        })?;
        if !hash_verifies(datagram, &f.hash, &password_key(password.as_ref()))? {
            return Err(TokenError::BadHash { sender: f.sender });
        }
        let skew = i64::from(f.timestamp) - i64::from(now_unix);
        if skew.unsigned_abs() > u64::from(self.window) {
            return Err(TokenError::Stale {
                skew,
                window: self.window,
            });
        }
        let oldest_fresh = now_unix.saturating_sub(self.window);
        if !self
            .replay
            .admit(&f.sender, (f.timestamp, f.random), oldest_fresh)
        {
            return Err(TokenError::Replayed {
                sender: f.sender,
                timestamp: f.timestamp,
                random: f.random,
            });
        }
        Ok(Verified {
            sender: f.sender,
            general_id: f.general_id,
            timestamp: f.timestamp,
            random: f.random,
        })
    }

    fn check_general_id(&self, got: Option<&str>) -> Result<(), TokenError> {
        match got {
            Some(g) if g == self.local_id => Ok(()),
            None if !self.require_general_id => Ok(()),
            _ => Err(TokenError::WrongGeneralId {
                expected: self.local_id.clone(),
                got: got.map(str::to_owned),
            }),
        }
    }
}

/// The first procedure-I token of `msg`, its fields read and checked for presence.
fn fields(msg: &RasMessage) -> Result<Fields, TokenError> {
    let token = crypto_tokens(msg)
        .unwrap_or_default()
        .iter()
        .find_map(procedure_one)
        .ok_or(TokenError::NoToken)?;
    let clear: &ClearToken = &token.hashed_vals;
    if !same_oid(&clear.token_oid, &OID_T) {
        return Err(Malformed::ClearTokenOid.into());
    }
    if !same_oid(&token.token.algorithm_oid, &OID_U) {
        return Err(Malformed::Algorithm.into());
    }
    let bits = &token.token.hash;
    let hash: [u8; HASH_LEN] = match (bits.len(), bits.as_raw_slice().try_into()) {
        (96, Ok(h)) => h,
        (bits, _) => return Err(Malformed::HashLength { bits }.into()),
    };
    let timestamp = clear.time_stamp.as_ref().ok_or(Malformed::NoTimestamp)?.0;
    let random = clear.random.as_ref().ok_or(Malformed::NoRandom)?;
    let random = i64::try_from(&random.0).map_err(|_| Malformed::RandomRange)?;
    let sender = clear.senders_id.as_ref().ok_or(Malformed::NoSendersId)?;
    let sender = asn::bmp_text(&sender.0).ok_or(Malformed::IdentifierText)?;
    let general_id = match &clear.general_id {
        Some(g) => Some(asn::bmp_text(&g.0).ok_or(Malformed::IdentifierText)?),
        None => None,
    };
    Ok(Fields {
        sender,
        general_id,
        timestamp,
        random,
        hash,
    })
}

/// Whether the HMAC-SHA1-96 of `datagram`, with `hash` zeroed where it occurs, is `hash`.
/// Tries the first [`MAX_HASH_PLACES`] places where the octets occur.
fn hash_verifies(
    datagram: &[u8],
    hash: &[u8; HASH_LEN],
    key: &[u8; 20],
) -> Result<bool, TokenError> {
    let places: Vec<usize> = datagram
        .windows(HASH_LEN)
        .enumerate()
        .filter(|(_, w)| w == hash)
        .map(|(i, _)| i)
        .take(MAX_HASH_PLACES)
        .collect();
    if places.is_empty() {
        return Err(Malformed::HashNotInDatagram.into());
    }
    let mut zeroed = datagram.to_vec();
    for at in places {
        let Some(place) = zeroed.get_mut(at..at + HASH_LEN) else {
            continue;
        };
        place.fill(0);
        let mut mac = hmac_state(key);
        mac.update(&zeroed);
        // Constant time: the comparison must not tell a forger how many octets were right.
        if mac.verify_truncated_left(hash).is_ok() {
            return Ok(true);
        }
        if let Some(place) = zeroed.get_mut(at..at + HASH_LEN) {
            place.copy_from_slice(hash);
        }
    }
    Ok(false)
}
