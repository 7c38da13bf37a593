//! The metrics service is `Clone` whenever its layer is, whatever the
//! clock: the derived `Clone` asked for a `Clone` clock, so with one that
//! is not, the layer cloned but the services it made did not (unusable
//! where a `Clone` service is required, as in axum). This file did not
//! compile then.

use std::sync::Arc;

use brace::metrics::{Red, WindowConfig};
use brace::time::{Clock, ManualClock, Nanos};
use brace_tower::MetricsLayer;
use tower::Layer;

/// A clock that is not `Clone`.
struct NotCloneClock(ManualClock);

impl Clock for NotCloneClock {
    fn now(&self) -> Nanos {
        self.0.now()
    }
}

fn assert_clone<T: Clone>(_: &T) {}

#[test]
fn the_metrics_service_is_clone_with_a_clock_that_is_not() {
    let red = Arc::new(Red::new(
        WindowConfig::default(),
        NotCloneClock(ManualClock::new()),
    ));
    let layer = MetricsLayer::new(red);
    assert_clone(&layer);
    let echo = tower::service_fn(|x: u32| async move { Ok::<_, std::io::Error>(x) });
    let service = layer.layer(echo);
    assert_clone(&service);
}
