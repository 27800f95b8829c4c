//! Which part of a configuration a running node can take on (`causeway reload`, later a
//! cluster's replicated configuration) and which only a restart applies.
//!
//! Cluster-wide, applied live: `[system] domain`, `[registrar]`, `[[credential]]`, `[[zone]]`
//! (neighbor, DNS, and the SIP side of traversal-client zones), `[[transform]]`,
//! `[[search_rule]]`, `[routing]`, and the gatekeeper policy of `[h323]` (time to live, probe
//! and locate timeouts, limits, registration allow/deny). Peer-local, applied at the next
//! start: `[system]` name and role, `[sip]` (listeners, certificates, timers, limits),
//! `[admin]`, `[log]`, `[media]`, `[protection]`, `[interworking]`, `[cluster]`, the rest of `[h323]`
//! (listeners, ports, call timers), and traversal-server zones (each is a listener) and the H.323 flows
//! of traversal zones.
//!
//! Compares what the operator wrote (the parsed, validated values), nothing derived.

use crate::zones::ZoneType;
use crate::Config;

/// The peer-local settings that differ between `old` and `new`, by the name an operator finds
/// them under in the file; empty when a reload applies everything.
pub fn restart_needed(old: &Config, new: &Config) -> Vec<&'static str> {
    let same =
        |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") == format!("{b:?}");
    let mut changed = Vec::new();
    let checks: [(&'static str, bool); 9] = [
        ("[cluster]", same(&old.cluster, &new.cluster)),
        ("[system] name", old.system.name == new.system.name),
        ("[system] role", old.system.role == new.system.role),
        ("[sip]", same(&old.sip, &new.sip)),
        ("[admin]", same(&old.admin, &new.admin)),
        ("[log]", same(&old.log, &new.log)),
        ("[media]", same(&old.media, &new.media)),
        ("[protection]", same(&old.protection, &new.protection)),
        ("[interworking]", same(&old.interworking, &new.interworking)),
    ];
    changed.extend(
        checks
            .iter()
            .filter(|(_, same)| !same)
            .map(|(name, _)| *name),
    );
    if !same(&h323_local(old), &h323_local(new)) {
        changed.push("[h323] (besides the gatekeeper policy)");
    }
    if !same(&listening_zones(old), &listening_zones(new)) {
        changed.push("traversal-server zones");
    }
    if !same(&h323_flows(old), &h323_flows(new)) {
        changed.push("H.323 flows of traversal zones");
    }
    changed
}

/// `[h323]` without the gatekeeper policy a reload applies.
fn h323_local(c: &Config) -> crate::h323::H323 {
    let mut h = c.h323.clone();
    h.time_to_live = 0;
    h.probe_timeout = 0;
    h.max_registrations = 0;
    h.max_calls = 0;
    h.registration_allow.clear();
    h.registration_deny.clear();
    h.locate_timeout = 0;
    h
}

/// Traversal-server zones with their position (their ports follow it).
fn listening_zones(c: &Config) -> Vec<(usize, &crate::zones::Zone)> {
    c.zones
        .iter()
        .enumerate()
        .filter(|(_, z)| z.kind == ZoneType::TraversalServer)
        .collect()
}

/// Traversal zones that carry H.323 (their flows are built at start).
fn h323_flows(c: &Config) -> Vec<&crate::zones::Zone> {
    c.zones
        .iter()
        .filter(|z| {
            matches!(
                z.kind,
                ZoneType::TraversalClient | ZoneType::TraversalServer
            ) && z.carries_h323(c.h323.enabled)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[system]
name = "c1"
role = "control"
domain = "example.com"

[[zone]]
name = "partner"
type = "neighbor"
peer = "192.0.2.1"
"#;

    fn parse(extra: &str) -> Config {
        Config::parse("t.toml", &format!("{BASE}{extra}")).expect("valid")
    }

    #[test]
    fn the_dial_plan_credentials_and_registrar_apply_live() {
        let old = parse("");
        let new = parse(
            r#"
[registrar]
min_expires = 120
[[credential]]
username = "bob"
password = "x"
[[zone]]
name = "other"
type = "neighbor"
peer = "192.0.2.2"
[[search_rule]]
name = "to other"
pattern_type = "suffix"
pattern = "@other.org"
target = "other"
[h323]
max_registrations = 10
"#,
        );
        assert_eq!(restart_needed(&old, &new), Vec::<&str>::new());
    }

    #[test]
    fn listeners_and_peer_local_sections_are_named() {
        let old = parse("");
        let new = Config::parse(
            "t.toml",
            &format!(
                "{}\n[sip]\nudp = {{ enabled = true, listen = \"127.0.0.1:5999\" }}\n[log]\nlevel = \"debug\"\n[h323]\nras_listen = \"127.0.0.1:1819\"\n",
                BASE.replace("name = \"c1\"", "name = \"c2\"")
            ),
        )
        .expect("valid");
        assert_eq!(
            restart_needed(&old, &new),
            [
                "[system] name",
                "[sip]",
                "[log]",
                "[h323] (besides the gatekeeper policy)"
            ]
        );
    }

    /// `h323_local` and the document's `SHARED_H323_KEYS` name the same policy keys.
    #[test]
    fn the_h323_policy_keys_a_reload_applies_are_the_documents() {
        let old = parse("");
        let value = |k: &str| match k {
            "registration_allow" | "registration_deny" => "[\"^x\"]",
            _ => "7",
        };
        for k in crate::document::SHARED_H323_KEYS {
            let new = parse(&format!("[h323]\n{k} = {}\n", value(k)));
            assert_eq!(restart_needed(&old, &new), Vec::<&str>::new(), "{k}");
        }
        let new = parse("[h323]\nsetup_timeout = 7\n");
        assert_eq!(
            restart_needed(&old, &new),
            ["[h323] (besides the gatekeeper policy)"]
        );
    }

    #[test]
    fn a_new_traversal_server_zone_needs_a_restart() {
        let edge = |extra: &str| {
            Config::parse(
                "t.toml",
                &format!(
                    "[system]\nrole = \"edge\"\ndomain = \"e.example\"\n[[credential]]\nusername = \"c\"\npassword = \"p\"\n{extra}"
                ),
            )
            .expect("valid")
        };
        let old = edge("");
        let new =
            edge("[[zone]]\nname = \"from-c\"\ntype = \"traversal-server\"\nusername = \"c\"\n");
        assert!(restart_needed(&old, &new).contains(&"traversal-server zones"));
    }
}
