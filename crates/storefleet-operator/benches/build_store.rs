//! Time to validate + build + serialize one store (target: under 1 ms per store).
//!
//! `cargo bench -p storefleet-operator --bench build_store` prints the median and the 99th
//! percentile of batches, per store, for the minimal and the production example.

use std::hint::black_box;
use std::time::{Duration, Instant};

use storefleet_operator::config::OperatorConfig;
use storefleet_operator::render;

const BATCHES: usize = 200;
const PER_BATCH: usize = 20;

fn measure(name: &str, manifest: &str, config: &OperatorConfig) -> Duration {
    let store = render::parse_store(manifest).expect("example parses");
    // Warm up.
    for _ in 0..50 {
        black_box(render::render(&store, config).expect("renders"));
    }
    let mut per_store: Vec<Duration> = (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..PER_BATCH {
                black_box(render::render(black_box(&store), config).expect("renders"));
            }
            start.elapsed() / PER_BATCH as u32
        })
        .collect();
    per_store.sort();
    let median = per_store[BATCHES / 2];
    let p99 = per_store[BATCHES * 99 / 100];
    println!(
        "{name:<12} validate+build+serialize: median {:>8.1} µs/store, p99 {:>8.1} µs/store ({} stores)",
        median.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        BATCHES * PER_BATCH
    );
    median
}

fn main() {
    // `cargo test --benches` passes --bench too; run a short smoke pass then.
    let config = OperatorConfig::from_yaml(include_str!(
        "../../../examples/config/operator-config.yaml"
    ))
    .expect("examples/config/operator-config.yaml");
    let minimal = include_str!("../../../examples/minimal.yaml");
    let production = include_str!("../../../examples/production.yaml");
    let worst = [
        measure("minimal", minimal, &config),
        measure("production", production, &config),
    ]
    .into_iter()
    .max()
    .unwrap_or_default();
    let target = Duration::from_millis(1);
    println!(
        "target < {:.0} µs/store: {}",
        target.as_secs_f64() * 1e6,
        if worst < target { "met" } else { "NOT met" }
    );
}
