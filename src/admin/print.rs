//! `causeway status`: fetch the node's status JSON from its admin listener (plain HTTP on
//! loopback) and print it for an operator. Only fetching and formatting live here.
//!
//! `render` writes one section per function, in this order: zones, traversal links,
//! registrations, then H.323 registrations and calls when the node runs a gatekeeper. The
//! status JSON's `media` object is not printed.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime};

pub fn fetch(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /status HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    if !resp.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(
            resp.lines().next().unwrap_or("no answer").to_string(),
        ));
    }
    Ok(body)
}

fn ago(now: u64, t: u64) -> String {
    if t == 0 {
        return "-".into();
    }
    format!("{}s ago", now.saturating_sub(t))
}

pub fn render(body: &str) -> Result<String, serde_json::Error> {
    let v: Value = serde_json::from_str(body)?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut out = format!(
        "{} (role {}, causeway {})\n",
        text(&v["system"]),
        text(&v["role"]),
        text(&v["version"])
    );
    zones(&mut out, &v);
    links(&mut out, &v, now);
    registrations(&mut out, &v);
    // absent when the node runs no gatekeeper
    let h = &v["h323"];
    if h.is_object() {
        h323_registrations(&mut out, h);
        h323_calls(&mut out, h);
    }
    Ok(out)
}

/// A string field as printed: empty when absent or not a string.
fn text(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

/// A titled section: a blank line, the title, then one line per row of `rows` (an array), or
/// `(none)` when there is none.
fn list(out: &mut String, title: &str, rows: &Value, line: impl Fn(&Value) -> String) {
    out.push('\n');
    out.push_str(title);
    out.push('\n');
    let rows = rows.as_array().map(Vec::as_slice).unwrap_or_default();
    if rows.is_empty() {
        out.push_str("  (none)\n");
    }
    for r in rows {
        out.push_str(&line(r));
    }
}

/// Every configured zone; a node always has at least its local zone, so no `(none)`.
fn zones(out: &mut String, v: &Value) {
    out.push_str("\nZones\n");
    for z in v["zones"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {:<20} {:<17} {}\n",
            text(&z["name"]),
            text(&z["type"]),
            text(&z["detail"])
        ));
    }
}

fn links(out: &mut String, v: &Value, now: u64) {
    list(out, "Traversal links", &v["links"], |l| {
        format!(
            "  {:<20} {:<5} since {:<10} peer {:<22} {:<4} last keep-alive {}{}\n",
            text(&l["zone"]),
            text(&l["state"]),
            ago(now, l["since"].as_u64().unwrap_or(0)),
            text(&l["peer"]),
            text(&l["transport"]),
            ago(now, l["last_keepalive"].as_u64().unwrap_or(0)),
            match l["last_error"].as_str() {
                Some(e) => format!("  (last error: {e})"),
                None => String::new(),
            }
        )
    });
}

fn registrations(out: &mut String, v: &Value) {
    list(out, "Registrations", &v["registrations"], |r| {
        let flow = r["flow"]
            .as_str()
            .map_or(String::new(), |f| format!(" via {f}"));
        format!(
            "  {:<32} {:<40} expires in {}s{flow}\n",
            text(&r["aor"]),
            text(&r["contact"]),
            r["expires_in"].as_u64().unwrap_or(0)
        )
    });
}

fn h323_registrations(out: &mut String, h: &Value) {
    list(out, "H.323 registrations", &h["registrations"], |r| {
        let aliases: Vec<String> = r["aliases"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        format!(
            "  {:<20} {:<40} ras {:<22} expires in {}s{}\n",
            text(&r["endpoint_id"]),
            aliases.join(", "),
            text(&r["ras"]),
            r["expires_in"].as_u64().unwrap_or(0),
            if r["probing"] == true {
                " (probing)"
            } else {
                ""
            }
        )
    });
}

/// The calls, then one line of gatekeeper counters.
fn h323_calls(out: &mut String, h: &Value) {
    list(out, "H.323 calls", &h["calls"], |c| {
        format!(
            "  #{:<6} {:<22} -> {:<20} {:<22} {:<11} H.245 {}\n",
            c["id"].as_u64().unwrap_or(0),
            text(&c["caller"]),
            text(&c["called"]),
            text(&c["callee"]),
            text(&c["state"]),
            text(&c["h245"])
        )
    });
    let received: Vec<String> = h["ras_received"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    out.push_str(&format!(
        "  calls since start {}, admitted now {}; RAS received: {}; rejected {}, malformed RAS {}, malformed signaling {}\n",
        h["calls_total"].as_u64().unwrap_or(0),
        h["admitted_calls"].as_u64().unwrap_or(0),
        if received.is_empty() { "none".to_string() } else { received.join(", ") },
        h["ras_rejected"].as_u64().unwrap_or(0),
        h["ras_malformed"].as_u64().unwrap_or(0),
        h["signaling_malformed"].as_u64().unwrap_or(0),
    ));
}
