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

fn invalid(field: &'static str, message: String) -> ValidationError {
    ValidationError::InvalidField { field, message }
}

/// The host a Store is served at: `spec.domain`, else `<name>.<baseDomain>`.
pub fn host_of(store: &Store, config: &OperatorConfig) -> String {
    match &store.spec.domain {
        Some(domain) => domain.clone(),
        None => format!(
            "{}.{}",
            store.metadata.name.as_deref().unwrap_or_default(),
            config.base_domain
        ),
    }
}

/// Whether the store `name` of `owner` may be served at `domain`: its own name under the base
/// domain (or below it), or a domain an admin allowed for the owner. Names are unique, so no
/// store can take another store's host under the base domain.
fn domain_allowed(domain: &str, name: &str, owner: &str, config: &OperatorConfig) -> bool {
    let own = format!("{name}.{}", config.base_domain);
    if domain == own || domain.ends_with(&format!(".{own}")) {
        return true;
    }
    config.owner_domains.get(owner).is_some_and(|allowed| {
        allowed.iter().any(|a| match a.strip_prefix("*.") {
            Some(parent) => domain.ends_with(&format!(".{parent}")),
            None => a == domain,
        })
    })
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !s.contains(char::is_whitespace)
                // As the CRD's pattern: the address reaches JSON and shell arguments in setup.
                && !s.contains(['"', '\\'])
        }
        None => false,
    }
}

fn size(field: &'static str, q: &Quantity) -> Result<ParsedQuantity, ValidationError> {
    match ParsedQuantity::try_from(q) {
        Ok(v) if v > ParsedQuantity::default() => Ok(v),
        Ok(_) => Err(invalid(field, format!("{} must be greater than zero", q.0))),
        Err(e) => Err(invalid(
            field,
            format!("{:?} is not a valid quantity: {e}", q.0),
        )),
    }
}

fn check_sizes(
    plan_name: Plan,
    plan: &PlanConfig,
    db: &Quantity,
    sf: &Quantity,
) -> Result<(), ValidationError> {
    let db_v = size("spec.storage.databaseSize", db)?;
    let sf_v = size("spec.storage.storefrontSize", sf)?;
    // The config check guarantees these parse.
    let max = ParsedQuantity::try_from(&plan.limit_range.volume_max).ok();
    let total = ParsedQuantity::try_from(&plan.quota.requests_storage).ok();
    for (field, q, v) in [
        ("spec.storage.databaseSize", db, &db_v),
        ("spec.storage.storefrontSize", sf, &sf_v),
    ] {
        if max.as_ref().is_some_and(|max| v > max) {
            return Err(ValidationError::SizeExceedsPlan {
                field,
                size: q.0.clone(),
                plan: plan_name.as_str(),
                why: format!(
                    "the largest volume allowed is {}",
                    plan.limit_range.volume_max.0
                ),
            });
        }
    }
    if total.is_some_and(|total| db_v + sf_v > total) {
        return Err(ValidationError::SizeExceedsPlan {
            field: "spec.storage",
            size: format!("{} + {}", db.0, sf.0),
            plan: plan_name.as_str(),
            why: format!(
                "both volumes together may use {}",
                plan.quota.requests_storage.0
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use storefleet_types::{SetupSpec, TlsSpec};

    fn ok(store: &Store) -> ValidatedStore {
        validate(store, &OperatorConfig::default()).expect("valid store")
    }

    fn err(store: &Store) -> ValidationError {
        validate(store, &OperatorConfig::default()).expect_err("invalid store")
    }

    #[test]
    fn defaults_are_resolved() {
        let v = ok(&Store::test());
        assert_eq!(v.namespace, "store-alice");
        assert_eq!(v.host, "alice.shop.local");
        assert_eq!(v.url(), "http://alice.shop.local");
        assert_eq!(v.admin_url(), "http://alice.shop.local/wp-admin/");
        assert_eq!(v.ingress_class, "nginx");
        assert_eq!(v.setup.admin_email, "alice@example.com");
        assert_eq!(v.setup.title, "alice");
        assert_eq!(v.setup.payment_methods, vec![PaymentMethod::Cod]);
        assert_eq!(v.database_size.0, "2Gi");
        assert_eq!(v.images.mariadb, "docker.io/library/mariadb:11.4.8");
        assert_eq!(v.tls, None);
    }

    #[test]
    fn owner_that_is_not_an_email_gets_a_host_address() {
        let v = ok(&Store::test().with_owner("alice"));
        assert_eq!(v.setup.admin_email, "admin@alice.shop.local");
        // An owner with a quote is not taken as the admin's address.
        let quoted = Store::test().with_owner("a\"b@example.com");
        let v = validate(&quoted, &OperatorConfig::default()).expect("valid");
        assert_eq!(v.setup.admin_email, "admin@alice.shop.local");
    }

    #[test]
    fn medusa_is_a_clear_user_error() {
        let e = err(&Store::test().with_engine(Engine::Medusa));
        assert_eq!(e.to_string(), "engine medusa is not available yet");
        assert_eq!(e.reason(), "EngineNotAvailable");
    }

    #[test]
    fn tls_sources() {
        let v = ok(&Store::test().with_cluster_issuer("le"));
        assert_eq!(v.tls, Some(Tls::ClusterIssuer("le".into())));
        assert_eq!(v.url(), "https://alice.shop.local");
        let v = ok(&Store::test().with_tls_secret("cert"));
        assert_eq!(v.tls, Some(Tls::Secret("cert".into())));
        assert_eq!(
            err(&Store::test().with_tls(TlsSpec::default())),
            ValidationError::NoClusterIssuer
        );
        let mut config = OperatorConfig::default();
        config.ingress.default_cluster_issuer = Some("default-issuer".into());
        let v = validate(&Store::test().with_tls(TlsSpec::default()), &config).expect("valid");
        assert_eq!(v.tls, Some(Tls::ClusterIssuer("default-issuer".into())));
    }

    #[test]
    fn sizes_must_fit_the_plan() {
        assert!(matches!(
            err(&Store::test().with_sizes("100Gi", "1Gi")),
            ValidationError::SizeExceedsPlan {
                field: "spec.storage.databaseSize",
                ..
            }
        ));
        let mut tight = OperatorConfig::default();
        tight.plans.small.quota.requests_storage = Quantity("3Gi".into());
        assert!(matches!(
            validate(&Store::test().with_sizes("2Gi", "2Gi"), &tight),
            Err(ValidationError::SizeExceedsPlan {
                field: "spec.storage",
                ..
            })
        ));
        ok(&Store::test().with_sizes("2Gi", "2Gi"));
        assert!(matches!(
            err(&Store::test().with_sizes("5GB", "1Gi")),
            ValidationError::InvalidField { .. }
        ));
        let v = ok(&Store::test()
            .with_plan(Plan::Large)
            .with_sizes("40Gi", "20Gi"));
        assert_eq!(v.database_size.0, "40Gi");
    }

    #[test]
    fn names_and_fields_are_rechecked() {
        assert!(matches!(
            err(&Store::test().with_name("Bad_Name")),
            ValidationError::InvalidName(_)
        ));
        let mut no_uid = Store::test();
        no_uid.metadata.uid = None;
        assert!(matches!(err(&no_uid), ValidationError::MissingUid(_)));
        assert_eq!(
            err(&Store::test().with_owner("")),
            ValidationError::InvalidOwner
        );
        assert!(matches!(
            err(&Store::test().with_domain("Shop.Example")),
            ValidationError::InvalidField {
                field: "spec.domain",
                ..
            }
        ));
        let dup = SetupSpec {
            payment_methods: Some(vec![PaymentMethod::Cod, PaymentMethod::Cod]),
            ..Default::default()
        };
        assert!(matches!(
            err(&Store::test().with_setup(dup)),
            ValidationError::InvalidField {
                field: "spec.setup.paymentMethods",
                ..
            }
        ));
        let lower = SetupSpec {
            currency: Some("eur".into()),
            ..Default::default()
        };
        assert!(matches!(
            err(&Store::test().with_setup(lower)),
            ValidationError::InvalidField {
                field: "spec.setup.currency",
                ..
            }
        ));
    }

    fn field_of(e: ValidationError) -> &'static str {
        match e {
            ValidationError::InvalidField { field, .. } => field,
            other => panic!("not a field error: {other:?}"),
        }
    }

    #[test]
    fn a_store_cannot_claim_another_stores_host() {
        // Under the base domain, only its own name (and below).
        assert_eq!(
            ok(&Store::test().with_domain("alice.shop.local")).host,
            "alice.shop.local"
        );
        assert_eq!(
            ok(&Store::test().with_domain("www.alice.shop.local")).host,
            "www.alice.shop.local"
        );
        for squat in [
            "bob.shop.local",
            "shop.local",
            "xalice.shop.local",
            "bob.example.com",
        ] {
            assert_eq!(
                field_of(err(&Store::test().with_domain(squat))),
                "spec.domain",
                "{squat}"
            );
        }
        // Elsewhere, what an admin allowed for the owner.
        let config = OperatorConfig {
            owner_domains: BTreeMap::from([(
                "alice@example.com".to_string(),
                vec![
                    "shop.alice.example".to_string(),
                    "*.alice.example".to_string(),
                ],
            )]),
            ..OperatorConfig::default()
        };
        for allowed in ["shop.alice.example", "eu.alice.example"] {
            assert!(
                validate(&Store::test().with_domain(allowed), &config).is_ok(),
                "{allowed}"
            );
        }
        let mallory = Store::test()
            .with_owner("mallory@example.com")
            .with_domain("shop.alice.example");
        assert!(
            validate(&mallory, &config).is_err(),
            "another owner's domain"
        );
        assert!(
            validate(&Store::test().with_domain("alice.example"), &config).is_err(),
            "*. is for subdomains"
        );
    }

    #[test]
    fn ingress_annotations_and_classes_are_allowlisted() {
        let with = |annotations: &[(&str, &str)], class: Option<&str>| {
            Store::test().with_ingress(storefleet_types::IngressSpec {
                class_name: class.map(String::from),
                annotations: annotations
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            })
        };
        assert!(
            validate(
                &with(
                    &[("nginx.ingress.kubernetes.io/proxy-body-size", "16m")],
                    None
                ),
                &OperatorConfig::default()
            )
            .is_ok()
        );
        for (key, value) in [
            ("nginx.ingress.kubernetes.io/server-alias", "bob.shop.local"),
            (
                "nginx.ingress.kubernetes.io/configuration-snippet",
                "more_set_headers x;",
            ),
            (
                "nginx.ingress.kubernetes.io/server-snippet",
                "location / {}",
            ),
            ("nginx.ingress.kubernetes.io/auth-url", "http://internal"),
            ("nginx.ingress.kubernetes.io/mirror-target", "http://evil"),
            ("cert-manager.io/cluster-issuer", "other"),
        ] {
            assert_eq!(
                field_of(err(&with(&[(key, value)], None))),
                "spec.ingress.annotations",
                "{key}"
            );
        }
        assert_eq!(
            field_of(err(&with(&[], Some("internal")))),
            "spec.ingress.className"
        );
        let mut config = OperatorConfig::default();
        config.ingress.allowed_class_names = vec!["public-traefik".into()];
        assert!(validate(&with(&[], Some("public-traefik")), &config).is_ok());
        assert!(
            validate(&with(&[], Some("nginx")), &config).is_ok(),
            "the default class"
        );
    }
}
