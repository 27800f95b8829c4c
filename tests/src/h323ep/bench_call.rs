//! `h323-endpoint bench --kind call`: load for the call-setup benchmark (`bench/h323.sh`).
//! At a fixed rate it opens a TCP connection to the gatekeeper's call-signaling address
//! (`--gk`), sends a Setup for `--to` (H.245 tunneling on, no fastStart), waits for the
//! Connect (CallProceeding, Alerting and tunneled H.245 in between are read and passed over),
//! holds `--hold-ms`, sends ReleaseComplete and closes. A ReleaseComplete, a closed connection
//! or no Connect within 10 s is a failed call. One JSON line at the end: attempted,
//! completed, failed, the achieved rate, Setup-to-Connect percentiles.
//!
//! No ARQ: the gatekeeper routes a Setup without one (as a neighbor's or C's calls arrive),
//! and the benchmark is about the call-signaling path. Owns nothing beyond its tasks.

use super::asn;
use super::bench::{percentile, BenchArgs};
use super::call::{random_ids, BEARER};
use super::msg;
use causeway_h323::q931::{CallReference, MessageType, PartyNumber, Q931};
use causeway_h323::tpkt::{self, TpktFramer};
use causeway_h323_asn1::h323_messages::{AliasAddress, ReleaseCompleteReason};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

const ANSWER_WITHIN: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Tally {
    completed: u64,
    failed: u64,
    latencies_us: Vec<u64>,
    errors: Vec<String>,
}

pub(super) async fn bench(a: BenchArgs) -> Result<(), String> {
    let to = asn::typed_alias(&a.to).map_err(|e| e.to_string())?;
    let from = asn::typed_alias("h323:bench").map_err(|e| e.to_string())?;
    let hold = Duration::from_millis(a.hold_ms);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let every = Duration::from_secs_f64(1.0 / a.rate.max(0.001));
    let total = (a.rate * a.duration).round() as u64;
    let start = Instant::now();
    let mut tick = tokio::time::interval(every);
    let mut tasks = Vec::new();
    for _ in 0..total {
        tick.tick().await;
        let (to, from, tally) = (to.clone(), from.clone(), tally.clone());
        let gk = a.gk;
        tasks.push(tokio::spawn(async move {
            let r = timeout(ANSWER_WITHIN + hold + Duration::from_secs(5), async {
                one_call(gk, from, to, hold).await
            })
            .await
            .unwrap_or_else(|_| Err("timed out".into()));
            let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
            match r {
                Ok(us) => {
                    t.completed += 1;
                    t.latencies_us.push(us);
                }
                Err(e) => {
                    t.failed += 1;
                    if t.errors.len() < 5 {
                        t.errors.push(e);
                    }
                }
            }
        }));
    }
    let sent_for = start.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
    }
    let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
    t.latencies_us.sort_unstable();
    let ms = |us: u64| us as f64 / 1000.0;
    super::emit(json!({
        "event": "bench",
        "kind": "call",
        "target_rate": a.rate,
        "attempted": total,
        "completed": t.completed,
        "failed": t.failed,
        "achieved_rate": if sent_for > 0.0 { total as f64 / sent_for } else { 0.0 },
        "setup_to_connect_ms": {
            "p50": ms(percentile(&t.latencies_us, 0.5)),
            "p90": ms(percentile(&t.latencies_us, 0.9)),
            "p99": ms(percentile(&t.latencies_us, 0.99)),
        },
        "errors": t.errors,
    }));
    Ok(())
}

/// One call; its Setup-to-Connect time in microseconds.
async fn one_call(
    gk: SocketAddr,
    from: AliasAddress,
    to: AliasAddress,
    hold: Duration,
) -> Result<u64, String> {
    let mut s = TcpStream::connect(gk)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_nodelay(true);
    let local = s.local_addr().map_err(|e| e.to_string())?;
    let ids = random_ids();
    let cr = CallReference::new(ids.crv, false).map_err(|e| e.to_string())?;
    let body = msg::setup_uuie(&ids, vec![from], Some(vec![to.clone()]), None, None, local)?;
    let mut setup = Q931::new(MessageType::Setup, cr);
    let qe = |e: causeway_h323::q931::Q931Error| e.to_string();
    setup.set_bearer_capability(BEARER.to_vec()).map_err(qe)?;
    if let AliasAddress::dialledDigits(d) = &to {
        let n = PartyNumber::e164(&asn::ia5_text(d));
        setup.set_called_party_number(&n).map_err(qe)?;
    }
    setup
        .set_user_user(&msg::encode_uu(body, true, Vec::new())?)
        .map_err(qe)?;
    write(&mut s, &setup).await?;
    let sent = Instant::now();
    let mut framer = TpktFramer::new(tpkt::TPKT_MAX_PAYLOAD);
    let mut buf = vec![0u8; 8192];
    loop {
        let frame = match framer.next_frame().map_err(|e| e.to_string())? {
            Some(f) => f,
            None => {
                let n = timeout(ANSWER_WITHIN, s.read(&mut buf))
                    .await
                    .map_err(|_| "no Connect".to_string())?
                    .map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("closed before Connect".into());
                }
                framer.push(&buf[..n]).map_err(|e| e.to_string())?;
                continue;
            }
        };
        match Q931::parse(&frame).map(|m| m.message_type) {
            Ok(MessageType::Connect) => break,
            Ok(MessageType::ReleaseComplete) => return Err("released before Connect".into()),
            _ => {}
        }
    }
    let answered = sent.elapsed().as_micros() as u64;
    tokio::time::sleep(hold).await;
    let rc = msg::release_complete_uuie(&ids, Some(ReleaseCompleteReason::undefinedReason(())));
    let mut m = Q931::new(MessageType::ReleaseComplete, cr);
    m.set_user_user(&msg::encode_uu(rc, true, Vec::new())?)
        .map_err(qe)?;
    write(&mut s, &m).await?;
    let _ = s.shutdown().await;
    // the relay closes its side once it forwarded the ReleaseComplete
    let _ = timeout(Duration::from_secs(2), async {
        while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
    Ok(answered)
}

async fn write(s: &mut TcpStream, q: &Q931) -> Result<(), String> {
    let frame = tpkt::encode(&q.encode()).map_err(|e| e.to_string())?;
    s.write_all(&frame).await.map_err(|e| format!("write: {e}"))
}
