//! The media relay under the rtpengine benchmark's generator (`../shared/bench/rtpengine/
//! rtpgen.c`): sets up N relay sessions laid out like `ng.py setup` (call i: side A on
//! 127.0.0.1:(base+2i), side B on 127.0.0.1:(base+2i+1)), writes the generator's map file
//! ("a_port relay_for_a b_port relay_for_b"), then relays until SIGTERM or SIGINT and prints
//! its counters once on the way out. Nothing is printed per packet.
//!
//!     cargo run --release -p causeway-media --example relay_bench -- \
//!         --sessions 500 --base 20000 --map /tmp/map.txt [--threads 1] [--ip 127.0.0.1]
//!         [--ports 36000-59999] [--layout plain|mux|nonmux] [--mux-port 36000]
//!         [--rcvbuf BYTES] [--io auto|io_uring|epoll]
//!
//! `--threads 1` (the default) runs the relay on a current-thread runtime; more threads use
//! the multi-thread runtime with that many workers.
//!
//! `--layout` picks what side B's leg is, as E sets up a traversal call's leg towards C:
//! `plain` (the default: a pair of its own, as every SIP and H.323 leg off a link), `mux` (E's
//! multiplexed pair `--mux-port`/+1, shared by every session and told apart by B's source,
//! marked as E's end of a link) or `nonmux` (a pair of its own marked as E's end of a link:
//! H.460.19's non-multiplexed layout). The generator's B side then sends to the multiplexed
//! port for every call with `mux`.
//!
//! `--rcvbuf` sets SO_RCVBUF on every relay socket (`RelayConfig::recv_buffer`; the kernel
//! default, `net.core.rmem_default`, without it). It matters for `mux`: one socket then takes
//! every call's B side.
//!
//! `--io` picks the relay's I/O path (`RelayConfig::io`, `[media] relay_io`; `auto` by
//! default); the path in use is printed at start.

use causeway_config::PortRange;
use causeway_media::latch::LatchConfig;
use causeway_media::ports::PortPair;
use causeway_media::relay::{self, IoPath, RelayConfig};
use causeway_media::session::{LegSpec, TableConfig};
use causeway_media::LinkEnd;
use causeway_media::{RelayCommand, RelayEvent};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Instant;

struct Args {
    sessions: usize,
    base: u16,
    map: String,
    threads: usize,
    ip: IpAddr,
    ports: PortRange,
    layout: Layout,
    mux_port: u16,
    rcvbuf: Option<usize>,
    io: IoPath,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    Plain,
    Mux,
    NonMux,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        sessions: 0,
        base: 20000,
        map: String::new(),
        threads: 1,
        ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        ports: causeway_config::defaults::MEDIA_PORTS,
        layout: Layout::Plain,
        mux_port: 36000,
        rcvbuf: None,
        io: IoPath::Auto,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--sessions" => {
                a.sessions = value()?.parse().map_err(|e| format!("--sessions: {e}"))?
            }
            "--base" => a.base = value()?.parse().map_err(|e| format!("--base: {e}"))?,
            "--map" => a.map = value()?,
            "--threads" => a.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--ip" => a.ip = value()?.parse().map_err(|e| format!("--ip: {e}"))?,
            "--ports" => a.ports = value()?.parse().map_err(|e| format!("--ports: {e}"))?,
            "--layout" => {
                a.layout = match value()?.as_str() {
                    "plain" => Layout::Plain,
                    "mux" => Layout::Mux,
                    "nonmux" => Layout::NonMux,
                    other => return Err(format!("--layout: {other}: plain, mux or nonmux")),
                }
            }
            "--mux-port" => {
                a.mux_port = value()?.parse().map_err(|e| format!("--mux-port: {e}"))?
            }
            "--rcvbuf" => a.rcvbuf = Some(value()?.parse().map_err(|e| format!("--rcvbuf: {e}"))?),
            "--io" => {
                a.io = match value()?.as_str() {
                    "auto" => IoPath::Auto,
                    "io_uring" => IoPath::IoUring,
                    "epoll" => IoPath::Epoll,
                    other => return Err(format!("--io: {other}: auto, io_uring or epoll")),
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.sessions == 0 || a.map.is_empty() {
        return Err("usage: relay_bench --sessions N --base PORT --map MAPFILE [--threads T] [--ip IP] [--ports A-B] [--layout plain|mux|nonmux] [--mux-port P] [--rcvbuf BYTES] [--io auto|io_uring|epoll]".into());
    }
    let top = usize::from(a.base) + 2 * a.sessions;
    if top > usize::from(u16::MAX) {
        return Err(format!(
            "--base {} leaves no room for {} sessions",
            a.base, a.sessions
        ));
    }
    Ok(a)
}

/// Four sockets per session: lift the soft descriptor limit to the hard one.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    raise_fd_limit();
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relay_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let table = TableConfig {
        ports: args.ports,
        multiplexed: match args.layout {
            Layout::Mux => Some(
                PortPair::new(args.mux_port).ok_or("--mux-port must be even and below 65535")?,
            ),
            _ => None,
        },
        max_sessions: args.sessions,
        latch: LatchConfig::default(),
    };
    let mut config = RelayConfig::new(args.ip, table);
    config.recv_buffer = args.rcvbuf;
    config.io = args.io;
    let relay = relay::spawn(config)?;
    let mut map = String::new();
    for i in 0..args.sessions {
        // checked against u16 in parse_args
        let a_port = args.base + 2 * i as u16;
        let b_port = a_port + 1;
        // what the anchoring state machine and a signaling driver do together: the session
        // in the table, then its sockets
        let b = Some(SocketAddr::new(args.ip, b_port));
        let b_leg = match args.layout {
            Layout::Plain => LegSpec::own(b),
            Layout::Mux => LegSpec::multiplexed(b).on_link(Some(LinkEnd::Server)),
            Layout::NonMux => LegSpec::own(b).on_link(Some(LinkEnd::Server)),
        };
        let s = relay.table().lock().add(
            LegSpec::own(Some(SocketAddr::new(args.ip, a_port))),
            b_leg,
            Instant::now(),
        )?;
        if let Some(RelayEvent::OpenFailed { port, error, .. }) =
            relay.execute(RelayCommand::Open(s))
        {
            return Err(format!("cannot bind media port {port}: {error}").into());
        }
        map.push_str(&format!(
            "{a_port} {} {b_port} {}\n",
            s.a.pair().rtp(),
            s.b.pair().rtp()
        ));
    }
    // Written whole under another name and renamed, so a script polling for the file never
    // reads half of it.
    let tmp = format!("{}.tmp", args.map);
    std::fs::File::create(&tmp)?.write_all(map.as_bytes())?;
    std::fs::rename(&tmp, &args.map)?;
    eprintln!(
        "relay_bench: {} sessions on {}, I/O {:?}, pid {}",
        args.sessions,
        args.ip,
        relay.io(),
        std::process::id()
    );

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let st = relay.stats();
    eprintln!(
        "relay_bench: received {} sent {} send_failed {} truncated {} recv_errors {} \
         dropped: stranger {} unknown_port {} unknown_source {} no_destination {}",
        st.received,
        st.sent,
        st.send_failed,
        st.truncated,
        st.recv_errors,
        st.table.dropped_stranger,
        st.table.dropped_unknown_port,
        st.table.dropped_unknown_source,
        st.table.dropped_no_destination
    );
    Ok(())
}
