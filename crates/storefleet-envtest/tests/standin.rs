//! The harness itself on the real control plane: Deployments become available, Jobs complete or
//! fail on request, held pods stay unready, namespaces with pods are deleted, and no process
//! outlives the harness.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use storefleet_envtest::{ControlPlane, JobPods, eventually};

fn deployment(name: &str, component: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "app.kubernetes.io/component": component}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}
            }
        }
    }))
    .expect("deployment")
}

fn job(name: &str) -> Job {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}
        }
    }))
    .expect("job")
}

fn job_condition(job: &Job, type_: &str) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == type_ && c.status == "True"))
}

#[tokio::test]
async fn workloads_become_ready_through_the_real_controllers() {
    let Some(cp) = ControlPlane::start("workloads_become_ready_through_the_real_controllers").await
    else {
        return;
    };
    cp.ensure_namespace("t").await.expect("namespace");
    let client = cp.admin();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "t");
    let jobs: Api<Job> = Api::namespaced(client.clone(), "t");
    cp.kubelet().hold("t", "held");
    let pp = PostParams::default();
    deployments
        .create(&pp, &deployment("web", "web"))
        .await
        .expect("web");
    deployments
        .create(&pp, &deployment("slow", "held"))
        .await
        .expect("slow");
    jobs.create(&pp, &job("ok")).await.expect("job ok");

    let available = |name: &'static str| {
        let deployments = deployments.clone();
        move || {
            let deployments = deployments.clone();
            async move {
                let d = deployments.get(name).await.ok()?;
                (d.status?.available_replicas? == 1).then_some(())
            }
        }
    };
    eventually("web available", Duration::from_secs(60), available("web")).await;
    eventually("job ok complete", Duration::from_secs(60), || async {
        job_condition(&jobs.get("ok").await.ok()?, "Complete").then_some(())
    })
    .await;
    let slow = deployments.get("slow").await.expect("slow");
    assert_eq!(
        slow.status.and_then(|s| s.available_replicas),
        None,
        "held pods are not ready"
    );

    cp.kubelet().release("t", "held");
    eventually(
        "slow available after release",
        Duration::from_secs(60),
        available("slow"),
    )
    .await;

    cp.kubelet().jobs("t", JobPods::Fail);
    jobs.create(&pp, &job("bad")).await.expect("job bad");
    eventually("job bad failed", Duration::from_secs(60), || async {
        job_condition(&jobs.get("bad").await.ok()?, "Failed").then_some(())
    })
    .await;

    // A namespace whose pods are bound to the node still goes away.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete("t", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("namespace t gone", Duration::from_secs(90), || async {
        namespaces.get_opt("t").await.ok()?.is_none().then_some(())
    })
    .await;
}

#[tokio::test]
async fn dropping_the_harness_leaves_no_process() {
    let Some(cp) = ControlPlane::start("dropping_the_harness_leaves_no_process").await else {
        return;
    };
    let dir = cp.dir().to_path_buf();
    drop(cp);
    assert!(!dir.exists(), "the temporary folder is removed");
    let leftovers: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("cmdline")).ok())
        .filter(|cmd| cmd.contains(dir.to_string_lossy().as_ref()))
        .collect();
    assert!(leftovers.is_empty(), "processes left behind: {leftovers:?}");
}
