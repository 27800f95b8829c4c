//! `h323-endpoint`: a real H.323 terminal for the end-to-end tests, built on causeway's own
//! TPKT/Q.931 framing and ASN.1 types. One process is one endpoint: it registers with a
//! gatekeeper (GRQ/RRQ, lightweight refreshes, URQ on exit), answers IRQ and gatekeeper URQ,
//! places or answers one gatekeeper-routed call at a time per connection (ARQ, Q.931/H.225.0,
//! H.245 tunneled or on its own channel, one G.711 audio channel, DRQ), and prints one JSON
//! object per line on stdout for every event. Logs go to stderr.
//!
//! `bench` is a load generator for the gatekeeper (RRQ or ARQ at a fixed rate).
//!
//! Events (the `event` key; other keys as listed):
//! - `ready` {q931, ras}: sockets bound (ras null without a gatekeeper); wait for it first.
//! - `gcf` {gatekeeper_id, ras}, `grj` {reason}; `registered` {endpoint_id, gatekeeper_id,
//!   ttl}, `rrj` {reason[, keep_alive]}, `refreshed` {ttl} (lightweight RRQ confirmed);
//!   `unregistered` {by: "self"|"gatekeeper"[, reason]}, `urj` {reason}; `irq` {crv} (IRR sent).
//! - `acf` {dest, call_model, bandwidth | answer: true}, `arj` {reason[, answer]}, `dcf`,
//!   `drj` {reason}.
//! - caller: `setup-sent` {to, tunneling}, `call-proceeding`, `alerting`, `progress`,
//!   `facility` {reason} (other than transportedInformation), `connected` {tunneling};
//!   callee: `setup` {from, to, peer, tunneling, calling_number, called_number},
//!   `connected` {tunneling, h245_address}; both: `status-enquiry` {state}.
//! - `h245` {what}: `channel` {remote} (separate channel up), `tcs` {empty, user_input}
//!   (peer's TCS, acked; `empty`: no capabilities, the pause of H.323 8.4.6; `user_input`: it
//!   lists a user input capability), `tcs-ack`, `msd` {role: "master"|"slave", as the peer's
//!   Ack decides}, `olc` {lcn, remote_rtcp, local_rtp} (the side a channel is opened to),
//!   `olc-ack` {lcn, remote_rtp, remote_rtcp} (the side that opened it: the caller, and the
//!   callee with `--both-ways`), `olc-reject` {cause}, `clc-ack` {lcn}, `uii-update`
//!   {duration} (a signalUpdate), `end-session`, `ignored` {message}. The endpoint's own TCS
//!   has G.711 µ-law and receiveAndTransmitUserInputCapability basicString and dtmf (`caps`).
//! - DTMF: `dtmf-sent` {digit, kind: "signal"|"alpha"} for each `--dtmf` digit sent as a
//!   UserInputIndication (signal: signalType and duration 100 ms; alpha: alphanumeric), 200 ms
//!   apart from the moment the media is up (caller: its OLC Ack or fastStart answer; callee:
//!   the first channel acked either way); `uii` {digit, kind: "signal"|"alpha", duration (ms
//!   or null)} for each character of a UserInputIndication received (extendedAlphanumeric
//!   counts as alpha); `rtp-event` {digit (0-9 * # A-D, null for other codes), code,
//!   duration_ms, pt} once per RFC 4733 telephone-event (payload type `--te-pt`, 101) arriving
//!   on the RTP socket, at its first end packet; these are not counted as audio.
//! - Pause (H.323 8.4.6): an empty TCS received is acked, the channel this side transmits on
//!   is closed (CloseLogicalChannel) and its RTP stops: `paused`; a full TCS then is acked and
//!   a new channel (new number; also in a fastStart call) is opened, `resumed` at its Ack
//!   (at once when there was none to reopen). `channel-closed` {lcn}: the peer closed a
//!   channel it had opened to this side (acked). With `--pause-at-ms N [--resume-at-ms M]`
//!   the endpoint sends the empty TCS N ms after its media is up (`pause-sent` {seq}) and the
//!   full one at M (`resume-sent` {seq}). These four carry `sent_so_far` and
//!   `received_so_far` (RTP packets, counted as `rtp` counts them).
//! - `fast-start` {what}: `proposed` {count} (caller, in its Setup), `accepted` {in, codec,
//!   remote_rtp, remote_rtcp, local_rtp[, reverse]} (callee: the answer it sent; caller: the
//!   one it got), `ignored` {proposals} (a callee without --fast-start), `none` (caller:
//!   connected without an answer, slow start follows). A fastStart call opens no channel
//!   with H.245 (TCS and MSD still run) and its `rtp` goes to the accepted addresses.
//! - `released` {cause (Q.850 value or null), reason (ReleaseCompleteReason or null), by:
//!   "self"|"remote"}.
//! - `rtp` {sent, received, to} after the call ended, with `--rtp` only: RTP packets sent to
//!   the acked audio address (by the side that opened a channel; none while paused) and
//!   received on the endpoint's RTP socket (telephone-events excepted; see `rtp`).
//! - `malformed` {where: ras|q931|setup|uuie|h245, detail, ...}, `error` {what, detail}.
//!
//! The caller holds a call for `--hold-ms` (1000) from the OLC Ack (or fastStart answer; give
//! a call with `--pause-at-ms` a hold longer than its pause and resume), then ends it as H.323 8.5
//! says (endSessionCommand, the peer's endSessionCommand, ReleaseComplete cause 16, DRQ),
//! unregisters and exits: 0 when the call connected and got its audio channel, 1 when it was
//! rejected or failed, 2 on usage errors, 3 when the gatekeeper did not answer the GRQ/RRQ.
//! `--answer ring` alerts and never connects (`ringing`); the caller's `--cancel-after-ms N`
//! gives up with ReleaseComplete cause 16 when not connected N ms after its Setup.
//! Stop a long-running endpoint with SIGTERM or by closing its stdin (`--ignore-stdin` to
//! run with stdin at /dev/null).

pub use causeway_h323_asn1 as asn1;

pub mod bench;
mod bench_call;
pub mod call;
pub mod caps;
pub mod faststart;
pub mod h245;
/// The ASN.1 value conversions (addresses, aliases, BMP text, GUIDs) are the crate's too.
pub use causeway_h323::asn;
/// The message builders live in the crate, beside the gatekeeper that answers them.
pub use causeway_h323::endpoint as msg;
pub mod ras;
pub mod rtp;
pub mod uii;

use causeway_h323_asn1::h323_messages::{self as h225, RasMessage};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;

/// Prints one event line on stdout (flushed: tests read it as it happens).
pub fn emit(v: Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

/// A log line on stderr.
pub fn log(text: &str) {
    eprintln!("h323-endpoint: {text}");
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum H245Mode {
    Tunnel,
    Separate,
}

/// The callee's message that carries its fastStart answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FastIn {
    Proceeding,
    Alerting,
    Connect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Answer {
    Auto,
    No,
    /// Alert and never connect: the call waits for the caller to give up.
    Ring,
}

#[derive(Parser, Debug)]
#[command(
    name = "h323-endpoint",
    about = "H.323 test endpoint: one JSON event per line on stdout"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
    #[command(flatten)]
    pub ep: EpArgs,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Load generator for a gatekeeper: RRQs or ARQs at a fixed rate, one JSON summary line.
    Bench(bench::BenchArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct EpArgs {
    /// Gatekeeper RAS address (ip:port).
    #[arg(long)]
    pub gk: Option<SocketAddr>,
    /// Run without a gatekeeper (no RAS at all).
    #[arg(long)]
    pub no_gk: bool,
    /// Alias, `h323:NAME` or `e164:DIGITS` (repeatable).
    #[arg(long = "alias")]
    pub aliases: Vec<String>,
    #[arg(long, default_value = "127.0.0.1:0")]
    pub ras_bind: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:0")]
    pub q931_bind: SocketAddr,
    /// timeToLive asked for in the RRQ, seconds.
    #[arg(long, default_value_t = 60)]
    pub ttl: u32,
    #[arg(long, value_enum, default_value_t = H245Mode::Tunnel)]
    pub h245: H245Mode,
    #[arg(long, value_enum, default_value_t = Answer::Auto)]
    pub answer: Answer,
    /// Place a call to this alias (through the gatekeeper, or to --direct).
    #[arg(long)]
    pub call: Option<String>,
    /// Send the Setup straight to this call-signaling address (no ARQ).
    #[arg(long)]
    pub direct: Option<SocketAddr>,
    /// How long a connected call is held before this side hangs up (caller default 1000).
    #[arg(long)]
    pub hold_ms: Option<u64>,
    /// GRQ before RRQ.
    #[arg(long)]
    pub discover: bool,
    /// Keep running after the call of --call ends (default: unregister and exit).
    #[arg(long)]
    pub stay: bool,
    /// Do not treat end of stdin as the signal to stop.
    #[arg(long)]
    pub ignore_stdin: bool,
    /// Announce H.460.18 in the RRQ; answer the gatekeeper's SCI by calling back (an endpoint
    /// behind a NAT).
    #[arg(long)]
    pub h46018: bool,
    /// Send G.711 RTP once the audio channel is acked and count what arrives (see `rtp`).
    #[arg(long)]
    pub rtp: bool,
    /// As the callee, open an audio channel of its own too (media both ways; the caller
    /// always opens one).
    #[arg(long)]
    pub both_ways: bool,
    /// fastStart (H.323 8.1.7): as the caller, propose G.711 µ-law and A-law both ways in the
    /// Setup; as the callee, accept one channel each way (see `faststart`). A callee without
    /// it ignores the proposals (slow start).
    #[arg(long)]
    pub fast_start: bool,
    /// As a callee with --fast-start: the message that carries the answer.
    #[arg(long, value_enum, default_value_t = FastIn::Proceeding)]
    pub fast_start_in: FastIn,
    /// As the caller: give up (ReleaseComplete, cause 16) this many ms after the Setup when
    /// the call is not connected by then.
    #[arg(long)]
    pub cancel_after_ms: Option<u64>,
    /// DTMF digits (0-9 * # A-D) to send as H.245 UserInputIndication once the call's media is
    /// up, 200 ms apart.
    #[arg(long)]
    pub dtmf: Option<String>,
    /// How --dtmf digits are sent: UserInputIndication signal (100 ms) or alphanumeric.
    #[arg(long, value_enum, default_value_t = uii::Mode::Signal)]
    pub dtmf_mode: uii::Mode,
    /// RTP payload type of RFC 4733 telephone-events recognised on the RTP socket.
    #[arg(long, default_value_t = 101, value_parser = clap::value_parser!(u8).range(0..=127))]
    pub te_pt: u8,
    /// This many ms after the call's media is up, pause the peer with an empty
    /// TerminalCapabilitySet (H.323 8.4.6).
    #[arg(long)]
    pub pause_at_ms: Option<u64>,
    /// With --pause-at-ms: this many ms after the media is up, send the full
    /// TerminalCapabilitySet again (resume).
    #[arg(long, requires = "pause_at_ms")]
    pub resume_at_ms: Option<u64>,
}

impl EpArgs {
    /// The --dtmf digits, and the pause and resume times in order; Err is a usage error.
    pub fn checked(&self) -> Result<Vec<char>, String> {
        if let (Some(p), Some(r)) = (self.pause_at_ms, self.resume_at_ms) {
            if r <= p {
                return Err(format!(
                    "--resume-at-ms {r} must come after --pause-at-ms {p}"
                ));
            }
        }
        uii::parse_digits(self.dtmf.as_deref().unwrap_or(""))
    }
}

#[derive(Default)]
pub struct Reg {
    pub registered: bool,
    pub eid: Option<h225::EndpointIdentifier>,
    pub gkid: Option<h225::GatekeeperIdentifier>,
    pub ttl: Option<u32>,
    pub discovered: bool,
}

/// Everything a call or the RAS loop needs about this endpoint.
pub struct Ep {
    pub args: EpArgs,
    pub me: msg::Me,
    pub ras: Option<Arc<ras::Ras>>,
    pub reg: Mutex<Reg>,
    pub shutdown: watch::Receiver<bool>,
    pub active_calls: AtomicUsize,
    /// callIdentifiers of the SCIs already called back for.
    pub callbacks: Mutex<Vec<[u8; 16]>>,
}

impl Ep {
    pub fn reg(&self) -> std::sync::MutexGuard<'_, Reg> {
        self.reg.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// (eid, gkid) when registered.
    pub fn registration(
        &self,
    ) -> Option<(h225::EndpointIdentifier, Option<h225::GatekeeperIdentifier>)> {
        let r = self.reg();
        match (&r.eid, r.registered) {
            (Some(e), true) => Some((e.clone(), r.gkid.clone())),
            _ => None,
        }
    }
}

fn reason_of<T: std::fmt::Debug>(r: &T) -> String {
    asn::choice_name(r)
}

/// Runs the endpoint; the process exit code.
pub async fn run(args: EpArgs) -> i32 {
    if let Err(e) = args.checked() {
        return usage(&e);
    }
    let aliases = match args
        .aliases
        .iter()
        .map(|a| asn::typed_alias(a).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(a) => a,
        Err(e) => {
            emit(json!({"event":"error","what":"usage","detail":e}));
            return 2;
        }
    };
    let use_gk = !args.no_gk && args.direct.is_none();
    if use_gk && args.gk.is_none() {
        emit(
            json!({"event":"error","what":"usage","detail":"--gk is required unless --no-gk or --direct"}),
        );
        return 2;
    }
    let listener = match TcpListener::bind(args.q931_bind).await {
        Ok(l) => l,
        Err(e) => {
            emit(
                json!({"event":"error","what":"bind","detail":format!("q931 {}: {e}", args.q931_bind)}),
            );
            return 2;
        }
    };
    let csa = listener.local_addr().unwrap_or(args.q931_bind);
    let (ras_sock, ras_addr) = if use_gk {
        match UdpSocket::bind(args.ras_bind).await {
            Ok(s) => {
                let a = s.local_addr().unwrap_or(args.ras_bind);
                (Some(Arc::new(s)), a)
            }
            Err(e) => {
                emit(
                    json!({"event":"error","what":"bind","detail":format!("ras {}: {e}", args.ras_bind)}),
                );
                return 2;
            }
        }
    } else {
        (None, args.ras_bind)
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let ras = match (&ras_sock, args.gk) {
        (Some(s), Some(gk)) => Some(Arc::new(ras::Ras::new(s.clone(), gk))),
        _ => None,
    };
    let ep = Arc::new(Ep {
        me: msg::Me {
            ras: advertised(ras_addr, args.gk),
            csa: advertised(csa, args.gk.or(args.direct)),
            aliases,
        },
        args: args.clone(),
        ras,
        reg: Mutex::new(Reg::default()),
        shutdown: stop_rx,
        active_calls: AtomicUsize::new(0),
        callbacks: Mutex::new(Vec::new()),
    });
    emit(json!({
        "event":"ready",
        "q931": ep.me.csa.to_string(),
        "ras": ras_sock.as_ref().map(|_| ep.me.ras.to_string()),
    }));

    if let Some(ras) = ep.ras.clone() {
        tokio::spawn(ras_loop(ep.clone(), ras.clone()));
        if let Err(code) = register(&ep, &ras).await {
            return code;
        }
        tokio::spawn(refresh_loop(ep.clone(), ras));
    }

    tokio::spawn(accept_loop(ep.clone(), listener));

    let mut code = 0;
    let stop = stop_signal(args.ignore_stdin);
    tokio::pin!(stop);
    if let Some(target) = args.call.clone() {
        let outcome = tokio::select! {
            r = call::outgoing(ep.clone(), target) => Some(r),
            _ = &mut stop => None,
        };
        match outcome {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                log(&format!("call failed: {e}"));
                code = 1;
            }
            None => {
                let _ = stop_tx.send(true);
                wait_calls(&ep).await;
                unregister(&ep).await;
                return 1;
            }
        }
        if args.stay {
            (&mut stop).await;
        }
    } else {
        (&mut stop).await;
    }
    let _ = stop_tx.send(true);
    wait_calls(&ep).await;
    unregister(&ep).await;
    code
}

/// The address to announce for a socket bound to `bound`: itself, or for the unspecified
/// address the local address that routes toward `toward` (loopback when unknown).
fn advertised(bound: SocketAddr, toward: Option<SocketAddr>) -> SocketAddr {
    if !bound.ip().is_unspecified() {
        return bound;
    }
    let ip = toward
        .and_then(|t| {
            let s = std::net::UdpSocket::bind((bound.ip(), 0)).ok()?;
            s.connect(t).ok()?;
            s.local_addr().ok()
        })
        .map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    SocketAddr::new(ip, bound.port())
}

async fn wait_calls(ep: &Ep) {
    for _ in 0..40 {
        if ep.active_calls.load(Ordering::SeqCst) == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SIGTERM, SIGINT, or end of stdin.
async fn stop_signal(ignore_stdin: bool) {
    use tokio::io::AsyncReadExt;
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => Some(s),
        Err(e) => {
            log(&format!("no SIGTERM handler: {e}"));
            None
        }
    };
    let stdin_eof = async {
        if ignore_stdin {
            return std::future::pending::<()>().await;
        }
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 256];
        loop {
            match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::select! {
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => log("SIGTERM"),
        _ = tokio::signal::ctrl_c() => log("SIGINT"),
        _ = stdin_eof => log("stdin closed"),
    }
}

async fn register(ep: &Arc<Ep>, ras: &ras::Ras) -> Result<(), i32> {
    if ep.args.discover {
        let m = msg::grq(ras.seq(), &ep.me).map_err(|e| usage(&e))?;
        match ras.transact(m).await {
            Ok(RasMessage::gatekeeperConfirm(gcf)) => {
                let gk_ras = asn::socket_addr(&gcf.ras_address);
                emit(json!({
                    "event":"gcf",
                    "gatekeeper_id": gcf.gatekeeper_identifier.as_ref().map(|g| asn::bmp_text_lossy(&g.0)),
                    "ras": gk_ras.map(|a| a.to_string()),
                }));
                if let Some(a) = gk_ras {
                    *ras.gk.lock().unwrap_or_else(|p| p.into_inner()) = a;
                }
                let mut r = ep.reg();
                r.gkid = gcf.gatekeeper_identifier;
                r.discovered = true;
            }
            Ok(RasMessage::gatekeeperReject(grj)) => {
                emit(json!({"event":"grj","reason":reason_of(&grj.reject_reason)}));
                return Err(1);
            }
            Ok(other) => {
                emit(
                    json!({"event":"error","what":"grq","detail":format!("unexpected reply {}", asn::choice_name(&other))}),
                );
                return Err(1);
            }
            Err(e) => {
                emit(json!({"event":"error","what":"grq","detail":e}));
                return Err(3);
            }
        }
    }
    let (gkid, discovered) = {
        let r = ep.reg();
        (r.gkid.clone(), r.discovered)
    };
    let mut m =
        msg::rrq(ras.seq(), &ep.me, ep.args.ttl, gkid, None, discovered).map_err(|e| usage(&e))?;
    if let (true, RasMessage::registrationRequest(r)) = (ep.args.h46018, &mut m) {
        r.feature_set = Some(causeway_h323::h46018::feature_set());
    }
    match ras.transact(m).await {
        Ok(RasMessage::registrationConfirm(rcf)) => {
            let ttl = rcf.time_to_live.as_ref().map(|t| t.0);
            emit(json!({
                "event":"registered",
                "endpoint_id": asn::bmp_text_lossy(&rcf.endpoint_identifier.0),
                "gatekeeper_id": rcf.gatekeeper_identifier.as_ref().map(|g| asn::bmp_text_lossy(&g.0)),
                "ttl": ttl,
                "h46018": causeway_h323::h46018::announces(rcf.feature_set.as_ref()),
                "alternates": rcf.alternate_gatekeeper.iter().flatten().map(|g| json!({
                    "ras": asn::socket_addr(&g.ras_address).map(|a| a.to_string()),
                    "gatekeeper_id": g.gatekeeper_identifier.as_ref().map(|i| asn::bmp_text_lossy(&i.0)),
                    "need_to_register": g.need_to_register,
                    "priority": g.priority,
                })).collect::<Vec<_>>(),
            }));
            let mut r = ep.reg();
            r.registered = true;
            r.eid = Some(rcf.endpoint_identifier);
            if rcf.gatekeeper_identifier.is_some() {
                r.gkid = rcf.gatekeeper_identifier;
            }
            r.ttl = ttl;
            Ok(())
        }
        Ok(RasMessage::registrationReject(rrj)) => {
            emit(json!({"event":"rrj","reason":reason_of(&rrj.reject_reason)}));
            Err(1)
        }
        Ok(other) => {
            emit(
                json!({"event":"error","what":"rrq","detail":format!("unexpected reply {}", asn::choice_name(&other))}),
            );
            Err(1)
        }
        Err(e) => {
            emit(json!({"event":"error","what":"rrq","detail":e}));
            Err(3)
        }
    }
}

fn usage(e: &str) -> i32 {
    emit(json!({"event":"error","what":"usage","detail":e}));
    2
}

/// Lightweight RRQs before the granted timeToLive runs out (H.225.0 7.9.1).
async fn refresh_loop(ep: Arc<Ep>, ras: Arc<ras::Ras>) {
    loop {
        let Some(ttl) = ep.reg().ttl else {
            return;
        };
        // Three quarters of the TTL leaves room for a full retry cycle on long TTLs.
        let wait = Duration::from_millis(u64::from(ttl) * 750).max(Duration::from_millis(500));
        tokio::time::sleep(wait).await;
        let Some((eid, gkid)) = ep.registration() else {
            return;
        };
        let m = match msg::rrq(ras.seq(), &ep.me, ttl, gkid, Some(eid), true) {
            Ok(m) => m,
            Err(e) => {
                emit(json!({"event":"error","what":"refresh","detail":e}));
                return;
            }
        };
        match ras.transact(m).await {
            Ok(RasMessage::registrationConfirm(rcf)) => {
                let ttl = rcf.time_to_live.as_ref().map(|t| t.0);
                emit(json!({"event":"refreshed","ttl":ttl}));
                ep.reg().ttl = ttl;
            }
            Ok(RasMessage::registrationReject(rrj)) => {
                let reason = reason_of(&rrj.reject_reason);
                emit(json!({"event":"rrj","reason":reason,"keep_alive":true}));
                {
                    let mut r = ep.reg();
                    r.registered = false;
                    r.eid = None;
                }
                // fullRegistrationRequired and the like: register again in full.
                if register(&ep, &ras).await.is_err() {
                    return;
                }
            }
            Ok(other) => {
                emit(
                    json!({"event":"error","what":"refresh","detail":format!("unexpected reply {}", asn::choice_name(&other))}),
                );
            }
            Err(e) => emit(json!({"event":"error","what":"refresh","detail":e})),
        }
    }
}

async fn unregister(ep: &Ep) {
    let (Some(ras), Some((eid, gkid))) = (ep.ras.as_ref(), ep.registration()) else {
        return;
    };
    let m = match msg::urq(ras.seq(), &ep.me, gkid, Some(eid)) {
        Ok(m) => m,
        Err(e) => {
            emit(json!({"event":"error","what":"urq","detail":e}));
            return;
        }
    };
    match ras.transact(m).await {
        Ok(RasMessage::unregistrationConfirm(_)) => {
            ep.reg().registered = false;
            emit(json!({"event":"unregistered","by":"self"}));
        }
        Ok(RasMessage::unregistrationReject(urj)) => {
            emit(json!({"event":"urj","reason":reason_of(&urj.reject_reason)}));
        }
        Ok(other) => emit(
            json!({"event":"error","what":"urq","detail":format!("unexpected reply {}", asn::choice_name(&other))}),
        ),
        Err(e) => emit(json!({"event":"error","what":"urq","detail":e})),
    }
}

/// Receives every RAS datagram: replies go to their transactions, gatekeeper requests (URQ,
/// IRQ) are answered here.
async fn ras_loop(ep: Arc<Ep>, ras: Arc<ras::Ras>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = match ras.sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                // ICMP port unreachable surfaces here on Linux; the socket stays usable.
                log(&format!("RAS receive: {e}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let m = match msg::decode_ras(&buf[..n]) {
            Ok(m) => m,
            Err(e) => {
                emit(
                    json!({"event":"malformed","where":"ras","from":from.to_string(),"detail":e,"len":n}),
                );
                continue;
            }
        };
        let Some(m) = ras.deliver(m) else {
            continue;
        };
        match m {
            RasMessage::unregistrationRequest(urq) => {
                let reply = msg::ucf(urq.request_seq_num.0);
                if let Ok(b) = msg::encode_ras(&reply) {
                    let _ = ras.sock.send_to(&b, from).await;
                }
                {
                    let mut r = ep.reg();
                    r.registered = false;
                    r.eid = None;
                    r.ttl = None;
                }
                emit(json!({
                    "event":"unregistered","by":"gatekeeper",
                    "reason": urq.reason.as_ref().map(reason_of),
                }));
            }
            RasMessage::infoRequest(irq) => {
                let seq = irq.request_seq_num.0;
                emit(json!({"event":"irq","crv":irq.call_reference_value.0}));
                let to = irq
                    .reply_address
                    .as_ref()
                    .and_then(asn::socket_addr)
                    .unwrap_or(from);
                let Some((eid, _)) = ep.registration() else {
                    continue;
                };
                match msg::irr(seq, &ep.me, eid).and_then(|r| msg::encode_ras(&r)) {
                    Ok(b) => {
                        let _ = ras.sock.send_to(&b, to).await;
                    }
                    Err(e) => emit(json!({"event":"error","what":"irr","detail":e})),
                }
            }
            RasMessage::serviceControlIndication(sci) if ep.args.h46018 => {
                call_back(&ep, &ras, sci, from).await;
            }
            other => {
                emit(json!({"event":"ras","what":"unexpected","message":asn::choice_name(&other)}));
            }
        }
    }
}

/// H.460.18 8: SCR to the gatekeeper, then a connection to the call-signaling address the
/// SCI names, a Facility with its callIdentifier, and the Setup that comes down it answered
/// as any incoming call. A retransmitted SCI (same callIdentifier) is answered, not followed.
async fn call_back(
    ep: &Arc<Ep>,
    ras: &ras::Ras,
    sci: h225::ServiceControlIndication,
    from: SocketAddr,
) {
    let scr = RasMessage::serviceControlResponse(h225::ServiceControlResponse::new(
        sci.request_seq_num.clone(),
        Some(h225::ServiceControlResponseResult::started(())),
        None,
        None,
        None,
        None,
        Some(causeway_h323::h46018::feature_set()),
        None,
    ));
    if let Ok(b) = msg::encode_ras(&scr) {
        let _ = ras.sock.send_to(&b, from).await;
    }
    let Some((to, call_id)) = causeway_h323::h46018::incoming_call(sci.generic_data.as_deref())
    else {
        emit(json!({"event":"sci","what":"no IncomingCallIndication"}));
        return;
    };
    {
        let mut seen = ep.callbacks.lock().unwrap_or_else(|p| p.into_inner());
        if seen.contains(&call_id) {
            return;
        }
        seen.push(call_id);
    }
    emit(json!({"event":"sci","call_back":to.to_string()}));
    let ep = ep.clone();
    tokio::spawn(async move {
        match call::call_back(&ep, to, call_id).await {
            Ok(stream) => call::incoming(ep, stream, to).await,
            Err(e) => emit(json!({"event":"error","what":"call-back","detail":e})),
        }
    });
}

async fn accept_loop(ep: Arc<Ep>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(call::incoming(ep.clone(), stream, peer));
            }
            Err(e) => {
                log(&format!("accept: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
