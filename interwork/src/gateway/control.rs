//! H.245 of an interworked call when fastStart did not settle the media (H.323 8.1.7.1, the
//! callee refused fastStart, or a delayed-offer call): capability exchange, master/slave
//! determination (H.245 C.2) and one audio channel each way, tunneled in H.225.
//!
//! `local` is what the SIP side offered (its codecs and the addresses where it receives);
//! our channel towards H.323 carries the first of its codecs the far end can receive, and
//! the far end's channel is acknowledged with the SIP side's address. Once our channel is
//! acknowledged, [`Event::Ready`] gives the media of the H.323 side as an SDP answer would
//! describe it (with the far end's codec too when its channel came first).
//!
//! Audio only (one stream): video in slow start is left for later. Must not touch H.225 or
//! SIP (the call flows send what this returns).

use crate::caps;
use crate::media::{Codec, Direction, Format, Kind, Media, Stream};
use causeway_h323::endpoint::{self as ep, H245Msg};
use causeway_h323_asn1::multimedia_system_control as h245;
use std::net::SocketAddr;

/// What H.245 tells the call.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Both channels are open: the far side's media.
    Ready(Media),
    /// The media cannot be set up (no common codec, a channel refused).
    Failed(String),
    /// endSessionCommand: the far side ends H.245 (the call ends with ReleaseComplete).
    EndSession,
    /// A UserInputIndication digit, with its duration when it was a `signal`.
    Digit(char, Option<u16>),
    /// The far end sent an empty TCS (H.323 8.4.6, third-party-initiated pause): it receives
    /// nothing until [`Event::Resumed`]; our channel to it is closed.
    Paused,
    /// A TCS with capabilities again after [`Event::Paused`]; our channel is reopened.
    Resumed,
}

#[derive(Debug, PartialEq, Eq)]
enum Msd {
    /// Our MSD is out, nothing heard.
    Outgoing,
    /// We acknowledged theirs and wait for the Ack of ours.
    IncomingAwaiting,
    Done,
}

/// The logical channel number of our one channel.
const OUR_LCN: u16 = 1;

#[derive(Debug)]
pub struct Control {
    local: Media,
    sdn: u32,
    msd: Msd,
    remote_caps: Option<Vec<Format>>,
    ours: Option<Format>,
    ours_ack: Option<(SocketAddr, Option<SocketAddr>)>,
    theirs: Option<Format>,
    ready: bool,
    /// fastStart opened the channels: only answer (TCS, MSD, the far end's channels).
    passive: bool,
    /// The far end's TCS announced DTMF as `signal` (else digits go as alphanumeric).
    remote_signal: bool,
    /// Our last TCS sequence number.
    seq: u8,
    /// The far end paused us (its last TCS was empty).
    paused: bool,
}

impl Control {
    pub fn new(local: Media, sdn: u32) -> Control {
        Control {
            local,
            sdn: sdn & 0x00ff_ffff,
            msd: Msd::Outgoing,
            remote_caps: None,
            ours: None,
            ours_ack: None,
            theirs: None,
            ready: false,
            passive: false,
            remote_signal: false,
            seq: 1,
            paused: false,
        }
    }

    pub fn is_passive(&self) -> bool {
        self.passive
    }

    /// Our empty TCS (H.323 8.4.6): the far end is to close its channels to us.
    pub fn pause(&mut self) -> Vec<Vec<u8>> {
        self.seq = self.seq.wrapping_add(1);
        ep::encode_h245(&empty_tcs(self.seq)).into_iter().collect()
    }

    /// Our full TCS again: the far end reopens its channels.
    pub fn resume(&mut self) -> Vec<Vec<u8>> {
        self.seq = self.seq.wrapping_add(1);
        ep::encode_h245(&caps::tcs(&self.local, self.seq))
            .into_iter()
            .collect()
    }

    /// H.245 beside fastStart channels (H.323 8.1.7.1: capability exchange and MSD still
    /// run): answers the far end, opens no channel of its own.
    pub fn passive(local: Media, sdn: u32) -> Control {
        Control {
            passive: true,
            ..Control::new(local, sdn)
        }
    }

    /// Whether digits should go as UserInputIndication `signal` (with a duration): the far
    /// end's TCS said it takes DTMF signals, or no TCS came yet (H.323 terminals take both).
    pub fn remote_takes_signal(&self) -> bool {
        self.remote_caps.is_none() || self.remote_signal
    }

    /// Our TerminalCapabilitySet and MasterSlaveDetermination, encoded.
    pub fn start(&mut self) -> Vec<Vec<u8>> {
        [caps::tcs(&self.local, 1), ep::msd(self.sdn)]
            .iter()
            .filter_map(|m| ep::encode_h245(m).ok())
            .collect()
    }

    fn audio(&self) -> Option<&Stream> {
        self.local
            .streams
            .iter()
            .find(|s| s.kind == Kind::Audio && s.rtp.port() != 0)
    }

    /// One tunneled H.245 message; answers are appended to `replies` (encoded).
    pub fn on_bytes(&mut self, b: &[u8], replies: &mut Vec<Vec<u8>>) -> Result<Vec<Event>, String> {
        let m = ep::decode_h245(b)?;
        let mut out = Vec::new();
        let mut events = Vec::new();
        match m {
            H245Msg::request(r) => self.on_request(r, &mut out, &mut events),
            H245Msg::response(r) => self.on_response(r, &mut out, &mut events),
            H245Msg::command(h245::CommandMessage::endSessionCommand(_)) => {
                events.push(Event::EndSession)
            }
            H245Msg::indication(h245::IndicationMessage::userInput(u)) => {
                if let Some((d, ms)) = crate::dtmf::digit_of_uii(&u) {
                    events.push(Event::Digit(d, ms));
                }
            }
            _ => {}
        }
        for m in out {
            replies.push(ep::encode_h245(&m)?);
        }
        if let Some(ready) = self.check_ready() {
            events.push(ready);
        }
        Ok(events)
    }

    fn on_request(
        &mut self,
        r: h245::RequestMessage,
        out: &mut Vec<H245Msg>,
        events: &mut Vec<Event>,
    ) {
        use h245::RequestMessage as R;
        match r {
            R::terminalCapabilitySet(t) => {
                out.push(ep::tcs_ack(t.sequence_number.0));
                if is_empty_tcs(&t) {
                    return self.remote_paused(out, events);
                }
                self.remote_caps = Some(caps::formats_from_tcs(&t));
                self.remote_signal = takes_dtmf_signal(&t);
                if std::mem::take(&mut self.paused) {
                    events.push(Event::Resumed);
                }
                self.open_ours(out, events);
            }
            R::masterSlaveDetermination(m) => {
                let remote_master =
                    remote_is_master(m.terminal_type, m.status_determination_number, self.sdn);
                out.push(ep::msd_ack(remote_master));
                if self.msd == Msd::Outgoing {
                    self.msd = Msd::IncomingAwaiting;
                }
            }
            R::openLogicalChannel(o) => out.push(self.their_channel(&o)),
            R::closeLogicalChannel(c) => out.push(H245Msg::response(
                h245::ResponseMessage::closeLogicalChannelAck(h245::CloseLogicalChannelAck::new(
                    c.forward_logical_channel_number,
                )),
            )),
            R::roundTripDelayRequest(q) => out.push(H245Msg::response(
                h245::ResponseMessage::roundTripDelayResponse(h245::RoundTripDelayResponse::new(
                    q.sequence_number,
                )),
            )),
            _ => {}
        }
    }

    fn on_response(
        &mut self,
        r: h245::ResponseMessage,
        out: &mut Vec<H245Msg>,
        events: &mut Vec<Event>,
    ) {
        use h245::ResponseMessage as R;
        match r {
            R::masterSlaveDeterminationAck(a) => {
                if self.msd == Msd::Outgoing {
                    // H.245 C.2: our MSD acknowledged first; acknowledge back with the
                    // decision as the far end must read it
                    let we_master = matches!(
                        a.decision,
                        h245::MasterSlaveDeterminationAckDecision::master(_)
                    );
                    out.push(ep::msd_ack(!we_master));
                }
                self.msd = Msd::Done;
            }
            R::openLogicalChannelAck(a) if a.forward_logical_channel_number.0 == OUR_LCN => {
                self.ours_ack = caps::ack_addresses(&a);
                if self.ours_ack.is_none() {
                    let why = "channel acknowledged without a media address";
                    events.push(Event::Failed(why.into()));
                }
            }
            R::openLogicalChannelReject(r) if r.forward_logical_channel_number.0 == OUR_LCN => {
                events.push(Event::Failed(
                    "the H.323 side refused our audio channel".into(),
                ));
            }
            R::terminalCapabilitySetReject(_) => {
                events.push(Event::Failed(
                    "the H.323 side refused our capabilities".into(),
                ));
            }
            _ => {}
        }
    }

    /// An empty TCS: our channel (when we opened one) is closed, to be opened again on the
    /// next full TCS.
    fn remote_paused(&mut self, out: &mut Vec<H245Msg>, events: &mut Vec<Event>) {
        if self.paused {
            return;
        }
        self.paused = true;
        if self.ours.take().is_some() {
            self.ours_ack = None;
            self.ready = false;
            out.push(H245Msg::request(h245::RequestMessage::closeLogicalChannel(
                h245::CloseLogicalChannel::new(
                    h245::LogicalChannelNumber(OUR_LCN),
                    h245::CloseLogicalChannelSource::user(()),
                    None,
                ),
            )));
        }
        events.push(Event::Paused);
    }

    /// Opens our audio channel with the first SIP codec the far end can receive.
    fn open_ours(&mut self, out: &mut Vec<H245Msg>, events: &mut Vec<Event>) {
        if self.ours.is_some() || self.passive {
            return;
        }
        let (Some(remote), Some(audio)) = (self.remote_caps.as_ref(), self.audio()) else {
            return;
        };
        let pick = audio
            .formats
            .iter()
            .find(|f| f.codec != Codec::TelephoneEvent && remote.iter().any(|r| r.codec == f.codec))
            .cloned();
        let Some(f) = pick else {
            events.push(Event::Failed("no codec in common".into()));
            return;
        };
        match caps::olc(OUR_LCN, &f, 1, audio.rtcp) {
            Ok(m) => {
                out.push(m);
                self.ours = Some(f);
            }
            Err(e) => events.push(Event::Failed(e.to_string())),
        }
    }

    /// The far end's channel: acknowledged with the SIP side's addresses when its codec is
    /// one the SIP side offered, refused otherwise.
    fn their_channel(&mut self, o: &h245::OpenLogicalChannel) -> H245Msg {
        let lcn = o.forward_logical_channel_number.0;
        let fits = caps::olc_format(o).and_then(|(f, _, _)| {
            let a = self.audio()?;
            let local = a.formats.iter().find(|l| l.codec == f.codec)?.clone();
            Some((local, a.rtp, a.rtcp))
        });
        match fits {
            Some((f, rtp, rtcp)) => match ep::olc_ack(lcn, rtp, rtcp) {
                Ok(m) => {
                    self.theirs = Some(f);
                    m
                }
                Err(_) => reject(lcn),
            },
            None => reject(lcn),
        }
    }

    fn check_ready(&mut self) -> Option<Event> {
        if self.ready {
            return None;
        }
        // our channel is enough: H.323 does not require the far end to open one (a
        // receive-only terminal), and one opened later is acknowledged all the same
        let ((rtp, rtcp), ours) = (self.ours_ack?, self.ours.clone()?);
        self.ready = true;
        let mut formats = vec![ours.clone()];
        if let Some(theirs) = self.theirs.clone().filter(|t| t.codec != ours.codec) {
            formats.push(theirs);
        }
        let remote_dtmf = self
            .remote_caps
            .as_ref()
            .is_some_and(|r| r.iter().any(|f| f.codec == Codec::TelephoneEvent));
        if let Some(te) = self
            .audio()
            .and_then(|a| a.formats.iter().find(|f| f.codec == Codec::TelephoneEvent))
            .filter(|_| remote_dtmf)
        {
            formats.push(te.clone());
        }
        let rtcp = rtcp.unwrap_or_else(|| SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1)));
        Some(Event::Ready(Media {
            streams: vec![Stream {
                kind: Kind::Audio,
                rtp,
                rtcp,
                formats,
                direction: Direction::SendRecv,
            }],
        }))
    }
}

/// A TCS with no capability at all: H.323 8.4.6's third-party-initiated pause.
fn is_empty_tcs(t: &h245::TerminalCapabilitySet) -> bool {
    t.capability_table.as_ref().is_none_or(|c| c.is_empty())
        && t.capability_descriptors
            .as_ref()
            .is_none_or(|d| d.is_empty())
}

fn empty_tcs(seq: u8) -> H245Msg {
    H245Msg::request(h245::RequestMessage::terminalCapabilitySet(
        h245::TerminalCapabilitySet::new(
            h245::SequenceNumber(seq),
            causeway_h323::asn::h245_protocol_identifier(),
            None,
            None,
            None,
            None,
        ),
    ))
}

/// Whether a TCS lists userInputCapability `dtmf` (H.245: signal with duration).
fn takes_dtmf_signal(t: &h245::TerminalCapabilitySet) -> bool {
    t.capability_table.iter().flat_map(|s| s.iter()).any(|e| {
        matches!(
            &e.capability,
            Some(h245::Capability::receiveUserInputCapability(
                h245::UserInputCapability::dtmf(_)
            )) | Some(h245::Capability::receiveAndTransmitUserInputCapability(
                h245::UserInputCapability::dtmf(_)
            ))
        )
    })
}

/// The digit of an encoded UserInputIndication.
pub fn digit_of(b: &[u8]) -> Option<(char, Option<u16>)> {
    match ep::decode_h245(b) {
        Ok(H245Msg::indication(h245::IndicationMessage::userInput(u))) => {
            crate::dtmf::digit_of_uii(&u)
        }
        _ => None,
    }
}

/// Whether an encoded H.245 message is endSessionCommand.
pub fn is_end_session(b: &[u8]) -> bool {
    matches!(
        ep::decode_h245(b),
        Ok(H245Msg::command(h245::CommandMessage::endSessionCommand(_)))
    )
}

fn reject(lcn: u16) -> H245Msg {
    H245Msg::response(h245::ResponseMessage::openLogicalChannelReject(
        h245::OpenLogicalChannelReject::new(
            h245::LogicalChannelNumber(lcn),
            h245::OpenLogicalChannelRejectCause::dataTypeNotSupported(()),
            None,
        ),
    ))
}

/// H.245 C.2.4: the larger terminalType is master; equal types compare the
/// statusDeterminationNumbers modulo 2^24 (a difference of 0 or 2^23 is indeterminate and
/// taken here as "we are master", the far end then retries or accepts).
fn remote_is_master(remote_type: u8, remote_sdn: u32, our_sdn: u32) -> bool {
    if remote_type != ep::TERMINAL_TYPE {
        return remote_type > ep::TERMINAL_TYPE;
    }
    let diff = remote_sdn.wrapping_sub(our_sdn) & 0x00ff_ffff;
    diff != 0 && diff < 0x0080_0000
}
