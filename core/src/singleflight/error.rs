//! What a caller of a [`Group`](super::Group) gets instead of a value.

use core::fmt;

// The public error shares with `alloc`'s `Arc` under every cfg (loom's `Arc`
// would leak into the API); it guards no protocol state.
use alloc::sync::Arc;

/// Why a single-flight call produced no value.
///
/// Every caller that shared one execution sees the same outcome, so the
/// work's own error is shared as [`Arc<E>`]: `E` needs no `Clone`, and this
/// type is `Clone` whatever `E` is.
///
/// ```
/// use brace::singleflight::SingleFlightError;
/// use std::sync::Arc;
///
/// let err: SingleFlightError<&str> = SingleFlightError::Failed(Arc::new("db down"));
/// assert_eq!(err.to_string(), "the shared work failed: db down");
/// assert_eq!(err.failure(), Some(&"db down"));
/// let copy = err.clone(); // no `E: Clone` needed
/// assert!(matches!(copy, SingleFlightError::Failed(_)));
/// assert!(SingleFlightError::<&str>::LeaderPanicked.failure().is_none());
/// ```
#[non_exhaustive]
pub enum SingleFlightError<E> {
    /// The work ran and returned this error; every caller that shared the
    /// execution holds the same `Arc`.
    Failed(Arc<E>),
    /// The work panicked while being polled. The panic was caught, the key
    /// is free again, and the next call runs the work afresh.
    LeaderPanicked,
    /// This caller's own deadline passed before the shared work finished.
    /// The work goes on for the other callers.
    DeadlineExceeded,
}

impl<E> SingleFlightError<E> {
    /// The work's own error, if it ran and failed.
    pub fn failure(&self) -> Option<&E> {
        match self {
            SingleFlightError::Failed(e) => Some(e),
            _ => None,
        }
    }
}

impl<E> Clone for SingleFlightError<E> {
    fn clone(&self) -> Self {
        match self {
            SingleFlightError::Failed(e) => SingleFlightError::Failed(Arc::clone(e)),
            SingleFlightError::LeaderPanicked => SingleFlightError::LeaderPanicked,
            SingleFlightError::DeadlineExceeded => SingleFlightError::DeadlineExceeded,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for SingleFlightError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SingleFlightError::Failed(e) => f.debug_tuple("Failed").field(&**e).finish(),
            SingleFlightError::LeaderPanicked => f.write_str("LeaderPanicked"),
            SingleFlightError::DeadlineExceeded => f.write_str("DeadlineExceeded"),
        }
    }
}

impl<E: fmt::Display> fmt::Display for SingleFlightError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SingleFlightError::Failed(e) => write!(f, "the shared work failed: {e}"),
            SingleFlightError::LeaderPanicked => {
                f.write_str("the shared work panicked; the next call runs it again")
            }
            SingleFlightError::DeadlineExceeded => f.write_str(
                "gave up waiting at this caller's deadline; the work goes on for the others",
            ),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for SingleFlightError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SingleFlightError::Failed(e) => Some(&**e),
            _ => None,
        }
    }
}

impl<E: PartialEq> PartialEq for SingleFlightError<E> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (SingleFlightError::Failed(a), SingleFlightError::Failed(b)) => a == b,
            (SingleFlightError::LeaderPanicked, SingleFlightError::LeaderPanicked)
            | (SingleFlightError::DeadlineExceeded, SingleFlightError::DeadlineExceeded) => true,
            _ => false,
        }
    }
}
