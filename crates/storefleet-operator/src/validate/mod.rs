//! Validate: `&Store` + operator config → [`ValidatedStore`], or a [`ValidationError`] that the
//! user must fix.
//!
//! Re-checks what the CRD checks at admission (a Store may predate a schema change, or come from
//! a file in `render`) and adds what needs the operator's configuration: the plan's sizes, the
//! default ClusterIssuer, the namespace prefix. Everything later steps need is resolved here
//! (defaults applied), so builders never see an `Option` they would have to guess about.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use storefleet_types::names::store_name;
use storefleet_types::spec::is_image_tag;
use storefleet_types::{DeletionPolicy, Engine, PaymentMethod, Plan, Store};

use crate::config::{self, OperatorConfig, PlanConfig};
use kube_quantity::ParsedQuantity;

mod checks;
#[cfg(test)]
mod tests;

pub use checks::host_of;
use checks::{check_sizes, domain_allowed, invalid, looks_like_email};

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
    /// An engine that this operator does not run yet.
    #[error("engine {0} is not available yet")]
    EngineNotAvailable(&'static str),
    /// `spec.owner` empty or too long.
    #[error("spec.owner must be 1 to 254 characters without spaces")]
    InvalidOwner,
    /// A field's value is malformed.
    #[error("{field}: {message}")]
    InvalidField {
        /// Path of the field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
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
            Self::EngineNotAvailable(_) => "EngineNotAvailable",
            Self::InvalidOwner => "InvalidOwner",
            Self::InvalidField { .. } => "InvalidField",
            Self::NoClusterIssuer => "NoClusterIssuer",
            Self::SizeExceedsPlan { .. } => "SizeExceedsPlan",
        }
    }
}

/// How the shop's certificate is obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// cert-manager issues it into [`crate::build::storefront::TLS_SECRET`].
    ClusterIssuer(String),
    /// An existing Secret in the store's namespace.
    Secret(String),
}

/// Fully resolved images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImages {
    /// WordPress (apache).
    pub wordpress: String,
    /// MariaDB.
    pub mariadb: String,
    /// WP-CLI.
    pub wp_cli: String,
}

/// Fully resolved setup parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSetup {
    /// Shop title.
    pub title: String,
    /// Admin e-mail.
    pub admin_email: String,
    /// Theme slug.
    pub theme: String,
    /// Currency code.
    pub currency: String,
    /// Sample products to create when the shop has none.
    pub sample_products: u32,
    /// Payment gateways to enable; the first takes the test order.
    pub payment_methods: Vec<PaymentMethod>,
    /// WooCommerce version; newest when None.
    pub woocommerce_version: Option<String>,
    /// `activeDeadlineSeconds` of the Job.
    pub active_deadline_seconds: i64,
    /// `backoffLimit` of the Job.
    pub backoff_limit: i32,
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
    /// IngressClass.
    pub ingress_class: String,
    /// Extra Ingress annotations from the spec.
    pub ingress_annotations: BTreeMap<String, String>,
    /// Namespace of the ingress controller (NetworkPolicy source).
    pub ingress_controller_namespace: String,
    /// CIDRs store pods may not reach on the internet-egress rule.
    pub blocked_egress_cidrs: Vec<ipnet::IpNet>,
    /// StorageClass; the cluster default when None.
    pub storage_class: Option<String>,
    /// Database volume size.
    pub database_size: Quantity,
    /// Storefront volume size.
    pub storefront_size: Quantity,
    /// Images.
    pub images: ResolvedImages,
    /// Setup parameters.
    pub setup: ResolvedSetup,
}

impl ValidatedStore {
    /// `http(s)://host`.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.host)
    }

    /// Where the admin logs in.
    pub fn admin_url(&self) -> String {
        format!("{}/wp-admin/", self.url())
    }
}

/// Checks a Store against the CRD's rules and the operator's configuration.
pub fn validate(store: &Store, config: &OperatorConfig) -> Result<ValidatedStore, ValidationError> {
    let name = store.metadata.name.clone().unwrap_or_default();
    store_name::check(&name).map_err(ValidationError::InvalidName)?;
    let uid = store
        .metadata
        .uid
        .clone()
        .ok_or_else(|| ValidationError::MissingUid(name.clone()))?;
    let spec = &store.spec;
    match spec.engine {
        Engine::Woocommerce => {}
        Engine::Medusa => return Err(ValidationError::EngineNotAvailable(Engine::Medusa.as_str())),
    }
    if storefleet_types::names::owner::check(&spec.owner).is_err() {
        return Err(ValidationError::InvalidOwner);
    }

    let host = match &spec.domain {
        Some(domain) => {
            if !config::is_hostname(domain) {
                return Err(invalid(
                    "spec.domain",
                    format!("{domain:?} is not a lower-case host name"),
                ));
            }
            if !domain_allowed(domain, &name, &spec.owner, config) {
                return Err(invalid(
                    "spec.domain",
                    format!(
                        "{domain:?} is not allowed for this store: use {name}.{base} (or a name below it), or ask an admin to allow the domain for owner {owner} (operator config ownerDomains)",
                        base = config.base_domain,
                        owner = spec.owner
                    ),
                ));
            }
            domain.clone()
        }
        None => format!("{name}.{}", config.base_domain),
    };

    let tls = match &spec.tls {
        None => None,
        Some(t) => match (&t.cluster_issuer, &t.secret_name) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "spec.tls",
                    "set clusterIssuer or secretName, not both".into(),
                ));
            }
            (Some(issuer), None) => Some(Tls::ClusterIssuer(issuer.clone())),
            (None, Some(secret)) => Some(Tls::Secret(secret.clone())),
            (None, None) => match &config.ingress.default_cluster_issuer {
                Some(issuer) => Some(Tls::ClusterIssuer(issuer.clone())),
                None => return Err(ValidationError::NoClusterIssuer),
            },
        },
    };

    let ingress = spec.ingress.clone().unwrap_or_default();
    let ingress_class = ingress
        .class_name
        .unwrap_or_else(|| config.ingress.class_name.clone());
    if !config.ingress.allows_class(&ingress_class) {
        return Err(invalid(
            "spec.ingress.className",
            format!(
                "IngressClass {ingress_class:?} is not offered to stores (allowed: {})",
                std::iter::once(config.ingress.class_name.as_str())
                    .chain(
                        config
                            .ingress
                            .allowed_class_names
                            .iter()
                            .map(String::as_str)
                    )
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if let Some(key) = ingress
        .annotations
        .keys()
        .find(|k| !config.ingress.allows_annotation(k))
    {
        return Err(invalid(
            "spec.ingress.annotations",
            format!(
                "annotation {key:?} is not allowed on store Ingresses: it would configure the shared ingress controller (allowed: {})",
                config.ingress.allowed_annotations.join(", ")
            ),
        ));
    }

    let plan = config.plans.get(spec.plan).clone();
    let storage = spec.storage.clone().unwrap_or_default();
    let database_size = storage
        .database_size
        .unwrap_or_else(|| plan.volumes.database.clone());
    let storefront_size = storage
        .storefront_size
        .unwrap_or_else(|| plan.volumes.storefront.clone());
    check_sizes(spec.plan, &plan, &database_size, &storefront_size)?;
    let storage_class = storage
        .storage_class_name
        .or_else(|| config.storage_class_name.clone());

    let versions = spec.versions.clone().unwrap_or_default();
    for (field, tag) in [
        ("spec.versions.wordpress", &versions.wordpress),
        ("spec.versions.mariadb", &versions.mariadb),
        ("spec.versions.wpCli", &versions.wp_cli),
    ] {
        if let Some(tag) = tag
            && !is_image_tag(tag)
        {
            return Err(invalid(field, format!("{tag:?} is not an image tag")));
        }
    }
    let images = ResolvedImages {
        wordpress: config
            .images
            .wordpress
            .reference(versions.wordpress.as_deref()),
        mariadb: config.images.mariadb.reference(versions.mariadb.as_deref()),
        wp_cli: config.images.wp_cli.reference(versions.wp_cli.as_deref()),
    };

    let setup_spec = spec.setup.clone().unwrap_or_default();
    let admin_email = match setup_spec.admin_email {
        Some(email) => email,
        None if looks_like_email(&spec.owner) => spec.owner.clone(),
        None => format!("admin@{host}"),
    };
    if !looks_like_email(&admin_email) {
        return Err(invalid(
            "spec.setup.adminEmail",
            format!("{admin_email:?} is not an e-mail address"),
        ));
    }
    let currency = setup_spec.currency.unwrap_or_else(|| "USD".into());
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid(
            "spec.setup.currency",
            format!("{currency:?} is not an ISO 4217 code"),
        ));
    }
    let sample_products = setup_spec.sample_products.unwrap_or(3);
    if sample_products > 50 {
        return Err(invalid(
            "spec.setup.sampleProducts",
            "must be at most 50".into(),
        ));
    }
    let payment_methods = setup_spec
        .payment_methods
        .unwrap_or_else(|| vec![PaymentMethod::Cod]);
    if payment_methods.is_empty() {
        return Err(invalid(
            "spec.setup.paymentMethods",
            "must name at least one method".into(),
        ));
    }
    for (i, m) in payment_methods.iter().enumerate() {
        if payment_methods[..i].contains(m) {
            return Err(invalid(
                "spec.setup.paymentMethods",
                format!("{} is listed twice", m.gateway_id()),
            ));
        }
    }
    let theme = setup_spec.theme.unwrap_or_else(|| "storefront".into());
    if !config::is_label(&theme) {
        return Err(invalid(
            "spec.setup.theme",
            format!("{theme:?} is not a theme slug"),
        ));
    }
    let setup = ResolvedSetup {
        title: spec.display_name.clone().unwrap_or_else(|| name.clone()),
        admin_email,
        theme,
        currency,
        sample_products,
        payment_methods,
        woocommerce_version: versions.woocommerce,
        active_deadline_seconds: config.setup.active_deadline_seconds,
        backoff_limit: config.setup.backoff_limit,
    };

    Ok(ValidatedStore {
        namespace: config.namespace_for(&name),
        name,
        uid,
        plan_name: spec.plan,
        plan,
        deletion_policy: spec.deletion_policy,
        host,
        tls,
        ingress_class,
        ingress_annotations: ingress.annotations,
        ingress_controller_namespace: config.ingress.controller_namespace.clone(),
        blocked_egress_cidrs: config.network.blocked_egress_cidrs.clone(),
        storage_class,
        database_size,
        storefront_size,
        images,
        setup,
    })
}
