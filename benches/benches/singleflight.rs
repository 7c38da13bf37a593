//! Criterion micro-benches of `brace::singleflight::Group`: a call nobody
//! else shares (the fixed cost a cache miss pays), and one flight of N
//! callers on one key. `compare singleflight` runs the same cases against
//! the peers.

use std::future::{poll_fn, ready};
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

use brace::singleflight::Group;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn uncontended(c: &mut Criterion) {
    let group: Group<u64, u64, ()> = Group::new();
    let mut cx = Context::from_waker(Waker::noop());
    c.bench_function("singleflight/uncontended", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            let mut call = pin!(group.work(black_box(7), || ready(Ok(i))));
            assert_eq!(call.as_mut().poll(&mut cx), Poll::Ready(Ok(i)));
        })
    });
}

fn waiters(c: &mut Criterion) {
    let mut bench = c.benchmark_group("singleflight/waiters");
    for n in [8usize, 64, 256] {
        bench.throughput(Throughput::Elements(n as u64));
        bench.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            let group: Group<u64, u64, ()> = Group::new();
            let mut cx = Context::from_waker(Waker::noop());
            b.iter(|| {
                let gate = Arc::new(AtomicBool::new(false));
                let mut callers: Vec<Pin<Box<_>>> = (0..n)
                    .map(|_| {
                        let gate = Arc::clone(&gate);
                        Box::pin(group.work(7, move || {
                            poll_fn(move |_| {
                                if gate.load(Ordering::Acquire) {
                                    Poll::Ready(Ok(1u64))
                                } else {
                                    Poll::Pending
                                }
                            })
                        }))
                    })
                    .collect();
                for call in &mut callers {
                    assert!(call.as_mut().poll(&mut cx).is_pending());
                }
                gate.store(true, Ordering::Release);
                for call in &mut callers {
                    assert_eq!(black_box(call.as_mut().poll(&mut cx)), Poll::Ready(Ok(1)));
                }
            })
        });
    }
    bench.finish();
}

criterion_group!(benches, uncontended, waiters);
criterion_main!(benches);
