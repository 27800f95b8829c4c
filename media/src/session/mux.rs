//! E's multiplexed pair: the packets of every call from C arrive on one pair, and the leg
//! each belongs to is told by its source. Each multiplexed leg holds one key per component in
//! `Table::mux_sources`: the address C advertised for it.
//!
//! A leg that knows only C's RTCP address is keyed for RTP on the RTCP port - 1 (RTP on an
//! even port, RTCP on the next: RFC 3550 11) until the RTP address is told. H.245 makes that
//! case common: C's OpenLogicalChannel for a stream C sends names only its
//! mediaControlChannel, and C's RTP address would come in C's OpenLogicalChannelAck, which a
//! one-way stream from C never gets; without the guess its RTP would be dropped as from an
//! unknown source. A guessed key yields to one another leg really expects (it is dropped, the
//! session is not refused).
//!
//! Re-keying keeps a component's latch when its key did not change: E's end sends only to the
//! latched source, so a repeated OpenLogicalChannel(Ack) or re-INVITE naming the same address
//! would otherwise stop E's media towards C until C's next packet (during silence, up to a
//! keep-alive interval).
//!
//! Owns the keys' bookkeeping; which packet goes where stays `Table::handle`'s.

use super::{AddError, Component, LegSpec, LocalKind, SessionId, Table, UpdateError};
use crate::call::Side;
use std::net::SocketAddr;

/// A leg's key per component (index `Component::index`).
type Keys = [Option<SocketAddr>; 2];
/// A leg of the table: (slot, side).
type Owner = (u32, Side);

/// The RTP address that goes with an RTCP address by the even/odd convention (none for an
/// RTCP port that is even).
pub fn rtp_of(rtcp: SocketAddr) -> Option<SocketAddr> {
    let port = rtcp.port();
    (port % 2 == 1).then(|| SocketAddr::new(rtcp.ip(), port - 1))
}

/// The keys for a leg told `rtp` and `rtcp`, where `free` says which keys it may hold: a
/// told address that is not free is the error, a guessed one is left out.
fn keys_for(
    rtp: Option<SocketAddr>,
    rtcp: Option<SocketAddr>,
    free: impl Fn(Component, SocketAddr) -> bool,
) -> Result<Keys, SocketAddr> {
    for (c, a) in [(Component::Rtp, rtp), (Component::Rtcp, rtcp)] {
        if let Some(a) = a.filter(|a| !free(c, *a)) {
            return Err(a);
        }
    }
    let guess = || rtcp.and_then(rtp_of).filter(|g| free(Component::Rtp, *g));
    Ok([rtp.or_else(guess), rtcp])
}

impl Table {
    /// The keys of each multiplexed leg of a new session: a told address another leg (of this
    /// session or another) already holds refuses it.
    pub(super) fn plan_mux_keys(&self, specs: &[LegSpec; 2]) -> Result<[Keys; 2], AddError> {
        let mut keys: [Keys; 2] = [[None; 2]; 2];
        for (i, s) in specs.iter().enumerate() {
            if s.local != LocalKind::Multiplexed {
                continue;
            }
            if self.config.multiplexed.is_none() {
                return Err(AddError::NoMultiplexedPair);
            }
            let planned = keys;
            let free = |c: Component, a: SocketAddr| {
                !self.mux_sources.contains_key(&(c, a))
                    && planned.iter().all(|k| k[c.index()] != Some(a))
            };
            keys[i] = keys_for(s.rtp, s.rtcp, free).map_err(AddError::MultiplexedSourceTaken)?;
        }
        Ok(keys)
    }

    pub(super) fn insert_mux_keys(&mut self, keys: Keys, owner: Owner) {
        for (c, a) in [Component::Rtp, Component::Rtcp].into_iter().zip(keys) {
            if let Some(a) = a {
                self.mux_sources.insert((c, a), owner);
            }
        }
    }

    /// Removes those of `keys` that `owner` holds.
    pub(super) fn remove_mux_keys(&mut self, keys: Keys, owner: Owner) {
        for (c, a) in [Component::Rtp, Component::Rtcp].into_iter().zip(keys) {
            if let Some(a) = a {
                if self.mux_sources.get(&(c, a)) == Some(&owner) {
                    self.mux_sources.remove(&(c, a));
                }
            }
        }
    }

    /// `Table::set_expected` for a multiplexed leg: new keys, and a fresh latch for each
    /// component whose key changed (a latch to the old key would refuse every packet the new
    /// one lets through); the others keep theirs.
    pub(super) fn rekey_mux(
        &mut self,
        id: SessionId,
        side: Side,
        rtp: Option<SocketAddr>,
        rtcp: Option<SocketAddr>,
    ) -> Result<(), UpdateError> {
        let owner = (id.slot, side);
        let sources = &self.mux_sources;
        let free = |c: Component, a: SocketAddr| sources.get(&(c, a)).is_none_or(|o| *o == owner);
        let new = keys_for(rtp, rtcp, free).map_err(UpdateError::MultiplexedSourceTaken)?;
        let session = self.get_mut(id).ok_or(UpdateError::UnknownSession)?;
        let leg = &mut session.legs[side.index()];
        let old = leg.keys;
        leg.keys = new;
        for (i, told) in [rtp, rtcp].into_iter().enumerate() {
            if old[i] == new[i] {
                leg.latches[i].set_expected(told);
            } else {
                leg.latches[i].reset(told);
            }
        }
        let changed = |k: Keys| -> Keys { [0, 1].map(|i| k[i].filter(|_| old[i] != new[i])) };
        self.remove_mux_keys(changed(old), owner);
        self.insert_mux_keys(changed(new), owner);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
