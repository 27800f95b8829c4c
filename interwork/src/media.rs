//! The protocol-neutral model of a call's media that both sides are mapped through: SDP
//! ([`crate::sdp_map`]), fastStart proposals ([`crate::fast_start`]) and H.245 capabilities
//! and logical channels ([`crate::caps`]) all read into and write from a [`Media`].
//!
//! Only what the gateway can translate is modelled: RTP audio and video streams of the codecs
//! in [`Codec`]. Must not hold protocol syntax (no SDP text, no ASN.1 values) or call state.

use std::net::SocketAddr;

/// The codecs the gateway can express on both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    Pcmu,
    Pcma,
    G722,
    /// G.729 and G.729 Annex A: one RTP payload format (RFC 3551 4.5.6), one codec here.
    G729,
    /// RFC 4733 events; on H.323 a capability (`receiveRTPAudioTelephonyEventCapability`),
    /// never a logical channel of its own.
    TelephoneEvent,
    H264,
}

/// Dynamic payload type used for telephone-event when H.323 names none.
pub const DEFAULT_TELEPHONE_EVENT_PT: u8 = 101;
/// Dynamic payload type used for H.264 when H.323 names none.
pub const DEFAULT_H264_PT: u8 = 96;

impl Codec {
    /// The RTP/AVP static payload type (RFC 3551 table 4), `None` for dynamic ones.
    pub fn static_pt(self) -> Option<u8> {
        match self {
            Codec::Pcmu => Some(0),
            Codec::Pcma => Some(8),
            Codec::G722 => Some(9),
            Codec::G729 => Some(18),
            Codec::TelephoneEvent | Codec::H264 => None,
        }
    }

    /// The payload type to use when the other side gave none: the static one, else our default.
    pub fn default_pt(self) -> u8 {
        match self {
            Codec::TelephoneEvent => DEFAULT_TELEPHONE_EVENT_PT,
            Codec::H264 => DEFAULT_H264_PT,
            c => c.static_pt().unwrap_or(0),
        }
    }

    /// The codec of a static payload type (an m= format without rtpmap).
    pub fn of_static_pt(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            9 => Some(Codec::G722),
            18 => Some(Codec::G729),
            _ => None,
        }
    }

    /// The rtpmap encoding name and clock rate. G.722's RTP clock is 8000 although it samples
    /// at 16 kHz (RFC 3551 4.5.2).
    pub fn rtpmap(self) -> (&'static str, u32) {
        match self {
            Codec::Pcmu => ("PCMU", 8000),
            Codec::Pcma => ("PCMA", 8000),
            Codec::G722 => ("G722", 8000),
            Codec::G729 => ("G729", 8000),
            Codec::TelephoneEvent => ("telephone-event", 8000),
            Codec::H264 => ("H264", 90000),
        }
    }

    /// The codec of an rtpmap encoding name and clock rate (names ignore ASCII case, RFC 4855).
    pub fn of_rtpmap(name: &str, rate: u32) -> Option<Codec> {
        [
            Codec::Pcmu,
            Codec::Pcma,
            Codec::G722,
            Codec::G729,
            Codec::TelephoneEvent,
            Codec::H264,
        ]
        .into_iter()
        .find(|c| {
            let (n, r) = c.rtpmap();
            n.eq_ignore_ascii_case(name) && r == rate
        })
    }

    pub fn kind(self) -> Kind {
        match self {
            Codec::H264 => Kind::Video,
            _ => Kind::Audio,
        }
    }
}

/// One payload format of a stream: its payload type number, codec and format parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    pub pt: u8,
    pub codec: Codec,
    /// The `a=fmtp` parameters as text (`profile-level-id=42e01f`, `0-16`, `annexb=no`).
    pub fmtp: Option<String>,
}

impl Format {
    /// A format with the codec's default payload type and no parameters.
    pub fn of(codec: Codec) -> Format {
        Format {
            pt: codec.default_pt(),
            codec,
            fmtp: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Audio,
    Video,
}

/// RFC 3264 6.1 direction, as the side that wrote the description sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// Of whether the describing side sends and whether it receives.
    pub fn of(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// One RTP stream (an m= section, or an H.245 session).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stream {
    pub kind: Kind,
    /// Where the describing side receives RTP; port 0 = rejected or no stream.
    pub rtp: SocketAddr,
    /// Where it receives RTCP.
    pub rtcp: SocketAddr,
    /// In preference order.
    pub formats: Vec<Format>,
    pub direction: Direction,
}

impl Stream {
    /// Port 0: the stream is rejected (RFC 3264 6) or was never there.
    pub fn rejected(&self) -> bool {
        self.rtp.port() == 0
    }
}

/// The streams of one description, in order.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Media {
    pub streams: Vec<Stream>,
}

/// Why a description cannot be mapped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MapError {
    /// Nothing the other protocol can express (every stream rejected, or only unknown codecs).
    #[error("no codec in common")]
    NoCommonCodec,
    /// The input is not a valid description (the text says what was wrong).
    #[error("malformed: {0}")]
    Malformed(String),
    /// An address the other side cannot be given (e.g. a wildcard or IPv6 towards H.323).
    #[error("address {0} cannot be expressed")]
    Address(SocketAddr),
    /// An ASN.1 value could not be encoded.
    #[error("encoding: {0}")]
    Encode(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3551_table_4_static_payload_types() {
        assert_eq!(Codec::Pcmu.static_pt(), Some(0));
        assert_eq!(Codec::Pcma.static_pt(), Some(8));
        assert_eq!(Codec::G722.static_pt(), Some(9));
        assert_eq!(Codec::G729.static_pt(), Some(18));
        assert_eq!(Codec::H264.static_pt(), None);
        for pt in [0, 8, 9, 18] {
            assert_eq!(Codec::of_static_pt(pt).and_then(Codec::static_pt), Some(pt));
        }
        assert_eq!(Codec::TelephoneEvent.default_pt(), 101);
        assert_eq!(Codec::H264.default_pt(), 96);
    }

    #[test]
    fn rtpmap_names_ignore_case_but_not_rate() {
        assert_eq!(Codec::of_rtpmap("pcmu", 8000), Some(Codec::Pcmu));
        assert_eq!(Codec::of_rtpmap("h264", 90000), Some(Codec::H264));
        assert_eq!(Codec::of_rtpmap("telephone-event", 48000), None);
        assert_eq!(Codec::of_rtpmap("opus", 48000), None);
    }

    #[test]
    fn direction_of_send_and_receive() {
        for d in [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ] {
            assert_eq!(Direction::of(d.sends(), d.receives()), d);
        }
    }
}
