//! The Helm chart on the real control plane: render it with the real `helm`, apply what a test
//! needs (the CRD, the ServiceAccounts and their RBAC) as cluster-admin, then act as a
//! ServiceAccount with exactly the permissions the chart grants.

use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery;
use serde_json::Value;

use crate::{ControlPlane, Error};

/// The field manager of objects the harness applies.
pub const MANAGER: &str = "storefleet-envtest";

/// The `helm` binary: `$HELM`, else the repository's `.tools/bin/helm`, else `helm` on PATH.
pub fn helm() -> PathBuf {
    if let Some(h) = std::env::var_os("HELM").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    let local = workspace_root().join(".tools/bin/helm");
    if local.is_file() {
        return local;
    }
    PathBuf::from("helm")
}

/// The repository root (this crate lives in `crates/storefleet-envtest`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// `helm template <release> charts/storefleet -n <namespace> [--set ...]`, one JSON value per
/// object.
pub fn render(release: &str, namespace: &str, set: &[&str]) -> Result<Vec<Value>, Error> {
    let chart = workspace_root().join("charts/storefleet");
    let mut cmd = Command::new(helm());
    cmd.arg("template")
        .arg(release)
        .arg(&chart)
        .arg("--namespace")
        .arg(namespace);
    for s in set {
        cmd.arg("--set").arg(s);
    }
    let out = cmd.output().map_err(|source| Error::Io {
        what: format!(
            "run {} (make test-deps installs it; HELM names it)",
            helm().display()
        ),
        source,
    })?;
    if !out.status.success() {
        return Err(Error::Manifest(format!(
            "helm template failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .map_err(|e| Error::Manifest(format!("helm output is not YAML: {e}")))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// What the chart gives one component to act as: its ServiceAccount, (Cluster)Roles and their
/// bindings, and admission policies, i.e. the rendered objects of those kinds whose name starts
/// with `prefix` (e.g. `storefleet-operator`, `storefleet-api`).
pub fn access_objects(
    release: &str,
    namespace: &str,
    set: &[&str],
    prefix: &str,
) -> Result<Vec<Value>, Error> {
    Ok(render(release, namespace, set)?
        .into_iter()
        .filter(|d| {
            matches!(
                kind(d),
                "ServiceAccount"
                    | "ClusterRole"
                    | "ClusterRoleBinding"
                    | "Role"
                    | "RoleBinding"
                    | "ValidatingAdmissionPolicy"
                    | "ValidatingAdmissionPolicyBinding"
            ) && name(d).starts_with(prefix)
        })
        .collect())
}

/// The `kind` of a rendered object.
pub fn kind(doc: &Value) -> &str {
    doc["kind"].as_str().unwrap_or_default()
}

/// The `metadata.name` of a rendered object.
pub fn name(doc: &Value) -> &str {
    doc["metadata"]["name"].as_str().unwrap_or_default()
}

impl ControlPlane {
    /// Creates a namespace (as admin) unless it exists.
    pub async fn ensure_namespace(&self, name: &str) -> Result<(), Error> {
        let api: Api<Namespace> = Api::all(self.admin());
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        api.patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(&ns))
            .await
            .map(|_| ())
            .map_err(|source| Error::Kube {
                what: format!("namespace {name}"),
                source,
            })
    }

    /// Server-side applies `docs` as admin, whatever their kind (found by discovery).
    pub async fn apply(&self, docs: &[Value]) -> Result<(), Error> {
        let client = self.admin();
        for doc in docs {
            let api_version = doc["apiVersion"].as_str().unwrap_or_default();
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            let gvk = GroupVersionKind::gvk(group, version, kind(doc));
            let (resource, caps) =
                discovery::pinned_kind(&client, &gvk)
                    .await
                    .map_err(|source| Error::Kube {
                        what: format!("discover {api_version} {}", kind(doc)),
                        source,
                    })?;
            let api: Api<DynamicObject> = match (caps.scope, doc["metadata"]["namespace"].as_str())
            {
                (discovery::Scope::Namespaced, Some(ns)) => {
                    Api::namespaced_with(client.clone(), ns, &resource)
                }
                (discovery::Scope::Namespaced, None) => {
                    Api::default_namespaced_with(client.clone(), &resource)
                }
                (discovery::Scope::Cluster, _) => Api::all_with(client.clone(), &resource),
            };
            api.patch(
                name(doc),
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(doc),
            )
            .await
            .map_err(|source| Error::Kube {
                what: format!("apply {} {}", kind(doc), name(doc)),
                source,
            })?;
        }
        Ok(())
    }
}
