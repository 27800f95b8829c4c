//! [`Format`] <-> H.245 `DataType` / `AudioCapability` / `VideoCapability`: the one codec table
//! shared by fastStart ([`crate::fast_start`]) and the capability exchange ([`crate::caps`]).
//!
//! Codecs (H.245 AudioCapability; the value is maxAl-sduAudioFrames, which counts
//! milliseconds for G.711 and G.722 and 10 ms frames for G.729; 20 ms packets throughout):
//! - PCMU `g711Ulaw64k(20)`, PCMA `g711Alaw64k(20)`, G.722 `g722-64k(20)`;
//! - G.729: written as `g729AnnexA(2)` then `g729(2)` (most H.323 endpoints announce Annex A,
//!   full G.729 ones usually both; one RTP format covers both, RFC 3551 4.5.6). Read from
//!   `g729`, `g729AnnexA` (fmtp `annexb=no`: H.245 has separate Annex B alternatives) and
//!   `g729wAnnexB`, `g729AnnexAwAnnexB` (no fmtp: RFC 4856's default annexb=yes);
//! - H.264: `genericVideoCapability` of H.241 (OID 0.0.8.241.0.0.1) with the collapsing
//!   parameters profile (41, booleanArray: 64 Baseline, 32 Main, 16 Extended, 8 High) and
//!   level (42, unsignedMin, H.241 table 8-? values 15..113), from and to the fmtp
//!   `profile-level-id`; maxBitRate (units of 100 bit/s) is the level's maximum. Packetization
//!   mode and the other H.241 parameters are not mapped.
//! - telephone-event has no DataType (see [`crate::caps`]).
//!
//! Must not build whole messages (the callers do).

use crate::media::{Codec, Format};
use causeway_h323_asn1::multimedia_system_control as h245;
use causeway_h323_asn1::rasn::types::ObjectIdentifier;
use std::borrow::Cow;

/// H.241 H.264 capability identifier `{itu-t(0) recommendation(0) h(8) 241 specificVideoCodecCapabilities(0) h264(0) generic(1)}`.
const H264_OID: &[u32] = &[0, 0, 8, 241, 0, 0, 1];
const PARAM_PROFILE: u8 = 41;
const PARAM_LEVEL: u8 = 42;

/// (H.264 level_idc, H.241 level value, maximum bit rate in kbit/s (H.264 table A-1)).
const LEVELS: &[(u8, u16, u32)] = &[
    (10, 15, 64),
    (9, 19, 128),
    (11, 22, 192),
    (12, 29, 384),
    (13, 36, 768),
    (20, 43, 2000),
    (21, 50, 4000),
    (22, 57, 4000),
    (30, 64, 10000),
    (31, 71, 14000),
    (32, 78, 20000),
    (40, 85, 20000),
    (41, 92, 50000),
    (42, 99, 50000),
    (50, 106, 135000),
    (51, 113, 240000),
];

/// (profile_idc, H.241 profile bit, the constraint byte written back).
const PROFILES: &[(u8, u8, u8)] = &[
    (66, 64, 0x80),
    (77, 32, 0x00),
    (88, 16, 0x00),
    (100, 8, 0x00),
];

/// The audio capabilities a format is announced or proposed as, in preference order (empty
/// for telephone-event and video).
pub(crate) fn audio_capabilities(c: Codec) -> Vec<h245::AudioCapability> {
    use h245::AudioCapability as A;
    match c {
        Codec::Pcmu => vec![A::g711Ulaw64k(20)],
        Codec::Pcma => vec![A::g711Alaw64k(20)],
        Codec::G722 => vec![A::g722_64k(20)],
        Codec::G729 => vec![A::g729AnnexA(2), A::g729(2)],
        Codec::TelephoneEvent | Codec::H264 => Vec::new(),
    }
}

/// The data types of a format, in preference order (empty when H.245 cannot carry it).
pub(crate) fn data_types(f: &Format) -> Vec<h245::DataType> {
    match f.codec {
        Codec::H264 => vec![h245::DataType::videoData(h264_capability(
            f.fmtp.as_deref(),
        ))],
        c => audio_capabilities(c)
            .into_iter()
            .map(h245::DataType::audioData)
            .collect(),
    }
}

/// The format of a data type; `pt` is the dynamicRTPPayloadType the channel named, if any.
pub(crate) fn format_of_data_type(dt: &h245::DataType, pt: Option<u8>) -> Option<Format> {
    match dt {
        h245::DataType::audioData(a) => format_of_audio(a),
        h245::DataType::videoData(v) => format_of_video(v, pt),
        _ => None,
    }
}

pub(crate) fn format_of_audio(a: &h245::AudioCapability) -> Option<Format> {
    use h245::AudioCapability as A;
    let (codec, fmtp) = match a {
        A::g711Ulaw64k(_) => (Codec::Pcmu, None),
        A::g711Alaw64k(_) => (Codec::Pcma, None),
        A::g722_64k(_) => (Codec::G722, None),
        A::g729(_) | A::g729AnnexA(_) => (Codec::G729, Some("annexb=no".to_string())),
        A::g729wAnnexB(_) | A::g729AnnexAwAnnexB(_) => (Codec::G729, None),
        _ => return None,
    };
    Some(Format {
        pt: codec.default_pt(),
        codec,
        fmtp,
    })
}

pub(crate) fn format_of_video(v: &h245::VideoCapability, pt: Option<u8>) -> Option<Format> {
    let h245::VideoCapability::genericVideoCapability(g) = v else {
        return None;
    };
    match &g.capability_identifier {
        h245::CapabilityIdentifier::standard(oid) if &oid[..] == H264_OID => {}
        _ => return None,
    }
    let mut profile = 64u8;
    let mut level = 15u16;
    for p in g.collapsing.iter().flatten() {
        match (&p.parameter_identifier, &p.parameter_value) {
            (
                h245::ParameterIdentifier::standard(PARAM_PROFILE),
                h245::ParameterValue::booleanArray(b),
            ) => profile = *b,
            (
                h245::ParameterIdentifier::standard(PARAM_LEVEL),
                h245::ParameterValue::unsignedMin(l),
            ) => level = *l,
            _ => {}
        }
    }
    let (idc, constraint) = PROFILES
        .iter()
        .find(|(_, bit, _)| profile & bit != 0)
        .map_or((66, 0x80), |&(idc, _, c)| (idc, c));
    // the highest level not above the announced one (an H.241 value between two rows)
    let level_idc = LEVELS
        .iter()
        .rfind(|(_, h241, _)| *h241 <= level)
        .map_or(10, |&(idc, _, _)| idc);
    Some(Format {
        pt: pt.unwrap_or(Codec::H264.default_pt()),
        codec: Codec::H264,
        fmtp: Some(format!(
            "profile-level-id={idc:02x}{constraint:02x}{level_idc:02x}"
        )),
    })
}

/// H.241 capability of an H.264 fmtp (RFC 6184 default: Baseline, level 1).
fn h264_capability(fmtp: Option<&str>) -> h245::VideoCapability {
    let (profile_idc, level_idc) = fmtp.and_then(profile_level_id).unwrap_or((66, 10));
    let profile = PROFILES
        .iter()
        .find(|(idc, _, _)| *idc == profile_idc)
        .map_or(64, |&(_, bit, _)| bit);
    let (level, kbps) = LEVELS
        .iter()
        .find(|(idc, _, _)| *idc == level_idc)
        .map_or((15, 64), |&(_, l, k)| (l, k));
    let params = vec![
        h245::GenericParameter::new(
            h245::ParameterIdentifier::standard(PARAM_PROFILE),
            h245::ParameterValue::booleanArray(profile),
            None,
        ),
        h245::GenericParameter::new(
            h245::ParameterIdentifier::standard(PARAM_LEVEL),
            h245::ParameterValue::unsignedMin(level),
            None,
        ),
    ];
    h245::VideoCapability::genericVideoCapability(h245::GenericCapability::new(
        h245::CapabilityIdentifier::standard(ObjectIdentifier::new_unchecked(Cow::Borrowed(
            H264_OID,
        ))),
        Some(kbps * 10),
        Some(params),
        None,
        None,
        None,
    ))
}

/// (profile_idc, level_idc) of an fmtp's `profile-level-id` (RFC 6184 8.1, six hex digits).
fn profile_level_id(fmtp: &str) -> Option<(u8, u8)> {
    let v = fmtp.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("profile-level-id")
            .then_some(v.trim())
    })?;
    if v.len() != 6 || !v.is_ascii() {
        return None;
    }
    let profile = u8::from_str_radix(&v[0..2], 16).ok()?;
    let level = u8::from_str_radix(&v[4..6], 16).ok()?;
    Some((profile, level))
}

/// A dynamic payload type as H.245 may carry it (96..=127).
pub(crate) fn dynamic_pt(f: &Format) -> Option<u8> {
    (f.codec.static_pt().is_none() && (96..=127).contains(&f.pt)).then_some(f.pt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_profile_level_id_maps_to_h241_and_back() {
        let f = Format {
            pt: 97,
            codec: Codec::H264,
            fmtp: Some("packetization-mode=1;profile-level-id=42e01f".into()),
        };
        let dt = &data_types(&f)[0];
        let h245::DataType::videoData(h245::VideoCapability::genericVideoCapability(g)) = dt else {
            panic!("not generic video");
        };
        assert_eq!(g.max_bit_rate, Some(140_000));
        let back = format_of_data_type(dt, Some(97)).unwrap();
        assert_eq!(back.pt, 97);
        assert_eq!(back.fmtp.as_deref(), Some("profile-level-id=42801f"));
    }

    #[test]
    fn g729_is_proposed_as_annex_a_then_plain() {
        let dts = data_types(&Format::of(Codec::G729));
        assert_eq!(dts.len(), 2);
        for dt in &dts {
            assert_eq!(format_of_data_type(dt, None).unwrap().codec, Codec::G729);
        }
        assert!(data_types(&Format::of(Codec::TelephoneEvent)).is_empty());
    }
}
