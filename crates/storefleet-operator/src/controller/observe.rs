//! Observe: what the live children say about the store's progress (pure).

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;

use crate::gateway_api::HTTPRoute;

/// State of one provisioning step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Done.
    Ready,
    /// Not yet; the message says what it waits for.
    Waiting(String),
}

impl Step {
    /// True when done.
    pub fn is_ready(&self) -> bool {
        matches!(self, Step::Ready)
    }
}

/// What a Job of a step (setup, migration) says: its state, from its conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Running or waiting to be scheduled.
    Running(String),
    /// Succeeded.
    Succeeded,
    /// Failed for good (backoff limit or deadline); reason and message of the Job's condition.
    Failed {
        /// `BackoffLimitExceeded`, `DeadlineExceeded`, ...
        reason: String,
        /// The Job controller's message.
        message: String,
    },
}

/// What the watch of a step's Jobs keeps of each: its state, whether it has owners (a retained
/// store's Job has none) and whether it is being deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSeen {
    /// The state its conditions show.
    pub state: JobState,
    /// Whether it has owner references.
    pub owned: bool,
    /// Whether it is being deleted.
    pub deleting: bool,
    /// When it finished (succeeded or failed for good), if it did.
    pub finished_at: Option<String>,
}

impl JobSeen {
    /// Whether it still runs (or is still being deleted): a step's next Job waits for it.
    pub fn busy(&self) -> bool {
        self.deleting || matches!(self.state, JobState::Running(_))
    }
}

/// What the watch of a kind whose status matters keeps of an object (never the object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// A StatefulSet's or Deployment's step.
    Step(Step),
    /// A Job's state.
    Job(JobSeen),
}

/// What a StatefulSet's watch keeps.
pub fn statefulset(live: &StatefulSet) -> Observed {
    Observed::Step(database(Some(live)))
}

/// What a Deployment's watch keeps.
pub fn deployment(live: &Deployment) -> Observed {
    Observed::Step(storefront(Some(live)))
}

/// What a Job's watch keeps.
pub fn job_seen(live: &Job) -> JobSeen {
    JobSeen {
        state: job(live),
        owned: live
            .metadata
            .owner_references
            .as_ref()
            .is_some_and(|o| !o.is_empty()),
        deleting: live.metadata.deletion_timestamp.is_some(),
        finished_at: live
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .find(|c| c.status == "True" && matches!(c.type_.as_str(), "Complete" | "Failed"))
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t| t.0.to_string()),
    }
}

/// What a Job's watch keeps, as [`Observed`].
pub fn job_observed(live: &Job) -> Observed {
    Observed::Job(job_seen(live))
}

/// The database is ready when its one replica is ready.
pub fn database(live: Option<&StatefulSet>) -> Step {
    let Some(sts) = live else {
        return Step::Waiting("Waiting for database (not created yet)".into());
    };
    let want = sts.spec.replicas.unwrap_or(1);
    let status = sts.status.as_ref();
    let ready = status.and_then(|s| s.ready_replicas).unwrap_or(0);
    if want == 0 {
        // Asleep: done once no pod is left.
        let current = status.and_then(|s| s.observed_generation) >= sts.metadata.generation;
        return stopped(
            sts.metadata.name.as_deref(),
            current,
            status.map_or(0, |s| s.replicas),
        );
    }
    if ready >= want {
        Step::Ready
    } else {
        let name = sts.metadata.name.as_deref().unwrap_or("database");
        Step::Waiting(format!("Waiting for {name} ({ready}/{want} ready)"))
    }
}

/// The storefront is ready when its Deployment reports `Available=True` for the current spec.
pub fn storefront(live: Option<&Deployment>) -> Step {
    let Some(deploy) = live else {
        return Step::Waiting("Waiting for storefront (not created yet)".into());
    };
    let status = deploy.status.clone().unwrap_or_default();
    let current =
        status.observed_generation.unwrap_or(0) >= deploy.metadata.generation.unwrap_or(0);
    let available =
        status.conditions.iter().flatten().any(|c| {
            c.type_.as_deref() == Some("Available") && c.status.as_deref() == Some("True")
        });
    let want = deploy.spec.replicas.unwrap_or(1);
    if want == 0 {
        // Asleep: done once no pod is left (terminating ones included, where the apiserver
        // counts them).
        let left = status.replicas.unwrap_or(0) + status.terminating_replicas.unwrap_or(0);
        return stopped(deploy.metadata.name.as_deref(), current, left);
    }
    let ready = status.available_replicas.unwrap_or(0);
    if current && available && ready >= want {
        Step::Ready
    } else {
        let name = deploy.metadata.name.as_deref().unwrap_or("storefront");
        Step::Waiting(format!("Waiting for {name} ({ready}/{want} available)"))
    }
}

/// A workload scaled to zero: stopped once its controller saw that and no pod is left.
fn stopped(name: Option<&str>, current: bool, left: i32) -> Step {
    let name = name.unwrap_or("workload");
    match (current, left) {
        (true, 0) => Step::Ready,
        (false, _) => Step::Waiting(format!("Stopping {name}")),
        (true, 1) => Step::Waiting(format!("Stopping {name} (1 pod left)")),
        (true, n) => Step::Waiting(format!("Stopping {name} ({n} pods left)")),
    }
}

/// Whether the HTTPRoute's Gateway accepted it: the `Accepted` condition its Gateway's
/// controller wrote for the parent we attached to (conditions of an older generation of the
/// route do not count).
pub fn route(live: &HTTPRoute) -> Step {
    let Some(parent) = live.spec.parent_refs.first() else {
        return Step::Waiting("The HTTPRoute names no Gateway".into());
    };
    let gateway = format!(
        "{}/{}",
        parent
            .namespace
            .as_deref()
            .or(live.metadata.namespace.as_deref())
            .unwrap_or_default(),
        parent.name
    );
    let generation = live.metadata.generation;
    let accepted = live
        .status
        .iter()
        .flat_map(|s| &s.parents)
        .filter(|p| {
            p.parent_ref.name == parent.name
                && p.parent_ref
                    .namespace
                    .as_deref()
                    .or(live.metadata.namespace.as_deref())
                    == parent
                        .namespace
                        .as_deref()
                        .or(live.metadata.namespace.as_deref())
        })
        .flat_map(|p| &p.conditions)
        .find(|c| {
            c.type_ == "Accepted" && (generation.is_none() || c.observed_generation == generation)
        });
    match accepted {
        Some(c) if c.status == "True" => Step::Ready,
        Some(c) => Step::Waiting(format!(
            "Gateway {gateway} did not accept the HTTPRoute ({}: {})",
            c.reason, c.message
        )),
        None => Step::Waiting(format!(
            "Waiting for Gateway {gateway} to accept the HTTPRoute"
        )),
    }
}

/// A step's Job's state from its conditions.
pub fn job(live: &Job) -> JobState {
    let status = live.status.clone().unwrap_or_default();
    for c in status.conditions.iter().flatten() {
        if c.status != "True" {
            continue;
        }
        match c.type_.as_str() {
            "Complete" => return JobState::Succeeded,
            "Failed" => {
                return JobState::Failed {
                    reason: c.reason.clone().unwrap_or_else(|| "Failed".into()),
                    message: c.message.clone().unwrap_or_else(|| "the job failed".into()),
                };
            }
            _ => {}
        }
    }
    let failed = status.failed.unwrap_or(0);
    let note = if failed > 0 {
        format!(", {failed} failed attempt(s)")
    } else {
        String::new()
    };
    JobState::Running(format!("Running{note}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn typed<T: serde::de::DeserializeOwned>(v: &Value) -> T {
        serde_json::from_value(v.clone()).expect("valid object")
    }

    #[test]
    fn database_readiness() {
        assert!(!database(None).is_ready());
        let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "database"},
            "spec": {"replicas": 1, "selector": {}, "serviceName": "database", "template": {}}});
        assert_eq!(
            database(Some(&typed(&sts))),
            Step::Waiting("Waiting for database (0/1 ready)".into())
        );
        let mut ready = sts.clone();
        ready["status"] = json!({"replicas": 1, "readyReplicas": 1});
        assert!(database(Some(&typed(&ready))).is_ready());
    }

    #[test]
    fn storefront_needs_available_for_the_current_generation() {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "storefront", "generation": 2},
            "spec": {"replicas": 1, "selector": {}, "template": {}},
            "status": {"observedGeneration": 1, "availableReplicas": 1, "conditions": [{"type": "Available", "status": "True"}]}});
        assert!(!storefront(Some(&typed(&d))).is_ready(), "old generation");
        d["status"]["observedGeneration"] = json!(2);
        assert!(storefront(Some(&typed(&d))).is_ready());
    }

    #[test]
    fn a_workload_at_zero_is_done_once_no_pod_is_left() {
        let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "database", "generation": 3},
            "spec": {"replicas": 0, "selector": {}, "serviceName": "database", "template": {}},
            "status": {"observedGeneration": 2, "replicas": 1, "readyReplicas": 1}});
        assert_eq!(
            database(Some(&typed(&sts))),
            Step::Waiting("Stopping database".into()),
            "its controller has not seen the change"
        );
        let mut seen = sts.clone();
        seen["status"]["observedGeneration"] = json!(3);
        assert_eq!(
            database(Some(&typed(&seen))),
            Step::Waiting("Stopping database (1 pod left)".into())
        );
        seen["status"] = json!({"observedGeneration": 3, "replicas": 0});
        assert!(database(Some(&typed(&seen))).is_ready());

        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "storefront", "generation": 4},
            "spec": {"replicas": 0, "selector": {}, "template": {}},
            "status": {"observedGeneration": 4, "replicas": 0, "terminatingReplicas": 2}});
        assert_eq!(
            storefront(Some(&typed(&d))),
            Step::Waiting("Stopping storefront (2 pods left)".into()),
            "terminating pods still run"
        );
        let mut gone = d.clone();
        gone["status"] = json!({"observedGeneration": 4});
        assert!(storefront(Some(&typed(&gone))).is_ready());
    }

    #[test]
    fn job_states() {
        let base = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "setup-1"}, "spec": {"template": {}}});
        assert!(matches!(job(&typed(&base)), JobState::Running(_)));
        let mut done = base.clone();
        done["status"] = json!({"conditions": [{"type": "Complete", "status": "True"}]});
        assert_eq!(job(&typed(&done)), JobState::Succeeded);
        let mut failed = base.clone();
        failed["status"] = json!({"failed": 4, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]});
        assert_eq!(
            job(&typed(&failed)),
            JobState::Failed {
                reason: "BackoffLimitExceeded".into(),
                message: "Job has reached the specified backoff limit".into()
            }
        );
    }
}
