//! What the SIP core's probes of a remote cluster's peers (a neighbor zone's `peers`) found,
//! by peer IP address: whether a peer answers, and the free media sessions it told. The
//! gatekeeper orders its LRQs to the same peers by it, as the SIP core orders its attempts.
//!
//! Written by the SIP core once per probe round; must not hold anything but the latest view.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// One peer as the last probe round saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// It failed lately (no answer to a probe or a call, connection refused).
    pub down: bool,
    /// The free media sessions its answer told, when it told them.
    pub free_media: Option<u64>,
}

impl Health {
    /// The order to try peers in: live before down, then the most free media sessions first
    /// (one that told none after those that did); equal keys keep the configured order.
    pub fn order_key(h: Option<Health>) -> (bool, std::cmp::Reverse<Option<u64>>) {
        let h = h.unwrap_or_default();
        (h.down, std::cmp::Reverse(h.free_media))
    }
}

/// Shared by the SIP core (writer) and the gatekeeper (reader); a mutex held for one map
/// operation.
#[derive(Clone, Debug, Default)]
pub struct PeerHealth {
    inner: Arc<Mutex<HashMap<IpAddr, Health>>>,
}

impl PeerHealth {
    /// The latest round's view replaces the previous one whole.
    pub fn replace(&self, view: HashMap<IpAddr, Health>) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = view;
    }

    pub fn get(&self, ip: IpAddr) -> Option<Health> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&ip)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_order_live_then_emptiest() {
        let h = |down, free| {
            Some(Health {
                down,
                free_media: free,
            })
        };
        let mut v = [
            ("down, empty", h(true, Some(999))),
            ("unknown", None),
            ("busy", h(false, Some(10))),
            ("idle", h(false, Some(900))),
        ];
        v.sort_by_key(|(_, x)| Health::order_key(*x));
        let order: Vec<&str> = v.iter().map(|(n, _)| *n).collect();
        assert_eq!(order, ["idle", "busy", "unknown", "down, empty"]);
        let t = PeerHealth::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        t.replace(HashMap::from([(ip, Health::default())]));
        assert_eq!(t.get(ip), Some(Health::default()));
        t.replace(HashMap::new());
        assert_eq!(t.get(ip), None);
    }
}
