//! A concurrent TTL cache with a capacity bound and a scan-resistant
//! eviction policy (W-TinyLFU with a hill-climbed admission window).
//!
//! This file only declares the eviction policy until the cache itself lands.

pub(crate) mod policy;

#[doc(hidden)]
pub use policy::PolicySimulator;
