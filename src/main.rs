//! The `causeway` binary: command line and wiring only. Protocol logic lives in the crates
//! (`config`, `zones`, `media`, `sip`, `h323`, `traversal`); this file parses arguments, sets up
//! logging and hands the configuration to `node` (or, for `check-route`, to `check_route`, for
//! `status`, to `admin::print`, for `trace` and `searches`, to `admin::trace`).

mod admin;
mod check_route;
mod node;

use anyhow::Context;
use causeway_config::Config;
use causeway_zones::{Protocol, LOCAL_ZONE};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

// mimalloc instead of glibc's malloc: the proxy allocates and frees a few dozen small values
// per message, and glibc's malloc and free were a fifth of the node's CPU per call (mimalloc
// took 152-158 µs per call down to 120-124 µs at 1000 calls/s, BENCHMARKS.md). Without
// transparent huge pages (the `no_thp` feature): its arenas faulted in 2 MB at a time while
// finished transactions pile up, 15 µs per call more.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// SIP firewall-traversal signaling proxy: registrar, proxy and traversal node.
#[derive(Parser)]
#[command(name = "causeway", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node (in the foreground, until SIGINT or SIGTERM).
    Run {
        /// Configuration file (TOML). Without it the embedded default runs: a control node,
        /// registrar and proxy for example.com on UDP/TCP 5060 and TLS 5061.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Check a configuration file and exit: 0 when it is valid, 1 with the reason otherwise.
    CheckConfig {
        /// Configuration file (TOML).
        file: PathBuf,
    },
    /// Print the embedded default configuration.
    DefaultConfig,
    /// Show a running node's zones, traversal links and registrations (from its admin
    /// listener on loopback).
    Status {
        #[command(flatten)]
        target: AdminArgs,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a running node re-read its configuration file (as SIGHUP does): the dial plan,
    /// zones, credentials, registrar and gatekeeper policy apply at once, without dropping
    /// calls, registrations or unchanged traversal links. 0 when applied (what changed is
    /// printed, with the settings that wait for a restart), 1 when the file is refused (its
    /// error is printed; the node keeps its configuration).
    Reload {
        #[command(flatten)]
        target: AdminArgs,
    },
    /// The cluster-wide configuration of a cluster peer.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the message ladder of a recent call as a sequence diagram (from the node's call
    /// history): 0 when the call is kept, 2 when no kept call matches.
    Trace {
        #[command(flatten)]
        target: AdminArgs,
        /// The call: its Call-ID (SIP) or callIdentifier (H.323, 32 hex digits), or an alias
        /// in its From or To (the newest such call).
        call: String,
        /// Every message in full under its row.
        #[arg(long)]
        text: bool,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the node's recent routing decisions (its search history), newest first.
    Searches {
        #[command(flatten)]
        target: AdminArgs,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
    /// Read a password on standard input and print its argon2id hash, for `[[admin.users]]
    /// password_hash`.
    HashPassword,
    /// Route one alias through the configuration's transforms and search rules and print the
    /// decision: 0 when there is a target, 2 when there is no route, 1 on a bad configuration.
    CheckRoute {
        /// Configuration file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// What was dialled: `bob@example.com`, `1234`, or a URI such as `sip:bob@example.com`.
        alias: String,
        /// Zone the call comes from: LocalZone (local endpoints) or a configured zone.
        #[arg(long, default_value = LOCAL_ZONE)]
        from: String,
        /// Protocol of the request (for rules with `protocol = "sip"` or `"h323"`).
        #[arg(long, value_enum, default_value_t = ProtocolArg::Sip)]
        protocol: ProtocolArg,
        /// The caller is an endpoint registered here (for `source = "registered"` rules).
        #[arg(long)]
        registered: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate FILE (only the shared tables: [registrar], [[credential]], [[zone]],
    /// [[transform]], [[search_rule]], [routing], [h323] policy keys) against the peer's own
    /// file and commit it on the cluster through any peer: 0 once a majority committed it and
    /// it is in effect on that peer, 1 with the reason otherwise.
    Apply {
        #[command(flatten)]
        target: AdminArgs,
        /// The shared document (TOML).
        file: PathBuf,
    },
}

/// How the commands that ask a running node find its admin listener.
#[derive(Args)]
struct AdminArgs {
    /// The node's configuration file, to find its `[admin] listen` address.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The admin address, instead of the configuration's (default 127.0.0.1:7080).
    #[arg(long)]
    admin: Option<SocketAddr>,
    /// The listener serves HTTPS (implied by the configuration's `[admin] tls`); its
    /// certificate is not verified (often the node's self-signed one).
    #[arg(long)]
    tls: bool,
    /// HTTP Basic user name; the password is read from CAUSEWAY_ADMIN_PASSWORD.
    #[arg(long)]
    user: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProtocolArg {
    Sip,
    H323,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file } => match Config::load(&file) {
            Ok(c) => {
                println!(
                    "{}: ok (system `{}`, role {}, domain {})",
                    file.display(),
                    c.system.name,
                    c.system.role,
                    c.system.domain
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Status { target, json } => with_target(target, |t| status(t, json)),
        Command::Reload { target } => with_target(target, reload),
        Command::Config(ConfigCommand::Apply { target, file }) => config_apply(target, &file),
        Command::Trace {
            target,
            call,
            text,
            json,
        } => with_target(target, |t| trace(t, &call, json, text)),
        Command::Searches { target, json } => with_target(target, |t| {
            print_or_fail(admin::trace::searches(t, json), t.addr)
        }),
        Command::HashPassword => hash_password(),
        Command::CheckRoute {
            config,
            alias,
            from,
            protocol,
            registered,
        } => {
            let protocol = match protocol {
                ProtocolArg::Sip => Protocol::Sip,
                ProtocolArg::H323 => Protocol::H323,
            };
            check_route::run(&config, &alias, &from, protocol, registered)
        }
        Command::DefaultConfig => {
            print!("{}", causeway_config::DEFAULT_TOML);
            ExitCode::SUCCESS
        }
        Command::Run { config } => run_command(config),
    }
}

fn init_logging(log: &causeway_config::Log) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match log.format {
        causeway_config::LogFormat::Text => fmt.init(),
        // one object per line; the call's span (its Call-ID) rides on every line of a call
        causeway_config::LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// `causeway run`: the node on its configuration (or the embedded default), until a signal.
fn run_command(path: Option<PathBuf>) -> ExitCode {
    let config = match &path {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => Config::embedded_default(),
    };
    init_logging(&config.log);
    match run(config, path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `f` on the admin listener `a` names, or fails with why it cannot be named.
fn with_target(a: AdminArgs, f: impl FnOnce(&admin::print::Target) -> ExitCode) -> ExitCode {
    match status_target(a) {
        Ok(target) => f(&target),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `causeway reload`: the node's answer on standard output, or its refusal on standard error.
fn reload(t: &admin::print::Target) -> ExitCode {
    match admin::print::reload(t) {
        Err(admin::print::FetchError::Refused(why)) => {
            eprintln!("{why}");
            ExitCode::FAILURE
        }
        other => print_or_fail(other, t.addr),
    }
}

/// `causeway config apply`: the document's text to the peer; its answer, or why not.
fn config_apply(target: AdminArgs, file: &std::path::Path) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: cannot read: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    with_target(target, |t| match admin::print::apply(t, &text) {
        Err(admin::print::FetchError::Refused(why)) => {
            // the peer names the document "document": the operator knows it by its path
            eprintln!(
                "{}",
                why.replace("error: document:", &format!("error: {}:", file.display()))
            );
            ExitCode::FAILURE
        }
        other => print_or_fail(other, t.addr),
    })
}

/// `causeway trace`: 2 when no kept call matches.
fn trace(t: &admin::print::Target, call: &str, json: bool, text: bool) -> ExitCode {
    match admin::trace::trace(t, call, json, text) {
        Err(e @ admin::trace::TraceError::NoCall(_)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        other => print_or_fail(other, t.addr),
    }
}

fn print_or_fail<E: std::fmt::Display>(r: Result<String, E>, addr: SocketAddr) -> ExitCode {
    match r {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where `causeway status` (and `trace`, `searches`) asks: `--admin`, else the configuration's
/// `[admin] listen` (its loopback when it listens on every address), else the embedded
/// default's.
fn status_target(a: AdminArgs) -> anyhow::Result<admin::print::Target> {
    let AdminArgs {
        config,
        admin,
        tls,
        user,
    } = a;
    let (addr, tls) = match (admin, &config) {
        (Some(a), _) => (a, tls),
        (None, Some(path)) => {
            let c = Config::load(path)?;
            (c.admin.listen, tls || c.admin.tls)
        }
        (None, None) => (Config::embedded_default().admin.listen, tls),
    };
    let addr = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()))
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    };
    let user = match user {
        Some(name) => {
            let password = std::env::var("CAUSEWAY_ADMIN_PASSWORD")
                .context("--user needs the password in CAUSEWAY_ADMIN_PASSWORD")?;
            Some((name, password))
        }
        None => None,
    };
    Ok(admin::print::Target { addr, tls, user })
}

/// `causeway status`: the status of the node at `target`, as text or as the raw JSON.
fn status(target: &admin::print::Target, json: bool) -> ExitCode {
    let addr = target.addr;
    match admin::print::fetch(target) {
        Ok(body) if json => {
            println!("{body}");
            ExitCode::SUCCESS
        }
        Ok(body) => match admin::print::render(&body) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: bad status from {addr}: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: no status from {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `causeway hash-password`: the password is the first line of standard input (so that it
/// stays out of the shell history and the process list).
fn hash_password() -> ExitCode {
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("error: cannot read the password: {e}");
        return ExitCode::FAILURE;
    }
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        eprintln!("error: empty password (give it on standard input)");
        return ExitCode::FAILURE;
    }
    match admin::auth::hash_password(password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config, path: Option<PathBuf>) -> anyhow::Result<()> {
    // One thread: the proxy core is one sans-IO state machine, and keeping its socket tasks on
    // the same thread avoids a cross-thread wake-up per message (measured: BENCHMARKS.md).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(node::run(config, path))
}
