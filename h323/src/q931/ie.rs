//! Q.931 information elements (ITU-T Q.931 section 4.5 as profiled by H.225.0 section 7.2):
//! the raw element kept byte-for-byte, and typed views of the elements an H.323 proxy reads or
//! writes.
//!
//! A typed view is decoded on demand from the raw bytes and encoded back into raw bytes by the
//! builders on [`Q931`](super::Q931); an element nobody asks about is never interpreted, so a
//! peer's odd-but-harmless coding (spare bits, UTF-8 in a Display) passes through untouched.

use super::{IeFault, Q931Error};

/// Bearer capability (Q.931 4.5.5).
pub const IE_BEARER_CAPABILITY: u8 = 0x04;
/// Cause (Q.931 4.5.12, Q.850).
pub const IE_CAUSE: u8 = 0x08;
/// Display (Q.931 4.5.16).
pub const IE_DISPLAY: u8 = 0x28;
/// Calling party number (Q.931 4.5.10).
pub const IE_CALLING_PARTY_NUMBER: u8 = 0x6c;
/// Called party number (Q.931 4.5.8).
pub const IE_CALLED_PARTY_NUMBER: u8 = 0x70;
/// User-user (Q.931 4.5.30; H.225.0 7.2.2.17: 2-octet length).
pub const IE_USER_USER: u8 = 0x7e;

/// User-user protocol discriminator "X.208/X.209 coded user information": the content is a PER
/// `H323-UserInformation` (H.225.0 7.2.2.17).
pub const UU_PROTOCOL_X208: u8 = 0x05;

/// Largest content of a variable-length element with a 1-octet length.
pub const MAX_IE_CONTENT: usize = u8::MAX as usize;
/// Largest content of the User-user element (2-octet length).
pub const MAX_UU_CONTENT: usize = u16::MAX as usize;

/// True for a single-octet element identifier (Q.931 4.5.1: bit 8 set).
pub fn is_single_octet(id: u8) -> bool {
    id & 0x80 != 0
}

/// True for a shift element, locking (`1001 0xxx`) or non-locking (`1001 1xxx`) (Q.931 4.5.3).
pub fn is_shift(id: u8) -> bool {
    id & 0xf0 == 0x90
}

/// Whether an element with this identifier, in this codeset, carries a 2-octet length: only
/// User-user of codeset 0 does (H.225.0 7.2.2.17).
pub(crate) fn has_long_length(codeset: u8, id: u8) -> bool {
    codeset == 0 && id == IE_USER_USER
}

/// One information element as received: identifier, codeset in force at its position, content.
/// A single-octet element (identifier bit 8 set) has no content; its value bits are part of
/// `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ie {
    pub(crate) codeset: u8,
    pub(crate) id: u8,
    pub(crate) content: Vec<u8>,
}

impl Ie {
    /// A codeset-0 element. Refused when the content does not fit the element's length field,
    /// or when a single-octet identifier is given content.
    pub fn new(id: u8, content: Vec<u8>) -> Result<Ie, Q931Error> {
        Ie::in_codeset(0, id, content)
    }

    pub(crate) fn in_codeset(codeset: u8, id: u8, content: Vec<u8>) -> Result<Ie, Q931Error> {
        let max = if is_single_octet(id) {
            0
        } else if has_long_length(codeset, id) {
            MAX_UU_CONTENT
        } else {
            MAX_IE_CONTENT
        };
        if content.len() > max {
            return Err(Q931Error::IeContentTooLong {
                id,
                len: content.len(),
                max,
            });
        }
        Ok(Ie {
            codeset,
            id,
            content,
        })
    }

    /// The identifier octet (for a single-octet element, the whole octet).
    pub fn id(&self) -> u8 {
        self.id
    }

    /// The codeset in force where this element sits (0 unless after a shift).
    pub fn codeset(&self) -> u8 {
        self.codeset
    }

    /// The content octets (after identifier and length).
    pub fn content(&self) -> &[u8] {
        &self.content
    }

    /// Bytes this element takes on the wire.
    pub fn encoded_len(&self) -> usize {
        if is_single_octet(self.id) {
            1
        } else if has_long_length(self.codeset, self.id) {
            3 + self.content.len()
        } else {
            2 + self.content.len()
        }
    }

    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.id);
        if is_single_octet(self.id) {
            return;
        }
        // Lengths were checked by the constructor and the parser.
        if has_long_length(self.codeset, self.id) {
            out.extend_from_slice(&(self.content.len() as u16).to_be_bytes());
        } else {
            out.push(self.content.len() as u8);
        }
        out.extend_from_slice(&self.content);
    }
}

fn bad(id: u8, fault: IeFault) -> Q931Error {
    Q931Error::BadIe { id, fault }
}

fn ia5(id: u8, bytes: &[u8]) -> Result<String, Q931Error> {
    if !bytes.is_ascii() {
        return Err(bad(id, IeFault::NotIa5));
    }
    Ok(bytes.iter().map(|&b| char::from(b)).collect())
}

/// Information transfer capability (Q.931 4.5.5, octet 3 bits 5-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoTransferCapability {
    /// `00000` speech.
    Speech,
    /// `01000` unrestricted digital information (what H.323 endpoints send).
    UnrestrictedDigital,
    /// `01001` restricted digital information.
    RestrictedDigital,
    /// `10000` 3.1 kHz audio.
    Audio3k1,
    /// `10001` unrestricted digital information with tones/announcements.
    UnrestrictedDigitalWithTones,
    /// `11000` video.
    Video,
    /// Any other (reserved) code point.
    Other(u8),
}

impl InfoTransferCapability {
    fn from_bits(b: u8) -> Self {
        match b & 0x1f {
            0x00 => Self::Speech,
            0x08 => Self::UnrestrictedDigital,
            0x09 => Self::RestrictedDigital,
            0x10 => Self::Audio3k1,
            0x11 => Self::UnrestrictedDigitalWithTones,
            0x18 => Self::Video,
            o => Self::Other(o),
        }
    }
}

/// Bearer capability (Q.931 4.5.5): the raw octets are kept (H.225.0 7.2.2.1 fixes most of
/// them), with the octet-3 fields decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerCapability {
    /// The whole content, from octet 3.
    pub raw: Vec<u8>,
    /// Octet 3 bits 7-6 (0 = ITU-T).
    pub coding_standard: u8,
    /// Octet 3 bits 5-1.
    pub info_transfer_capability: InfoTransferCapability,
}

impl BearerCapability {
    /// Decodes a Bearer capability content.
    pub fn decode(content: &[u8]) -> Result<Self, Q931Error> {
        let &o3 = content
            .first()
            .ok_or(bad(IE_BEARER_CAPABILITY, IeFault::Truncated))?;
        // Octets 3 and 4 are mandatory.
        if content.len() < 2 {
            return Err(bad(IE_BEARER_CAPABILITY, IeFault::Truncated));
        }
        Ok(BearerCapability {
            raw: content.to_vec(),
            coding_standard: (o3 >> 5) & 0x03,
            info_transfer_capability: InfoTransferCapability::from_bits(o3),
        })
    }
}

/// Type of number (Q.931 4.5.8, octet 3 bits 7-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeOfNumber {
    /// `000`
    Unknown,
    /// `001`
    International,
    /// `010`
    National,
    /// `011`
    NetworkSpecific,
    /// `100`
    Subscriber,
    /// `110`
    Abbreviated,
    /// `101` or `111`: reserved.
    Reserved(u8),
}

impl TypeOfNumber {
    fn from_bits(b: u8) -> Self {
        match b & 0x07 {
            0 => Self::Unknown,
            1 => Self::International,
            2 => Self::National,
            3 => Self::NetworkSpecific,
            4 => Self::Subscriber,
            6 => Self::Abbreviated,
            o => Self::Reserved(o),
        }
    }

    fn bits(self) -> u8 {
        match self {
            Self::Unknown => 0,
            Self::International => 1,
            Self::National => 2,
            Self::NetworkSpecific => 3,
            Self::Subscriber => 4,
            Self::Abbreviated => 6,
            Self::Reserved(o) => o & 0x07,
        }
    }
}

/// Numbering plan identification (Q.931 4.5.8, octet 3 bits 4-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberingPlan {
    /// `0000`
    Unknown,
    /// `0001` ISDN/telephony (E.164).
    E164,
    /// `0011` data (X.121).
    Data,
    /// `0100` telex (F.69).
    Telex,
    /// `1000` national standard.
    National,
    /// `1001` private.
    Private,
    /// Any other (reserved) code point.
    Reserved(u8),
}

impl NumberingPlan {
    fn from_bits(b: u8) -> Self {
        match b & 0x0f {
            0 => Self::Unknown,
            1 => Self::E164,
            3 => Self::Data,
            4 => Self::Telex,
            8 => Self::National,
            9 => Self::Private,
            o => Self::Reserved(o),
        }
    }

    fn bits(self) -> u8 {
        match self {
            Self::Unknown => 0,
            Self::E164 => 1,
            Self::Data => 3,
            Self::Telex => 4,
            Self::National => 8,
            Self::Private => 9,
            Self::Reserved(o) => o & 0x0f,
        }
    }
}

/// Presentation and screening indicators (Q.931 4.5.10, octet 3a).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presentation {
    /// Bits 7-6: 0 allowed, 1 restricted, 2 not available.
    pub indicator: u8,
    /// Bits 2-1: 0 user-provided not screened, 1 passed, 2 failed, 3 network-provided.
    pub screening: u8,
}

/// Called (Q.931 4.5.8) or calling (4.5.10) party number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyNumber {
    /// Octet 3 bits 7-5.
    pub type_of_number: TypeOfNumber,
    /// Octet 3 bits 4-1.
    pub numbering_plan: NumberingPlan,
    /// Octet 3a, present when octet 3's extension bit is 0 (calling party number).
    pub presentation: Option<Presentation>,
    /// The number digits, IA5.
    pub digits: String,
}

impl PartyNumber {
    /// An E.164 number of unknown type, no presentation octet.
    pub fn e164(digits: &str) -> Self {
        PartyNumber {
            type_of_number: TypeOfNumber::Unknown,
            numbering_plan: NumberingPlan::E164,
            presentation: None,
            digits: digits.to_owned(),
        }
    }

    /// Decodes the content of element `id` (called or calling party number).
    pub fn decode(id: u8, content: &[u8]) -> Result<Self, Q931Error> {
        let (&o3, mut rest) = content.split_first().ok_or(bad(id, IeFault::Truncated))?;
        let mut presentation = None;
        if o3 & 0x80 == 0 {
            let (&o3a, r) = rest.split_first().ok_or(bad(id, IeFault::Truncated))?;
            if o3a & 0x80 == 0 {
                // A further extension octet is not defined.
                return Err(bad(id, IeFault::BadValue));
            }
            presentation = Some(Presentation {
                indicator: (o3a >> 5) & 0x03,
                screening: o3a & 0x03,
            });
            rest = r;
        }
        Ok(PartyNumber {
            type_of_number: TypeOfNumber::from_bits(o3 >> 4),
            numbering_plan: NumberingPlan::from_bits(o3),
            presentation,
            digits: ia5(id, rest)?,
        })
    }

    /// The element content.
    pub fn encode(&self) -> Vec<u8> {
        let ext = if self.presentation.is_some() { 0 } else { 0x80 };
        let mut out = vec![ext | (self.type_of_number.bits() << 4) | self.numbering_plan.bits()];
        if let Some(p) = self.presentation {
            out.push(0x80 | ((p.indicator & 0x03) << 5) | (p.screening & 0x03));
        }
        out.extend_from_slice(self.digits.as_bytes());
        out
    }
}

/// A Q.850 cause value (7 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CauseValue(pub u8);

impl CauseValue {
    /// 1 unallocated (unassigned) number.
    pub const UNALLOCATED_NUMBER: CauseValue = CauseValue(1);
    /// 16 normal call clearing.
    pub const NORMAL_CALL_CLEARING: CauseValue = CauseValue(16);
    /// 17 user busy.
    pub const USER_BUSY: CauseValue = CauseValue(17);
    /// 18 no user responding.
    pub const NO_USER_RESPONDING: CauseValue = CauseValue(18);
    /// 19 no answer from user (user alerted).
    pub const NO_ANSWER: CauseValue = CauseValue(19);
    /// 21 call rejected.
    pub const CALL_REJECTED: CauseValue = CauseValue(21);
    /// 27 destination out of order.
    pub const DESTINATION_OUT_OF_ORDER: CauseValue = CauseValue(27);
    /// 31 normal, unspecified.
    pub const NORMAL_UNSPECIFIED: CauseValue = CauseValue(31);
    /// 34 no circuit/channel available.
    pub const NO_CIRCUIT_AVAILABLE: CauseValue = CauseValue(34);
    /// 41 temporary failure.
    pub const TEMPORARY_FAILURE: CauseValue = CauseValue(41);
    /// 47 resource unavailable, unspecified.
    pub const RESOURCE_UNAVAILABLE: CauseValue = CauseValue(47);
    /// 127 interworking, unspecified.
    pub const INTERWORKING: CauseValue = CauseValue(127);
}

/// Cause (Q.931 4.5.12, Q.850 section 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// Octet 3 bits 7-6 (0 = ITU-T).
    pub coding_standard: u8,
    /// Octet 3 bits 4-1 (0 = user, 1 = private network serving the local user, ...).
    pub location: u8,
    /// Octet 3a bits 7-1, present when octet 3's extension bit is 0.
    pub recommendation: Option<u8>,
    /// Octet 4 bits 7-1.
    pub value: CauseValue,
    /// Octets 5 on.
    pub diagnostics: Vec<u8>,
}

impl Cause {
    /// ITU-T coding, location "user", no diagnostics: what an endpoint or gatekeeper sends.
    pub fn new(value: CauseValue) -> Self {
        Cause {
            coding_standard: 0,
            location: 0,
            recommendation: None,
            value,
            diagnostics: Vec::new(),
        }
    }

    /// Decodes a Cause content.
    pub fn decode(content: &[u8]) -> Result<Self, Q931Error> {
        let t = || bad(IE_CAUSE, IeFault::Truncated);
        let (&o3, mut rest) = content.split_first().ok_or_else(t)?;
        let mut recommendation = None;
        if o3 & 0x80 == 0 {
            let (&o3a, r) = rest.split_first().ok_or_else(t)?;
            if o3a & 0x80 == 0 {
                return Err(bad(IE_CAUSE, IeFault::BadValue));
            }
            recommendation = Some(o3a & 0x7f);
            rest = r;
        }
        let (&o4, diagnostics) = rest.split_first().ok_or_else(t)?;
        if o4 & 0x80 == 0 {
            return Err(bad(IE_CAUSE, IeFault::BadValue));
        }
        Ok(Cause {
            coding_standard: (o3 >> 5) & 0x03,
            location: o3 & 0x0f,
            recommendation,
            value: CauseValue(o4 & 0x7f),
            diagnostics: diagnostics.to_vec(),
        })
    }

    /// The element content.
    pub fn encode(&self) -> Vec<u8> {
        let ext = if self.recommendation.is_some() {
            0
        } else {
            0x80
        };
        let mut out = vec![ext | ((self.coding_standard & 0x03) << 5) | (self.location & 0x0f)];
        if let Some(r) = self.recommendation {
            out.push(0x80 | (r & 0x7f));
        }
        out.push(0x80 | (self.value.0 & 0x7f));
        out.extend_from_slice(&self.diagnostics);
        out
    }
}

/// User-user (Q.931 4.5.30 with H.225.0's 2-octet length): the protocol discriminator and the
/// user information (for discriminator 5, a PER `H323-UserInformation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserUser {
    /// First content octet.
    pub protocol: u8,
    /// The rest.
    pub data: Vec<u8>,
}

impl UserUser {
    /// Decodes a User-user content.
    pub fn decode(content: &[u8]) -> Result<Self, Q931Error> {
        let (&protocol, data) = content
            .split_first()
            .ok_or(bad(IE_USER_USER, IeFault::Truncated))?;
        Ok(UserUser {
            protocol,
            data: data.to_vec(),
        })
    }

    /// The element content.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.data.len());
        out.push(self.protocol);
        out.extend_from_slice(&self.data);
        out
    }
}

/// Decodes a Display content (IA5).
pub fn decode_display(content: &[u8]) -> Result<String, Q931Error> {
    ia5(IE_DISPLAY, content)
}
