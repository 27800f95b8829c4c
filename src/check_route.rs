//! `causeway check-route`: route one alias through the configured transforms and search rules
//! and print what the router decided, so an operator can check a dial plan without a call.
//!
//! Owns the command's argument checks, the reading of a dialled URI into an alias, and the
//! output format (with, under each target, what SIP/H.323 interworking would do with it). Must not make routing decisions: those are `causeway_zones::Router`'s, the
//! same code the running node uses.

use causeway_config::{Config, InterworkingMode};
use causeway_zones::{Alias, Protocol, RouteRequest, Router, Target, ZoneKind, LOCAL_ZONE};
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
    for line in route.trace.lines() {
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
        if let Some(note) = interworking_note(&cfg, protocol, t) {
            println!("   {note}");
        }
    }
    ExitCode::SUCCESS
}

/// What SIP/H.323 interworking does with target `t` of a call of `protocol`: a `LocalZone`
/// alias registered with the other protocol goes to the node's gateway after the native
/// registrations (unless `[interworking] mode` is off or the node runs no H.323); for an H.323
/// call, with mode "on", a zone that carries SIP alone too. `None`: nothing to say.
fn interworking_note(cfg: &Config, protocol: Protocol, t: &Target) -> Option<String> {
    let mode = cfg.interworking.mode;
    let other = match protocol {
        Protocol::Sip => Protocol::H323,
        Protocol::H323 => Protocol::Sip,
    };
    let key = format!("[interworking] mode = \"{mode}\"");
    if t.kind == ZoneKind::Local {
        let note = if !cfg.h323.enabled {
            "interworking: none, [h323] is not enabled".to_string()
        } else if mode.enabled() {
            format!("interworked if registered by {other} (after {protocol} registrations; {key})")
        } else {
            format!("interworking is off ({key}): registrations by {other} are not reached")
        };
        return Some(note);
    }
    let sip_only = match t.kind {
        ZoneKind::Dns => true,
        ZoneKind::TraversalClient | ZoneKind::TraversalServer => cfg
            .zones
            .iter()
            .find(|z| z.name == t.zone)
            .is_some_and(|z| !z.carries_h323(cfg.h323.enabled)),
        _ => false,
    };
    if protocol != Protocol::H323 || !sip_only {
        return None;
    }
    Some(if mode == InterworkingMode::On {
        format!("zone carries SIP only: interworked ({key})")
    } else {
        format!("zone carries SIP only: not reached from H.323 ({key})")
    })
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
