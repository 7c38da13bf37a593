//! Side-by-side benchmarks of brace against the crates users pick instead.
//!
//! [`harness`] runs contenders in interleaved rounds in one process and
//! prints a markdown table plus machine-readable `ratio ...` lines; each
//! area module (`breaker`, ...) builds the contenders for one primitive.
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]

pub mod breaker;
pub mod cache;
pub mod fill;
pub mod harness;
pub mod hitratio;
pub mod loader;
pub mod metrics;
pub mod reference;
pub mod retry;
pub mod singleflight;
pub mod tower;
pub mod traces;
