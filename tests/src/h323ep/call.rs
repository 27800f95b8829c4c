//! One call on one call-signaling TCP connection (H.225.0 / H.323 section 8): the caller's
//! ARQ, Setup and H.245 start, the callee's ARQ, CallProceeding, Alerting and Connect, H.245
//! carried either tunneled in `h245Control` (H.323 8.2.1) or on the separate TCP channel of
//! `h245Address`, the hang-up (endSessionCommand, ReleaseComplete cause 16) and DRQ. With
//! `--fast-start` the caller's Setup carries fastStart proposals and the first answer in the
//! callee's messages opens the channels instead of H.245 (the content is `faststart`'s); the
//! callee's side of a call is `answer`.
//!
//! A frame that does not parse is reported as a `malformed` event and skipped; only a broken
//! TPKT stream ends the connection.

use super::asn;
use super::faststart;
use super::h245::Session;
use super::msg::{self, CallIds, H245Msg};
use super::rtp::Media;
use super::{emit, log, Answer, Ep, FastIn, H245Mode};
use bytes::Bytes;
use causeway_h323::q931::{CallReference, CauseValue, MessageType, PartyNumber, Q931};
use causeway_h323::tpkt::{self, TpktFramer};
use causeway_h323_asn1::h323_messages::{
    self as h225, H323UUPDUH323MessageBody as Body, RasMessage,
};
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::Instant;

mod actions;
mod answer;
pub use answer::incoming;

/// Bearer capability of an H.323 call (H.225.0 7.2.2.1): unrestricted digital, circuit mode
/// 64 kbit/s, layer 1 H.221/H.242.
pub(super) const BEARER: [u8; 3] = [0x88, 0x90, 0xa5];
/// How long a hanging-up side waits for the peer's endSessionCommand.
const END_WAIT: Duration = Duration::from_secs(2);
/// Call state (Q.931 4.5.7).
const IE_CALL_STATE: u8 = 0x14;
/// How long after Connect the caller waits for its audio channel before hanging up anyway.
const H245_GRACE: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chan {
    Q931,
    H245,
}

enum Frame {
    Data(Chan, Bytes),
    Closed(Chan, Option<String>),
}

async fn read_tpkt(mut r: OwnedReadHalf, chan: Chan, tx: mpsc::Sender<Frame>) {
    let mut framer = TpktFramer::new(tpkt::TPKT_MAX_PAYLOAD);
    let mut buf = vec![0u8; 8192];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) => {
                let _ = tx.send(Frame::Closed(chan, None)).await;
                return;
            }
            Ok(n) => n,
            Err(e) => {
                let _ = tx.send(Frame::Closed(chan, Some(e.to_string()))).await;
                return;
            }
        };
        if let Err(e) = framer.push(&buf[..n]) {
            let _ = tx.send(Frame::Closed(chan, Some(e.to_string()))).await;
            return;
        }
        loop {
            match framer.next_frame() {
                Ok(Some(f)) => {
                    if tx.send(Frame::Data(chan, f)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    emit(
                        json!({"event":"malformed","where":format!("{chan:?}").to_lowercase(),"detail":e.to_string()}),
                    );
                    let _ = tx.send(Frame::Closed(chan, Some(e.to_string()))).await;
                    return;
                }
            }
        }
    }
}

/// An RTP/RTCP pair on consecutive ports (even RTP), as H.323 endpoints allocate them.
async fn media_pair(ip: IpAddr) -> std::io::Result<(UdpSocket, UdpSocket)> {
    for _ in 0..50 {
        let rtp = UdpSocket::bind((ip, 0)).await?;
        let port = rtp.local_addr()?.port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind((ip, port + 1)).await {
            return Ok((rtp, rtcp));
        }
    }
    let rtp = UdpSocket::bind((ip, 0)).await?;
    let rtcp = UdpSocket::bind((ip, 0)).await?;
    Ok((rtp, rtcp))
}

pub(super) fn random_ids() -> CallIds {
    CallIds {
        crv: rand::random::<u16>() % 0x7ffe + 1,
        call_id: rand::random(),
        conf_id: rand::random(),
    }
}

struct Call {
    ep: Arc<Ep>,
    caller: bool,
    ids: CallIds,
    cr: CallReference,
    w: OwnedWriteHalf,
    tunnel: bool,
    session: Session,
    h245_w: Option<OwnedWriteHalf>,
    h245_pending: Vec<H245Msg>,
    h245_listener: Option<TcpListener>,
    tx: mpsc::Sender<Frame>,
    connected: bool,
    hold: Option<Duration>,
    deadline: Option<Instant>,
    hold_started: bool,
    /// endSessionCommand sent, waiting for the peer's.
    ending: bool,
    peer_ended: bool,
    ok: bool,
    answered: bool,
    admitted: bool,
    media: Media,
    /// The caller proposed fastStart and has had no answer yet.
    fast_proposed: bool,
    /// The media came up (see `actions`), and what is to be done since.
    media_up: bool,
    actions: actions::Schedule,
}

/// How a call ended, for the caller's exit status.
enum End {
    Normal,
    Failed(String),
}

impl Call {
    async fn write_q931(&mut self, q: &Q931) -> Result<(), String> {
        let frame = tpkt::encode(&q.encode()).map_err(|e| e.to_string())?;
        self.w
            .write_all(&frame)
            .await
            .map_err(|e| format!("call signaling write: {e}"))
    }

    /// Sends a Q.931 message with its UUIE (and any tunneled H.245).
    async fn send(
        &mut self,
        mt: MessageType,
        body: Body,
        h245: Vec<H245Msg>,
        cause: Option<CauseValue>,
    ) -> Result<(), String> {
        let mut encoded = Vec::new();
        for m in &h245 {
            encoded.push(msg::encode_h245(m)?);
        }
        let uu = msg::encode_uu(body, self.tunnel, encoded)?;
        let mut q = Q931::new(mt, self.cr);
        if let Some(c) = cause {
            q.set_cause(c).map_err(|e| e.to_string())?;
        }
        q.set_user_user(&uu).map_err(|e| e.to_string())?;
        self.write_q931(&q).await
    }

    /// The callee's CallProceeding, Alerting or Connect, with the fastStart answer when it is
    /// the message `--fast-start-in` names (`fast` is taken then), and the media started
    /// towards the caller's accepted channel once it is sent.
    async fn send_fast(
        &mut self,
        mt: MessageType,
        mut body: Body,
        h245: Vec<H245Msg>,
        fast: &mut Option<faststart::Accepted>,
    ) -> Result<(), String> {
        let carries = match self.ep.args.fast_start_in {
            FastIn::Proceeding => true,
            FastIn::Alerting => mt != MessageType::CallProceeding,
            FastIn::Connect => mt == MessageType::Connect,
        };
        let Some(acc) = fast.take_if(|_| carries) else {
            return self.send(mt, body, h245, None).await;
        };
        faststart::set(&mut body, acc.olcs);
        self.send(mt, body, h245, None).await?;
        emit(json!({
            "event":"fast-start","what":"accepted","in":format!("{mt:?}"),
            "codec": acc.codec.name(),
            "remote_rtp": acc.remote_rtp.map(|a| a.to_string()),
            "remote_rtcp": acc.remote_rtcp.map(|a| a.to_string()),
            "local_rtp": acc.local_rtp.to_string(),
        }));
        self.session.fast_started(acc.remote_rtp, acc.lcn);
        self.h245_events(Vec::new());
        Ok(())
    }

    /// Sends H.245 messages the way this call carries them.
    async fn send_h245(&mut self, msgs: Vec<H245Msg>) -> Result<(), String> {
        if msgs.is_empty() {
            return Ok(());
        }
        if self.tunnel {
            let body = msg::facility_uuie(&self.ids);
            return self.send(MessageType::Facility, body, msgs, None).await;
        }
        let Some(w) = self.h245_w.as_mut() else {
            self.h245_pending.extend(msgs);
            return Ok(());
        };
        for m in msgs {
            let frame = tpkt::encode(&msg::encode_h245(&m)?).map_err(|e| e.to_string())?;
            w.write_all(&frame)
                .await
                .map_err(|e| format!("H.245 write: {e}"))?;
        }
        Ok(())
    }

    fn h245_events(&mut self, events: Vec<serde_json::Value>) {
        // RTP stops (a pause) or starts before the counts of the events are taken
        self.media.set_target(self.session.sending());
        for e in events {
            emit(self.stamp(e));
        }
        self.check_media_up();
        // The hold starts once, at the OLC Ack; before that the deadline is the grace timer.
        if self.caller && self.session.olc_acked && !self.hold_started {
            self.hold_started = true;
            self.deadline = Some(Instant::now() + self.hold.unwrap_or(Duration::from_millis(1000)));
        }
    }

    /// The caller's fastStart answer, in the first message of the callee that has one.
    fn on_fast_start_answer(&mut self, mt: MessageType, body: &Body) {
        if !self.fast_proposed {
            return;
        }
        let Some(list) = faststart::of(body) else {
            return;
        };
        self.fast_proposed = false;
        let a = faststart::answer(list);
        emit(json!({
            "event":"fast-start","what":"accepted","in":format!("{mt:?}"),
            "codec": a.codec.map(|c| c.name()),
            "remote_rtp": a.remote_rtp.map(|a| a.to_string()),
            "remote_rtcp": a.remote_rtcp.map(|a| a.to_string()),
            "reverse": a.reverse,
        }));
        if a.codec.is_some() {
            self.session.fast_started(a.remote_rtp, a.lcn.unwrap_or(1));
            self.h245_events(Vec::new());
        }
    }

    async fn on_h245_bytes(&mut self, b: &[u8]) -> Result<bool, String> {
        let m = match msg::decode_h245(b) {
            Ok(m) => m,
            Err(e) => {
                emit(json!({"event":"malformed","where":"h245","detail":e,"len":b.len()}));
                return Ok(false);
            }
        };
        let out = self.session.on_message(m);
        let ended = out.ended;
        self.peer_ended |= ended;
        self.send_h245(out.send).await?;
        self.h245_events(out.events);
        Ok(ended)
    }

    async fn attach_h245(&mut self, stream: TcpStream) -> Result<(), String> {
        let _ = stream.set_nodelay(true);
        let (r, w) = stream.into_split();
        tokio::spawn(read_tpkt(r, Chan::H245, self.tx.clone()));
        self.h245_w = Some(w);
        let mut msgs = std::mem::take(&mut self.h245_pending);
        let start = self.session.start();
        msgs.splice(0..0, start);
        self.send_h245(msgs).await
    }

    /// Hang up: endSessionCommand, then ReleaseComplete with `cause`.
    async fn hangup(&mut self, cause: CauseValue, reason: Option<h225::ReleaseCompleteReason>) {
        if self.session.started() {
            let end = self.session.end();
            if let Err(e) = self.send_h245(end).await {
                log(&e);
            }
        }
        if let Some(mut w) = self.h245_w.take() {
            let _ = w.shutdown().await;
        }
        let reason_text = reason.as_ref().map(asn::choice_name);
        let body = msg::release_complete_uuie(&self.ids, reason);
        if let Err(e) = self
            .send(MessageType::ReleaseComplete, body, Vec::new(), Some(cause))
            .await
        {
            log(&e);
        }
        let _ = self.w.shutdown().await;
        emit(json!({"event":"released","cause":cause.0,"reason":reason_text,"by":"self"}));
    }

    /// H.323 8.5 phase E, steps c and d: endSessionCommand, then wait for the peer's before
    /// ReleaseComplete (so the peer sees the H.245 end before the release, also when H.245
    /// runs on its own connection). False when there is no H.245 session to end.
    async fn begin_hangup(&mut self) -> bool {
        if !self.session.started() || !(self.tunnel || self.h245_w.is_some()) {
            return false;
        }
        let end = self.session.end();
        if let Err(e) = self.send_h245(end).await {
            log(&e);
            return false;
        }
        self.ending = true;
        self.deadline = Some(Instant::now() + END_WAIT);
        true
    }

    async fn finish_hangup(&mut self) -> End {
        self.hangup(CauseValue::NORMAL_CALL_CLEARING, None).await;
        self.disengage().await;
        if self.ok {
            End::Normal
        } else {
            End::Failed("H.245 incomplete".into())
        }
    }

    async fn disengage(&self) {
        if !self.admitted {
            return;
        }
        let (Some(ras), Some((eid, gkid))) = (self.ep.ras.as_ref(), self.ep.registration()) else {
            return;
        };
        let m = msg::drq(ras.seq(), eid, gkid, &self.ids, self.answered);
        match ras.transact(m).await {
            Ok(RasMessage::disengageConfirm(_)) => emit(json!({"event":"dcf"})),
            Ok(RasMessage::disengageReject(drj)) => {
                emit(json!({"event":"drj","reason":asn::choice_name(&drj.reject_reason)}))
            }
            Ok(other) => emit(
                json!({"event":"error","what":"drq","detail":format!("unexpected reply {}", asn::choice_name(&other))}),
            ),
            Err(e) => emit(json!({"event":"error","what":"drq","detail":e})),
        }
    }

    /// Handles one Q.931 frame; Some(end) when the call is over.
    async fn on_q931(&mut self, b: &[u8]) -> Result<Option<End>, String> {
        let q = match Q931::parse(b) {
            Ok(q) => q,
            Err(e) => {
                emit(
                    json!({"event":"malformed","where":"q931","detail":e.to_string(),"len":b.len()}),
                );
                return Ok(None);
            }
        };
        let uu = match q.user_user() {
            Ok(Some(uu)) => match msg::decode_uu(&uu.data) {
                Ok(u) => Some(u),
                Err(e) => {
                    emit(json!({"event":"malformed","where":"uuie","detail":e}));
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                emit(json!({"event":"malformed","where":"q931","detail":e.to_string()}));
                None
            }
        };
        let pdu = uu.map(|u| u.h323_uu_pdu);
        if let Some(p) = &pdu {
            if self.caller
                && self.tunnel
                && p.h245_tunnelling == Some(false)
                && q.message_type != MessageType::ReleaseComplete
            {
                log("callee refused H.245 tunneling: using a separate H.245 channel");
                self.tunnel = false;
            }
        }
        let body = pdu.as_ref().map(|p| p.h323_message_body.clone());
        if let Some(b) = body
            .as_ref()
            .filter(|_| q.message_type != MessageType::ReleaseComplete)
        {
            self.on_fast_start_answer(q.message_type, b);
        }
        let control: Vec<Vec<u8>> = pdu
            .as_ref()
            .and_then(|p| p.h245_control.clone())
            .map(|c| c.into_iter().map(|o| o.to_vec()).collect())
            .unwrap_or_default();

        match q.message_type {
            MessageType::ReleaseComplete => {
                let cause = q.cause().ok().flatten().map(|c| c.value.0);
                let reason = match &body {
                    Some(Body::releaseComplete(rc)) => rc.reason.as_ref().map(asn::choice_name),
                    _ => None,
                };
                emit(json!({"event":"released","cause":cause,"reason":reason,"by":"remote"}));
                return Ok(Some(if self.connected {
                    End::Normal
                } else {
                    End::Failed(format!(
                        "released before connect, cause {cause:?} reason {reason:?}"
                    ))
                }));
            }
            MessageType::CallProceeding => emit(json!({"event":"call-proceeding"})),
            MessageType::Alerting => emit(json!({"event":"alerting"})),
            MessageType::Progress => emit(json!({"event":"progress"})),
            MessageType::Facility => {
                if let Some(Body::facility(f)) = &body {
                    let reason = asn::choice_name(&f.reason);
                    if reason != "transportedInformation" {
                        emit(json!({"event":"facility","reason":reason}));
                    }
                }
            }
            MessageType::Connect => {
                self.connected = true;
                emit(json!({"event":"connected","tunneling":self.tunnel}));
                if self.fast_proposed {
                    // H.323 8.1.7.1: no answer up to Connect, the channels open with H.245
                    self.fast_proposed = false;
                    emit(json!({"event":"fast-start","what":"none"}));
                }
                if self.caller && !self.hold_started {
                    self.deadline = Some(
                        Instant::now()
                            + self.hold.unwrap_or(Duration::from_millis(1000))
                            + H245_GRACE,
                    );
                }
            }
            MessageType::StatusEnquiry => {
                // Q.931 5.8.10: Status with cause 30 and the call state (10 active, 4 call
                // delivered on the caller before Connect, 7 call received on the callee).
                let state: u8 = match (self.connected, self.caller) {
                    (true, _) => 10,
                    (false, true) => 4,
                    (false, false) => 7,
                };
                let uu = msg::encode_uu(msg::status_uuie(&self.ids), self.tunnel, Vec::new())?;
                let mut st = Q931::new(MessageType::Status, self.cr);
                st.set_cause(CauseValue(30)).map_err(|e| e.to_string())?;
                st.set_ie(IE_CALL_STATE, vec![state])
                    .map_err(|e| e.to_string())?;
                st.set_user_user(&uu).map_err(|e| e.to_string())?;
                self.write_q931(&st).await?;
                emit(json!({"event":"status-enquiry","state":state}));
            }
            other => emit(json!({"event":"q931","what":"ignored","type":other.to_u8()})),
        }

        // A separate H.245 address from the callee (usually in Connect).
        if self.caller && !self.tunnel && self.h245_w.is_none() {
            let addr = match &body {
                Some(Body::connect(c)) => c.h245_address.as_ref(),
                Some(Body::alerting(a)) => a.h245_address.as_ref(),
                Some(Body::callProceeding(c)) => c.h245_address.as_ref(),
                Some(Body::facility(f)) => f.h245_address.as_ref(),
                _ => None,
            }
            .and_then(asn::socket_addr);
            if let Some(addr) = addr {
                match TcpStream::connect(addr).await {
                    Ok(s) => {
                        emit(json!({"event":"h245","what":"channel","remote":addr.to_string()}));
                        self.attach_h245(s).await?;
                    }
                    Err(e) => emit(
                        json!({"event":"error","what":"h245-connect","detail":format!("{addr}: {e}")}),
                    ),
                }
            }
        }

        let mut ended = false;
        for c in control {
            ended |= self.on_h245_bytes(&c).await?;
        }
        // The caller starts tunneled H.245 once the call is connected.
        if self.caller && self.tunnel && self.connected && !self.session.started() {
            let start = self.session.start();
            self.send_h245(start).await?;
        }
        let _ = ended;
        Ok(None)
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Frame>) -> End {
        let mut shutdown = self.ep.shutdown.clone();
        loop {
            let deadline = self.deadline;
            let next_action = self.actions.next_at();
            let listener = self.h245_listener.as_ref();
            tokio::select! {
                f = rx.recv() => {
                    match f {
                        Some(Frame::Data(Chan::Q931, b)) => match self.on_q931(&b).await {
                            Ok(Some(end)) => {
                                self.disengage().await;
                                return end;
                            }
                            Ok(None) => {
                                if self.ending && self.peer_ended {
                                    return self.finish_hangup().await;
                                }
                            }
                            Err(e) => {
                                emit(json!({"event":"error","what":"call","detail":e}));
                            }
                        },
                        Some(Frame::Data(Chan::H245, b)) => {
                            if let Err(e) = self.on_h245_bytes(&b).await {
                                emit(json!({"event":"error","what":"h245","detail":e}));
                            }
                            if self.ending && self.peer_ended {
                                return self.finish_hangup().await;
                            }
                        }
                        Some(Frame::Closed(Chan::H245, why)) => {
                            log(&format!("H.245 channel closed {}", why.unwrap_or_default()));
                            self.h245_w = None;
                        }
                        Some(Frame::Closed(Chan::Q931, why)) => {
                            emit(json!({"event":"released","cause":null,"reason":why.unwrap_or_else(|| "connection closed".into()),"by":"remote"}));
                            self.disengage().await;
                            return End::Failed("call signaling connection closed without ReleaseComplete".into());
                        }
                        None => return End::Failed("reader gone".into()),
                    }
                }
                acc = async { match listener { Some(l) => l.accept().await, None => std::future::pending().await } } => {
                    self.h245_listener = None;
                    match acc {
                        Ok((s, peer)) => {
                            emit(json!({"event":"h245","what":"channel","remote":peer.to_string()}));
                            if let Err(e) = self.attach_h245(s).await {
                                emit(json!({"event":"error","what":"h245","detail":e}));
                            }
                        }
                        Err(e) => emit(json!({"event":"error","what":"h245-accept","detail":e.to_string()})),
                    }
                }
                _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                    self.deadline = None;
                    if !self.connected && self.ep.args.cancel_after_ms.is_some() {
                        // --cancel-after-ms: the caller gives up before the answer
                        self.hangup(CauseValue::NORMAL_CALL_CLEARING, None).await;
                        self.disengage().await;
                        return End::Normal;
                    }
                    if !self.ending {
                        if !self.session.olc_acked {
                            emit(json!({"event":"error","what":"h245","detail":"no audio channel before the hold ran out"}));
                        }
                        self.ok = self.session.olc_acked || !self.caller;
                        if self.begin_hangup().await {
                            continue;
                        }
                    } else {
                        log("no endSessionCommand from the peer in time");
                    }
                    return self.finish_hangup().await;
                }
                _ = async { match next_action { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                    if let Err(e) = self.run_due().await {
                        emit(json!({"event":"error","what":"h245","detail":e}));
                    }
                }
                r = shutdown.changed() => {
                    if r.is_err() || *shutdown.borrow() {
                        self.hangup(CauseValue::NORMAL_CALL_CLEARING, None).await;
                        self.disengage().await;
                        return End::Normal;
                    }
                }
            }
        }
    }
}

/// The address this side of the connection has: where media and H.245 sockets go, also when
/// the call-signaling socket is bound to the unspecified address.
fn local_ip(stream: &TcpStream, ep: &Ep) -> IpAddr {
    stream
        .local_addr()
        .map(|a| a.ip())
        .unwrap_or_else(|_| ep.me.csa.ip())
}

fn e164(a: &h225::AliasAddress) -> Option<String> {
    match a {
        h225::AliasAddress::dialledDigits(d) => Some(String::from(d.clone())),
        _ => None,
    }
}

/// Places the call of `--call`: Ok when it connected and ended normally.
pub async fn outgoing(ep: Arc<Ep>, target: String) -> Result<(), String> {
    let dest = asn::typed_alias(&target).map_err(|e| e.to_string())?;
    let ids = random_ids();
    let tunnel = ep.args.h245 == H245Mode::Tunnel;
    let mut admitted = false;
    let addr = match ep.args.direct {
        Some(a) => a,
        None => {
            let (Some(ras), Some((eid, gkid))) = (ep.ras.as_ref(), ep.registration()) else {
                emit(json!({"event":"error","what":"arq","detail":"not registered"}));
                return Err("not registered".into());
            };
            let m = msg::arq(
                ras.seq(),
                &ep.me,
                eid,
                gkid,
                &ids,
                Some(vec![dest.clone()]),
                ep.me.aliases.clone(),
                false,
            )?;
            match ras.transact(m).await {
                Ok(RasMessage::admissionConfirm(acf)) => {
                    let d = asn::socket_addr(&acf.dest_call_signal_address);
                    emit(json!({
                        "event":"acf",
                        "dest": d.map(|a| a.to_string()),
                        "call_model": asn::choice_name(&acf.call_model),
                        "bandwidth": acf.band_width.0,
                    }));
                    admitted = true;
                    d.ok_or("ACF destCallSignalAddress is not IPv4")?
                }
                Ok(RasMessage::admissionReject(arj)) => {
                    let reason = asn::choice_name(&arj.reject_reason);
                    emit(json!({"event":"arj","reason":reason}));
                    return Err(format!("ARJ {reason}"));
                }
                Ok(other) => {
                    emit(
                        json!({"event":"error","what":"arq","detail":format!("unexpected reply {}", asn::choice_name(&other))}),
                    );
                    return Err("unexpected ARQ reply".into());
                }
                Err(e) => {
                    emit(json!({"event":"error","what":"arq","detail":e}));
                    return Err(e);
                }
            }
        }
    };
    let stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => {
            emit(json!({"event":"error","what":"connect","detail":format!("{addr}: {e}")}));
            return Err(e.to_string());
        }
    };
    let _ = stream.set_nodelay(true);
    let lip = local_ip(&stream, &ep);
    let media = media_pair(lip)
        .await
        .map_err(|e| format!("media sockets: {e}"))?;
    let rtp = media.0.local_addr().map_err(|e| e.to_string())?;
    let rtcp = media.1.local_addr().map_err(|e| e.to_string())?;
    let (r, w) = stream.into_split();
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(read_tpkt(r, Chan::Q931, tx.clone()));
    let cr = CallReference::new(ids.crv, false).map_err(|e| e.to_string())?;
    let mut call = Call {
        ep: ep.clone(),
        caller: true,
        ids: ids.clone(),
        cr,
        w,
        tunnel,
        session: Session::new(true, rtp, rtcp),
        h245_w: None,
        h245_pending: Vec::new(),
        h245_listener: None,
        tx,
        connected: false,
        hold: Some(Duration::from_millis(ep.args.hold_ms.unwrap_or(1000))),
        deadline: None,
        hold_started: false,
        ending: false,
        peer_ended: false,
        ok: false,
        answered: false,
        admitted,
        media: Media::new(media, ep.args.rtp, ep.args.te_pt),
        fast_proposed: ep.args.fast_start,
        media_up: false,
        actions: actions::Schedule::default(),
    };
    let mut body = msg::setup_uuie(
        &ids,
        ep.me.aliases.clone(),
        Some(vec![dest.clone()]),
        Some(addr),
        None,
        ep.me.csa,
    )?;
    if ep.args.fast_start {
        let list = faststart::proposals(rtp, rtcp)?;
        emit(json!({"event":"fast-start","what":"proposed","count":list.len()}));
        faststart::set(&mut body, list);
    }
    let uu = msg::encode_uu(body, tunnel, Vec::new())?;
    let mut q = Q931::new(MessageType::Setup, cr);
    let qe = |e: causeway_h323::q931::Q931Error| e.to_string();
    q.set_bearer_capability(BEARER.to_vec()).map_err(qe)?;
    let display = ep
        .me
        .aliases
        .iter()
        .find_map(|a| match a {
            h225::AliasAddress::h323_ID(s) => Some(asn::bmp_text_lossy(s)),
            _ => None,
        })
        .unwrap_or_else(|| "h323-endpoint".into());
    if display.is_ascii() {
        q.set_display(&display).map_err(qe)?;
    }
    if let Some(n) = ep.me.aliases.iter().find_map(e164) {
        q.set_calling_party_number(&PartyNumber::e164(&n))
            .map_err(qe)?;
    }
    if let Some(n) = e164(&dest) {
        q.set_called_party_number(&PartyNumber::e164(&n))
            .map_err(qe)?;
    }
    q.set_user_user(&uu).map_err(qe)?;
    call.write_q931(&q).await?;
    emit(json!({"event":"setup-sent","to":addr.to_string(),"tunneling":tunnel}));
    call.deadline = ep
        .args
        .cancel_after_ms
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    ep.active_calls.fetch_add(1, Ordering::SeqCst);
    let end = call.run(rx).await;
    ep.active_calls.fetch_sub(1, Ordering::SeqCst);
    match end {
        End::Normal => Ok(()),
        End::Failed(e) => Err(e),
    }
}

/// The H.460.18 call-back connection: to `to`, with a Facility (undefinedReason, the
/// callIdentifier of the SCI) as its first message; the Setup follows on it.
pub async fn call_back(ep: &Ep, to: SocketAddr, call_id: [u8; 16]) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(to)
        .await
        .map_err(|e| format!("connect {to}: {e}"))?;
    let payload = msg::call_back_facility(call_id, ep.args.h245 == H245Mode::Tunnel)?;
    let frame = tpkt::encode(&payload).map_err(|e| e.to_string())?;
    stream
        .write_all(&frame)
        .await
        .map_err(|e| format!("send Facility: {e}"))?;
    emit(json!({"event":"called-back","to":to.to_string()}));
    Ok(stream)
}
