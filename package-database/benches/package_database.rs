//! Throughput of the in-memory backend and of the key material helpers.
//!
//! `cargo bench -p package-database` prints records per second for spec writes and listings on
//! `MemoryDatabase`, and hashes per second for PBKDF2 with the original's 10 000 iterations.

use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_main};
use package_database::{Database, ManualClock, MemoryDatabase, NewSpec, keys};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

fn memory(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("memory");
    const VERSIONS: u64 = 1_000;
    group.throughput(Throughput::Elements(VERSIONS));
    group.bench_function("create_update_spec x1000", |b| {
        b.iter_batched(
            || {
                let clock = ManualClock::new(1);
                (MemoryDatabase::with_clock(Arc::new(clock.clone())), clock)
            },
            |(db, clock)| {
                rt.block_on(async {
                    for n in 0..VERSIONS {
                        clock.set(n);
                        db.create_update_spec(&NewSpec::new("u", "spec", "1", n))
                            .await
                            .expect("stored");
                    }
                })
            },
            BatchSize::SmallInput,
        )
    });

    let clock = ManualClock::new(1);
    let db = MemoryDatabase::with_clock(Arc::new(clock.clone()));
    rt.block_on(async {
        for n in 0..VERSIONS {
            clock.set(n);
            db.create_update_spec(&NewSpec::new("u", "spec", "1", n))
                .await
                .expect("stored");
        }
    });
    group.bench_function("list_spec_versions of 1000", |b| {
        b.iter(|| {
            rt.block_on(db.list_spec_versions("u", "spec"))
                .expect("listed")
                .len()
        })
    });
    group.finish();
}

fn key_material(c: &mut Criterion) {
    let mut group = c.benchmark_group("keys");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    let salt = keys::generate_salt();
    let secret = keys::derive_secret_key("user", &salt, b"service secret");
    group.bench_function("pbkdf2-hmac-sha256 10000 iterations", |b| {
        b.iter(|| keys::hash_secret_key(&secret, &salt))
    });
    group.bench_function("generate credentials", |b| {
        b.iter(|| keys::GeneratedCredentials::generate("user", "default", b"service secret"))
    });
    group.finish();
}

/// The criterion group (the macro's function has no doc comment of its own).
mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::memory, super::key_material);
}
criterion_main!(group::benches);
