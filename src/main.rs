//! `carnet`: the one command of Carnet. Reads its configuration, then hands over to the
//! library crates.
#![forbid(unsafe_code)]

mod cli;
mod keys;
mod serve;

use std::process::ExitCode;

use clap::Parser;

// The server allocates many small values per request from every worker thread; glibc's
// allocator spent a third of the dashboard benchmark's time in its arenas' locks and
// consolidation, mimalloc's per-thread heaps do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = cli::Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("carnet: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("carnet: {error:#}");
            ExitCode::FAILURE
        }
    }
}
