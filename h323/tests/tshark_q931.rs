//! Cross-check of our TPKT + Q.931 encoding against a dissector nobody here wrote: the messages
//! are written into a pcap as TCP segments to port 1720 (H.225.0 call signaling) and read back
//! with `tshark` (a test that needs it fails when it is missing: `.ci/run` installs it).

use causeway_h323::q931::{
    CallReference, CauseValue, MessageType, PartyNumber, Presentation, Q931,
};
use causeway_h323::tpkt;
use std::path::Path;
use std::process::Command;

/// H323-UserInformation values (aligned PER) made by asn1tools with
/// `tests/golden/make_uu_vectors.py`: a Setup-UUIE (protocol 0.0.8.2250.0.6, terminal source,
/// conferenceID 10..1f, create, pointToPoint, callIdentifier 00..0f, every BOOLEAN false) and a
/// ReleaseComplete-UUIE (same protocol and callIdentifier).
const SETUP_UUIE: &str = "0080060008914a00060200101112131415161718191a1b1c1d1e1f00d90d8000001100000102030405060708090a0b0c0d0e0f0100010001000100";
const RELEASE_COMPLETE_UUIE: &str = "0580060008914a00061500001100000102030405060708090a0b0c0d0e0f";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A classic libpcap file, Ethernet link type, one frame per TCP segment.
struct Pcap {
    bytes: Vec<u8>,
    seq: u32,
}

impl Pcap {
    fn new() -> Self {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&0i32.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&65535u32.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
        Pcap { bytes, seq: 1000 }
    }

    /// One TCP segment 10.0.0.1:15000 -> 10.0.0.2:1720 carrying `payload`.
    fn segment(&mut self, payload: &[u8]) {
        let mut frame = Vec::new();
        frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let total = (20 + 20 + payload.len()) as u16;
        let mut ip = vec![0x45, 0x00];
        ip.extend_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&[0, 1, 0x40, 0x00, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        let sum = ip
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum::<u32>();
        let sum = (sum & 0xffff) + (sum >> 16);
        let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&15000u16.to_be_bytes());
        frame.extend_from_slice(&1720u16.to_be_bytes());
        frame.extend_from_slice(&self.seq.to_be_bytes());
        frame.extend_from_slice(&1u32.to_be_bytes());
        // data offset 5 words, PSH+ACK, window, checksum 0 (tshark does not verify it by
        // default), urgent pointer.
        frame.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        frame.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(payload.len() as u32);
        let n = frame.len() as u32;
        self.bytes
            .extend_from_slice(&1_800_000_000u32.to_le_bytes());
        self.bytes.extend_from_slice(&0u32.to_le_bytes());
        self.bytes.extend_from_slice(&n.to_le_bytes());
        self.bytes.extend_from_slice(&n.to_le_bytes());
        self.bytes.extend_from_slice(&frame);
    }
}

fn write_pcap(name: &str, pcap: &Pcap) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("causeway-q931-{name}-{}.pcap", std::process::id()));
    std::fs::write(&path, &pcap.bytes).unwrap();
    path
}

fn tshark(args: &[&str], file: &Path) -> Option<String> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn tshark_dissects_our_setup_and_release_complete() {
    let cr = CallReference::new(0x1234, false).unwrap();
    let mut setup = Q931::new(MessageType::Setup, cr);
    setup.set_bearer_capability(vec![0x88, 0x90, 0xa5]).unwrap();
    setup.set_display("Alice").unwrap();
    let mut calling = PartyNumber::e164("1001");
    calling.presentation = Some(Presentation {
        indicator: 0,
        screening: 0,
    });
    setup.set_calling_party_number(&calling).unwrap();
    setup
        .set_called_party_number(&PartyNumber::e164("2002"))
        .unwrap();
    setup.set_user_user(&hex(SETUP_UUIE)).unwrap();
    let mut release = Q931::new(MessageType::ReleaseComplete, cr.reply());
    release.set_cause(CauseValue::NORMAL_CALL_CLEARING).unwrap();
    release.set_user_user(&hex(RELEASE_COMPLETE_UUIE)).unwrap();

    let mut pcap = Pcap::new();
    pcap.segment(&tpkt::encode(&setup.encode()).unwrap());
    pcap.segment(&tpkt::encode(&release.encode()).unwrap());
    let path = write_pcap("ok", &pcap);

    let Some(malformed) = tshark(
        &["-Y", "_ws.malformed || _ws.expert.severity >= warning"],
        &path,
    ) else {
        panic!("tshark is missing: apt-get install -y tshark (.ci/run installs it)");
    };
    let verbose = tshark(&["-V"], &path).unwrap_or_default();
    assert_eq!(
        malformed, "",
        "tshark flags our frames in {path:?}:\n{verbose}"
    );
    for want in [
        "Message type: SETUP (0x05)",
        "Call reference value: 1234",
        "Information transfer capability: Unrestricted digital information (0x08)",
        "Display information: Alice",
        "Calling party number digits: 1001",
        "Called party number digits: 2002",
        "Message type: RELEASE COMPLETE (0x5a)",
        "Cause value: Normal call clearing (16)",
        "H.225.0 CS",
        "h323-message-body: setup (0)",
        "h323-message-body: releaseComplete (5)",
    ] {
        assert!(
            verbose.contains(want),
            "missing {want:?} in {path:?}:\n{verbose}"
        );
    }
    // Kept on failure for inspection.
    let _ = std::fs::remove_file(&path);
}

/// The oracle is not vacuous: a Setup whose User-user length runs one octet past the message
/// is flagged malformed by tshark (and refused by our parser).
#[test]
fn tshark_flags_a_user_user_overrun() {
    let mut setup = Q931::new(
        MessageType::Setup,
        CallReference::new(0x1234, false).unwrap(),
    );
    setup.set_user_user(&hex(SETUP_UUIE)).unwrap();
    let mut bytes = setup.encode();
    bytes.pop();
    assert!(Q931::parse(&bytes).is_err());
    let mut pcap = Pcap::new();
    pcap.segment(&tpkt::encode(&bytes).unwrap());
    let path = write_pcap("overrun", &pcap);
    let Some(malformed) = tshark(&["-Y", "_ws.malformed"], &path) else {
        panic!("tshark is missing: apt-get install -y tshark (.ci/run installs it)");
    };
    let _ = std::fs::remove_file(&path);
    assert_ne!(malformed, "");
}
