//! `StoreRollout`: a fleet's upgrade in waves. It names target versions, the stores it covers
//! and how it moves (waves, a pause, a failure budget, a concurrency); the operator admits
//! stores wave by wave in its status, and each admitted store upgrades in its own transaction
//! (its `status.upgrade`). A rollout never writes a Store: a store takes the rollout's versions
//! while the rollout's status admits it, and keeps what it runs afterwards.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::{Engine, Plan, VersionsSpec};

/// A fleet's upgrade to `target`, in waves.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "storefleet.io",
    version = "v1alpha1",
    kind = "StoreRollout",
    plural = "storerollouts",
    singular = "storerollout",
    shortname = "sro",
    category = "storefleet",
    status = "StoreRolloutStatus",
    derive = "PartialEq",
    doc = "A StoreRollout moves the stores it selects to its target versions, wave by wave: a wave starts once the previous one is verified, and failures beyond its budget halt it. It never writes a Store.",
    printcolumn(name = "Target", type_ = "string", json_path = ".status.target"),
    printcolumn(name = "Wave", type_ = "string", json_path = ".status.wave"),
    printcolumn(name = "Progress", type_ = "string", json_path = ".status.progress"),
    printcolumn(name = "State", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(name = "Message", type_ = "string", json_path = ".status.message", priority = 1),
    validation = Rule::new("self.metadata.name.size() <= 63").message("metadata.name must be at most 63 characters"),
    validation = Rule::new("has(self.spec.target.wordpress) || has(self.spec.target.mariadb) || has(self.spec.target.wpCli) || has(self.spec.target.woocommerce) || has(self.spec.target.medusa) || has(self.spec.target.postgres) || has(self.spec.target.redis)").message("spec.target names no version: set at least one of wordpress, mariadb, wpCli, woocommerce, medusa, postgres, redis")
)]
#[serde(rename_all = "camelCase")]
pub struct StoreRolloutSpec {
    /// The versions to move the stores to: each store takes those of its engine. Fixed once
    /// set: another target is another rollout.
    #[x_kube(validation = Rule::new("self == oldSelf").message("target is fixed once set: create another StoreRollout for other versions"))]
    pub target: VersionsSpec,

    /// The stores it covers (all when empty). Fixed once set.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("selector is fixed once set: create another StoreRollout for other stores"))]
    pub selector: RolloutSelector,

    /// The waves, in order: how many stores each takes (`stores`, a count, or `percent` of the
    /// stores covered when the rollout started, at least one). The last wave takes all the
    /// stores left. Default: one store, then 10 %, then the rest.
    #[serde(default = "default_waves")]
    #[schemars(length(min = 1, max = 20))]
    pub waves: Vec<WaveSpec>,

    /// Seconds to wait after a wave was verified before the next one starts. Default 60.
    #[serde(default = "default_pause")]
    #[schemars(range(min = 0, max = 604800), extend("format" = "int32"))]
    pub pause_seconds: u32,

    /// How many stores may fail (be rolled back) before the rollout halts: one more halts it.
    /// Failures before a resume are forgiven. Default 0.
    #[serde(default)]
    #[schemars(range(min = 0, max = 10000), extend("format" = "int32"))]
    pub max_failures: u32,

    /// How many stores of a wave upgrade at once. Default 5.
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1, max = 1000), extend("format" = "int32"))]
    pub max_concurrent: u32,

    /// Admit no more stores (those upgrading finish). `false` goes on where it stopped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
}

fn default_waves() -> Vec<WaveSpec> {
    let count = |n| WaveSpec {
        stores: Some(n),
        percent: None,
    };
    let percent = |p| WaveSpec {
        stores: None,
        percent: Some(p),
    };
    vec![count(1), percent(10), percent(100)]
}

const fn default_pause() -> u32 {
    60
}

const fn default_concurrency() -> u32 {
    5
}

/// Which stores a rollout covers: all of the conditions given.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSelector {
    /// Only stores of this engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<Engine>,
    /// Only stores on this plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// Only stores with all of these labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
}

/// One wave of a rollout: a count of stores, or a percentage of the stores covered.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.stores) != has(self.percent)").message("a wave takes either stores (a count) or percent (of the stores covered), not both"))]
pub struct WaveSpec {
    /// How many stores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100000), extend("format" = "int32"))]
    pub stores: Option<u32>,
    /// How many stores, in percent of the stores covered when the rollout started (at least
    /// one store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100), extend("format" = "int32"))]
    pub percent: Option<u32>,
}

/// What a rollout did and where it is.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreRolloutStatus {
    /// The generation this status was written for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Where the rollout is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RolloutPhase>,
    /// `Ready` (completed), `Reconciling` (moving), `Stalled` (halted), `Halted`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The target in short (each version by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The wave under way, of how many (`2/3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave: Option<String>,
    /// Stores upgraded, of the stores covered (`12/20`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// A sentence on where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The stores covered (not pinned) when the rollout started: what percentages are of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "int32"))]
    pub covered: Option<u32>,
    /// The waves started so far, with their stores (chosen when the wave started, in name
    /// order) and how many of them were admitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waves: Vec<WaveStatus>,
    /// Stores that run the target, verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upgraded: Vec<String>,
    /// Stores whose upgrade failed (rolled back, aborted, or refused), and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<RolloutStore>,
    /// Stores the rollout covers but leaves alone, and why (pinned in their own spec, asleep,
    /// not set up, in another rollout, deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<RolloutStore>,
    /// How many failures came before the last resume (forgiven: the budget counts those after).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(extend("format" = "int32"))]
    pub forgiven: u32,
    /// The `storefleet.io/resume` annotation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<String>,
    /// When the next wave may start (RFC 3339): the previous one's end plus the pause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_wave_at: Option<String>,
}

impl StoreRolloutStatus {
    /// Whether `store`'s part has ended: upgraded, failed or skipped.
    pub fn ended(&self, store: &str) -> bool {
        self.upgraded.iter().any(|s| s == store)
            || self.failed.iter().any(|s| s.store == store)
            || self.skipped.iter().any(|s| s.store == store)
    }

    /// The admitted stores whose part has not ended.
    pub fn moving(&self) -> impl Iterator<Item = &String> {
        self.waves
            .iter()
            .flat_map(WaveStatus::admitted)
            .filter(|s| !self.ended(s))
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One wave as it ran.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaveStatus {
    /// Its stores, in the order they are admitted.
    pub stores: Vec<String>,
    /// How many of them were admitted (the first ones): an admitted store upgrades.
    #[schemars(extend("format" = "int32"))]
    pub admitted: u32,
    /// When it started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When its last store's upgrade ended (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

impl WaveStatus {
    /// The stores admitted so far.
    pub fn admitted(&self) -> &[String] {
        let n = usize::try_from(self.admitted).unwrap_or(usize::MAX);
        &self.stores[..n.min(self.stores.len())]
    }
}

/// A store named in a rollout's status, and why.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStore {
    /// The store.
    pub store: String,
    /// Why it is listed.
    pub reason: String,
}

/// Where a rollout is.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RolloutPhase {
    /// Admitting stores, or waiting for a wave's upgrades or the pause after one.
    Progressing,
    /// `spec.paused`: no store is admitted (those upgrading finish).
    Paused,
    /// More stores failed than the budget allows: no store is admitted until a resume (the
    /// `storefleet.io/resume` annotation set to a new value).
    Halted,
    /// Every wave ran; the stores that failed are listed.
    Completed,
}

impl RolloutPhase {
    /// The value as written in the status.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Progressing => "Progressing",
            Self::Paused => "Paused",
            Self::Halted => "Halted",
            Self::Completed => "Completed",
        }
    }
}

/// A store's part in a rollout, as the store reports it (`status.rollout`): what the rollout
/// reads to count its waves.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutMark {
    /// The rollout that admitted the store.
    pub name: String,
    /// Its uid (a rollout made again under the same name is another rollout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// How the store's move to the rollout's target goes.
    pub state: RolloutState,
    /// Why it failed or waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A store's move to a rollout's target.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum RolloutState {
    /// Admitted; its upgrade has not started (it waits for another upgrade to end, or a wake).
    #[default]
    Pending,
    /// Its upgrade runs.
    Upgrading,
    /// It runs the target, verified (or ran it already).
    Upgraded,
    /// Its upgrade failed and was rolled back, aborted, or refused.
    Failed,
}

impl RolloutState {
    /// Whether the store's move has ended.
    pub const fn ended(self) -> bool {
        matches!(self, Self::Upgraded | Self::Failed)
    }
}
