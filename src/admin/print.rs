//! `causeway status`: fetch the node's status JSON from its admin listener (HTTP, or HTTPS
//! with `--tls`, with HTTP Basic credentials when given) and print it for an operator. Only
//! fetching and formatting live here.
//!
//! `render` writes one section per function, in this order: alarms, zones, traversal links,
//! registrations, then H.323 registrations and calls when the node runs a gatekeeper. The
//! status JSON's `media` object is not printed.
//!
//! Over TLS the listener's certificate is not verified: it is often the node's self-signed
//! one, and the command is an operator's probe of a node they run (README says so).

use base64::Engine;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

/// Where the admin listener is and how to talk to it.
pub struct Target {
    pub addr: SocketAddr,
    pub tls: bool,
    /// HTTP Basic name and password.
    pub user: Option<(String, String)>,
}

/// Why the status could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Tls(#[from] causeway_sip::transport::TlsError),
    #[error(
        "HTTP 401: wrong or missing credentials (--user, password in CAUSEWAY_ADMIN_PASSWORD)"
    )]
    Unauthorized,
    #[error("HTTP {0} {1}")]
    Status(u16, String),
    /// `POST /reload` refused: the node's own words (the file's error with its position).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Transport(String),
    #[error("unreadable answer: {0}")]
    Body(#[from] std::io::Error),
}

/// The status JSON.
pub fn fetch(t: &Target) -> Result<String, FetchError> {
    fetch_path(t, "/status")
}

/// The body of a GET of `path` on the admin listener.
pub fn fetch_path(t: &Target, path: &str) -> Result<String, FetchError> {
    call(t, "GET", path, "")
}

/// `causeway reload`: asks the node to re-read its configuration file; what it applied.
pub fn reload(t: &Target) -> Result<String, FetchError> {
    post(t, "/reload", "")
}

/// `causeway config apply`: hands a cluster peer a shared document; what was committed.
pub fn apply(t: &Target, document: &str) -> Result<String, FetchError> {
    post(t, "/config", document)
}

fn post(t: &Target, path: &str, body: &str) -> Result<String, FetchError> {
    match call(t, "POST", path, body) {
        Err(FetchError::Status(code, body)) if code == 409 || code == 422 => {
            Err(FetchError::Refused(body.trim_end().to_string()))
        }
        other => other,
    }
}

fn call(t: &Target, method: &str, path: &str, body: &str) -> Result<String, FetchError> {
    let mut agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(3))
        // a committed document waits for a majority of peers (up to 10 s)
        .timeout(Duration::from_secs(15));
    if t.tls {
        agent = agent.tls_config(causeway_sip::transport::client_config(None, false, None)?);
    }
    let scheme = if t.tls { "https" } else { "http" };
    let mut req = agent
        .build()
        .request(method, &format!("{scheme}://{}{path}", t.addr));
    if let Some((name, password)) = &t.user {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"));
        req = req.set("Authorization", &format!("Basic {token}"));
    }
    let sent = if method == "POST" {
        req.send_bytes(body.as_bytes())
    } else {
        req.call()
    };
    match sent {
        Ok(r) => r.into_string().map_err(FetchError::Body),
        Err(ureq::Error::Status(401, _)) => Err(FetchError::Unauthorized),
        // a refused reload says why in its body
        Err(ureq::Error::Status(code @ (409 | 422), r)) => Err(FetchError::Status(
            code,
            r.into_string().unwrap_or_default(),
        )),
        Err(ureq::Error::Status(code, r)) => {
            Err(FetchError::Status(code, r.status_text().to_string()))
        }
        Err(e) => Err(FetchError::Transport(e.to_string())),
    }
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
    alarms(&mut out, &v, now);
    zones(&mut out, &v);
    links(&mut out, &v, now);
    registrations(&mut out, &v);
    // absent when the node runs no gatekeeper
    let h = &v["h323"];
    if h.is_object() {
        h323_zones(&mut out, h, now);
        h323_registrations(&mut out, h);
        h323_calls(&mut out, h);
    }
    let iw = &v["interworking"];
    if iw.is_object() {
        interworked_calls(&mut out, iw);
    }
    protection(&mut out, &v["protection"]);
    cluster(&mut out, &v["cluster"]);
    directory(&mut out, &v["directory"]);
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

/// The alarms first: what needs the operator. Nothing printed when there are none.
fn alarms(out: &mut String, v: &Value, now: u64) {
    let alarms = v["alarms"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if alarms.is_empty() {
        return;
    }
    out.push_str("\nAlarms\n");
    for a in alarms {
        out.push_str(&format!(
            "  {:<8} {} (since {})\n",
            text(&a["severity"]).to_uppercase(),
            text(&a["text"]),
            ago(now, a["since"].as_u64().unwrap_or(0))
        ));
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

/// The traversal zones' H.323 flows, when the node has any.
fn h323_zones(out: &mut String, h: &Value, now: u64) {
    if h["zones"].as_array().is_none_or(|z| z.is_empty()) {
        return;
    }
    list(out, "H.323 traversal zones", &h["zones"], |z| {
        let since = now.saturating_sub(z["since"].as_u64().unwrap_or(now));
        let keepalive = z["last_keepalive"]
            .as_u64()
            .map(|s| format!(", keep-alive {s}s ago"))
            .unwrap_or_default();
        let error = z["last_error"]
            .as_str()
            .map(|e| format!(", last error: {e}"))
            .unwrap_or_default();
        format!(
            "  {:<20} {:<6} {:<4} for {}s, peer {}{keepalive}, refused {}{error}\n",
            text(&z["zone"]),
            text(&z["role"]),
            text(&z["state"]),
            since,
            z["peer"].as_str().unwrap_or("-"),
            z["refused"].as_u64().unwrap_or(0),
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

/// Interworked calls with both legs, then the gateway's counters.
fn interworked_calls(out: &mut String, iw: &Value) {
    list(
        out,
        "Interworked calls (SIP <-> H.323)",
        &iw["calls"],
        |c| {
            format!(
                "  from {:<4} {:<20} -> {:<24} {:<9} {:>5}s  SIP {}  H.323 {}\n",
                text(&c["origin"]),
                text(&c["caller"]),
                text(&c["callee"]),
                text(&c["state"]),
                c["seconds"].as_u64().unwrap_or(0),
                text(&c["sip_call_id"]),
                text(&c["h323_call_id"])
            )
        },
    );
    let n = |k: &str| iw[k].as_u64().unwrap_or(0);
    out.push_str(&format!(
        "  from SIP {}, from H.323 {}, answered {}, failed {}, refused (limit) {}, malformed {}\n",
        n("calls_from_sip"),
        n("calls_from_h323"),
        n("answered"),
        n("failed"),
        n("refused"),
        n("malformed")
    ));
}

/// The sources blocked now, then the guard's counters; nothing when protection is off.
fn protection(out: &mut String, p: &Value) {
    if p["enabled"].as_bool() != Some(true) {
        return;
    }
    list(out, "Blocked sources", &p["blocked"], |b| {
        format!(
            "  {:<40} {:<14} {:>5}s left  {} dropped\n",
            text(&b["source"]),
            text(&b["reason"]),
            b["remaining_s"].as_u64().unwrap_or(0),
            b["dropped"].as_u64().unwrap_or(0)
        )
    });
    let n = |k: &str| p[k].as_u64().unwrap_or(0);
    let blocks: Vec<String> = p["blocks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k} {}", v.as_u64().unwrap_or(0)))
        .collect();
    out.push_str(&format!(
        "  blocks since start: {}; dropped messages {}, refused connections {}, slow messages {}, garbage {}, failed authentications {}\n",
        blocks.join(", "),
        n("dropped_messages"),
        n("refused_connections"),
        n("slow_messages"),
        n("garbage"),
        n("auth_failures")
    ));
}

/// A number field as printed: `-` when absent.
fn number(v: &Value) -> String {
    v.as_u64().map_or("-".to_string(), |n| n.to_string())
}

/// This peer's view of its cluster, when it is a peer of one.
fn cluster(out: &mut String, c: &Value) {
    if !c.is_object() {
        return;
    }
    let id = number;
    out.push_str(&format!(
        "\nCluster {}: this peer {} ({}), leader {}, term {}, applied index {}, document {} at index {}\n",
        text(&c["name"]),
        id(&c["node_id"]),
        text(&c["role"]),
        id(&c["leader"]),
        id(&c["term"]),
        id(&c["applied_index"]),
        c["document_hash"].as_str().and_then(|h| h.get(..16)).unwrap_or("-"),
        id(&c["document_index"]),
    ));
    let seconds = |d: &Value| {
        d["secs"].as_u64().map_or("-".to_string(), |s| {
            let ms = d["nanos"].as_u64().unwrap_or(0) / 1_000_000;
            format!("{}.{:03}s ago", s, ms)
        })
    };
    list(out, "Cluster peers", &c["peers"], |p| {
        format!(
            "  {:<3} {:<22} {:<5} matched {:<6} last contact {}\n",
            id(&p["node_id"]),
            text(&p["addr"]),
            if p["is_self"].as_bool() == Some(true) {
                "self"
            } else {
                ""
            },
            id(&p["matched_index"]),
            seconds(&p["last_contact"])
        )
    });
    out.push_str(&format!(
        "  refused connections {}\n",
        c["refused_connections"].as_u64().unwrap_or(0)
    ));
}

/// Who is registered on the other peers, their load, and the cluster totals.
fn directory(out: &mut String, d: &Value) {
    if !d.is_object() {
        return;
    }
    let n = number;
    out.push_str(&format!(
        "\nCluster totals: {} registrations, {} calls, {} free media sessions, {} kbit/s\n",
        n(&d["total_registrations"]),
        n(&d["total_calls"]),
        n(&d["total_free_media"]),
        n(&d["total_kbps"]),
    ));
    list(out, "Other peers (published)", &d["peers"], |p| {
        let sip: Vec<String> = p["sip"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        format!(
            "  {:<3} {} registrations, {} calls, {} free media, {} kbit/s, SIP {}\n",
            n(&p["node_id"]),
            n(&p["registrations"]),
            n(&p["calls"]),
            n(&p["free_media"]),
            n(&p["kbps"]),
            sip.join(", ")
        )
    });
    list(out, "Registered on other peers", &d["registrations"], |r| {
        format!(
            "  {:<40} {:<6} on peer {}\n",
            text(&r["alias"]),
            text(&r["protocol"]),
            n(&r["node_id"])
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarms_come_first_most_severe_first_with_their_age() {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let body = format!(
            r#"{{"system":"c1","role":"control","version":"0.1.0","zones":[],"links":[],
            "registrations":[],"alarms":[{{"severity":"critical","text":"traversal link x is down",
            "since":{}}}]}}"#,
            now - 5
        );
        let out = render(&body).unwrap_or_default();
        // a second may pass between the two clocks
        let expect = |age: u64| {
            format!(
                "c1 (role control, causeway 0.1.0)\n\nAlarms\n  CRITICAL traversal link x is down \
                 (since {age}s ago)\n\nZones\n"
            )
        };
        assert!(
            out.starts_with(&expect(5)) || out.starts_with(&expect(6)),
            "{out}"
        );
        let quiet = render(&body.replace("\"alarms\":[", "\"none\":[")).unwrap_or_default();
        assert!(!quiet.contains("Alarms"), "{quiet}");
    }
}
