//! The error returned when a metrics configuration is invalid.

use core::fmt;

/// A metrics configuration was refused when it was built.
///
/// It names the field that is wrong and says why, so the message reads as a
/// sentence: ``invalid metrics config: `relative_error` must be between
/// 0.001 and 0.1``.
///
/// ```
/// use brace::metrics::HistogramConfig;
///
/// let err = HistogramConfig::builder().relative_error(0.5).build().unwrap_err();
/// assert_eq!(err.field(), "relative_error");
/// assert!(err.to_string().contains("relative_error"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigError {
    field: &'static str,
    reason: &'static str,
}

impl ConfigError {
    pub(crate) const fn new(field: &'static str, reason: &'static str) -> Self {
        ConfigError { field, reason }
    }

    /// The name of the builder field that holds the refused value.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// Why the value was refused.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid metrics config: `{}` {}",
            self.field, self.reason
        )
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ConfigError {}

/// Two histograms could not be merged because their bucket layouts differ
/// (different relative error or range).
///
/// ```
/// use brace::metrics::{Histogram, HistogramConfig};
///
/// let fine = Histogram::new(HistogramConfig::default());
/// let coarse = Histogram::new(HistogramConfig::builder().relative_error(0.05).build()?);
/// assert!(fine.merge(&coarse).is_err());
/// # Ok::<(), brace::metrics::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayoutMismatch;

impl fmt::Display for LayoutMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the histograms have different bucket layouts and cannot be merged")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LayoutMismatch {}
