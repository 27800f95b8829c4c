//! The H.245 messages of a basic audio call, as an endpoint sends them (H.245 version 15):
//! TerminalCapabilitySet (G.711 mu-law) and its Ack, MasterSlaveDetermination and its Ack,
//! OpenLogicalChannel for one audio channel and its Ack, endSessionCommand.
//!
//! Values only: the H.245 procedures (who is master, when a channel is open) are the
//! caller's. Must not touch the H.245 relay (`crate::call`).

use super::{ipv4, Result};
use crate::asn;
use causeway_h323_asn1::multimedia_system_control as h245;
use causeway_h323_asn1::rasn;
use causeway_h323_asn1::rasn::types::SetOf;
use std::net::SocketAddr;

/// H.245 terminalType of a terminal (H.323 table 1: 50).
pub const TERMINAL_TYPE: u8 = 50;

pub type H245Msg = h245::MultimediaSystemControlMessage;

pub fn encode_h245(m: &H245Msg) -> Result<Vec<u8>> {
    rasn::aper::encode(m).map_err(|e| format!("H.245 encode: {e}"))
}

pub fn decode_h245(b: &[u8]) -> Result<H245Msg> {
    rasn::aper::decode(b).map_err(|e| format!("H.245 decode: {e}"))
}

fn g711u() -> h245::AudioCapability {
    // 20 ms frames per packet.
    h245::AudioCapability::g711Ulaw64k(20)
}

pub fn tcs(seq: u8) -> H245Msg {
    let entry = h245::CapabilityTableEntry::new(
        h245::CapabilityTableEntryNumber(1),
        Some(h245::Capability::receiveAudioCapability(g711u())),
    );
    let descriptor = h245::CapabilityDescriptor::new(
        h245::CapabilityDescriptorNumber(0),
        Some(SetOf::from(vec![h245::AlternativeCapabilitySet(vec![
            h245::CapabilityTableEntryNumber(1),
        ])])),
    );
    H245Msg::request(h245::RequestMessage::terminalCapabilitySet(
        h245::TerminalCapabilitySet::new(
            h245::SequenceNumber(seq),
            asn::h245_protocol_identifier(),
            None,
            Some(SetOf::from(vec![entry])),
            Some(SetOf::from(vec![descriptor])),
            None,
        ),
    ))
}

pub fn tcs_ack(seq: u8) -> H245Msg {
    H245Msg::response(h245::ResponseMessage::terminalCapabilitySetAck(
        h245::TerminalCapabilitySetAck::new(h245::SequenceNumber(seq), None),
    ))
}

pub fn msd(sdn: u32) -> H245Msg {
    H245Msg::request(h245::RequestMessage::masterSlaveDetermination(
        h245::MasterSlaveDetermination::new(TERMINAL_TYPE, sdn & 0x00ff_ffff),
    ))
}

/// MSD Ack; `remote_is_master` is the decision as the receiver reads it (H.245 C.2).
pub fn msd_ack(remote_is_master: bool) -> H245Msg {
    let decision = if remote_is_master {
        h245::MasterSlaveDeterminationAckDecision::master(())
    } else {
        h245::MasterSlaveDeterminationAckDecision::slave(())
    };
    H245Msg::response(h245::ResponseMessage::masterSlaveDeterminationAck(
        h245::MasterSlaveDeterminationAck::new(decision),
    ))
}

/// OLC for one G.711 audio channel; `rtcp` is where the opener receives RTCP.
pub fn olc(lcn: u16, rtcp: SocketAddr) -> Result<H245Msg> {
    let params = h245::H2250LogicalChannelParameters::new(
        None,
        1,
        None,
        None,
        None,
        Some(ipv4_h245_transport(rtcp)?),
        None,
        Some(false),
        None,
        None,
        None,
        None,
        None,
        None,
    );
    let forward = h245::OpenLogicalChannelForwardLogicalChannelParameters::new(
        None,
        h245::DataType::audioData(g711u()),
        h245::OpenLogicalChannelForwardLogicalChannelParametersMultiplexParameters::h2250LogicalChannelParameters(params),
        None,
        None,
    );
    Ok(H245Msg::request(h245::RequestMessage::openLogicalChannel(
        h245::OpenLogicalChannel::new(
            h245::LogicalChannelNumber(lcn),
            forward,
            None,
            None,
            None,
            None,
        ),
    )))
}

pub fn olc_ack(lcn: u16, rtp: SocketAddr, rtcp: SocketAddr) -> Result<H245Msg> {
    let params = h245::H2250LogicalChannelAckParameters::new(
        None,
        Some(1),
        Some(ipv4_h245_transport(rtp)?),
        Some(ipv4_h245_transport(rtcp)?),
        None,
        None,
        None,
    );
    Ok(H245Msg::response(h245::ResponseMessage::openLogicalChannelAck(
        h245::OpenLogicalChannelAck::new(
            h245::LogicalChannelNumber(lcn),
            None,
            None,
            Some(h245::OpenLogicalChannelAckForwardMultiplexAckParameters::h2250LogicalChannelAckParameters(params)),
            None,
            None,
        ),
    )))
}

pub fn end_session() -> H245Msg {
    H245Msg::command(h245::CommandMessage::endSessionCommand(
        h245::EndSessionCommand::disconnect(()),
    ))
}

/// An H.245 unicast address of an address the endpoint sends (IPv4 only, see the module doc
/// of [`crate::endpoint`]).
fn ipv4_h245_transport(addr: SocketAddr) -> Result<h245::H245TransportAddress> {
    ipv4(addr).map(asn::h245_transport_address)
}
