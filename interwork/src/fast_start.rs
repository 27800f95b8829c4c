//! H.323 fastStart (H.323 8.1.7) <-> [`Media`]. Each element of a UUIE's fastStart field is
//! one APER-encoded H.245 `OpenLogicalChannel` (not a whole MultimediaSystemControlMessage);
//! these functions take and return those octets.
//!
//! Shapes (as H.323 8.1.7.1 and H323Plus build them):
//! - a *transmit* proposal (the caller sends): forwardLogicalChannelParameters with the
//!   dataType and H2250LogicalChannelParameters (sessionID, mediaControlChannel = the caller's
//!   RTCP; no mediaChannel, which the callee fills in);
//! - a *receive* proposal (the caller receives): forward dataType nullData, multiplexParameters
//!   none, and reverseLogicalChannelParameters with the dataType and H2250 parameters carrying
//!   mediaChannel (the caller's RTP) and mediaControlChannel (its RTCP).
//!
//! The callee accepts by sending back, per direction and session, one OLC of the same shape
//! (H323Plus `SendFastStartAcknowledge` rebuilds each from its channel): an accepted transmit
//! proposal keeps its logical channel number and gets mediaChannel / mediaControlChannel = the
//! callee's RTP / RTCP; an accepted receive proposal becomes the callee's own transmit channel,
//! with a number of the callee's choosing (H323Plus takes its next free number; here the
//! numbers after the highest proposed one) and mediaControlChannel = the callee's RTCP. The
//! caller matches acceptances by direction and dataType, not by number (H323Plus
//! `HandleFastStartAcknowledge`), which is what [`answer_from_accepted`] does too.
//!
//! Choices:
//! - sessionIDs: the first audio stream is `session_base`, the first video stream
//!   `session_base + 1` (1 and 2, H.225.0 table 7, with `session_base` 1). Further streams of a
//!   kind, rejected (port 0) and inactive streams are not proposed. A `sendonly` stream gets
//!   only transmit proposals, `recvonly` only receive ones.
//! - telephone-event is no channel; DTMF goes by UserInputIndication or the TCS's
//!   receiveRTPAudioTelephonyEventCapability ([`crate::caps`]).
//! - An offer whose stream has no RTP address (only transmit proposals) gets RTP on the RTCP
//!   port - 1 of the mediaControlChannel (RFC 3550 pairs them even/odd); likewise an answer
//!   that accepted only the callee's transmit direction.
//! - Undecodable or inexpressible elements are skipped, as H323Plus does; only when nothing
//!   usable is left is it an error.

use crate::h245_codec::{data_types, dynamic_pt, format_of_data_type};
use crate::media::{Direction, Format, Kind, MapError, Media, Stream};
use causeway_h323::asn::{h245_socket_addr, h245_transport_address};
use causeway_h323_asn1::multimedia_system_control as h245;
use causeway_h323_asn1::rasn::aper;
use h245::OpenLogicalChannelForwardLogicalChannelParametersMultiplexParameters as FwdMux;
use h245::OpenLogicalChannelReverseLogicalChannelParametersMultiplexParameters as RevMux;
use std::net::SocketAddr;

/// Most proposals read from one fastStart (a real offer has a dozen or so).
const MAX_PROPOSALS: usize = 64;
/// Most formats kept per session.
const MAX_FORMATS: usize = 32;

/// The caller's fastStart proposals for an offer, in offer order.
pub fn proposals(m: &Media, session_base: u8) -> Result<Vec<Vec<u8>>, MapError> {
    let mut out = Vec::new();
    let mut lcn: u16 = 1;
    for (st, session) in proposed_streams(m, session_base) {
        for f in &st.formats {
            for dt in data_types(f) {
                if st.direction.sends() {
                    let olc = transmit(lcn, dt.clone(), session, st.rtcp, dynamic_pt(f))?;
                    out.push(encode(&olc)?);
                    lcn += 1;
                }
                if st.direction.receives() {
                    let olc = receive(lcn, dt, session, st, dynamic_pt(f))?;
                    out.push(encode(&olc)?);
                    lcn += 1;
                }
            }
        }
    }
    if out.is_empty() {
        return Err(MapError::NoCommonCodec);
    }
    Ok(out)
}

/// The streams that are proposed, with their sessionIDs (see the module doc).
fn proposed_streams(m: &Media, session_base: u8) -> Vec<(&Stream, u8)> {
    let mut out = Vec::new();
    let (mut audio, mut video) = (false, false);
    for st in &m.streams {
        if st.rejected() || st.direction == Direction::Inactive {
            continue;
        }
        let seen = match st.kind {
            Kind::Audio => &mut audio,
            Kind::Video => &mut video,
        };
        if !*seen {
            *seen = true;
            let session = match st.kind {
                Kind::Audio => session_base,
                Kind::Video => session_base.saturating_add(1),
            };
            out.push((st, session));
        }
    }
    out
}

fn media_addr(a: SocketAddr) -> Result<h245::H245TransportAddress, MapError> {
    if a.ip().is_unspecified() || a.port() == 0 {
        return Err(MapError::Address(a));
    }
    Ok(h245_transport_address(a))
}

pub(crate) fn h2250(
    session: u8,
    rtp: Option<SocketAddr>,
    rtcp: Option<SocketAddr>,
    pt: Option<u8>,
) -> Result<h245::H2250LogicalChannelParameters, MapError> {
    Ok(h245::H2250LogicalChannelParameters::new(
        None,
        session,
        None,
        rtp.map(media_addr).transpose()?,
        Some(false),
        rtcp.map(media_addr).transpose()?,
        None,
        None,
        None,
        pt,
        None,
        None,
        None,
        None,
    ))
}

pub(crate) fn forward_olc(
    lcn: u16,
    dt: h245::DataType,
    params: h245::H2250LogicalChannelParameters,
) -> h245::OpenLogicalChannel {
    let forward = h245::OpenLogicalChannelForwardLogicalChannelParameters::new(
        None,
        dt,
        FwdMux::h2250LogicalChannelParameters(params),
        None,
        None,
    );
    h245::OpenLogicalChannel::new(
        h245::LogicalChannelNumber(lcn),
        forward,
        None,
        None,
        None,
        None,
    )
}

fn reverse_olc(
    lcn: u16,
    dt: h245::DataType,
    params: h245::H2250LogicalChannelParameters,
) -> h245::OpenLogicalChannel {
    let forward = h245::OpenLogicalChannelForwardLogicalChannelParameters::new(
        None,
        h245::DataType::nullData(()),
        FwdMux::none(()),
        None,
        None,
    );
    let reverse = h245::OpenLogicalChannelReverseLogicalChannelParameters::new(
        dt,
        Some(RevMux::h2250LogicalChannelParameters(params)),
        None,
        None,
    );
    h245::OpenLogicalChannel::new(
        h245::LogicalChannelNumber(lcn),
        forward,
        Some(reverse),
        None,
        None,
        None,
    )
}

fn transmit(
    lcn: u16,
    dt: h245::DataType,
    session: u8,
    rtcp: SocketAddr,
    pt: Option<u8>,
) -> Result<h245::OpenLogicalChannel, MapError> {
    Ok(forward_olc(lcn, dt, h2250(session, None, Some(rtcp), pt)?))
}

fn receive(
    lcn: u16,
    dt: h245::DataType,
    session: u8,
    st: &Stream,
    pt: Option<u8>,
) -> Result<h245::OpenLogicalChannel, MapError> {
    let params = h2250(session, Some(st.rtp), Some(st.rtcp), pt)?;
    Ok(reverse_olc(lcn, dt, params))
}

fn encode(olc: &h245::OpenLogicalChannel) -> Result<Vec<u8>, MapError> {
    aper::encode(olc).map_err(|e| MapError::Encode(e.to_string()))
}

/// One fastStart element as read: which way media flows, what and where.
struct Channel {
    olc: h245::OpenLogicalChannel,
    /// The reverse shape: media flows from the receiver of the OLC to its sender.
    reverse: bool,
    data_type: h245::DataType,
    format: Format,
    session: u8,
    rtp: Option<SocketAddr>,
    rtcp: Option<SocketAddr>,
}

/// Reads one element; `None` when undecodable or not an H.225.0 channel of a known codec.
fn channel(bytes: &[u8]) -> Option<Channel> {
    let olc: h245::OpenLogicalChannel = aper::decode(bytes).ok()?;
    let fwd = &olc.forward_logical_channel_parameters;
    let (reverse, data_type, params) =
        match (&fwd.data_type, &olc.reverse_logical_channel_parameters) {
            (h245::DataType::nullData(()), Some(rev)) => match &rev.multiplex_parameters {
                Some(RevMux::h2250LogicalChannelParameters(p)) => (true, rev.data_type.clone(), p),
                _ => return None,
            },
            (dt, _) => match &fwd.multiplex_parameters {
                FwdMux::h2250LogicalChannelParameters(p) => (false, dt.clone(), p),
                _ => return None,
            },
        };
    let format = format_of_data_type(&data_type, params.dynamic_rtppayload_type)?;
    let session = params.session_id;
    let rtp = params.media_channel.as_ref().and_then(h245_socket_addr);
    let rtcp = params
        .media_control_channel
        .as_ref()
        .and_then(h245_socket_addr);
    Some(Channel {
        olc,
        reverse,
        data_type,
        format,
        session,
        rtp,
        rtcp,
    })
}

fn channels(p: &[Vec<u8>]) -> Vec<Channel> {
    p.iter()
        .take(MAX_PROPOSALS)
        .filter_map(|b| channel(b))
        .collect()
}

/// What the caller's proposals say about one session.
struct Session {
    id: u8,
    kind: Kind,
    formats: Vec<Format>,
    /// The caller transmits (forward proposals), receives (reverse proposals).
    sends: bool,
    receives: bool,
    rtp: Option<SocketAddr>,
    rtcp: Option<SocketAddr>,
}

/// The proposals grouped by sessionID, in order of first appearance.
fn sessions(chs: &[Channel]) -> Vec<Session> {
    let mut out: Vec<Session> = Vec::new();
    for ch in chs {
        let kind = ch.format.codec.kind();
        let i = match out.iter().position(|s| s.id == ch.session) {
            Some(i) => i,
            None => {
                out.push(Session {
                    id: ch.session,
                    kind,
                    formats: Vec::new(),
                    sends: false,
                    receives: false,
                    rtp: None,
                    rtcp: None,
                });
                out.len() - 1
            }
        };
        let s = &mut out[i];
        if s.kind != kind {
            continue;
        }
        if s.formats.len() < MAX_FORMATS && !s.formats.iter().any(|f| f.codec == ch.format.codec) {
            s.formats.push(ch.format.clone());
        }
        if ch.reverse {
            s.receives = true;
            s.rtp = s.rtp.or(ch.rtp);
        } else {
            s.sends = true;
        }
        s.rtcp = s.rtcp.or(ch.rtcp);
    }
    out
}

/// RTP on the port below an RTCP address (see the module doc).
fn rtp_below(rtcp: SocketAddr) -> Option<SocketAddr> {
    let port = rtcp.port().checked_sub(1).filter(|p| *p > 0)?;
    Some(SocketAddr::new(rtcp.ip(), port))
}

/// The caller's offer read from its proposals: one stream per sessionID.
pub fn offer_from_proposals(p: &[Vec<u8>]) -> Result<Media, MapError> {
    let mut media = Media::default();
    for s in sessions(&channels(p)) {
        let Some(rtp) = s.rtp.or_else(|| s.rtcp.and_then(rtp_below)) else {
            continue;
        };
        media.streams.push(Stream {
            kind: s.kind,
            rtp,
            rtcp: s
                .rtcp
                .unwrap_or(SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))),
            formats: s.formats,
            direction: Direction::of(s.sends, s.receives),
        });
    }
    if media.streams.is_empty() {
        return Err(MapError::NoCommonCodec);
    }
    Ok(media)
}

/// The callee's acceptance of the proposals `p` for an answer whose streams follow the offer's
/// ([`offer_from_proposals`]) order: per stream, its first codec the proposals carry, in each
/// direction the answer takes.
pub fn accept(p: &[Vec<u8>], answer: &Media) -> Result<Vec<Vec<u8>>, MapError> {
    let chs = channels(p);
    let mut next_lcn = chs
        .iter()
        .map(|c| c.olc.forward_logical_channel_number.0)
        .max()
        .unwrap_or(0);
    let mut out = Vec::new();
    let offered = sessions(&chs)
        .into_iter()
        .filter(|s| s.rtp.is_some() || s.rtcp.is_some_and(|r| rtp_below(r).is_some()));
    for (s, st) in offered.zip(&answer.streams) {
        if st.rejected() || st.kind != s.kind {
            continue;
        }
        // the answer's first codec that the proposals of this session carry
        let codec = st.formats.iter().map(|f| f.codec).find(|c| {
            chs.iter()
                .any(|ch| ch.session == s.id && ch.format.codec == *c)
        });
        let Some(codec) = codec else { continue };
        let find = |reverse: bool| {
            chs.iter()
                .find(|ch| ch.session == s.id && ch.reverse == reverse && ch.format.codec == codec)
        };
        // the answerer receives: the caller's transmit proposal
        if let Some(ch) = find(false).filter(|_| st.direction.receives()) {
            let pt = ch
                .format
                .codec
                .static_pt()
                .is_none()
                .then_some(ch.format.pt);
            let params = h2250(s.id, Some(st.rtp), Some(st.rtcp), pt.filter(|p| *p >= 96))?;
            let lcn = ch.olc.forward_logical_channel_number.0;
            out.push(encode(&forward_olc(lcn, ch.data_type.clone(), params))?);
        }
        // the answerer sends: the caller's receive proposal, now the callee's channel
        if let Some(ch) = find(true).filter(|_| st.direction.sends()) {
            let pt = ch
                .format
                .codec
                .static_pt()
                .is_none()
                .then_some(ch.format.pt);
            let params = h2250(s.id, None, Some(st.rtcp), pt.filter(|p| *p >= 96))?;
            next_lcn = next_lcn.saturating_add(1);
            out.push(encode(&reverse_olc(
                next_lcn,
                ch.data_type.clone(),
                params,
            ))?);
        }
    }
    if out.is_empty() {
        return Err(MapError::NoCommonCodec);
    }
    Ok(out)
}

/// The SDP-side answer to `offer` read from the callee's accepted channels: per proposed
/// stream, the accepted codec (with the offer's payload type and fmtp for it), the callee's
/// addresses and the directions it accepted; every other stream of the offer rejected.
pub fn answer_from_accepted(accepted: &[Vec<u8>], offer: &Media) -> Result<Media, MapError> {
    let chs = channels(accepted);
    let proposed = proposed_streams(offer, 1);
    let mut media = Media::default();
    let mut any = false;
    for st in &offer.streams {
        let is_proposed = proposed.iter().any(|(p, _)| std::ptr::eq(*p, st));
        let answered = is_proposed.then(|| answer_stream(&chs, st)).flatten();
        match answered {
            Some(a) => {
                any = true;
                media.streams.push(a);
            }
            None => media.streams.push(Stream {
                rtp: SocketAddr::new(st.rtp.ip(), 0),
                rtcp: SocketAddr::new(st.rtcp.ip(), 0),
                formats: st.formats.iter().take(1).cloned().collect(),
                direction: Direction::Inactive,
                ..st.clone()
            }),
        }
    }
    if !any {
        return Err(MapError::NoCommonCodec);
    }
    Ok(media)
}

fn answer_stream(chs: &[Channel], offer: &Stream) -> Option<Stream> {
    let of_kind = |reverse: bool| {
        chs.iter()
            .find(|c| c.reverse == reverse && c.format.codec.kind() == offer.kind)
    };
    // forward: the callee receives what the caller sends; reverse: the callee sends
    let fwd = of_kind(false);
    let rev = of_kind(true);
    let chosen = fwd.or(rev)?;
    let codec = chosen.format.codec;
    let format = offer
        .formats
        .iter()
        .find(|f| f.codec == codec)
        .cloned()
        .unwrap_or_else(|| chosen.format.clone());
    let rtcp = fwd.and_then(|c| c.rtcp).or(rev.and_then(|c| c.rtcp));
    let rtp = fwd
        .and_then(|c| c.rtp)
        .or_else(|| rtcp.and_then(rtp_below))?;
    Some(Stream {
        kind: offer.kind,
        rtp,
        rtcp: rtcp.unwrap_or(SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))),
        formats: vec![format],
        direction: Direction::of(rev.is_some(), fwd.is_some()),
    })
}

#[cfg(test)]
mod tests;
