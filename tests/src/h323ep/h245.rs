//! The endpoint's H.245 session, without I/O: capability exchange (the set of `caps`: G.711
//! µ-law and user input), master/slave determination (H.245 Annex C.2, terminalType 50), one
//! forward audio logical channel opened by the caller (and one by the callee with
//! `--both-ways`), DTMF as UserInputIndication (`uii`), and the third-party-initiated pause of
//! H.323 8.4.6 both ways: an empty TerminalCapabilitySet received closes the channel this side
//! transmits on (and stops its RTP) until a non-empty one comes, when it opens a new channel
//! with a new number; [`Session::pause`] and [`Session::resume`] send them. The call driver
//! carries the messages it returns, tunneled in H.225.0 or on a separate TPKT channel; this
//! type does not know which.

use super::asn;
use super::caps;
use super::msg::{self, H245Msg};
use super::uii;
use causeway_h323_asn1::multimedia_system_control as h245;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// What one input produced: messages to send and events to print.
#[derive(Default)]
pub struct Out {
    pub send: Vec<H245Msg>,
    pub events: Vec<Value>,
    /// The peer ended the session (endSessionCommand).
    pub ended: bool,
}

pub struct Session {
    opener: bool,
    rtp: SocketAddr,
    rtcp: SocketAddr,
    sdn: u32,
    started: bool,
    tcs_acked: bool,
    remote_tcs: bool,
    msd_acked: bool,
    olc_sent: bool,
    pub olc_acked: bool,
    /// The peer opened a channel to this side (and it was acked).
    pub olc_received: bool,
    /// Where the peer's OpenLogicalChannelAck says to send RTP.
    pub remote_rtp: Option<SocketAddr>,
    end_sent: bool,
    /// The sequence number of the last TerminalCapabilitySet sent.
    tcs_seq: u8,
    /// The channel this side transmits on, while it is open.
    own_lcn: Option<u16>,
    /// The number of the next channel this side opens.
    next_lcn: u16,
    /// The peer sent an empty TerminalCapabilitySet and no full one since.
    paused: bool,
    /// A channel was closed for the pause and is to be opened again on resume.
    reopen: bool,
    /// The channel opened again on resume, until its Ack.
    reopening: Option<u16>,
}

/// H.245 C.2: equal terminal types are decided by the status determination numbers, the
/// difference taken modulo 2^24; 0 and 2^23 cannot be decided.
fn local_is_master(
    local_type: u8,
    local_sdn: u32,
    remote_type: u8,
    remote_sdn: u32,
) -> Option<bool> {
    if local_type != remote_type {
        return Some(local_type > remote_type);
    }
    let diff = remote_sdn.wrapping_sub(local_sdn) & 0x00ff_ffff;
    match diff {
        0 | 0x0080_0000 => None,
        d => Some(d < 0x0080_0000),
    }
}

impl Session {
    /// `opener`: this side opens an audio channel (the caller; the callee with `--both-ways`).
    /// `rtp`/`rtcp`: this side's media sockets.
    pub fn new(opener: bool, rtp: SocketAddr, rtcp: SocketAddr) -> Self {
        Session {
            opener,
            rtp,
            rtcp,
            sdn: rand::random::<u32>() & 0x00ff_ffff,
            started: false,
            tcs_acked: false,
            remote_tcs: false,
            msd_acked: false,
            olc_sent: false,
            olc_acked: false,
            olc_received: false,
            remote_rtp: None,
            end_sent: false,
            tcs_seq: 0,
            own_lcn: None,
            next_lcn: 1,
            paused: false,
            reopen: false,
            reopening: None,
        }
    }

    pub fn started(&self) -> bool {
        self.started
    }

    /// The audio channels were opened by fastStart (this side transmits on `lcn`): H.245
    /// opens none, and RTP goes to `remote_rtp` as if an OpenLogicalChannelAck had said so.
    pub fn fast_started(&mut self, remote_rtp: Option<SocketAddr>, lcn: u16) {
        self.opener = false;
        self.olc_acked = true;
        self.remote_rtp = remote_rtp;
        self.own_lcn = Some(lcn);
        self.next_lcn = self.next_lcn.max(lcn.saturating_add(1));
    }

    /// Where this side's RTP goes now: none before its channel is open, nor while paused.
    pub fn sending(&self) -> Option<SocketAddr> {
        self.own_lcn.filter(|_| !self.paused).and(self.remote_rtp)
    }

    fn next_tcs_seq(&mut self) -> u8 {
        self.tcs_seq = self.tcs_seq.wrapping_add(1);
        self.tcs_seq
    }

    /// The opening messages: TCS and MSD (sent once).
    pub fn start(&mut self) -> Vec<H245Msg> {
        if self.started {
            return Vec::new();
        }
        self.started = true;
        let seq = self.next_tcs_seq();
        vec![caps::full(seq), msg::msd(self.sdn)]
    }

    /// Pauses the peer (H.323 8.4.6): an empty TerminalCapabilitySet, and `pause-sent`.
    pub fn pause(&mut self) -> Out {
        let seq = self.next_tcs_seq();
        Out {
            send: vec![caps::empty(seq)],
            events: vec![json!({"event":"pause-sent","seq":seq})],
            ended: false,
        }
    }

    /// Ends the pause: the full TerminalCapabilitySet again, and `resume-sent`.
    pub fn resume(&mut self) -> Out {
        let seq = self.next_tcs_seq();
        Out {
            send: vec![caps::full(seq)],
            events: vec![json!({"event":"resume-sent","seq":seq})],
            ended: false,
        }
    }

    /// endSessionCommand, once.
    pub fn end(&mut self) -> Vec<H245Msg> {
        if self.end_sent {
            return Vec::new();
        }
        self.end_sent = true;
        vec![msg::end_session()]
    }

    /// An OpenLogicalChannel for this side's audio, with a number not used before.
    fn open(&mut self, out: &mut Out) -> Option<u16> {
        let lcn = self.next_lcn;
        self.next_lcn = self.next_lcn.wrapping_add(1).max(1);
        match msg::olc(lcn, self.rtcp) {
            Ok(m) => {
                out.send.push(m);
                Some(lcn)
            }
            Err(e) => {
                out.events
                    .push(json!({"event":"error","what":"olc","detail":e}));
                None
            }
        }
    }

    fn maybe_open(&mut self, out: &mut Out) {
        if self.opener
            && !self.olc_sent
            && !self.paused
            && self.tcs_acked
            && self.remote_tcs
            && self.msd_acked
        {
            self.olc_sent = true;
            self.open(out);
        }
    }

    /// A TerminalCapabilitySet: acked; an empty one pauses this side's transmission, a full
    /// one after it resumes it.
    fn on_tcs(&mut self, t: &h245::TerminalCapabilitySet, out: &mut Out) {
        let empty = caps::is_empty(t);
        out.send.push(msg::tcs_ack(t.sequence_number.0));
        out.events.push(json!({
            "event":"h245","what":"tcs","empty":empty,
            "user_input":caps::takes_user_input(t),
        }));
        if empty {
            if !self.paused {
                self.paused = true;
                if let Some(lcn) = self.own_lcn.take() {
                    out.send.push(caps::close(lcn));
                    self.reopen = true;
                }
                out.events.push(json!({"event":"paused"}));
            }
            return;
        }
        self.remote_tcs = true;
        if !self.paused {
            return;
        }
        self.paused = false;
        if std::mem::take(&mut self.reopen) {
            // "resumed" once the new channel is acked
            self.reopening = self.open(out);
        } else {
            out.events.push(json!({"event":"resumed"}));
        }
    }

    fn on_olc(&mut self, o: &h245::OpenLogicalChannel, out: &mut Out) {
        let lcn = o.forward_logical_channel_number.0;
        let remote_rtcp = match &o.forward_logical_channel_parameters.multiplex_parameters {
            h245::OpenLogicalChannelForwardLogicalChannelParametersMultiplexParameters::h2250LogicalChannelParameters(p) => {
                p.media_control_channel.as_ref().and_then(asn::h245_socket_addr)
            }
            _ => None,
        };
        match msg::olc_ack(lcn, self.rtp, self.rtcp) {
            Ok(a) => {
                out.send.push(a);
                self.olc_received = true;
            }
            Err(e) => out
                .events
                .push(json!({"event":"error","what":"olc-ack","detail":e})),
        }
        out.events.push(json!({
            "event":"h245","what":"olc","lcn":lcn,
            "remote_rtcp": remote_rtcp.map(|a| a.to_string()),
            "local_rtp": self.rtp.to_string(),
        }));
    }

    fn on_olc_ack(&mut self, a: &h245::OpenLogicalChannelAck, out: &mut Out) {
        let lcn = a.forward_logical_channel_number.0;
        self.olc_acked = true;
        let (rtp, rtcp) = match &a.forward_multiplex_ack_parameters {
            Some(h245::OpenLogicalChannelAckForwardMultiplexAckParameters::h2250LogicalChannelAckParameters(p)) => (
                p.media_channel.as_ref().and_then(asn::h245_socket_addr),
                p.media_control_channel.as_ref().and_then(asn::h245_socket_addr),
            ),
            _ => (None, None),
        };
        self.remote_rtp = rtp;
        out.events.push(json!({
            "event":"h245","what":"olc-ack","lcn": lcn,
            "remote_rtp": rtp.map(|a| a.to_string()),
            "remote_rtcp": rtcp.map(|a| a.to_string()),
        }));
        let reopened = self.reopening == Some(lcn);
        if reopened {
            self.reopening = None;
        }
        if self.paused {
            // paused while the channel was being opened: closed again at once
            out.send.push(caps::close(lcn));
            self.reopen = true;
            return;
        }
        self.own_lcn = Some(lcn);
        if reopened {
            out.events.push(json!({"event":"resumed"}));
        }
    }

    fn on_user_input(u: &h245::UserInputIndication, out: &mut Out) {
        match uii::read(u) {
            uii::Read::Inputs(inputs) => {
                for i in inputs {
                    out.events.push(json!({
                        "event":"uii","digit":i.digit.to_string(),"kind":i.kind,
                        "duration":i.duration,
                    }));
                }
            }
            uii::Read::Update(d) => out
                .events
                .push(json!({"event":"h245","what":"uii-update","duration":d})),
            uii::Read::Other => out.events.push(
                json!({"event":"h245","what":"ignored","message":format!("userInput {}", asn::choice_name(u))}),
            ),
        }
    }

    pub fn on_message(&mut self, m: H245Msg) -> Out {
        use h245::{
            CommandMessage as C, IndicationMessage as I, RequestMessage as Q, ResponseMessage as S,
        };
        let mut out = Out::default();
        if !self.started {
            out.send.extend(self.start());
        }
        match m {
            H245Msg::request(Q::terminalCapabilitySet(t)) => self.on_tcs(&t, &mut out),
            H245Msg::request(Q::masterSlaveDetermination(d)) => {
                match local_is_master(
                    msg::TERMINAL_TYPE,
                    self.sdn,
                    d.terminal_type,
                    d.status_determination_number,
                ) {
                    Some(master) => out.send.push(msg::msd_ack(!master)),
                    None => {
                        // Indeterminate: start again with a new number (H.245 C.2 retries).
                        self.sdn = rand::random::<u32>() & 0x00ff_ffff;
                        out.send.push(msg::msd(self.sdn));
                    }
                }
            }
            H245Msg::response(S::terminalCapabilitySetAck(_)) => {
                self.tcs_acked = true;
                out.events.push(json!({"event":"h245","what":"tcs-ack"}));
            }
            H245Msg::response(S::masterSlaveDeterminationAck(a)) => {
                self.msd_acked = true;
                let role = match a.decision {
                    h245::MasterSlaveDeterminationAckDecision::master(()) => "master",
                    h245::MasterSlaveDeterminationAckDecision::slave(()) => "slave",
                };
                out.events
                    .push(json!({"event":"h245","what":"msd","role":role}));
            }
            H245Msg::response(S::masterSlaveDeterminationReject(_)) => {
                self.sdn = rand::random::<u32>() & 0x00ff_ffff;
                out.send.push(msg::msd(self.sdn));
            }
            H245Msg::request(Q::openLogicalChannel(o)) => self.on_olc(&o, &mut out),
            H245Msg::response(S::openLogicalChannelAck(a)) => self.on_olc_ack(&a, &mut out),
            H245Msg::response(S::openLogicalChannelReject(r)) => {
                out.events.push(
                    json!({"event":"h245","what":"olc-reject","cause":asn::choice_name(&r.cause)}),
                );
            }
            H245Msg::request(Q::closeLogicalChannel(c)) => {
                let lcn = c.forward_logical_channel_number.0;
                out.send.push(caps::close_ack(lcn));
                out.events.push(json!({"event":"channel-closed","lcn":lcn}));
            }
            H245Msg::response(S::closeLogicalChannelAck(a)) => {
                out.events.push(
                    json!({"event":"h245","what":"clc-ack","lcn":a.forward_logical_channel_number.0}),
                );
            }
            H245Msg::indication(I::userInput(u)) => Self::on_user_input(&u, &mut out),
            H245Msg::command(C::endSessionCommand(_)) => {
                out.ended = true;
                out.events
                    .push(json!({"event":"h245","what":"end-session"}));
                out.send.extend(self.end());
            }
            other => {
                out.events.push(
                    json!({"event":"h245","what":"ignored","message":asn::choice_name(&other)}),
                );
            }
        }
        self.maybe_open(&mut out);
        out
    }
}

#[cfg(test)]
mod tests;
