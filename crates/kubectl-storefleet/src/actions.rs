//! The commands that act on a store (or read its login or logs): each checks the store's state
//! first and refuses in plain words what would not help.

use std::io::Write;

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, ListParams, LogParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use storefleet_types::names::{self, child, labels as keys, secret_keys};
use storefleet_types::{Phase, RestoreFromSpec, Store, StoreSpec, condition};

use crate::status::store;
use crate::{Command, Part, PluginError};

/// Who writes through the plugin (server-side, for `kubectl get --show-managed-fields`).
const FIELD_MANAGER: &str = "kubectl-storefleet";

/// Runs a command.
pub async fn run(
    client: &Client,
    command: Command,
    out: &mut dyn Write,
) -> Result<(), PluginError> {
    match command {
        Command::Status { store } => crate::status::show(client, &store, out).await,
        Command::Credentials { store } => credentials(client, &store, out).await,
        Command::Hibernate { store } => hibernate(client, &store, true, out).await,
        Command::Wake { store } => hibernate(client, &store, false, out).await,
        Command::Retry { store } => retry(client, &store, out).await,
        Command::Logs { store, part } => logs(client, &store, part, out).await,
        Command::Backup { store } => backup(client, &store, out).await,
        Command::Restore {
            source,
            new,
            snapshot,
            owner,
            engine,
        } => restore(client, (&source, &new, &snapshot), (owner, engine), out).await,
    }
}

fn phase(store: &Store) -> Phase {
    store
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .unwrap_or(Phase::Pending)
}

async fn merge(
    client: &Client,
    name: &str,
    what: &str,
    patch: serde_json::Value,
) -> Result<(), PluginError> {
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    Api::<Store>::all(client.clone())
        .patch(name, &params, &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|e| PluginError::kube(format!("{what} store {name}"), e))
}

async fn credentials(client: &Client, name: &str, out: &mut dyn Write) -> Result<(), PluginError> {
    let store = store(client, name).await?;
    let status = store.status.clone().unwrap_or_default();
    let (Some(namespace), Some(secret)) = (&status.namespace, &status.credentials_secret) else {
        return Err(PluginError::Refused(format!(
            "store {name} has no admin login yet (it is {})",
            phase(&store).as_str()
        )));
    };
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(secret)
        .await
        .map_err(|e| PluginError::kube(format!("read Secret {secret} in {namespace}"), e))?
        .ok_or_else(|| {
            PluginError::Refused(format!(
                "store {name}'s admin login is not there yet: Secret {secret} in {namespace} is made while it is set up"
            ))
        })?;
    let value = |key: &str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
            .unwrap_or_default()
    };
    if let Some(url) = &status.admin_url {
        writeln!(out, "admin:    {url}")?;
    }
    writeln!(out, "username: {}", value(secret_keys::ADMIN_USER))?;
    writeln!(out, "password: {}", value(secret_keys::ADMIN_PASSWORD))?;
    Ok(())
}

async fn hibernate(
    client: &Client,
    name: &str,
    sleep: bool,
    out: &mut dyn Write,
) -> Result<(), PluginError> {
    let store = store(client, name).await?;
    if store.metadata.deletion_timestamp.is_some() {
        return Err(PluginError::Refused(format!(
            "store {name} is being deleted"
        )));
    }
    let (verb, done) = if sleep {
        (
            "hibernate",
            "is hibernating: its pods stop, its volumes, Secrets and route stay",
        )
    } else {
        (
            "wake",
            "is waking: Ready again once its database and storefront are (no new setup)",
        )
    };
    if store.spec.hibernate == sleep {
        writeln!(
            out,
            "store {name} already {}",
            if sleep { "hibernates" } else { "is awake" }
        )?;
        return Ok(());
    }
    merge(client, name, verb, json!({"spec": {"hibernate": sleep}})).await?;
    writeln!(out, "store {name} {done}")?;
    writeln!(
        out,
        "(with GitOps, set spec.hibernate in git too, or it is put back on the next sync)"
    )?;
    Ok(())
}

async fn retry(client: &Client, name: &str, out: &mut dyn Write) -> Result<(), PluginError> {
    let store = store(client, name).await?;
    if phase(&store) != Phase::Failed {
        return Err(PluginError::Refused(format!(
            "store {name} is {}: only a Failed store is retried",
            phase(&store).as_str()
        )));
    }
    let value = now_token();
    merge(
        client,
        name,
        "retry",
        json!({"metadata": {"annotations": {names::RETRY_ANNOTATION: value}}}),
    )
    .await?;
    writeln!(
        out,
        "store {name}: retry asked ({}={value})",
        names::RETRY_ANNOTATION
    )?;
    Ok(())
}

async fn backup(client: &Client, name: &str, out: &mut dyn Write) -> Result<(), PluginError> {
    let store = store(client, name).await?;
    let has_backups = store
        .status
        .as_ref()
        .is_some_and(|s| s.condition(condition::BACKUP_READY).is_some());
    if !has_backups {
        return Err(PluginError::Refused(format!(
            "store {name} has no backups: the platform has configured no backup target"
        )));
    }
    if phase(&store) != Phase::Ready {
        return Err(PluginError::Refused(format!(
            "store {name} is {}: only a Ready store is backed up",
            phase(&store).as_str()
        )));
    }
    let value = now_token();
    merge(
        client,
        name,
        "back up",
        json!({"metadata": {"annotations": {names::BACKUP_NOW_ANNOTATION: value}}}),
    )
    .await?;
    writeln!(
        out,
        "store {name}: backup asked; `kubectl storefleet status {name}` shows it once it has run"
    )?;
    Ok(())
}

async fn restore(
    client: &Client,
    (source, new, snapshot): (&str, &str, &str),
    (owner, engine): (Option<String>, Option<String>),
    out: &mut dyn Write,
) -> Result<(), PluginError> {
    let stores = Api::<Store>::all(client.clone());
    let existing = stores
        .get_opt(source)
        .await
        .map_err(|e| PluginError::kube(format!("read store {source}"), e))?;
    // The source's owner, engine and plan (the plan's default when the source is gone).
    let fields = match (existing, owner, engine) {
        (Some(s), owner, _) => json!({
            "owner": owner.unwrap_or(s.spec.owner),
            "engine": s.spec.engine,
            "plan": s.spec.plan,
        }),
        (None, Some(owner), Some(engine)) => json!({"owner": owner, "engine": engine}),
        (None, _, _) => {
            return Err(PluginError::Refused(format!(
                "store {source} is gone: give --owner and --engine of its backups"
            )));
        }
    };
    let mut spec: StoreSpec = serde_json::from_value(fields)
        .map_err(|_| PluginError::Refused("--engine: woocommerce or medusa".into()))?;
    spec.restore_from = Some(RestoreFromSpec {
        store: source.to_string(),
        snapshot: snapshot.to_string(),
    });
    let created = stores
        .create(&PostParams::default(), &Store::new(new, spec))
        .await
        .map_err(|e| match e {
            kube::Error::Api(s) if s.code == 409 => {
                PluginError::Refused(format!("a store named {new} already exists"))
            }
            kube::Error::Api(s) if s.code == 422 => PluginError::Refused(s.message),
            e => PluginError::kube(format!("create store {new}"), e),
        })?;
    writeln!(
        out,
        "store {} made: restored from {snapshot} of {source} before its setup{}",
        created.name_any(),
        if source == new {
            ""
        } else {
            " (a staging clone: it mails no one and takes no payment)"
        }
    )?;
    Ok(())
}

async fn logs(
    client: &Client,
    name: &str,
    part: Part,
    out: &mut dyn Write,
) -> Result<(), PluginError> {
    let store = store(client, name).await?;
    let Some(namespace) = store.status.as_ref().and_then(|s| s.namespace.clone()) else {
        return Err(PluginError::Refused(format!(
            "store {name} has no namespace yet"
        )));
    };
    let component = part.component();
    let pods = Api::<Pod>::namespaced(client.clone(), &namespace);
    let selector = format!(
        "{}={name},{}={}",
        keys::STORE,
        keys::COMPONENT,
        component.as_str()
    );
    let mut found = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| PluginError::kube(format!("list pods in {namespace}"), e))?
        .items;
    found.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let Some(pod) = found.last() else {
        return Err(PluginError::Refused(format!(
            "store {name} has no {} pod now{}",
            component.as_str(),
            match part {
                Part::Setup => " (a finished setup Job's pod is removed once the store is set up)",
                Part::Cron | Part::Probe =>
                    " (its CronJob has not run yet, or its last run is gone)",
                Part::Storefront => " (is it hibernated?)",
            }
        )));
    };
    let container = pod
        .spec
        .as_ref()
        .and_then(|s| {
            s.containers
                .iter()
                .find(|c| c.name == component.as_str() || c.name == child::STOREFRONT)
                .or(s.containers.first())
        })
        .map(|c| c.name.clone());
    let params = LogParams {
        container,
        tail_lines: Some(500),
        ..LogParams::default()
    };
    let text = pods.logs(&pod.name_any(), &params).await.map_err(|e| {
        PluginError::kube(
            format!("read the log of pod {} in {namespace}", pod.name_any()),
            e,
        )
    })?;
    writeln!(out, "# pod {} in {namespace}", pod.name_any())?;
    write!(out, "{text}")?;
    Ok(())
}

/// A fresh annotation value: the time, UTC.
fn now_token() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}
