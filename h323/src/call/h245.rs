//! H.245 content of relayed calls as the media anchor (`causeway_media::MediaAnchor`) sees it:
//! every media transport address
//! in OpenLogicalChannel and OpenLogicalChannelAck (H2250LogicalChannelParameters and
//! H2250LogicalChannelAckParameters), whether the message came tunneled (h245Control), on a
//! separate H.245 connection, or as a fastStart element (an encoded OpenLogicalChannel).
//!
//! Each address goes with its H.245 sessionID (the stream it belongs to; both directions of a
//! medium share it): H2250LogicalChannelParameters carry it always; an
//! OpenLogicalChannelAck's H2250LogicalChannelAckParameters only may, so the sessionID of every
//! OpenLogicalChannel is remembered by (opening side, logical channel number) in the call's
//! [`Channels`] and an Ack without one takes its channel's. An Ack's own sessionID wins: when
//! a slave opens a channel of a new session it leaves sessionID 0 for the master to assign,
//! and only the master's Ack has the real one.
//!
//! A message is re-encoded only when the anchor changed an address; otherwise the caller
//! forwards the original bytes. Only IPv4/IPv6 unicast addresses are shown to it (the others
//! cannot be carried as a socket address). Without an anchor every message is still decoded
//! (undecodable H.245 is reported the same way) and forwarded as it came.
//!
//! Pure functions over a message and the call's [`Channels`] (kept in the call's state). Must
//! not touch the Q.931 layer.

use super::{CallId, Side};
use crate::asn;
use causeway_h323_asn1::multimedia_system_control::{
    H2250LogicalChannelParameters, H245TransportAddress, MultimediaSystemControlMessage,
    OpenLogicalChannel, OpenLogicalChannelAck,
    OpenLogicalChannelAckForwardMultiplexAckParameters as AckMux,
    OpenLogicalChannelAckReverseLogicalChannelParametersMultiplexParameters as AckRevMux,
    OpenLogicalChannelForwardLogicalChannelParametersMultiplexParameters as FwdMux,
    OpenLogicalChannelReverseLogicalChannelParametersMultiplexParameters as RevMux, RequestMessage,
    ResponseMessage,
};
use causeway_h323_asn1::rasn::aper;
use causeway_h323_asn1::rasn::types::OctetString;
use causeway_media::{ChannelAddress, Component, Legs, MediaAnchor};
use std::collections::HashMap;
use std::time::Instant;

/// Logical channels remembered per call: a bound on what one call's endpoints can make us hold
/// (a call uses a handful; past it an Ack without a sessionID counts as session 0).
const MAX_CHANNELS: usize = 64;

/// The sessionID each logical channel of a call was opened with, by (side that opened it,
/// forwardLogicalChannelNumber): what an OpenLogicalChannelAck without one belongs to.
#[derive(Debug, Default)]
pub(crate) struct Channels {
    by_lcn: HashMap<(Side, u16), u8>,
}

impl Channels {
    fn opened(&mut self, by: Side, lcn: u16, session: u8) {
        if self.by_lcn.len() < MAX_CHANNELS || self.by_lcn.contains_key(&(by, lcn)) {
            self.by_lcn.insert((by, lcn), session);
        }
    }

    pub(crate) fn session(&self, by: Side, lcn: u16) -> u8 {
        self.by_lcn.get(&(by, lcn)).copied().unwrap_or(0)
    }
}

/// Who is asking, passed down to the anchor.
pub(crate) struct HookCtx<'a> {
    /// The media anchor, when this call is anchored.
    pub anchor: Option<&'a mut (dyn MediaAnchor + Send + 'static)>,
    pub call: CallId,
    pub legs: Legs,
    pub channels: &'a mut Channels,
    pub from: Side,
    pub fast_start: bool,
    pub now: Instant,
}

impl HookCtx<'_> {
    /// Shows one address to the anchor; true when it changed it (and it was written back).
    fn visit(
        &mut self,
        session: u8,
        component: Component,
        answer: bool,
        slot: &mut Option<H245TransportAddress>,
    ) -> bool {
        let Some(anchor) = self.anchor.as_deref_mut() else {
            return false;
        };
        let Some(before) = slot.as_ref().and_then(asn::h245_socket_addr) else {
            return false;
        };
        let what = ChannelAddress {
            session,
            component,
            answer,
            early: self.fast_start,
        };
        let call = self.call.to_string();
        match anchor.channel_address(&call, self.from, &self.legs, what, before, self.now) {
            Some(after) if after != before => {
                *slot = Some(asn::h245_transport_address(after));
                true
            }
            _ => false,
        }
    }

    fn h2250(&mut self, p: &mut H2250LogicalChannelParameters, answer: bool) -> bool {
        let s = p.session_id;
        let a = self.visit(s, Component::Rtp, answer, &mut p.media_channel);
        let b = self.visit(s, Component::Rtcp, answer, &mut p.media_control_channel);
        a | b
    }

    /// OpenLogicalChannel: forward and reverse H.225.0 parameters.
    pub fn olc(&mut self, olc: &mut OpenLogicalChannel) -> bool {
        let mut changed = false;
        if let FwdMux::h2250LogicalChannelParameters(p) =
            &mut olc.forward_logical_channel_parameters.multiplex_parameters
        {
            // fastStart proposals are not acked: only a separate or tunneled OLC is
            if !self.fast_start {
                let lcn = olc.forward_logical_channel_number.0;
                self.channels.opened(self.from, lcn, p.session_id);
            }
            changed |= self.h2250(p, false);
        }
        if let Some(rev) = &mut olc.reverse_logical_channel_parameters {
            if let Some(RevMux::h2250LogicalChannelParameters(p)) = &mut rev.multiplex_parameters {
                changed |= self.h2250(p, false);
            }
        }
        changed
    }

    /// OpenLogicalChannelAck: the forward ack parameters and the reverse channel's.
    pub fn olc_ack(&mut self, ack: &mut OpenLogicalChannelAck) -> bool {
        let mut changed = false;
        if let Some(AckMux::h2250LogicalChannelAckParameters(p)) =
            &mut ack.forward_multiplex_ack_parameters
        {
            // the channel was opened by the other side
            let lcn = ack.forward_logical_channel_number.0;
            let s = p
                .session_id
                .unwrap_or_else(|| self.channels.session(self.from.other(), lcn));
            let a = self.visit(s, Component::Rtp, true, &mut p.media_channel);
            let b = self.visit(s, Component::Rtcp, true, &mut p.media_control_channel);
            changed |= a | b;
        }
        if let Some(rev) = &mut ack.reverse_logical_channel_parameters {
            if let Some(AckRevMux::h2250LogicalChannelParameters(p)) = &mut rev.multiplex_parameters
            {
                changed |= self.h2250(p, true);
            }
        }
        changed
    }

    /// One MultimediaSystemControlMessage: the addresses it carries, if any.
    pub fn message(&mut self, m: &mut MultimediaSystemControlMessage) -> bool {
        match m {
            MultimediaSystemControlMessage::request(RequestMessage::openLogicalChannel(olc)) => {
                self.olc(olc)
            }
            MultimediaSystemControlMessage::response(ResponseMessage::openLogicalChannelAck(
                ack,
            )) => self.olc_ack(ack),
            _ => false,
        }
    }
}

/// Result of running one encoded PDU through the hook.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rewrite {
    /// Forward the original bytes.
    Unchanged,
    /// The hook changed an address: forward these bytes instead.
    Changed(Vec<u8>),
    /// Not decodable: forwarded untouched by the caller, counted as malformed.
    Undecodable(String),
}

/// Most PDUs looked at in one payload: a bound on the work one payload can cause.
const MAX_PDUS_PER_PAYLOAD: usize = 32;

/// The MultimediaSystemControlMessages of one h245Control element or separate-channel TPKT
/// payload. Usually one, but some stacks put several back to back in one TPKT; each is shown
/// to the hook and the payload is rebuilt from the originals and the re-encoded ones, so no
/// PDU is lost. Bytes after the last PDU that decodes are kept as they are.
pub(crate) fn rewrite_message(ctx: &mut HookCtx<'_>, bytes: &[u8]) -> Rewrite {
    let mut rest = bytes;
    let mut rebuilt: Vec<u8> = Vec::new();
    let mut changed = false;
    for n in 0..MAX_PDUS_PER_PAYLOAD {
        if rest.is_empty() {
            break;
        }
        let (mut m, after) =
            match aper::decode_with_remainder::<MultimediaSystemControlMessage>(rest) {
                Ok(x) => x,
                Err(e) if n == 0 => return Rewrite::Undecodable(e.to_string()),
                // A tail that is not a PDU (padding, or something newer than us): untouched.
                Err(_) => break,
            };
        // Progress is guaranteed: a PDU takes at least one octet.
        let original = &rest[..rest.len() - after.len()];
        if original.is_empty() {
            break;
        }
        if ctx.message(&mut m) {
            match aper::encode(&m) {
                Ok(v) => {
                    rebuilt.extend_from_slice(&v);
                    changed = true;
                }
                // Cannot happen for a value that decoded; if it does, the original goes out.
                Err(_) => rebuilt.extend_from_slice(original),
            }
        } else {
            rebuilt.extend_from_slice(original);
        }
        rest = after;
    }
    if !changed {
        return Rewrite::Unchanged;
    }
    rebuilt.extend_from_slice(rest);
    Rewrite::Changed(rebuilt)
}

/// One encoded fastStart element (an OpenLogicalChannel, H.225.0 7.3.1 fastStart).
pub(crate) fn rewrite_fast_start(ctx: &mut HookCtx<'_>, bytes: &[u8]) -> Rewrite {
    let mut olc = match aper::decode::<OpenLogicalChannel>(bytes) {
        Ok(m) => m,
        Err(e) => return Rewrite::Undecodable(e.to_string()),
    };
    if !ctx.olc(&mut olc) {
        return Rewrite::Unchanged;
    }
    match aper::encode(&olc) {
        Ok(v) => Rewrite::Changed(v),
        Err(e) => Rewrite::Undecodable(e.to_string()),
    }
}

/// Runs every element of a list (h245Control or fastStart) through the hook; true when one
/// changed. Undecodable elements stay as they are and are reported through `malformed`.
pub(crate) fn rewrite_list(
    ctx: &mut HookCtx<'_>,
    list: &mut [OctetString],
    malformed: &mut Vec<String>,
) -> bool {
    let mut changed = false;
    for el in list.iter_mut() {
        let r = if ctx.fast_start {
            rewrite_fast_start(ctx, el)
        } else {
            rewrite_message(ctx, el)
        };
        match r {
            Rewrite::Unchanged => {}
            Rewrite::Changed(v) => {
                *el = OctetString::from(v);
                changed = true;
            }
            Rewrite::Undecodable(e) => malformed.push(e),
        }
    }
    changed
}
