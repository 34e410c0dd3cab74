//! Provisioning many stores on a real control plane (`KUBEBUILDER_ASSETS`):
//!
//! 1. the floor: one sequential `kubectl apply --server-side` of exactly the objects that N
//!    stores consist of (what a single client reaches), on a fresh control plane;
//! 2. the operator (in-process, as the chart's ServiceAccount): N Stores created at once, timed
//!    until every store has all its children (`NamespaceReady=True`: every child applied);
//! 3. the operator binary's peak RSS (VmHWM) with M Stores, from `/proc`.
//!
//! `cargo bench -p storefleet-operator --bench provisioning`
//! (`STOREFLEET_BENCH_STORES`, default 100; `STOREFLEET_BENCH_RSS_STORES`, default 1000, 0 skips;
//! `STOREFLEET_BENCH_CONCURRENCY`, default 16; `KUBECTL`, default `kubectl`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kube::api::{Api, ListParams};
use storefleet_operator::build::secrets::Csprng;
use storefleet_operator::build::{self, Child};
use storefleet_operator::config::OperatorConfig;
use storefleet_operator::validate;
use storefleet_types::{DeletionPolicy, Store};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(stores: usize) -> OperatorConfig {
    let mut config = OperatorConfig {
        max_stores: u32::try_from(stores + 10).unwrap_or(u32::MAX),
        ..OperatorConfig::default()
    };
    config.controller.concurrency =
        u16::try_from(env_number("STOREFLEET_BENCH_CONCURRENCY", 16)).unwrap_or(16);
    config
}

fn store(i: usize, prefix: &str) -> Store {
    Store::test()
        .with_name(&format!("{prefix}{i:04}"))
        .with_owner(&format!("owner{i}@example.com"))
}

/// Every object of `n` stores as one `List`, in apply order, without
/// ownerReferences (there is no Store for them to point at), Secrets with their values.
fn objects_yaml(n: usize, config: &OperatorConfig) -> (String, usize) {
    let mut docs = Vec::new();
    for i in 0..n {
        let mut s = store(i, "k");
        s.spec.deletion_policy = DeletionPolicy::Retain;
        s.metadata.uid = Some(format!("00000000-0000-0000-0000-{i:012}"));
        let validated = validate::validate(&s, config).expect("valid store");
        let objects = build::build(&validated);
        for child in objects.children() {
            let doc = match child {
                Child::Namespace(o) => serde_json::to_value(o),
                Child::ResourceQuota(o) => serde_json::to_value(o),
                Child::LimitRange(o) => serde_json::to_value(o),
                Child::NetworkPolicy(o) => serde_json::to_value(o),
                Child::GeneratedSecret(t) => serde_json::to_value(t.materialize(&mut Csprng)),
                Child::Service(o) => serde_json::to_value(o),
                Child::StatefulSet(o) => serde_json::to_value(o),
                Child::PersistentVolumeClaim(o) => serde_json::to_value(o),
                Child::Deployment(o) => serde_json::to_value(o),
                Child::Ingress(o) => serde_json::to_value(o),
                Child::HttpRoute(o) => serde_json::to_value(o),
                Child::ConfigMap(o) => serde_json::to_value(o),
                // The Job waits for readiness in the operator too; not part of "all children".
                Child::Job(_) | Child::MigrationJob(_) => continue,
            }
            .expect("serializable");
            docs.push(doc);
        }
    }
    let count = docs.len();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": docs});
    (list.to_string(), count)
}

async fn all_children_applied(stores: &Api<Store>, prefix: &str, n: usize) -> usize {
    let Ok(list) = stores.list(&ListParams::default()).await else {
        return 0;
    };
    list.items
        .iter()
        .filter(|s| {
            s.metadata
                .name
                .as_deref()
                .is_some_and(|m| m.starts_with(prefix))
        })
        .filter(|s| {
            s.status
                .as_ref()
                .is_some_and(|st| common::is_true(st, "NamespaceReady"))
        })
        .count()
        .min(n)
}

async fn wait_all(stores: &Api<Store>, prefix: &str, n: usize, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let done = all_children_applied(stores, prefix, n).await;
        if done >= n {
            return start.elapsed();
        }
        if start.elapsed() > limit {
            panic!("only {done}/{n} stores have all their children after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn create_all(env: &common::Env, prefix: &str, n: usize) {
    for i in 0..n {
        env.create(store(i, prefix)).await;
    }
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let n = env_number("STOREFLEET_BENCH_STORES", 100);
    let m = env_number("STOREFLEET_BENCH_RSS_STORES", 1000);
    runtime.block_on(async {
        if n > 0 {
            floor_and_operator(n).await;
        }
        if m > 0 {
            binary_rss(m).await;
        }
    });
}

/// Parts 1 and 2.
async fn floor_and_operator(n: usize) {
    {
        // 1. The floor: one client, sequential server-side applies.
        let Some(env) = common::Env::prepare("provisioning_floor", config(n)).await else {
            return;
        };
        let (yaml, count) = objects_yaml(n, &env.config);
        let file = env.cp.dir().join("objects.json");
        std::fs::write(&file, yaml).expect("write objects");
        let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
        let start = Instant::now();
        let out = Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(env.cp.admin_kubeconfig())
            .args(["apply", "--server-side", "--field-manager=bench", "-f"])
            .arg(&file)
            .stdout(Stdio::null())
            .output()
            .expect("kubectl runs");
        let floor = start.elapsed();
        assert!(
            out.status.success(),
            "kubectl apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        drop(env);

        // 2. The operator, on a fresh control plane.
        let Some(env) = common::Env::start("provisioning_operator", config(n)).await else {
            return;
        };
        let stores = env.stores();
        let start = Instant::now();
        create_all(&env, "s", n).await;
        let created = start.elapsed();
        let waited = wait_all(&stores, "s", n, Duration::from_secs(1200)).await;
        let operator = start.elapsed();
        let requests = env.operator_requests().len();
        drop(env);
        println!("provisioning: {n} stores, {count} objects (Jobs excluded), real control plane");
        println!(
            "  kubectl apply --server-side, one client: {:>7.1} s",
            floor.as_secs_f64()
        );
        println!(
            "  operator (creates took {:.1} s):         {:>7.1} s  ({:.2}x the floor), {requests} requests",
            created.as_secs_f64(),
            operator.as_secs_f64(),
            operator.as_secs_f64() / floor.as_secs_f64()
        );
        let _ = waited;
    }
}

/// Part 3: the binary's peak RSS with `m` stores.
async fn binary_rss(m: usize) {
    {
        let Some(env) = common::Env::prepare("provisioning_rss", config(m)).await else {
            return;
        };
        let config_file = env.cp.dir().join("operator-config.yaml");
        let config_yaml = serde_saphyr::to_string(&config(m)).expect("config yaml");
        std::fs::write(&config_file, config_yaml).expect("write config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_storefleet-operator"))
            .args(["run", "--leader-election=false", "--listen", "127.0.0.1:0"])
            .arg("--config")
            .arg(&config_file)
            .env("KUBECONFIG", &env.operator_kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("operator binary starts");
        let start = Instant::now();
        create_all(&env, "r", m).await;
        let result = tokio::time::timeout(
            Duration::from_secs(1800),
            wait_all(&env.stores(), "r", m, Duration::from_secs(1800)),
        )
        .await;
        let rss = peak_rss_kib(child.id());
        let _ = child.kill();
        let _ = child.wait();
        match (result, rss) {
            (Ok(_), Some(kib)) => println!(
                "  operator binary with {m} stores (all children applied after {:.0} s): peak RSS {:.1} MiB",
                start.elapsed().as_secs_f64(),
                kib as f64 / 1024.0
            ),
            (r, rss) => println!(
                "  operator binary with {m} stores: did not finish ({}), peak RSS {:?} KiB",
                if r.is_ok() { "ok" } else { "timeout" },
                rss
            ),
        }
    }
}
