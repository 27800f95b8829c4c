//! SDP (RFC 8866) <-> [`Media`]: reading an offer or answer into the neutral model, and writing
//! a complete body from it (RFC 3264 offer/answer rules are the gateway's: this module only
//! translates one description).
//!
//! Reading keeps only what H.323 can carry: audio and video m= sections of `RTP/AVP` or
//! `RTP/AVPF`, each with its effective c= (media, else session level), `a=rtcp` (RFC 3605; else
//! the RTP port + 1), direction (media, else session level, else sendrecv) and the formats whose
//! codec [`Codec`] knows (rtpmap, else the static payload type), with their fmtp. Other
//! sections (application, image, SRTP profiles) are left out; a section with port 0 is kept
//! as a rejected stream. The address views come from `causeway_media::sdp::Sdp` (the relay's
//! parser, with its size limits); the format lists are read here in a second pass.
//!
//! Writing produces `v=`, `o=causeway`, `s=-`, a session `c=` (the first stream's address),
//! `t=0 0` and per stream `m=` (port 0 for a stream without formats), a media `c=` when its
//! address differs, `a=rtpmap` for every format (static ones too: some H.323-minded SIP stacks
//! want it), `a=fmtp`, `a=rtcp` when RTCP is not on the RTP port + 1 at the same address, the
//! direction and, for audio, `a=ptime:20` (the packetisation every proposal of
//! [`crate::fast_start`] uses). CRLF line ends.

use crate::media::{Codec, Direction, Format, Kind, MapError, Media, Stream};
use causeway_media::sdp::Sdp;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Most formats kept per stream (the body limit already bounds them; this bounds the model).
const MAX_FORMATS: usize = 32;

/// The audio and video RTP streams of an SDP body.
pub fn from_sdp(body: &[u8]) -> Result<Media, MapError> {
    let sdp = Sdp::parse(body).map_err(|e| MapError::Malformed(e.to_string()))?;
    let sections = format_sections(body);
    let mut media = Media::default();
    for (i, m) in sdp.media().iter().enumerate() {
        let kind = match m.kind.to_ascii_lowercase().as_str() {
            "audio" => Kind::Audio,
            "video" => Kind::Video,
            _ => continue,
        };
        let proto = m.proto.to_ascii_uppercase();
        if proto != "RTP/AVP" && proto != "RTP/AVPF" {
            continue;
        }
        let Some(sec) = sections.get(i) else {
            return Err(MapError::Malformed(format!("m= section {i} not found")));
        };
        let unspecified = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let (rtp, rtcp) = if m.port == 0 {
            let a = SocketAddr::new(m.connection.unwrap_or(unspecified), 0);
            (a, a)
        } else {
            let ip = m.connection.ok_or_else(|| {
                MapError::Malformed(format!("m= section {i} has no c= IP address"))
            })?;
            let rtcp = match m.rtcp {
                Some((port, addr)) => SocketAddr::new(addr.unwrap_or(ip), port),
                None => SocketAddr::new(ip, m.port.wrapping_add(1)),
            };
            (SocketAddr::new(ip, m.port), rtcp)
        };
        let direction = match m.direction.as_deref() {
            Some("sendonly") => Direction::SendOnly,
            Some("recvonly") => Direction::RecvOnly,
            Some("inactive") => Direction::Inactive,
            _ => Direction::SendRecv,
        };
        media.streams.push(Stream {
            kind,
            rtp,
            rtcp,
            formats: sec.formats(kind),
            direction,
        });
    }
    Ok(media)
}

/// What one m= section says about its formats: the m= list, rtpmap and fmtp by payload type.
#[derive(Default)]
struct FormatSection {
    pts: Vec<u8>,
    rtpmap: HashMap<u8, (String, u32)>,
    fmtp: HashMap<u8, String>,
}

impl FormatSection {
    fn formats(&self, kind: Kind) -> Vec<Format> {
        let mut out: Vec<Format> = Vec::new();
        for &pt in &self.pts {
            let codec = match self.rtpmap.get(&pt) {
                Some((name, rate)) => Codec::of_rtpmap(name, *rate),
                None => Codec::of_static_pt(pt),
            };
            let Some(codec) = codec.filter(|c| c.kind() == kind) else {
                continue;
            };
            if out.len() < MAX_FORMATS && !out.iter().any(|f| f.pt == pt) {
                out.push(Format {
                    pt,
                    codec,
                    fmtp: self.fmtp.get(&pt).cloned(),
                });
            }
        }
        out
    }
}

/// Every m= section's formats, in m= order (the same sections `Sdp::media` lists). Lines the
/// relay's parser accepted are read loosely here: what does not parse is left out.
fn format_sections(body: &[u8]) -> Vec<FormatSection> {
    let text = String::from_utf8_lossy(body);
    let mut sections: Vec<FormatSection> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(m) = line.strip_prefix("m=") {
            let pts = m
                .split_ascii_whitespace()
                .skip(3)
                .filter_map(|t| t.parse::<u8>().ok())
                .take(MAX_FORMATS * 4)
                .collect();
            sections.push(FormatSection {
                pts,
                ..FormatSection::default()
            });
            continue;
        }
        let Some(sec) = sections.last_mut() else {
            continue;
        };
        if let Some(v) = strip_attr(line, "rtpmap") {
            if let Some((pt, rest)) = pt_and_rest(v) {
                let mut parts = rest.split('/');
                let name = parts.next().unwrap_or("").trim().to_string();
                let rate = parts.next().and_then(|r| r.trim().parse::<u32>().ok());
                if let Some(rate) = rate {
                    sec.rtpmap.entry(pt).or_insert((name, rate));
                }
            }
        } else if let Some(v) = strip_attr(line, "fmtp") {
            if let Some((pt, rest)) = pt_and_rest(v) {
                sec.fmtp
                    .entry(pt)
                    .or_insert_with(|| rest.trim().to_string());
            }
        }
    }
    sections
}

/// The value of `a=<name>:value` (attribute names ignore ASCII case, as the relay's parser).
fn strip_attr<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.strip_prefix("a=")?;
    let (n, v) = rest.split_once(':')?;
    n.eq_ignore_ascii_case(name).then_some(v)
}

fn pt_and_rest(v: &str) -> Option<(u8, &str)> {
    let (pt, rest) = v.split_once(' ')?;
    Some((pt.trim().parse().ok()?, rest))
}

/// A complete SDP body for `m` (see the module doc for what is written).
pub fn to_sdp(m: &Media, origin: IpAddr, session_id: u64, version: u64) -> String {
    let mut s = String::new();
    let session_ip = m.streams.first().map_or(origin, |st| st.rtp.ip());
    // Writing into a String cannot fail; the results are ignored on purpose.
    let _ = write!(
        s,
        "v=0\r\no=causeway {session_id} {version} IN {} {origin}\r\ns=-\r\nc=IN {} {session_ip}\r\nt=0 0\r\n",
        family(origin),
        family(session_ip),
    );
    for st in &m.streams {
        write_stream(&mut s, st, session_ip);
    }
    s
}

fn write_stream(s: &mut String, st: &Stream, session_ip: IpAddr) {
    let kind = match st.kind {
        Kind::Audio => "audio",
        Kind::Video => "video",
    };
    let mut pts: Vec<u8> = st.formats.iter().map(|f| f.pt).collect();
    if pts.is_empty() {
        // an m= line needs one format even when rejected
        pts.push(match st.kind {
            Kind::Audio => 0,
            Kind::Video => crate::media::DEFAULT_H264_PT,
        });
    }
    // A stream with no format left (none H.323 carries) goes out rejected (RFC 3264 6): the
    // placeholder format on a live port would claim media (PCMU) that nobody sends.
    let rejected = st.rejected() || st.formats.is_empty();
    let port = if rejected { 0 } else { st.rtp.port() };
    let list: Vec<String> = pts.iter().map(u8::to_string).collect();
    let _ = write!(s, "m={kind} {port} RTP/AVP {}\r\n", list.join(" "));
    if st.rtp.ip() != session_ip {
        let _ = write!(s, "c=IN {} {}\r\n", family(st.rtp.ip()), st.rtp.ip());
    }
    for f in &st.formats {
        let (name, rate) = f.codec.rtpmap();
        let _ = write!(s, "a=rtpmap:{} {name}/{rate}\r\n", f.pt);
        if let Some(p) = &f.fmtp {
            let _ = write!(s, "a=fmtp:{} {p}\r\n", f.pt);
        }
    }
    if rejected {
        return;
    }
    if st.rtcp.ip() != st.rtp.ip() {
        let ip = st.rtcp.ip();
        let _ = write!(s, "a=rtcp:{} IN {} {ip}\r\n", st.rtcp.port(), family(ip));
    } else if st.rtcp.port() != st.rtp.port().wrapping_add(1) {
        let _ = write!(s, "a=rtcp:{}\r\n", st.rtcp.port());
    }
    let dir = match st.direction {
        Direction::SendRecv => "sendrecv",
        Direction::SendOnly => "sendonly",
        Direction::RecvOnly => "recvonly",
        Direction::Inactive => "inactive",
    };
    let _ = write!(s, "a={dir}\r\n");
    if st.kind == Kind::Audio {
        s.push_str("a=ptime:20\r\n");
    }
}

fn family(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

#[cfg(test)]
mod tests;
