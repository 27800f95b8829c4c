//! Gatekeeper discovery (H.225.0 7.8): GRQ answered with GCF or GRJ.
//!
//! Choices (each an operator-visible behaviour):
//! - GRQ: answered with GCF whether it came unicast or to the multicast group (224.0.1.41,
//!   `multicast_discovery`); one naming another gatekeeper gets GRJ unicast, silence multicast.
//! - The GCF names the RAS address the endpoint reached (the datagram's local address) and goes
//!   to the GRQ's rasAddress (its source when that does not parse).
//!
//! Must not touch: registrations (a GRQ registers nothing), sockets, clocks.

use super::{build, Datagram, Gatekeeper, Output};
use crate::asn;
use causeway_h323_asn1::h323_messages::{GatekeeperRejectReason, GatekeeperRequest};

impl Gatekeeper {
    pub(super) fn on_grq(&mut self, m: &GatekeeperRequest, d: Datagram<'_>, out: &mut Vec<Output>) {
        let n = m.request_seq_num.0;
        let reply = super::answer_to(asn::socket_addr(&m.ras_address), d.from);
        if let Some(gk) = &m.gatekeeper_identifier {
            if !self.is_our_id(&gk.0) && d.multicast {
                // a multicast GRQ looking for another gatekeeper is not ours to answer
                return;
            }
            if !self.is_our_id(&gk.0) {
                self.reject("GRQ", "terminalExcluded (another gatekeeper)", d.from, out);
                let msg = build::grj(
                    n,
                    &self.cfg.gatekeeper_id,
                    GatekeeperRejectReason::terminalExcluded(()),
                );
                self.send(reply, &msg, out);
                return;
            }
        }
        let msg = build::gcf(n, &self.cfg.gatekeeper_id, asn::transport_address(d.local));
        self.send(reply, &msg, out);
    }
}
