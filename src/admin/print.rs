//! `causeway status`: fetch the node's status JSON from its admin listener (plain HTTP on
//! loopback) and print it for an operator. Only fetching and formatting live here.

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
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let mut out = format!(
        "{} (role {}, causeway {})\n\nZones\n",
        s(&v["system"]),
        s(&v["role"]),
        s(&v["version"])
    );
    for z in v["zones"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {:<20} {:<17} {}\n",
            s(&z["name"]),
            s(&z["type"]),
            s(&z["detail"])
        ));
    }
    out.push_str("\nTraversal links\n");
    let links = v["links"].as_array().cloned().unwrap_or_default();
    if links.is_empty() {
        out.push_str("  (none)\n");
    }
    for l in &links {
        out.push_str(&format!(
            "  {:<20} {:<5} since {:<10} peer {:<22} {:<4} last keep-alive {}{}\n",
            s(&l["zone"]),
            s(&l["state"]),
            ago(now, l["since"].as_u64().unwrap_or(0)),
            s(&l["peer"]),
            s(&l["transport"]),
            ago(now, l["last_keepalive"].as_u64().unwrap_or(0)),
            match l["last_error"].as_str() {
                Some(e) => format!("  (last error: {e})"),
                None => String::new(),
            }
        ));
    }
    out.push_str("\nRegistrations\n");
    let regs = v["registrations"].as_array().cloned().unwrap_or_default();
    if regs.is_empty() {
        out.push_str("  (none)\n");
    }
    for r in &regs {
        out.push_str(&format!(
            "  {:<32} {:<40} expires in {}s\n",
            s(&r["aor"]),
            s(&r["contact"]),
            r["expires_in"].as_u64().unwrap_or(0)
        ));
    }
    let h = &v["h323"];
    if h.is_object() {
        out.push_str("\nH.323 registrations\n");
        let regs = h["registrations"].as_array().cloned().unwrap_or_default();
        if regs.is_empty() {
            out.push_str("  (none)\n");
        }
        for r in &regs {
            let aliases: Vec<String> = r["aliases"]
                .as_array()
                .into_iter()
                .flatten()
                .map(s)
                .collect();
            out.push_str(&format!(
                "  {:<20} {:<40} ras {:<22} expires in {}s{}\n",
                s(&r["endpoint_id"]),
                aliases.join(", "),
                s(&r["ras"]),
                r["expires_in"].as_u64().unwrap_or(0),
                if r["probing"] == true {
                    " (probing)"
                } else {
                    ""
                }
            ));
        }
        out.push_str("\nH.323 calls\n");
        let calls = h["calls"].as_array().cloned().unwrap_or_default();
        if calls.is_empty() {
            out.push_str("  (none)\n");
        }
        for c in &calls {
            out.push_str(&format!(
                "  #{:<6} {:<22} -> {:<20} {:<22} {:<11} H.245 {}\n",
                c["id"].as_u64().unwrap_or(0),
                s(&c["caller"]),
                s(&c["called"]),
                s(&c["callee"]),
                s(&c["state"]),
                s(&c["h245"])
            ));
        }
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
    Ok(out)
}
