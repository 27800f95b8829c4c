//! The endpoint's capability sets and channel closing, as H.245 values without I/O.
//!
//! Its TerminalCapabilitySet is built here rather than taken from `causeway_h323::endpoint`
//! (whose `tcs` has G.711 µ-law only, and which this tool must not change): G.711 µ-law
//! receive, and receiveAndTransmitUserInputCapability basicString and dtmf, so that a peer
//! knows it may send UserInputIndication alphanumeric and signal (H.245 7.2.2.6, H.323
//! 10.5.1). The empty TerminalCapabilitySet (no capabilityTable, no capabilityDescriptors) is
//! H.323 8.4.6's third-party-initiated pause: whoever receives it closes the channels it
//! transmits on until a non-empty set comes.

use super::asn;
use super::msg::H245Msg;
use causeway_h323_asn1::multimedia_system_control as h245;
use causeway_h323_asn1::rasn::types::SetOf;

fn entry(n: u16, c: h245::Capability) -> h245::CapabilityTableEntry {
    h245::CapabilityTableEntry::new(h245::CapabilityTableEntryNumber(n), Some(c))
}

fn request(t: h245::TerminalCapabilitySet) -> H245Msg {
    H245Msg::request(h245::RequestMessage::terminalCapabilitySet(t))
}

/// The full set: entry 1 G.711 µ-law (20 ms frames), 2 and 3 user input basicString and dtmf;
/// one descriptor listing each as its own alternative set (all usable at once).
pub fn full(seq: u8) -> H245Msg {
    use h245::Capability as C;
    use h245::UserInputCapability as U;
    let table = vec![
        entry(
            1,
            C::receiveAudioCapability(h245::AudioCapability::g711Ulaw64k(20)),
        ),
        entry(
            2,
            C::receiveAndTransmitUserInputCapability(U::basicString(())),
        ),
        entry(3, C::receiveAndTransmitUserInputCapability(U::dtmf(()))),
    ];
    let sets = (1..=3)
        .map(|n| h245::AlternativeCapabilitySet(vec![h245::CapabilityTableEntryNumber(n)]))
        .collect::<Vec<_>>();
    let descriptor = h245::CapabilityDescriptor::new(
        h245::CapabilityDescriptorNumber(0),
        Some(SetOf::from(sets)),
    );
    request(h245::TerminalCapabilitySet::new(
        h245::SequenceNumber(seq),
        asn::h245_protocol_identifier(),
        None,
        Some(SetOf::from(table)),
        Some(SetOf::from(vec![descriptor])),
        None,
    ))
}

/// The empty set of H.323 8.4.6.
pub fn empty(seq: u8) -> H245Msg {
    request(h245::TerminalCapabilitySet::new(
        h245::SequenceNumber(seq),
        asn::h245_protocol_identifier(),
        None,
        None,
        None,
        None,
    ))
}

/// A set without capabilities: no table and no descriptors (an empty list of either counts
/// as none, although PER cannot carry one: both are SIZE(1..256)).
pub fn is_empty(t: &h245::TerminalCapabilitySet) -> bool {
    t.capability_table.as_ref().is_none_or(|x| x.is_empty())
        && t.capability_descriptors
            .as_ref()
            .is_none_or(|x| x.is_empty())
}

/// Whether the set says the sender takes UserInputIndication (any user input capability).
pub fn takes_user_input(t: &h245::TerminalCapabilitySet) -> bool {
    t.capability_table.iter().flat_map(|s| s.iter()).any(|e| {
        matches!(
            e.capability,
            Some(
                h245::Capability::receiveUserInputCapability(_)
                    | h245::Capability::receiveAndTransmitUserInputCapability(_)
            )
        )
    })
}

/// CloseLogicalChannel of a channel this side opened (source user: the terminal decided it).
pub fn close(lcn: u16) -> H245Msg {
    H245Msg::request(h245::RequestMessage::closeLogicalChannel(
        h245::CloseLogicalChannel::new(
            h245::LogicalChannelNumber(lcn),
            h245::CloseLogicalChannelSource::user(()),
            None,
        ),
    ))
}

pub fn close_ack(lcn: u16) -> H245Msg {
    H245Msg::response(h245::ResponseMessage::closeLogicalChannelAck(
        h245::CloseLogicalChannelAck::new(h245::LogicalChannelNumber(lcn)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h323ep::msg;

    fn tcs_of(m: &H245Msg) -> h245::TerminalCapabilitySet {
        let bytes = msg::encode_h245(m).unwrap();
        match msg::decode_h245(&bytes).unwrap() {
            H245Msg::request(h245::RequestMessage::terminalCapabilitySet(t)) => t,
            other => panic!("not a TCS: {other:?}"),
        }
    }

    #[test]
    fn the_full_set_announces_user_input_and_is_not_empty() {
        let t = tcs_of(&full(7));
        assert_eq!(t.sequence_number.0, 7);
        assert!(!is_empty(&t));
        assert!(takes_user_input(&t));
        assert_eq!(t.capability_table.as_ref().map(|x| x.len()), Some(3));
    }

    #[test]
    fn the_empty_set_is_detected_and_the_crates_set_is_not() {
        let t = tcs_of(&empty(2));
        assert!(is_empty(&t));
        assert!(!takes_user_input(&t));
        let crate_tcs = tcs_of(&msg::tcs(1));
        assert!(!is_empty(&crate_tcs));
        assert!(!takes_user_input(&crate_tcs));
        // only one of the two present is not empty either
        let mut half = crate_tcs.clone();
        half.capability_descriptors = None;
        assert!(!is_empty(&half));
    }

    #[test]
    fn close_and_its_ack_round_trip() {
        for m in [close(3), close_ack(3)] {
            let bytes = msg::encode_h245(&m).unwrap();
            assert_eq!(msg::decode_h245(&bytes).unwrap(), m);
        }
    }
}
