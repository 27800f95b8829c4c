//! The endpoint's fastStart (H.323 8.1.7, "Fast Connect"), without I/O: the proposals a
//! caller puts in its Setup, the callee's choice among them, and what the caller reads from
//! the callee's answer.
//!
//! Proposals (H.323 8.1.7.1): for each of G.711 µ-law and A-law, one forward channel (caller
//! to callee: forwardLogicalChannelParameters with the caller's RTCP address and no
//! mediaChannel, which the callee fills in) and one reverse channel (callee to caller:
//! forward parameters nullData/none, reverseLogicalChannelParameters with the caller's RTP and
//! RTCP addresses). Every forward proposal has its own forwardLogicalChannelNumber; a reverse
//! proposal's number means nothing (65535 here, as Packetizer's Q111 example shows).
//!
//! The callee accepts one channel per direction of the first codec offered both ways (µ-law
//! first), filled in with its own addresses only: the forward one with its RTP and RTCP
//! addresses, the reverse one with its RTCP address and a channel number of its own. It never
//! echoes an address of the caller's back (a relay would take it for the callee's).

use super::asn;
use causeway_h323_asn1::h323_messages::H323UUPDUH323MessageBody as Body;
use causeway_h323_asn1::multimedia_system_control as h245;
use causeway_h323_asn1::rasn::{self, types::OctetString};
use std::net::SocketAddr;

use h245::OpenLogicalChannelForwardLogicalChannelParametersMultiplexParameters as FwdMux;
use h245::OpenLogicalChannelReverseLogicalChannelParametersMultiplexParameters as RevMux;

/// The H.245 session of audio (H.245 sessionID 1).
const AUDIO: u8 = 1;
/// forwardLogicalChannelNumber of a reverse proposal: meaningless, any value.
const REVERSE_LCN: u16 = 65535;
/// The callee's own number for the channel it transmits on.
const CALLEE_LCN: u16 = 101;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Pcmu,
    Pcma,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    fn capability(self) -> h245::AudioCapability {
        // 20 ms frames per packet, as the slow-start TerminalCapabilitySet says.
        match self {
            Codec::Pcmu => h245::AudioCapability::g711Ulaw64k(20),
            Codec::Pcma => h245::AudioCapability::g711Alaw64k(20),
        }
    }

    fn of(d: &h245::DataType) -> Option<Codec> {
        match d {
            h245::DataType::audioData(h245::AudioCapability::g711Ulaw64k(_)) => Some(Codec::Pcmu),
            h245::DataType::audioData(h245::AudioCapability::g711Alaw64k(_)) => Some(Codec::Pcma),
            _ => None,
        }
    }
}

fn addr(a: SocketAddr) -> h245::H245TransportAddress {
    asn::h245_transport_address(a)
}

fn h2250(rtp: Option<SocketAddr>, rtcp: Option<SocketAddr>) -> h245::H2250LogicalChannelParameters {
    h245::H2250LogicalChannelParameters::new(
        None,
        AUDIO,
        None,
        rtp.map(addr),
        None,
        rtcp.map(addr),
        None,
        Some(false),
        None,
        None,
        None,
        None,
        None,
        None,
    )
}

fn forward(lcn: u16, codec: Codec, rtcp: SocketAddr) -> h245::OpenLogicalChannel {
    let fwd = h245::OpenLogicalChannelForwardLogicalChannelParameters::new(
        None,
        h245::DataType::audioData(codec.capability()),
        FwdMux::h2250LogicalChannelParameters(h2250(None, Some(rtcp))),
        None,
        None,
    );
    h245::OpenLogicalChannel::new(h245::LogicalChannelNumber(lcn), fwd, None, None, None, None)
}

fn reverse(codec: Codec, rtp: SocketAddr, rtcp: SocketAddr) -> h245::OpenLogicalChannel {
    let fwd = h245::OpenLogicalChannelForwardLogicalChannelParameters::new(
        None,
        h245::DataType::nullData(()),
        FwdMux::none(()),
        None,
        None,
    );
    let rev = h245::OpenLogicalChannelReverseLogicalChannelParameters::new(
        h245::DataType::audioData(codec.capability()),
        Some(RevMux::h2250LogicalChannelParameters(h2250(
            Some(rtp),
            Some(rtcp),
        ))),
        None,
        None,
    );
    h245::OpenLogicalChannel::new(
        h245::LogicalChannelNumber(REVERSE_LCN),
        fwd,
        Some(rev),
        None,
        None,
        None,
    )
}

fn encode(olcs: &[h245::OpenLogicalChannel]) -> Result<Vec<OctetString>, String> {
    olcs.iter()
        .map(|o| {
            rasn::aper::encode(o)
                .map(OctetString::from)
                .map_err(|e| format!("fastStart encode: {e}"))
        })
        .collect()
}

/// The caller's proposals for its Setup: µ-law and A-law, each both ways.
pub fn proposals(rtp: SocketAddr, rtcp: SocketAddr) -> Result<Vec<OctetString>, String> {
    encode(&[
        forward(1, Codec::Pcmu, rtcp),
        forward(2, Codec::Pcma, rtcp),
        reverse(Codec::Pcmu, rtp, rtcp),
        reverse(Codec::Pcma, rtp, rtcp),
    ])
}

/// What the callee accepted.
#[derive(Debug)]
pub struct Accepted {
    /// The encoded OpenLogicalChannels to return.
    pub olcs: Vec<OctetString>,
    pub codec: Codec,
    /// Where the caller receives RTP (the reverse proposal's mediaChannel).
    pub remote_rtp: Option<SocketAddr>,
    pub remote_rtcp: Option<SocketAddr>,
    /// The callee's RTP address it announced.
    pub local_rtp: SocketAddr,
    /// The number of the channel the callee transmits on.
    pub lcn: u16,
}

fn fwd_h2250(o: &mut h245::OpenLogicalChannel) -> Option<&mut h245::H2250LogicalChannelParameters> {
    match &mut o.forward_logical_channel_parameters.multiplex_parameters {
        FwdMux::h2250LogicalChannelParameters(p) => Some(p),
        _ => None,
    }
}

fn rev_h2250(o: &mut h245::OpenLogicalChannel) -> Option<&mut h245::H2250LogicalChannelParameters> {
    match o
        .reverse_logical_channel_parameters
        .as_mut()?
        .multiplex_parameters
        .as_mut()?
    {
        RevMux::h2250LogicalChannelParameters(p) => Some(p),
        _ => None,
    }
}

/// Reads a list of fastStart elements; the undecodable ones are skipped.
fn decode(list: &[OctetString]) -> Vec<h245::OpenLogicalChannel> {
    list.iter()
        .filter_map(|b| rasn::aper::decode::<h245::OpenLogicalChannel>(b).ok())
        .collect()
}

/// A forward proposal (the caller transmits) of `codec`, or a reverse one.
fn direction(o: &h245::OpenLogicalChannel) -> Option<(bool, Codec)> {
    match &o.reverse_logical_channel_parameters {
        Some(r) => Codec::of(&r.data_type).map(|c| (false, c)),
        None => Codec::of(&o.forward_logical_channel_parameters.data_type).map(|c| (true, c)),
    }
}

/// The callee's choice: one audio channel each way of the first codec proposed both ways,
/// filled in with the callee's `rtp`/`rtcp`; None when no such pair was proposed.
pub fn accept(list: &[OctetString], rtp: SocketAddr, rtcp: SocketAddr) -> Option<Accepted> {
    let olcs = decode(list);
    let pick = |fwd: bool, c: Codec| olcs.iter().find(|o| direction(o) == Some((fwd, c)));
    let (codec, mut f, mut r) = [Codec::Pcmu, Codec::Pcma]
        .into_iter()
        .find_map(|c| Some((c, pick(true, c)?.clone(), pick(false, c)?.clone())))?;
    let p = fwd_h2250(&mut f)?;
    p.media_channel = Some(addr(rtp));
    p.media_control_channel = Some(addr(rtcp));
    let (remote_rtp, remote_rtcp) = {
        let p = rev_h2250(&mut r)?;
        let seen = (
            p.media_channel.as_ref().and_then(asn::h245_socket_addr),
            p.media_control_channel
                .as_ref()
                .and_then(asn::h245_socket_addr),
        );
        p.media_channel = None;
        p.media_control_channel = Some(addr(rtcp));
        seen
    };
    r.forward_logical_channel_number = h245::LogicalChannelNumber(CALLEE_LCN);
    Some(Accepted {
        olcs: encode(&[f, r]).ok()?,
        codec,
        remote_rtp,
        remote_rtcp,
        local_rtp: rtp,
        lcn: CALLEE_LCN,
    })
}

/// What the caller reads from the callee's answer.
#[derive(Debug, Default)]
pub struct Answer {
    pub codec: Option<Codec>,
    /// Where the callee receives RTP and RTCP for the caller's channel.
    pub remote_rtp: Option<SocketAddr>,
    pub remote_rtcp: Option<SocketAddr>,
    /// A channel from the callee was accepted too.
    pub reverse: bool,
    /// The number of the accepted forward channel (the caller transmits on it).
    pub lcn: Option<u16>,
}

/// The callee's answer: the accepted forward channel's addresses and whether it opened a
/// reverse one.
pub fn answer(list: &[OctetString]) -> Answer {
    let mut a = Answer::default();
    for mut o in decode(list) {
        match direction(&o) {
            Some((true, c)) if a.codec.is_none() => {
                let lcn = o.forward_logical_channel_number.0;
                if let Some(p) = fwd_h2250(&mut o) {
                    a.codec = Some(c);
                    a.lcn = Some(lcn);
                    a.remote_rtp = p.media_channel.as_ref().and_then(asn::h245_socket_addr);
                    a.remote_rtcp = p
                        .media_control_channel
                        .as_ref()
                        .and_then(asn::h245_socket_addr);
                }
            }
            Some((false, _)) => a.reverse = true,
            _ => {}
        }
    }
    a
}

/// The fastStart list of a message body that can carry one.
pub fn of(body: &Body) -> Option<&[OctetString]> {
    let f = match body {
        Body::setup(b) => b.fast_start.as_ref(),
        Body::callProceeding(b) => b.fast_start.as_ref(),
        Body::alerting(b) => b.fast_start.as_ref(),
        Body::connect(b) => b.fast_start.as_ref(),
        Body::facility(b) => b.fast_start.as_ref(),
        Body::progress(b) => b.fast_start.as_ref(),
        _ => None,
    }?;
    (!f.is_empty()).then_some(f.as_slice())
}

/// Puts `list` in a body that can carry one; false for the others.
pub fn set(body: &mut Body, list: Vec<OctetString>) -> bool {
    let slot = match body {
        Body::setup(b) => &mut b.fast_start,
        Body::callProceeding(b) => &mut b.fast_start,
        Body::alerting(b) => &mut b.fast_start,
        Body::connect(b) => &mut b.fast_start,
        Body::facility(b) => &mut b.fast_start,
        Body::progress(b) => &mut b.fast_start,
        _ => return false,
    };
    *slot = Some(list);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(p: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], p))
    }

    #[test]
    fn the_callee_accepts_mu_law_both_ways_with_its_own_addresses() {
        let list = proposals(a(40000), a(40001)).unwrap();
        assert_eq!(list.len(), 4);
        let acc = accept(&list, a(40010), a(40011)).unwrap();
        assert_eq!(acc.codec, Codec::Pcmu);
        assert_eq!(acc.remote_rtp, Some(a(40000)));
        assert_eq!(acc.remote_rtcp, Some(a(40001)));
        assert_eq!(acc.olcs.len(), 2);
        // nothing of the caller's comes back
        for o in decode(&acc.olcs) {
            let text = format!("{o:?}");
            assert!(!text.contains("40000") && !text.contains("40001"), "{text}");
        }
        let ans = answer(&acc.olcs);
        assert_eq!(ans.codec, Some(Codec::Pcmu));
        assert_eq!(ans.remote_rtp, Some(a(40010)));
        assert_eq!(ans.remote_rtcp, Some(a(40011)));
        assert!(ans.reverse);
        assert_eq!(ans.lcn, Some(1));
        assert_eq!(acc.lcn, CALLEE_LCN);
    }

    #[test]
    fn a_law_only_or_one_way_only() {
        let only_a = encode(&[
            forward(2, Codec::Pcma, a(1)),
            reverse(Codec::Pcma, a(2), a(3)),
        ])
        .unwrap();
        assert_eq!(accept(&only_a, a(4), a(5)).unwrap().codec, Codec::Pcma);
        let one_way = encode(&[forward(1, Codec::Pcmu, a(1))]).unwrap();
        assert!(accept(&one_way, a(4), a(5)).is_none());
        assert!(accept(&[OctetString::from(vec![0xff, 0x00])], a(4), a(5)).is_none());
    }
}
