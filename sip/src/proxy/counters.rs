//! What the proxy counts for its operators (the metrics endpoint and the status): requests by
//! method, responses by class, INVITE outcomes, DNS look-ups. Fixed-size tables indexed by
//! known names, so nothing from the network can grow them (an unknown method counts as
//! "other").
//!
//! Plain numbers the core increments as things happen; it reads no clock and formats nothing.

use crate::message::Method;

/// The methods counted by name, in table order; the last is everything else.
pub const METHODS: [&str; 15] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "REGISTER",
    "OPTIONS",
    "INFO",
    "UPDATE",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "REFER",
    "MESSAGE",
    "PUBLISH",
    "other",
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests received, by `METHODS` index.
    pub requests: [u64; 15],
    /// Responses received, by class: `[1xx, 2xx, 3xx, 4xx, 5xx, 6xx]`.
    pub responses: [u64; 6],
    /// INVITEs answered 2xx upstream (by us or a callee).
    pub calls_answered: u64,
    /// INVITEs that ended with 487 (cancelled).
    pub calls_cancelled: u64,
    /// INVITEs that ended with any other final failure.
    pub calls_failed: u64,
    /// RFC 3263 look-ups asked of the driver, and those that gave no usable address.
    pub dns_lookups: u64,
    pub dns_failures: u64,
}

impl Counters {
    pub fn request(&mut self, m: Option<&Method>) {
        let i = match m {
            Some(Method::Invite) => 0,
            Some(Method::Ack) => 1,
            Some(Method::Bye) => 2,
            Some(Method::Cancel) => 3,
            Some(Method::Register) => 4,
            Some(Method::Options) => 5,
            Some(Method::Info) => 6,
            Some(Method::Update) => 7,
            Some(Method::Prack) => 8,
            Some(Method::Subscribe) => 9,
            Some(Method::Notify) => 10,
            Some(Method::Refer) => 11,
            Some(Method::Message) => 12,
            Some(Method::Publish) => 13,
            Some(Method::Other(_)) | None => 14,
        };
        self.requests[i] += 1;
    }

    pub fn response(&mut self, status: u16) {
        if let Some(n) = usize::from(status / 100)
            .checked_sub(1)
            .and_then(|i| self.responses.get_mut(i))
        {
            *n += 1;
        }
    }

    /// The final response an INVITE server transaction sent upstream.
    pub fn call_ended(&mut self, status: u16) {
        match status {
            200..=299 => self.calls_answered += 1,
            487 => self.calls_cancelled += 1,
            _ => self.calls_failed += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_fixed_and_classes_map() {
        let mut c = Counters::default();
        c.request(Some(&Method::Invite));
        c.request(Some(&Method::Other("FOO".into())));
        c.request(None);
        assert_eq!(c.requests[0], 1);
        assert_eq!(c.requests[14], 2);
        for s in [100, 180, 200, 486, 699, 99, 700] {
            c.response(s);
        }
        assert_eq!(
            c.responses,
            [2, 1, 0, 1, 0, 1],
            "out-of-range codes count nowhere"
        );
        c.call_ended(200);
        c.call_ended(487);
        c.call_ended(486);
        assert_eq!(
            (c.calls_answered, c.calls_cancelled, c.calls_failed),
            (1, 1, 1)
        );
    }
}
