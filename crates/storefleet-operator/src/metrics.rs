//! Prometheus metrics of the operator, served at `/metrics`.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `storefleet_reconciles_total` | counter | `result` = success, requeue (a pass that waits: not an error), error |
//! | `storefleet_reconcile_duration_seconds` | histogram | |
//! | `storefleet_reconcile_errors_total` | counter | `kind` = the failed step: Apply, Setup, Backup, Cleanup, Status, Finalizer, Rejected, Unnamed |
//! | `storefleet_stores` | gauge | `phase` |
//! | `storefleet_time_to_ready_seconds` | histogram | (creation to first Ready) |
//! | `storefleet_api_requests_total` | counter | `verb` = get, apply, create, delete, list, patch, patch_status |
//! | `storefleet_process_resident_memory_bytes` | gauge | (Linux; read at scrape) |
//! | `storefleet_backup_last_success_timestamp_seconds` | gauge | `store`: when its newest successful backup finished |
//! | `storefleet_backup_last_verified_timestamp_seconds` | gauge | `store`: when its newest successful drill finished (the measured RPO is now minus the backup it restored) |
//! | `storefleet_backup_drill_failed` | gauge | `store`: 1 while its newest drill failed |
//! | `storefleet_backup_verified_snapshot_timestamp_seconds` | gauge | `store`: when the newest backup a drill restored was taken (the measured RPO is now minus this) |
//! | `storefleet_backup_restore_duration_seconds` | gauge | `store`: how long the newest successful drill took to restore, load and check (the measured RTO) |
//! | `storefleet_backup_duration_seconds` | gauge | `store`: how long its newest successful backup took |
//! | `storefleet_backup_size_bytes` | gauge | `store`: the size of its newest successful backup's database dump |
//! | `storefleet_checkout_broken` | gauge | `store`: 1 while its newest checkout probe failed |

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use storefleet_types::Phase;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerbLabel {
    verb: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabel {
    store: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabel {
    phase: &'static str,
}

/// The operator's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabel, Counter>,
    duration: Histogram,
    errors: Family<KindLabel, Counter>,
    stores: Family<PhaseLabel, Gauge>,
    time_to_ready: Histogram,
    api_requests: Family<VerbLabel, Counter>,
    resident_memory: Gauge,
    orphan_events: Counter,
    phases: Mutex<HashMap<String, Phase>>,
    backup_success: Family<StoreLabel, Gauge>,
    backup_verified: Family<StoreLabel, Gauge>,
    drill_failed: Family<StoreLabel, Gauge>,
    verified_snapshot: Family<StoreLabel, Gauge>,
    restore_duration: Family<StoreLabel, Gauge>,
    backup_duration: Family<StoreLabel, Gauge>,
    backup_size: Family<StoreLabel, Gauge>,
    checkout_broken: Family<StoreLabel, Gauge>,
}

const PHASES: [Phase; 6] = [
    Phase::Pending,
    Phase::Provisioning,
    Phase::Ready,
    Phase::Failed,
    Phase::Deleting,
    Phase::Hibernated,
];

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("storefleet");
        let reconciles = Family::<ResultLabel, Counter>::default();
        let duration = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        let errors = Family::<KindLabel, Counter>::default();
        let stores = Family::<PhaseLabel, Gauge>::default();
        let time_to_ready = Histogram::new(exponential_buckets(15.0, 2.0, 10));
        registry.register("reconciles", "Reconciles by result", reconciles.clone());
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconcile",
            duration.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciles by error kind",
            errors.clone(),
        );
        registry.register("stores", "Stores by phase", stores.clone());
        registry.register(
            "time_to_ready_seconds",
            "Time from a Store's creation to its first Ready",
            time_to_ready.clone(),
        );
        let api_requests = Family::<VerbLabel, Counter>::default();
        registry.register(
            "api_requests",
            "Kubernetes API requests made by reconciles, by verb",
            api_requests.clone(),
        );
        let resident_memory = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the operator process",
            resident_memory.clone(),
        );
        let orphan_events = Counter::default();
        registry.register(
            "orphan_events",
            "Events on labelled children whose Store does not exist (a retained store's objects), dropped",
            orphan_events.clone(),
        );
        let backup_success = Family::<StoreLabel, Gauge>::default();
        registry.register(
            "backup_last_success_timestamp_seconds",
            "When each store's newest successful backup finished (Unix time)",
            backup_success.clone(),
        );
        let backup_verified = Family::<StoreLabel, Gauge>::default();
        registry.register(
            "backup_last_verified_timestamp_seconds",
            "When each store's newest successful restore drill finished (Unix time)",
            backup_verified.clone(),
        );
        let drill_failed = Family::<StoreLabel, Gauge>::default();
        registry.register(
            "backup_drill_failed",
            "1 while a store's newest restore drill failed",
            drill_failed.clone(),
        );
        let verified_snapshot = Family::<StoreLabel, Gauge>::default();
        registry.register(
            "backup_verified_snapshot_timestamp_seconds",
            "When the newest backup a restore drill proved was taken (Unix time): the RPO is now minus this",
            verified_snapshot.clone(),
        );
        let restore_duration = Family::<StoreLabel, Gauge>::default();
        registry.register(
            "backup_restore_duration_seconds",
            "How long the newest successful restore drill took (the measured RTO)",
            restore_duration.clone(),
        );
        let backup_duration = Family::<StoreLabel, Gauge>::default();
        registry.register(
            "backup_duration_seconds",
            "How long each store's newest successful backup took (dump, upload, retention)",
            backup_duration.clone(),
        );
        let backup_size = Family::<StoreLabel, Gauge>::default();
        registry.register(
            "backup_size_bytes",
            "The size of each store's newest successful backup's database dump",
            backup_size.clone(),
        );
        let checkout_broken = Family::<StoreLabel, Gauge>::default();
        registry.register(
            "checkout_broken",
            "1 while a store's newest checkout probe failed (the step is in its CheckoutHealthy condition)",
            checkout_broken.clone(),
        );
        for phase in PHASES {
            stores
                .get_or_create(&PhaseLabel {
                    phase: phase.as_str(),
                })
                .set(0);
        }
        Self {
            registry,
            reconciles,
            duration,
            errors,
            stores,
            time_to_ready,
            api_requests,
            resident_memory,
            orphan_events,
            phases: Mutex::default(),
            backup_success,
            backup_verified,
            drill_failed,
            verified_snapshot,
            restore_duration,
            backup_duration,
            backup_size,
            checkout_broken,
        }
    }
}

impl Metrics {
    /// Counts a reconcile and its duration.
    pub fn reconciled(&self, result: &'static str, took: Duration) {
        self.reconciles.get_or_create(&ResultLabel { result }).inc();
        self.duration.observe(took.as_secs_f64());
    }

    /// Counts an event on a child whose Store does not exist.
    pub fn orphan_event(&self) {
        self.orphan_events.inc();
    }

    /// Counts a failed reconcile by error kind.
    pub fn reconcile_error(&self, kind: &'static str) {
        self.errors.get_or_create(&KindLabel { kind }).inc();
    }

    /// Records a store's phase.
    pub fn set_phase(&self, store: &str, phase: Option<Phase>) {
        let mut phases = self.phases.lock().unwrap_or_else(PoisonError::into_inner);
        match phase {
            Some(p) => phases.insert(store.to_string(), p),
            None => phases.remove(store),
        };
        self.refresh(&phases);
    }

    /// Forgets a deleted store.
    pub fn remove_store(&self, store: &str) {
        self.set_phase(store, None);
        let label = StoreLabel {
            store: store.to_string(),
        };
        self.backup_success.remove(&label);
        self.backup_verified.remove(&label);
        self.drill_failed.remove(&label);
        self.verified_snapshot.remove(&label);
        self.restore_duration.remove(&label);
        self.backup_duration.remove(&label);
        self.backup_size.remove(&label);
        self.checkout_broken.remove(&label);
    }

    /// Records whether a store's newest checkout probe failed (None: none has run).
    pub fn set_checkout(&self, store: &str, broken: Option<bool>) {
        let label = StoreLabel {
            store: store.to_string(),
        };
        match broken {
            Some(broken) => {
                self.checkout_broken
                    .get_or_create(&label)
                    .set(i64::from(broken));
            }
            None => {
                self.checkout_broken.remove(&label);
            }
        }
    }

    /// Records a store's newest successful backup and drill (Unix seconds, when there is one) and
    /// whether its newest drill failed.
    pub fn set_backups(
        &self,
        store: &str,
        success: Option<i64>,
        verified: Option<i64>,
        drill_failed: bool,
        [last, proven]: [Option<&storefleet_types::BackupRecord>; 2],
    ) {
        let label = StoreLabel {
            store: store.to_string(),
        };
        for (family, value) in [
            (&self.backup_success, success),
            (&self.backup_verified, verified),
            (
                &self.verified_snapshot,
                proven
                    .and_then(|r| r.snapshot_time.as_deref())
                    .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
                    .map(|t| t.as_second()),
            ),
            (&self.restore_duration, proven.and_then(|r| r.seconds)),
            (&self.backup_duration, last.and_then(|r| r.seconds)),
            (&self.backup_size, last.and_then(|r| r.bytes)),
        ] {
            match value {
                Some(at) => {
                    family.get_or_create(&label).set(at);
                }
                None => {
                    family.remove(&label);
                }
            }
        }
        self.drill_failed
            .get_or_create(&label)
            .set(i64::from(drill_failed));
    }

    fn refresh(&self, phases: &HashMap<String, Phase>) {
        for phase in PHASES {
            let n = phases.values().filter(|p| **p == phase).count();
            self.stores
                .get_or_create(&PhaseLabel {
                    phase: phase.as_str(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// Observes the time a store took to become Ready.
    pub fn time_to_ready(&self, took: Duration) {
        self.time_to_ready.observe(took.as_secs_f64());
    }

    /// Counts one Kubernetes API request.
    pub fn api_request(&self, verb: &'static str) {
        self.api_requests.get_or_create(&VerbLabel { verb }).inc();
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        if let Some(bytes) = resident_memory_bytes() {
            self.resident_memory.set(bytes);
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Resident set size from `/proc/self/statm` (pages × 4 KiB); None where there is no procfs.
fn resident_memory_bytes() -> Option<i64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: i64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_every_metric() {
        let m = Metrics::default();
        m.reconciled("success", Duration::from_millis(3));
        m.reconcile_error("Apply");
        m.set_phase("a", Some(Phase::Ready));
        m.set_phase("b", Some(Phase::Provisioning));
        m.set_phase("b", Some(Phase::Ready));
        m.time_to_ready(Duration::from_secs(90));
        let text = m.encode();
        assert!(
            text.contains("storefleet_reconciles_total{result=\"success\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("storefleet_reconcile_errors_total{kind=\"Apply\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("storefleet_stores{phase=\"Ready\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("storefleet_stores{phase=\"Provisioning\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("storefleet_reconcile_duration_seconds_count 1"),
            "{text}"
        );
        assert!(
            text.contains("storefleet_time_to_ready_seconds_count 1"),
            "{text}"
        );
        m.api_request("apply");
        let text = m.encode();
        assert!(
            text.contains("storefleet_api_requests_total{verb=\"apply\"} 1"),
            "{text}"
        );
        if cfg!(target_os = "linux") {
            assert!(
                !text.contains("storefleet_process_resident_memory_bytes 0\n"),
                "{text}"
            );
        }
        m.remove_store("a");
        assert!(m.encode().contains("storefleet_stores{phase=\"Ready\"} 1"));
    }
}
