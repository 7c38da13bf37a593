//! `cargo run --release --example lab [-- --duration SECS --seed N]`
//!
//! Starts a flaky HTTP service on 127.0.0.1 and drives traffic through
//! reqwest + brace (per-host breaker, retry under a shared budget, RED
//! metrics) and a front service guarded by brace's cache, single-flight and
//! batch loader; prints a live status line, a report, and writes
//! `target/brace-lab/lab.svg`.

use std::path::PathBuf;
use std::time::Duration;

use brace_tests::lab::{self, Options};

fn usage() -> ! {
    eprintln!("usage: lab [--duration SECS] [--seed N]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.as_str(), value) {
            ("--duration", Some(v)) => {
                opts.duration = Duration::from_secs_f64(v.parse().unwrap_or_else(|_| usage()))
            }
            ("--seed", Some(v)) => opts.seed = v.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    // The workspace's target dir: this crate lives in `<workspace>/tests`.
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    opts.chart_dir = Some(workspace.join("target").join("brace-lab"));
    println!(
        "brace lab: {:.0} s, seed {} (healthy -> outage -> slow -> recovery)",
        opts.duration.as_secs_f64(),
        opts.seed
    );
    let report = lab::run(opts).await?;
    println!("{report}");
    Ok(())
}
