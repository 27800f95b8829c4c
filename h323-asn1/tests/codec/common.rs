//! Helpers shared by the codec tests: the golden vector file, the three top-level types and
//! readable views of addresses and aliases for assertions.

use causeway_h323_asn1::h323_messages::{
    AliasAddress, GloballyUniqueID, TransportAddress, TransportAddressIp6Address,
    TransportAddressIpAddress,
};
use causeway_h323_asn1::multimedia_system_control::{
    H245TransportAddress, UnicastAddress, UnicastAddressIPAddress,
};
use causeway_h323_asn1::rasn::{
    aper,
    types::{BmpString, Ia5String},
    Decode, Encode,
};
use std::fmt::Debug;

#[derive(Clone)]
pub struct Vector {
    pub name: String,
    pub family: String,
    /// The ASN.1 type (the family's top-level type, or the H.460 type for family h460).
    pub ty: String,
    pub hex: String,
}

/// The golden vectors, parsed once (proptest cases start from them thousands of times).
pub fn vectors() -> &'static [Vector] {
    static VECTORS: std::sync::OnceLock<Vec<Vector>> = std::sync::OnceLock::new();
    VECTORS.get_or_init(|| {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../golden/vectors.json")).expect("vectors.json");
        doc["vectors"]
            .as_array()
            .expect("vectors")
            .iter()
            .map(|v| Vector {
                name: v["name"].as_str().unwrap().to_owned(),
                family: v["family"].as_str().unwrap().to_owned(),
                ty: v["type"].as_str().unwrap().to_owned(),
                hex: v["hex"].as_str().unwrap().to_owned(),
            })
            .collect()
    })
}

pub fn vector_bytes(name: &str) -> Vec<u8> {
    let v = vectors().iter().find(|v| v.name == name).expect(name);
    hex::decode(&v.hex).unwrap()
}

/// Decodes a golden vector as `T`, panicking with the vector name on failure.
pub fn decode<T: Decode>(name: &str) -> T {
    aper::decode(&vector_bytes(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Decodes `bytes` as `T` and encodes the result again; Err says which step failed or how the
/// bytes differ.
pub fn round_trip<T: Decode + Encode + PartialEq + Debug>(bytes: &[u8]) -> Result<T, String> {
    let msg: T = aper::decode(bytes).map_err(|e| format!("decode: {e}"))?;
    let again = aper::encode(&msg).map_err(|e| format!("encode: {e}"))?;
    if again != bytes {
        return Err(format!(
            "re-encoding differs:\n asn1tools {}\n rasn      {}",
            hex::encode(bytes),
            hex::encode(&again)
        ));
    }
    Ok(msg)
}

/// A BMPString from text. Not `BmpString::try_from(&str)`: rasn 0.30 reads the UTF-8 bytes
/// of the str as big-endian UCS-2 pairs ("alice" fails, "ab" becomes U+6162).
pub fn bmp(s: &str) -> BmpString {
    let be: Vec<u8> = s.encode_utf16().flat_map(u16::to_be_bytes).collect();
    BmpString::try_from(be).unwrap()
}

pub fn bmp_str(s: &BmpString) -> String {
    String::from_utf16_lossy(s)
}

pub fn ip(addr: &TransportAddress) -> ([u8; 4], u16) {
    match addr {
        TransportAddress::ipAddress(a) => (a.ip.as_ref().try_into().unwrap(), a.port),
        other => panic!("not ipAddress: {other:?}"),
    }
}

pub fn ip6(addr: &TransportAddress) -> ([u8; 16], u16) {
    match addr {
        TransportAddress::ip6Address(a) => (a.ip.as_ref().try_into().unwrap(), a.port),
        other => panic!("not ip6Address: {other:?}"),
    }
}

pub fn h245_ip(addr: &H245TransportAddress) -> ([u8; 4], u16) {
    match addr {
        H245TransportAddress::unicastAddress(UnicastAddress::iPAddress(a)) => {
            (a.network.as_ref().try_into().unwrap(), a.tsap_identifier)
        }
        other => panic!("not unicast iPAddress: {other:?}"),
    }
}

pub fn aliases(list: &[AliasAddress]) -> Vec<String> {
    list.iter()
        .map(|a| match a {
            AliasAddress::h323_ID(s) => format!("h323-ID:{}", bmp_str(s)),
            AliasAddress::dialledDigits(s) => format!("e164:{}", String::from(s.clone())),
            AliasAddress::url_ID(s) => format!("url:{}", String::from(s.clone())),
            AliasAddress::email_ID(s) => format!("email:{}", String::from(s.clone())),
            other => format!("{other:?}"),
        })
        .collect()
}

// ---- builders (for the Rust-made corpus and the proptest strategies) ------------------------

pub fn ta4(ip: [u8; 4], port: u16) -> TransportAddress {
    TransportAddress::ipAddress(TransportAddressIpAddress::new(ip.to_vec().into(), port))
}

pub fn ta6(ip: [u8; 16], port: u16) -> TransportAddress {
    TransportAddress::ip6Address(TransportAddressIp6Address::new(ip.to_vec().into(), port))
}

pub fn h245_ta4(ip: [u8; 4], port: u16) -> H245TransportAddress {
    H245TransportAddress::unicastAddress(UnicastAddress::iPAddress(UnicastAddressIPAddress::new(
        ip.to_vec().into(),
        port,
    )))
}

pub fn e164(s: &str) -> AliasAddress {
    AliasAddress::dialledDigits(Ia5String::try_from(s).unwrap())
}

pub fn h323_id(s: &str) -> AliasAddress {
    AliasAddress::h323_ID(bmp(s))
}

pub fn url(s: &str) -> AliasAddress {
    AliasAddress::url_ID(Ia5String::try_from(s).unwrap())
}

pub fn email(s: &str) -> AliasAddress {
    AliasAddress::email_ID(Ia5String::try_from(s).unwrap())
}

pub fn guid(bytes: [u8; 16]) -> GloballyUniqueID {
    GloballyUniqueID(bytes.into())
}
