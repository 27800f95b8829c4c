//! The `h323-endpoint` test tool: command line only; the endpoint is
//! `causeway_tests::h323ep`.

use causeway_tests::h323ep::{self, Cli, Cmd};
use clap::Parser;

fn main() {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("h323-endpoint: tokio runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = rt.block_on(async {
        match cli.cmd {
            Some(Cmd::Bench(b)) => h323ep::bench::run(b).await,
            None => h323ep::run(cli.ep).await,
        }
    });
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}
