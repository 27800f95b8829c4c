//! `causeway check-route`: route one alias through the configured transforms and search rules
//! and print what the router decided, so an operator can check a dial plan without a call.
//!
//! Owns the command's argument checks, the reading of a dialled URI into an alias, and the
//! output format. Must not make routing decisions: those are `causeway_zones::Router`'s, the
//! same code the running node uses.

use causeway_config::Config;
use causeway_zones::{Alias, Protocol, RouteRequest, Router, LOCAL_ZONE};
use std::path::Path;
use std::process::ExitCode;

/// Exit status when the router finds no target (1 is a bad configuration or argument).
const NO_ROUTE: u8 = 2;

pub fn run(file: &Path, alias: &str, from: &str, protocol: Protocol, registered: bool) -> ExitCode {
    let cfg = match Config::load(file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if from != LOCAL_ZONE && !cfg.zones.iter().any(|z| z.name == from) {
        let zones: String = cfg.zones.iter().map(|z| format!(", {}", z.name)).collect();
        eprintln!(
            "error: --from `{from}` is neither {LOCAL_ZONE} nor a configured zone (zones: {LOCAL_ZONE}{zones})"
        );
        return ExitCode::FAILURE;
    }
    let router = Router::from_config(&cfg);
    let alias = alias_of(alias);
    let route = router.route(&RouteRequest {
        alias: &alias,
        protocol,
        source_zone: from,
        source_registered: registered,
    });
    for line in &route.trace {
        println!("{line}");
    }
    if route.targets.is_empty() {
        println!("no route");
        return ExitCode::from(NO_ROUTE);
    }
    for (n, t) in route.targets.iter().enumerate() {
        println!(
            "{}. zone `{}` ({}) alias {}  [rule \"{}\"]",
            n + 1,
            t.zone,
            t.kind,
            t.alias,
            t.rule
        );
    }
    ExitCode::SUCCESS
}

/// The alias of what an operator typed: `bob@example.com` as it is, or a URI such as
/// `<sip:bob@example.com:5061;transport=tls>` reduced to what the SIP core routes on (no
/// scheme, no parameters or headers, no port: the core builds its alias from user and host).
fn alias_of(text: &str) -> Alias {
    let text = text.trim();
    let text = text
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(text);
    let (scheme, rest) = match text.split_once(':') {
        Some((s, rest))
            if ["sip", "sips", "tel", "h323"]
                .iter()
                .any(|k| s.eq_ignore_ascii_case(k)) =>
        {
            (Some(s.to_ascii_lowercase()), rest)
        }
        _ => (None, text),
    };
    let rest = rest.split([';', '?']).next().unwrap_or(rest);
    if !matches!(scheme.as_deref(), Some("sip" | "sips")) {
        return Alias::parse(rest);
    }
    let (user, host) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    // a port follows the last ':' of a name or an IPv4 address, or the `]` of an IPv6 reference
    let host = match host.rsplit_once(':') {
        Some((h, port))
            if port.bytes().all(|b| b.is_ascii_digit())
                && (!h.contains(':') || h.ends_with(']')) =>
        {
            h
        }
        _ => host,
    };
    match user {
        Some(u) => Alias::new(Some(u), Some(host)),
        None => Alias::parse(host),
    }
}

#[cfg(test)]
mod tests;
