//! The endpoint's H.245 session, without I/O: capability exchange (one G.711 µ-law
//! capability), master/slave determination (H.245 Annex C.2, terminalType 50) and one forward
//! audio logical channel opened by the caller (and one by the callee with `--both-ways`). The call driver carries the messages it returns,
//! tunneled in H.225.0 or on a separate TPKT channel; this type does not know which.

use super::asn;
use super::msg::{self, H245Msg};
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
    /// Where the peer's OpenLogicalChannelAck says to send RTP.
    pub remote_rtp: Option<SocketAddr>,
    end_sent: bool,
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
    /// `rtp`/`rtcp`: this side's
    /// media sockets.
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
            remote_rtp: None,
            end_sent: false,
        }
    }

    pub fn started(&self) -> bool {
        self.started
    }

    /// The audio channels were opened by fastStart: H.245 opens none, and RTP goes to
    /// `remote_rtp` as if an OpenLogicalChannelAck had said so.
    pub fn fast_started(&mut self, remote_rtp: Option<SocketAddr>) {
        self.opener = false;
        self.olc_acked = true;
        self.remote_rtp = remote_rtp;
    }

    /// The opening messages: TCS and MSD (sent once).
    pub fn start(&mut self) -> Vec<H245Msg> {
        if self.started {
            return Vec::new();
        }
        self.started = true;
        vec![msg::tcs(1), msg::msd(self.sdn)]
    }

    /// endSessionCommand, once.
    pub fn end(&mut self) -> Vec<H245Msg> {
        if self.end_sent {
            return Vec::new();
        }
        self.end_sent = true;
        vec![msg::end_session()]
    }

    fn maybe_open(&mut self, out: &mut Out) {
        if self.opener && !self.olc_sent && self.tcs_acked && self.remote_tcs && self.msd_acked {
            self.olc_sent = true;
            match msg::olc(1, self.rtcp) {
                Ok(m) => out.send.push(m),
                Err(e) => out
                    .events
                    .push(json!({"event":"error","what":"olc","detail":e})),
            }
        }
    }

    pub fn on_message(&mut self, m: H245Msg) -> Out {
        use h245::{CommandMessage as C, RequestMessage as Q, ResponseMessage as S};
        let mut out = Out::default();
        if !self.started {
            out.send.extend(self.start());
        }
        match m {
            H245Msg::request(Q::terminalCapabilitySet(t)) => {
                self.remote_tcs = true;
                out.send.push(msg::tcs_ack(t.sequence_number.0));
                out.events.push(json!({"event":"h245","what":"tcs"}));
            }
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
            H245Msg::request(Q::openLogicalChannel(o)) => {
                let lcn = o.forward_logical_channel_number.0;
                let remote_rtcp = match &o.forward_logical_channel_parameters.multiplex_parameters {
                    h245::OpenLogicalChannelForwardLogicalChannelParametersMultiplexParameters::h2250LogicalChannelParameters(p) => {
                        p.media_control_channel.as_ref().and_then(asn::h245_socket_addr)
                    }
                    _ => None,
                };
                match msg::olc_ack(lcn, self.rtp, self.rtcp) {
                    Ok(a) => out.send.push(a),
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
            H245Msg::response(S::openLogicalChannelAck(a)) => {
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
                    "event":"h245","what":"olc-ack",
                    "lcn": a.forward_logical_channel_number.0,
                    "remote_rtp": rtp.map(|a| a.to_string()),
                    "remote_rtcp": rtcp.map(|a| a.to_string()),
                }));
            }
            H245Msg::response(S::openLogicalChannelReject(r)) => {
                out.events.push(
                    json!({"event":"h245","what":"olc-reject","cause":asn::choice_name(&r.cause)}),
                );
            }
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
