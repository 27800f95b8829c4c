//! CPU per call of the sans-IO proxy core alone, at its steady state: the call of
//! `bench/cps.sh` (sipp's `uac.xml`/`uas.xml`: INVITE, 100, 180, 200, ACK, BYE, 200, the callee
//! found by its registration, Record-Route honoured) fed to one `Core` with a fake clock that
//! moves 1 ms per call (1000 calls/s), every timer fired as the driver fires them. No sockets,
//! no driver, no call history: what is left of `cps.sh`'s figure beyond this is theirs.
//!
//! The UAC and UAS are played here the way sipp plays them (responses copy the request's Via,
//! Record-Route, From, To, Call-ID and CSeq lines; the ACK and BYE follow the Record-Route);
//! their work is inside the timed loop, a small part of it (a few line scans per message).
//!
//! Run: `cargo bench -p causeway-sip --bench calls [-- WARM MEASURED]` (defaults: 200,000 calls
//! to reach the steady state, the 32 s tables and timer C full, then 100,000 measured; at most
//! 3,000,000 together, the callee's registration lasting an hour of the fake clock). Without
//! `--bench` (`cargo test --benches`) it runs 300 + 300 calls, as a check that calls complete.
//! Prints ns per call, and allocations (and their bytes) per call: the harness's own are in that
//! count, eight per call (each datagram's `Bytes` copy, six, and the Record-Route and To lines
//! kept for the ACK and BYE, two). For instructions per call run the binary under
//! `valgrind --tool=callgrind` with small counts, for a profile under `perf record`.

use bytes::Bytes;
use causeway_config::Transport;
use causeway_sip::proxy::{
    Core, Event, Machine, NetEnv, Output, ProxySettings, Received, WallClock,
};
use causeway_sip::registrar::RegistrarPolicy;
use causeway_sip::transaction::TimerConfig;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::alloc::{GlobalAlloc, Layout};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

// the node's allocator: the figure depends on it; counted, so that the line can say how many
// allocations a call makes (what the allocator's share of `cps.sh`'s profile is made of)
#[global_allocator]
static GLOBAL: Counting = Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);

/// mimalloc, with a count of allocations and their bytes. A load and a store rather than a
/// `fetch_add`: the bench runs on one thread, and a locked add on every allocation would move
/// the figure; a count lost to another thread (there is none in the timed loop) is harmless.
struct Counting;

fn count(bytes: usize) {
    ALLOCS.store(ALLOCS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    let b = ALLOC_BYTES.load(Ordering::Relaxed) + bytes as u64;
    ALLOC_BYTES.store(b, Ordering::Relaxed);
}

// SAFETY: every call goes to mimalloc with the caller's own arguments; the counters only add.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract, passed on
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract, passed on
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: the caller's contract, passed on
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
}

const PROXY: &str = "127.0.0.1:5060";
const UAC: &str = "127.0.0.1:5061";
const UAS: &str = "127.0.0.1:5062";

struct Loopback;

impl NetEnv for Loopback {
    fn source_ip_for(&self, _dest: IpAddr) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }
    fn is_local_ip(&self, ip: IpAddr) -> bool {
        ip.is_loopback()
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn settings() -> ProxySettings {
    ProxySettings {
        system_name: "bench".into(),
        domains: vec!["example.com".into()],
        timers: TimerConfig::default(),
        max_transactions: 1_000_000,
        max_message_size: 65535,
        max_headers: 256,
        registrar: RegistrarPolicy {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_bindings_per_aor: 8,
            max_aors: 100,
            stream_flow_max_expires: 540,
            flow_timer_udp: 29,
            flow_timer_stream: 120,
        },
        auth: None,
        router: None,
        server_zones: Vec::new(),
        client_zones: Vec::new(),
    }
}

struct Bench {
    core: Core,
    now: Instant,
    out: Vec<Output>,
    buf: Vec<u8>,
    /// Messages the core sent, by destination.
    to_uac: Vec<Bytes>,
    to_uas: Vec<Bytes>,
}

impl Bench {
    fn new() -> Bench {
        let now = Instant::now();
        let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let core = Core::new(
            settings(),
            vec![(Transport::Udp, addr(PROXY))],
            Box::new(Loopback),
            WallClock::at(now, epoch),
            StdRng::seed_from_u64(3261),
        );
        Bench {
            core,
            now,
            out: Vec::new(),
            buf: Vec::with_capacity(2048),
            to_uac: Vec::new(),
            to_uas: Vec::new(),
        }
    }

    /// `self.buf` as a datagram from `from`.
    fn deliver(&mut self, from: &str) {
        let received = Received {
            data: Bytes::copy_from_slice(&self.buf),
            kind: Transport::Udp,
            local: addr(PROXY),
            remote: addr(from),
            conn: None,
            mtls_peer: None,
        };
        self.core
            .handle(Event::Received(received), self.now, &mut self.out);
        self.sort();
    }

    fn sort(&mut self) {
        for o in self.out.drain(..) {
            if let Output::Transmit(t) = o {
                if t.dest == addr(UAC) {
                    self.to_uac.push(t.data);
                } else if t.dest == addr(UAS) {
                    self.to_uas.push(t.data);
                }
            }
        }
    }

    /// The clock moves to `to`, every deadline on the way fired (as the driver does).
    fn advance(&mut self, to: Instant) {
        while let Some(t) = self.core.poll_timeout() {
            if t > to {
                break;
            }
            self.now = t.max(self.now);
            self.core.handle_timeout(self.now, &mut self.out);
        }
        self.now = to;
        self.sort();
    }

    fn register(&mut self) {
        self.buf.clear();
        let _ = write!(
            self.buf,
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {UAS};branch=z9hG4bKreg\r\n\
             Max-Forwards: 70\r\nFrom: <sip:service@example.com>;tag=r1\r\n\
             To: <sip:service@example.com>\r\nCall-ID: reg-service\r\nCSeq: 1 REGISTER\r\n\
             Contact: <sip:service@{UAS}>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"
        );
        self.deliver(UAS);
        let ok = self.to_uas.drain(..).any(|m| m.starts_with(b"SIP/2.0 200"));
        assert!(ok, "the registration was accepted");
    }

    /// One whole call, number `n`; false when a step got no answer.
    fn call(&mut self, n: u64) -> bool {
        // INVITE from the UAC
        self.buf.clear();
        let _ = write!(
            self.buf,
            "INVITE sip:service@example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP {UAC};branch=z9hG4bK-{n}-1\r\n\
             From: sipp <sip:sipp@{UAC}>;tag={n}SIPpTag001\r\n\
             To: service <sip:service@example.com>\r\nCall-ID: {n}-bench@127.0.0.1\r\n\
             CSeq: 1 INVITE\r\nContact: <sip:sipp@{UAC}>\r\nMax-Forwards: 70\r\n\
             Subject: Performance Test\r\nContent-Length: 0\r\n\r\n"
        );
        self.deliver(UAC);
        let Some(invite) = self.to_uas.pop() else {
            return false;
        };
        // the UAS rings and answers
        respond(&mut self.buf, &invite, "180 Ringing", n);
        self.deliver(UAS);
        respond(&mut self.buf, &invite, "200 OK", n);
        self.buf
            .truncate(self.buf.len() - b"Content-Length: 0\r\n\r\n".len());
        let _ = write!(
            self.buf,
            "Contact: <sip:service@{UAS}>\r\nContent-Length: 0\r\n\r\n"
        );
        self.deliver(UAS);
        let Some(ok) = self
            .to_uac
            .iter()
            .rev()
            .find(|m| m.starts_with(b"SIP/2.0 200"))
        else {
            return false;
        };
        let ok = ok.clone();
        self.to_uac.clear();
        // ACK and BYE along the Record-Route, to the UAS's Contact
        let route = header(&ok, b"Record-Route:").unwrap_or_default().to_vec();
        let to = header(&ok, b"To:").unwrap_or_default().to_vec();
        for (method, cseq, branch) in [("ACK", 1, 2), ("BYE", 2, 3)] {
            self.buf.clear();
            let _ = write!(self.buf, "{method} sip:service@{UAS} SIP/2.0\r\n");
            let _ = write!(
                self.buf,
                "Via: SIP/2.0/UDP {UAC};branch=z9hG4bK-{n}-{branch}\r\n\
                 From: sipp <sip:sipp@{UAC}>;tag={n}SIPpTag001\r\nTo:"
            );
            self.buf.extend_from_slice(&to);
            let _ = write!(
                self.buf,
                "\r\nCall-ID: {n}-bench@127.0.0.1\r\nCSeq: {cseq} {method}\r\nRoute:"
            );
            self.buf.extend_from_slice(&route);
            let _ = write!(
                self.buf,
                "\r\nContact: <sip:sipp@{UAC}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            );
            self.deliver(UAC);
        }
        let Some(bye) = self.to_uas.pop() else {
            return false;
        };
        self.to_uas.clear();
        respond(&mut self.buf, &bye, "200 OK", n);
        self.deliver(UAS);
        let done = self.to_uac.iter().any(|m| m.starts_with(b"SIP/2.0 200"));
        self.to_uac.clear();
        done
    }
}

/// The value of the first `name` line of `msg` (after the colon), if there is one.
fn header<'a>(msg: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    msg.split(|&b| b == b'\n')
        .find(|l| l.starts_with(name))
        .map(|l| {
            l[name.len()..]
                .strip_suffix(b"\r")
                .unwrap_or(&l[name.len()..])
        })
}

/// A response to `req` in `buf`, as sipp's UAS writes one: the Via, Record-Route, From, To
/// (tagged), Call-ID and CSeq lines copied.
fn respond(buf: &mut Vec<u8>, req: &[u8], status: &str, n: u64) {
    buf.clear();
    let _ = write!(buf, "SIP/2.0 {status}\r\n");
    for line in req.split(|&b| b == b'\n') {
        let keep = [
            &b"Via:"[..],
            b"Record-Route:",
            b"From:",
            b"Call-ID:",
            b"CSeq:",
        ];
        if keep.iter().any(|k| line.starts_with(k)) {
            buf.extend_from_slice(line);
            buf.push(b'\n');
        } else if line.starts_with(b"To:") {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            buf.extend_from_slice(line);
            if !line.windows(5).any(|w| w == b";tag=") {
                let _ = write!(buf, ";tag={n}uas");
            }
            buf.extend_from_slice(b"\r\n");
        }
    }
    buf.extend_from_slice(b"Content-Length: 0\r\n\r\n");
}

/// The process's resident set (kB, from /proc; 0 where there is none): what the calls' 32 s of
/// state hold, beside the time.
fn rss_kb() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let mut args = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<u64>().ok());
    let (warm, measured) = if bench {
        (200_000, 100_000)
    } else {
        (300, 300)
    };
    let warm = args.next().unwrap_or(warm);
    let measured = args.next().unwrap_or(measured);
    if warm + measured > 3_000_000 {
        eprintln!("at most 3,000,000 calls: the callee's registration runs out after an hour");
        std::process::exit(2);
    }
    let mut b = Bench::new();
    b.register();
    let step = Duration::from_millis(1);
    let mut failed = 0u64;
    for n in 0..warm {
        failed += u64::from(!b.call(n));
        b.advance(b.now + step);
    }
    let t0 = Instant::now();
    let (allocs0, bytes0) = (
        ALLOCS.load(Ordering::Relaxed),
        ALLOC_BYTES.load(Ordering::Relaxed),
    );
    for n in warm..warm + measured {
        failed += u64::from(!b.call(n));
        b.advance(b.now + step);
    }
    let elapsed = t0.elapsed();
    let allocs = ALLOCS.load(Ordering::Relaxed) - allocs0;
    let bytes = ALLOC_BYTES.load(Ordering::Relaxed) - bytes0;
    println!(
        "core calls: warm={warm} measured={measured} failed={failed} ns_per_call={:.0} \
         allocs_per_call={:.1} alloc_bytes_per_call={:.0} transactions={} rss_kb={}",
        elapsed.as_nanos() as f64 / measured as f64,
        allocs as f64 / measured as f64,
        bytes as f64 / measured as f64,
        b.core.transaction_count(),
        rss_kb()
    );
    // a figure of calls that did not complete measures something else
    if failed > 0 {
        std::process::exit(1);
    }
}
