//! Every value of a loaded configuration, and how the values fit together (a
//! container limit above the limit range, pods that do not fit the quota, ...), all problems at
//! once, each with the path of its key.

use storefleet_types::Plan;
use storefleet_types::names::store_name;
use storefleet_types::spec::is_image_tag;

use super::Checker;
use crate::config::{ConfigError, OperatorConfig, is_hostname, is_label, is_subdomain};

impl OperatorConfig {
    /// Checks every value and how they fit together; lists all problems at once.
    pub fn check(&self) -> Result<(), ConfigError> {
        let mut c = Checker::default();
        if !is_hostname(&self.base_domain) {
            c.issue(
                "baseDomain",
                format!("{:?} is not a lower-case DNS name", self.base_domain),
            );
        }
        for (i, host) in self.reserved_hosts.iter().enumerate() {
            if !is_hostname(host) {
                c.issue(
                    &format!("reservedHosts[{i}]"),
                    format!("{host:?} is not a lower-case host name"),
                );
            }
        }
        if let Some(sa) = &self.api_service_account {
            if !is_label(&sa.namespace) {
                c.issue(
                    "apiServiceAccount.namespace",
                    format!("{:?} is not a valid namespace name", sa.namespace),
                );
            }
            if !is_subdomain(&sa.name) {
                c.issue(
                    "apiServiceAccount.name",
                    format!("{:?} is not a valid ServiceAccount name", sa.name),
                );
            }
        }
        check_prefix(&mut c, &self.namespace_prefix);
        if let Some(backup) = &self.backup {
            check_backup(&mut c, backup);
        }
        if self.max_stores == 0 {
            c.issue("maxStores", "must be at least 1");
        }
        if self.provisioning_timeout_seconds < 60 {
            c.issue("provisioningTimeoutSeconds", "must be at least 60");
        }
        if self.controller.concurrency == 0 {
            c.issue("controller.concurrency", "must be at least 1");
        }
        if let Some(class) = &self.ingress.class_name
            && !is_subdomain(class)
        {
            c.issue(
                "ingress.className",
                format!("{class:?} is not a valid IngressClass name"),
            );
        }
        check_gateway(&mut c, self);
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
        for (key, names) in [
            (
                "ingress.allowedClusterIssuers",
                &self.ingress.allowed_cluster_issuers,
            ),
            (
                "allowedStorageClassNames",
                &self.allowed_storage_class_names,
            ),
        ] {
            for (i, name) in names.iter().enumerate() {
                if !is_subdomain(name) {
                    c.issue(
                        &format!("{key}[{i}]"),
                        format!("{name:?} is not a valid name"),
                    );
                }
            }
        }
        if let Some(class) = &self.storage_class_name
            && !is_subdomain(class)
        {
            c.issue(
                "storageClassName",
                format!("{class:?} is not a valid StorageClass name"),
            );
        }
        for (key, image) in [
            ("wordpress", &self.images.wordpress),
            ("mariadb", &self.images.mariadb),
            ("wpCli", &self.images.wp_cli),
            ("medusa", &self.images.medusa),
            ("postgres", &self.images.postgres),
            ("redis", &self.images.redis),
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
        if let Some(version) = self
            .woocommerce_version
            .as_deref()
            .filter(|v| !crate::validate::is_plugin_version(v))
        {
            c.issue(
                "woocommerceVersion",
                format!("{version:?} is not a version like 9.3 or 9.3.1"),
            );
        }
        if self.setup.active_deadline_seconds < 60 {
            c.issue("setup.activeDeadlineSeconds", "must be at least 60");
        }
        if !(0..=10).contains(&self.setup.backoff_limit) {
            c.issue("setup.backoffLimit", "must be between 0 and 10");
        }
        if !crate::config::is_schedule(&self.probe.schedule) {
            c.issue(
                "probe.schedule",
                format!(
                    "{:?} is not a cron schedule (five fields, H for a minute or hour of each store's own, e.g. \"H/10 * * * *\")",
                    self.probe.schedule
                ),
            );
        }
        if !crate::config::is_schedule(&self.cron.schedule) {
            c.issue(
                "cron.schedule",
                format!(
                    "{:?} is not a cron schedule (five fields, H for a minute or hour of each store's own, e.g. \"H/5 * * * *\")",
                    self.cron.schedule
                ),
            );
        }
        for plan in [Plan::Small, Plan::Medium, Plan::Large] {
            super::fit::check_plan(
                &mut c,
                &format!("plans.{}", plan.as_str()),
                self.plans.get(plan),
            );
        }
        c.finish()
    }
}

fn check_gateway(c: &mut Checker, config: &OperatorConfig) {
    let Some(gateway) = &config.gateway else {
        if config.routing == crate::config::RoutingMode::Gateway {
            c.issue(
                "routing",
                "gateway routing needs the gateway section (defaultGateway, dataPlaneNamespace)",
            );
        }
        return;
    };
    let refs = std::iter::once((
        "gateway.defaultGateway".to_string(),
        &gateway.default_gateway,
    ))
    .chain(
        gateway
            .allowed_gateways
            .iter()
            .enumerate()
            .map(|(i, g)| (format!("gateway.allowedGateways[{i}]"), g)),
    );
    for (path, g) in refs {
        if !is_label(&g.namespace) {
            c.issue(
                &format!("{path}.namespace"),
                format!("{:?} is not a valid namespace name", g.namespace),
            );
        }
        if !is_subdomain(&g.name) {
            c.issue(
                &format!("{path}.name"),
                format!("{:?} is not a valid Gateway name", g.name),
            );
        }
    }
    for (path, listener) in [
        ("gateway.httpListener", &gateway.http_listener),
        ("gateway.httpsListener", &gateway.https_listener),
    ] {
        if let Some(l) = listener
            && !is_label(l)
        {
            c.issue(path, format!("{l:?} is not a valid listener name"));
        }
    }
    if !is_label(&gateway.data_plane_namespace) {
        c.issue(
            "gateway.dataPlaneNamespace",
            format!(
                "{:?} is not a valid namespace name",
                gateway.data_plane_namespace
            ),
        );
    }
}

fn check_prefix(c: &mut Checker, prefix: &str) {
    // Without a prefix a store's namespace is its bare name: a store named `default` or
    // `kube-system` would aim at the cluster's own namespaces.
    if prefix.is_empty() {
        c.issue(
            "namespacePrefix",
            "must not be empty: store namespaces need a prefix of their own (e.g. \"store-\") so that no store name is a namespace of the cluster".to_string(),
        );
    }
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

/// Backups: an endpoint restic can reach, a bucket, the Secrets' names, the object store's
/// addresses (the pods' only way out), a schedule Kubernetes accepts, a retention that keeps
/// something.
fn check_backup(c: &mut Checker, backup: &crate::config::BackupConfig) {
    if backup.s3.port().is_none() || !backup.s3.endpoint.starts_with("http") {
        c.issue(
            "backup.s3.endpoint",
            format!("{:?} is not an http:// or https:// URL", backup.s3.endpoint),
        );
    }
    let bucket = &backup.s3.bucket;
    if bucket.len() < 3 || bucket.len() > 63 || !is_subdomain(bucket) {
        c.issue(
            "backup.s3.bucket",
            format!("{bucket:?} is not an S3 bucket name"),
        );
    }
    if backup
        .s3
        .prefix
        .split('/')
        .any(|part| part == ".." || part.contains(char::is_whitespace))
    {
        c.issue(
            "backup.s3.prefix",
            format!("{:?} is not a plain folder", backup.s3.prefix),
        );
    }
    if !is_label(&backup.secrets_namespace) {
        c.issue(
            "backup.secretsNamespace",
            format!("{:?} is not a namespace name", backup.secrets_namespace),
        );
    }
    for (path, name) in [
        ("backup.credentialsSecret", &backup.credentials_secret),
        ("backup.keySecret", &backup.key_secret),
    ] {
        if !is_subdomain(name) {
            c.issue(path, format!("{name:?} is not a valid Secret name"));
        }
    }
    if backup.egress_cidrs.is_empty() {
        c.issue(
            "backup.egressCidrs",
            "name the object store's addresses: the backup pods may reach nothing else",
        );
    }
    if !crate::config::is_schedule(&backup.drill_schedule) {
        c.issue(
            "backup.drillSchedule",
            format!("{:?} is not a cron schedule", backup.drill_schedule),
        );
    }
    if !crate::config::is_schedule(&backup.schedule) {
        c.issue(
            "backup.schedule",
            format!("{:?} is not a cron schedule", backup.schedule),
        );
    }
    let r = &backup.retention;
    if r.daily + r.weekly + r.monthly == 0 {
        c.issue("backup.retention", "keeps no snapshot at all");
    }
}
