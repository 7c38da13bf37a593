//! Key streams for hit-ratio measurements: the real traces in
//! `../shared/traces` and seeded Zipf workloads.
//!
//! Trace formats (see `../shared/traces/README.md`):
//! - ARC `.lis` (Megiddo and Modha, "ARC: A Self-Tuning, Low Overhead
//!   Replacement Cache", USENIX FAST 2003): each line `START COUNT X Y`
//!   stands for the keys `START, START+1, ..., START+COUNT-1`;
//! - LIRS `.trace` (Jiang and Zhang, "LIRS: An Efficient Low Inter-reference
//!   Recency Set Replacement Policy", SIGMETRICS 2002): one integer key per
//!   line; a line holding only `*` is a marker and is skipped.
//!
//! Files may be gzip (`.gz`) or zstd (`.zst`) compressed. Traces are read at
//! run time and never copied into the repository.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Environment variable naming the traces folder.
pub const TRACES_ENV: &str = "BRACE_TRACES";

/// The traces folder: `$BRACE_TRACES` if set, otherwise `../shared/traces`
/// next to the workspace root. `None` when that folder does not exist.
pub fn traces_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os(TRACES_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces"),
    };
    dir.is_dir().then_some(dir)
}

/// Reads the trace file `path`, decompressing by extension and parsing by
/// format (`.lis` is ARC, anything else LIRS).
///
/// # Errors
///
/// I/O and decompression errors, and lines that are not in the format.
pub fn load(path: &Path) -> io::Result<Vec<u64>> {
    let file = BufReader::new(File::open(path)?);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let (stem, reader): (&str, Box<dyn Read>) = if let Some(stem) = name.strip_suffix(".gz") {
        (stem, Box::new(flate2::read::MultiGzDecoder::new(file)))
    } else if let Some(stem) = name.strip_suffix(".zst") {
        let decoder = ruzstd::decoding::StreamingDecoder::new(file)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        (stem, Box::new(decoder))
    } else {
        (name, Box::new(file))
    };
    let lines = BufReader::new(reader);
    if stem.ends_with(".lis") {
        parse_arc(lines)
    } else {
        parse_lirs(lines)
    }
}

/// Expands ARC `.lis` lines `START COUNT X Y` into keys.
///
/// # Errors
///
/// I/O errors and lines without two leading integers.
pub fn parse_arc(input: impl BufRead) -> io::Result<Vec<u64>> {
    let mut keys = Vec::new();
    for line in input.lines() {
        let line = line?;
        let mut fields = line.split_whitespace();
        let Some(start) = fields.next() else { continue };
        let start: u64 = parse_int(start, &line)?;
        let count: u64 = parse_int(fields.next().unwrap_or(""), &line)?;
        keys.extend(start..start + count);
    }
    Ok(keys)
}

/// Parses LIRS lines: one integer key per line, `*` markers skipped.
///
/// # Errors
///
/// I/O errors and lines that are neither an integer nor `*`.
pub fn parse_lirs(input: impl BufRead) -> io::Result<Vec<u64>> {
    let mut keys = Vec::new();
    for line in input.lines() {
        let line = line?;
        let field = line.trim();
        if field.is_empty() || field == "*" {
            continue;
        }
        keys.push(parse_int(field, &line)?);
    }
    Ok(keys)
}

fn parse_int(field: &str, line: &str) -> io::Result<u64> {
    field.parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a trace line: {line:?}"),
        )
    })
}

/// `count` requests over keys `0..universe` whose popularity follows Zipf's
/// law with exponent `exponent` (rank `r` is requested in proportion to
/// `1 / r^exponent`), from a seeded generator. Ranks are scrambled into
/// keys so popular keys are not numerically adjacent.
pub fn zipf(universe: u64, exponent: f64, count: usize, seed: u64) -> Vec<u64> {
    zipf_drifting(universe, exponent, count, seed, usize::MAX)
}

/// [`zipf`] whose popularity ranking moves every `period` requests: in
/// period `p`, rank `r` is key `scramble(r + p * universe)`, so each
/// period's requests go to keys never requested before (a cache must let go
/// of the old favourites and learn the new ones).
pub fn zipf_drifting(
    universe: u64,
    exponent: f64,
    count: usize,
    seed: u64,
    period: usize,
) -> Vec<u64> {
    let mut cumulative = Vec::with_capacity(universe as usize);
    let mut total = 0.0;
    for rank in 1..=universe {
        total += 1.0 / (rank as f64).powf(exponent);
        cumulative.push(total);
    }
    let mut state = seed;
    (0..count)
        .map(|i| {
            let uniform = (splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
            let rank = cumulative.partition_point(|&c| c < uniform * total) as u64;
            let shift = (i / period) as u64 * universe;
            scramble(rank.min(universe - 1) + shift)
        })
        .collect()
}

/// A seeded pseudo-random number (splitmix64).
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut x = *state;
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A bijection on `u64` (so distinct ranks stay distinct keys).
fn scramble(rank: u64) -> u64 {
    rank.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29) ^ 0x5851_F42D_4C95_7F2D
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arc_lines_expand_to_runs_of_keys() {
        let keys = parse_arc("10 3 0 0\n7 1 0 0\n\n".as_bytes()).unwrap();
        assert_eq!(keys, [10, 11, 12, 7]);
        assert!(parse_arc("x 1 0 0\n".as_bytes()).is_err());
    }

    #[test]
    fn lirs_markers_are_skipped() {
        let keys = parse_lirs("5\n*\n6\n5\n".as_bytes()).unwrap();
        assert_eq!(keys, [5, 6, 5]);
        assert!(parse_lirs("5 6\n".as_bytes()).is_err());
    }

    #[test]
    fn zipf_is_seeded_and_skewed() {
        let a = zipf(1000, 1.0, 20_000, 3);
        assert_eq!(a, zipf(1000, 1.0, 20_000, 3));
        assert_ne!(a, zipf(1000, 1.0, 20_000, 4));
        let top = scramble(0);
        let share = a.iter().filter(|&&k| k == top).count() as f64 / a.len() as f64;
        // H(1000) ~ 7.49, so rank 1 takes ~13.4% of requests.
        assert!((0.12..0.15).contains(&share), "rank-1 share {share}");
    }
}
