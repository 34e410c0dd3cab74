//! The Kubelet stand-in (what kwok does): there is no scheduler and no kubelet, so this task
//! registers one Node, binds every new pod to it and writes the pod status a kubelet would:
//! Running and Ready, or, for a Job's pods, Succeeded (or Failed, on request). Deployments,
//! StatefulSets and Jobs then become ready through the real controllers. It also finishes
//! graceful deletions (a kubelet confirms them with a zero grace period), without which a
//! namespace with pods would never go away.
//!
//! Per namespace, a test can hold back the pods of a component (`app.kubernetes.io/component`)
//! and choose what Job pods do ([`JobPods`], for all Jobs or for those of a name) and which termination message a container of a
//! succeeded Job pod leaves (what a kubelet copies from `/dev/termination-log`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Binding, Node, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::sync::mpsc;

use crate::Error;

/// The one Node every pod is bound to.
pub const NODE: &str = "envtest-node";
/// The label whose value names a pod's component.
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
/// The label the Job controller gives a Job's pods: the Job's name.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";

/// What a Job's pods do once bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobPods {
    /// Exit 0: the Job completes.
    #[default]
    Succeed,
    /// Exit 1: the Job retries up to its backoffLimit, then fails.
    Fail,
    /// Exit with this code (a pod failure policy's rules match it).
    FailWith(i32),
    /// Stay Running until told otherwise.
    Hold,
}

#[derive(Debug, Default, Clone)]
struct Policy {
    held: HashSet<String>,
    jobs: JobPods,
    /// What the pods of Jobs whose names start with a prefix do, over `jobs`.
    named_jobs: Vec<(String, JobPods)>,
    reports: HashMap<String, String>,
}

type Policies = Arc<Mutex<HashMap<String, Policy>>>;

/// Handle of the stand-in; the task stops when the handle is dropped.
#[derive(Debug)]
pub struct Kubelet {
    policies: Policies,
    resync: mpsc::UnboundedSender<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Kubelet {
    /// Registers the Node and starts watching pods.
    pub async fn start(client: Client) -> Result<Self, Error> {
        register_node(&client).await?;
        let policies: Policies = Arc::default();
        let (resync, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(client, policies.clone(), rx));
        Ok(Self {
            policies,
            resync,
            task,
        })
    }

    fn update(&self, namespace: &str, change: impl FnOnce(&mut Policy)) {
        {
            let mut policies = self.policies.lock().unwrap_or_else(PoisonError::into_inner);
            change(policies.entry(namespace.to_string()).or_default());
        }
        let _ = self.resync.send(namespace.to_string());
    }

    /// Pods of `component` in `namespace` stay bound but not ready.
    pub fn hold(&self, namespace: &str, component: &str) {
        self.update(namespace, |p| {
            p.held.insert(component.to_string());
        });
    }

    /// Pods of `component` in `namespace` become ready (again).
    pub fn release(&self, namespace: &str, component: &str) {
        self.update(namespace, |p| {
            p.held.remove(component);
        });
    }

    /// The termination message the container `container` of a succeeded Job pod in `namespace`
    /// leaves from now on.
    pub fn report(&self, namespace: &str, container: &str, message: &str) {
        self.update(namespace, |p| {
            p.reports.insert(container.to_string(), message.to_string());
        });
    }

    /// What Job pods in `namespace` do from now on.
    pub fn jobs(&self, namespace: &str, outcome: JobPods) {
        self.update(namespace, |p| p.jobs = outcome);
    }

    /// What the pods of Jobs in `namespace` whose names start with `prefix` do from now on
    /// (over [`Kubelet::jobs`]; the Job controller labels its pods with their Job's name).
    pub fn named_jobs(&self, namespace: &str, prefix: &str, outcome: JobPods) {
        self.update(namespace, |p| {
            p.named_jobs.retain(|(other, _)| other != prefix);
            p.named_jobs.push((prefix.to_string(), outcome));
        });
    }
}

async fn register_node(client: &Client) -> Result<(), Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let capacity: BTreeMap<String, Quantity> = [
        ("cpu", "64"),
        ("memory", "256Gi"),
        ("pods", "1000"),
        ("ephemeral-storage", "1Ti"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
    .collect();
    let node = Node {
        metadata: ObjectMeta {
            name: Some(NODE.into()),
            labels: Some(BTreeMap::from([(
                "kubernetes.io/hostname".to_string(),
                NODE.to_string(),
            )])),
            ..ObjectMeta::default()
        },
        ..Node::default()
    };
    let kube_err = |what: &str| {
        let what = what.to_string();
        move |source| Error::Kube { what, source }
    };
    nodes
        .create(&PostParams::default(), &node)
        .await
        .map_err(kube_err("create the Node"))?;
    let status = json!({"status": {
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "envtest stand-in"}],
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NODE}],
    }});
    nodes
        .patch_status(NODE, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .map_err(kube_err("set the Node status"))?;
    Ok(())
}

fn is_job_pod(pod: &Pod) -> bool {
    pod.owner_references().iter().any(|o| o.kind == "Job")
}

fn policy_for(policies: &Policies, namespace: &str) -> Policy {
    policies
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(namespace)
        .cloned()
        .unwrap_or_default()
}

async fn run(client: Client, policies: Policies, mut resync: mpsc::UnboundedReceiver<String>) {
    let pods: Api<Pod> = Api::all(client.clone());
    let mut events = watcher(pods, watcher::Config::default()).boxed();
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod))) => {
                    handle(&client, &policies, &pod).await;
                }
                Some(_) => {}
                None => return,
            },
            Some(namespace) = resync.recv() => {
                let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
                if let Ok(list) = api.list(&ListParams::default()).await {
                    for pod in list.items {
                        handle(&client, &policies, &pod).await;
                    }
                }
            }
        }
    }
}

/// One step of a pod's life; every call is idempotent.
async fn handle(client: &Client, policies: &Policies, pod: &Pod) {
    let (Some(namespace), Some(name)) = (
        pod.metadata.namespace.as_deref(),
        pod.metadata.name.as_deref(),
    ) else {
        return;
    };
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    if pod.metadata.deletion_timestamp.is_some() {
        // What a kubelet does once the containers are gone.
        let _ = api
            .delete(name, &DeleteParams::default().grace_period(0))
            .await;
        return;
    }
    let spec = pod.spec.clone().unwrap_or_default();
    if spec.node_name.is_none() {
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                ..ObjectMeta::default()
            },
            target: ObjectReference {
                kind: Some("Node".into()),
                name: Some(NODE.into()),
                api_version: Some("v1".into()),
                ..ObjectReference::default()
            },
        };
        let _ = api
            .create_subresource::<Binding, Binding>(
                "binding",
                name,
                &PostParams::default(),
                &binding,
            )
            .await;
        return;
    }
    let policy = policy_for(policies, namespace);
    let component = pod
        .labels()
        .get(COMPONENT_LABEL)
        .cloned()
        .unwrap_or_default();
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    if phase == "Succeeded" || phase == "Failed" {
        return;
    }
    let held = policy.held.contains(&component);
    let job = pod.labels().get(JOB_NAME_LABEL).map_or("", String::as_str);
    let jobs = policy
        .named_jobs
        .iter()
        .find(|(prefix, _)| !job.is_empty() && job.starts_with(prefix.as_str()))
        .map_or(policy.jobs, |(_, outcome)| *outcome);
    // (phase, ready): a held pod that never ran stays Pending; one that ran stays Running but
    // not ready (a kubelet never moves a pod back to Pending).
    let (target, ready) = match (held, is_job_pod(pod), jobs) {
        (true, _, _) if phase == "Running" => ("Running", false),
        (true, _, _) => ("Pending", false),
        (false, true, JobPods::Succeed) => ("Succeeded", false),
        (false, true, JobPods::Fail | JobPods::FailWith(_)) => ("Failed", false),
        (false, _, _) => ("Running", true),
    };
    let is_ready_now = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    if phase == target && is_ready_now == ready {
        return;
    }
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let containers: Vec<String> = spec.containers.iter().map(|c| c.name.clone()).collect();
    let init: Vec<String> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| c.name.clone())
        .collect();
    let state = match target {
        "Running" => json!({"running": {"startedAt": now}}),
        "Succeeded" => {
            json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}})
        }
        "Failed" => {
            let code = match jobs {
                JobPods::FailWith(code) => code,
                _ => 1,
            };
            json!({"terminated": {"exitCode": code, "reason": "Error", "message": "failed on request of the test", "startedAt": now, "finishedAt": now}})
        }
        _ => json!({"waiting": {"reason": "ContainerCreating"}}),
    };
    let statuses: Vec<_> = containers
        .iter()
        .map(|c| {
            let mut state = state.clone();
            if let (Some(message), Some(terminated)) = (
                policy.reports.get(c).filter(|_| target == "Succeeded"),
                state.get_mut("terminated"),
            ) {
                terminated["message"] = json!(message);
            }
            json!({"name": c, "ready": ready, "started": target == "Running", "restartCount": 0,
                   "image": "envtest", "imageID": "", "state": state})
        })
        .collect();
    let init_statuses: Vec<_> = init
        .iter()
        .map(|c| {
            json!({"name": c, "ready": true, "restartCount": 0, "image": "envtest", "imageID": "",
                   "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}}})
        })
        .collect();
    let flag = |b: bool| if b { "True" } else { "False" };
    let status = json!({"status": {
        "phase": target,
        "hostIP": "127.0.0.1",
        "podIP": "10.244.0.10",
        "startTime": now,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": flag(ready), "lastTransitionTime": now},
            {"type": "Ready", "status": flag(ready), "lastTransitionTime": now},
        ],
        "containerStatuses": statuses,
        "initContainerStatuses": init_statuses,
    }});
    let _ = api
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await;
}
