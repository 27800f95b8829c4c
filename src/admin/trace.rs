//! `causeway trace` and `causeway searches`: a kept call's message ladder as a text sequence
//! diagram, and the search history as `check-route` prints a decision, from the node's admin
//! listener (`GET /calls`, `/calls/<id>`, `/searches`). Only choosing, fetching (through
//! `print::fetch_path`) and drawing live here.
//!
//! The diagram has a column per peer and one for the node: the peer of the first message on
//! the left (the caller, usually), the others on the right in the order they appear, one row
//! per message with its arrow, time since the first message and summary.

use super::print::{fetch_path, FetchError, Target};
use serde_json::Value;
use std::fmt::Write;

/// Width of one column of the diagram.
const COL: usize = 24;
/// Peers drawn as columns; more are folded into the last (a call rarely has more than four).
const MAX_PEERS: usize = 6;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{0}")]
    Fetch(#[from] FetchError),
    #[error("unreadable answer: {0}")]
    Json(#[from] serde_json::Error),
    #[error("no kept call is `{0}` or has it in From/To (GET /calls lists the kept calls)")]
    NoCall(String),
    #[error("this node keeps no call history ([admin] call_history = 0)")]
    NoHistory,
}

/// The ladder of the call `which` (its id, or an alias in its From or To: the newest such
/// call) as a diagram, or as the raw JSON; with `text`, every message in full under its row.
pub fn trace(t: &Target, which: &str, json: bool, text: bool) -> Result<String, TraceError> {
    let list: Value = match fetch_path(t, "/calls") {
        Ok(b) => serde_json::from_str(&b)?,
        Err(FetchError::Status(404, _)) => return Err(TraceError::NoHistory),
        Err(e) => return Err(e.into()),
    };
    let calls = list["calls"].as_array().cloned().unwrap_or_default();
    let needle = which.to_ascii_lowercase();
    let id = calls
        .iter()
        .find(|c| c["id"] == which)
        .or_else(|| {
            calls.iter().find(|c| {
                ["from", "to"].iter().any(|k| {
                    c[*k]
                        .as_str()
                        .is_some_and(|v| v.to_ascii_lowercase().contains(&needle))
                })
            })
        })
        .and_then(|c| c["id"].as_str())
        .ok_or_else(|| TraceError::NoCall(which.to_string()))?;
    let path = format!(
        "/calls/{}",
        percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
    );
    let body = fetch_path(t, &path)?;
    if json {
        return Ok(format!("{body}\n"));
    }
    Ok(ladder(&serde_json::from_str(&body)?, text))
}

/// The diagram of one call (`GET /calls/<id>`'s JSON).
pub fn ladder(call: &Value, text: bool) -> String {
    let msgs = call["ladder"].as_array().cloned().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "call {}  {}  {} -> {}  {}{}  {} messages",
        s(&call["id"]),
        s(&call["protocol"]).to_uppercase(),
        s(&call["from"]),
        s(&call["to"]),
        s(&call["state"]),
        call["outcome"]
            .as_str()
            .map(|o| format!(" ({o})"))
            .unwrap_or_default(),
        msgs.len()
    );
    let mut peers: Vec<String> = Vec::new();
    for m in &msgs {
        let p = s(&m["remote"]);
        if !peers.contains(&p) && peers.len() < MAX_PEERS {
            peers.push(p);
        }
    }
    // columns: the first peer, the node, the other peers
    let mut cols: Vec<String> = peers.iter().take(1).cloned().collect();
    cols.push("causeway".into());
    cols.extend(peers.iter().skip(1).cloned());
    let node = cols.len().min(2) - 1;
    out.push_str(&" ".repeat(10));
    for c in &cols {
        let _ = write!(out, "{:^COL$}", clip(c));
    }
    out.push('\n');
    let t0 = msgs.first().and_then(|m| m["t"].as_f64()).unwrap_or(0.0);
    for m in &msgs {
        let remote = s(&m["remote"]);
        let peer = cols
            .iter()
            .position(|c| *c == remote)
            .unwrap_or(cols.len() - 1);
        let peer = if peer == node { cols.len() - 1 } else { peer };
        let inbound = m["dir"] == "in";
        let row = arrow(cols.len(), peer, node, inbound);
        let dt = m["t"].as_f64().unwrap_or(t0) - t0;
        let _ = writeln!(
            out,
            "{:>+9.3} {row}  {} {}",
            dt,
            s(&m["summary"]),
            s(&m["transport"])
        );
        if text {
            for line in s(&m["text"]).lines() {
                let _ = writeln!(out, "{:10}| {line}", "");
            }
        }
    }
    if call["cut"].as_u64().is_some_and(|n| n > 0) {
        let _ = writeln!(
            out,
            "({} more messages not kept: the call passed its share of the history)",
            call["cut"]
        );
    }
    out
}

/// One row: a lifeline per column, an arrow between the peer's and the node's, pointing to
/// the receiver.
fn arrow(ncols: usize, peer: usize, node: usize, inbound: bool) -> String {
    let mut row: Vec<char> = vec![' '; ncols * COL];
    for c in 0..ncols {
        row[c * COL + COL / 2] = '|';
    }
    let (a, b) = (peer.min(node), peer.max(node));
    let (start, end) = (a * COL + COL / 2 + 1, b * COL + COL / 2 - 1);
    for ch in row.iter_mut().take(end + 1).skip(start) {
        *ch = '-';
    }
    // the arrow points at the node when inbound, at the peer when outbound
    let to_right = (peer < node) == inbound;
    if to_right {
        row[end] = '>';
    } else {
        row[start] = '<';
    }
    row.into_iter().collect::<String>().trim_end().to_string()
}

/// The search history (`GET /searches`), newest first, as `check-route` prints a decision.
pub fn searches(t: &Target, json: bool) -> Result<String, TraceError> {
    let body = match fetch_path(t, "/searches") {
        Ok(b) => b,
        Err(FetchError::Status(404, _)) => return Err(TraceError::NoHistory),
        Err(e) => return Err(e.into()),
    };
    if json {
        return Ok(format!("{body}\n"));
    }
    let v: Value = serde_json::from_str(&body)?;
    let mut out = String::new();
    for x in v["searches"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "{}  {} from {} ({}): {}",
            x["t"].as_f64().map(clock).unwrap_or_default(),
            s(&x["alias"]),
            s(&x["source_zone"]),
            s(&x["protocol"]),
            s(&x["outcome"])
        );
        for line in x["trace"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "    {}", s(line));
        }
        for (n, target) in x["targets"].as_array().into_iter().flatten().enumerate() {
            let _ = writeln!(out, "    {}. {}", n + 1, s(target));
        }
    }
    if out.is_empty() {
        out.push_str("no searches yet\n");
    }
    Ok(out)
}

/// UTC time of day of Unix seconds.
fn clock(t: f64) -> String {
    let secs = t as u64 % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        ((t.fract()) * 1000.0) as u64
    )
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A column label that fits its column.
fn clip(c: &str) -> String {
    if c.chars().count() < COL - 1 {
        c.to_string()
    } else {
        c.chars()
            .rev()
            .take(COL - 2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    }
}

#[cfg(test)]
mod tests;
