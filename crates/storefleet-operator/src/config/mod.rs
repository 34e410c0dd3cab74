//! Operator configuration: one typed struct, loaded from YAML, overridable by flags and env.
//!
//! Every key has a documented default (see `config/operator-config.yaml`, which is this
//! module's [`OperatorConfig::default`] written out and checked by a test). Unknown keys and
//! impossible values are errors that name the key's path, e.g.
//! `plans.small.resources.storefront.limits.memory: 4Gi is above the limit range's maximum 1Gi`.
//!
//! ```text
//!  mod.rs       OperatorConfig, loading (YAML, flags, env), errors
//!  sections.rs  controller, routing (ingress, gateway), network, images, setup
//!  plans.rs     what small, medium and large mean (quota, limit range, resources, volumes)
//!  checks/      every value (values.rs) and how each plan fits together (fit.rs: limit range,
//!               volumes, each engine's containers within its quota), all problems at once,
//!               collected by one Checker (mod.rs)
//! ```
//!
//! Typed values are checked once, at load: CIDRs are [`ipnet::IpNet`] (a bad one is a parse
//! error naming its key), quantities are compared with `kube_quantity`.

mod backup;
mod checks;
mod plans;
mod schedule;
mod sections;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use backup::{BackupConfig, Retention, S3Target};
pub use plans::{
    ComponentResources, Compute, ContainerResources, LimitRangeConfig, MedusaPlanConfig,
    MedusaResources, PlanConfig, Plans, QuotaConfig, VolumeSizes, probe_resources,
};
pub use schedule::{is_cron, is_schedule, next_fire, spread};
pub use sections::{
    ControllerConfig, CronConfig, DEFAULT_ALLOWED_ANNOTATIONS, GatewayConfig, GatewayRef, Image,
    Images, IngressConfig, NetworkConfig, ProbeConfig, RoutingMode, ServiceAccountRef, SetupConfig,
};
pub use storefleet_types::names::{is_dns_label as is_label, is_hostname};

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not YAML.
    #[error("config file {path} is not valid YAML: {message}")]
    Yaml {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A key is unknown or has the wrong type.
    #[error("{path}: {message}")]
    Shape {
        /// Dotted path of the key.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Values that parse but cannot work together.
    #[error("invalid operator configuration:\n  {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Invalid(Vec<ConfigIssue>),
}

/// One impossible value, with the path of its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted path of the key.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The WooCommerce release stores install by default (`woocommerceVersion`).
pub const DEFAULT_WOOCOMMERCE: &str = "10.0.2";

/// The whole configuration of storefleet-operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct OperatorConfig {
    /// Stores without `spec.domain` are served at `<name>.<baseDomain>`. A store may name its
    /// own host under it (`<name>.<baseDomain>` or below), never another store's.
    pub base_domain: String,
    /// Host names outside the base domain that an admin allowed for an owner: owner → hosts,
    /// each exact (`shop.alice.com`) or a wildcard for its subdomains (`*.alice.com`).
    pub owner_domains: BTreeMap<String, Vec<String>>,
    /// The ServiceAccount of Storefleet's API (the chart sets it): every store namespace gets a
    /// Role and RoleBinding that let it read that store's admin login (the Secret
    /// `admin-credentials`) and nothing else, so the API needs no cluster-wide Secret access.
    /// Null: no API reads logins.
    pub api_service_account: Option<ServiceAccountRef>,
    /// Hosts no Store may have, whatever its name or owner: the platform's own (the chart adds
    /// the dashboard's). A store whose host is one of them is `Stalled`/`HostReserved`.
    pub reserved_hosts: Vec<String>,
    /// A store's namespace is `<namespacePrefix><name>`.
    pub namespace_prefix: String,
    /// Stores beyond this number wait with `Stalled` / `StoreLimitReached`.
    pub max_stores: u32,
    /// Stores one owner may have provisioned; more wait with `StoreLimitReached`. No limit when
    /// null. Enforced here (not only in the API) so that it holds for every API replica,
    /// kubectl and GitOps.
    pub max_stores_per_owner: Option<u32>,
    /// A store not Ready this long after provisioning started is Failed (`ProvisioningTimeout`).
    pub provisioning_timeout_seconds: u64,
    /// How reconciles run.
    pub controller: ControllerConfig,
    /// How stores whose spec names neither `ingress` nor `gateway` are routed.
    pub routing: RoutingMode,
    /// Ingress defaults.
    pub ingress: IngressConfig,
    /// Gateway API routing; stores cannot use `spec.gateway` when null.
    pub gateway: Option<GatewayConfig>,
    /// StorageClass for both volumes when the Store names none; the cluster default when null.
    pub storage_class_name: Option<String>,
    /// StorageClasses a Store may name in `spec.storage.storageClassName` besides
    /// `storageClassName` (a class for other workloads, or one without the tenants' quota, is
    /// never reachable from a Store unless listed here).
    pub allowed_storage_class_names: Vec<String>,
    /// Egress rules.
    pub network: NetworkConfig,
    /// Container images (official images only; tags pinned).
    pub images: Images,
    /// The WooCommerce plugin version a new store installs when its spec pins none (a change
    /// sets up new stores only: a running store keeps what it runs until its spec or a
    /// StoreRollout moves it). Null installs the newest stable release, so that two stores made
    /// a day apart may run different versions.
    pub woocommerce_version: Option<String>,
    /// Backups (restic, one S3-compatible bucket); none when null.
    pub backup: Option<BackupConfig>,
    /// The setup Job.
    pub setup: SetupConfig,
    /// WordPress's scheduled work (WooCommerce stores' CronJob `cron`).
    pub cron: CronConfig,
    /// The checkout probe (every store's CronJob `probe`).
    pub probe: ProbeConfig,
    /// What each plan means.
    pub plans: Plans,
}

impl Default for OperatorConfig {
    fn default() -> Self {
        Self {
            base_domain: "shop.local".into(),
            owner_domains: BTreeMap::new(),
            reserved_hosts: Vec::new(),
            api_service_account: None,
            namespace_prefix: "store-".into(),
            max_stores: 100,
            max_stores_per_owner: None,
            provisioning_timeout_seconds: 1800,
            controller: ControllerConfig::default(),
            routing: RoutingMode::default(),
            ingress: IngressConfig::default(),
            gateway: None,
            storage_class_name: None,
            allowed_storage_class_names: Vec::new(),
            network: NetworkConfig::default(),
            images: Images::default(),
            woocommerce_version: Some(DEFAULT_WOOCOMMERCE.into()),
            backup: None,
            setup: SetupConfig::default(),
            cron: CronConfig::default(),
            probe: ProbeConfig::default(),
            plans: Plans::default(),
        }
    }
}

/// Settings that flags and environment variables override (flags win over env, env over file).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigOverrides {
    /// Base domain of stores without spec.domain.
    #[arg(long, env = "STOREFLEET_BASE_DOMAIN")]
    pub base_domain: Option<String>,
    /// Prefix of store namespaces.
    #[arg(long, env = "STOREFLEET_NAMESPACE_PREFIX")]
    pub namespace_prefix: Option<String>,
    /// IngressClass of store Ingresses.
    #[arg(long, env = "STOREFLEET_INGRESS_CLASS")]
    pub ingress_class: Option<String>,
    /// Namespace of the ingress controller.
    #[arg(long, env = "STOREFLEET_INGRESS_NAMESPACE")]
    pub ingress_namespace: Option<String>,
    /// Default cert-manager ClusterIssuer.
    #[arg(long, env = "STOREFLEET_CLUSTER_ISSUER")]
    pub cluster_issuer: Option<String>,
    /// StorageClass of store volumes.
    #[arg(long, env = "STOREFLEET_STORAGE_CLASS")]
    pub storage_class: Option<String>,
    /// Maximum number of stores.
    #[arg(long, env = "STOREFLEET_MAX_STORES")]
    pub max_stores: Option<u32>,
}

impl OperatorConfig {
    /// Loads the file (or the defaults when `path` is None), applies the overrides and checks
    /// the result.
    pub fn load(path: Option<&Path>, overrides: &ConfigOverrides) -> Result<Self, ConfigError> {
        let mut config = match path {
            None => Self::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                Self::from_yaml(&text).map_err(|e| match e {
                    ConfigError::Yaml { message, .. } => ConfigError::Yaml {
                        path: path.display().to_string(),
                        message,
                    },
                    other => other,
                })?
            }
        };
        config.apply(overrides);
        config.check()?;
        Ok(config)
    }

    /// Parses YAML (no overrides, no semantic checks). An empty document is the defaults.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let value: serde_json::Value =
            serde_saphyr::from_str(text).map_err(|e| ConfigError::Yaml {
                path: "<input>".into(),
                message: e.to_string(),
            })?;
        let value = if value.is_null() {
            serde_json::json!({})
        } else {
            value
        };
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            ConfigError::Shape {
                path,
                message: e.into_inner().to_string(),
            }
        })
    }

    /// Applies flag and env overrides.
    pub fn apply(&mut self, o: &ConfigOverrides) {
        let set = |target: &mut String, value: &Option<String>| {
            if let Some(v) = value {
                target.clone_from(v);
            }
        };
        set(&mut self.base_domain, &o.base_domain);
        set(&mut self.namespace_prefix, &o.namespace_prefix);
        if o.ingress_class.is_some() {
            self.ingress.class_name.clone_from(&o.ingress_class);
        }
        set(&mut self.ingress.controller_namespace, &o.ingress_namespace);
        if o.cluster_issuer.is_some() {
            self.ingress
                .default_cluster_issuer
                .clone_from(&o.cluster_issuer);
        }
        if o.storage_class.is_some() {
            self.storage_class_name.clone_from(&o.storage_class);
        }
        if let Some(max) = o.max_stores {
            self.max_stores = max;
        }
    }

    /// Whether stores may be routed by Gateway API HTTPRoutes (the operator then watches them).
    pub fn gateway_api(&self) -> bool {
        self.gateway.is_some()
    }

    /// The namespace of a store.
    pub fn namespace_for(&self, store_name: &str) -> String {
        format!("{}{}", self.namespace_prefix, store_name)
    }
}

/// A DNS subdomain (IngressClass, StorageClass, ClusterIssuer names): same rules as a host name.
pub fn is_subdomain(s: &str) -> bool {
    is_hostname(s)
}
