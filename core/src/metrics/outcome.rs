//! How a request ended.

/// Whether a recorded request succeeded, for the error count.
///
/// ```
/// use brace::metrics::Outcome;
///
/// let r: Result<u8, &str> = Err("timeout");
/// assert_eq!(Outcome::of(&r), Outcome::Error);
/// assert!(Outcome::Success.is_success());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The request succeeded.
    Success,
    /// The request failed.
    Error,
}

impl Outcome {
    /// `Success` for `Ok`, `Error` for `Err`.
    pub fn of<T, E>(result: &Result<T, E>) -> Self {
        if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Error
        }
    }

    /// Whether this is `Success`.
    pub fn is_success(self) -> bool {
        self == Outcome::Success
    }
}
