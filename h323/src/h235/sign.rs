//! Signing: a RAS message value in, the datagram carrying its procedure-I token out.
//!
//! Owns the token's layout (OIDs, ClearToken fields) and the HMAC-SHA1-96 primitive the
//! verifier shares. Must not touch the receiver's checks (`verify`).

use super::{crypto_tokens_field, procedure_one, Credentials, HASH_LEN, OID_A, OID_T, OID_U};
use crate::asn;
use causeway_h323_asn1::h235_security_messages::{
    ClearToken, CryptoToken, CryptoTokenCryptoHashedToken, CryptoTokenCryptoHashedTokenToken,
    CryptoTokenCryptoHashedTokenTokenParamS, Identifier, RandomVal, TimeStamp,
};
use causeway_h323_asn1::h323_messages::{CryptoH323Token, RasMessage};
use causeway_h323_asn1::rasn::aper;
use causeway_h323_asn1::rasn::error::EncodeError;
use causeway_h323_asn1::rasn::types::{BitString, Integer, ObjectIdentifier};
use hmac::digest::Key;
use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};
use std::borrow::Cow;

type HmacSha1 = Hmac<Sha1>;

/// What H323Plus writes into the hash before encoding; here only the second of the two
/// encodings that locate the hash (see the module doc), never hashed.
const MARKER: [u8; HASH_LEN] = *b"tWelVe~byteS";

/// Identifier bounds of H.235 `Identifier` (BMPString SIZE (1..128)).
const IDENTIFIER_UNITS: std::ops::RangeInclusive<usize> = 1..=128;

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("this kind of RAS message has no cryptoTokens field")]
    NoTokenField,
    #[error("{field} must be 1 to 128 UTF-16 code units, is {units}")]
    Identifier { field: &'static str, units: usize },
    #[error("the password is empty")]
    EmptyPassword,
    #[error("timeStamp 0 is outside its range 1..=4294967295")]
    ZeroTimestamp,
    #[error("encoding the message: {0}")]
    Encode(#[from] EncodeError),
    /// The two encodings did not differ in exactly the hash's 12 octets (the hash not
    /// octet-aligned, or the encoder not deterministic): a bug, not an input fault.
    #[error("the hash field is not 12 aligned octets in the encoding")]
    HashPlace,
}

/// `msg` encoded in aligned PER with a procedure-I token from `creds`, stamped `now_unix`
/// (Unix seconds) and `random` (a sequence number or random value the caller chooses, new for
/// each message of the same second), in its `cryptoTokens`. Procedure-I tokens already there
/// are replaced; other tokens stay.
pub fn sign(
    mut msg: RasMessage,
    creds: &Credentials,
    now_unix: u32,
    random: i32,
) -> Result<Vec<u8>, SignError> {
    if now_unix == 0 {
        return Err(SignError::ZeroTimestamp);
    }
    if creds.password.is_empty() {
        return Err(SignError::EmptyPassword);
    }
    let senders = identifier("sendersID", &creds.senders_id)?;
    let general = match &creds.general_id {
        Some(g) => Some(identifier("generalID", g)?),
        None => None,
    };
    let tokens = crypto_tokens_field(&mut msg)
        .ok_or(SignError::NoTokenField)?
        .get_or_insert_with(Vec::new);
    tokens.retain(|t| procedure_one(t).is_none());
    tokens.push(token(senders, general, now_unix, random));

    let mut bytes = aper::encode(&msg)?;
    if let Some(hash) = last_hash(&mut msg) {
        *hash = BitString::from_slice(&MARKER);
    }
    let marked = aper::encode(&msg)?;
    let at = hash_place(&bytes, &marked).ok_or(SignError::HashPlace)?;
    let mac = hmac_sha1_96(&password_key(creds.password.as_bytes()), &bytes);
    bytes[at..at + HASH_LEN].copy_from_slice(&mac);
    Ok(bytes)
}

fn identifier(field: &'static str, text: &str) -> Result<Identifier, SignError> {
    let units = text.encode_utf16().count();
    if !IDENTIFIER_UNITS.contains(&units) {
        return Err(SignError::Identifier { field, units });
    }
    Ok(Identifier(asn::bmp(text)))
}

fn oid(arcs: &'static [u32; 7]) -> ObjectIdentifier {
    ObjectIdentifier::new_unchecked(Cow::Borrowed(&arcs[..]))
}

/// A procedure-I token with a zero hash.
fn token(
    senders: Identifier,
    general: Option<Identifier>,
    now_unix: u32,
    random: i32,
) -> CryptoH323Token {
    let clear = ClearToken::new(
        oid(&OID_T),
        Some(TimeStamp(now_unix)),
        None,
        None,
        None,
        Some(RandomVal(Integer::from(random))),
        None,
        general,
        None,
        None,
        Some(senders),
        None,
        None,
    );
    let hashed = CryptoTokenCryptoHashedTokenToken::new(
        oid(&OID_U),
        CryptoTokenCryptoHashedTokenTokenParamS::new(None, None, None, None, None),
        BitString::from_slice(&[0; HASH_LEN]),
    );
    CryptoH323Token::nestedcryptoToken(CryptoToken::cryptoHashedToken(
        CryptoTokenCryptoHashedToken::new(oid(&OID_A), clear, hashed),
    ))
}

/// The hash of the last token in the message's cryptoTokens (the one `sign` pushed).
fn last_hash(msg: &mut RasMessage) -> Option<&mut BitString> {
    match crypto_tokens_field(msg)?.as_mut()?.last_mut()? {
        CryptoH323Token::nestedcryptoToken(CryptoToken::cryptoHashedToken(h)) => {
            Some(&mut h.token.hash)
        }
        _ => None,
    }
}

/// Where the hash is: the encodings with a zero and with a marker hash must differ in
/// exactly 12 consecutive octets, zero in the first and the marker in the second.
fn hash_place(zeroed: &[u8], marked: &[u8]) -> Option<usize> {
    if zeroed.len() != marked.len() {
        return None;
    }
    let at = zeroed.iter().zip(marked).position(|(a, b)| a != b)?;
    let end = at.checked_add(HASH_LEN)?;
    let same_elsewhere = zeroed.get(end..)? == marked.get(end..)?;
    let hash_zero = zeroed.get(at..end)? == [0; HASH_LEN];
    let hash_marked = marked.get(at..end)? == MARKER;
    (same_elsewhere && hash_zero && hash_marked).then_some(at)
}

/// The HMAC key of procedure I: SHA-1 of the password's octets.
pub(super) fn password_key(password: &[u8]) -> [u8; 20] {
    Sha1::digest(password).into()
}

/// A keyed HMAC-SHA1 state. HMAC pads a key shorter than the hash block with zeros (RFC 2104
/// section 2), so the 20-octet key zero-padded to the block is the same key, and `new` takes
/// it without a length check that could fail.
pub(super) fn hmac_state(key: &[u8; 20]) -> HmacSha1 {
    let mut block = Key::<HmacSha1>::default();
    for (b, k) in block.iter_mut().zip(key) {
        *b = *k;
    }
    HmacSha1::new(&block)
}

/// HMAC-SHA1-96: the first 12 octets of HMAC-SHA1 (RFC 2404).
pub(super) fn hmac_sha1_96(key: &[u8; 20], data: &[u8]) -> [u8; HASH_LEN] {
    let mut mac = hmac_state(key);
    mac.update(data);
    let full = mac.finalize().into_bytes();
    let mut out = [0; HASH_LEN];
    for (o, f) in out.iter_mut().zip(full.iter()) {
        *o = *f;
    }
    out
}
