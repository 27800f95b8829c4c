//! The SDP side of anchoring: which m= sections the relay can carry and what it expects there,
//! and the rewrite that points the relayed sections at the relay's ports for one leg.
//!
//! Pure functions over `sdp`; no call state.

use crate::call::Side;
use crate::sdp::{MediaRewrite, MediaSection, Rewrite, Sdp};
use crate::session::{rtcp_of, Local, SessionInfo};
use bytes::Bytes;
use std::net::{IpAddr, SocketAddr};

/// Where the sender of a section receives RTP (and RTCP, unless multiplexed on RTP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stream {
    pub rtp: SocketAddr,
    pub rtcp: Option<SocketAddr>,
}

/// The addresses a section's sender expects media on, when the relay can carry it (unicast,
/// one port, not disabled).
pub(super) fn relayable(m: &MediaSection) -> Option<Stream> {
    if m.port == 0 || m.multicast || m.port_count.is_some_and(|c| c > 1) {
        return None;
    }
    let ip = m.connection?;
    let rtp = SocketAddr::new(ip, m.port);
    let rtcp = if m.rtcp_mux {
        None
    } else {
        match m.rtcp {
            Some((port, addr)) => Some(SocketAddr::new(addr.unwrap_or(ip), port)),
            None => rtcp_of(rtp),
        }
    };
    Some(Stream { rtp, rtcp })
}

/// The body for side `towards`: each relayed section points at that side's local pair on
/// `addr`; sections without a session (and sections past the first offer's) stay as they are.
pub(super) fn rewrite(
    sdp: &Sdp,
    sessions: &[Option<SessionInfo>],
    towards: Side,
    addr: IpAddr,
    strip_ice: bool,
) -> Bytes {
    let plan = Rewrite {
        media: sdp
            .media()
            .iter()
            .zip(sessions.iter().chain(std::iter::repeat(&None)))
            .map(|(m, s)| {
                let info = s.as_ref()?;
                let local = match towards {
                    Side::Caller => info.a,
                    Side::Callee => info.b,
                };
                let pair = match local {
                    Local::Own(p) | Local::Multiplexed(p) => p,
                };
                Some(MediaRewrite {
                    addr,
                    port: pair.rtp(),
                    rtcp_port: (!m.rtcp_mux).then(|| pair.rtcp()),
                })
            })
            .collect(),
        strip_ice,
    };
    sdp.rewrite(&plan)
}
