//! Operator configuration: one typed struct, loaded from YAML, overridable by flags and env.
//!
//! Every key has a documented default (see `config/operator-config.yaml`, which is this
//! module's [`OperatorConfig::default`] written out and checked by a test). Unknown keys and
//! impossible values are errors that name the key's path, e.g.
//! `plans.small.resources.storefront.limits.memory: 4Gi is above the limit range's maximum 1Gi`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use serde::{Deserialize, Serialize};
use storefleet_types::Plan;
use storefleet_types::names::store_name;
use storefleet_types::spec::is_image_tag;

use crate::quantity::{self, Millis};

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
    /// Ingress defaults.
    pub ingress: IngressConfig,
    /// StorageClass for both volumes when the Store names none; the cluster default when null.
    pub storage_class_name: Option<String>,
    /// Egress rules.
    pub network: NetworkConfig,
    /// Container images (official images only; tags pinned).
    pub images: Images,
    /// The setup Job.
    pub setup: SetupConfig,
    /// What each plan means.
    pub plans: Plans,
}

/// Controller tuning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ControllerConfig {
    /// How many Stores are reconciled at once.
    pub concurrency: u16,
}

/// Ingress defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct IngressConfig {
    /// IngressClass of store Ingresses.
    pub class_name: String,
    /// Namespace of the ingress controller's pods: the only source allowed to reach a storefront.
    pub controller_namespace: String,
    /// cert-manager ClusterIssuer used by `tls: {}`; `tls: {}` is an error when null.
    pub default_cluster_issuer: Option<String>,
    /// IngressClasses a Store may choose besides `className` (an internal class is never
    /// reachable from a Store unless listed here).
    pub allowed_class_names: Vec<String>,
    /// Ingress annotations a Store may set: exact keys, or `prefix*`. Anything else (snippets,
    /// server aliases, auth URLs, mirrors) is refused: it configures the shared controller.
    pub allowed_annotations: Vec<String>,
}

/// Ingress annotations a Store may set by default: per-shop limits that touch nothing shared.
pub const DEFAULT_ALLOWED_ANNOTATIONS: [&str; 8] = [
    "nginx.ingress.kubernetes.io/proxy-body-size",
    "nginx.ingress.kubernetes.io/proxy-read-timeout",
    "nginx.ingress.kubernetes.io/proxy-send-timeout",
    "nginx.ingress.kubernetes.io/proxy-connect-timeout",
    "nginx.ingress.kubernetes.io/limit-rps",
    "nginx.ingress.kubernetes.io/limit-rpm",
    "nginx.ingress.kubernetes.io/limit-connections",
    "nginx.ingress.kubernetes.io/ssl-redirect",
];

impl IngressConfig {
    /// Whether a Store may set the Ingress annotation `key`.
    pub fn allows_annotation(&self, key: &str) -> bool {
        self.allowed_annotations
            .iter()
            .any(|a| match a.strip_suffix('*') {
                Some(prefix) => key.starts_with(prefix),
                None => a == key,
            })
    }

    /// Whether a Store may choose the IngressClass `class`.
    pub fn allows_class(&self, class: &str) -> bool {
        class == self.class_name || self.allowed_class_names.iter().any(|c| c == class)
    }
}

/// Egress rules of store pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Destinations store pods may never reach on the internet-egress rule: private, link-local,
    /// loopback, carrier-grade NAT and the cluster's own pod and service ranges.
    pub blocked_egress_cidrs: Vec<String>,
}

/// One container image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Image {
    /// Repository, e.g. `docker.io/library/wordpress`.
    pub repository: String,
    /// Tag used when the Store's `spec.versions` names none.
    pub tag: String,
}

impl Image {
    fn new(repository: &str, tag: &str) -> Self {
        Self {
            repository: repository.into(),
            tag: tag.into(),
        }
    }

    /// `repository:tag`, with the Store's tag when it gives one.
    pub fn reference(&self, tag_override: Option<&str>) -> String {
        format!("{}:{}", self.repository, tag_override.unwrap_or(&self.tag))
    }
}

/// Container images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Images {
    /// Official WordPress image, apache variant.
    pub wordpress: Image,
    /// Official MariaDB image.
    pub mariadb: Image,
    /// Official WordPress image, WP-CLI variant (runs the setup Job).
    pub wp_cli: Image,
}

/// The setup Job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SetupConfig {
    /// `activeDeadlineSeconds` of the Job.
    pub active_deadline_seconds: i64,
    /// `backoffLimit` of the Job.
    pub backoff_limit: i32,
}

/// What each plan means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Plans {
    /// `plan: small` (the default plan).
    pub small: PlanConfig,
    /// `plan: medium`.
    pub medium: PlanConfig,
    /// `plan: large`.
    pub large: PlanConfig,
}

impl Plans {
    /// The configuration of one plan.
    pub fn get(&self, plan: Plan) -> &PlanConfig {
        match plan {
            Plan::Small => &self.small,
            Plan::Medium => &self.medium,
            Plan::Large => &self.large,
        }
    }
}

/// One plan, given in full when set in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanConfig {
    /// ResourceQuota of the store's namespace.
    pub quota: QuotaConfig,
    /// LimitRange of the store's namespace.
    pub limit_range: LimitRangeConfig,
    /// Container resources per component.
    pub resources: ComponentResources,
    /// Default volume sizes.
    pub volumes: VolumeSizes,
}

/// ResourceQuota `hard` values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuotaConfig {
    /// `requests.cpu`.
    pub requests_cpu: Quantity,
    /// `requests.memory`.
    pub requests_memory: Quantity,
    /// `limits.cpu`.
    pub limits_cpu: Quantity,
    /// `limits.memory`.
    pub limits_memory: Quantity,
    /// `requests.storage`: all PVCs together.
    pub requests_storage: Quantity,
    /// `persistentvolumeclaims`.
    pub persistent_volume_claims: u32,
    /// `pods`.
    pub pods: u32,
    /// `services`.
    pub services: u32,
}

/// A cpu + memory pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CpuMemory {
    /// CPU.
    pub cpu: Quantity,
    /// Memory.
    pub memory: Quantity,
}

/// LimitRange values for containers and PVCs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitRangeConfig {
    /// Largest container limits.
    pub container_max: CpuMemory,
    /// Limits of a container that sets none.
    pub container_default: CpuMemory,
    /// Requests of a container that sets none.
    pub container_default_request: CpuMemory,
    /// Largest PVC.
    pub volume_max: Quantity,
}

/// Requests and limits of one container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerResources {
    /// Requests.
    pub requests: CpuMemory,
    /// Limits.
    pub limits: CpuMemory,
}

/// Container resources per component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComponentResources {
    /// Database container.
    pub database: ContainerResources,
    /// Storefront container.
    pub storefront: ContainerResources,
    /// Setup Job container.
    pub setup: ContainerResources,
}

/// Default volume sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeSizes {
    /// Database volume.
    pub database: Quantity,
    /// Storefront files volume.
    pub storefront: Quantity,
}

impl Default for OperatorConfig {
    fn default() -> Self {
        Self {
            base_domain: "shop.local".into(),
            owner_domains: BTreeMap::new(),
            namespace_prefix: "store-".into(),
            max_stores: 100,
            max_stores_per_owner: None,
            provisioning_timeout_seconds: 1800,
            controller: ControllerConfig::default(),
            ingress: IngressConfig::default(),
            storage_class_name: None,
            network: NetworkConfig::default(),
            images: Images::default(),
            setup: SetupConfig::default(),
            plans: Plans::default(),
        }
    }
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self { concurrency: 8 }
    }
}

impl Default for IngressConfig {
    fn default() -> Self {
        Self {
            class_name: "nginx".into(),
            controller_namespace: "ingress-nginx".into(),
            default_cluster_issuer: None,
            allowed_class_names: Vec::new(),
            allowed_annotations: DEFAULT_ALLOWED_ANNOTATIONS
                .iter()
                .map(|a| a.to_string())
                .collect(),
        }
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        let blocked = [
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "169.254.0.0/16",
            "100.64.0.0/10",
            "127.0.0.0/8",
            "fc00::/7",
            "fe80::/10",
            "::1/128",
        ];
        Self {
            blocked_egress_cidrs: blocked.iter().map(ToString::to_string).collect(),
        }
    }
}

impl Default for Images {
    fn default() -> Self {
        Self {
            wordpress: Image::new("docker.io/library/wordpress", "6.8.3-php8.3-apache"),
            mariadb: Image::new("docker.io/library/mariadb", "11.4.8"),
            wp_cli: Image::new("docker.io/library/wordpress", "cli-2.12.0-php8.3"),
        }
    }
}

impl Default for SetupConfig {
    fn default() -> Self {
        Self {
            active_deadline_seconds: 1200,
            backoff_limit: 3,
        }
    }
}

fn q(s: &str) -> Quantity {
    Quantity(s.into())
}

fn cm(cpu: &str, memory: &str) -> CpuMemory {
    CpuMemory {
        cpu: q(cpu),
        memory: q(memory),
    }
}

fn res(requests: (&str, &str), limits: (&str, &str)) -> ContainerResources {
    ContainerResources {
        requests: cm(requests.0, requests.1),
        limits: cm(limits.0, limits.1),
    }
}

impl PlanConfig {
    /// The built-in plan `small`, `medium` or `large`.
    pub fn builtin(plan: Plan) -> Self {
        // (multiplier of the small plan's CPU/memory, database size, storefront size)
        let (m, db, sf): (u32, &str, &str) = match plan {
            Plan::Small => (1, "2Gi", "2Gi"),
            Plan::Medium => (2, "10Gi", "5Gi"),
            Plan::Large => (4, "50Gi", "20Gi"),
        };
        let cpu = |millicores: u32| {
            let v = millicores * m;
            if v.is_multiple_of(1000) {
                (v / 1000).to_string()
            } else {
                format!("{v}m")
            }
        };
        let mem = |mebibytes: u32| format!("{}Mi", mebibytes * m);
        let db_total = quantity::parse(db).map(|v| v.0).unwrap_or_default();
        let sf_total = quantity::parse(sf).map(|v| v.0).unwrap_or_default();
        // Storage quota: both volumes plus 50% head room for a resize or a retained extra claim.
        let storage_gi = (db_total + sf_total) * 3 / 2 / (1i128 << 30) / 1000;
        Self {
            quota: QuotaConfig {
                requests_cpu: q(&cpu(1000)),
                requests_memory: q(&mem(1536)),
                limits_cpu: q(&cpu(3000)),
                limits_memory: q(&mem(3072)),
                requests_storage: q(&format!("{storage_gi}Gi")),
                persistent_volume_claims: 4,
                pods: 10,
                services: 5,
            },
            limit_range: LimitRangeConfig {
                container_max: cm(&cpu(1000), &mem(1024)),
                container_default: cm(&cpu(250), &mem(256)),
                container_default_request: cm(&cpu(50), &mem(64)),
                volume_max: q(db),
            },
            resources: ComponentResources {
                database: res((&cpu(100), &mem(256)), (&cpu(500), &mem(512))),
                storefront: res((&cpu(100), &mem(256)), (&cpu(1000), &mem(512))),
                setup: res((&cpu(100), &mem(128)), (&cpu(500), &mem(512))),
            },
            volumes: VolumeSizes {
                database: q(db),
                storefront: q(sf),
            },
        }
    }
}

impl Default for Plans {
    fn default() -> Self {
        Self {
            small: PlanConfig::builtin(Plan::Small),
            medium: PlanConfig::builtin(Plan::Medium),
            large: PlanConfig::builtin(Plan::Large),
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
        set(&mut self.ingress.class_name, &o.ingress_class);
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

    /// Checks every value and how they fit together; lists all problems at once.
    pub fn check(&self) -> Result<(), ConfigError> {
        let mut c = Checker::default();
        if !is_hostname(&self.base_domain) {
            c.issue(
                "baseDomain",
                format!("{:?} is not a lower-case DNS name", self.base_domain),
            );
        }
        check_prefix(&mut c, &self.namespace_prefix);
        if self.max_stores == 0 {
            c.issue("maxStores", "must be at least 1");
        }
        if self.provisioning_timeout_seconds < 60 {
            c.issue("provisioningTimeoutSeconds", "must be at least 60");
        }
        if self.controller.concurrency == 0 {
            c.issue("controller.concurrency", "must be at least 1");
        }
        if !is_subdomain(&self.ingress.class_name) {
            c.issue(
                "ingress.className",
                format!(
                    "{:?} is not a valid IngressClass name",
                    self.ingress.class_name
                ),
            );
        }
        if !is_label(&self.ingress.controller_namespace) {
            c.issue(
                "ingress.controllerNamespace",
                format!(
                    "{:?} is not a valid namespace name",
                    self.ingress.controller_namespace
                ),
            );
        }
        if let Some(issuer) = &self.ingress.default_cluster_issuer
            && !is_subdomain(issuer)
        {
            c.issue(
                "ingress.defaultClusterIssuer",
                format!("{issuer:?} is not a valid ClusterIssuer name"),
            );
        }
        if let Some(class) = &self.storage_class_name
            && !is_subdomain(class)
        {
            c.issue(
                "storageClassName",
                format!("{class:?} is not a valid StorageClass name"),
            );
        }
        for (i, cidr) in self.network.blocked_egress_cidrs.iter().enumerate() {
            if let Err(why) = parse_cidr(cidr) {
                c.issue(&format!("network.blockedEgressCidrs[{i}]"), why);
            }
        }
        for (key, image) in [
            ("wordpress", &self.images.wordpress),
            ("mariadb", &self.images.mariadb),
            ("wpCli", &self.images.wp_cli),
        ] {
            let last_segment = image.repository.rsplit('/').next().unwrap_or_default();
            if image.repository.is_empty()
                || image
                    .repository
                    .contains(|ch: char| ch.is_whitespace() || ch == '@')
                || last_segment.contains(':')
            {
                c.issue(
                    &format!("images.{key}.repository"),
                    format!("{:?} is not an image repository", image.repository),
                );
            }
            if !is_image_tag(&image.tag) {
                c.issue(
                    &format!("images.{key}.tag"),
                    format!("{:?} is not an image tag", image.tag),
                );
            }
        }
        if self.setup.active_deadline_seconds < 60 {
            c.issue("setup.activeDeadlineSeconds", "must be at least 60");
        }
        if !(0..=10).contains(&self.setup.backoff_limit) {
            c.issue("setup.backoffLimit", "must be between 0 and 10");
        }
        for plan in [Plan::Small, Plan::Medium, Plan::Large] {
            check_plan(
                &mut c,
                &format!("plans.{}", plan.as_str()),
                self.plans.get(plan),
            );
        }
        c.finish()
    }

    /// The namespace of a store.
    pub fn namespace_for(&self, store_name: &str) -> String {
        format!("{}{}", self.namespace_prefix, store_name)
    }
}

#[derive(Default)]
struct Checker {
    issues: Vec<ConfigIssue>,
}

impl Checker {
    fn issue(&mut self, path: &str, message: impl Into<String>) {
        self.issues.push(ConfigIssue {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Parses a quantity that must be positive; records an issue and returns None otherwise.
    fn positive(&mut self, path: &str, value: &Quantity) -> Option<Millis> {
        match quantity::parse(&value.0) {
            Ok(v) if v > Millis::ZERO => Some(v),
            Ok(_) => {
                self.issue(path, format!("{} must be greater than zero", value.0));
                None
            }
            Err(e) => {
                self.issue(path, e.to_string());
                None
            }
        }
    }

    /// Records an issue when `value` (at `path`) exceeds `bound` (described by `what`).
    fn at_most(
        &mut self,
        path: &str,
        value: Option<Millis>,
        bound: Option<Millis>,
        raw: &str,
        what: &str,
    ) {
        if let (Some(v), Some(b)) = (value, bound)
            && v > b
        {
            self.issue(path, format!("{raw} is above {what} {b}"));
        }
    }

    fn finish(self) -> Result<(), ConfigError> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(self.issues))
        }
    }
}

fn check_prefix(c: &mut Checker, prefix: &str) {
    let max = store_name::NAMESPACE_PREFIX_MAX_LEN;
    if prefix.len() > max {
        c.issue(
            "namespacePrefix",
            format!("must be at most {max} characters so that every namespace name is valid"),
        );
    }
    let ok_chars = prefix
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let starts = prefix.bytes().next().is_none_or(|b| b.is_ascii_lowercase());
    if !ok_chars || !starts {
        c.issue(
            "namespacePrefix",
            format!(
                "{prefix:?} must be lower case letters, digits and '-' and start with a letter"
            ),
        );
    }
}

fn check_plan(c: &mut Checker, path: &str, plan: &PlanConfig) {
    let p = |suffix: &str| format!("{path}.{suffix}");
    let quota = &plan.quota;
    let q_req_cpu = c.positive(&p("quota.requestsCpu"), &quota.requests_cpu);
    let q_req_mem = c.positive(&p("quota.requestsMemory"), &quota.requests_memory);
    let q_lim_cpu = c.positive(&p("quota.limitsCpu"), &quota.limits_cpu);
    let q_lim_mem = c.positive(&p("quota.limitsMemory"), &quota.limits_memory);
    let q_storage = c.positive(&p("quota.requestsStorage"), &quota.requests_storage);
    let lr = &plan.limit_range;
    let max_cpu = c.positive(&p("limitRange.containerMax.cpu"), &lr.container_max.cpu);
    let max_mem = c.positive(
        &p("limitRange.containerMax.memory"),
        &lr.container_max.memory,
    );
    let def_cpu = c.positive(
        &p("limitRange.containerDefault.cpu"),
        &lr.container_default.cpu,
    );
    let def_mem = c.positive(
        &p("limitRange.containerDefault.memory"),
        &lr.container_default.memory,
    );
    let dreq_cpu = c.positive(
        &p("limitRange.containerDefaultRequest.cpu"),
        &lr.container_default_request.cpu,
    );
    let dreq_mem = c.positive(
        &p("limitRange.containerDefaultRequest.memory"),
        &lr.container_default_request.memory,
    );
    let vol_max = c.positive(&p("limitRange.volumeMax"), &lr.volume_max);
    c.at_most(
        &p("limitRange.containerDefault.cpu"),
        def_cpu,
        max_cpu,
        &lr.container_default.cpu.0,
        "the maximum",
    );
    c.at_most(
        &p("limitRange.containerDefault.memory"),
        def_mem,
        max_mem,
        &lr.container_default.memory.0,
        "the maximum",
    );
    c.at_most(
        &p("limitRange.containerDefaultRequest.cpu"),
        dreq_cpu,
        def_cpu,
        &lr.container_default_request.cpu.0,
        "the default limit",
    );
    c.at_most(
        &p("limitRange.containerDefaultRequest.memory"),
        dreq_mem,
        def_mem,
        &lr.container_default_request.memory.0,
        "the default limit",
    );

    let mut sums = [Millis::ZERO; 4]; // requests cpu, requests memory, limits cpu, limits memory
    let components = [
        ("database", &plan.resources.database),
        ("storefront", &plan.resources.storefront),
        ("setup", &plan.resources.setup),
    ];
    for (name, r) in components {
        let rp = |suffix: &str| format!("{path}.resources.{name}.{suffix}");
        let req_cpu = c.positive(&rp("requests.cpu"), &r.requests.cpu);
        let req_mem = c.positive(&rp("requests.memory"), &r.requests.memory);
        let lim_cpu = c.positive(&rp("limits.cpu"), &r.limits.cpu);
        let lim_mem = c.positive(&rp("limits.memory"), &r.limits.memory);
        c.at_most(
            &rp("requests.cpu"),
            req_cpu,
            lim_cpu,
            &r.requests.cpu.0,
            "its limit",
        );
        c.at_most(
            &rp("requests.memory"),
            req_mem,
            lim_mem,
            &r.requests.memory.0,
            "its limit",
        );
        c.at_most(
            &rp("limits.cpu"),
            lim_cpu,
            max_cpu,
            &r.limits.cpu.0,
            "the limit range's maximum",
        );
        c.at_most(
            &rp("limits.memory"),
            lim_mem,
            max_mem,
            &r.limits.memory.0,
            "the limit range's maximum",
        );
        for (sum, v) in sums.iter_mut().zip([req_cpu, req_mem, lim_cpu, lim_mem]) {
            *sum = sum.plus(v.unwrap_or(Millis::ZERO));
        }
    }
    let totals = [
        ("quota.requestsCpu", q_req_cpu, "requests.cpu"),
        ("quota.requestsMemory", q_req_mem, "requests.memory"),
        ("quota.limitsCpu", q_lim_cpu, "limits.cpu"),
        ("quota.limitsMemory", q_lim_mem, "limits.memory"),
    ];
    for ((key, bound, what), sum) in totals.into_iter().zip(sums) {
        if let Some(b) = bound
            && sum > b
        {
            c.issue(
                &p(key),
                format!("{b} is below the {what} of the store's pods together ({sum})"),
            );
        }
    }
    let db = c.positive(&p("volumes.database"), &plan.volumes.database);
    let sf = c.positive(&p("volumes.storefront"), &plan.volumes.storefront);
    c.at_most(
        &p("volumes.database"),
        db,
        vol_max,
        &plan.volumes.database.0,
        "the limit range's volumeMax",
    );
    c.at_most(
        &p("volumes.storefront"),
        sf,
        vol_max,
        &plan.volumes.storefront.0,
        "the limit range's volumeMax",
    );
    if let (Some(db), Some(sf), Some(storage)) = (db, sf, q_storage)
        && db.plus(sf) > storage
    {
        c.issue(
            &p("quota.requestsStorage"),
            format!(
                "{storage} is below the two volumes together ({})",
                db.plus(sf)
            ),
        );
    }
    if quota.persistent_volume_claims < 2 {
        c.issue(
            &p("quota.persistentVolumeClaims"),
            "must be at least 2 (database and storefront)",
        );
    }
    if quota.pods < 3 {
        c.issue(
            &p("quota.pods"),
            "must be at least 3 (database, storefront, setup)",
        );
    }
    if quota.services < 2 {
        c.issue(
            &p("quota.services"),
            "must be at least 2 (database and storefront)",
        );
    }
}

pub use storefleet_types::names::{is_dns_label as is_label, is_hostname};

/// A DNS subdomain (IngressClass, StorageClass, ClusterIssuer names): same rules as a host name.
pub fn is_subdomain(s: &str) -> bool {
    is_hostname(s)
}

/// Parses `addr/prefix`, checking the prefix fits the address family.
pub fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let (addr, len) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not a CIDR (address/prefix)"))?;
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("{s:?} has an invalid address"))?;
    let len: u8 = len
        .parse()
        .map_err(|_| format!("{s:?} has an invalid prefix length"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(format!("{s:?}: prefix length {len} is above {max}"));
    }
    Ok((addr, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(yaml: &str) -> Vec<String> {
        let config = OperatorConfig::from_yaml(yaml).expect("shape is fine");
        match config.check() {
            Ok(()) => vec![],
            Err(ConfigError::Invalid(issues)) => {
                issues.into_iter().map(|i| i.to_string()).collect()
            }
            Err(other) => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn defaults_are_valid() {
        OperatorConfig::default()
            .check()
            .expect("defaults pass their own checks");
        assert_eq!(
            OperatorConfig::from_yaml("").expect("empty is defaults"),
            OperatorConfig::default()
        );
    }

    #[test]
    fn committed_sample_config_is_the_defaults() {
        let sample = include_str!("../../../config/operator-config.yaml");
        assert_eq!(
            OperatorConfig::from_yaml(sample).expect("sample parses"),
            OperatorConfig::default()
        );
    }

    #[test]
    fn partial_files_keep_other_defaults() {
        let c = OperatorConfig::from_yaml(
            "baseDomain: shops.example.com\ningress:\n  className: traefik\n",
        )
        .expect("valid");
        assert_eq!(c.base_domain, "shops.example.com");
        assert_eq!(c.ingress.class_name, "traefik");
        assert_eq!(c.ingress.controller_namespace, "ingress-nginx");
        assert_eq!(c.plans, Plans::default());
    }

    #[test]
    fn unknown_keys_name_their_path() {
        let err = OperatorConfig::from_yaml("ingress:\n  clasName: nginx\n").expect_err("typo");
        let text = err.to_string();
        assert!(text.starts_with("ingress"), "{text}");
        assert!(text.contains("clasName"), "{text}");
        let err = OperatorConfig::from_yaml("plans:\n  small:\n    quota: {}\n")
            .expect_err("incomplete plan");
        assert!(err.to_string().starts_with("plans.small.quota"), "{err}");
        let err = OperatorConfig::from_yaml("maxStores: many\n").expect_err("wrong type");
        assert!(err.to_string().starts_with("maxStores"), "{err}");
    }

    #[test]
    fn impossible_values_name_their_path() {
        let found = issues(
            "baseDomain: Shop_Local\nnamespacePrefix: Store-with-a-far-too-long-prefix-\nmaxStores: 0\n",
        );
        assert!(
            found.iter().any(|i| i.starts_with("baseDomain:")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|i| i.starts_with("namespacePrefix:") && i.contains("at most")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|i| i.starts_with("namespacePrefix:") && i.contains("lower case")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|i| i.starts_with("maxStores:")),
            "{found:?}"
        );
        let found = issues(
            "network:\n  blockedEgressCidrs: [10.0.0.0/33, nope]\nimages:\n  mariadb: {repository: mariadb, tag: 'bad tag'}\n",
        );
        assert!(
            found
                .iter()
                .any(|i| i.starts_with("network.blockedEgressCidrs[0]")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|i| i.starts_with("network.blockedEgressCidrs[1]")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|i| i.starts_with("images.mariadb.tag")),
            "{found:?}"
        );
    }

    #[test]
    fn plans_that_cannot_fit_are_rejected() {
        let mut config = OperatorConfig::default();
        config.plans.small.resources.storefront.limits.memory = q("4Gi");
        config.plans.small.resources.database.requests.cpu = q("2");
        config.plans.small.volumes.database = q("100Gi");
        config.plans.small.quota.pods = 1;
        let Err(ConfigError::Invalid(found)) = config.check() else {
            panic!("must fail")
        };
        let found: Vec<String> = found.into_iter().map(|i| i.to_string()).collect();
        let expect = [
            "plans.small.resources.storefront.limits.memory: 4Gi is above the limit range's maximum",
            "plans.small.resources.database.requests.cpu: 2 is above its limit",
            "plans.small.quota.limitsMemory:",
            "plans.small.quota.requestsCpu:",
            "plans.small.volumes.database: 100Gi is above the limit range's volumeMax",
            "plans.small.quota.requestsStorage:",
            "plans.small.quota.pods:",
        ];
        for e in expect {
            assert!(
                found.iter().any(|f| f.starts_with(e)),
                "missing {e:?} in {found:#?}"
            );
        }
    }

    #[test]
    fn overrides_win() {
        let overrides = ConfigOverrides {
            base_domain: Some("example.org".into()),
            cluster_issuer: Some("letsencrypt".into()),
            max_stores: Some(3),
            ..Default::default()
        };
        let c = OperatorConfig::load(None, &overrides).expect("valid");
        assert_eq!(c.base_domain, "example.org");
        assert_eq!(
            c.ingress.default_cluster_issuer.as_deref(),
            Some("letsencrypt")
        );
        assert_eq!(c.max_stores, 3);
        let bad = ConfigOverrides {
            namespace_prefix: Some("UPPER-".into()),
            ..Default::default()
        };
        assert!(OperatorConfig::load(None, &bad).is_err());
    }

    #[test]
    fn builtin_plans_grow() {
        let small = PlanConfig::builtin(Plan::Small);
        let large = PlanConfig::builtin(Plan::Large);
        let s = quantity::parse(&small.quota.limits_memory.0).expect("valid");
        let l = quantity::parse(&large.quota.limits_memory.0).expect("valid");
        assert!(l > s);
        assert_eq!(small.quota.requests_storage.0, "6Gi");
    }
}
