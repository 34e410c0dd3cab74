//! The apiserver tier ("control-plane" in the settings; named apart from the operator's envtest
//! tests in `crates/storefleet-operator/tests/control_plane/`): needs only an apiserver with
//! controller-manager. Pods need not run, so nothing here waits for Ready; tests wait on the
//! conditions they name.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, LimitRange, Namespace, PersistentVolumeClaim, Pod, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use storefleet_types::names::{child, labels as keys};
use storefleet_types::{DeletionPolicy, Store};

use super::count;
use crate::harness::skip;
use crate::kube_env::{Env, FIELD_MANAGER};
use crate::{text, wait};

const CREATED: Duration = Duration::from_secs(120);

fn namespace_of(store: &Store) -> Result<String, String> {
    store
        .status
        .as_ref()
        .and_then(|s| s.namespace.clone())
        .ok_or_else(|| "status.namespace is not set".into())
}

async fn provisioned(env: &Env, name: &str) -> Result<Store, String> {
    env.wait_store(name, "condition NamespaceReady=True", CREATED, |s| {
        wait::is_true(s, "NamespaceReady")
    })
    .await
}

/// Invalid Stores are rejected at admission with the CRD's messages; `engine` is immutable.
pub fn admission_rejects_invalid_stores(env: &Env) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move {
        let api = env.stores();
        let cases: [(&str, serde_json::Value, &str); 5] = [
            (
                "a-name-that-is-far-too-long-for-a-store-x1",
                serde_json::json!({"engine": "woocommerce", "owner": "e2e"}),
                "at most 40 characters",
            ),
            (
                "e2e-bad-engine",
                serde_json::json!({"engine": "shopify", "owner": "e2e"}),
                "shopify",
            ),
            (
                "e2e-bad-owner",
                serde_json::json!({"engine": "woocommerce", "owner": ""}),
                "owner",
            ),
            (
                "e2e-bad-domain",
                serde_json::json!({"engine": "woocommerce", "owner": "e2e", "domain": "Not_A_Host"}),
                "domain",
            ),
            (
                "e2e-two-certs",
                serde_json::json!({"engine": "woocommerce", "owner": "e2e", "tls": {"clusterIssuer": "a", "secretName": "b"}}),
                "not both",
            ),
        ];
        for (name, spec, needle) in cases {
            let body = serde_json::json!({"apiVersion": "storefleet.io/v1alpha1", "kind": "Store", "metadata": {"name": name}, "spec": spec});
            let api_dyn: Api<kube::api::DynamicObject> = Api::all_with(
                env.client.clone(),
                &kube::api::ApiResource::erase::<Store>(&()),
            );
            let object: kube::api::DynamicObject =
                serde_json::from_value(body).map_err(|e| e.to_string())?;
            match api_dyn.create(&PostParams::default(), &object).await {
                Ok(_) => {
                    let _ = api.delete(name, &DeleteParams::default()).await;
                    return Err(format!(
                        "store {name} was accepted; expected a rejection mentioning {needle:?}"
                    ));
                }
                Err(kube::Error::Api(s)) if s.code == 422 && s.message.contains(needle) => {}
                Err(e) => {
                    return Err(format!(
                        "store {name}: expected 422 mentioning {needle:?}, got {e}"
                    ));
                }
            }
        }
        let store = env.create_store("e2e-immutable", |_| {}).await?;
        let name = store.metadata.name.clone().unwrap_or_default();
        let patch = serde_json::json!({"spec": {"engine": "medusa"}});
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Err(kube::Error::Api(s))
                if s.code == 422 && s.message.contains("engine is immutable") =>
            {
                Ok(())
            }
            Ok(_) => Err("changing spec.engine was accepted".into()),
            Err(e) => Err(format!("expected 422 'engine is immutable', got {e}")),
        }
    })
}

/// Every child is accepted by the real apiserver (validation, quota, LimitRange,
/// NetworkPolicy), and the pods are admitted (Pod Security, quota, LimitRange).
pub fn children_are_accepted(env: &Env) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move {
        let store = env.create_store("e2e-children", |_| {}).await?;
        let name = store.metadata.name.clone().unwrap_or_default();
        let store = provisioned(env, &name).await?;
        let ns = namespace_of(&store)?;
        if let Some(reason) = wait::condition(&store, "Ready")
            .map(|c| c.reason.clone())
            .filter(|r| r == "ApplyRejected")
        {
            return Err(format!("Ready reason {reason}: {}", wait::describe(&store)));
        }
        let c = &env.client;
        let expected: [(&str, usize, usize); 10] = [
            (
                "ResourceQuota",
                count::<ResourceQuota>(c, &ns, &name).await?,
                1,
            ),
            ("LimitRange", count::<LimitRange>(c, &ns, &name).await?, 1),
            (
                "NetworkPolicy",
                count::<NetworkPolicy>(c, &ns, &name).await?,
                6,
            ),
            ("Secret", count::<Secret>(c, &ns, &name).await?, 3),
            ("Service", count::<Service>(c, &ns, &name).await?, 2),
            ("StatefulSet", count::<StatefulSet>(c, &ns, &name).await?, 1),
            ("Deployment", count::<Deployment>(c, &ns, &name).await?, 1),
            ("Ingress", count::<Ingress>(c, &ns, &name).await?, 1),
            ("ConfigMap", count::<ConfigMap>(c, &ns, &name).await?, 1),
            (
                "PersistentVolumeClaim (storefront)",
                count::<PersistentVolumeClaim>(c, &ns, &name).await?.min(1),
                1,
            ),
        ];
        let wrong: Vec<String> = expected
            .iter()
            .filter(|(_, got, want)| got != want)
            .map(|(k, got, want)| format!("{k}: {got} (want {want})"))
            .collect();
        if !wrong.is_empty() {
            return Err(format!("children of {name}: {}", wrong.join(", ")));
        }
        // Pods created means they passed Pod Security, quota and LimitRange admission.
        let pods: Api<Pod> = Api::namespaced(c.clone(), &ns);
        for component in ["database", "storefront"] {
            let selector = format!("{}={name},{}={component}", keys::STORE, keys::COMPONENT);
            wait::until(&format!("a {component} pod in {ns}"), CREATED, Duration::from_secs(2), || {
                let pods = pods.clone();
                let selector = selector.clone();
                async move {
                    let list = pods.list(&ListParams::default().labels(&selector)).await.map_err(|e| e.to_string())?;
                    Ok(if list.items.is_empty() { Err("no pod yet (check the ReplicaSet/StatefulSet events for admission errors)".into()) } else { Ok(()) })
                }
            })
            .await?;
        }
        Ok(())
    })
}

/// Status and `kubectl get stores` read as documented.
pub fn status_and_printer_columns(env: &Env) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move {
        let store = env
            .create_store("e2e-columns", |s| {
                s.spec.plan = storefleet_types::Plan::Medium
            })
            .await?;
        let name = store.metadata.name.clone().unwrap_or_default();
        let store = provisioned(env, &name).await?;
        let status = store.status.clone().unwrap_or_default();
        let url = status.url.clone().ok_or("status.url is not set")?;
        if status.observed_generation != store.metadata.generation {
            return Err(format!(
                "observedGeneration {:?} != generation {:?}",
                status.observed_generation, store.metadata.generation
            ));
        }
        if status.credentials_secret.as_deref() != Some(child::ADMIN_SECRET) {
            return Err(format!(
                "credentialsSecret is {:?}",
                status.credentials_secret
            ));
        }
        for c in [
            "Ready",
            "NamespaceReady",
            "DatabaseReady",
            "StorefrontReady",
            "SetupComplete",
        ] {
            if wait::condition(&store, c).is_none() {
                return Err(format!("condition {c} missing: {}", wait::describe(&store)));
            }
        }
        let output = tokio::process::Command::new("kubectl")
            .args(["get", "stores", &name])
            .output()
            .await
            .map_err(|e| format!("kubectl: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "kubectl get stores: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let rows = text::parse_table(&String::from_utf8_lossy(&output.stdout));
        let row = rows.first().ok_or("kubectl printed no row")?;
        let expect: BTreeMap<&str, String> = BTreeMap::from([
            ("NAME", name.clone()),
            ("ENGINE", "woocommerce".into()),
            ("PLAN", "medium".into()),
            ("URL", url),
        ]);
        for (column, want) in expect {
            if row.get(column) != Some(&want) {
                return Err(format!(
                    "column {column}: {:?}, want {want:?} (row {row:?})",
                    row.get(column)
                ));
            }
        }
        if !matches!(row.get("READY").map(String::as_str), Some("True" | "False")) {
            return Err(format!("column READY should be True or False in {row:?}"));
        }
        if row.get("STATUS").is_none_or(String::is_empty) {
            return Err(format!("column STATUS is empty in {row:?}"));
        }
        Ok(())
    })
}

/// A child deleted by hand comes back.
pub fn deleted_child_is_recreated(env: &Env) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move {
        let store = env.create_store("e2e-repair", |_| {}).await?;
        let name = store.metadata.name.clone().unwrap_or_default();
        let ns = namespace_of(&provisioned(env, &name).await?)?;
        let services: Api<Service> = Api::namespaced(env.client.clone(), &ns);
        let before = services
            .get(child::STOREFRONT)
            .await
            .map_err(|e| e.to_string())?
            .metadata
            .uid;
        services
            .delete(child::STOREFRONT, &DeleteParams::default())
            .await
            .map_err(|e| e.to_string())?;
        wait::until(
            "the storefront Service to be recreated",
            CREATED,
            Duration::from_secs(1),
            || {
                let services = services.clone();
                let before = before.clone();
                async move {
                    Ok(
                        match services
                            .get_opt(child::STOREFRONT)
                            .await
                            .map_err(|e| e.to_string())?
                        {
                            Some(s)
                                if s.metadata.uid != before
                                    && s.metadata.deletion_timestamp.is_none() =>
                            {
                                Ok(())
                            }
                            Some(_) => Err("old Service still there".into()),
                            None => Err("absent".into()),
                        },
                    )
                }
            },
        )
        .await
    })
}

/// Deleting a Store deletes its namespace, then the Store.
pub fn delete_removes_namespace_then_store(env: &Env) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move {
        let store = env.create_store("e2e-delete", |_| {}).await?;
        let name = store.metadata.name.clone().unwrap_or_default();
        let ns = namespace_of(&provisioned(env, &name).await?)?;
        env.stores()
            .delete(&name, &DeleteParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let deleting = env.wait_store(&name, "phase Deleting", Duration::from_secs(60), |s| {
            s.status.as_ref().and_then(|st| st.phase) == Some(storefleet_types::Phase::Deleting)
        });
        // The store may already be gone on a fast cluster; that is fine too.
        let _ = deleting.await;
        env.wait_store_gone(&name, Duration::from_secs(300)).await?;
        let namespaces: Api<Namespace> = Api::all(env.client.clone());
        if namespaces
            .get_opt(&ns)
            .await
            .map_err(|e| e.to_string())?
            .is_some()
        {
            return Err(format!(
                "store {name} is gone but namespace {ns} still exists"
            ));
        }
        Ok(())
    })
}

/// `deletionPolicy: Retain` keeps the namespace, without ownerReferences to the Store.
pub fn retain_keeps_the_namespace(env: &Env) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move {
        let store = env
            .create_store("e2e-retain", |s| {
                s.spec.deletion_policy = DeletionPolicy::Retain
            })
            .await?;
        let name = store.metadata.name.clone().unwrap_or_default();
        let ns = namespace_of(&provisioned(env, &name).await?)?;
        env.forget_namespace_later(&ns);
        env.stores()
            .delete(&name, &DeleteParams::default())
            .await
            .map_err(|e| e.to_string())?;
        env.wait_store_gone(&name, Duration::from_secs(120)).await?;
        tokio::time::sleep(Duration::from_secs(5)).await;
        let namespace = Api::<Namespace>::all(env.client.clone())
            .get_opt(&ns)
            .await
            .map_err(|e| e.to_string())?
            .ok_or(format!("namespace {ns} was deleted"))?;
        if namespace.metadata.deletion_timestamp.is_some() {
            return Err(format!("namespace {ns} is terminating"));
        }
        if namespace
            .metadata
            .owner_references
            .is_some_and(|r| !r.is_empty())
        {
            return Err(format!("namespace {ns} still has ownerReferences"));
        }
        let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), &ns);
        if deployments
            .get_opt(child::STOREFRONT)
            .await
            .map_err(|e| e.to_string())?
            .is_none()
        {
            return Err("the storefront Deployment was not kept".into());
        }
        Ok(())
    })
}

/// Restarting the operator mid-provisioning converges without duplicates and without new
/// credentials.
pub fn restart_converges_without_duplicates(env: &Env) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move {
        if env.settings.in_cluster {
            return Err(skip(
                "restarting needs the local operator (unset STOREFLEET_E2E_IN_CLUSTER)",
            ));
        }
        let store = env.create_store("e2e-restart", |_| {}).await?;
        let name = store.metadata.name.clone().unwrap_or_default();
        let ns = namespace_of(&provisioned(env, &name).await?)?;
        let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &ns);
        let uids = |list: Vec<Secret>| -> Vec<(String, String)> {
            let mut v: Vec<(String, String)> = list
                .into_iter()
                .map(|s| {
                    (
                        s.metadata.name.unwrap_or_default(),
                        s.metadata.resource_version.unwrap_or_default(),
                    )
                })
                .collect();
            v.sort();
            v
        };
        let selector = ListParams::default().labels(&format!("{}={name}", keys::STORE));
        let before = uids(
            secrets
                .list(&selector)
                .await
                .map_err(|e| e.to_string())?
                .items,
        );
        {
            let mut guard = env.operator.lock().await;
            let operator = guard.as_mut().ok_or("no local operator")?;
            operator.restart().await?;
        }
        // Touch the store so the restarted operator has something to do at once.
        let patch = serde_json::json!({"apiVersion": "storefleet.io/v1alpha1", "kind": "Store", "metadata": {"annotations": {"e2e.storefleet.io/touched": "1"}}});
        env.stores()
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER),
                &Patch::Apply(&patch),
            )
            .await
            .map_err(|e| e.to_string())?;
        tokio::time::sleep(Duration::from_secs(10)).await;
        provisioned(env, &name).await?;
        let after = uids(
            secrets
                .list(&selector)
                .await
                .map_err(|e| e.to_string())?
                .items,
        );
        if before != after {
            return Err(format!(
                "secrets changed across the restart: {before:?} -> {after:?}"
            ));
        }
        let c = &env.client;
        let jobs = count::<Job>(c, &ns, &name).await?;
        let deployments = count::<Deployment>(c, &ns, &name).await?;
        let policies = count::<NetworkPolicy>(c, &ns, &name).await?;
        if jobs > 1 || deployments != 1 || policies != 6 {
            return Err(format!(
                "duplicates after restart: jobs={jobs} deployments={deployments} networkpolicies={policies}"
            ));
        }
        Ok(())
    })
}
