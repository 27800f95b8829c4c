//! DTMF as H.245 UserInputIndication (H.245 6.2.9 / H.323 10.5), without I/O: the digits
//! `--dtmf` accepts, the indications the endpoint sends for them (`signal`: signalType and a
//! duration in ms; `alpha`: the digit as an alphanumeric GeneralString), and what it reads
//! from the indications it receives (one [`Input`] per digit).

use super::msg::H245Msg;
use causeway_h323_asn1::multimedia_system_control as h245;
use causeway_h323_asn1::rasn::types::{GeneralString, Ia5String};
use clap::ValueEnum;

/// The characters of a UserInputIndication.signal's signalType besides `!` (hookflash).
pub const DIGITS: &str = "0123456789*#ABCD";

/// How `--dtmf` digits are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// UserInputIndication.signal: signalType and duration.
    Signal,
    /// UserInputIndication.alphanumeric.
    Alpha,
}

impl Mode {
    /// The `kind` of the `dtmf-sent` and `uii` events.
    pub fn kind(self) -> &'static str {
        match self {
            Mode::Signal => "signal",
            Mode::Alpha => "alpha",
        }
    }
}

/// `--dtmf`'s digits, upper-cased; Err names the first character that is not a DTMF digit.
pub fn parse_digits(text: &str) -> Result<Vec<char>, String> {
    text.chars()
        .map(|c| {
            let d = c.to_ascii_uppercase();
            if DIGITS.contains(d) {
                Ok(d)
            } else {
                Err(format!("--dtmf: {c:?} is not a DTMF digit (0-9 * # A-D)"))
            }
        })
        .collect()
}

/// The UserInputIndication for one digit; `duration_ms` goes into a signal only (1..=65535).
pub fn build(digit: char, mode: Mode, duration_ms: u16) -> Result<H245Msg, String> {
    if !DIGITS.contains(digit) {
        return Err(format!("{digit:?} is not a DTMF digit"));
    }
    let text = digit.to_string();
    let uii = match mode {
        Mode::Signal => {
            let signal_type = Ia5String::try_from(text).map_err(|e| e.to_string())?;
            h245::UserInputIndication::signal(h245::UserInputIndicationSignal::new(
                signal_type,
                Some(duration_ms.max(1)),
                None,
                None,
                None,
                None,
                None,
            ))
        }
        Mode::Alpha => h245::UserInputIndication::alphanumeric(
            GeneralString::from_bytes(text.as_bytes()).map_err(|e| e.to_string())?,
        ),
    };
    Ok(H245Msg::indication(h245::IndicationMessage::userInput(uii)))
}

/// One digit (or character) a received indication carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    pub digit: char,
    pub kind: &'static str,
    pub duration: Option<u16>,
}

/// What a received UserInputIndication says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Read {
    /// Characters: each one of an alphanumeric string, or a signal's signalType.
    Inputs(Vec<Input>),
    /// signalUpdate: a longer duration for the signal under way.
    Update(u16),
    /// Anything else (nonStandard, userInputSupportIndication, encrypted forms): its name.
    Other,
}

fn alpha(bytes: &[u8]) -> Vec<Input> {
    // GeneralString bytes are Latin-1: each byte is one character.
    bytes
        .iter()
        .map(|&b| Input {
            digit: char::from(b),
            kind: "alpha",
            duration: None,
        })
        .collect()
}

/// Reads a received UserInputIndication.
pub fn read(u: &h245::UserInputIndication) -> Read {
    use h245::UserInputIndication as U;
    match u {
        U::alphanumeric(s) => Read::Inputs(alpha(s.as_bytes())),
        U::extendedAlphanumeric(x) => Read::Inputs(alpha(x.alphanumeric.as_bytes())),
        U::signal(s) => Read::Inputs(
            s.signal_type
                .as_iso646_bytes()
                .iter()
                .map(|&b| Input {
                    digit: char::from(b),
                    kind: "signal",
                    duration: s.duration,
                })
                .collect(),
        ),
        U::signalUpdate(s) => Read::Update(s.duration),
        _ => Read::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h323ep::msg;

    fn round_trip(m: &H245Msg) -> h245::UserInputIndication {
        let bytes = msg::encode_h245(m).unwrap();
        match msg::decode_h245(&bytes).unwrap() {
            H245Msg::indication(h245::IndicationMessage::userInput(u)) => u,
            other => panic!("not a UII: {other:?}"),
        }
    }

    #[test]
    fn every_digit_round_trips_in_both_modes() {
        for d in DIGITS.chars() {
            let u = round_trip(&build(d, Mode::Signal, 100).unwrap());
            assert_eq!(
                read(&u),
                Read::Inputs(vec![Input {
                    digit: d,
                    kind: "signal",
                    duration: Some(100)
                }])
            );
            let u = round_trip(&build(d, Mode::Alpha, 100).unwrap());
            assert_eq!(
                read(&u),
                Read::Inputs(vec![Input {
                    digit: d,
                    kind: "alpha",
                    duration: None
                }])
            );
        }
    }

    #[test]
    fn non_digits_are_refused() {
        assert!(build('E', Mode::Signal, 100).is_err());
        assert!(build('!', Mode::Alpha, 100).is_err());
        assert_eq!(parse_digits("12#a").unwrap(), vec!['1', '2', '#', 'A']);
        assert!(parse_digits("12x").unwrap_err().contains("'x'"));
        assert_eq!(parse_digits("").unwrap(), Vec::<char>::new());
    }

    #[test]
    fn a_string_is_one_input_per_character_and_updates_are_told_apart() {
        let s = h245::UserInputIndication::alphanumeric(GeneralString::from_bytes(b"12#").unwrap());
        let Read::Inputs(i) = read(&s) else {
            panic!("inputs")
        };
        let digits: String = i.iter().map(|x| x.digit).collect();
        assert_eq!(digits, "12#");
        let up = h245::UserInputIndication::signalUpdate(
            h245::UserInputIndicationSignalUpdate::new(300, None),
        );
        assert_eq!(read(&up), Read::Update(300));
        let other = h245::UserInputIndication::userInputSupportIndication(
            h245::UserInputIndicationUserInputSupportIndication::basicString(()),
        );
        assert_eq!(read(&other), Read::Other);
    }

    #[test]
    fn a_signal_without_duration_reads_as_none() {
        let mut m = build('5', Mode::Signal, 100).unwrap();
        if let H245Msg::indication(h245::IndicationMessage::userInput(
            h245::UserInputIndication::signal(s),
        )) = &mut m
        {
            s.duration = None;
        }
        let Read::Inputs(i) = read(&round_trip(&m)) else {
            panic!("inputs")
        };
        assert_eq!(i[0].duration, None);
    }
}
