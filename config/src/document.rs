//! The cluster-wide configuration document (`causeway config apply FILE`): the tables every
//! peer of a cluster shares, and how a peer's running configuration is made from its own file
//! and that document. The document may hold only `[registrar]`, `[[credential]]`, `[[zone]]`,
//! `[[transform]]`, `[[search_rule]]`, `[routing]` and the gatekeeper policy keys of `[h323]`;
//! on a peer, those tables of its own file are replaced by the document's, everything else
//! (listeners, certificates, `[cluster]`…) stays its own.
//!
//! Text in, text or `Config` out: no I/O, no knowledge of how the document travels.

use crate::load::{line_col, position_of, ConfigError};
use crate::Config;
use toml_edit::{DocumentMut, Item};

/// Whole top-level tables a document replaces on every peer.
pub const SHARED_TABLES: &[&str] = &[
    "registrar",
    "credential",
    "zone",
    "transform",
    "search_rule",
    "routing",
];

/// The `[h323]` keys that are cluster policy (what a reload applies live).
pub const SHARED_H323_KEYS: &[&str] = &[
    "time_to_live",
    "probe_timeout",
    "max_registrations",
    "max_calls",
    "registration_allow",
    "registration_deny",
    "locate_timeout",
];

fn error(file: &str, text: &str, field: Option<String>, message: String) -> ConfigError {
    ConfigError {
        file: file.to_string(),
        position: field.as_deref().and_then(|f| position_of(text, f)),
        field,
        message,
    }
}

/// Checks that `text` is TOML holding only shared tables and keys; positions name `file`.
pub fn check(file: &str, text: &str) -> Result<DocumentMut, ConfigError> {
    let doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| ConfigError {
            file: file.to_string(),
            position: e.span().map(|s| line_col(text, s.start)),
            field: None,
            message: e.message().trim().to_string(),
        })?;
    for (key, item) in doc.iter() {
        if key == "h323" {
            let Some(t) = item.as_table_like() else {
                return Err(error(
                    file,
                    text,
                    Some("h323".into()),
                    "must be a table".into(),
                ));
            };
            if let Some((k, _)) = t.iter().find(|(k, _)| !SHARED_H323_KEYS.contains(k)) {
                return Err(error(
                    file,
                    text,
                    Some(format!("h323.{k}")),
                    format!(
                        "`{k}` is peer-local: it stays in each peer's own file (the document \
                         may set {})",
                        SHARED_H323_KEYS.join(", ")
                    ),
                ));
            }
        } else if !SHARED_TABLES.contains(&key) {
            return Err(error(
                file,
                text,
                Some(key.to_string()),
                format!(
                    "`{key}` is peer-local: it stays in each peer's own file (a cluster \
                     document holds {}, and [h323] policy keys)",
                    SHARED_TABLES.join(", ")
                ),
            ));
        }
    }
    Ok(doc)
}

/// A peer's configuration: its own file (`local`, named `local_file`) with the shared tables
/// replaced by the document's (`shared`, named `shared_file`); validated as a whole. An
/// error in the document's part names the document and the position in it.
pub fn merge(
    (local_file, local): (&str, &str),
    (shared_file, shared): (&str, &str),
) -> Result<Config, ConfigError> {
    let document = check(shared_file, shared)?;
    let mut merged: DocumentMut = local.parse().map_err(|_| {
        // the running file parsed when the node started or reloaded; re-reading it may not
        Config::parse(local_file, local)
            .err()
            .unwrap_or_else(|| ConfigError {
                file: local_file.into(),
                position: None,
                field: None,
                message: "not TOML".into(),
            })
    })?;
    for t in SHARED_TABLES {
        merged.remove(t);
    }
    if let Some(h) = merged.get_mut("h323").and_then(Item::as_table_like_mut) {
        for k in SHARED_H323_KEYS {
            h.remove(k);
        }
    }
    for (key, item) in document.iter() {
        if key == "h323" {
            let into = merged
                .entry("h323")
                .or_insert_with(|| Item::Table(toml_edit::Table::new()));
            if let (Some(into), Some(from)) = (into.as_table_like_mut(), item.as_table_like()) {
                for (k, v) in from.iter() {
                    into.insert(k, v.clone());
                }
            }
        } else {
            merged.insert(key, item.clone());
        }
    }
    let text = merged.to_string();
    Config::parse(local_file, &text).map_err(|e| {
        let in_document = e
            .field
            .as_deref()
            .is_some_and(|f| document.contains_key(f.split(['.', '[']).next().unwrap_or(f)));
        if in_document {
            error(shared_file, shared, e.field, e.message)
        } else {
            e
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: &str = r#"[system]
name = "c1"
role = "control"
domain = "example.com"

[sip]
udp = { enabled = true, listen = "127.0.0.1:15060" }

[h323]
ras_listen = "127.0.0.1:11719"
time_to_live = 600

[[zone]]
name = "old"
type = "neighbor"
peer = "192.0.2.9"
"#;

    const SHARED: &str = r#"[registrar]
min_expires = 120

[[zone]]
name = "partner"
type = "neighbor"
peer = "192.0.2.1"

[[search_rule]]
name = "to partner"
pattern_type = "suffix"
pattern = "@partner.org"
target = "partner"

[h323]
max_calls = 7
"#;

    #[test]
    fn the_documents_tables_replace_the_peers_and_the_rest_stays() {
        let c = merge(("c1.toml", LOCAL), ("doc.toml", SHARED)).expect("valid");
        assert_eq!(c.system.name, "c1");
        assert_eq!(c.registrar.min_expires, 120);
        let zones: Vec<&str> = c.zones.iter().map(|z| z.name.as_str()).collect();
        assert_eq!(zones, ["partner"], "the peer's own zones are replaced");
        assert_eq!(c.h323.max_calls, 7);
        assert_eq!(c.h323.ras_listen.port(), 11719, "listeners stay the peer's");
        assert_eq!(
            c.h323.time_to_live, 1800,
            "a policy key the document leaves out is default"
        );
    }

    #[test]
    fn peer_local_tables_in_a_document_are_refused_with_their_position() {
        let e = check(
            "doc.toml",
            "[registrar]\nmin_expires = 120\n\n[sip]\nt1_ms = 500\n",
        )
        .expect_err("peer-local");
        assert_eq!(e.field.as_deref(), Some("sip"));
        assert_eq!(e.position.map(|p| p.0), Some(4));
        assert!(e.to_string().contains("peer-local"), "{e}");
        let e = check(
            "doc.toml",
            "[h323]\nmax_calls = 3\nras_listen = \"0.0.0.0:1719\"\n",
        )
        .expect_err("peer-local key");
        assert_eq!(e.field.as_deref(), Some("h323.ras_listen"));
        assert_eq!(e.position.map(|p| p.0), Some(3));
        let e = check("doc.toml", "[[zone]\n").expect_err("syntax");
        assert_eq!(e.position.map(|p| p.0), Some(1));
    }

    #[test]
    fn an_error_in_the_document_names_the_document() {
        let bad = SHARED.replace("target = \"partner\"", "target = \"nowhere\"");
        let e = merge(("c1.toml", LOCAL), ("doc.toml", &bad)).expect_err("unknown zone");
        assert_eq!(e.file, "doc.toml");
        assert_eq!(e.field.as_deref(), Some("search_rule[0].target"));
        assert_eq!(e.position.map(|p| p.0), Some(13), "{e}");
    }
}
