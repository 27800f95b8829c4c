//! The callee's side of one call (H.323 8.1.2-8.1.4): the Setup, CallProceeding, the
//! answering ARQ, Alerting and Connect (with the fastStart answer in the message
//! `--fast-start-in` names), then the call runs as `Call::run`.

use super::*;

/// Serves one call-signaling connection accepted on our Q.931 socket (or opened by an
/// H.460.18 call-back).
pub async fn incoming(ep: Arc<Ep>, stream: TcpStream, peer: SocketAddr) {
    ep.active_calls.fetch_add(1, Ordering::SeqCst);
    if let Err(e) = answer(&ep, stream, peer).await {
        emit(json!({"event":"error","what":"incoming","detail":e}));
    }
    ep.active_calls.fetch_sub(1, Ordering::SeqCst);
}

async fn answer(ep: &Arc<Ep>, stream: TcpStream, peer: SocketAddr) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let lip = local_ip(&stream, ep);
    let (r, w) = stream.into_split();
    let (tx, mut rx) = mpsc::channel(64);
    tokio::spawn(read_tpkt(r, Chan::Q931, tx.clone()));
    // Wait for the Setup; anything before it is reported and skipped.
    let (q, setup, tunnel_offered) = loop {
        let Some(Frame::Data(Chan::Q931, b)) = rx.recv().await else {
            return Ok(());
        };
        let q = match Q931::parse(&b) {
            Ok(q) => q,
            Err(e) => {
                emit(
                    json!({"event":"malformed","where":"q931","from":peer.to_string(),"detail":e.to_string()}),
                );
                continue;
            }
        };
        if q.message_type != MessageType::Setup {
            emit(json!({"event":"q931","what":"before-setup","type":q.message_type.to_u8()}));
            continue;
        }
        let uu = match q.user_user().map_err(|e| e.to_string()).and_then(|u| {
            let u = u.ok_or("Setup without User-user")?;
            msg::decode_uu(&u.data)
        }) {
            Ok(u) => u,
            Err(e) => {
                emit(
                    json!({"event":"malformed","where":"setup","from":peer.to_string(),"detail":e}),
                );
                continue;
            }
        };
        let tunnel = uu.h323_uu_pdu.h245_tunnelling == Some(true);
        let Body::setup(s) = uu.h323_uu_pdu.h323_message_body else {
            emit(
                json!({"event":"malformed","where":"setup","detail":"Setup message without Setup-UUIE"}),
            );
            continue;
        };
        break (q, s, tunnel);
    };
    let ids = CallIds {
        crv: q.call_reference.value(),
        call_id: setup
            .call_identifier
            .as_ref()
            .map(|c| asn::guid_bytes(&c.guid))
            .unwrap_or_else(rand::random),
        conf_id: asn::guid_bytes(&setup.conference_id.0),
    };
    let from: Vec<String> = setup
        .source_address
        .iter()
        .flatten()
        .map(asn::typed_alias_text)
        .collect();
    let to: Vec<String> = setup
        .destination_address
        .iter()
        .flatten()
        .map(asn::typed_alias_text)
        .collect();
    emit(json!({
        "event":"setup","from":from,"to":to,"peer":peer.to_string(),
        "tunneling":tunnel_offered,
        "calling_number": q.calling_party_number().ok().flatten().map(|n| n.digits),
        "called_number": q.called_party_number().ok().flatten().map(|n| n.digits),
    }));
    let tunnel = tunnel_offered && ep.args.h245 == H245Mode::Tunnel;
    let media = media_pair(lip)
        .await
        .map_err(|e| format!("media sockets: {e}"))?;
    let rtp = media.0.local_addr().map_err(|e| e.to_string())?;
    let rtcp = media.1.local_addr().map_err(|e| e.to_string())?;
    let mut call = Call {
        ep: ep.clone(),
        caller: false,
        ids: ids.clone(),
        cr: q.call_reference.reply(),
        w,
        tunnel,
        session: Session::new(ep.args.both_ways, rtp, rtcp),
        h245_w: None,
        h245_pending: Vec::new(),
        h245_listener: None,
        tx,
        connected: false,
        hold: ep.args.hold_ms.map(Duration::from_millis),
        deadline: None,
        hold_started: true,
        ending: false,
        peer_ended: false,
        ok: false,
        answered: true,
        admitted: false,
        media: Media::new(media, ep.args.rtp, ep.args.te_pt),
        fast_proposed: false,
        media_up: false,
        actions: actions::Schedule::default(),
    };
    let mut fast = fast_answer(ep, &setup, rtp, rtcp);
    if ep.args.answer == Answer::No {
        call.hangup(
            CauseValue::CALL_REJECTED,
            Some(h225::ReleaseCompleteReason::destinationRejection(())),
        )
        .await;
        return Ok(());
    }
    let body = msg::call_proceeding_uuie(&ids);
    call.send_fast(MessageType::CallProceeding, body, Vec::new(), &mut fast)
        .await?;
    if let (Some(ras), Some((eid, gkid))) = (ep.ras.as_ref(), ep.registration()) {
        let src = setup.source_address.clone().unwrap_or_default();
        let m = msg::arq(
            ras.seq(),
            &ep.me,
            eid,
            gkid,
            &ids,
            Some(ep.me.aliases.clone()),
            src,
            true,
        )?;
        match ras.transact(m).await {
            Ok(RasMessage::admissionConfirm(acf)) => {
                call.admitted = true;
                emit(
                    json!({"event":"acf","answer":true,"dest":asn::socket_addr(&acf.dest_call_signal_address).map(|a| a.to_string())}),
                );
            }
            Ok(RasMessage::admissionReject(arj)) => {
                emit(
                    json!({"event":"arj","answer":true,"reason":asn::choice_name(&arj.reject_reason)}),
                );
                call.hangup(
                    CauseValue::CALL_REJECTED,
                    Some(h225::ReleaseCompleteReason::noPermission(())),
                )
                .await;
                return Ok(());
            }
            Ok(other) => {
                emit(
                    json!({"event":"error","what":"arq","detail":format!("unexpected reply {}", asn::choice_name(&other))}),
                );
                call.hangup(
                    CauseValue::TEMPORARY_FAILURE,
                    Some(h225::ReleaseCompleteReason::unreachableGatekeeper(())),
                )
                .await;
                return Ok(());
            }
            Err(e) => {
                emit(json!({"event":"error","what":"arq","detail":e}));
                call.hangup(
                    CauseValue::TEMPORARY_FAILURE,
                    Some(h225::ReleaseCompleteReason::unreachableGatekeeper(())),
                )
                .await;
                return Ok(());
            }
        }
    }
    let body = msg::alerting_uuie(&ids);
    call.send_fast(MessageType::Alerting, body, Vec::new(), &mut fast)
        .await?;
    if ep.args.answer == Answer::Ring {
        emit(json!({"event":"ringing"}));
        call.run(rx).await;
        return Ok(());
    }
    let (h245_addr, tunneled) = if tunnel {
        (None, call.session.start())
    } else {
        let l = TcpListener::bind((lip, 0))
            .await
            .map_err(|e| format!("H.245 listener: {e}"))?;
        let a = l.local_addr().map_err(|e| e.to_string())?;
        call.h245_listener = Some(l);
        (Some(a), Vec::new())
    };
    let body = msg::connect_uuie(&ids, h245_addr)?;
    call.send_fast(MessageType::Connect, body, tunneled, &mut fast)
        .await?;
    call.connected = true;
    emit(
        json!({"event":"connected","tunneling":tunnel,"h245_address":h245_addr.map(|a| a.to_string())}),
    );
    if let Some(h) = call.hold {
        call.deadline = Some(Instant::now() + h);
    }
    call.run(rx).await;
    Ok(())
}

/// The callee's fastStart answer to the Setup's proposals: with `--fast-start`, one channel
/// each way; without, the proposals are reported and left (slow start follows).
fn fast_answer(
    ep: &Ep,
    setup: &h225::SetupUUIE,
    rtp: SocketAddr,
    rtcp: SocketAddr,
) -> Option<faststart::Accepted> {
    let list = setup.fast_start.as_deref().filter(|l| !l.is_empty())?;
    if !ep.args.fast_start {
        emit(json!({"event":"fast-start","what":"ignored","proposals":list.len()}));
        return None;
    }
    let acc = faststart::accept(list, rtp, rtcp);
    if acc.is_none() {
        emit(json!({"event":"fast-start","what":"no-choice","proposals":list.len()}));
    }
    acc
}
