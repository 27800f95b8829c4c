//! The `causeway` binary: command line and wiring only. Protocol logic lives in the crates
//! (`config`, `zones`, `media`, `sip`, `h323`, `traversal`); this file parses arguments, sets up
//! logging and hands the configuration to `node` (or, for `check-route`, to `check_route`, for
//! `status`, to `admin::print`).

mod admin;
mod check_route;
mod node;

use anyhow::Context;
use causeway_config::Config;
use causeway_zones::{Protocol, LOCAL_ZONE};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

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
        /// The node's configuration file, to find its `[admin] listen` address.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The admin address, instead of the configuration's (default 127.0.0.1:7080).
        #[arg(long)]
        admin: Option<std::net::SocketAddr>,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
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
        Command::Status {
            config,
            admin,
            json,
        } => status(admin, config, json),
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
fn run_command(config: Option<PathBuf>) -> ExitCode {
    let config = match &config {
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
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `causeway status`: the status of the node at `admin` (or at the configuration's admin
/// address), as text or as the raw JSON.
fn status(admin: Option<std::net::SocketAddr>, config: Option<PathBuf>, json: bool) -> ExitCode {
    let addr = match (admin, &config) {
        (Some(a), _) => a,
        (None, Some(path)) => match Config::load(path) {
            Ok(c) => c.admin.listen,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        (None, None) => Config::embedded_default().admin.listen,
    };
    match admin::print::fetch(addr) {
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
            eprintln!("error: no causeway answers on {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> anyhow::Result<()> {
    // One thread: the proxy core is one sans-IO state machine, and keeping its socket tasks on
    // the same thread avoids a cross-thread wake-up per message (measured: BENCHMARKS.md).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(node::run(config))
}
