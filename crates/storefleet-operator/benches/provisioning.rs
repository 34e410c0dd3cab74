//! Provisioning many stores on a real control plane (`KUBEBUILDER_ASSETS`):
//!
//! 1. the floor: one sequential `kubectl apply --server-side` of exactly the objects that N
//!    stores consist of (what a single client reaches), on a fresh control plane (settled for
//!    35 s first, as both sides are: see [`SETTLE`]);
//!    and the same objects from 8 kubectl clients at once (the parallel floor);
//! 2. the operator (in-process, as the chart's ServiceAccount): N Stores created at once, timed
//!    until every store has all its children (`NamespaceReady=True`: every child applied), until
//!    every store is Ready (the kubelet stand-in reports pods at once), an operator restart over
//!    the Ready fleet (time until every store was reconciled, requests, writes) and the deletion
//!    of every store; the operator's requests by verb for each stage;
//! 3. the operator binary's peak RSS (VmHWM) with M Stores, from their creation until all are
//!    Ready and then for one cron period (`STOREFLEET_BENCH_RSS_DAY2_SECONDS`, 300), while their
//!    CronJobs run, from `/proc`.
//!
//! `cargo bench -p storefleet-operator --bench provisioning`
//! (`STOREFLEET_BENCH_STORES`, default 100; `STOREFLEET_BENCH_RSS_STORES`, default 1000, 0 skips;
//! `STOREFLEET_BENCH_ROUNDS`, default 3: parts 1 and 2 alternate, the median ratio is the figure;
//! `STOREFLEET_BENCH_CONCURRENCY`, default the shipped `controller.concurrency`; `KUBECTL`,
//! default `kubectl`; `STOREFLEET_BENCH_OPERATOR`, the operator binary part 3 measures, default
//! the bench's own release build).

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
    // The shipped default unless the bench is told otherwise.
    if let Some(concurrency) = std::env::var("STOREFLEET_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.controller.concurrency = concurrency;
    }
    config
}

fn store(i: usize, prefix: &str) -> Store {
    Store::test()
        .with_name(&format!("{prefix}{i:04}"))
        .with_owner(&format!("owner{i}@example.com"))
}

/// Every object of `n` stores as `clients` `List`s (store i in list i mod clients), in apply
/// order, without ownerReferences (there is no Store for them to point at), Secrets with their
/// values; and how many objects in all.
fn objects_yaml(n: usize, clients: usize, config: &OperatorConfig) -> (Vec<String>, usize) {
    let mut lists = vec![Vec::new(); clients.max(1)];
    for i in 0..n {
        let docs = &mut lists[i % clients.max(1)];
        let mut s = store(i, "k");
        s.spec.deletion_policy = DeletionPolicy::Retain;
        s.metadata.uid = Some(format!("00000000-0000-0000-0000-{i:012}"));
        let validated = validate::validate(&s, config).expect("valid store");
        let objects = desired::build(&validated);
        for child in objects.children() {
            let doc = match child {
                // Without the storefleet.io/store label: only the operator may set it (the
                // chart's admission policy), and the floor is applied as the cluster's admin.
                Child::Namespace(o) => {
                    let mut ns = o.clone();
                    if let Some(labels) = ns.metadata.labels.as_mut() {
                        labels.remove(storefleet_types::names::labels::STORE);
                    }
                    serde_json::to_value(ns)
                }
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
    let count = lists.iter().map(Vec::len).sum();
    let lists = lists
        .into_iter()
        .map(|docs| {
            serde_json::json!({"apiVersion": "v1", "kind": "List", "items": docs}).to_string()
        })
        .collect();
    (lists, count)
}

/// Waits until `n` stores named `prefix…` are `done` (all their children: `NamespaceReady=True`;
/// or Ready), watching the Stores: a watch costs the apiserver far less than listing every
/// store over and over while the operator works.
async fn wait_all(
    stores: &Api<Store>,
    prefix: &str,
    n: usize,
    limit: Duration,
    done_when: fn(&Store) -> bool,
) -> Duration {
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
                if name.starts_with(prefix) && done_when(&s) {
                    done.insert(name);
                }
            }
            Ok(Ok(None)) => panic!("the Store watch ended"),
            // The watcher recovers by itself after an error.
            Ok(Err(_)) => {}
            Err(_) => panic!("only {}/{n} stores are done after {limit:?}", done.len()),
        }
    }
    start.elapsed()
}

async fn create_all(env: &common::Env, prefix: &str, n: usize) {
    for i in 0..n {
        env.create(store(i, prefix)).await;
    }
}

/// The process's peak resident set (VmHWM), KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM:")
}

/// One KiB figure of the process's /proc status (VmHWM: peak, VmRSS: now).
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
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
    /// To all children (the floors: their applies).
    seconds: f64,
    details: String,
    /// To all Ready (the operator only).
    ready: f64,
    /// To all deleted (the operator only).
    deleted: f64,
}

/// Part 1: `clients` kubectl clients at once (each the objects of every `clients`-th store, in
/// order), sequential server-side applies each, on a fresh control plane.
async fn floor(n: usize, clients: usize) -> Option<(Run, usize)> {
    let env = common::Env::prepare("provisioning_floor", config(n)).await?;
    tokio::time::sleep(SETTLE).await;
    let (lists, count) = objects_yaml(n, clients, &env.config);
    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let cpu_before = machine::cpu_by_process(env.cp.dir());
    let machine_before = machine::machine_cpu();
    let start = Instant::now();
    let runs: Vec<_> = lists
        .iter()
        .enumerate()
        .map(|(i, yaml)| {
            let file = env.cp.dir().join(format!("objects-{i}.json"));
            std::fs::write(&file, yaml).expect("write objects");
            // Its warnings to a file: a pipe nobody reads until it exits would fill and stop it.
            let errors = std::fs::File::create(env.cp.dir().join(format!("kubectl-{i}.err")))
                .expect("kubectl's stderr file");
            Command::new(&kubectl)
                .arg("--kubeconfig")
                .arg(env.cp.admin_kubeconfig())
                .args(["apply", "--server-side", "--field-manager=bench", "-f"])
                .arg(&file)
                .stdout(Stdio::null())
                .stderr(errors)
                .spawn()
                .expect("kubectl runs")
        })
        .collect();
    // The clients' own CPU: their /proc entries still read once they exited (zombies until
    // waited).
    let pids: Vec<String> = runs.iter().map(|r| r.id().to_string()).collect();
    let mut kubectl_cpu = vec![0.0; pids.len()];
    loop {
        let mut running = false;
        for (pid, cpu) in pids.iter().zip(kubectl_cpu.iter_mut()) {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            *cpu = machine::cpu_seconds(pid).unwrap_or(*cpu);
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next());
            running |= !matches!(state, Some("Z") | None);
        }
        if !running {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for (i, mut run) in runs.into_iter().enumerate() {
        let status = run.wait().expect("kubectl runs");
        let errors = std::fs::read_to_string(env.cp.dir().join(format!("kubectl-{i}.err")))
            .unwrap_or_default();
        assert!(status.success(), "kubectl apply failed: {errors}");
    }
    let seconds = start.elapsed().as_secs_f64();
    let machine_use = machine::machine_use(machine_before, machine::machine_cpu());
    let mut cpu = machine::cpu_by_process(env.cp.dir());
    cpu.insert(
        format!("kubectl ({clients} clients)"),
        kubectl_cpu.iter().sum(),
    );
    let details = format!(
        "{}{machine_use}{}",
        machine::cpu_use(&cpu_before, &cpu),
        machine::requests_by_user(&env.cp)
    );
    Some((
        Run {
            seconds,
            details,
            ready: f64::NAN,
            deleted: f64::NAN,
        },
        count,
    ))
}

/// Part 2: the operator (in-process, as the chart's ServiceAccount), on a fresh control plane:
/// n Stores created one after the other, timed until every store has all its children, until
/// every store is Ready (the kubelet stand-in reports pods at once), then an operator restart
/// over the Ready fleet, then every store deleted.
async fn operator(n: usize) -> Option<(Run, usize)> {
    let mut config = config(n);
    // WordPress's scheduled work and the checkout probe once a year (shipped: every 5 and 10
    // minutes, each store at a minute of its own): a store's first run finishing during the
    // restart is news the operator writes, and the restart's writes must be its own. Part 3
    // keeps the shipped schedules.
    config.cron.schedule = "0 0 1 1 *".into();
    config.probe.schedule = "0 0 1 1 *".into();
    let mut env = common::Env::start("provisioning_operator", config).await?;
    tokio::time::sleep(SETTLE).await;
    let stores = env.stores();
    let cpu_before = machine::cpu_by_process(env.cp.dir());
    let machine_before = machine::machine_cpu();
    let start = Instant::now();
    create_all(&env, "s", n).await;
    let created = start.elapsed().as_secs_f64();
    wait_all(&stores, "s", n, Duration::from_secs(1800), all_children).await;
    let seconds = start.elapsed().as_secs_f64();
    wait_all(&stores, "s", n, Duration::from_secs(1800), ready).await;
    let ready_seconds = start.elapsed().as_secs_f64();
    let machine_use = machine::machine_use(machine_before, machine::machine_cpu());
    let cpu = machine::cpu_by_process(env.cp.dir());
    let reconciles = metric_sum(&env, "storefleet_reconcile_duration_seconds_count");
    let busy = metric_sum(&env, "storefleet_reconcile_duration_seconds_sum");
    let latencies = latencies(&stores).await;
    let to_ready = env.operator_requests();
    let mut details = format!(
        "      the bench's {n} creates took {created:.1} s; all children after {seconds:.1} s, all Ready after {ready_seconds:.1} s (tail {:.1} s); {reconciles} reconciles taking {:.0} ms on average\n{}{machine_use}{}",
        ready_seconds - seconds,
        busy * 1000.0 / reconciles.max(1.0),
        machine::cpu_use(&cpu_before, &cpu),
        machine::requests_by_user(&env.cp)
    );
    details += &format!(
        "      seconds from a store's creation: to all its children median {}, p90 {}, max {}; to Ready median {}, p90 {}, max {}\n",
        at(&latencies.0, 0.5),
        at(&latencies.0, 0.9),
        at(&latencies.0, 1.0),
        at(&latencies.1, 0.5),
        at(&latencies.1, 0.9),
        at(&latencies.1, 1.0),
    );
    details += &pipeline(&env, &stores).await;
    details += &by_verb("create -> Ready", &to_ready, n);

    // An operator restart over the Ready fleet: how long until it has looked at every store,
    // what it asks, and that it writes nothing.
    env.stop_operator().await;
    let before_restart = env.operator_requests().len();
    let restarted = Instant::now();
    env.start_operator();
    let checked = loop {
        // Passes that waited for the watches' first lists are not a look at the store.
        let succeeded = metric_line(&env, "storefleet_reconciles_total{result=\"success\"}");
        if succeeded.parse::<f64>().unwrap_or(0.0) >= n as f64 {
            break restarted.elapsed().as_secs_f64();
        }
        if restarted.elapsed() > Duration::from_secs(1200) {
            break f64::NAN;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The restart's passes still at work once every store had one are counted too: until the
    // operator has asked nothing for 4 s (at most two minutes).
    let mut asked = env.operator_requests().len();
    let mut quiet = 0;
    let settling = Instant::now();
    while quiet < 2 && settling.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = env.operator_requests().len();
        quiet = if now == asked { quiet + 1 } else { 0 };
        asked = now;
    }
    let restart: Vec<_> = env.operator_requests().split_off(before_restart);
    let writes = restart
        .iter()
        .filter(|r| !matches!(r.verb.as_str(), "get" | "list" | "watch"))
        .count();
    details += &format!(
        "      restart over {n} Ready stores: every store reconciled after {checked:.1} s; {} requests, {writes} writes (target 0)\n",
        restart.len()
    );
    details += &by_verb("restart", &restart, n);

    // Every store deleted.
    let before_delete = env.operator_requests().len();
    let deleting = Instant::now();
    for i in 0..n {
        env.delete(&format!("s{i:04}")).await;
    }
    while !stores
        .list(&ListParams::default().limit(1))
        .await
        .map(|l| l.items.is_empty())
        .unwrap_or(false)
    {
        assert!(
            deleting.elapsed() < Duration::from_secs(1800),
            "stores still there"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let deleted = deleting.elapsed().as_secs_f64();
    let deletion: Vec<_> = env.operator_requests().split_off(before_delete);
    let waits = metric_line(&env, "storefleet_reconciles_total{result=\"requeue\"}");
    let errors = metric_line(&env, "storefleet_reconciles_total{result=\"error\"}");
    details += &format!(
        "      delete all {n}: {deleted:.1} s; passes that waited (result=\"requeue\"): {waits}, errors: {errors}\n"
    );
    details += &by_verb("delete", &deletion, n);
    let total = to_ready.len() + deletion.len();
    details += &format!(
        "      operator requests per store, create -> Ready -> deleted: {:.1}\n",
        total as f64 / n as f64
    );
    Some((
        Run {
            seconds,
            details,
            ready: ready_seconds,
            deleted,
        },
        total,
    ))
}

/// A store has every child applied.
fn all_children(s: &Store) -> bool {
    s.status
        .as_ref()
        .is_some_and(|st| common::is_true(st, "NamespaceReady"))
}

/// A store is Ready.
fn ready(s: &Store) -> bool {
    s.status
        .as_ref()
        .is_some_and(|st| st.phase == Some(storefleet_types::Phase::Ready))
}

/// Seconds from each store's creation to all its children, and to Ready, sorted.
async fn latencies(stores: &Api<Store>) -> (Vec<i64>, Vec<i64>) {
    let listed = stores
        .list(&ListParams::default())
        .await
        .map(|list| list.items)
        .unwrap_or_default();
    let since = |s: &Store, at: Option<i64>| {
        Some(at? - s.metadata.creation_timestamp.as_ref()?.0.as_second())
    };
    let mut children: Vec<i64> = listed
        .iter()
        .filter_map(|s| {
            let c = common::condition(s.status.as_ref()?, "NamespaceReady")?;
            since(s, Some(c.last_transition_time.0.as_second()))
        })
        .collect();
    let mut ready: Vec<i64> = listed
        .iter()
        .filter_map(|s| {
            let at = s.status.as_ref()?.ready_at.as_ref()?.0.as_second();
            since(s, Some(at))
        })
        .collect();
    children.sort_unstable();
    ready.sort_unstable();
    (children, ready)
}

/// Where a store's time to Ready goes, from the objects' own timestamps (seconds, median and
/// p90 over the stores): pods ready (the stand-in kubelet, after the controller-manager made
/// them), the workloads' status showing it (the controller-manager), the operator creating the
/// setup Job, the Job done (controller-manager and stand-in), the operator marking the store
/// Ready. The operator's own latency is the third and fifth.
async fn pipeline(env: &common::Env, stores: &Api<Store>) -> String {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::Pod;
    use std::collections::BTreeMap;
    use storefleet_types::names::labels as keys;
    let by_store = ListParams::default().labels(keys::STORE);
    let store_of = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        meta.labels.as_ref()?.get(keys::STORE).cloned()
    };
    let pods: Vec<Pod> = Api::all(env.admin.clone())
        .list(&by_store)
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let mut pods_ready = BTreeMap::<String, i64>::new();
    for pod in &pods {
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready" && c.status == "True"))
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t| t.0.as_second());
        let is_job = pod
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key("job-name"));
        if let (Some(store), Some(ready), false) = (store_of(&pod.metadata), ready, is_job) {
            let at = pods_ready.entry(store).or_insert(ready);
            *at = (*at).max(ready);
        }
    }
    let deployments: Vec<Deployment> = Api::all(env.admin.clone())
        .list(&by_store)
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let available: BTreeMap<String, i64> = deployments
        .iter()
        .filter_map(|d| {
            let at = d
                .status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .find(|c| {
                    c.type_.as_deref() == Some("Available") && c.status.as_deref() == Some("True")
                })?
                .last_transition_time
                .as_ref()?
                .0
                .as_second();
            Some((store_of(&d.metadata)?, at))
        })
        .collect();
    let jobs: Vec<Job> = Api::all(env.admin.clone())
        .list(&by_store)
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let setup: BTreeMap<String, (i64, i64)> =
        jobs.iter()
            .filter(|j| {
                j.metadata.name.as_deref().is_some_and(|n| {
                    n.starts_with(storefleet_types::names::child::SETUP_JOB_PREFIX)
                })
            })
            .filter_map(|j| {
                let created = j.metadata.creation_timestamp.as_ref()?.0.as_second();
                let done = j.status.as_ref()?.completion_time.as_ref()?.0.as_second();
                Some((store_of(&j.metadata)?, (created, done)))
            })
            .collect();
    let listed = stores
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let mut segments: [Vec<i64>; 5] = Default::default();
    for s in &listed {
        let name = s.metadata.name.clone().unwrap_or_default();
        let (Some(created), Some(ready)) = (
            s.metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.as_second()),
            s.status
                .as_ref()
                .and_then(|st| st.ready_at.as_ref())
                .map(|t| t.0.as_second()),
        ) else {
            continue;
        };
        let (Some(pods), Some(available), Some((job, done))) = (
            pods_ready.get(&name),
            available.get(&name),
            setup.get(&name),
        ) else {
            continue;
        };
        let steps = [created, *pods, *available, *job, *done, ready];
        for (i, segment) in segments.iter_mut().enumerate() {
            segment.push(steps[i + 1] - steps[i]);
        }
    }
    let names = [
        "creation -> pods ready (controller-manager, stand-in kubelet)",
        "pods ready -> storefront Available (controller-manager)",
        "Available -> setup Job created (operator)",
        "setup Job created -> complete (controller-manager, stand-in)",
        "setup Job complete -> Ready (operator)",
    ];
    let mut out = format!(
        "      where a store's time to Ready goes ({} stores, seconds, median / p90 / max):\n",
        segments[0].len()
    );
    for (segment, name) in segments.iter_mut().zip(names) {
        segment.sort_unstable();
        out += &format!(
            "        {:>4} / {:>4} / {:>4}  {name}\n",
            at(segment, 0.5),
            at(segment, 0.9),
            at(segment, 1.0)
        );
    }
    out
}

fn at(sorted: &[i64], q: f64) -> i64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * q) as usize)
        .copied()
        .unwrap_or(0)
}

/// The sum of a metric's samples (every label set) of the running operator.
fn metric_sum(env: &common::Env, name: &str) -> f64 {
    env.metrics()
        .encode()
        .lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| {
            l[name.len()..]
                .chars()
                .next()
                .is_some_and(|c| c == ' ' || c == '{')
        })
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

/// One sample's value of the running operator's metrics, as text.
fn metric_line(env: &common::Env, sample: &str) -> String {
    env.metrics()
        .encode()
        .lines()
        .find(|l| l.starts_with(sample))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or("0")
        .to_string()
}

/// The operator's requests of one stage, lists and watches included, by verb and resource.
fn by_verb(stage: &str, requests: &[storefleet_envtest::audit::Request], n: usize) -> String {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut verbs = std::collections::BTreeMap::<&str, usize>::new();
    for r in requests {
        *counts
            .entry(format!("{} {} ({})", r.verb, r.resource, r.code))
            .or_default() += 1;
        *verbs.entry(r.verb.as_str()).or_default() += 1;
    }
    let verbs: Vec<String> = verbs
        .iter()
        .map(|(v, c)| format!("{v} {c} ({:.2}/store)", *c as f64 / n as f64))
        .collect();
    let mut out = format!(
        "      operator requests, {stage}: {} ({:.1} per store): {}\n",
        requests.len(),
        requests.len() as f64 / n as f64,
        verbs.join(", ")
    );
    for (k, count) in counts {
        out += &format!("        {count:>6}  {k}\n");
    }
    out
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        len if len % 2 == 1 => values[len / 2],
        len => (values[len / 2 - 1] + values[len / 2]) / 2.0,
    }
}

/// Parts 1 and 2, alternated for a few rounds (this machine is shared: the sides of a round see
/// about the same load); the figures are the medians of the rounds'.
async fn floor_and_operator(n: usize, rounds: usize) {
    const CLIENTS: usize = 8;
    let (mut single, mut parallel, mut tails, mut per_store) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    for round in 1..=rounds {
        let Some((one, objects)) = floor(n, 1).await else {
            return;
        };
        let Some((many, _)) = floor(n, CLIENTS).await else {
            return;
        };
        let Some((operator, requests)) = operator(n).await else {
            return;
        };
        let children = objects as f64 / n as f64;
        println!(
            "provisioning round {round}/{rounds}: {n} stores, {objects} objects (Jobs excluded): kubectl apply --server-side, one client {:.1} s, {CLIENTS} clients {:.1} s; operator: all children {:.1} s ({:.2}x one client, {:.2}x {CLIENTS} clients), all Ready {:.1} s (tail {:.1} s), delete all {:.1} s; {:.1} operator requests per store create -> Ready -> deleted ({:.2}x its {children:.0} children)",
            one.seconds,
            many.seconds,
            operator.seconds,
            operator.seconds / one.seconds,
            operator.seconds / many.seconds,
            operator.ready,
            operator.ready - operator.seconds,
            operator.deleted,
            requests as f64 / n as f64,
            requests as f64 / n as f64 / children,
        );
        single.push(operator.seconds / one.seconds);
        parallel.push(operator.seconds / many.seconds);
        tails.push(operator.ready - operator.seconds);
        per_store.push(requests as f64 / n as f64 / children);
        last = Some((one, many, operator));
    }
    if let Some((one, many, operator)) = last {
        println!(
            "  last round, one client (kubectl apply --server-side):\n{}",
            one.details
        );
        println!("  last round, {CLIENTS} clients at once:\n{}", many.details);
        println!("  last round, the operator:\n{}", operator.details);
    }
    println!(
        "provisioning: {n} stores (median of {rounds} rounds): all children {:.2}x one client and {:.2}x {CLIENTS} clients (target <= 1.1x {CLIENTS} clients at 1,000); Ready tail {:.1} s (target <= 10 s at 200); requests per store create -> Ready -> deleted {:.2}x its children (target <= 2)",
        median(single),
        median(parallel),
        median(tails),
        median(per_store),
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
        let binary = std::env::var("STOREFLEET_BENCH_OPERATOR")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_storefleet-operator").to_string());
        println!("  measuring {binary}");
        let mut child = Command::new(&binary)
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
        // Ready: the day-2 CronJobs (cron, probe) exist too, in the watch caches.
        let result = tokio::time::timeout(
            Duration::from_secs(3600),
            wait_all(&env.stores(), "r", m, Duration::from_secs(3600), ready),
        )
        .await;
        let ready_after = start.elapsed().as_secs_f64();
        let at_ready = peak_rss_kib(child.id());
        // Day 2: every store's CronJobs run (`cron` every 5 minutes, `probe` every 10, their
        // Jobs watched), for one more cron period by default; the peak is over the whole run.
        let day2 = env_number("STOREFLEET_BENCH_RSS_DAY2_SECONDS", 300);
        tokio::time::sleep(Duration::from_secs(day2 as u64)).await;
        let rss = peak_rss_kib(child.id());
        let settled = status_kib(child.id(), "VmRSS:").unwrap_or(0);
        // What the resident set is made of: the heap and stacks, and the mapped binary.
        let anonymous = status_kib(child.id(), "RssAnon:").unwrap_or(0);
        let file = status_kib(child.id(), "RssFile:").unwrap_or(0);
        let _ = child.kill();
        let _ = child.wait();
        match (result, rss) {
            (Ok(_), Some(kib)) => println!(
                "  operator binary with {m} stores: all Ready after {:.0} s, peak RSS by then {:.1} MiB; {day2} s of day 2 later (their CronJobs' runs), peak RSS {:.1} MiB (target <= 64 MiB), now {:.1} MiB ({:.1} MiB anonymous, {:.1} MiB of mapped files: the binary)",
                ready_after,
                at_ready.unwrap_or(0) as f64 / 1024.0,
                kib as f64 / 1024.0,
                settled as f64 / 1024.0,
                anonymous as f64 / 1024.0,
                file as f64 / 1024.0
            ),
            (r, rss) => println!(
                "  operator binary with {m} stores: did not finish ({}), peak RSS {:?} KiB",
                if r.is_ok() { "ok" } else { "timeout" },
                rss
            ),
        }
    }
}
