//! `kubectl storefleet status STORE`: what the operator says of the store (phase, conditions,
//! versions, backups) and what its namespace holds (each child and its state), with its events.

use std::io::Write;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim};
use kube::api::{Api, ListParams};
use kube::{Client, Resource, ResourceExt};
use storefleet_types::names::{self, labels as keys};
use storefleet_types::{BackupRecord, Store};

use crate::PluginError;

/// The store, or a plain "no such store".
pub async fn store(client: &Client, name: &str) -> Result<Store, PluginError> {
    Api::<Store>::all(client.clone())
        .get_opt(name)
        .await
        .map_err(|e| PluginError::kube(format!("read store {name}"), e))?
        .ok_or_else(|| PluginError::NoStore(name.to_string()))
}

/// Prints the status of `name`.
pub async fn show(client: &Client, name: &str, out: &mut dyn Write) -> Result<(), PluginError> {
    let store = store(client, name).await?;
    let status = store.status.clone().unwrap_or_default();
    let phase = status.phase.map_or("Pending", |p| p.as_str());
    writeln!(
        out,
        "Store {name}: {} on the {} plan, owned by {}",
        serde_json::to_value(store.spec.engine)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        serde_json::to_value(store.spec.plan)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        store.spec.owner
    )?;
    writeln!(
        out,
        "Phase:       {phase}{}",
        status
            .message
            .as_deref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default()
    )?;
    if store.spec.hibernate {
        writeln!(
            out,
            "Hibernate:   asked (spec.hibernate); `kubectl storefleet wake {name}` wakes it"
        )?;
    }
    if let Some(url) = &status.url {
        writeln!(out, "Shop:        {url}")?;
    }
    if let Some(url) = &status.admin_url {
        writeln!(
            out,
            "Admin:       {url} (kubectl storefleet credentials {name})"
        )?;
    }
    if let Some(v) = &status.versions {
        let runs: Vec<String> = [
            ("WordPress", &v.wordpress),
            ("WooCommerce", &v.woocommerce),
            ("PHP", &v.php),
            ("Medusa", &v.medusa),
            ("database", &v.database),
        ]
        .iter()
        .filter_map(|(what, version)| version.as_ref().map(|v| format!("{what} {v}")))
        .collect();
        writeln!(out, "Runs:        {}", runs.join(", "))?;
    }
    if let Some(backup) = &status.backup {
        writeln!(out, "Last backup: {}", record(backup.last.as_ref()))?;
        writeln!(
            out,
            "Proven by a drill: {}",
            record(backup.last_verified_restore.as_ref())
        )?;
    }
    writeln!(out, "\nConditions:")?;
    for c in &status.conditions {
        let mark = match (c.type_.as_str(), c.status.as_str()) {
            ("Reconciling" | "Stalled", "True") => "!",
            (_, "True") => "+",
            _ => "-",
        };
        writeln!(
            out,
            "  {mark} {:<16} {:<22} {}",
            c.type_, c.reason, c.message
        )?;
    }
    if let Some(namespace) = &status.namespace {
        children(client, name, namespace, out).await?;
    }
    events(client, &store, out).await
}

fn record(r: Option<&BackupRecord>) -> String {
    let Some(r) = r else {
        return "none yet".into();
    };
    let mut words = vec![r.finished_at.clone().unwrap_or_else(|| "?".into())];
    if let Some(s) = &r.snapshot {
        words.push(format!("snapshot {s}"));
    }
    if let Some(o) = r.orders {
        words.push(format!("{o} orders"));
    }
    if let Some(s) = r.seconds {
        words.push(format!("{s} s"));
    }
    words.join(", ")
}

async fn list<K>(client: &Client, namespace: &str, store: &str) -> Result<Vec<K>, PluginError>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    Api::<K>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(&format!("{}={store}", keys::STORE)))
        .await
        .map(|l| l.items)
        .map_err(|e| PluginError::kube(format!("list {}s in {namespace}", K::kind(&())), e))
}

/// Each workload, Job, CronJob and claim of the store, and its state.
async fn children(
    client: &Client,
    store: &str,
    namespace: &str,
    out: &mut dyn Write,
) -> Result<(), PluginError> {
    writeln!(out, "\nChildren (namespace {namespace}):")?;
    for s in list::<StatefulSet>(client, namespace, store).await? {
        let st = s.status.clone().unwrap_or_default();
        let want = s.spec.replicas.unwrap_or(1);
        let ready = st.ready_replicas.unwrap_or(0);
        writeln!(
            out,
            "  StatefulSet/{:<24} {ready}/{want} ready",
            s.name_any()
        )?;
    }
    for d in list::<Deployment>(client, namespace, store).await? {
        let st = d.status.clone().unwrap_or_default();
        let want = d.spec.replicas.unwrap_or(1);
        let available = st.available_replicas.unwrap_or(0);
        writeln!(
            out,
            "  Deployment/{:<25} {available}/{want} available",
            d.name_any()
        )?;
    }
    for j in list::<Job>(client, namespace, store).await? {
        let state = j
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .find(|c| c.status == "True" && matches!(c.type_.as_str(), "Complete" | "Failed"))
            .map_or_else(
                || "running".to_string(),
                |c| match &c.reason {
                    Some(reason) if c.type_ == "Failed" => format!("Failed ({reason})"),
                    _ => c.type_.clone(),
                },
            );
        writeln!(out, "  Job/{:<32} {state}", j.name_any())?;
    }
    for c in list::<CronJob>(client, namespace, store).await? {
        let spec = &c.spec;
        let suspended = if spec.suspend == Some(true) {
            ", suspended"
        } else {
            ""
        };
        let last = c
            .status
            .as_ref()
            .and_then(|s| s.last_successful_time.as_ref())
            .map_or_else(
                || "no success yet".to_string(),
                |t| format!("last success {}", t.0),
            );
        writeln!(
            out,
            "  CronJob/{:<28} {}{suspended}, {last}",
            c.name_any(),
            spec.schedule
        )?;
    }
    for p in list::<PersistentVolumeClaim>(client, namespace, store).await? {
        let phase = p
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        let size = p
            .status
            .as_ref()
            .and_then(|s| s.capacity.as_ref())
            .and_then(|c| c.get("storage"))
            .map(|q| q.0.clone())
            .unwrap_or_default();
        writeln!(
            out,
            "  PersistentVolumeClaim/{:<14} {phase} {size}",
            p.name_any()
        )?;
    }
    Ok(())
}

/// The store's events, newest first (those of this store: by uid).
async fn events(client: &Client, store: &Store, out: &mut dyn Write) -> Result<(), PluginError> {
    let selector = format!(
        "involvedObject.kind={},involvedObject.name={},involvedObject.uid={}",
        names::KIND,
        store.name_any(),
        store.uid().unwrap_or_default()
    );
    let mut events = Api::<Event>::namespaced(client.clone(), names::EVENTS_NAMESPACE)
        .list(&ListParams::default().fields(&selector))
        .await
        .map_err(|e| PluginError::kube("read the store's events", e))?
        .items;
    let time = |e: &Event| {
        e.event_time
            .as_ref()
            .map(|t| t.0.to_string())
            .or_else(|| e.last_timestamp.as_ref().map(|t| t.0.to_string()))
            .unwrap_or_default()
    };
    events.sort_by_key(|e| std::cmp::Reverse(time(e)));
    writeln!(out, "\nEvents (newest first):")?;
    if events.is_empty() {
        writeln!(out, "  none")?;
    }
    for e in events.iter().take(15) {
        writeln!(
            out,
            "  {} {:<7} {}: {}",
            time(e),
            e.type_.as_deref().unwrap_or_default(),
            e.reason.as_deref().unwrap_or_default(),
            e.message.as_deref().unwrap_or_default()
        )?;
    }
    Ok(())
}
