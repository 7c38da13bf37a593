//! Cross-crate integration tests for brace; the tests live in `tests/tests/`.
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]

pub mod lab;
