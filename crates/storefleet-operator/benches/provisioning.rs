//! Provisioning many stores on a real control plane (`KUBEBUILDER_ASSETS`):
//!
//! 1. the floor: one sequential `kubectl apply --server-side` of exactly the objects that N
//!    stores consist of (what a single client reaches), on a fresh control plane (settled for
//!    35 s first, as both sides are: see [`SETTLE`]);
//! 2. the operator (in-process, as the chart's ServiceAccount): N Stores created at once, timed
//!    until every store has all its children (`NamespaceReady=True`: every child applied);
//! 3. the operator binary's peak RSS (VmHWM) with M Stores, from `/proc`.
//!
//! `cargo bench -p storefleet-operator --bench provisioning`
//! (`STOREFLEET_BENCH_STORES`, default 100; `STOREFLEET_BENCH_RSS_STORES`, default 1000, 0 skips;
//! `STOREFLEET_BENCH_ROUNDS`, default 3: parts 1 and 2 alternate, the median ratio is the figure;
//! `STOREFLEET_BENCH_CONCURRENCY`, default 16; `KUBECTL`, default `kubectl`).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/machine.rs"]
mod machine;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kube::api::{Api, ListParams};
use storefleet_operator::config::OperatorConfig;
use storefleet_operator::desired::secrets::Csprng;
use storefleet_operator::desired::{self, Child};
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
        let objects = desired::build(&validated);
        for child in objects.children() {
            let doc = match child {
                Child::Namespace(o) => serde_json::to_value(o),
                Child::ResourceQuota(o) => serde_json::to_value(o),
                Child::LimitRange(o) => serde_json::to_value(o),
                Child::NetworkPolicy(o) | Child::EdgePolicy(o) => serde_json::to_value(o),
                Child::GeneratedSecret(t) => serde_json::to_value(t.materialize(&mut Csprng)),
                Child::Service(o) => serde_json::to_value(o),
                Child::Role(o) => serde_json::to_value(o),
                Child::RoleBinding(o) => serde_json::to_value(o),
                Child::StatefulSet(o) => serde_json::to_value(o),
                Child::PersistentVolumeClaim(o) => serde_json::to_value(o),
                Child::Deployment(o) => serde_json::to_value(o),
                Child::Ingress(o) => serde_json::to_value(o),
                Child::HttpRoute(o) => serde_json::to_value(o),
                Child::ConfigMap(o) => serde_json::to_value(o),
                Child::BackupCronJob(o) | Child::CronJob(o) => serde_json::to_value(o),
                Child::BackupSecret(o) => serde_json::to_value(o),
                // The Job waits for readiness in the operator too; not part of "all children".
                Child::SetupJob(_) | Child::MigrationJob(_) | Child::RestoreJob(_) => continue,
            }
            .expect("serializable");
            docs.push(doc);
        }
    }
    let count = docs.len();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": docs});
    (list.to_string(), count)
}

/// Waits until `n` stores named `prefix…` have all their children (`NamespaceReady=True`),
/// watching the Stores: a watch costs the apiserver far less than listing every store over and
/// over while the operator works.
async fn wait_all(stores: &Api<Store>, prefix: &str, n: usize, limit: Duration) -> Duration {
    use futures::TryStreamExt;
    use kube::runtime::{WatchStreamExt, watcher};
    let start = Instant::now();
    let mut done = std::collections::HashSet::new();
    let mut events = std::pin::pin!(
        watcher::watcher(stores.clone(), watcher::Config::default()).applied_objects()
    );
    while done.len() < n {
        let next = tokio::time::timeout(limit.saturating_sub(start.elapsed()), events.try_next());
        match next.await {
            Ok(Ok(Some(s))) => {
                let name = s.metadata.name.clone().unwrap_or_default();
                let ready = s
                    .status
                    .as_ref()
                    .is_some_and(|st| common::is_true(st, "NamespaceReady"));
                if name.starts_with(prefix) && ready {
                    done.insert(name);
                }
            }
            Ok(Ok(None)) => panic!("the Store watch ended"),
            // The watcher recovers by itself after an error.
            Ok(Err(_)) => {}
            Err(_) => panic!(
                "only {}/{n} stores have all their children after {limit:?}",
                done.len()
            ),
        }
    }
    start.elapsed()
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
            floor_and_operator(n, env_number("STOREFLEET_BENCH_ROUNDS", 3).max(1)).await;
        }
        if m > 0 {
            binary_rss(m).await;
        }
    });
}

/// A fresh control plane settles before a timed run: kube-controller-manager's garbage collector
/// finds new resources (the Store CRD, installed just now) by a discovery resync every 30 s.
/// Until then every child's ownerReference names a kind the collector does not know, and it
/// reads the child and its owner for each: hundreds of requests that a cluster whose CRD was
/// installed a while ago never sees. Both sides of a round wait the same.
const SETTLE: Duration = Duration::from_secs(35);

/// What one timed run took, and where its time went.
struct Run {
    seconds: f64,
    details: String,
}

/// Part 1: one client, sequential server-side applies, on a fresh control plane.
async fn floor(n: usize) -> Option<(Run, usize)> {
    let env = common::Env::prepare("provisioning_floor", config(n)).await?;
    tokio::time::sleep(SETTLE).await;
    let (yaml, count) = objects_yaml(n, &env.config);
    let file = env.cp.dir().join("objects.json");
    std::fs::write(&file, yaml).expect("write objects");
    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let cpu_before = machine::cpu_by_process(env.cp.dir());
    let machine_before = machine::machine_cpu();
    let start = Instant::now();
    let run = Command::new(&kubectl)
        .arg("--kubeconfig")
        .arg(env.cp.admin_kubeconfig())
        .args(["apply", "--server-side", "--field-manager=bench", "-f"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    // kubectl's own CPU: its /proc entry still reads once it exited (a zombie until waited).
    let pid = run.id().to_string();
    let mut kubectl_cpu = 0.0;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        kubectl_cpu = machine::cpu_seconds(&pid).unwrap_or(kubectl_cpu);
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next());
        if matches!(state, Some("Z") | None) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = run.wait_with_output().expect("kubectl runs");
    let seconds = start.elapsed().as_secs_f64();
    let machine_use = machine::machine_use(machine_before, machine::machine_cpu());
    let mut cpu = machine::cpu_by_process(env.cp.dir());
    cpu.insert("kubectl".into(), kubectl_cpu);
    assert!(
        out.status.success(),
        "kubectl apply failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let details = format!(
        "{}{machine_use}{}",
        machine::cpu_use(&cpu_before, &cpu),
        machine::requests_by_user(&env.cp)
    );
    Some((Run { seconds, details }, count))
}

/// Part 2: the operator (in-process, as the chart's ServiceAccount), on a fresh control plane:
/// n Stores created one after the other, timed until every store has all its children.
async fn operator(n: usize) -> Option<(Run, usize)> {
    let env = common::Env::start("provisioning_operator", config(n)).await?;
    tokio::time::sleep(SETTLE).await;
    let stores = env.stores();
    let cpu_before = machine::cpu_by_process(env.cp.dir());
    let machine_before = machine::machine_cpu();
    let start = Instant::now();
    create_all(&env, "s", n).await;
    let created = start.elapsed().as_secs_f64();
    wait_all(&stores, "s", n, Duration::from_secs(1200)).await;
    let seconds = start.elapsed().as_secs_f64();
    let machine_use = machine::machine_use(machine_before, machine::machine_cpu());
    let cpu = machine::cpu_by_process(env.cp.dir());
    let reconciles = env
        .metrics()
        .encode()
        .lines()
        .find(|l| l.starts_with("storefleet_reconcile_duration_seconds_count"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or("?")
        .to_string();
    let mut latencies: Vec<i64> = stores
        .list(&ListParams::default())
        .await
        .map(|list| list.items)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| {
            let created = s.metadata.creation_timestamp.as_ref()?.0;
            let ready = common::condition(s.status.as_ref()?, "NamespaceReady")?;
            Some(ready.last_transition_time.0.as_second() - created.as_second())
        })
        .collect();
    latencies.sort_unstable();
    let audited = env.operator_requests();
    let mut by_verb = std::collections::BTreeMap::<String, usize>::new();
    for r in audited
        .iter()
        .filter(|r| !matches!(r.verb.as_str(), "list" | "watch"))
    {
        *by_verb
            .entry(format!("{} {} ({})", r.verb, r.resource, r.code))
            .or_default() += 1;
    }
    let mut details = format!(
        "      the bench's {n} creates took {created:.1} s; {reconciles} reconciles\n{}{machine_use}{}",
        machine::cpu_use(&cpu_before, &cpu),
        machine::requests_by_user(&env.cp)
    );
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0)
    };
    details += &format!(
        "      seconds from a store's creation to all its children: median {}, p90 {}, max {}\n",
        at(0.5),
        at(0.9),
        at(1.0)
    );
    details += "      operator requests, lists and watches aside:\n";
    for (k, count) in by_verb {
        details += &format!("        {count:>5}  {k}\n");
    }
    Some((Run { seconds, details }, audited.len()))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        len if len % 2 == 1 => values[len / 2],
        len => (values[len / 2 - 1] + values[len / 2]) / 2.0,
    }
}

/// Parts 1 and 2, alternated for a few rounds (this machine is shared: both sides of a round
/// see about the same load); the figure is the median of the rounds' ratios.
async fn floor_and_operator(n: usize, rounds: usize) {
    let mut ratios = Vec::new();
    let mut last = None;
    for round in 1..=rounds {
        let Some((floor, objects)) = floor(n).await else {
            return;
        };
        let Some((operator, requests)) = operator(n).await else {
            return;
        };
        let ratio = operator.seconds / floor.seconds;
        println!(
            "provisioning round {round}/{rounds}: {n} stores, {objects} objects (Jobs excluded): kubectl apply --server-side {:.1} s, operator {:.1} s ({ratio:.2}x), {requests} operator requests",
            floor.seconds, operator.seconds
        );
        ratios.push(ratio);
        last = Some((floor, operator));
    }
    if let Some((floor, operator)) = last {
        println!(
            "  last round, one client (kubectl apply --server-side):\n{}",
            floor.details
        );
        println!("  last round, the operator:\n{}", operator.details);
    }
    println!(
        "provisioning: {n} stores, the operator took {:.2}x one sequential kubectl apply --server-side (median of {rounds} rounds; target <= 1.0)",
        median(ratios)
    );
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
