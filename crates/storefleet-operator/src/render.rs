//! Render: validate + desired objects + serialize, with no cluster. The same code path the
//! controller runs, so what a reviewer sees in a pull request is what the cluster gets.
//!
//! Output is multi-document YAML in apply order, deterministic: generated secret values are shown
//! as [`crate::desired::secrets::PLACEHOLDER`], never random, never real.

use serde::Serialize;
use storefleet_types::{Store, names};

use crate::config::OperatorConfig;
use crate::desired::secrets::Placeholder;
use crate::desired::{self, Child};
use crate::validate::{self, ValidationError};

/// UID used for ownerReferences when the rendered Store has none (it never met an apiserver).
pub const PLACEHOLDER_UID: &str = "00000000-0000-0000-0000-000000000000";

/// Why a Store cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The input is not a Store manifest.
    #[error("not a Store manifest: {0}")]
    NotAStore(String),
    /// The Store is invalid.
    #[error("invalid store: {0}")]
    Invalid(#[from] ValidationError),
    /// Serialization failed (a bug).
    #[error("cannot serialize {kind} {name}: {message}")]
    Serialize {
        /// Kind of the object.
        kind: &'static str,
        /// Name of the object.
        name: String,
        /// The serializer's message.
        message: String,
    },
}

/// Parses one Store manifest from YAML, strictly: an empty file, several documents and fields the
/// Store type does not know are refused (as `kubectl apply` does with strict field validation).
pub fn parse_store(yaml: &str) -> Result<Store, RenderError> {
    let has_content = |text: &str| {
        text.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#') && l.trim() != "---")
    };
    if !has_content(yaml) {
        return Err(RenderError::NotAStore(
            "the file is empty: expected one Store manifest".into(),
        ));
    }
    let parts: Vec<&str> = split_documents(yaml)
        .into_iter()
        .filter(|d| has_content(d))
        .collect();
    if parts.len() > 1 {
        return Err(RenderError::NotAStore(format!(
            "the file has {} documents (separated by ---): render takes one Store at a time",
            parts.len()
        )));
    }
    let value: serde_json::Value =
        serde_saphyr::from_str(parts[0]).map_err(|e| RenderError::NotAStore(e.to_string()))?;
    let api_version = value.get("apiVersion").and_then(|v| v.as_str());
    let kind = value.get("kind").and_then(|v| v.as_str());
    if api_version != Some(names::API_VERSION) || kind != Some(names::KIND) {
        return Err(RenderError::NotAStore(format!(
            "expected apiVersion {} and kind {}, found {} and {}",
            names::API_VERSION,
            names::KIND,
            api_version.unwrap_or("none"),
            kind.unwrap_or("none"),
        )));
    }
    let store: Store = serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let path = e.path().to_string();
        RenderError::NotAStore(format!("{path}: {}", e.into_inner()))
    })?;
    // Whatever the typed Store does not carry back was not understood: a misspelled field.
    let known = serde_json::to_value(&store).map_err(|e| RenderError::NotAStore(e.to_string()))?;
    let mut unknown = Vec::new();
    unknown_fields(&value, &known, "", &mut unknown);
    if !unknown.is_empty() {
        return Err(RenderError::NotAStore(format!(
            "unknown field(s): {}",
            unknown.join(", ")
        )));
    }
    Ok(store)
}

/// The documents of a YAML stream (split at lines that are exactly `---`).
fn split_documents(yaml: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in yaml.split_inclusive('\n') {
        if line.trim_end() == "---" {
            out.push(&yaml[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    out.push(&yaml[start..]);
    out
}

/// Paths present in `input` and absent from `known` (the typed round trip); `status` is the
/// controller's and not checked.
fn unknown_fields(
    input: &serde_json::Value,
    known: &serde_json::Value,
    path: &str,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (input, known) {
        (Value::Object(given), Value::Object(kept)) => {
            for (key, value) in given {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if here == "status" {
                    continue;
                }
                match kept.get(key) {
                    Some(k) => unknown_fields(value, k, &here, out),
                    // A null or empty value that the type drops is not a misspelling.
                    None if value.is_null()
                        || value.as_object().is_some_and(serde_json::Map::is_empty)
                        || value.as_array().is_some_and(Vec::is_empty) => {}
                    None => out.push(here),
                }
            }
        }
        (Value::Array(given), Value::Array(kept)) => {
            for (i, (g, k)) in given.iter().zip(kept).enumerate() {
                unknown_fields(g, k, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn to_yaml<T: Serialize>(
    kind: &'static str,
    name: Option<&str>,
    object: &T,
) -> Result<String, RenderError> {
    serde_saphyr::to_string(object).map_err(|e| RenderError::Serialize {
        kind,
        name: name.unwrap_or_default().to_string(),
        message: e.to_string(),
    })
}

/// Every object of `store`, as multi-document YAML in apply order.
pub fn render(store: &Store, config: &OperatorConfig) -> Result<String, RenderError> {
    let mut store = store.clone();
    if store.metadata.uid.is_none() {
        store.metadata.uid = Some(PLACEHOLDER_UID.into());
    }
    let validated = validate::validate(&store, config)?;
    let objects = desired::build(&validated);
    let mut docs = Vec::new();
    for child in objects.children() {
        let doc = match child {
            Child::Namespace(o) => to_yaml("Namespace", o.metadata.name.as_deref(), o),
            Child::ResourceQuota(o) => to_yaml("ResourceQuota", o.metadata.name.as_deref(), o),
            Child::LimitRange(o) => to_yaml("LimitRange", o.metadata.name.as_deref(), o),
            Child::NetworkPolicy(o) | Child::EdgePolicy(o) => {
                to_yaml("NetworkPolicy", o.metadata.name.as_deref(), o)
            }
            Child::GeneratedSecret(t) => {
                let secret = t.materialize(&mut Placeholder);
                to_yaml("Secret", Some(t.name()), &secret)
            }
            Child::Service(o) => to_yaml("Service", o.metadata.name.as_deref(), o),
            Child::Role(o) => to_yaml("Role", o.metadata.name.as_deref(), o),
            Child::RoleBinding(o) => to_yaml("RoleBinding", o.metadata.name.as_deref(), o),
            Child::StatefulSet(o) => to_yaml("StatefulSet", o.metadata.name.as_deref(), o),
            Child::PersistentVolumeClaim(o) => {
                to_yaml("PersistentVolumeClaim", o.metadata.name.as_deref(), o)
            }
            Child::Deployment(o) => to_yaml("Deployment", o.metadata.name.as_deref(), o),
            Child::Ingress(o) => to_yaml("Ingress", o.metadata.name.as_deref(), o),
            Child::HttpRoute(o) => to_yaml("HTTPRoute", o.metadata.name.as_deref(), o),
            Child::ConfigMap(o) => to_yaml("ConfigMap", o.metadata.name.as_deref(), o),
            Child::SetupJob(o) | Child::MigrationJob(o) | Child::RestoreJob(o) => {
                to_yaml("Job", o.metadata.name.as_deref(), o)
            }
            Child::BackupCronJob(o) | Child::CronJob(o) => {
                to_yaml("CronJob", o.metadata.name.as_deref(), o)
            }
            // Built only by the controller (it holds the platform key); values never rendered.
            Child::BackupSecret(o) => {
                let mut redacted = o.clone();
                redacted.string_data = None;
                redacted.data = None;
                to_yaml("Secret", o.metadata.name.as_deref(), &redacted)
            }
        }?;
        docs.push(doc);
    }
    let mut out = String::new();
    for doc in docs {
        out.push_str("---\n");
        out.push_str(&doc);
        if !doc.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}
