//! Deciding what a finished call means: success, failure, or neither.

pub use brace::breaker::Outcome;

/// Decides the [`Outcome`] of a call from its result.
///
/// Implemented by [`ErrorsAreFailures`] (the default) and by every closure
/// `Fn(&Result<Res, E>) -> Outcome`.
///
/// # Clone
///
/// Layers clone the classifier into each response future, so keep it cheap
/// to clone (a zero-sized type or a closure without big captures; share big
/// state through an `Arc`).
///
/// ```
/// use brace_tower::{Classify, Outcome};
/// use std::io;
///
/// // Timeouts count, "not found" says nothing about the dependency's health.
/// let classify = |result: &Result<u32, io::Error>| match result {
///     Ok(_) => Outcome::Success,
///     Err(e) if e.kind() == io::ErrorKind::NotFound => Outcome::Ignored,
///     Err(_) => Outcome::Failure,
/// };
/// let nf = Err(io::Error::from(io::ErrorKind::NotFound));
/// assert_eq!(classify.classify(&nf), Outcome::Ignored);
/// assert_eq!(classify.classify(&Ok(1)), Outcome::Success);
/// ```
pub trait Classify<Res, E> {
    /// The outcome of `result`.
    fn classify(&self, result: &Result<Res, E>) -> Outcome;
}

impl<F, Res, E> Classify<Res, E> for F
where
    F: Fn(&Result<Res, E>) -> Outcome,
{
    #[inline]
    fn classify(&self, result: &Result<Res, E>) -> Outcome {
        self(result)
    }
}

/// The default classifier: `Ok` is a success, `Err` a failure.
///
/// ```
/// use brace_tower::{Classify, ErrorsAreFailures, Outcome};
///
/// assert_eq!(ErrorsAreFailures.classify(&Ok::<_, ()>(1)), Outcome::Success);
/// assert_eq!(ErrorsAreFailures.classify(&Err::<u8, _>(())), Outcome::Failure);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorsAreFailures;

impl<Res, E> Classify<Res, E> for ErrorsAreFailures {
    #[inline]
    fn classify(&self, result: &Result<Res, E>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        }
    }
}
