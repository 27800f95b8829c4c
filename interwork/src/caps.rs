//! Slow start: the H.245 capability exchange and logical channels (H.245 8.4, H.323 8.1.x)
//! <-> [`Media`] / [`Format`]. Messages are whole `MultimediaSystemControlMessage`s
//! ([`H245Msg`]); the codec table is [`crate::h245_codec`]'s.
//!
//! TerminalCapabilitySet (what we can receive): one receive capability per expressible format
//! of every live stream (codecs deduplicated), `receiveRTPAudioTelephonyEventCapability` for
//! telephone-event (RFC 4733 events "0-16", its payload type when it is dynamic 96..=127), and
//! `receiveAndTransmitUserInputCapability` basicString and dtmf (UserInputIndication both ways,
//! as H323Plus announces them). One CapabilityDescriptor: audio alternatives, video
//! alternatives, and each user-input capability in a set of its own, all simultaneous.
//!
//! Reading a TCS takes the capability table in order and ignores the descriptors (the gateway
//! opens at most one audio and one video channel, which every descriptor allows).
//!
//! An OLC we send uses the first data type of the format (G.729 as `g729AnnexA`, see
//! [`crate::h245_codec`]). Must not run H.245 procedures (sequence numbers, MSD, timers are the
//! gateway's).

use crate::fast_start::{forward_olc, h2250};
use crate::h245_codec::{
    data_types, dynamic_pt, format_of_audio, format_of_data_type, format_of_video,
};
use crate::media::{Codec, Format, Kind, MapError, Media};
use causeway_h323::asn::{h245_protocol_identifier, h245_socket_addr};
use causeway_h323::endpoint::H245Msg;
use causeway_h323_asn1::multimedia_system_control as h245;
use causeway_h323_asn1::rasn::types::{GeneralString, SetOf};
use h245::OpenLogicalChannelAckForwardMultiplexAckParameters as AckMux;
use h245::OpenLogicalChannelForwardLogicalChannelParametersMultiplexParameters as FwdMux;
use std::net::SocketAddr;

/// RFC 4733 events announced with telephone-event: DTMF 0-15 and flash.
pub const TELEPHONE_EVENTS: &str = "0-16";
/// Most formats read from one TCS.
const MAX_FORMATS: usize = 64;

/// Our TerminalCapabilitySet for what `m` can receive.
pub fn tcs(m: &Media, seq: u8) -> H245Msg {
    let mut table: Vec<h245::CapabilityTableEntry> = Vec::new();
    let mut audio = Vec::new();
    let mut video = Vec::new();
    let mut singles = Vec::new();
    let mut seen: Vec<Codec> = Vec::new();
    let add = |cap: h245::Capability, table: &mut Vec<h245::CapabilityTableEntry>| {
        let n = h245::CapabilityTableEntryNumber(table.len() as u16 + 1);
        table.push(h245::CapabilityTableEntry::new(n.clone(), Some(cap)));
        n
    };
    for st in m.streams.iter().filter(|s| !s.rejected()) {
        for f in &st.formats {
            if seen.contains(&f.codec) {
                continue;
            }
            seen.push(f.codec);
            if f.codec == Codec::TelephoneEvent {
                if let Some(cap) = telephony_event(f) {
                    singles.push(add(cap, &mut table));
                }
                continue;
            }
            for dt in data_types(f) {
                match (dt, st.kind) {
                    (h245::DataType::audioData(a), Kind::Audio) => {
                        audio.push(add(h245::Capability::receiveAudioCapability(a), &mut table));
                    }
                    (h245::DataType::videoData(v), Kind::Video) => {
                        video.push(add(h245::Capability::receiveVideoCapability(v), &mut table));
                    }
                    _ => {}
                }
            }
        }
    }
    for ui in [
        h245::UserInputCapability::basicString(()),
        h245::UserInputCapability::dtmf(()),
    ] {
        let cap = h245::Capability::receiveAndTransmitUserInputCapability(ui);
        singles.push(add(cap, &mut table));
    }
    let mut simultaneous: Vec<h245::AlternativeCapabilitySet> = Vec::new();
    for set in [audio, video] {
        if !set.is_empty() {
            simultaneous.push(h245::AlternativeCapabilitySet(set));
        }
    }
    simultaneous.extend(
        singles
            .into_iter()
            .map(|n| h245::AlternativeCapabilitySet(vec![n])),
    );
    let descriptor = h245::CapabilityDescriptor::new(
        h245::CapabilityDescriptorNumber(0),
        Some(SetOf::from(simultaneous)),
    );
    H245Msg::request(h245::RequestMessage::terminalCapabilitySet(
        h245::TerminalCapabilitySet::new(
            h245::SequenceNumber(seq),
            h245_protocol_identifier(),
            None,
            Some(SetOf::from(table)),
            Some(SetOf::from(vec![descriptor])),
            None,
        ),
    ))
}

fn telephony_event(f: &Format) -> Option<h245::Capability> {
    if !(96..=127).contains(&f.pt) {
        return None;
    }
    let events = GeneralString::from_bytes(TELEPHONE_EVENTS.as_bytes()).ok()?;
    Some(h245::Capability::receiveRTPAudioTelephonyEventCapability(
        h245::AudioTelephonyEventCapability::new(f.pt, events),
    ))
}

/// What the far end can receive, in its capability table's order (codecs deduplicated).
pub fn formats_from_tcs(t: &h245::TerminalCapabilitySet) -> Vec<Format> {
    use h245::Capability as C;
    let mut out: Vec<Format> = Vec::new();
    for entry in t.capability_table.iter().flat_map(|s| s.iter()) {
        let f = match &entry.capability {
            Some(C::receiveAudioCapability(a) | C::receiveAndTransmitAudioCapability(a)) => {
                format_of_audio(a)
            }
            Some(C::receiveVideoCapability(v) | C::receiveAndTransmitVideoCapability(v)) => {
                format_of_video(v, None)
            }
            Some(C::receiveRTPAudioTelephonyEventCapability(e)) => Some(Format {
                pt: e.dynamic_rtppayload_type,
                codec: Codec::TelephoneEvent,
                fmtp: Some(
                    String::from_utf8_lossy(e.audio_telephone_event.as_bytes()).into_owned(),
                )
                .filter(|s| !s.is_empty()),
            }),
            _ => None,
        };
        if let Some(f) = f {
            if out.len() < MAX_FORMATS && !out.iter().any(|o| o.codec == f.codec) {
                out.push(f);
            }
        }
    }
    out
}

/// OpenLogicalChannel for our transmit channel of `f`; `rtcp` is where we receive RTCP.
pub fn olc(lcn: u16, f: &Format, session: u8, rtcp: SocketAddr) -> Result<H245Msg, MapError> {
    let dt = data_types(f)
        .into_iter()
        .next()
        .ok_or(MapError::NoCommonCodec)?;
    let params = h2250(session, None, Some(rtcp), dynamic_pt(f))?;
    Ok(H245Msg::request(h245::RequestMessage::openLogicalChannel(
        forward_olc(lcn, dt, params),
    )))
}

/// The format, sessionID and RTCP address of a far end's (forward, H.225.0) OLC.
pub fn olc_format(o: &h245::OpenLogicalChannel) -> Option<(Format, u8, Option<SocketAddr>)> {
    let fwd = &o.forward_logical_channel_parameters;
    let FwdMux::h2250LogicalChannelParameters(p) = &fwd.multiplex_parameters else {
        return None;
    };
    let format = format_of_data_type(&fwd.data_type, p.dynamic_rtppayload_type)?;
    let rtcp = p.media_control_channel.as_ref().and_then(h245_socket_addr);
    Some((format, p.session_id, rtcp))
}

/// The mediaChannel and mediaControlChannel of an OpenLogicalChannelAck.
pub fn ack_addresses(a: &h245::OpenLogicalChannelAck) -> Option<(SocketAddr, Option<SocketAddr>)> {
    let Some(AckMux::h2250LogicalChannelAckParameters(p)) = &a.forward_multiplex_ack_parameters
    else {
        return None;
    };
    let rtp = p.media_channel.as_ref().and_then(h245_socket_addr)?;
    let rtcp = p.media_control_channel.as_ref().and_then(h245_socket_addr);
    Some((rtp, rtcp))
}

#[cfg(test)]
mod tests;
