//! Hibernation (`spec.hibernate`) on the real control plane: the workloads really scale to zero
//! (the Deployment and StatefulSet controllers delete the pods), the CronJobs are suspended, the
//! volumes and Secrets are the same objects, and waking brings the shop back to Ready without a
//! new setup Job.

use super::*;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};

/// (kind/name, uid) of the store's volumes and Secrets.
async fn kept(env: &Env) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let claims: Vec<PersistentVolumeClaim> =
        Api::<PersistentVolumeClaim>::namespaced(env.admin.clone(), NS)
            .list(&Default::default())
            .await
            .expect("claims")
            .items;
    for c in claims {
        out.push((format!("pvc/{}", c.name_any()), c.uid().unwrap_or_default()));
    }
    let secrets: Vec<Secret> = env.children(NS, "alice").await;
    for s in secrets {
        out.push((
            format!("secret/{}", s.name_any()),
            s.uid().unwrap_or_default(),
        ));
    }
    out.sort();
    out
}

async fn setup_jobs(env: &Env) -> Vec<String> {
    let jobs: Vec<Job> = env.children(NS, "alice").await;
    let mut names: Vec<String> = jobs
        .iter()
        .map(ResourceExt::name_any)
        .filter(|n| n.starts_with("setup-"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_store_hibernates_and_wakes_without_setup_again() {
    let env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    let ready = env.wait_phase("alice", Phase::Ready).await;
    let setup = ready
        .status
        .as_ref()
        .and_then(|s| s.completed_setup.clone());
    let (volumes, jobs) = (kept(&env).await, setup_jobs(&env).await);
    assert!(
        volumes.iter().any(|(k, _)| k.starts_with("pvc/")),
        "{volumes:?}"
    );

    // Through Argo CD's action `hibernate`, run on the real Store as the apiserver returns it;
    // what it changed (spec.hibernate) is patched back, as Argo CD does.
    let object = serde_json::to_value(env.get("alice").await.expect("store")).unwrap_or_default();
    let hibernate: bool = common::argocd::run_action_hibernate(&object, "hibernate")
        .parse()
        .expect("a boolean");
    assert!(hibernate);
    env.patch("alice", json!({"spec": {"hibernate": hibernate}}))
        .await;
    let asleep = env
        .wait_condition("alice", "Hibernated", "every workload stopped", |c| {
            c.status == "True"
        })
        .await
        .status
        .unwrap_or_default();
    assert_eq!(asleep.phase, Some(Phase::Hibernated));
    assert_eq!(
        condition(&asleep, "Ready").map(|c| (c.status, c.reason)),
        Some(("False".to_string(), "Hibernated".to_string()))
    );
    assert!(
        condition(&asleep, "Reconciling").is_none(),
        "kstatus: Current"
    );
    let statefulsets: Vec<StatefulSet> = env.children(NS, "alice").await;
    let deployments: Vec<Deployment> = env.children(NS, "alice").await;
    assert!(!statefulsets.is_empty() && !deployments.is_empty());
    for sts in &statefulsets {
        assert_eq!(sts.spec.replicas, Some(0), "{}", sts.name_any());
        assert_eq!(sts.status.as_ref().map(|s| s.replicas), Some(0));
    }
    for d in &deployments {
        assert_eq!(d.spec.replicas, Some(0), "{}", d.name_any());
    }
    let pods: Vec<Pod> = Api::<Pod>::namespaced(env.admin.clone(), NS)
        .list(&Default::default())
        .await
        .expect("pods")
        .items;
    let running: Vec<String> = pods
        .iter()
        .filter(|p| {
            p.labels().get(keys::COMPONENT).map(String::as_str) != Some(Component::Setup.as_str())
        })
        .map(ResourceExt::name_any)
        .collect();
    assert!(
        running.is_empty(),
        "no pod of a workload is left: {running:?}"
    );
    let cron_jobs: Vec<CronJob> = env.children(NS, "alice").await;
    assert!(!cron_jobs.is_empty());
    for c in &cron_jobs {
        assert_eq!(c.spec.suspend, Some(true), "{} suspended", c.name_any());
    }
    assert_eq!(kept(&env).await, volumes, "the same volumes and Secrets");
    let store = env.get("alice").await.expect("store");
    let object = serde_json::to_value(&store).unwrap_or_default();
    assert_eq!(common::argocd::health(&object).0, "Suspended");

    // Awake (Argo CD's action `wake` on the hibernated Store): Ready again on the same data, with
    // no new setup.
    let hibernate: bool = common::argocd::run_action_hibernate(&object, "wake")
        .parse()
        .expect("a boolean");
    assert!(!hibernate);
    env.patch("alice", json!({"spec": {"hibernate": hibernate}}))
        .await;
    let woken = env.wait_phase("alice", Phase::Ready).await;
    let status = woken.status.clone().unwrap_or_default();
    assert!(condition(&status, "Hibernated").is_none());
    assert_eq!(status.completed_setup, setup, "setup did not run again");
    assert_eq!(setup_jobs(&env).await, jobs, "no new setup Job");
    assert_eq!(kept(&env).await, volumes);
    let cron_jobs: Vec<CronJob> = env.children(NS, "alice").await;
    assert!(cron_jobs.iter().all(|c| c.spec.suspend != Some(true)));
    let reasons: Vec<String> = env.events("alice").await.into_iter().map(|e| e.0).collect();
    for reason in ["Hibernating", "Hibernated", "Waking"] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "{reason} in {reasons:?}"
        );
    }
}
