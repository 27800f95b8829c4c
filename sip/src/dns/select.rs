//! Ordering of DNS answers for SIP: NAPTR filtering and order/preference (RFC 3263 4.1,
//! RFC 3403), SRV priority and weighted selection (RFC 2782).
//!
//! Pure functions over plain values: no DNS types, no I/O, and the randomness of RFC 2782 comes
//! from an injected `rand::Rng` so tests can fix it. Owns nothing else: which queries to make
//! lives in `plan`, making them in `resolve`.

use rand::Rng;

use super::Transport;

/// One NAPTR record, as text (RFC 3403 4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Naptr {
    pub order: u16,
    pub preference: u16,
    pub flags: String,
    pub service: String,
    pub regexp: String,
    /// The replacement domain (for SIP, an SRV name such as `_sips._tcp.example.com.`).
    pub replacement: String,
}

/// One SRV record (RFC 2782). A `target` of `"."` means "service decidedly not available".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Srv {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

impl Srv {
    /// RFC 2782: the target "." says that there is no such service at this domain.
    pub fn is_unavailable(&self) -> bool {
        self.target == "."
    }
}

/// NAPTR records by `order` ascending, then `preference` ascending (RFC 3403 4.1). Stable, so
/// ties keep the order DNS gave them.
pub fn order_naptr(mut records: Vec<Naptr>) -> Vec<Naptr> {
    records.sort_by_key(|r| (r.order, r.preference));
    records
}

/// The SIP transport a NAPTR service field names (RFC 3263 4.1), if it is one we speak.
/// `SIP+D2S` (SCTP) and non-SIP services are not.
pub fn naptr_transport(service: &str) -> Option<Transport> {
    if service.eq_ignore_ascii_case("SIPS+D2T") {
        Some(Transport::Tls)
    } else if service.eq_ignore_ascii_case("SIP+D2T") {
        Some(Transport::Tcp)
    } else if service.eq_ignore_ascii_case("SIP+D2U") {
        Some(Transport::Udp)
    } else {
        None
    }
}

/// RFC 3263 4.1: the NAPTR records a SIP client may follow, best first, as (transport, SRV
/// name). Keeps records whose service is one of ours (only `SIPS+D2T` for a `sips` URI), whose
/// flags say "the next lookup is SRV", whose regexp is empty and whose replacement is a name.
pub fn sip_naptr(records: Vec<Naptr>, secure: bool) -> Vec<(Transport, String)> {
    order_naptr(records)
        .into_iter()
        .filter(|r| srv_flag(&r.flags) && r.regexp.is_empty() && r.replacement != ".")
        .filter_map(|r| {
            let transport = naptr_transport(&r.service)?;
            (!secure || transport == Transport::Tls).then_some((transport, r.replacement))
        })
        .collect()
}

/// RFC 3403 4.1: flag "S" (any case) means the next lookup is for SRV records. "A", "U" and
/// "P" are the other terminal flags and exclude it. Other letters are annotations we do not
/// interpret: Expressway publishes "se" to mark an external record (reference appendix 5), and
/// that still points at SRV.
fn srv_flag(flags: &str) -> bool {
    let has = |c: char| flags.chars().any(|f| f.eq_ignore_ascii_case(&c));
    has('s') && !has('a') && !has('u') && !has('p')
}

/// RFC 2782 order: priority ascending; within one priority, a weighted random order where a
/// record's chance to come next is proportional to its weight, and weight-0 records have a
/// small chance (they are placed first, so they are picked only when the draw is exactly 0).
/// Returns a permutation of `records`; unavailable (".") targets are kept for the caller to
/// judge.
pub fn order_srv<R: Rng + ?Sized>(records: Vec<Srv>, rng: &mut R) -> Vec<Srv> {
    order_srv_by(records, |total| rng.gen_range(0..=total))
}

/// `order_srv` with the draw made explicit: `draw(sum)` returns a number in `0..=sum`.
fn order_srv_by(mut records: Vec<Srv>, mut draw: impl FnMut(u64) -> u64) -> Vec<Srv> {
    records.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(records.len());
    let mut rest = records.into_iter().peekable();
    while let Some(first) = rest.next() {
        let priority = first.priority;
        let mut group = vec![first];
        while let Some(next) = rest.next_if(|r| r.priority == priority) {
            group.push(next);
        }
        weighted_order(group, &mut draw, &mut out);
    }
    out
}

/// RFC 2782's running-sum selection over one priority group, appended to `out`.
fn weighted_order(mut group: Vec<Srv>, draw: &mut impl FnMut(u64) -> u64, out: &mut Vec<Srv>) {
    // "arrange all SRV RRs (that have not been ordered yet) in any order, except that all those
    // with weight 0 are placed at the beginning of the list". Stable: the rest keep DNS order.
    group.sort_by_key(|r| r.weight != 0);
    while !group.is_empty() {
        // u64: a sum of u16 weights cannot overflow it whatever the answer size.
        let total: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
        // "choose a uniform random number between 0 and the sum computed (inclusive), and
        // select the RR whose running sum value is the first in the selected order which is
        // greater than or equal to the random number selected".
        let drawn = draw(total);
        let mut running = 0u64;
        let picked = group
            .iter()
            .position(|r| {
                running += u64::from(r.weight);
                running >= drawn
            })
            // Only a draw above `total` finds nothing; take the last record, as the running
            // sum would if it kept counting.
            .unwrap_or(group.len() - 1);
        out.push(group.remove(picked));
    }
}

#[cfg(test)]
mod tests;
