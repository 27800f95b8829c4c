//! Every default port and range, in one place, named after the row of the reference port tables
//! (`shared/reference/001_…` SIP/H.323 calls, `004_…` per-call-type tables, `000/002/003_…`
//! clustering) it comes from. Nothing else in causeway writes a port number literal.
//!
//! This module holds values only: no parsing, no validation.

use crate::types::PortRange;

/// "SIP signaling … Expressway 5060 UDP" (disabled by default on an edge node).
pub const SIP_UDP_PORT: u16 = 5060;
/// "SIP signaling … Expressway 5060 TCP" (disabled by default on an edge node since X8.9.2).
pub const SIP_TCP_PORT: u16 = 5060;
/// "SIP signaling … Expressway 5061 TLS".
pub const SIP_TLS_PORT: u16 = 5061;
/// "SIP signaling … Expressway 5062 MTLS".
pub const SIP_MTLS_PORT: u16 = 5062;
/// "SIP signaling, Expressway-C/E 25000-29999 TCP or TLS" source ports of outbound connections.
pub const SIP_OUTBOUND_PORTS: PortRange = PortRange {
    start: 25000,
    end: 29999,
};
/// "SIP signaling … Expressway-E 7001 (for first traversal zone; 7002 for second etc.)".
pub const TRAVERSAL_SIP_FIRST_PORT: u16 = 7001;
/// H.323 traversal zone RAS port on E: 6001 for the first zone, 6002, ….
pub const TRAVERSAL_RAS_FIRST_PORT: u16 = 6001;
/// "H.323 RAS UDP 1719".
pub const H323_RAS_PORT: u16 = 1719;
/// "H.323 Q.931 TCP 1720".
pub const H323_Q931_PORT: u16 = 1720;
/// "H.323 call signaling 15000-19999" source ports.
pub const H323_SIGNALING_PORTS: PortRange = PortRange {
    start: 15000,
    end: 19999,
};
/// H.225.0 gatekeeper discovery: GRQ multicast to 224.0.1.41, UDP 1718.
pub const H323_DISCOVERY_PORT: u16 = 1718;
pub const H323_DISCOVERY_GROUP: std::net::Ipv4Addr = std::net::Ipv4Addr::new(224, 0, 1, 41);
/// H.323 registration time to live, seconds: 30 minutes, as the reference systems.
pub const H323_TIME_TO_LIVE_SECS: u32 = 1800;
/// Seconds an endpoint whose time to live ran out has to answer the gatekeeper's IRQ.
pub const H323_PROBE_TIMEOUT_SECS: u64 = 10;
/// Admitted and relayed H.323 calls at once.
pub const H323_MAX_CALLS: usize = 10_000;
/// Seconds a neighbor gatekeeper has to answer an LRQ (H.225.0 suggests a few seconds).
pub const H323_LOCATE_TIMEOUT_SECS: u64 = 5;
/// Seconds from Setup to Connect before a relayed H.323 call is cleared (Q.931 T301 is at
/// least 3 minutes).
pub const H323_SETUP_TIMEOUT_SECS: u64 = 180;
/// "Assent signaling TCP 2776" / "H.460.18 H.245 TCP 2777".
pub const ASSENT_SIGNALING_PORT: u16 = 2776;
/// H.460.18 H.245.
pub const H46018_H245_PORT: u16 = 2777;
/// Seconds between H.460.18 keep-alives of a traversal RAS flow (lightweight RRQ), and the time
/// to live E grants an endpoint behind a NAT: 19 s, as the public implementations use, so a
/// firewall's UDP pinhole (commonly 30 s or more) never closes.
pub const H46018_KEEPALIVE_SECS: u64 = 19;
/// The range allowed for that interval, seconds.
pub const H46018_KEEPALIVE_RANGE: std::ops::RangeInclusive<u64> = 5..=30;
/// H.235.1 timestamps further than this from our clock (seconds) are refused; both sides need
/// NTP.
pub const H235_CLOCK_SKEW_SECS: u64 = 300;
/// "Assent RTP/RTCP (traversed media) 36000-59999".
pub const MEDIA_PORTS: PortRange = PortRange {
    start: 36000,
    end: 59999,
};
/// "TURN control 3478 (Small/Medium)".
pub const TURN_LISTEN_PORT: u16 = 3478;
/// "TURN media 24000-29999".
pub const TURN_RELAY_PORTS: PortRange = PortRange {
    start: 24000,
    end: 29999,
};
/// Ephemeral ports for LDAP, DNS, … 30000-35999.
pub const EPHEMERAL_PORTS: PortRange = PortRange {
    start: 30000,
    end: 35999,
};
/// Clustering: 4371 recovery, 4372 TLS communication.
pub const CLUSTER_RECOVERY_PORT: u16 = 4371;
pub const CLUSTER_TLS_PORT: u16 = 4372;

/// RFC 3261 section 18.1.1 says 1300 bytes for UDP before switching transport; the limit here is
/// what we accept at all, on any transport.
pub const MAX_MESSAGE_SIZE: usize = 65_535;
/// Header fields accepted per message before it is rejected as abusive.
pub const MAX_HEADERS: usize = 256;
/// Idle stream connections are closed after this many seconds (RFC 5626 keep-alives keep
/// a live one open).
pub const IDLE_TIMEOUT_SECS: u64 = 600;
pub const MAX_CONNECTIONS: usize = 10_000;
pub const MAX_CONNECTIONS_PER_IP: usize = 256;
/// `[protection]`: one source may send this many SIP messages per second. 1000 calls/s from
/// one source is about 3,000 requests/s, 7,000 messages/s when it is caller and callee both.
pub const PROTECTION_MESSAGES_PER_SECOND: u32 = 10_000;
/// Unparsable messages per second before a source is blocked (a UA's bug sends a few, a
/// flood thousands).
pub const PROTECTION_GARBAGE_PER_SECOND: u32 = 20;
/// Failed authentications per second before a source is blocked (a phone with a wrong
/// password fails once per registration attempt; a guesser hundreds of times a second).
pub const PROTECTION_AUTH_FAILURES_PER_SECOND: u32 = 10;
/// New TCP/TLS connections per second from one source before it is blocked.
pub const PROTECTION_CONNECTIONS_PER_SECOND: u32 = 50;
/// Seconds a source that went over a budget gets no answer at all.
pub const PROTECTION_BLOCK_SECS: u64 = 60;
/// Seconds a message on a stream may take from its first byte (and an accepted connection to
/// its first message).
pub const PROTECTION_MESSAGE_TIMEOUT_SECS: u64 = 10;
/// Sources counted per second, and blocked at once.
pub const PROTECTION_MAX_SOURCES: usize = 65_536;
/// Transactions alive at once; past this new requests get 503. RFC 3261/6026 keep a finished
/// transaction for 64*T1 = 32 s on UDP, so a call holds about four for ~32 s: 1,000,000 covers
/// some 7,000 calls/s (about 2 KB each once finished).
pub const MAX_TRANSACTIONS: usize = 1_000_000;

/// Registrar expiry bounds (seconds).
pub const REGISTRAR_MIN_EXPIRES: u32 = 60;
pub const REGISTRAR_MAX_EXPIRES: u32 = 3600;
pub const REGISTRAR_DEFAULT_EXPIRES: u32 = 3600;
pub const REGISTRAR_MAX_BINDINGS_PER_AOR: usize = 16;
pub const REGISTRAR_MAX_AORS: usize = 100_000;
/// Digest nonces older than this are answered with `stale=true`.
pub const DIGEST_NONCE_LIFETIME_SECS: u64 = 300;
/// RFC 5626 4.4.1: keep-alive interval asked of outbound UAs, in `Flow-Timer`. UDP NAT
/// bindings often last only 30 s; streams keep far longer (the RFC's client default 95-120 s).
pub const FLOW_TIMER_UDP_SECS: u32 = 29;
pub const FLOW_TIMER_STREAM_SECS: u32 = 120;

/// RFC 3261 section 17.1.1.1 timer values (milliseconds) and the proxy's timer C (16.6 item 11).
pub const SIP_T1_MS: u64 = 500;
pub const SIP_T2_MS: u64 = 4000;
pub const SIP_T4_MS: u64 = 5000;
pub const SIP_TIMER_C_SECS: u64 = 180;

/// SIP UDP on io_uring: how long a wake-up may wait for more datagrams once one is in
/// (`[sip] udp_batch_us`, microseconds; 0: none).
pub const SIP_UDP_BATCH_US: u32 = 2000;
/// SIP threads on io_uring (`[sip] threads`): one. A second costs CPU per call (every message
/// crosses between the threads) and pays only past what one thread carries.
pub const SIP_THREADS: u8 = 1;

/// Search rule priority when none is given (1–65534, lower first).
pub const SEARCH_RULE_PRIORITY: u16 = 100;
/// Hops a request may take through zones before it is refused (loop stop); SIP caps
/// Max-Forwards of requests forwarded into a zone at this.
pub const HOP_LIMIT: u32 = 15;
/// Traversal link: RFC 5626 CRLF keep-alive interval and registration refresh (seconds).
pub const TRAVERSAL_KEEPALIVE_SECS: u64 = 30;
pub const TRAVERSAL_REGISTRATION_EXPIRES: u32 = 120;
/// Traversal link reconnect: first retry after this many seconds, doubling up to the maximum.
pub const TRAVERSAL_RETRY_FIRST_SECS: u64 = 1;
pub const TRAVERSAL_RETRY_MAX_SECS: u64 = 120;
/// A link whose keep-alive is not answered within this many seconds is declared down.
pub const TRAVERSAL_KEEPALIVE_TIMEOUT_SECS: u64 = 10;
/// Admin/status HTTP listener (loopback unless `[admin] tls` and `users`).
pub const ADMIN_LISTEN: &str = "127.0.0.1:7080";
/// Calls whose message ladder the node keeps (`[admin] call_history`), and the bytes they may
/// take at most (`call_history_bytes`; the oldest call goes first when either is exceeded).
/// 1000 routed calls of about 13 messages of 600-1000 bytes are 8-13 MB.
pub const CALL_HISTORY: usize = 1000;
pub const CALL_HISTORY_BYTES: usize = 16 * 1024 * 1024;
/// Routing decisions kept for the search history (`[admin] search_history`).
pub const SEARCH_HISTORY: usize = 1000;

/// "Assent RTP/RTCP … multiplexed 36000/36001 (Small/Medium)": where E receives the traversal
/// media of all calls from C.
pub const MEDIA_MULTIPLEXED_PORTS: PortRange = PortRange {
    start: 36000,
    end: 36001,
};
/// A relay session with no packet in either direction for this long is ended (seconds).
pub const MEDIA_INACTIVITY_TIMEOUT_SECS: u64 = 60;
/// Relay sessions alive at once; past this a call that needs anchoring is refused (488/503).
pub const MEDIA_MAX_SESSIONS: usize = 10_000;
/// The RTP payload type of C's traversal media keep-alives (GNU Gatekeeper's), and the range
/// allowed for it: RTP's dynamic payload types (RFC 3551 6).
pub const MEDIA_KEEPALIVE_PAYLOAD_TYPE: u8 = 116;
pub const MEDIA_KEEPALIVE_PAYLOAD_TYPE_RANGE: std::ops::RangeInclusive<u8> = 96..=127;
