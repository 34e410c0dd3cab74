//! The sections of a Store that `validate` resolves on their own: host, routing, TLS, setup,
//! backup.
//! Each reports its problems to [`Problems`], so that one pass finds all of them.

use super::*;
use crate::config::{self, RoutingMode};
use rules::{domain_allowed, looks_like_email};

/// The problems found so far.
#[derive(Debug, Default)]
pub(super) struct Problems(Vec<ValidationError>);

impl Problems {
    /// Records a problem.
    pub(super) fn add(&mut self, problem: ValidationError) {
        self.0.push(problem);
    }

    /// The value, or None after recording the problem.
    pub(super) fn ok<T>(&mut self, result: Result<T, ValidationError>) -> Option<T> {
        result.map_err(|e| self.add(e)).ok()
    }

    /// Ok when nothing was found; the one problem, or all of them.
    pub(super) fn finish(mut self) -> Result<(), ValidationError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(self.0.remove(0)),
            _ => Err(ValidationError::Several(self.0)),
        }
    }
}

/// `spec.domain`, checked against the base domain and the owner's allowed domains.
pub(super) fn host(
    spec: &StoreSpec,
    name: &str,
    config: &OperatorConfig,
) -> Result<String, ValidationError> {
    let host = own_host(spec, name, config)?;
    if config.reserved_hosts.contains(&host) {
        return Err(ValidationError::HostReserved(host));
    }
    Ok(host)
}

/// The host the spec asks for, if the store may have it.
fn own_host(
    spec: &StoreSpec,
    name: &str,
    config: &OperatorConfig,
) -> Result<String, ValidationError> {
    let Some(domain) = &spec.domain else {
        return Ok(format!("{name}.{}", config.base_domain));
    };
    if !config::is_hostname(domain) {
        return Err(invalid(
            "spec.domain",
            format!("{domain:?} is not a lower-case host name"),
        ));
    }
    if !domain_allowed(domain, name, &spec.owner, config) {
        return Err(invalid(
            "spec.domain",
            format!(
                "{domain:?} is not allowed for this store: use {name}.{base} (or a name below it), or ask an admin to allow the domain for owner {owner} (operator config ownerDomains)",
                base = config.base_domain,
                owner = spec.owner
            ),
        ));
    }
    Ok(domain.clone())
}

/// Ingress or Gateway API, and the namespace whose pods bring traffic in.
pub(super) fn route(
    spec: &StoreSpec,
    config: &OperatorConfig,
) -> Result<(Route, String), ValidationError> {
    let by_gateway = match (&spec.ingress, &spec.gateway) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "spec",
                "set ingress or gateway, not both: a store is routed by an Ingress or by a Gateway API HTTPRoute".into(),
            ));
        }
        (Some(_), None) => false,
        (None, Some(_)) => true,
        (None, None) => config.routing == RoutingMode::Gateway,
    };
    if by_gateway {
        let Some(gateway_config) = &config.gateway else {
            return Err(invalid(
                "spec.gateway",
                "this operator offers no Gateway (operator config gateway): route the store with an Ingress instead".into(),
            ));
        };
        let wanted = spec.gateway.clone().unwrap_or_default();
        let gateway = gateway_config
            .resolve(wanted.name.as_deref(), wanted.namespace.as_deref())
            .ok_or_else(|| {
                invalid(
                    "spec.gateway",
                    format!(
                        "Gateway {}/{} is not offered to stores (offered: {})",
                        wanted
                            .namespace
                            .as_deref()
                            .unwrap_or(&gateway_config.default_gateway.namespace),
                        wanted.name.as_deref().unwrap_or_default(),
                        gateway_config.offered().join(", ")
                    ),
                )
            })?;
        let listener = match spec.tls {
            Some(_) => gateway_config.https_listener.clone(),
            None => gateway_config.http_listener.clone(),
        };
        return Ok((
            Route::Gateway { gateway, listener },
            gateway_config.data_plane_namespace.clone(),
        ));
    }

    let ingress = spec.ingress.clone().unwrap_or_default();
    let class = ingress
        .class_name
        .or_else(|| config.ingress.class_name.clone());
    if let Some(class) = &class
        && !config.ingress.allows_class(class)
    {
        let offered: Vec<&str> = config
            .ingress
            .class_name
            .iter()
            .chain(&config.ingress.allowed_class_names)
            .map(String::as_str)
            .collect();
        return Err(invalid(
            "spec.ingress.className",
            format!(
                "IngressClass {class:?} is not offered to stores (allowed: {})",
                if offered.is_empty() {
                    "none: leave it out for the cluster's default class".to_string()
                } else {
                    offered.join(", ")
                }
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
    Ok((
        Route::Ingress {
            class,
            annotations: ingress.annotations,
        },
        config.ingress.controller_namespace.clone(),
    ))
}

/// Where the certificate comes from. Behind a Gateway the certificate is the HTTPS listener's,
/// so only `tls: {}` applies there.
pub(super) fn tls(
    spec: &StoreSpec,
    config: &OperatorConfig,
    route: Option<&Route>,
) -> Result<Option<Tls>, ValidationError> {
    let Some(t) = &spec.tls else {
        return Ok(None);
    };
    if let Some(Route::Gateway { gateway, .. }) = route {
        if t.cluster_issuer.is_some() || t.secret_name.is_some() {
            return Err(invalid(
                "spec.tls",
                format!(
                    "behind Gateway {gateway} the certificate belongs to the Gateway's HTTPS listener (a wildcard certificate, or cert-manager's Gateway support): use tls: {{}}"
                ),
            ));
        }
        return Ok(Some(Tls::Gateway));
    }
    match (&t.cluster_issuer, &t.secret_name) {
        (Some(_), Some(_)) => Err(invalid(
            "spec.tls",
            "set clusterIssuer or secretName, not both".into(),
        )),
        (Some(issuer), None) if !config.ingress.allows_cluster_issuer(issuer) => Err(invalid(
            "spec.tls.clusterIssuer",
            format!(
                "ClusterIssuer {issuer:?} is not offered to stores: leave it out (tls: {{}}) for the default issuer, or ask an admin to allow it (operator config ingress.allowedClusterIssuers)"
            ),
        )),
        (Some(issuer), None) => Ok(Some(Tls::ClusterIssuer(issuer.clone()))),
        (None, Some(secret)) => Ok(Some(Tls::Secret(secret.clone()))),
        (None, None) => match &config.ingress.default_cluster_issuer {
            Some(issuer) => Ok(Some(Tls::ClusterIssuer(issuer.clone()))),
            None => Err(ValidationError::NoClusterIssuer),
        },
    }
}

/// What the setup Job configures, every field checked.
pub(super) fn setup(
    spec: &StoreSpec,
    name: &str,
    host: &str,
    config: &OperatorConfig,
    p: &mut Problems,
) -> ResolvedSetup {
    let setup_spec = spec.setup.clone().unwrap_or_default();
    let admin_email = match setup_spec.admin_email {
        Some(email) => email,
        None if looks_like_email(&spec.owner) => spec.owner.clone(),
        None => format!("admin@{host}"),
    };
    if !looks_like_email(&admin_email) {
        p.add(invalid(
            "spec.setup.adminEmail",
            format!("{admin_email:?} is not an e-mail address"),
        ));
    }
    let currency = setup_spec.currency.unwrap_or_else(|| "USD".into());
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        p.add(invalid(
            "spec.setup.currency",
            format!("{currency:?} is not an ISO 4217 code"),
        ));
    }
    let sample_products = setup_spec.sample_products.unwrap_or(3);
    if sample_products > 50 {
        p.add(invalid(
            "spec.setup.sampleProducts",
            "must be at most 50".into(),
        ));
    }
    ResolvedSetup {
        title: spec
            .display_name
            .clone()
            .unwrap_or_else(|| name.to_string()),
        admin_email,
        currency,
        sample_products,
        active_deadline_seconds: config.setup.active_deadline_seconds,
        backoff_limit: config.setup.backoff_limit,
        // Checked with the operator's config: spread, they stay cron schedules.
        cron_schedule: config::spread(&config.cron.schedule, name),
        probe_schedule: config::spread(&config.probe.schedule, name),
    }
}

/// The engine's own images and settings. Fields of the other engine are refused (the CRD's
/// CEL rules say the same at admission).
pub(super) fn app(spec: &StoreSpec, config: &OperatorConfig, p: &mut Problems) -> App {
    let versions = spec.versions.clone().unwrap_or_default();
    let setup_spec = spec.setup.clone().unwrap_or_default();
    let tags: [(&'static str, &Option<String>, Engine); 7] = [
        (
            "spec.versions.wordpress",
            &versions.wordpress,
            Engine::Woocommerce,
        ),
        (
            "spec.versions.mariadb",
            &versions.mariadb,
            Engine::Woocommerce,
        ),
        ("spec.versions.wpCli", &versions.wp_cli, Engine::Woocommerce),
        (
            "spec.versions.woocommerce",
            &versions.woocommerce,
            Engine::Woocommerce,
        ),
        ("spec.versions.medusa", &versions.medusa, Engine::Medusa),
        ("spec.versions.postgres", &versions.postgres, Engine::Medusa),
        ("spec.versions.redis", &versions.redis, Engine::Medusa),
    ];
    for (field, tag, engine) in tags {
        let Some(tag) = tag else { continue };
        if engine != spec.engine {
            p.add(invalid(
                field,
                format!(
                    "is for engine {}, and this store's engine is {}",
                    engine.as_str(),
                    spec.engine.as_str()
                ),
            ));
        } else if field == "spec.versions.woocommerce" {
            if !is_plugin_version(tag) {
                p.add(invalid(
                    field,
                    format!("{tag:?} is not a version like 9.3 or 9.3.1"),
                ));
            }
        } else if !is_image_tag(tag) {
            p.add(invalid(field, format!("{tag:?} is not an image tag")));
        }
    }
    match spec.engine {
        Engine::Woocommerce => App::Woocommerce(Woocommerce {
            images: ResolvedImages {
                wordpress: config
                    .images
                    .wordpress
                    .reference(versions.wordpress.as_deref()),
                mariadb: config.images.mariadb.reference(versions.mariadb.as_deref()),
                wp_cli: config.images.wp_cli.reference(versions.wp_cli.as_deref()),
            },
            theme: woocommerce_theme(setup_spec.theme, p),
            payment_methods: payment_methods(setup_spec.payment_methods, p),
            woocommerce_version: versions
                .woocommerce
                .or_else(|| config.woocommerce_version.clone()),
        }),
        Engine::Medusa => {
            for (field, set) in [
                ("spec.setup.theme", setup_spec.theme.is_some()),
                (
                    "spec.setup.paymentMethods",
                    setup_spec.payment_methods.is_some(),
                ),
            ] {
                if set {
                    p.add(invalid(
                        field,
                        "is a WooCommerce setting; a Medusa store takes payments with its manual (system) provider and has no theme".into(),
                    ));
                }
            }
            App::Medusa(Medusa {
                images: MedusaImages {
                    medusa: config.images.medusa.reference(versions.medusa.as_deref()),
                    postgres: config
                        .images
                        .postgres
                        .reference(versions.postgres.as_deref()),
                    redis: config.images.redis.reference(versions.redis.as_deref()),
                },
            })
        }
    }
}

/// Whether `v` is a plugin version: two or three dot-separated numbers (`9.3`, `9.3.1`).
pub fn is_plugin_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn woocommerce_theme(theme: Option<String>, p: &mut Problems) -> String {
    let theme = theme.unwrap_or_else(|| "storefront".into());
    if !config::is_label(&theme) {
        p.add(invalid(
            "spec.setup.theme",
            format!("{theme:?} is not a theme slug"),
        ));
    }
    theme
}

fn payment_methods(methods: Option<Vec<PaymentMethod>>, p: &mut Problems) -> Vec<PaymentMethod> {
    let methods = methods.unwrap_or_else(|| vec![PaymentMethod::Cod]);
    if methods.is_empty() {
        p.add(invalid(
            "spec.setup.paymentMethods",
            "must name at least one method".into(),
        ));
    }
    if let Some(twice) = methods
        .iter()
        .enumerate()
        .find(|(i, m)| methods[..*i].contains(m))
    {
        p.add(invalid(
            "spec.setup.paymentMethods",
            format!("{} is listed twice", twice.1.gateway_id()),
        ));
    }
    methods
}

/// Backups: the operator's target with the store's schedule and retention, if it gives them. A
/// store that asks for backups where the operator has no target is refused.
pub(super) fn backup(
    spec: &StoreSpec,
    name: &str,
    config: &OperatorConfig,
    p: &mut Problems,
) -> Option<ResolvedBackup> {
    let wanted = spec.backup.clone().unwrap_or_default();
    let Some(target) = &config.backup else {
        if spec.restore_from.is_some() {
            p.add(invalid(
                "spec.restoreFrom",
                "this operator has no backup target, so there is no backup to restore".into(),
            ));
        }
        if wanted.enabled != Some(false)
            && (wanted.enabled.is_some()
                || wanted.schedule.is_some()
                || wanted.drill_schedule.is_some()
                || wanted.retention.is_some())
        {
            p.add(invalid(
                "spec.backup",
                "this operator has no backup target: leave spec.backup out (or set enabled: false), or ask an admin to configure backup in the operator config".into(),
            ));
        }
        return None;
    };
    // Each store's H spread first; the cron checks see what its CronJob and drills will carry.
    let drill_wanted = wanted
        .drill_schedule
        .unwrap_or_else(|| target.drill_schedule.clone());
    let drill_schedule = config::spread(&drill_wanted, name);
    if !config::is_cron(&drill_schedule) {
        p.add(invalid(
            "spec.backup.drillSchedule",
            format!(
                "{drill_wanted:?} is not a cron schedule (five fields, e.g. \"0 5 * * 0\", H for a minute or hour of the store's own, or @weekly)"
            ),
        ));
    }
    let schedule_wanted = wanted.schedule.unwrap_or_else(|| target.schedule.clone());
    let schedule = config::spread(&schedule_wanted, name);
    if !config::is_cron(&schedule) {
        p.add(invalid(
            "spec.backup.schedule",
            format!(
                "{schedule_wanted:?} is not a cron schedule (five fields, e.g. \"0 3 * * *\", H for a minute or hour of the store's own, or @daily)"
            ),
        ));
    }
    let retention = wanted.retention.map_or_else(
        || target.retention.clone(),
        |r| config::Retention {
            daily: r.daily,
            weekly: r.weekly,
            monthly: r.monthly,
        },
    );
    if retention.daily + retention.weekly + retention.monthly == 0 {
        p.add(invalid(
            "spec.backup.retention",
            "keeps no snapshot at all".into(),
        ));
    }
    let restore = spec.restore_from.as_ref().map(|from| ResolvedRestore {
        store: from.store.clone(),
        repository: target.repository(&spec.owner, &from.store),
        snapshot: from.snapshot.clone(),
        rollback: false,
    });
    Some(ResolvedBackup {
        restore,
        owner: spec.owner.clone(),
        repository: target.repository(&spec.owner, name),
        region: target.s3.region.clone(),
        schedule,
        scheduled: wanted.enabled != Some(false),
        drill_schedule,
        retention,
        image: config.images.restic.reference(None),
        egress_cidrs: target.egress_cidrs.clone(),
        port: target.s3.port().unwrap_or(443),
    })
}
