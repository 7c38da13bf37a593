//! The user's batch function: many keys in, one result per key out.

use core::future::Future;
use core::hash::Hash;
use std::collections::HashMap;

/// Loads many keys in one call to a backend (one SQL `IN (...)`, one
/// multi-get, one RPC).
///
/// `Output` is either `HashMap<K, Value>` (a key left out of the map is
/// "not found", and `load` answers `Ok(None)` for it) or
/// `HashMap<K, Result<Value, Error>>` for per-key errors, which reach only
/// the callers of that key. An `Err` from `load` itself fails every key of
/// the batch.
///
/// # Panics
///
/// A panic while creating or polling the returned future is caught: every
/// caller of the batch gets [`LoadError::Panicked`](super::LoadError), and
/// the loader keeps working.
///
/// # Thread safety
///
/// The loader calls `load` from whichever caller drives the batch, on any
/// thread, hence `Send + Sync` and a `Send` future.
///
/// ```
/// use brace::loader::BatchFn;
/// use std::collections::HashMap;
///
/// /// Looks authors up by id; odd ids are "not found", id 13 is an error.
/// struct Authors;
///
/// impl BatchFn<u64> for Authors {
///     type Value = String;
///     type Error = String;
///     type Output = HashMap<u64, Result<String, String>>;
///
///     async fn load(&self, ids: &[u64]) -> Result<Self::Output, Self::Error> {
///         Ok(ids
///             .iter()
///             .filter(|id| **id % 2 == 0 || **id == 13)
///             .map(|&id| match id {
///                 13 => (id, Err("unlucky".to_owned())),
///                 _ => (id, Ok(format!("author {id}"))),
///             })
///             .collect())
///     }
/// }
/// # let out = futures_util::FutureExt::now_or_never(Authors.load(&[2, 3, 13])).unwrap().unwrap();
/// # assert_eq!(out.len(), 2);
/// ```
pub trait BatchFn<K>: Send + Sync {
    /// What one key loads to. Cloned when several callers wait on one key.
    type Value: Clone + Send + Sync;
    /// What the backend fails with; shared among callers as an `Arc`.
    type Error: Send + Sync;
    /// The results of one call: `HashMap<K, Value>` or
    /// `HashMap<K, Result<Value, Error>>`.
    type Output: BatchOutput<K, Self::Value, Self::Error>;

    /// Loads `keys` (distinct, at most `max_batch_size` of them).
    ///
    /// # Errors
    ///
    /// An error fails every key of this call.
    fn load(&self, keys: &[K]) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send;
}

/// The results of one batch call, taken out key by key.
///
/// Implemented for `HashMap<K, V>` (every present key succeeded) and
/// `HashMap<K, Result<V, E>>` (per-key errors).
///
/// ```
/// use brace::loader::BatchOutput;
/// use std::collections::HashMap;
///
/// let mut found: HashMap<u8, &str> = HashMap::from([(1, "one")]);
/// assert_eq!(BatchOutput::<u8, &str, ()>::take(&mut found, &1), Some(Ok("one")));
/// assert_eq!(BatchOutput::<u8, &str, ()>::take(&mut found, &2), None);
/// ```
pub trait BatchOutput<K, V, E> {
    /// Removes and returns the result for `key`; `None` if the batch
    /// function did not return that key.
    fn take(&mut self, key: &K) -> Option<Result<V, E>>;
}

impl<K: Hash + Eq, V, E> BatchOutput<K, V, E> for HashMap<K, V> {
    fn take(&mut self, key: &K) -> Option<Result<V, E>> {
        self.remove(key).map(Ok)
    }
}

impl<K: Hash + Eq, V, E> BatchOutput<K, V, E> for HashMap<K, Result<V, E>> {
    fn take(&mut self, key: &K) -> Option<Result<V, E>> {
        self.remove(key)
    }
}
