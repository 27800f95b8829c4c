//! Text slots of the typed values, filled where they stay: the grammar's readers write every
//! `CompactString` through these. Owns only the writing; what is valid text is the grammar's.

use compact_str::CompactString;

/// `s` written into `slot`, where it stays. Why not `*slot = s.into()`: a `CompactString` is
/// built by a variable-length memcpy into a 24-byte buffer, and moving it into its slot right
/// away reads that buffer back as words; each read waits for the bytes to land (a failed
/// store-to-load forward). perf put the top sample of the host, URI and parameter readers on
/// those reads, about 15 of them per INVITE (BENCHMARKS.md, "SIP parse under 1 us"). Written
/// in place, nothing reads the bytes back until long after.
#[inline]
pub(super) fn put(slot: &mut CompactString, s: &str) {
    // slots are nearly always blank: `clear` is a call that writes the length byte back
    if !slot.is_empty() {
        slot.clear();
    }
    slot.push_str(s);
}

/// `put` into an optional slot (None until now, as in the grammar's blanks).
#[inline]
pub(super) fn put_some(slot: &mut Option<CompactString>, s: &str) {
    put(slot.get_or_insert_with(CompactString::default), s);
}

/// A parameter pushed onto `out` and its name written in place (see `put`); the value slot is
/// returned for the caller to fill.
#[inline]
pub(super) fn push_param<'a>(
    out: &'a mut Vec<(CompactString, Option<CompactString>)>,
    name: &str,
) -> &'a mut Option<CompactString> {
    out.push((CompactString::default(), None));
    // just pushed: the index is in bounds
    let last = out.len() - 1;
    let (n, v) = &mut out[last];
    put(n, name);
    v
}
