//! `Store.spec`: what a platform team or a tenant asks for.
//!
//! Every constraint that can be checked at admission lives in the schema (patterns, lengths,
//! closed enums) or in a CEL rule (`x-kubernetes-validations`), so a bad Store is rejected by the
//! apiserver with a clear message and never half-applied. The operator re-checks the same rules
//! (and the ones that need its configuration) in its validate step.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::status::StoreStatus;

/// A fully isolated online shop: one namespace with its database, storefront, ingress and a
/// setup Job that leaves a working store behind.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "storefleet.io",
    version = "v1alpha1",
    kind = "Store",
    plural = "stores",
    singular = "store",
    shortname = "sto",
    category = "storefleet",
    status = "StoreStatus",
    derive = "PartialEq",
    doc = "A Store is one isolated online shop: a namespace with its database, storefront, ingress and setup, driven to Ready by storefleet-operator.",
    selectable = ".spec.owner",
    selectable = ".spec.engine",
    printcolumn(name = "Engine", type_ = "string", json_path = ".spec.engine"),
    printcolumn(name = "Plan", type_ = "string", json_path = ".spec.plan"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].message"),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.url"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(name = "Upgrade", type_ = "string", json_path = ".status.upgrade.phase", priority = 1),
    validation = Rule::new("self.metadata.name.size() <= 40").message("metadata.name must be at most 40 characters: it becomes part of the store's namespace name"),
    validation = Rule::new("self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')").message("metadata.name must be a DNS label that starts with a letter: lower case letters, digits and '-'"),
    validation = Rule::new("!(has(self.spec.ingress) && has(self.spec.gateway))").message("spec: set ingress or gateway, not both: a store is routed by an Ingress or by a Gateway API HTTPRoute"),
    validation = Rule::new("!has(self.spec.versions) || (self.spec.engine == 'medusa' ? !(has(self.spec.versions.wordpress) || has(self.spec.versions.mariadb) || has(self.spec.versions.wpCli) || has(self.spec.versions.woocommerce)) : !(has(self.spec.versions.medusa) || has(self.spec.versions.postgres) || has(self.spec.versions.redis)))").message("spec.versions: wordpress, mariadb, wpCli and woocommerce are for engine woocommerce; medusa, postgres and redis for engine medusa"),
    validation = Rule::new("self.spec.engine != 'medusa' || !has(self.spec.setup) || !(has(self.spec.setup.theme) || has(self.spec.setup.paymentMethods))").message("spec.setup: theme and paymentMethods are WooCommerce settings; a Medusa store takes payments with its manual (system) provider"),
    validation = Rule::new("(has(self.spec.storage) && has(self.spec.storage.storageClassName)) == (has(oldSelf.spec.storage) && has(oldSelf.spec.storage.storageClassName)) && (!(has(self.spec.storage) && has(self.spec.storage.storageClassName)) || self.spec.storage.storageClassName == oldSelf.spec.storage.storageClassName)").message("spec.storage.storageClassName is immutable: a volume cannot move to another StorageClass; create a new store instead"),
    validation = Rule::new("!(has(oldSelf.spec.storage) && has(oldSelf.spec.storage.databaseSize)) || (has(self.spec.storage) && has(self.spec.storage.databaseSize) && quantity(self.spec.storage.databaseSize).compareTo(quantity(oldSelf.spec.storage.databaseSize)) >= 0)").message("spec.storage.databaseSize can only grow: volumes never shrink, and a size once set stays set"),
    validation = Rule::new("!(has(oldSelf.spec.storage) && has(oldSelf.spec.storage.storefrontSize)) || (has(self.spec.storage) && has(self.spec.storage.storefrontSize) && quantity(self.spec.storage.storefrontSize).compareTo(quantity(oldSelf.spec.storage.storefrontSize)) >= 0)").message("spec.storage.storefrontSize can only grow: volumes never shrink, and a size once set stays set"),
    validation = Rule::new("(has(self.spec.setup) && has(self.spec.setup.adminEmail) ? self.spec.setup.adminEmail : (self.spec.owner.matches('^[^@]+@[^@]+$') ? self.spec.owner : 'admin@' + (has(self.spec.domain) ? self.spec.domain : self.metadata.name))) == (has(oldSelf.spec.setup) && has(oldSelf.spec.setup.adminEmail) ? oldSelf.spec.setup.adminEmail : (oldSelf.spec.owner.matches('^[^@]+@[^@]+$') ? oldSelf.spec.owner : 'admin@' + (has(oldSelf.spec.domain) ? oldSelf.spec.domain : oldSelf.metadata.name)))").message("spec.setup.adminEmail: the admin's e-mail (by default the owner's, or admin@ the shop's host) is fixed once the store exists: it is in the admin-credentials Secret and, for Medusa, it is the admin's login; change it in the shop's admin. To change the owner or the domain, set setup.adminEmail to the current e-mail"),
    validation = Rule::new("self.spec.engine != 'medusa' || (has(self.spec.setup) && has(self.spec.setup.currency) ? self.spec.setup.currency : 'USD') == (has(oldSelf.spec.setup) && has(oldSelf.spec.setup.currency) ? oldSelf.spec.setup.currency : 'USD')").message("spec.setup.currency: a Medusa store's currency is fixed once it exists (its region, prices and orders are in it); create a new store for another currency"),
    validation = Rule::new("{'small': 0, 'medium': 1, 'large': 2}[self.spec.plan] >= {'small': 0, 'medium': 1, 'large': 2}[oldSelf.spec.plan]").message(kube::core::Message::Expression("'spec.plan: ' + oldSelf.spec.plan + ' cannot become ' + self.spec.plan + ': a smaller plan would shrink the volumes, and volumes never shrink (create a new store on the smaller plan instead)'".into()))
)]
#[serde(rename_all = "camelCase")]
pub struct StoreSpec {
    /// The shop software. Immutable: a store cannot change engine, create a new store instead.
    #[x_kube(validation = Rule::new("self == oldSelf").message("engine is immutable: create a new store to change it"))]
    pub engine: Engine,

    /// The tenant that owns this store (user name or e-mail); the API shows a tenant only its own
    /// stores. Selectable: `kubectl get stores --field-selector spec.owner=alice@example.com`.
    #[schemars(length(min = 1, max = 254), regex(pattern = r"^[^\s]+$"))]
    pub owner: String,

    /// Size of the store: quota, limit range, container resources and volume sizes.
    #[serde(default)]
    pub plan: Plan,

    /// Shop title shown to customers. Defaults to the store's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub display_name: Option<String>,

    /// Host name of the shop. Defaults to `<name>.<baseDomain>` of the operator configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 253),
        regex(
            pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$"
        )
    )]
    pub domain: Option<String>,

    /// Ingress settings; the operator's configured ingress class is used when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,

    /// Route the shop with a Gateway API `HTTPRoute` attached to a Gateway the platform runs
    /// (instead of an Ingress). `{}` uses the operator's default Gateway; a named Gateway must be
    /// one the operator configuration offers. Absent: the operator's default routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewaySpec>,

    /// Serve the shop over HTTPS. `{}` uses the operator's default cert-manager ClusterIssuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,

    /// Storage class and volume sizes; the plan's sizes and the operator's class when absent.
    /// Sizes only grow (the claims are expanded in place where the StorageClass allows it); the
    /// class is fixed at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageSpec>,

    /// Image tags; the operator's pinned defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<VersionsSpec>,

    /// What the setup Job configures in the shop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<SetupSpec>,

    /// Backups (restic, to the platform's bucket): on by default where the operator has a
    /// backup target; the schedule and retention are the operator's unless given here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupSpec>,

    /// Start this new store from a backup of one of its owner's stores (the owner's own
    /// repositories only: a store's repository lives under its owner and is encrypted with a
    /// key derived from the owner). The database and files are restored before setup runs;
    /// setup then adopts the restored shop under this store's admin and host. Fixed once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("restoreFrom is fixed once set: create a new store to restore another backup"))]
    pub restore_from: Option<RestoreFromSpec>,

    /// What deleting the Store does to its namespace and data.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// Hibernate the store: every workload at zero and its CronJobs suspended; its volumes,
    /// Secrets and route are kept, and it still counts against its owner's and the platform's
    /// caps. `false` (or absent) wakes it, without running setup again. A store asked to
    /// hibernate before its setup has finished hibernates once it has.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hibernate: bool,
}

/// Which backup a new store starts from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreFromSpec {
    /// The store whose backups to restore (same owner; it may have been deleted since).
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub store: String,
    /// A snapshot id (8 to 64 hex digits, as `restic snapshots` prints them), or `latest`.
    #[serde(default = "latest")]
    #[schemars(regex(pattern = r"^(latest|[0-9a-f]{8,64})$"))]
    pub snapshot: String,
}

fn latest() -> String {
    "latest".into()
}

/// A store's backups.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    /// `false` turns scheduled backups off (the repository and its snapshots are kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,

    /// When to back up (cron, five fields, UTC; or `@daily`, ...); the operator's default when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 100),
        regex(pattern = r"^(@[a-z]+|[0-9A-Za-z*/,-]+( +[0-9A-Za-z*/,-]+){4})$")
    )]
    pub schedule: Option<String>,

    /// When to drill (restore the newest backup into a throwaway namespace, start the shop there
    /// and check it: cron, five fields, UTC); the operator's `backup.drillSchedule` (weekly) when
    /// absent. The first drill runs right after the first backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 100),
        regex(pattern = r"^(@[a-z]+|[0-9A-Za-z*/,-]+( +[0-9A-Za-z*/,-]+){4})$")
    )]
    pub drill_schedule: Option<String>,

    /// What to keep; the operator's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionSpec>,
}

/// How many snapshots a store keeps.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.daily + self.weekly + self.monthly > 0").message("the retention must keep at least one snapshot"))]
pub struct RetentionSpec {
    /// The last snapshot of each of this many days.
    #[serde(default)]
    #[schemars(range(min = 0, max = 366), extend("format" = "int32"))]
    pub daily: u32,
    /// The last snapshot of each of this many weeks.
    #[serde(default)]
    #[schemars(range(min = 0, max = 260), extend("format" = "int32"))]
    pub weekly: u32,
    /// The last snapshot of each of this many months.
    #[serde(default)]
    #[schemars(range(min = 0, max = 120), extend("format" = "int32"))]
    pub monthly: u32,
}

/// The shop software.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// WordPress + WooCommerce on MariaDB.
    Woocommerce,
    /// MedusaJS on PostgreSQL.
    Medusa,
}

impl Store {
    /// Whether the Store carries the operator's finalizer (`storefleet.io/cleanup`): its
    /// provisioning has started, and its deletion waits for the cleanup.
    pub fn has_finalizer(&self) -> bool {
        self.metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| f.iter().any(|f| f == crate::names::FINALIZER))
    }
}

impl Engine {
    /// The value as written in the spec.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Woocommerce => "woocommerce",
            Self::Medusa => "medusa",
        }
    }
}

/// Size of a store. What each plan means is set in the operator configuration.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// The default.
    #[default]
    Small,
    /// More CPU, memory and storage.
    Medium,
    /// The most CPU, memory and storage.
    Large,
}

impl Plan {
    /// The value as written in the spec.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Small => "small",
            Self::Medium => "medium",
            Self::Large => "large",
        }
    }
}

/// What happens to the namespace and its data when the Store is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the namespace and everything in it, volumes included (the default).
    #[default]
    Delete,
    /// Keep the namespace and its data; only the Store object goes away.
    Retain,
}

/// Ingress settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    /// IngressClass name; the operator's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub class_name: Option<String>,

    /// Extra annotations for the Ingress (for example rate limits of the ingress controller).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 32))]
    pub annotations: BTreeMap<String, String>,
}

/// The Gateway a store's HTTPRoute attaches to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.namespace) || has(self.name)").message("gateway.namespace needs gateway.name"))]
pub struct GatewaySpec {
    /// Name of the Gateway; the operator's default Gateway when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub name: Option<String>,

    /// Namespace of the Gateway; the default Gateway's namespace when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub namespace: Option<String>,
}

/// HTTPS for the shop: a cert-manager ClusterIssuer, or a Secret that already holds the
/// certificate. `{}` means the operator's default ClusterIssuer.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.clusterIssuer) && has(self.secretName))").message("tls: set clusterIssuer or secretName, not both"))]
pub struct TlsSpec {
    /// cert-manager ClusterIssuer that issues the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub cluster_issuer: Option<String>,

    /// Existing `kubernetes.io/tls` Secret in the store's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub secret_name: Option<String>,
}

/// Pattern of a volume size: a positive quantity in bytes without exponent notation.
pub const SIZE_PATTERN: &str = r"^([1-9][0-9]*|[0-9]+\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$";

fn size_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "maxLength": 32,
        "pattern": SIZE_PATTERN,
        "description": "A volume size such as 5Gi.",
    })
}

/// Storage settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// StorageClass of both volumes; the operator's default (or the cluster's) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub storage_class_name: Option<String>,

    /// Size of the database volume; the plan's when absent. Must fit the plan's storage quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "size_schema")]
    pub database_size: Option<Quantity>,

    /// Size of the storefront's files volume; the plan's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "size_schema")]
    pub storefront_size: Option<Quantity>,
}

/// Pattern of an image tag (the OCI reference grammar's tag).
pub const TAG_PATTERN: &str = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$";

/// Whether `s` matches [`TAG_PATTERN`] (checked in code where the schema does not apply:
/// operator configuration, Stores from files).
pub fn is_image_tag(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && s.len() <= 128
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Image tags. The repositories come from the operator configuration. A database's major
/// version cannot change (its server cannot start on the older major's data directory, and no
/// upgrade path exists yet).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(oldSelf.mariadb) || !has(self.mariadb) || self.mariadb.find('^[0-9]+') == oldSelf.mariadb.find('^[0-9]+')").message("versions.mariadb: the major version cannot change (the new server cannot start on the old data directory, and Storefleet has no upgrade path between majors yet); keep the current major, or move the shop's data to a new store on the new major"),
    validation = Rule::new("!has(oldSelf.postgres) || !has(self.postgres) || self.postgres.find('^[0-9]+') == oldSelf.postgres.find('^[0-9]+')").message("versions.postgres: the major version cannot change (the new server cannot start on the old data directory, and Storefleet has no upgrade path between majors yet); keep the current major, or move the shop's data to a new store on the new major")
)]
pub struct VersionsSpec {
    /// Tag of the official `wordpress` (apache) image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"))]
    pub wordpress: Option<String>,

    /// Tag of the official `mariadb` image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"))]
    pub mariadb: Option<String>,

    /// Tag of the `wordpress` WP-CLI image used by the setup Job (e.g. `cli-2.12.0-php8.3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"))]
    pub wp_cli: Option<String>,

    /// WooCommerce plugin version; the newest stable release when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+\.[0-9]+(\.[0-9]+)?$"))]
    pub woocommerce: Option<String>,

    /// Tag of Storefleet's Medusa image (server, worker, migration and setup); engine medusa.
    /// A new tag runs the database migration again before the server rolls out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"))]
    pub medusa: Option<String>,

    /// Tag of the official `postgres` image; engine medusa.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"))]
    pub postgres: Option<String>,

    /// Tag of the official `redis` image; engine medusa.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"))]
    pub redis: Option<String>,
}

/// What the setup Job configures in the shop.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupSpec {
    /// E-mail of the shop's admin user. Defaults to `owner` when that is an e-mail address,
    /// else `admin@<domain>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 3, max = 254),
        regex(pattern = r#"^[^@\s"\\]+@[^@\s"\\]+$"#)
    )]
    pub admin_email: Option<String>,

    /// wordpress.org theme slug to install and activate. Default `storefront`. WooCommerce only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub theme: Option<String>,

    /// ISO 4217 currency code. Default `USD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Z]{3}$"))]
    pub currency: Option<String>,

    /// How many sample products to create when the shop has none. Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Kubernetes knows int32, not schemars' uint32 (the apiserver warns on unknown formats).
    #[schemars(range(min = 0, max = 50), extend("format" = "int32"))]
    pub sample_products: Option<u32>,

    /// Payment methods to enable, in order. Default `[cod]` (Cash on Delivery); the test order
    /// is placed with the first one. WooCommerce only: Medusa uses its manual (system) provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 3))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub payment_methods: Option<Vec<PaymentMethod>>,
}

/// Offline WooCommerce payment gateways that need no third-party account.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaymentMethod {
    /// Cash on Delivery.
    Cod,
    /// Direct bank transfer.
    Bacs,
    /// Check payments.
    Cheque,
}

impl PaymentMethod {
    /// WooCommerce gateway id.
    pub const fn gateway_id(self) -> &'static str {
        match self {
            Self::Cod => "cod",
            Self::Bacs => "bacs",
            Self::Cheque => "cheque",
        }
    }
}
