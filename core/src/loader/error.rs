//! What a load can fail with, and what a configuration can be refused for.

use alloc::sync::Arc;
use core::fmt;

/// Why [`BatchLoader::load`](super::BatchLoader::load) gave no value.
///
/// A key the batch function simply did not return is not an error: `load`
/// answers `Ok(None)` for it.
///
/// # Clone
///
/// Errors are shared between every caller waiting on the same key or batch,
/// so the batch function's error `E` is held in an [`Arc`]; cloning a
/// `LoadError` clones the `Arc`, and `E` needs no `Clone`.
///
/// ```
/// use brace::loader::LoadError;
/// use std::sync::Arc;
///
/// let e: LoadError<&str> = LoadError::Batch(Arc::new("database down"));
/// assert_eq!(e.to_string(), "the batch function failed for the whole batch: database down");
/// assert_eq!(e.inner(), Some(&"database down"));
/// assert_eq!(LoadError::<&str>::Panicked.inner(), None);
/// ```
#[derive(Debug)]
pub enum LoadError<E> {
    /// The batch function returned an error for this key only.
    Key(Arc<E>),
    /// The batch function failed as a whole; every key of the batch gets
    /// the same error.
    Batch(Arc<E>),
    /// The batch function panicked; every key of the batch gets this.
    Panicked,
}

impl<E> LoadError<E> {
    /// The batch function's error, if it returned one (not for a panic).
    pub fn inner(&self) -> Option<&E> {
        match self {
            LoadError::Key(e) | LoadError::Batch(e) => Some(e),
            LoadError::Panicked => None,
        }
    }
}

impl<E> Clone for LoadError<E> {
    fn clone(&self) -> Self {
        match self {
            LoadError::Key(e) => LoadError::Key(Arc::clone(e)),
            LoadError::Batch(e) => LoadError::Batch(Arc::clone(e)),
            LoadError::Panicked => LoadError::Panicked,
        }
    }
}

impl<E: fmt::Display> fmt::Display for LoadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Key(e) => write!(f, "the batch function failed for this key: {e}"),
            LoadError::Batch(e) => write!(f, "the batch function failed for the whole batch: {e}"),
            LoadError::Panicked => f.write_str("the batch function panicked"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for LoadError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A loader configuration refused by
/// [`LoaderBuilder::build`](super::LoaderBuilder::build); each variant names
/// the field.
///
/// ```
/// use brace::loader::{BatchFn, BatchLoader, ConfigError};
/// use std::collections::HashMap;
///
/// struct Echo;
/// impl BatchFn<u32> for Echo {
///     type Value = u32;
///     type Error = std::convert::Infallible;
///     type Output = HashMap<u32, u32>;
///     async fn load(&self, keys: &[u32]) -> Result<Self::Output, Self::Error> {
///         Ok(keys.iter().map(|&k| (k, k)).collect())
///     }
/// }
///
/// let refused = BatchLoader::builder(Echo).max_batch_size(0).build().unwrap_err();
/// assert_eq!(refused, ConfigError::MaxBatchSizeZero);
/// assert_eq!(refused.field(), "max_batch_size");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_batch_size` was 0: a batch must hold at least one key.
    MaxBatchSizeZero,
    /// `max_wait` was zero: use `yields(0)` to send a batch at the leader's
    /// first poll instead.
    MaxWaitZero,
    /// `yields` was above [`MAX_YIELDS`](crate::loader::MAX_YIELDS): a
    /// leader would yield that many times in a row before sending, which is
    /// a hang, not a tick; bound the wait with `max_wait` instead.
    TooManyYields,
}

impl ConfigError {
    /// The name of the builder field that was refused.
    pub fn field(&self) -> &'static str {
        match self {
            ConfigError::MaxBatchSizeZero => "max_batch_size",
            ConfigError::MaxWaitZero => "max_wait",
            ConfigError::TooManyYields => "yields",
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MaxBatchSizeZero => f.write_str("max_batch_size must be at least 1"),
            ConfigError::MaxWaitZero => f.write_str(
                "max_wait must be greater than zero (use yields(0) to send at the first poll)",
            ),
            ConfigError::TooManyYields => write!(
                f,
                "yields must be at most {} (bound longer waits with max_wait)",
                super::MAX_YIELDS
            ),
        }
    }
}

impl std::error::Error for ConfigError {}
