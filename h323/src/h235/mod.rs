//! H.235.1 baseline security, procedure I, for RAS: an HMAC-SHA1-96 `CryptoToken` over the
//! whole encoded message, keyed with the SHA-1 of a shared password, carrying who sent it
//! (`sendersID`), whom it is for (`generalID`), when (`timeStamp`, Unix seconds) and a
//! `random` value that tells apart two messages of the same second. It is how C (inside)
//! authenticates its H.460.18 RAS flow to E (DMZ) with the traversal zone's username and
//! password.
//!
//! Sans-IO: no clock and no randomness source of its own. [`sign`] takes the message value,
//! the [`Credentials`], the time and the random value, and returns the datagram to send;
//! [`Verifier::verify`] takes a received datagram, its decoded message, a password lookup and
//! the time, and returns who sent it or a [`TokenError`] naming the fault. Rejecting the
//! request (`securityDenial`) is the caller's job.
//!
//! Layout: this file holds the types, the OIDs and the access to the `cryptoTokens` field of
//! each RAS message; `sign` builds and hashes tokens; `verify` checks them; `replay` is the
//! bounded memory of accepted tokens.
//!
//! Wire facts, as H323Plus (`h235auth1.cxx`, `H2351_Authenticator`) and GnuGk (`gkh235.cxx`,
//! `gkauth.cxx` on top of it) implement them, and Expressway interoperates with:
//! - the token is `CryptoH323Token.nestedcryptoToken` → `CryptoToken.cryptoHashedToken`, its
//!   `tokenOID` "A" = 0.0.8.235.0.2.1 (all fields of the message are hashed); the `ClearToken`
//!   in `hashedVals` has `tokenOID` "T" = 0.0.8.235.0.2.5 (not "A": both stacks check this);
//!   `token.algorithmOID` "U" = 0.0.8.235.0.2.6 (HMAC-SHA1-96), `paramS` empty, `hash` a
//!   96-bit BIT STRING;
//! - key = SHA-1(password octets); the HMAC-SHA1 runs over the whole aligned-PER encoding of
//!   the `RasMessage` with the 12 hash octets set to zero, and its first 12 octets go there.
//!   (H323Plus encodes with the marker `tWelVe~byteS` in the hash, finds the marker in the
//!   octets and zeroes it before hashing: the marker is never hashed.) The receiver finds the
//!   received hash in the octets, zeroes it and recomputes;
//! - `generalID` is the recipient's identifier (the gatekeeper identifier in requests to a
//!   gatekeeper, the endpoint identifier in its answers), left out when not known yet (a GRQ);
//!   `sendersID` the sender's: in a first RRQ the H.235 username (H323Plus), later the
//!   endpoint identifier from RCF. GnuGk accepts any `sendersID` in RRQ and looks the password
//!   up by it;
//! - `timeStamp` Unix seconds; `random` H323Plus' running count of tokens sent.
//!
//! Choices:
//! - The receiver requires `sendersID` (GnuGk ignores tokens without it too): it is the key
//!   of the password lookup and of the replay memory. `generalID` must equal our identifier
//!   when present, and by default must be present (H.235.1 clause 14 says "shall" when the
//!   information is available; H323Plus requires it); [`Verifier::require_general_id`] turns
//!   that off for peers that leave it out (GnuGk documents AudioCodes and Innovaphone).
//! - Object identifiers are compared without their version arc (the 6th), as H323Plus does,
//!   so H.235 version 1 peers (0.0.8.235.0.1.x) verify too.
//! - Checks run in the order: token found, its fields, `generalID`, sender known, hash, time,
//!   replay. The hash goes before the time so that a wrong password is reported as such even
//!   from a peer whose clock is off; "replayed" is only said of a token that verified.
//! - The time window is symmetric: |token time - our time| <= window (default 300 s) passes.
//! - Replay: a token is refused if its (timeStamp, random) was accepted before from the same
//!   sender. The memory is bounded (see `replay`); when it must forget, it keeps a floor so
//!   that what it forgot is refused rather than accepted again.
//! - The receiver looks for the hash at most at [`MAX_HASH_PLACES`] places in the datagram: an
//!   honest HMAC output occurs once, and a crafted datagram full of copies of its hash must
//!   not cost one HMAC per copy.
//! - [`sign`] replaces any procedure-I token already in the message (a re-signed
//!   retransmission carries one token, not two) and keeps other tokens. It finds the hash's
//!   place by encoding twice (hash zero, hash marker) and comparing: exact even when the
//!   message happens to contain the marker text.
//!
//! Must not touch: sockets, clocks, randomness, the gatekeeper's decisions (`crate::ras`).

mod replay;
mod sign;
mod verify;

#[cfg(test)]
mod tests;

pub use sign::{sign, SignError};
pub use verify::{
    Malformed, TokenError, Verified, Verifier, DEFAULT_MAX_SENDERS, DEFAULT_PER_SENDER,
    DEFAULT_SKEW_WINDOW,
};

use causeway_h323_asn1::h235_security_messages::{CryptoToken, CryptoTokenCryptoHashedToken};
use causeway_h323_asn1::h323_messages::{CryptoH323Token, RasMessage};
use causeway_h323_asn1::rasn::types::SequenceOf;

/// Octets of an HMAC-SHA1-96 value.
pub const HASH_LEN: usize = 12;

/// Places in a datagram where the receiver tries the received hash (see the module doc).
pub const MAX_HASH_PLACES: usize = 4;

/// "A": the CryptoHashedToken's tokenOID, all fields of the message hashed.
const OID_A: [u32; 7] = [0, 0, 8, 235, 0, 2, 1];
/// "T": the ClearToken's tokenOID in hashedVals.
const OID_T: [u32; 7] = [0, 0, 8, 235, 0, 2, 5];
/// "U": the algorithmOID of HMAC-SHA1-96.
const OID_U: [u32; 7] = [0, 0, 8, 235, 0, 2, 6];
/// The arc holding the H.235 version, which comparisons skip.
const OID_VERSION_ARC: usize = 5;

/// What a sender puts in its tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `sendersID`: our identifier (the zone's username, or our endpoint identifier once
    /// registered). 1 to 128 UTF-16 code units.
    pub senders_id: String,
    /// `generalID`: the recipient's identifier (gatekeeper identifier); `None` when not known
    /// yet, as in a GRQ. 1 to 128 UTF-16 code units.
    pub general_id: Option<String>,
    pub password: String,
}

// The password stays out of logs.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("senders_id", &self.senders_id)
            .field("general_id", &self.general_id)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Whether `oid` is `expected` apart from the version arc.
fn same_oid(oid: &[u32], expected: &[u32; 7]) -> bool {
    oid.len() == expected.len()
        && oid
            .iter()
            .zip(expected)
            .enumerate()
            .all(|(i, (a, b))| i == OID_VERSION_ARC || a == b)
}

/// The procedure-I token inside a `CryptoH323Token`, if it is one (tokenOID "A").
fn procedure_one(token: &CryptoH323Token) -> Option<&CryptoTokenCryptoHashedToken> {
    match token {
        CryptoH323Token::nestedcryptoToken(CryptoToken::cryptoHashedToken(h))
            if same_oid(&h.token_oid, &OID_A) =>
        {
            Some(h)
        }
        _ => None,
    }
}

/// Expands to a match over the RAS messages that have a `cryptoTokens` field, binding the
/// message to `$m` in `$with`, else `$without`.
macro_rules! with_tokens {
    ($msg:expr, $m:ident => $with:expr, _ => $without:expr) => {{
        use RasMessage as R;
        match $msg {
            R::gatekeeperRequest($m) => $with,
            R::gatekeeperConfirm($m) => $with,
            R::gatekeeperReject($m) => $with,
            R::registrationRequest($m) => $with,
            R::registrationConfirm($m) => $with,
            R::registrationReject($m) => $with,
            R::unregistrationRequest($m) => $with,
            R::unregistrationConfirm($m) => $with,
            R::unregistrationReject($m) => $with,
            R::admissionRequest($m) => $with,
            R::admissionConfirm($m) => $with,
            R::admissionReject($m) => $with,
            R::bandwidthRequest($m) => $with,
            R::bandwidthConfirm($m) => $with,
            R::bandwidthReject($m) => $with,
            R::disengageRequest($m) => $with,
            R::disengageConfirm($m) => $with,
            R::disengageReject($m) => $with,
            R::locationRequest($m) => $with,
            R::locationConfirm($m) => $with,
            R::locationReject($m) => $with,
            R::infoRequest($m) => $with,
            R::infoRequestResponse($m) => $with,
            R::nonStandardMessage($m) => $with,
            R::unknownMessageResponse($m) => $with,
            R::requestInProgress($m) => $with,
            R::resourcesAvailableIndicate($m) => $with,
            R::resourcesAvailableConfirm($m) => $with,
            R::infoRequestAck($m) => $with,
            R::infoRequestNak($m) => $with,
            R::serviceControlIndication($m) => $with,
            R::serviceControlResponse($m) => $with,
            _ => $without,
        }
    }};
}

/// The `cryptoTokens` of a RAS message: `None` for a message kind without the field
/// (admissionConfirmSequence) and for one that leaves it out.
pub fn crypto_tokens(msg: &RasMessage) -> Option<&[CryptoH323Token]> {
    with_tokens!(msg, m => m.crypto_tokens.as_deref(), _ => None)
}

/// The `cryptoTokens` field itself, for the kinds that have one.
fn crypto_tokens_field(msg: &mut RasMessage) -> Option<&mut Option<SequenceOf<CryptoH323Token>>> {
    with_tokens!(msg, m => Some(&mut m.crypto_tokens), _ => None)
}
