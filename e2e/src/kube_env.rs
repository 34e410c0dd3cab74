//! The cluster under test: connecting (or saying why not), installing the CRD, creating
//! uniquely named stores, and cleaning up after every test.

use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use rand::Rng;
use rand::distr::Alphanumeric;
use storefleet_types::{Store, StoreSpec, names};
use tokio::sync::Mutex as AsyncMutex;

use crate::operator::LocalOperator;
use crate::settings::Settings;
use crate::wait;

/// The committed CRD, as the suite installs it.
pub const CRD_YAML: &str = include_str!("../../crd/storefleet.io_stores.yaml");
/// The committed StoreRollout CRD (the operator will not start without it).
pub const ROLLOUT_CRD_YAML: &str = include_str!("../../crd/storefleet.io_storerollouts.yaml");

/// Field manager of the suite's own writes.
pub const FIELD_MANAGER: &str = "storefleet-e2e";

/// Connects to the cluster KUBECONFIG (or ~/.kube/config, or in-cluster) points at.
/// `Err` says, in one line, why there is no reachable cluster.
pub async fn connect() -> Result<Client, String> {
    let client = Client::try_default()
        .await
        .map_err(|_| {
            let kubeconfig = std::env::var("KUBECONFIG").unwrap_or_else(|_| "unset".into());
            format!("no usable kubeconfig (KUBECONFIG={kubeconfig}, ~/.kube/config) and not running in a cluster")
        })?;
    match tokio::time::timeout(Duration::from_secs(5), client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(client),
        Ok(Err(e)) => Err(format!("apiserver not reachable: {e}")),
        Err(_) => Err("apiserver did not answer within 5s".into()),
    }
}

/// A unique store name: `<prefix>-<6 random>`, lower case, within the Store name limit.
pub fn unique_name(prefix: &str) -> String {
    let suffix: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .map(|b| (b as char).to_ascii_lowercase())
        .filter(char::is_ascii_alphanumeric)
        .take(6)
        .collect();
    let max_prefix = names::store_name::MAX_LEN - 7;
    let prefix: String = prefix.chars().take(max_prefix).collect();
    format!("{}-{suffix}", prefix.trim_end_matches('-'))
}

/// What a test left behind, to be removed after it.
#[derive(Debug, Default)]
pub struct Leftovers {
    stores: Vec<String>,
    namespaces: Vec<String>,
}

impl Leftovers {
    /// Remembers a store.
    pub fn store(&mut self, name: &str) {
        if !self.stores.iter().any(|s| s == name) {
            self.stores.push(name.into());
        }
    }

    /// Remembers a namespace (kept by Retain).
    pub fn namespace(&mut self, name: &str) {
        if !self.namespaces.iter().any(|s| s == name) {
            self.namespaces.push(name.into());
        }
    }

    /// Takes everything remembered.
    pub fn take(&mut self) -> (Vec<String>, Vec<String>) {
        (
            std::mem::take(&mut self.stores),
            std::mem::take(&mut self.namespaces),
        )
    }
}

/// Everything a test gets.
pub struct Env {
    /// The cluster.
    pub client: Client,
    /// Run settings.
    pub settings: Settings,
    /// The local operator (None in-cluster).
    pub operator: AsyncMutex<Option<LocalOperator>>,
    leftovers: Mutex<Leftovers>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Env {
    /// Installs the CRD and, unless in-cluster, starts the local operator.
    pub async fn prepare(client: Client, settings: Settings) -> Result<Self, String> {
        install_crd(&client).await?;
        let operator = if settings.in_cluster {
            None
        } else {
            let config = match &settings.medusa_image {
                Some(image) => Some(medusa_config(image)?),
                None => None,
            };
            Some(LocalOperator::start(&settings.operator_bin, settings.metrics_port, config).await?)
        };
        Ok(Self {
            client,
            settings,
            operator: AsyncMutex::new(operator),
            leftovers: Mutex::default(),
        })
    }

    /// The Store API.
    pub fn stores(&self) -> Api<Store> {
        Api::all(self.client.clone())
    }

    fn leftovers(&self) -> std::sync::MutexGuard<'_, Leftovers> {
        self.leftovers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remembers a namespace to delete after the test.
    pub fn forget_namespace_later(&self, namespace: &str) {
        self.leftovers().namespace(namespace);
    }

    /// Creates a uniquely named store (owner `e2e@storefleet.io`), remembered for cleanup.
    pub async fn create_store(
        &self,
        prefix: &str,
        edit: impl FnOnce(&mut Store),
    ) -> Result<Store, String> {
        let name = unique_name(prefix);
        let spec: StoreSpec = serde_json::from_value(
            serde_json::json!({"engine": "woocommerce", "owner": "e2e@storefleet.io"}),
        )
        .map_err(|e| e.to_string())?;
        let mut store = Store::new(&name, spec);
        edit(&mut store);
        self.leftovers().store(&name);
        self.stores()
            .create(&PostParams::default(), &store)
            .await
            .map_err(|e| format!("create store {name}: {e}"))
    }

    /// Polls a store until `ready` holds.
    pub async fn wait_store(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        ready: impl Fn(&Store) -> bool,
    ) -> Result<Store, String> {
        let api = self.stores();
        let ready = &ready;
        wait::until(
            &format!("{what} on store {name}"),
            timeout,
            Duration::from_secs(2),
            || {
                let api = api.clone();
                async move {
                    let store = api
                        .get_opt(name)
                        .await
                        .map_err(|e| format!("get store {name}: {e}"))?;
                    Ok(match store {
                        Some(s) if ready(&s) => Ok(s),
                        Some(s) => Err(wait::describe(&s)),
                        None => Err("store does not exist".into()),
                    })
                }
            },
        )
        .await
    }

    /// Waits until a store no longer exists.
    pub async fn wait_store_gone(&self, name: &str, timeout: Duration) -> Result<(), String> {
        let api = self.stores();
        wait::until(
            &format!("store {name} to disappear"),
            timeout,
            Duration::from_secs(2),
            || {
                let api = api.clone();
                async move {
                    Ok(match api.get_opt(name).await.map_err(|e| e.to_string())? {
                        None => Ok(()),
                        Some(s) => Err(wait::describe(&s)),
                    })
                }
            },
        )
        .await
    }

    /// Waits until a namespace no longer exists.
    pub async fn wait_namespace_gone(
        &self,
        namespace: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        wait::until(
            &format!("namespace {namespace} to disappear"),
            timeout,
            Duration::from_secs(2),
            || {
                let api = api.clone();
                async move {
                    Ok(
                        match api.get_opt(namespace).await.map_err(|e| e.to_string())? {
                            None => Ok(()),
                            Some(ns) => Err(format!("phase {:?}", ns.status.and_then(|s| s.phase))),
                        },
                    )
                }
            },
        )
        .await
    }

    /// Deletes what the last test left behind: its stores (through the operator, with the
    /// finalizer forced off as a last resort) and kept namespaces.
    pub async fn cleanup(&self) -> Result<(), String> {
        let (stores, namespaces) = self.leftovers().take();
        let mut problems = vec![];
        for name in stores {
            match self.stores().delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => continue,
                Err(e) => problems.push(format!("delete store {name}: {e}")),
            }
            if self
                .wait_store_gone(&name, Duration::from_secs(180))
                .await
                .is_err()
            {
                let patch = serde_json::json!({"metadata": {"finalizers": null}});
                let _ = self
                    .stores()
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await;
                problems.push(format!(
                    "store {name} did not go away; its finalizer was removed by force"
                ));
            }
        }
        let api: Api<Namespace> = Api::all(self.client.clone());
        for ns in namespaces {
            match api.delete(&ns, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => problems.push(format!("delete namespace {ns}: {e}")),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// Applies the committed CRDs (server-side) and waits until they are Established.
pub async fn install_crd(client: &Client) -> Result<(), String> {
    install_one_crd(client, ROLLOUT_CRD_YAML).await?;
    install_one_crd(client, CRD_YAML).await
}

async fn install_one_crd(client: &Client, yaml: &str) -> Result<(), String> {
    let crd: CustomResourceDefinition =
        serde_saphyr::from_str(yaml).map_err(|e| format!("crd/ does not parse: {e}"))?;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = crd.name_any();
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&crd),
    )
    .await
    .map_err(|e| format!("install CRD {name}: {e}"))?;
    wait::until(
        "the CRD to be Established",
        Duration::from_secs(60),
        Duration::from_secs(1),
        || {
            let api = api.clone();
            let name = name.clone();
            async move {
                let crd = api.get(&name).await.map_err(|e| e.to_string())?;
                let established = crd
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True");
                Ok(if established {
                    Ok(())
                } else {
                    Err("not Established".into())
                })
            }
        },
    )
    .await
}

/// An operator configuration that runs Medusa stores from `image` (`repository:tag`).
fn medusa_config(image: &str) -> Result<std::path::PathBuf, String> {
    let (repository, tag) = image
        .rsplit_once(':')
        .filter(|(repository, tag)| {
            !repository.is_empty() && storefleet_types::spec::is_image_tag(tag)
        })
        .ok_or(format!(
            "STOREFLEET_E2E_MEDUSA_IMAGE={image} is not repository:tag"
        ))?;
    let path = std::env::temp_dir().join(format!(
        "storefleet-e2e-operator-{}.yaml",
        std::process::id()
    ));
    let text = format!(
        "images:\n  medusa:\n    repository: {}\n    tag: {}\n",
        serde_json::Value::String(repository.into()),
        serde_json::Value::String(tag.into())
    );
    std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_valid_store_names() {
        let a = unique_name("e2e-children");
        let b = unique_name("e2e-children");
        assert_ne!(a, b);
        for n in [a, b, unique_name(&"x".repeat(80))] {
            assert_eq!(names::store_name::check(&n), Ok(()), "{n}");
        }
    }

    #[test]
    fn the_medusa_image_becomes_an_operator_config() {
        let path = medusa_config("localhost/storefleet/storefleet-medusa:dev").expect("config");
        let text = std::fs::read_to_string(&path).expect("written");
        // The suite keeps its file for the operator it starts; this test leaves nothing behind.
        std::fs::remove_file(&path).expect("remove the config");
        let config = storefleet_operator::config::OperatorConfig::from_yaml(&text).expect("parses");
        assert_eq!(
            config.images.medusa.reference(None),
            "localhost/storefleet/storefleet-medusa:dev"
        );
        assert!(medusa_config("no-tag").is_err());
        assert!(medusa_config("registry:5000/").is_err());
        assert!(medusa_config("registry:5000/medusa").is_err(), "no tag");
    }

    #[test]
    fn leftovers_are_taken_once() {
        let mut l = Leftovers::default();
        l.store("a");
        l.store("a");
        l.namespace("store-b");
        assert_eq!(
            l.take(),
            (vec!["a".to_string()], vec!["store-b".to_string()])
        );
        assert_eq!(l.take(), (vec![], vec![]));
    }

    #[test]
    fn the_committed_crd_parses() {
        let crd: CustomResourceDefinition = serde_saphyr::from_str(CRD_YAML).expect("crd parses");
        assert_eq!(crd.name_any(), "stores.storefleet.io");
    }
}
