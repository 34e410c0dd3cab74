//! What a finished Job's pod reported: its container's termination message, one line of JSON
//! the scripts write to `/dev/termination-log` (no secret in it), read once per Job by listing
//! the Job's pods. The setup's report is what the shop runs (`status.versions`); the backups'
//! are in `backups.rs`.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde::Deserialize;
use storefleet_types::RunningVersions;
use tracing::warn;

use crate::controller::context::Context;
use crate::controller::status::StatusFacts;
use crate::validate::ValidatedStore;

/// The container of the setup Job (both engines).
const SETUP_CONTAINER: &str = "setup";

/// The termination message of `container` in a succeeded pod of `job`, if it left one.
pub async fn read(
    ctx: &Context,
    namespace: &str,
    job: &str,
    container: &str,
) -> Result<Option<String>, kube::Error> {
    Ok(job_pods(ctx, namespace, job)
        .await?
        .iter()
        .flat_map(|pod| {
            pod.status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
        })
        .filter(|c| c.name == container)
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref())
        .find(|t| t.exit_code == 0)
        .and_then(|t| t.message.clone()))
}

/// Records in `facts.versions` what the newest successful setup read from the shop: once per
/// setup Job (a read that fails is tried again on the next pass).
pub async fn versions(ctx: &Context, store: &ValidatedStore, facts: &mut StatusFacts) {
    let Some(job) = facts.completed_setup.clone() else {
        return;
    };
    if facts.versions.as_ref().is_some_and(|v| v.job == job) {
        return;
    }
    match read(ctx, &store.namespace, &job, SETUP_CONTAINER).await {
        Ok(message) => facts.versions = Some(versions_of(&job, message.as_deref())),
        Err(e) => warn!(store = %store.name, %job, error = %e, "cannot read the setup's report"),
    }
}

/// A setup's report.
#[derive(Debug, Default, Deserialize)]
struct Report {
    wordpress: Option<String>,
    woocommerce: Option<String>,
    php: Option<String>,
    medusa: Option<String>,
    database: Option<String>,
}

/// The versions `job` reported (none when it left no readable report).
pub fn versions_of(job: &str, message: Option<&str>) -> RunningVersions {
    let report: Report = message
        .and_then(|m| serde_json::from_str(m.trim()).ok())
        .unwrap_or_default();
    let text = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    RunningVersions {
        job: job.to_string(),
        wordpress: text(report.wordpress),
        woocommerce: text(report.woocommerce),
        php: text(report.php),
        medusa: text(report.medusa),
        database: text(report.database),
    }
}

/// What a failed pod of `job` said: the first container (init containers in their order, then
/// the main one) that ended with an error, and its termination message's last `FAILED` line
/// (the scripts' one line of why; the kubelet keeps the end of the log of a container that
/// failed) or, failing that, its last line.
pub async fn failure(
    ctx: &Context,
    namespace: &str,
    job: &str,
) -> Result<Option<String>, kube::Error> {
    Ok(job_pods(ctx, namespace, job)
        .await?
        .iter()
        .find_map(failure_of))
}

/// The pods of `job` in `namespace` (one list request).
async fn job_pods(ctx: &Context, namespace: &str, job: &str) -> Result<Vec<Pod>, kube::Error> {
    ctx.metrics.api_request("list_pods");
    let pods = Api::<Pod>::namespaced(ctx.client.clone(), namespace)
        .list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}")))
        .await?;
    Ok(pods.items)
}

/// The failing container of `pod` and its words (see [`failure`]).
pub fn failure_of(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    containers.into_iter().find_map(|c| {
        let ended = [c.state.as_ref(), c.last_state.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|s| s.terminated.as_ref())
            .find(|t| t.exit_code != 0)?;
        let message = ended.message.as_deref().unwrap_or_default();
        let lines: Vec<&str> = message
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let words = lines
            .iter()
            .rev()
            .find(|l| l.contains("FAILED"))
            .or(lines.last())
            .map(|l| l.chars().take(300).collect::<String>())
            .unwrap_or_else(|| {
                format!(
                    "exit code {}{}",
                    ended.exit_code,
                    ended
                        .reason
                        .as_deref()
                        .map(|r| format!(", {r}"))
                        .unwrap_or_default()
                )
            });
        Some(format!("{}: {words}", c.name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setup_report_is_what_the_shop_runs() {
        let v = versions_of(
            "setup-1",
            Some(
                r#"{"wordpress": "6.8.3", "woocommerce": "9.9.5", "php": "8.2.29", "database": "10.11.14-MariaDB-0+deb12u2"}"#,
            ),
        );
        assert_eq!(v.wordpress.as_deref(), Some("6.8.3"));
        assert_eq!(v.woocommerce.as_deref(), Some("9.9.5"));
        assert_eq!(v.database.as_deref(), Some("10.11.14-MariaDB-0+deb12u2"));
        assert_eq!(v.medusa, None);
        let empty = versions_of("setup-1", Some("storefleet-setup: FAILED"));
        assert_eq!(
            empty,
            RunningVersions {
                job: "setup-1".into(),
                ..RunningVersions::default()
            }
        );
        let blank = versions_of("setup-1", Some(r#"{"wordpress": ""}"#));
        assert_eq!(blank.wordpress, None, "an empty field is no version");
    }
}
