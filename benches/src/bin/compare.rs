//! `compare <area> [--quick]`: brace against its peers, same workload, same
//! process, interleaved rounds; prints markdown tables and `ratio ...` lines.
//!
//! ```text
//! cargo run --release -p brace-benches --bin compare -- breaker --quick
//! ```

use brace_benches::harness::Options;

/// An area's name and the function that runs it.
type Area = (&'static str, fn(&Options));

/// Every area and the function that runs it.
const AREAS: &[Area] = &[
    ("breaker", brace_benches::breaker::run),
    ("cache", brace_benches::cache::run),
    ("fill", brace_benches::fill::run),
    ("hitratio", brace_benches::hitratio::run),
    ("loader", brace_benches::loader::run),
    ("metrics", brace_benches::metrics::run),
    ("retry", brace_benches::retry::run),
    ("singleflight", brace_benches::singleflight::run),
    ("tower", brace_benches::tower::run),
];

fn main() {
    let mut quick = false;
    let mut wanted = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => quick = true,
            "-h" | "--help" => return usage(),
            other => wanted.push(other.to_owned()),
        }
    }
    if wanted.is_empty() {
        return usage();
    }
    let opts = Options::new(quick);
    for area in &wanted {
        match AREAS
            .iter()
            .find(|(name, _)| *name == area || area == "all")
        {
            Some(_) if area == "all" => AREAS.iter().for_each(|(_, run)| run(&opts)),
            Some((_, run)) => run(&opts),
            None => {
                eprintln!("unknown area {area:?}");
                usage();
                std::process::exit(2);
            }
        }
    }
}

fn usage() {
    let names: Vec<&str> = AREAS.iter().map(|(n, _)| *n).collect();
    eprintln!(
        "usage: compare <area>... [--quick]\nareas: {} | all",
        names.join(" | ")
    );
}
