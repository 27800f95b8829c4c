//! DTMF across the gateway: H.245 UserInputIndication (H.245 8.x, H.323 10.5: `alphanumeric`
//! and `signal`) <-> digits, and RFC 4733 telephone-event payloads <-> digits.
//!
//! Digits are the sixteen DTMF keys `0-9 * # A-D`. `signal` carries a duration in
//! milliseconds; `alphanumeric` none. `signalUpdate` (a running signal's new duration) is
//! ignored on reading: the digit was taken from its `signal`. Hookflash (`!`, event 16) has no
//! digit here. Must not hold timing state: when an RTP event starts or ends is the media
//! side's business.

use causeway_h323::endpoint::H245Msg;
use causeway_h323_asn1::multimedia_system_control as h245;
use causeway_h323_asn1::rasn::types::{GeneralString, Ia5String};

/// One RFC 4733 2.3 named-event payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub event: u8,
    /// The E bit: the last packets of the event.
    pub end: bool,
    /// Power level in -dBm0 (6 bits, 0..=63).
    pub volume: u8,
    /// In timestamp units.
    pub duration: u16,
}

impl Event {
    /// An event payload's first four octets (RFC 4733 2.3); `None` when shorter. The R bit is
    /// ignored, volume keeps its 6 bits.
    pub fn decode(b: &[u8]) -> Option<Event> {
        let [event, flags, d0, d1, ..] = *b else {
            return None;
        };
        Some(Event {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    pub fn encode(&self) -> [u8; 4] {
        let flags = (u8::from(self.end) << 7) | (self.volume & 0x3f);
        let [d0, d1] = self.duration.to_be_bytes();
        [self.event, flags, d0, d1]
    }
}

/// RFC 4733 table 7 (3.2): DTMF events 0-9, * (10), # (11), A-D (12-15).
pub fn event_of_digit(c: char) -> Option<u8> {
    match c.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        d @ 'A'..='D' => Some(d as u8 - b'A' + 12),
        _ => None,
    }
}

pub fn digit_of_event(e: u8) -> Option<char> {
    match e {
        0..=9 => Some(char::from(b'0' + e)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + e - 12)),
        _ => None,
    }
}

/// A DTMF key as upper case; `None` for anything else.
fn key(c: char) -> Option<char> {
    event_of_digit(c).and_then(digit_of_event)
}

/// UserInputIndication `signal` of a digit with its duration in ms. A character that is no
/// DTMF key is sent as `!` (hookflash), the only other signalType H.245 allows.
pub fn uii_signal(digit: char, duration_ms: u16) -> H245Msg {
    let c = key(digit).unwrap_or('!');
    let mut b = [0u8; 4];
    let signal_type =
        Ia5String::from_iso646_bytes(c.encode_utf8(&mut b).as_bytes()).unwrap_or_default();
    let signal = h245::UserInputIndicationSignal::new(
        signal_type,
        Some(duration_ms.max(1)),
        None,
        None,
        None,
        None,
        None,
    );
    indication(h245::UserInputIndication::signal(signal))
}

/// UserInputIndication `alphanumeric` of a digit (a non-key is sent as it is, when GeneralString
/// can carry it).
pub fn uii_alpha(digit: char) -> H245Msg {
    let c = key(digit).unwrap_or(digit);
    let mut b = [0u8; 4];
    let text = GeneralString::from_bytes(c.encode_utf8(&mut b).as_bytes()).unwrap_or_default();
    indication(h245::UserInputIndication::alphanumeric(text))
}

fn indication(u: h245::UserInputIndication) -> H245Msg {
    H245Msg::indication(h245::IndicationMessage::userInput(u))
}

/// The digit of a UserInputIndication, with its duration when a `signal` gave one. An
/// alphanumeric string of several digits gives its first (H.245 allows a string; endpoints
/// send one key per message).
pub fn digit_of_uii(m: &h245::UserInputIndication) -> Option<(char, Option<u16>)> {
    match m {
        h245::UserInputIndication::alphanumeric(s) => {
            let c = char::from(*s.as_bytes().first()?);
            Some((key(c)?, None))
        }
        h245::UserInputIndication::signal(s) => {
            let c = char::from(*s.signal_type.as_iso646_bytes().first()?);
            Some((key(c)?, s.duration))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
