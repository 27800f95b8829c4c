//! The compiled forms of `[[transform]]` and `[[search_rule]]`, and the implicit rule "registrar
//! domains -> LocalZone": each rule decides on its own whether it applies to one request and
//! what alias it hands on.
//!
//! Owns the per-rule filters (protocol, source, pattern) and the reason a rule was skipped.
//! Must not order rules or decide when to stop (that is `router`), and must not touch the
//! configuration after the router is built.

use crate::alias::Alias;
use crate::pattern::Pattern;
use crate::route::{Protocol, RouteRequest, ZoneKind};
use causeway_config::zones::{self as cfg, OnMatch, PatternBehavior, ProtocolFilter};
use causeway_config::LOCAL_ZONE;
use std::fmt;

/// A rewrite of the dialled alias, run before any search rule.
#[derive(Clone, Debug)]
pub(crate) struct Transform {
    pub(crate) priority: u16,
    pattern: Pattern,
    replace: String,
}

impl Transform {
    pub(crate) fn compile(t: &cfg::Transform) -> Transform {
        Transform {
            priority: t.priority,
            pattern: Pattern::compile(t.pattern_type, &t.pattern, &t.replace),
            replace: t.replace.clone(),
        }
    }

    /// The rewritten text when the pattern matches: a transform always replaces the matched
    /// part (an empty `replace` strips it).
    pub(crate) fn apply(&self, text: &str) -> Option<String> {
        self.pattern
            .apply(text, PatternBehavior::Replace, &self.replace)
    }
}

impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "transform {} (priority {})", self.pattern, self.priority)
    }
}

/// Name of the implicit rule in traces and targets.
pub const LOCAL_DOMAIN_RULE: &str = "registrar domains (implicit)";
/// Priority of the implicit rule, the one Expressway gives its default LocalZoneMatch rule.
pub const LOCAL_DOMAIN_PRIORITY: u16 = 50;

#[derive(Clone, Debug)]
pub(crate) struct SearchRule {
    pub(crate) name: String,
    pub(crate) priority: u16,
    pub(crate) on_match: OnMatch,
    protocol: ProtocolFilter,
    source: Source,
    matcher: Matcher,
    behavior: PatternBehavior,
    replace: String,
    target: String,
    /// `None` when the target zone does not exist (only in an unvalidated configuration).
    kind: Option<ZoneKind>,
}

#[derive(Clone, Debug)]
enum Source {
    Any,
    Registered,
    Zone(String),
}

#[derive(Clone, Debug)]
enum Matcher {
    Pattern(Pattern),
    /// The implicit rule: the alias's domain is one of these (lower-cased) registrar domains.
    RegistrarDomain(Vec<String>),
}

/// What one rule made of one request.
pub(crate) enum Outcome<'a> {
    /// The rule applies: a target in `zone` for `alias`.
    Target { alias: Alias, kind: ZoneKind },
    /// The rule does not apply, and why (for the trace).
    Skipped(Skip<'a>),
}

/// Why a rule did not apply. Written into the trace only: kept as borrowed parts, not text,
/// because most rules of a long list are skipped for every call.
pub(crate) enum Skip<'a> {
    Protocol(ProtocolFilter, Protocol),
    NotRegistered,
    Source { zone: &'a str, came_from: &'a str },
    NoZone(&'a str),
    InvalidRegex(&'a Pattern, &'a str),
    NoMatch(&'a Pattern, &'a str),
    NotRegistrarDomain(&'a str),
    NoDomain(&'a str),
}

impl fmt::Display for Skip<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Protocol(only, this) => {
                write!(
                    f,
                    "only for {} requests, this is {this}",
                    protocol_name(*only)
                )
            }
            Skip::NotRegistered => {
                f.write_str("only for endpoints registered here, the caller is not")
            }
            Skip::Source { zone, came_from } => write!(
                f,
                "only for calls from zone `{zone}`, this one came from `{came_from}`"
            ),
            Skip::NoZone(z) => write!(f, "target zone `{z}` does not exist"),
            Skip::InvalidRegex(p, e) => write!(f, "{p} is not a valid regex: {e}"),
            Skip::NoMatch(p, text) => write!(f, "{p} does not match `{text}`"),
            Skip::NotRegistrarDomain(d) => write!(f, "`{d}` is not a registrar domain"),
            Skip::NoDomain(text) => write!(f, "`{text}` has no domain"),
        }
    }
}

impl SearchRule {
    pub(crate) fn compile(r: &cfg::SearchRule, zones: &[cfg::Zone]) -> SearchRule {
        let source = match r.source.as_str() {
            "any" => Source::Any,
            "registered" => Source::Registered,
            zone => Source::Zone(zone.to_string()),
        };
        SearchRule {
            name: r.name.clone(),
            priority: r.priority,
            on_match: r.on_match,
            protocol: r.protocol,
            source,
            matcher: Matcher::Pattern(Pattern::compile(r.pattern_type, &r.pattern, &r.replace)),
            behavior: r.pattern_behavior,
            replace: r.replace.clone(),
            target: r.target.clone(),
            kind: zone_kind(&r.target, zones),
        }
    }

    /// The implicit rule: an alias in one of `domains` goes to the local registrations.
    pub(crate) fn local_domains(domains: &[String]) -> SearchRule {
        SearchRule {
            name: LOCAL_DOMAIN_RULE.to_string(),
            priority: LOCAL_DOMAIN_PRIORITY,
            on_match: OnMatch::Stop,
            protocol: ProtocolFilter::Any,
            source: Source::Any,
            matcher: Matcher::RegistrarDomain(
                domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
            ),
            behavior: PatternBehavior::Leave,
            replace: String::new(),
            target: LOCAL_ZONE.to_string(),
            kind: Some(ZoneKind::Local),
        }
    }

    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// Whether this rule routes `req` (whose alias, after transforms, is `alias`/`text`).
    pub(crate) fn evaluate<'a>(
        &'a self,
        req: &RouteRequest<'a>,
        alias: &'a Alias,
        text: &'a str,
    ) -> Outcome<'a> {
        let protocol_ok = match self.protocol {
            ProtocolFilter::Any => true,
            ProtocolFilter::Sip => req.protocol == Protocol::Sip,
            ProtocolFilter::H323 => req.protocol == Protocol::H323,
        };
        if !protocol_ok {
            return Outcome::Skipped(Skip::Protocol(self.protocol, req.protocol));
        }
        match &self.source {
            Source::Any => {}
            Source::Registered if req.source_registered => {}
            Source::Registered => return Outcome::Skipped(Skip::NotRegistered),
            Source::Zone(z) if z == req.source_zone => {}
            Source::Zone(z) => {
                return Outcome::Skipped(Skip::Source {
                    zone: z,
                    came_from: req.source_zone,
                })
            }
        }
        let Some(kind) = self.kind else {
            return Outcome::Skipped(Skip::NoZone(&self.target));
        };
        let rewritten = match &self.matcher {
            Matcher::Pattern(p) => {
                if let Some(e) = p.invalid() {
                    return Outcome::Skipped(Skip::InvalidRegex(p, e));
                }
                match p.apply(text, self.behavior, &self.replace) {
                    Some(t) => Alias::parse(&t),
                    None => return Outcome::Skipped(Skip::NoMatch(p, text)),
                }
            }
            Matcher::RegistrarDomain(domains) => match &alias.domain {
                Some(d) if domains.iter().any(|l| l.eq_ignore_ascii_case(d)) => alias.clone(),
                Some(d) => return Outcome::Skipped(Skip::NotRegistrarDomain(d)),
                None => return Outcome::Skipped(Skip::NoDomain(text)),
            },
        };
        Outcome::Target {
            alias: rewritten,
            kind,
        }
    }
}

fn zone_kind(name: &str, zones: &[cfg::Zone]) -> Option<ZoneKind> {
    if name == LOCAL_ZONE {
        return Some(ZoneKind::Local);
    }
    zones
        .iter()
        .find(|z| z.name == name)
        .map(|z| ZoneKind::from(z.kind))
}

fn protocol_name(p: ProtocolFilter) -> &'static str {
    match p {
        ProtocolFilter::Any => "any",
        ProtocolFilter::Sip => "SIP",
        ProtocolFilter::H323 => "H.323",
    }
}
