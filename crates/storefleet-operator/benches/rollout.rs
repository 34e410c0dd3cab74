//! A fleet's rollout on a real control plane (`KUBEBUILDER_ASSETS`): N WooCommerce stores made
//! Ready (the kubelet stand-in reports pods at once and Job pods succeed), then one
//! `StoreRollout` to a new WordPress with the default waves (one store, 10 %, the rest): the
//! wall time to `Completed`, each wave's time, and the operator's requests during the rollout
//! by verb and resource (from the apiserver's audit log).
//!
//! `cargo bench -p storefleet-operator --bench rollout`
//! (`STOREFLEET_BENCH_ROLLOUT_STORES`, default 100; `STOREFLEET_BENCH_ROLLOUT_CONCURRENCY`,
//! the rollout's `maxConcurrent`, default 20 (the CRD's default is 5); the rollout's
//! `pauseSeconds` is 0 (default 60): the figure is the operator's, not a pause's). The operator
//! runs with its shipped settings but for the schedules of WordPress's scheduled work and the
//! checkout probe (once a year, so that their runs do not land in the measurement).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, PostParams};
use storefleet_operator::config::OperatorConfig;
use storefleet_types::{Phase, RolloutPhase, Store, StoreRollout};

const TARGET: &str = "7.0.4-php8.3-apache";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Polls every second until `done` holds; how long it took.
async fn until<F, Fut>(what: &str, limit: Duration, done: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < limit, "{what}: not after {limit:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    start.elapsed()
}

fn seconds_between(a: Option<&str>, b: Option<&str>) -> Option<f64> {
    let a: Timestamp = a?.parse().ok()?;
    let b: Timestamp = b?.parse().ok()?;
    Some(b.duration_since(a).as_secs_f64())
}

async fn run(n: usize, concurrency: usize) -> Option<()> {
    let mut config = OperatorConfig {
        max_stores: u32::try_from(n + 10).unwrap_or(u32::MAX),
        ..OperatorConfig::default()
    };
    // WordPress's scheduled work and the checkout probe once a year (shipped: every 5 and 10
    // minutes, each store at a minute of its own): their runs would land in the measurement or
    // not by the clock.
    config.cron.schedule = "0 0 1 1 *".into();
    config.probe.schedule = "0 0 1 1 *".into();
    let env = common::Env::start("rollout_bench", config).await?;
    for i in 0..n {
        let store = Store::test()
            .with_name(&format!("r{i:04}"))
            .with_owner(&format!("owner{i}@example.com"));
        env.create(store).await;
    }
    let stores = env.stores();
    let ready = until("all Ready", Duration::from_secs(1200), || async {
        let list = stores.list(&ListParams::default()).await;
        list.is_ok_and(|l| {
            l.items
                .iter()
                .filter(|s| s.status.as_ref().and_then(|s| s.phase) == Some(Phase::Ready))
                .count()
                == n
        })
    })
    .await;
    println!("  {n} stores Ready in {:.1} s", ready.as_secs_f64());

    let before = env.operator_requests().len();
    let rollout: StoreRollout = serde_json::from_value(serde_json::json!({
        "apiVersion": "storefleet.io/v1alpha1",
        "kind": "StoreRollout",
        "metadata": {"name": "wp7"},
        "spec": {
            "target": {"wordpress": TARGET},
            "pauseSeconds": 0,
            "maxConcurrent": concurrency,
        },
    }))
    .expect("rollout");
    let rollouts: Api<StoreRollout> = Api::all(env.admin.clone());
    rollouts
        .create(&PostParams::default(), &rollout)
        .await
        .expect("create the rollout");
    let took = until(
        "the rollout Completed",
        Duration::from_secs(3600),
        || async {
            rollouts
                .get("wp7")
                .await
                .is_ok_and(|r| r.status.and_then(|s| s.phase) == Some(RolloutPhase::Completed))
        },
    )
    .await;
    // The requests reach the audit log a moment later.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = rollouts
        .get("wp7")
        .await
        .expect("rollout")
        .status
        .expect("status");
    println!(
        "  rollout of {n} stores to wordpress {TARGET} (waves 1, 10 %, the rest; maxConcurrent {concurrency}; pauseSeconds 0): Completed in {:.1} s; {} upgraded, {} failed, {} skipped",
        took.as_secs_f64(),
        status.upgraded.len(),
        status.failed.len(),
        status.skipped.len()
    );
    for (i, wave) in status.waves.iter().enumerate() {
        let secs = seconds_between(wave.started_at.as_deref(), wave.finished_at.as_deref());
        println!(
            "    wave {}: {} store(s), {}",
            i + 1,
            wave.stores.len(),
            secs.map_or("no times".into(), |s| format!("{s:.0} s (whole seconds)"))
        );
    }
    let requests: Vec<_> = env.operator_requests().split_off(before);
    let mut counts = BTreeMap::<String, usize>::new();
    let mut verbs = BTreeMap::<String, usize>::new();
    for r in &requests {
        *counts
            .entry(format!("{} {} ({})", r.verb, r.resource, r.code))
            .or_default() += 1;
        *verbs.entry(r.verb.clone()).or_default() += 1;
    }
    println!(
        "  operator requests during the rollout: {} ({:.1} per store): {}",
        requests.len(),
        requests.len() as f64 / n as f64,
        verbs
            .iter()
            .map(|(v, c)| format!("{v} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (k, count) in counts {
        println!("    {count:>6}  {k}");
    }
    // Which objects the writes went to, by name (across the stores).
    let mut by_name = BTreeMap::<String, usize>::new();
    for r in requests
        .iter()
        .filter(|r| r.verb == "patch" && r.namespace.is_some())
    {
        let name = r.name.clone().unwrap_or_default();
        *by_name.entry(format!("{} {name}", r.resource)).or_default() += 1;
    }
    println!("  patches in the stores' namespaces, by object:");
    for (k, count) in by_name {
        println!("    {count:>6}  {k}");
    }
    Some(())
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let n = env_number("STOREFLEET_BENCH_ROLLOUT_STORES", 100);
    let concurrency = env_number("STOREFLEET_BENCH_ROLLOUT_CONCURRENCY", 20);
    println!(
        "rollout bench ({} cores)",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    if runtime.block_on(run(n, concurrency)).is_none() {
        println!("skipped: no control plane (KUBEBUILDER_ASSETS)");
    }
}
