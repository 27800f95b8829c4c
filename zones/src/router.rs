//! The router: alias in, ordered targets out, by the configured transforms and search rules.
//!
//! Evaluation order for one request:
//!
//! 1. Transforms, by priority (ties in file order). Every transform whose pattern matches
//!    rewrites the alias, and the next one sees the rewritten alias.
//! 2. Search rules, by priority 1..65534 (ties in file order). Rules of equal priority form a
//!    group that is evaluated together: each rule whose protocol, source and pattern match adds a
//!    target, in file order (the caller tries them in that order). After a group in which a rule
//!    with `on_match = "stop"` matched, no later group runs; `continue` rules let later groups
//!    add further targets. A (zone, alias) pair already found is not added twice.
//! 3. The implicit rule (unless `[routing] local_domain_rule = false`): at priority 50, an alias
//!    whose domain is a registrar domain goes to `LocalZone`, with `on_match = "stop"`. It is the
//!    first rule of the priority-50 group. Explicit rules below 50 therefore run before it (and
//!    may stop the search before it), and an explicit rule may target `LocalZone` too.
//!
//! A chain in the GnuGk manner: each rule a small value that answers "I route this" or "next",
//! the router a loop over them. Must not touch protocol state or do I/O: the caller resolves a
//! `LocalZone` target against its own registrar and reaches the other zones itself.

use crate::alias::Alias;
use crate::route::{Route, RouteRequest, Target};
use crate::rule::{Outcome, SearchRule, Transform};
use causeway_config::zones::{OnMatch, Zone};
use causeway_config::Config;
use std::borrow::Cow;
use std::sync::Arc;

/// What keeps the decisions a router makes (the node's search history). Called on the
/// routing caller's task: it must not block.
pub trait SearchRecorder: Send + Sync {
    fn record(&self, request: &RouteRequest<'_>, route: &Route);
}

/// A recorder shared by the clones of a router.
#[derive(Clone)]
struct Recorder(Arc<dyn SearchRecorder>);

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorder")
    }
}

#[derive(Clone, Debug)]
pub struct Router {
    local_domains: Vec<String>,
    /// Sorted by priority, ties in file order.
    transforms: Vec<Transform>,
    /// Sorted by priority, ties in file order, the implicit rule included.
    rules: Vec<SearchRule>,
    zones: Vec<Zone>,
    hop_limit: u32,
    recorder: Option<Recorder>,
}

impl Router {
    /// A router with no zones and no rules: only the implicit rule for `local_domains`.
    pub fn new(local_domains: &[String]) -> Router {
        Router {
            local_domains: local_domains.to_vec(),
            transforms: Vec::new(),
            rules: vec![SearchRule::local_domains(local_domains)],
            zones: Vec::new(),
            hop_limit: causeway_config::defaults::HOP_LIMIT,
            recorder: None,
        }
    }

    /// The router of a configuration, its patterns compiled once here.
    pub fn from_config(cfg: &Config) -> Router {
        let local_domains = cfg.registrar_domains();
        let mut transforms: Vec<Transform> =
            cfg.transforms.iter().map(Transform::compile).collect();
        // stable sorts: equal priorities keep file order
        transforms.sort_by_key(|t| t.priority);
        let mut rules = Vec::with_capacity(cfg.search_rules.len() + 1);
        if cfg.routing.local_domain_rule {
            // pushed first so that the stable sort puts it first in the priority-50 group
            rules.push(SearchRule::local_domains(&local_domains));
        }
        rules.extend(
            cfg.search_rules
                .iter()
                .map(|r| SearchRule::compile(r, &cfg.zones)),
        );
        rules.sort_by_key(|r| r.priority);
        Router {
            local_domains,
            transforms,
            rules,
            zones: cfg.zones.clone(),
            hop_limit: cfg.routing.hop_limit,
            recorder: None,
        }
    }

    /// The same router, showing every decision to `recorder` as well.
    pub fn with_recorder(mut self, recorder: Arc<dyn SearchRecorder>) -> Router {
        self.recorder = Some(Recorder(recorder));
        self
    }

    pub fn is_local_domain(&self, domain: &str) -> bool {
        self.local_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// Hops a request may take through zones (`[routing] hop_limit`).
    pub fn hop_limit(&self) -> u32 {
        self.hop_limit
    }

    /// The configured zones, in file order.
    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    /// A configured zone by name (`LocalZone` is implicit and has no entry).
    pub fn zone(&self, name: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.name == name)
    }

    pub fn route(&self, req: &RouteRequest) -> Route {
        let mut route = Route::default();
        // borrowed until a transform rewrites it: most requests pass no transform
        let mut alias = Cow::Borrowed(req.alias);
        let mut text = alias.to_string();
        for t in &self.transforms {
            match t.apply(&text) {
                Some(new) => {
                    // re-parsed so that the next step sees the canonical text (domain in
                    // lower case) that a target will carry
                    alias = Cow::Owned(Alias::parse(&new));
                    let new = alias.to_string();
                    route.trace.push(format_args!("{t}: `{text}` -> `{new}`"));
                    text = new;
                }
                None => route
                    .trace
                    .push(format_args!("{t}: does not match `{text}`")),
            }
        }

        let mut groups = self.rules.chunk_by(|a, b| a.priority == b.priority);
        while let Some(group) = groups.next() {
            let mut stopped_by = None;
            for rule in group {
                let head = Head(rule);
                match rule.evaluate(req, &alias, &text) {
                    Outcome::Skipped(why) => {
                        route.trace.push(format_args!("{head}: skipped, {why}"))
                    }
                    Outcome::Target { alias: to, kind } => {
                        let seen = route
                            .targets
                            .iter()
                            .any(|t| t.zone == rule.target() && t.alias == to);
                        if seen {
                            route.trace.push(format_args!(
                                "{head}: matches, but zone `{}` alias `{to}` is already a target",
                                rule.target()
                            ));
                        } else {
                            route.trace.push(format_args!(
                                "{head}: matches `{text}` -> zone `{}` alias `{to}`",
                                rule.target()
                            ));
                            route.targets.push(Target {
                                zone: rule.target().to_string(),
                                kind,
                                alias: to,
                                rule: rule.name.clone(),
                                priority: rule.priority,
                            });
                        }
                        if rule.on_match == OnMatch::Stop && stopped_by.is_none() {
                            stopped_by = Some(rule);
                        }
                    }
                }
            }
            if let Some(rule) = stopped_by {
                let later: usize = groups.map(<[_]>::len).sum();
                if later > 0 {
                    route.trace.push(format_args!(
                        "stop: rule \"{}\" matched with on_match stop; {later} rule(s) of later priority not tried",
                        rule.name
                    ));
                }
                break;
            }
        }
        if route.targets.is_empty() {
            route
                .trace
                .push(format_args!("no search rule matches `{text}`"));
        }
        if let Some(Recorder(r)) = &self.recorder {
            r.record(req, &route);
        }
        route
    }
}

/// A rule as the trace names it.
struct Head<'a>(&'a SearchRule);

impl std::fmt::Display for Head<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rule \"{}\" (priority {})", self.0.name, self.0.priority)
    }
}

#[cfg(test)]
mod tests;
