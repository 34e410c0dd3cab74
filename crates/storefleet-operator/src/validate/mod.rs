//! Validate: `&Store` + operator config → [`ValidatedStore`], or a [`ValidationError`] that the
//! user must fix.
//!
//! Re-checks what the CRD checks at admission (a Store may predate a schema change, or come from
//! a file in `render`) and adds what needs the operator's configuration: the plan's sizes, the
//! default ClusterIssuer, the namespace prefix. Everything later steps need is resolved here
//! (defaults applied), so builders never see an `Option` they would have to guess about.
//!
//! ```text
//!  mod.rs      ValidatedStore, ValidationError, validate (one pass, every problem)
//!  resolve.rs  the sections resolved on their own: host, routing, TLS, the engine, setup
//!  rules.rs    the rules they share: hosts and domains, e-mail addresses, volume sizes
//! ```

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use storefleet_types::names::store_name;
use storefleet_types::spec::is_image_tag;
use storefleet_types::{DeletionPolicy, Engine, PaymentMethod, Plan, Store, StoreSpec};

use crate::config::{GatewayRef, OperatorConfig, PlanConfig, QuotaConfig};
use kube_quantity::ParsedQuantity;

mod resolve;
mod rules;
#[cfg(test)]
mod tests;

use resolve::Problems;
pub use resolve::is_plugin_version;
pub use rules::host_of;
use rules::{check_sizes, invalid};

/// A user error: the Store cannot be provisioned as written. The variant name is the
/// condition reason and the metric label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// `metadata.name` missing or invalid.
    #[error("invalid store name: {0}")]
    InvalidName(String),
    /// The object has no uid (it never came from an apiserver).
    #[error("store {0} has no metadata.uid")]
    MissingUid(String),
    /// `spec.owner` empty or too long.
    #[error("spec.owner must be 1 to 254 characters without spaces")]
    InvalidOwner,
    /// Several of the problems above, all reported at once.
    #[error("{} problems: {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<ValidationError>),
    /// A field's value is malformed.
    #[error("{field}: {message}")]
    InvalidField {
        /// Path of the field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The store's host is one the platform keeps for itself (`reservedHosts`).
    #[error(
        "host {0} is reserved by the platform (operator config reservedHosts); choose another spec.domain"
    )]
    HostReserved(String),
    /// `tls: {}` with no default issuer configured.
    #[error(
        "spec.tls asks for a certificate but names no clusterIssuer or secretName, and the operator has no default ClusterIssuer"
    )]
    NoClusterIssuer,
    /// Volumes do not fit the plan.
    #[error("{field}: {size} does not fit plan {plan}: {why}")]
    SizeExceedsPlan {
        /// Path of the field.
        field: &'static str,
        /// The requested size.
        size: String,
        /// The plan.
        plan: &'static str,
        /// The limit it breaks.
        why: String,
    },
}

impl ValidationError {
    /// CamelCase reason for conditions and events; also the metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidName(_) => "InvalidName",
            Self::MissingUid(_) => "MissingUid",
            Self::InvalidOwner => "InvalidOwner",
            Self::InvalidField { .. } => "InvalidField",
            Self::NoClusterIssuer => "NoClusterIssuer",
            Self::HostReserved(_) => "HostReserved",
            Self::SizeExceedsPlan { .. } => "SizeExceedsPlan",
            Self::Several(_) => "InvalidSpec",
        }
    }
}

/// How the shop's certificate is obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// cert-manager issues it into [`crate::desired::route::TLS_SECRET`].
    ClusterIssuer(String),
    /// An existing Secret in the store's namespace.
    Secret(String),
    /// The Gateway's HTTPS listener holds the certificate.
    Gateway,
}

/// How the shop is reached from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A `networking.k8s.io/v1` Ingress.
    Ingress {
        /// IngressClass; the cluster's default class when None.
        class: Option<String>,
        /// Extra annotations from the spec (allow-listed).
        annotations: BTreeMap<String, String>,
    },
    /// A Gateway API HTTPRoute.
    Gateway {
        /// The Gateway it attaches to.
        gateway: GatewayRef,
        /// The listener (sectionName); every listener that allows the route when None.
        listener: Option<String>,
    },
}

/// Fully resolved WooCommerce images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImages {
    /// WordPress (apache).
    pub wordpress: String,
    /// MariaDB.
    pub mariadb: String,
    /// WP-CLI.
    pub wp_cli: String,
}

/// Fully resolved Medusa images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MedusaImages {
    /// Storefleet's Medusa image (server, worker, migration, setup).
    pub medusa: String,
    /// PostgreSQL.
    pub postgres: String,
    /// Redis.
    pub redis: String,
}

/// A WooCommerce store's own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Woocommerce {
    /// Images.
    pub images: ResolvedImages,
    /// Theme slug.
    pub theme: String,
    /// Payment gateways to enable; the first takes the test order.
    pub payment_methods: Vec<PaymentMethod>,
    /// WooCommerce version; newest when None.
    pub woocommerce_version: Option<String>,
}

/// A Medusa store's own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Medusa {
    /// Images.
    pub images: MedusaImages,
}

/// The shop software, with what only it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum App {
    /// WordPress + WooCommerce on MariaDB.
    Woocommerce(Woocommerce),
    /// Medusa v2 on PostgreSQL and Redis.
    Medusa(Medusa),
}

/// Fully resolved setup parameters, for either engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSetup {
    /// Shop title.
    pub title: String,
    /// Admin e-mail.
    pub admin_email: String,
    /// Currency code.
    pub currency: String,
    /// Sample products to create when the shop has none.
    pub sample_products: u32,
    /// `activeDeadlineSeconds` of the Job.
    pub active_deadline_seconds: i64,
    /// `backoffLimit` of the Job.
    pub backoff_limit: i32,
    /// When WordPress's scheduled work runs (the CronJob `cron`; cron, UTC).
    pub cron_schedule: String,
    /// When the checkout probe runs (the CronJob `probe`; cron, UTC).
    pub probe_schedule: String,
}

/// A store's backups, as the operator configuration resolves them.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedBackup {
    /// The store's owner (its repository password is derived from it and the store's name).
    pub owner: String,
    /// The store's restic repository (`s3:<endpoint>/<bucket>/<prefix>/<owner>/<store>`).
    pub repository: String,
    /// The S3 region.
    pub region: String,
    /// When it is backed up (cron, UTC).
    pub schedule: String,
    /// Whether scheduled backups run (`spec.backup.enabled`); the repository is kept either way.
    pub scheduled: bool,
    /// When the newest backup is restored into a throwaway namespace and the shop it holds
    /// checked, to prove it (cron, UTC).
    pub drill_schedule: String,
    /// What it keeps.
    pub retention: crate::config::Retention,
    /// The restic image.
    pub image: String,
    /// The object store's addresses and port: the backup pods' only way out.
    pub egress_cidrs: Vec<ipnet::IpNet>,
    /// The object store's port.
    pub port: u16,
    /// The backup this new store starts from (`spec.restoreFrom`).
    pub restore: Option<ResolvedRestore>,
}

/// The backup a new store starts from: a repository of its owner's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRestore {
    /// The store whose backups these are.
    pub store: String,
    /// Its repository (under this store's owner).
    pub repository: String,
    /// The snapshot (an id or `latest`).
    pub snapshot: String,
    /// A rollback of the store's failed upgrade to its restore point (`controller/upgrade.rs`),
    /// not a new store: its setup has no restored shop to adopt.
    pub rollback: bool,
}

/// Everything the builders need, resolved and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedStore {
    /// Store name.
    pub name: String,
    /// Store uid (for ownerReferences).
    pub uid: String,
    /// Namespace of the store's objects.
    pub namespace: String,
    /// Plan name.
    pub plan_name: Plan,
    /// The plan's configuration.
    pub plan: PlanConfig,
    /// Deletion policy.
    pub deletion_policy: DeletionPolicy,
    /// Host name of the shop.
    pub host: String,
    /// Certificate source; None serves plain HTTP.
    pub tls: Option<Tls>,
    /// How the shop is reached from outside.
    pub route: Route,
    /// Namespace of the pods that bring outside traffic in (the ingress controller or the
    /// Gateway's data plane): the only source allowed to reach the storefront.
    pub edge_namespace: String,
    /// CIDRs store pods may not reach on the internet-egress rule.
    pub blocked_egress_cidrs: Vec<ipnet::IpNet>,
    /// The API's ServiceAccount, which may read this store's admin login (operator config).
    pub api_service_account: Option<crate::config::ServiceAccountRef>,
    /// Node-local DNS caches the pods may query (operator config).
    pub node_local_dns_cidrs: Vec<ipnet::IpNet>,
    /// StorageClass; the cluster default when None.
    pub storage_class: Option<String>,
    /// Database volume size.
    pub database_size: Quantity,
    /// Storefront volume size.
    pub storefront_size: Quantity,
    /// The engine and its own settings.
    pub app: App,
    /// Setup parameters.
    pub setup: ResolvedSetup,
    /// Backups; None when the operator has no backup target.
    pub backup: Option<ResolvedBackup>,
    /// Asleep: workloads at zero, CronJobs suspended (`spec.hibernate`; the controller wakes a
    /// store not set up yet until it is).
    pub hibernate: bool,
}

impl ValidatedStore {
    /// Restored from another store's backup (`spec.restoreFrom.store` is not this store): a
    /// clone, run as a staging shop that mails no one and takes no payment. Restoring a store's
    /// own backups under its own name (rolling a shop back) is the shop itself.
    pub fn is_staging_clone(&self) -> bool {
        self.backup
            .as_ref()
            .and_then(|b| b.restore.as_ref())
            .is_some_and(|r| r.store != self.name)
    }

    /// `http(s)://host`.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.host)
    }

    /// Where customers shop: the site for WooCommerce, the storefront under `/shop` for Medusa.
    pub fn shop_url(&self) -> String {
        match self.app {
            App::Woocommerce(_) => self.url(),
            App::Medusa(_) => format!("{}/shop", self.url()),
        }
    }

    /// Where the admin logs in.
    pub fn admin_url(&self) -> String {
        match self.app {
            App::Woocommerce(_) => format!("{}/wp-admin/", self.url()),
            App::Medusa(_) => format!("{}/app", self.url()),
        }
    }

    /// The ResourceQuota of this store's engine and plan.
    pub fn quota(&self) -> &QuotaConfig {
        match self.app {
            App::Woocommerce(_) => &self.plan.quota,
            App::Medusa(_) => &self.plan.medusa.quota,
        }
    }
}

/// Checks a Store against the CRD's rules and the operator's configuration. Every problem is
/// reported at once ([`ValidationError::Several`] when there is more than one).
pub fn validate(store: &Store, config: &OperatorConfig) -> Result<ValidatedStore, ValidationError> {
    let name = store.metadata.name.clone().unwrap_or_default();
    store_name::check(&name).map_err(ValidationError::InvalidName)?;
    let uid = store
        .metadata
        .uid
        .clone()
        .ok_or_else(|| ValidationError::MissingUid(name.clone()))?;
    let spec = &store.spec;
    let mut p = Problems::default();
    if storefleet_types::names::owner::check(&spec.owner).is_err() {
        p.add(ValidationError::InvalidOwner);
    }
    let host = p.ok(resolve::host(spec, &name, config));
    let route = p.ok(resolve::route(spec, config));
    let tls = p.ok(resolve::tls(spec, config, route.as_ref().map(|r| &r.0)));

    let plan = config.plans.get(spec.plan).clone();
    let storage = spec.storage.clone().unwrap_or_default();
    let database_size = storage
        .database_size
        .unwrap_or_else(|| plan.volumes.database.clone());
    let storefront_size = storage
        .storefront_size
        .unwrap_or_else(|| plan.volumes.storefront.clone());
    p.ok(check_sizes(
        spec.plan,
        &plan,
        &database_size,
        &storefront_size,
    ));
    if let Some(class) = &storage.storage_class_name
        && config.storage_class_name.as_ref() != Some(class)
        && !config.allowed_storage_class_names.contains(class)
    {
        p.add(invalid(
            "spec.storage.storageClassName",
            format!(
                "StorageClass {class:?} is not offered to stores: leave it out for the default class, or ask an admin to allow it (operator config allowedStorageClassNames)"
            ),
        ));
    }
    let storage_class = storage
        .storage_class_name
        .or_else(|| config.storage_class_name.clone());

    let app = resolve::app(spec, config, &mut p);
    let default_host = format!("{name}.{}", config.base_domain);
    let setup = resolve::setup(
        spec,
        &name,
        host.as_deref().unwrap_or(&default_host),
        config,
        &mut p,
    );
    let backup = resolve::backup(spec, &name, config, &mut p);

    p.finish()?;
    // A section without a value reported a problem, so this only satisfies the types.
    let (Some(host), Some((route, edge_namespace)), Some(tls)) = (host, route, tls) else {
        return Err(ValidationError::Several(Vec::new()));
    };
    Ok(ValidatedStore {
        namespace: config.namespace_for(&name),
        name,
        uid,
        plan_name: spec.plan,
        plan,
        deletion_policy: spec.deletion_policy,
        hibernate: spec.hibernate,
        host,
        tls,
        route,
        edge_namespace,
        blocked_egress_cidrs: config.network.blocked_egress_cidrs.clone(),
        node_local_dns_cidrs: config.network.node_local_dns_cidrs.clone(),
        api_service_account: config.api_service_account.clone(),
        storage_class,
        database_size,
        storefront_size,
        backup,
        app,
        setup,
    })
}
