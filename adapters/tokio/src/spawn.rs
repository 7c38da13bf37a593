//! Spawn hooks: how brace's background work (the cache's refresh) reaches a
//! tokio runtime, since the brace core never spawns by itself.

use core::future::Future;
use core::pin::Pin;
use tokio::runtime::Handle;

/// A boxed background task, the argument of a spawn hook.
pub type BoxedTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A spawn hook on the runtime that is current when this is called.
///
/// The hook spawns each task it receives with [`Handle::spawn`], so it keeps
/// working when called later from a thread outside the runtime (a sync
/// caller of the cache). The task's `JoinHandle` is detached: the task runs
/// to completion unless the runtime shuts down first.
///
/// # Panics
///
/// Panics if called outside a tokio runtime (see [`Handle::current`]); use
/// [`spawn_hook_on`] with an explicit handle there.
///
/// # Clone
///
/// Clones hold the same runtime handle.
///
/// ```
/// use brace_tokio::spawn_hook;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// let spawn = spawn_hook();
/// spawn(Box::pin(async move {
///     tx.send(42).unwrap();
/// }));
/// assert_eq!(rx.await.unwrap(), 42);
/// # }
/// ```
pub fn spawn_hook() -> impl Fn(BoxedTask) + Send + Sync + Clone + 'static {
    spawn_hook_on(Handle::current())
}

/// A spawn hook on the runtime behind `handle`.
///
/// # Clone
///
/// Clones hold the same runtime handle.
///
/// ```
/// use brace_tokio::spawn_hook_on;
///
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let spawn = spawn_hook_on(rt.handle().clone());
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// // Called from outside the runtime: the task runs once the runtime is driven.
/// spawn(Box::pin(async move { tx.send("refreshed").unwrap() }));
/// assert_eq!(rt.block_on(rx).unwrap(), "refreshed");
/// ```
pub fn spawn_hook_on(handle: Handle) -> impl Fn(BoxedTask) + Send + Sync + Clone + 'static {
    move |task: BoxedTask| {
        drop(handle.spawn(task));
    }
}
