//! The router's vocabulary: the question (`RouteRequest`) and the answer (`Route`, `Target`).
//!
//! Plain values only, shared with the SIP and H.323 cores. Must not hold routing logic (that is
//! `router` and `rule`).

use crate::alias::Alias;
use causeway_config::zones::ZoneType;
use std::fmt;

/// The signaling protocol of the request being routed (search rules may be limited to one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Sip,
    H323,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Sip => "SIP",
            Protocol::H323 => "H.323",
        })
    }
}

/// One request to route: what was dialled, and where the call came from.
#[derive(Clone, Copy, Debug)]
pub struct RouteRequest<'a> {
    pub alias: &'a Alias,
    pub protocol: Protocol,
    /// The zone the request arrived from; `LocalZone` for local endpoints.
    pub source_zone: &'a str,
    /// The caller is an endpoint registered here (search rules with `source = "registered"`).
    pub source_registered: bool,
}

/// The kind of zone a target lies in; tells the caller how to reach it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZoneKind {
    /// The local registrations: look the alias up in the registrar (SIP) or gatekeeper (H.323).
    Local,
    Neighbor,
    TraversalClient,
    TraversalServer,
    Dns,
}

impl ZoneKind {
    /// The name used in the configuration (`type = "traversal-client"`), `local` for LocalZone.
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneKind::Local => "local",
            ZoneKind::Neighbor => ZoneType::Neighbor.as_str(),
            ZoneKind::TraversalClient => ZoneType::TraversalClient.as_str(),
            ZoneKind::TraversalServer => ZoneType::TraversalServer.as_str(),
            ZoneKind::Dns => ZoneType::Dns.as_str(),
        }
    }
}

impl From<ZoneType> for ZoneKind {
    fn from(t: ZoneType) -> ZoneKind {
        match t {
            ZoneType::Neighbor => ZoneKind::Neighbor,
            ZoneType::TraversalClient => ZoneKind::TraversalClient,
            ZoneType::TraversalServer => ZoneKind::TraversalServer,
            ZoneType::Dns => ZoneKind::Dns,
        }
    }
}

impl fmt::Display for ZoneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a call may go next: the alias to ask for in one zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The zone's name (`LocalZone` for the local registrations).
    pub zone: String,
    pub kind: ZoneKind,
    /// The alias after transforms and the rule's pattern behaviour.
    pub alias: Alias,
    /// The search rule that produced this target.
    pub rule: String,
    /// That rule's priority: targets of equal priority were found together.
    pub priority: u16,
}

/// The router's answer: targets to try in order, and a line per transform and search rule
/// saying what it did or why it did not apply (for logs and `causeway check-route`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route {
    pub targets: Vec<Target>,
    pub trace: Trace,
}

/// The lines of a route's trace, kept in one buffer. Every new call is routed, and a `String`
/// per line (the first version) made the trace most of the router's allocations; the search
/// history copies it once more per call.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Trace(String);

/// Bytes reserved for a trace's first line.
const FIRST_LINE: usize = 160;

impl Trace {
    /// Appends one line. A line break inside it (an H.323 alias may hold any character) is
    /// written as `\n` (and a carriage return as `\r`), so that one step stays one line.
    pub fn push(&mut self, line: fmt::Arguments<'_>) {
        if self.0.is_empty() {
            // one line of a local call's search is about 110 bytes: room for it at once, where
            // growing by doubling from 8 would allocate five times
            self.0.reserve(FIRST_LINE);
        }
        // every line starts with its break, so that even an empty first line is one
        self.0.push('\n');
        // writing to a `String` cannot fail
        let _ = fmt::write(&mut OneLine(&mut self.0), line);
    }

    /// The lines, in the order the router wrote them.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.0
            .strip_prefix('\n')
            .map(|all| all.split('\n'))
            .into_iter()
            .flatten()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.lines()).finish()
    }
}

/// Appends to a trace line with its line breaks escaped.
struct OneLine<'a>(&'a mut String);

impl fmt::Write for OneLine<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(at) = rest.find(['\n', '\r']) {
            self.0.push_str(&rest[..at]);
            self.0.push_str(if rest.as_bytes()[at] == b'\n' {
                "\\n"
            } else {
                "\\r"
            });
            rest = &rest[at + 1..];
        }
        self.0.push_str(rest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Trace;

    #[test]
    fn a_trace_keeps_one_line_per_push_whatever_the_alias_holds() {
        let mut t = Trace::default();
        assert!(t.is_empty());
        assert_eq!(t.lines().count(), 0);
        t.push(format_args!(""));
        t.push(format_args!("first"));
        t.push(format_args!("alias `{}` seen", "a\nb\r\nc"));
        t.push(format_args!(""));
        assert!(!t.is_empty());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines, ["", "first", "alias `a\\nb\\r\\nc` seen", ""]);
        assert_eq!(
            format!("{t:?}"),
            r#"["", "first", "alias `a\\nb\\r\\nc` seen", ""]"#
        );
    }
}
