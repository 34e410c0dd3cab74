//! The operator on a real control plane (crate `storefleet-envtest`): the CRD and the chart's
//! operator RBAC are applied as admin, and the controller runs in-process as the chart's
//! ServiceAccount, so a missing permission fails the test. Tests play the user through the
//! admin client and the kubelet through the stand-in.

#![allow(dead_code, clippy::unwrap_used)]

pub mod argocd;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, CustomResourceExt, ResourceExt};
use serde_json::{Value, json};
use storefleet_envtest::{ControlPlane, chart};
use storefleet_operator::config::OperatorConfig;
use storefleet_operator::controller::context::SystemClock;
use storefleet_operator::controller::runtime::run_controller;
use storefleet_operator::metrics::Metrics;
use storefleet_types::names::{self, labels as keys};
use storefleet_types::{Phase, Store, StoreStatus};
use tokio::sync::oneshot;

/// Where the chart is installed in these tests.
pub const RELEASE_NAMESPACE: &str = "storefleet-system";
/// The chart's operator ServiceAccount (release `storefleet`).
pub const OPERATOR_SA: &str = "storefleet-operator";
/// How long any one wait may take.
pub const WAIT: Duration = Duration::from_secs(90);

/// The audit user of the operator's ServiceAccount.
pub fn operator_user() -> String {
    format!("system:serviceaccount:{RELEASE_NAMESPACE}:{OPERATOR_SA}")
}

/// The chart's objects for the operator: its ServiceAccount, RBAC and the admission policy that
/// keeps it in store namespaces.
pub fn operator_rbac() -> Vec<Value> {
    operator_rbac_with(&[])
}

/// [`operator_rbac`] with `--set` values.
pub fn operator_rbac_with(set: &[&str]) -> Vec<Value> {
    chart::access_objects("storefleet", RELEASE_NAMESPACE, set, OPERATOR_SA).expect("helm template")
}

/// A running in-process operator.
pub struct Operator {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    /// Its metrics.
    pub metrics: Arc<Metrics>,
}

/// The name of the test function this is expanded in (the name its control plane and its
/// skip line are given): the function a local item is declared in, closures skipped.
#[allow(unused_macros)]
macro_rules! this_test {
    () => {{
        fn here() {}
        std::any::type_name_of_val(&here)
            .strip_suffix("::here")
            .unwrap_or_default()
            .rsplit("::")
            .find(|part| *part != "{{closure}}")
            .unwrap_or_default()
    }};
}

/// `Env::start` (or `Env::prepare`) for the test this is expanded in, with `config`; where there
/// is no control plane, one `skipped:` line and the test returns.
#[allow(unused_macros)]
macro_rules! env_or_skip {
    ($how:ident, $config:expr) => {
        match $crate::common::Env::$how(this_test!(), $config).await {
            Some(env) => env,
            None => return,
        }
    };
}

/// A control plane with the CRD and the chart's RBAC, and (usually) the operator running.
pub struct Env {
    /// The control plane.
    pub cp: ControlPlane,
    /// Admin client (the user).
    pub admin: Client,
    /// The operator's client (the chart's ServiceAccount).
    pub operator_client: Client,
    /// The kubeconfig of the operator's ServiceAccount.
    pub operator_kubeconfig: std::path::PathBuf,
    /// Configuration the operator runs with.
    pub config: OperatorConfig,
    /// How long any one wait may take ([`WAIT`]; longer where pods really run).
    pub wait: Duration,
    operator: Option<Operator>,
}

impl Env {
    /// Control plane + CRD + RBAC, operator not started. None (one skip line) without assets.
    pub async fn prepare(test: &str, config: OperatorConfig) -> Option<Self> {
        let cp = ControlPlane::start(test).await?;
        Some(Self::prepare_on(cp, config).await)
    }

    /// [`Env::start`] on a control plane with a real node (its pods really run) and the
    /// stand-ins of `images`, or None (one skip line) where the node cannot run. Waits may take
    /// up to six minutes.
    pub async fn start_on_real_node(
        test: &str,
        config: OperatorConfig,
        images: &[String],
    ) -> Option<Self> {
        let images: Vec<&str> = images.iter().map(String::as_str).collect();
        let cp = ControlPlane::start_with_real_node(test, &images).await?;
        let mut env = Self::prepare_on(cp, config).await;
        env.wait = Duration::from_secs(360);
        env.start_operator();
        Some(env)
    }

    async fn prepare_on(cp: ControlPlane, config: OperatorConfig) -> Self {
        let admin = cp.admin();
        let crds = [
            serde_json::to_value(Store::crd()).unwrap(),
            serde_json::to_value(storefleet_types::StoreRollout::crd()).unwrap(),
        ];
        cp.apply(&crds).await.expect("CRDs");
        wait_for_crd(&admin).await;
        cp.ensure_namespace(RELEASE_NAMESPACE)
            .await
            .expect("release namespace");
        // With Gateway routing the chart is installed with a gateway section, as a user would.
        let gateway_values: Vec<String> = match &config.gateway {
            Some(g) => vec![
                format!(
                    "operator.config.gateway.defaultGateway.namespace={}",
                    g.default_gateway.namespace
                ),
                format!(
                    "operator.config.gateway.defaultGateway.name={}",
                    g.default_gateway.name
                ),
                format!(
                    "operator.config.gateway.dataPlaneNamespace={}",
                    g.data_plane_namespace
                ),
            ],
            None => Vec::new(),
        };
        let set: Vec<&str> = gateway_values.iter().map(String::as_str).collect();
        cp.apply(&operator_rbac_with(&set))
            .await
            .expect("chart RBAC");
        let (operator_kubeconfig, operator_client) = cp
            .service_account(RELEASE_NAMESPACE, OPERATOR_SA)
            .await
            .expect("operator token");
        Self {
            cp,
            admin,
            operator_client,
            operator_kubeconfig,
            config,
            wait: WAIT,
            operator: None,
        }
    }

    /// [`Env::prepare`] and start the operator.
    pub async fn start(test: &str, config: OperatorConfig) -> Option<Self> {
        let mut env = Self::prepare(test, config).await?;
        env.start_operator();
        Some(env)
    }

    /// Starts the in-process operator (as the chart's ServiceAccount).
    pub fn start_operator(&mut self) {
        assert!(self.operator.is_none(), "operator already running");
        let (tx, rx) = oneshot::channel::<()>();
        let metrics = Arc::new(Metrics::default());
        let client = self.operator_client.clone();
        let config = self.config.clone();
        let m = metrics.clone();
        let task = tokio::spawn(async move {
            run_controller(client, &config, "test", m, Arc::new(SystemClock), async {
                let _ = rx.await;
            })
            .await;
        });
        self.operator = Some(Operator {
            stop: Some(tx),
            task,
            metrics,
        });
    }

    /// Stops the operator and waits until it has stopped.
    pub async fn stop_operator(&mut self) {
        if let Some(mut op) = self.operator.take() {
            if let Some(tx) = op.stop.take() {
                let _ = tx.send(());
            }
            let _ = tokio::time::timeout(Duration::from_secs(30), &mut op.task).await;
            op.task.abort();
        }
    }

    /// Stops the operator at once, as SIGKILL would: its work is dropped wherever it is, with
    /// no graceful shutdown.
    pub async fn kill_operator(&mut self) {
        if let Some(op) = self.operator.take() {
            op.task.abort();
            let _ = op.task.await;
        }
    }

    /// The running operator's metrics.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.operator
            .as_ref()
            .expect("operator running")
            .metrics
            .clone()
    }

    /// The Store API as the user.
    pub fn stores(&self) -> Api<Store> {
        Api::all(self.admin.clone())
    }

    /// Creates a Store as the user.
    pub async fn create(&self, store: Store) -> Store {
        let mut store = store;
        store.metadata.uid = None;
        store.metadata.generation = None;
        self.stores()
            .create(&PostParams::default(), &store)
            .await
            .unwrap_or_else(|e| panic!("create store: {e}"))
    }

    /// The Store as stored now.
    pub async fn get(&self, name: &str) -> Option<Store> {
        self.stores().get_opt(name).await.expect("get store")
    }

    /// The status now.
    pub async fn status(&self, name: &str) -> StoreStatus {
        self.get(name)
            .await
            .and_then(|s| s.status)
            .unwrap_or_default()
    }

    /// Waits until `check` holds for the Store (`None`: it does not exist).
    pub async fn wait_store(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(Option<&Store>) -> bool,
    ) -> Option<Store> {
        let deadline = Instant::now() + self.wait;
        loop {
            let store = self.get(name).await;
            if check(store.as_ref()) {
                return store;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for store {name}: {what}; last seen status: {:#?}",
                store.and_then(|s| s.status)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until the Store's condition `type_` exists and passes `check`.
    pub async fn wait_condition(
        &self,
        name: &str,
        type_: &str,
        what: &str,
        check: impl Fn(&Condition) -> bool,
    ) -> Store {
        self.wait_store(name, what, |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| condition(s, type_))
                .is_some_and(|c| check(&c))
        })
        .await
        .expect("store exists")
    }

    /// Waits for a phase.
    pub async fn wait_phase(&self, name: &str, phase: Phase) -> Store {
        self.wait_store(name, &format!("phase {phase:?}"), |s| {
            s.and_then(|s| s.status.as_ref()).and_then(|s| s.phase) == Some(phase)
        })
        .await
        .expect("store exists")
    }

    /// Waits until the Store is Ready; a Store that fails first fails the test at once, with
    /// its status (where pods really run, a wait for Ready would otherwise last minutes).
    pub async fn wait_ready(&self, name: &str) -> Store {
        let store = self
            .wait_store(name, "phase Ready (or Failed)", |s| {
                matches!(
                    s.and_then(|s| s.status.as_ref()).and_then(|s| s.phase),
                    Some(Phase::Ready | Phase::Failed)
                )
            })
            .await
            .expect("store exists");
        let status = store.status.clone().unwrap_or_default();
        assert_eq!(status.phase, Some(Phase::Ready), "{status:#?}");
        store
    }

    /// Waits until the Store is gone.
    pub async fn wait_gone(&self, name: &str) {
        self.wait_store(name, "deleted", |s| s.is_none()).await;
    }

    /// Deletes the Store as the user.
    pub async fn delete(&self, name: &str) {
        self.stores()
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete store");
    }

    /// Merge-patches the Store (as the user).
    pub async fn patch(&self, name: &str, patch: Value) {
        self.stores()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("patch store");
    }

    /// Sets the retry annotation.
    pub async fn retry(&self, name: &str, value: &str) {
        self.patch(
            name,
            json!({"metadata": {"annotations": {names::RETRY_ANNOTATION: value}}}),
        )
        .await;
    }

    /// Whether a namespace exists.
    pub async fn namespace(&self, name: &str) -> Option<Namespace> {
        Api::<Namespace>::all(self.admin.clone())
            .get_opt(name)
            .await
            .expect("get namespace")
    }

    /// Waits until a namespace is gone.
    pub async fn wait_namespace_gone(&self, name: &str) {
        eventually(&format!("namespace {name} gone"), || async {
            self.namespace(name).await.is_none().then_some(())
        })
        .await;
    }

    /// Every object of type `K` labelled for `store`, in its namespace.
    pub async fn children<K>(&self, namespace: &str, store: &str) -> Vec<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        Api::<K>::namespaced(self.admin.clone(), namespace)
            .list(&ListParams::default().labels(&format!("{}={store}", keys::STORE)))
            .await
            .expect("list children")
            .items
    }

    /// Events about the Store: (reason, note).
    pub async fn events(&self, store: &str) -> Vec<(String, String)> {
        let mut events: Vec<Event> = Api::<Event>::all(self.admin.clone())
            .list(&ListParams::default())
            .await
            .expect("events")
            .items
            .into_iter()
            .filter(|e| {
                e.regarding.as_ref().is_some_and(|r| {
                    r.kind.as_deref() == Some(names::KIND) && r.name.as_deref() == Some(store)
                })
            })
            .collect();
        events.sort_by_key(|e| e.metadata.creation_timestamp.clone().map(|t| t.0));
        events
            .into_iter()
            .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
            .collect()
    }

    /// resourceVersion of every object labelled for `store` (and of the Store), by kind/ns/name.
    pub async fn versions(&self, store: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(s) = self.get(store).await {
            out.insert(
                format!("Store/{store}"),
                s.resource_version().unwrap_or_default(),
            );
        }
        let selector = format!("{}={store}", keys::STORE);
        let discovery = kube::Discovery::new(self.admin.clone())
            .run()
            .await
            .expect("discovery");
        for group in discovery.groups() {
            for (ar, caps) in group.recommended_resources() {
                if !caps.supports_operation(kube::discovery::verbs::LIST) {
                    continue;
                }
                let api: Api<kube::api::DynamicObject> = Api::all_with(self.admin.clone(), &ar);
                let Ok(list) = api
                    .list_metadata(&ListParams::default().labels(&selector))
                    .await
                else {
                    continue;
                };
                for o in list.items {
                    // Pods, ReplicaSets, PVCs of a StatefulSet, Events: written by others.
                    if !o
                        .metadata
                        .managed_fields
                        .iter()
                        .flatten()
                        .any(|m| m.manager.as_deref() == Some(names::FIELD_MANAGER))
                    {
                        continue;
                    }
                    out.insert(
                        format!(
                            "{}/{}/{}",
                            ar.kind,
                            o.metadata.namespace.clone().unwrap_or_default(),
                            o.metadata.name.clone().unwrap_or_default()
                        ),
                        o.metadata.resource_version.clone().unwrap_or_default(),
                    );
                }
            }
        }
        out
    }

    /// The operator's completed requests in the audit log.
    pub fn operator_requests(&self) -> Vec<storefleet_envtest::audit::Request> {
        let user = operator_user();
        self.cp
            .audited()
            .expect("audit log")
            .into_iter()
            .filter(|r| r.user == user)
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(op) = self.operator.take() {
            op.task.abort();
        }
    }
}

async fn wait_for_crd(client: &Client) {
    let api: Api<Store> = Api::all(client.clone());
    eventually("the Store CRD is served", || async {
        api.list(&ListParams::default().limit(1))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    let api: Api<storefleet_types::StoreRollout> = Api::all(client.clone());
    eventually("the StoreRollout CRD is served", || async {
        api.list(&ListParams::default().limit(1))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
}

/// The Gateway API CRDs (standard channel) from `STOREFLEET_GATEWAY_API_CRDS`, or None with one
/// skip line: the Gateway routing tests need them.
pub fn gateway_api_crds(test: &str) -> Option<Vec<Value>> {
    let Some(dir) = std::env::var_os("STOREFLEET_GATEWAY_API_CRDS") else {
        eprintln!(
            "skipped: {test}: STOREFLEET_GATEWAY_API_CRDS is not set (Gateway API CRDs; see hack/test-assets.sh)"
        );
        return None;
    };
    let mut docs = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("Gateway API CRD folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("CRD file");
        let parsed: Vec<Value> = serde_saphyr::from_multiple(&text).expect("CRD YAML");
        docs.extend(parsed.into_iter().filter(|d| !d.is_null()));
    }
    assert!(!docs.is_empty(), "no CRDs in {}", dir.to_string_lossy());
    Some(docs)
}

/// Polls `f` until it returns Some, at most [`WAIT`].
pub async fn eventually<T, F, Fut>(what: &str, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    storefleet_envtest::eventually(what, WAIT, f).await
}

/// The condition of a type, if any.
pub fn condition(status: &StoreStatus, type_: &str) -> Option<Condition> {
    status.condition(type_).cloned()
}

/// Whether a condition is True.
pub fn is_true(status: &StoreStatus, type_: &str) -> bool {
    status.is_true(type_)
}

/// A store's phase.
pub fn phase(store: Option<&Store>) -> Option<Phase> {
    store.and_then(|s| s.status.as_ref()).and_then(|s| s.phase)
}
