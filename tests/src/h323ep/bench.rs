//! `h323-endpoint bench`: load for the gatekeeper benchmark. From one UDP socket it sends RRQs
//! (N aliases registered in full, then lightweight refreshes) or ARQs between N endpoints it
//! registered first (each ACF followed by a DRQ) at a fixed rate, matches confirms and rejects
//! by requestSeqNum, and prints one JSON summary line with the latency percentiles.

use super::asn;
use super::msg::{self, CallIds};
use causeway_h323_asn1::h323_messages::{EndpointIdentifier, RasMessage};
use clap::ValueEnum;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Rrq,
    Arq,
    /// Gatekeeper-routed calls (see `bench_call`): `--gk` is the call-signaling address.
    Call,
}

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    #[arg(long)]
    pub gk: SocketAddr,
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// Requests per second.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Seconds of load.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Distinct endpoints (aliases).
    #[arg(long, default_value_t = 100)]
    pub aliases: usize,
    #[arg(long, default_value = "127.0.0.1:0")]
    pub bind: SocketAddr,
    /// timeToLive of the registrations, seconds.
    #[arg(long, default_value_t = 300)]
    pub ttl: u32,
    /// `call`: the alias dialled (`e164:2001`, `h323:bob`).
    #[arg(long, default_value = "e164:2001")]
    pub to: String,
    /// `call`: milliseconds between Connect and the ReleaseComplete.
    #[arg(long, default_value_t = 100)]
    pub hold_ms: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum What {
    Measured,
    Setup,
    Drq,
}

#[derive(Default)]
struct State {
    outstanding: HashMap<u16, (Instant, usize, What)>,
    latencies_us: Vec<u64>,
    confirmed: u64,
    rejected: u64,
    eids: Vec<Option<EndpointIdentifier>>,
    drq_after: Vec<(usize, CallIds)>,
}

fn me(i: usize, sock: SocketAddr) -> Result<msg::Me, String> {
    Ok(msg::Me {
        ras: sock,
        // Never connected to: the gatekeeper only stores it.
        csa: SocketAddr::new(sock.ip(), 20000 + (i % 4999) as u16),
        aliases: vec![
            asn::typed_alias(&format!("h323:bench-{i}")).map_err(|e| e.to_string())?,
            asn::typed_alias(&format!("e164:9{i:05}")).map_err(|e| e.to_string())?,
        ],
    })
}

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub async fn run(a: BenchArgs) -> i32 {
    let r = if a.kind == Kind::Call {
        super::bench_call::bench(a).await
    } else {
        bench(a).await
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            super::emit(json!({"event":"error","what":"bench","detail":e}));
            1
        }
    }
}

async fn bench(a: BenchArgs) -> Result<(), String> {
    let n = a.aliases.max(2);
    let sock = Arc::new(UdpSocket::bind(a.bind).await.map_err(|e| e.to_string())?);
    let local = sock.local_addr().map_err(|e| e.to_string())?;
    let mes = (0..n)
        .map(|i| me(i, local))
        .collect::<Result<Vec<_>, _>>()?;
    let state = Arc::new(Mutex::new(State {
        eids: vec![None; n],
        ..State::default()
    }));
    let mut seq: u16 = rand::random();
    let mut next_seq = || {
        seq = seq.wrapping_add(1).max(1);
        seq
    };

    let rx_state = state.clone();
    let rx_sock = sock.clone();
    let receiver = tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        loop {
            let Ok((len, _)) = rx_sock.recv_from(&mut buf).await else {
                continue;
            };
            let Ok(m) = msg::decode_ras(&buf[..len]) else {
                continue;
            };
            let Some(s) = msg::seq_of(&m) else { continue };
            let mut st = rx_state.lock().unwrap_or_else(|p| p.into_inner());
            let Some((t0, idx, what)) = st.outstanding.remove(&s) else {
                continue;
            };
            let ok = matches!(
                m,
                RasMessage::registrationConfirm(_)
                    | RasMessage::admissionConfirm(_)
                    | RasMessage::disengageConfirm(_)
            );
            if let RasMessage::registrationConfirm(rcf) = &m {
                if let Some(slot) = st.eids.get_mut(idx) {
                    *slot = Some(rcf.endpoint_identifier.clone());
                }
            }
            if what == What::Measured {
                if ok {
                    st.confirmed += 1;
                    st.latencies_us.push(t0.elapsed().as_micros() as u64);
                } else {
                    st.rejected += 1;
                }
            }
        }
    });

    let send = |m: RasMessage| {
        let sock = sock.clone();
        let gk = a.gk;
        async move {
            if let Ok(b) = msg::encode_ras(&m) {
                let _ = sock.send_to(&b, gk).await;
            }
        }
    };

    if a.kind == Kind::Arq {
        // Register every endpoint first (three rounds for the ones that got no answer).
        for _ in 0..3 {
            let missing: Vec<usize> = (0..n).filter(|&i| lock(&state).eids[i].is_none()).collect();
            if missing.is_empty() {
                break;
            }
            for i in missing {
                let s = next_seq();
                lock(&state)
                    .outstanding
                    .insert(s, (Instant::now(), i, What::Setup));
                send(msg::rrq(s, &mes[i], a.ttl, None, None, false)?).await;
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let have = lock(&state).eids.iter().filter(|e| e.is_some()).count();
        if have < 2 {
            return Err(format!("only {have} of {n} bench endpoints registered"));
        }
    }

    let total = (a.rate * a.duration).round() as u64;
    let start = Instant::now();
    let mut sent: u64 = 0;
    let mut k: usize = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while sent < total {
        tick.tick().await;
        let due = ((start.elapsed().as_secs_f64() * a.rate) as u64).min(total);
        while sent < due {
            let i = k % n;
            k += 1;
            let s = next_seq();
            let eid = lock(&state).eids[i].clone();
            let m = match a.kind {
                // `call` never gets here (`run`)
                Kind::Rrq | Kind::Call => {
                    msg::rrq(s, &mes[i], a.ttl, None, eid.clone(), eid.is_some())?
                }
                Kind::Arq => {
                    let Some(eid) = eid else { continue };
                    let j = (i + 1) % n;
                    let ids = CallIds {
                        crv: (k % 0x7ffe + 1) as u16,
                        call_id: rand::random(),
                        conf_id: rand::random(),
                    };
                    let dest = vec![mes[j].aliases[1].clone()];
                    let m = msg::arq(
                        s,
                        &mes[i],
                        eid,
                        None,
                        &ids,
                        Some(dest),
                        mes[i].aliases.clone(),
                        false,
                    )?;
                    lock(&state).drq_after.push((i, ids));
                    m
                }
            };
            lock(&state)
                .outstanding
                .insert(s, (Instant::now(), i, What::Measured));
            send(m).await;
            sent += 1;
        }
        // Close the calls admitted so far (not measured).
        let drqs: Vec<(usize, CallIds)> = std::mem::take(&mut lock(&state).drq_after);
        for (i, ids) in drqs {
            let Some(eid) = lock(&state).eids[i].clone() else {
                continue;
            };
            let s = next_seq();
            lock(&state)
                .outstanding
                .insert(s, (Instant::now(), i, What::Drq));
            send(msg::drq(s, eid, None, &ids, false)).await;
        }
    }
    // Replies still in flight: wait up to one RAS retry interval.
    let end = Instant::now() + super::ras::RETRY;
    while Instant::now() < end {
        let left = lock(&state)
            .outstanding
            .values()
            .filter(|o| o.2 == What::Measured)
            .count();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    receiver.abort();
    let st = lock(&state);
    let mut lat = st.latencies_us.clone();
    lat.sort_unstable();
    let elapsed = start.elapsed().as_secs_f64();
    super::emit(json!({
        "kind": format!("{:?}", a.kind).to_lowercase(),
        "sent": sent,
        "confirmed": st.confirmed,
        "rejected": st.rejected,
        "timeouts": sent.saturating_sub(st.confirmed + st.rejected),
        "p50_us": percentile(&lat, 0.50),
        "p99_us": percentile(&lat, 0.99),
        "elapsed_s": (elapsed * 1000.0).round() / 1000.0,
    }));
    Ok(())
}
