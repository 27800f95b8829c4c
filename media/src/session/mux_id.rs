//! H.460.19 multiplexed media by multiplexID: E gives each leg of its multiplexed pair a
//! 32-bit multiplexID (told to C in the H.460.19 traversal parameters), and a packet that
//! starts with it names its leg whatever its source, so a NAT between C and E changes nothing.
//! C's end of a link, once told E's multiplexID for its stream, puts it in front of every
//! packet it sends towards E's multiplexed pair.
//!
//! The ID is made of the session's slot (16 bits), the low 14 bits of its generation and the
//! side, with the top bit clear: its first octet is below 0x80, where every RTP and RTCP packet
//! (version 2) starts with 0x80-0xbf, so a prefixed packet is told from a plain one by its
//! first octet. Nothing is stored for it on E: the ID is decoded back to its leg, and an ID of
//! an ended session (another generation) names nothing. Sessions in slots past 65535 have none
//! (their packets are told apart by source, as without H.460.19).
//!
//! A packet from a source that is a leg's key goes to that leg as before, and loses its first
//! four octets only when they are that leg's own ID: what else starts below 0x80 (STUN, say)
//! from a known source is relayed as it was. Only a packet from an unknown source is read as
//! ID-first.
//!
//! Owns the ID's encoding and the framed entry point the relay driver calls; the forwarding
//! itself is `Table::relay_from`'s.

use super::{Component, Forward, Local, Route, SessionId, Side, Table, UpdateError};
use std::net::SocketAddr;
use std::time::Instant;

/// Octets of the multiplexID in front of a multiplexed packet.
pub const MUX_ID_LEN: usize = 4;

/// How a forwarded packet's bytes change on the way: its multiplexID removed (it came to E's
/// multiplexed pair prefixed), and/or E's multiplexID put in front (it goes from C to E).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Framing {
    pub strip: bool,
    pub prefix: Option<u32>,
}

/// The multiplexID of leg `side` of session `id`, when its slot allows one.
fn encode(id: SessionId, side: Side) -> Option<u32> {
    if id.slot > 0xffff {
        return None;
    }
    let generation = id.generation & 0x3fff;
    Some(generation << 17 | id.slot << 1 | side.index() as u32)
}

/// (slot, low 14 bits of the generation, side) of a multiplexID.
fn decode(mux_id: u32) -> (u32, u32, Side) {
    let side = if mux_id & 1 == 0 {
        Side::Caller
    } else {
        Side::Callee
    };
    ((mux_id >> 1) & 0xffff, (mux_id >> 17) & 0x3fff, side)
}

/// The multiplexID a packet starts with: a first octet below 0x80 (not RTP version 2) and
/// more than the ID itself.
fn prefixed(data: &[u8]) -> Option<u32> {
    let head: [u8; MUX_ID_LEN] = data.get(..MUX_ID_LEN)?.try_into().ok()?;
    (head[0] < 0x80 && data.len() > MUX_ID_LEN).then(|| u32::from_be_bytes(head))
}

impl Table {
    /// The multiplexID of E's multiplexed leg `side` of session `id` (`None` for a leg on a
    /// pair of its own, an unknown session, a slot past 65535).
    pub fn multiplex_id(&self, id: SessionId, side: Side) -> Option<u32> {
        let leg = self.get(id)?.leg(side);
        matches!(leg.local, Local::Multiplexed(_))
            .then(|| encode(id, side))
            .flatten()
    }

    /// C: the multiplexID E gave for leg `side`'s stream (`None`: send unprefixed).
    pub fn set_send_mux_id(
        &mut self,
        id: SessionId,
        side: Side,
        mux_id: Option<u32>,
    ) -> Result<(), UpdateError> {
        let session = self.get_mut(id).ok_or(UpdateError::UnknownSession)?;
        session.legs[side.index()].send_mux_id = mux_id;
        Ok(())
    }

    /// `handle` for a whole packet: on the multiplexed pair a packet starting with a
    /// multiplexID goes to the leg it names (and loses the ID); the framing says how the bytes
    /// change on the way out.
    pub fn handle_framed(
        &mut self,
        local_port: u16,
        src: SocketAddr,
        data: &[u8],
        now: Instant,
    ) -> Option<(Forward, Framing)> {
        if let Route::Multiplexed(component) = self.routes[usize::from(local_port)] {
            let keyed = self.mux_sources.get(&(component, src)).copied();
            match (keyed, prefixed(data)) {
                // from the source C advertised, with this leg's own ID in front
                (Some((slot, side)), Some(mux_id)) if self.id_of(slot, side) == Some(mux_id) => {
                    self.stats.demuxed_by_id += 1;
                    let leg = (slot, side, component);
                    let len = data.len() - MUX_ID_LEN;
                    let (f, prefix) = self.relay_from(leg, src, len, false, now)?;
                    return Some((
                        f,
                        Framing {
                            strip: true,
                            prefix,
                        },
                    ));
                }
                // any other source: the ID names the leg (a NAT between C and E)
                (None, Some(mux_id)) => {
                    return self.handle_by_id(component, mux_id, src, data.len(), now);
                }
                // by source, as without H.460.19 (one lookup of the key, not two)
                (Some((slot, side)), _) => {
                    let leg = (slot, side, component);
                    let (f, prefix) = self.relay_from(leg, src, data.len(), false, now)?;
                    return Some((
                        f,
                        Framing {
                            strip: false,
                            prefix,
                        },
                    ));
                }
                (None, None) => {}
            }
        }
        let leg = self.resolve(local_port, src)?;
        let (f, prefix) = self.relay_from(leg, src, data.len(), false, now)?;
        let framing = Framing {
            strip: false,
            prefix,
        };
        Some((f, framing))
    }

    /// The multiplexID of the leg in `slot` on `side`, when it has one.
    fn id_of(&self, slot: u32, side: Side) -> Option<u32> {
        let generation = self.slots.get(slot as usize)?.generation;
        encode(SessionId { slot, generation }, side)
    }

    fn handle_by_id(
        &mut self,
        component: Component,
        mux_id: u32,
        src: SocketAddr,
        len: usize,
        now: Instant,
    ) -> Option<(Forward, Framing)> {
        let (slot, generation, side) = decode(mux_id);
        let named = self
            .slots
            .get(slot as usize)
            .filter(|s| s.generation & 0x3fff == generation)
            .and_then(|s| s.session.as_ref())
            .is_some_and(|s| matches!(s.legs[side.index()].local, Local::Multiplexed(_)));
        if !named {
            self.stats.dropped_unknown_source += 1;
            return None;
        }
        self.stats.demuxed_by_id += 1;
        let leg = (slot, side, component);
        let (f, prefix) = self.relay_from(leg, src, len - MUX_ID_LEN, true, now)?;
        Some((
            f,
            Framing {
                strip: true,
                prefix,
            },
        ))
    }
}

#[cfg(test)]
mod tests;
