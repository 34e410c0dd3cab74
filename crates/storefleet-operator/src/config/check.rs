//! The checks of a loaded configuration: every value and how the values fit together (a
//! container limit above the limit range, pods that do not fit the quota, ...), all problems at
//! once, each with the path of its key.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube_quantity::ParsedQuantity;
use storefleet_types::Plan;
use storefleet_types::names::store_name;
use storefleet_types::spec::is_image_tag;

use super::{
    ConfigError, ConfigIssue, ContainerResources, OperatorConfig, PlanConfig, QuotaConfig,
    is_hostname, is_label, is_subdomain,
};

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
    fn positive(&mut self, path: &str, value: &Quantity) -> Option<ParsedQuantity> {
        match ParsedQuantity::try_from(value) {
            Ok(v) if v > ParsedQuantity::default() => Some(v),
            Ok(_) => {
                self.issue(path, format!("{} must be greater than zero", value.0));
                None
            }
            Err(e) => {
                self.issue(path, format!("{:?} is not a valid quantity: {e}", value.0));
                None
            }
        }
    }

    /// Records an issue when `value` (at `path`) exceeds `bound` (described by `what`).
    fn at_most(
        &mut self,
        path: &str,
        value: &Option<ParsedQuantity>,
        bound: &Option<ParsedQuantity>,
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

fn check_gateway(c: &mut Checker, config: &OperatorConfig) {
    let Some(gateway) = &config.gateway else {
        if config.routing == super::RoutingMode::Gateway {
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
        &def_cpu,
        &max_cpu,
        &lr.container_default.cpu.0,
        "the maximum",
    );
    c.at_most(
        &p("limitRange.containerDefault.memory"),
        &def_mem,
        &max_mem,
        &lr.container_default.memory.0,
        "the maximum",
    );
    c.at_most(
        &p("limitRange.containerDefaultRequest.cpu"),
        &dreq_cpu,
        &def_cpu,
        &lr.container_default_request.cpu.0,
        "the default limit",
    );
    c.at_most(
        &p("limitRange.containerDefaultRequest.memory"),
        &dreq_mem,
        &def_mem,
        &lr.container_default_request.memory.0,
        "the default limit",
    );
    let db = c.positive(&p("volumes.database"), &plan.volumes.database);
    let sf = c.positive(&p("volumes.storefront"), &plan.volumes.storefront);
    c.at_most(
        &p("volumes.database"),
        &db,
        &vol_max,
        &plan.volumes.database.0,
        "the limit range's volumeMax",
    );
    c.at_most(
        &p("volumes.storefront"),
        &sf,
        &vol_max,
        &plan.volumes.storefront.0,
        "the limit range's volumeMax",
    );
    let volumes = match (db, sf) {
        (Some(db), Some(sf)) => Some(db + sf),
        _ => None,
    };
    let max = (max_cpu, max_mem);
    let r = &plan.resources;
    check_engine(
        c,
        &Engine {
            path: path.to_string(),
            quota: &plan.quota,
            components: &[
                ("database", &r.database),
                ("storefront", &r.storefront),
                ("setup", &r.setup),
            ],
            least: Counts {
                claims: (2, "database and storefront"),
                pods: (3, "database, storefront, setup"),
                services: (2, "database and storefront"),
            },
        },
        &max,
        &volumes,
    );
    let m = &plan.medusa.resources;
    check_engine(
        c,
        &Engine {
            path: p("medusa"),
            quota: &plan.medusa.quota,
            components: &[
                ("database", &m.database),
                ("cache", &m.cache),
                ("server", &m.server),
                ("worker", &m.worker),
                ("migration", &m.migration),
                ("setup", &m.setup),
            ],
            least: Counts {
                claims: (2, "database and uploads"),
                pods: (5, "database, cache, server, worker, one Job"),
                services: (3, "database, cache and storefront"),
            },
        },
        &max,
        &volumes,
    );
}

/// The least object counts an engine's store needs, with the reason.
struct Counts {
    claims: (u32, &'static str),
    pods: (u32, &'static str),
    services: (u32, &'static str),
}

/// One engine's quota and the containers it must hold.
struct Engine<'a> {
    /// `plans.<plan>` or `plans.<plan>.medusa`.
    path: String,
    quota: &'a QuotaConfig,
    components: &'a [(&'a str, &'a ContainerResources)],
    least: Counts,
}

/// Every container within its own limits and the limit range's maximum, all of them together
/// within the quota, both volumes within the storage quota, and the object counts.
fn check_engine(
    c: &mut Checker,
    e: &Engine<'_>,
    (max_cpu, max_mem): &(Option<ParsedQuantity>, Option<ParsedQuantity>),
    volumes: &Option<ParsedQuantity>,
) {
    let path = &e.path;
    let p = |suffix: &str| format!("{path}.{suffix}");
    let quota = e.quota;
    let q_req_cpu = c.positive(&p("quota.requestsCpu"), &quota.requests_cpu);
    let q_req_mem = c.positive(&p("quota.requestsMemory"), &quota.requests_memory);
    let q_lim_cpu = c.positive(&p("quota.limitsCpu"), &quota.limits_cpu);
    let q_lim_mem = c.positive(&p("quota.limitsMemory"), &quota.limits_memory);
    let q_storage = c.positive(&p("quota.requestsStorage"), &quota.requests_storage);
    let mut sums: [ParsedQuantity; 4] = Default::default(); // requests cpu, requests memory, limits cpu, limits memory
    for (name, r) in e.components {
        let rp = |suffix: &str| format!("{path}.resources.{name}.{suffix}");
        let req_cpu = c.positive(&rp("requests.cpu"), &r.requests.cpu);
        let req_mem = c.positive(&rp("requests.memory"), &r.requests.memory);
        let lim_cpu = c.positive(&rp("limits.cpu"), &r.limits.cpu);
        let lim_mem = c.positive(&rp("limits.memory"), &r.limits.memory);
        c.at_most(
            &rp("requests.cpu"),
            &req_cpu,
            &lim_cpu,
            &r.requests.cpu.0,
            "its limit",
        );
        c.at_most(
            &rp("requests.memory"),
            &req_mem,
            &lim_mem,
            &r.requests.memory.0,
            "its limit",
        );
        c.at_most(
            &rp("limits.cpu"),
            &lim_cpu,
            max_cpu,
            &r.limits.cpu.0,
            "the limit range's maximum",
        );
        c.at_most(
            &rp("limits.memory"),
            &lim_mem,
            max_mem,
            &r.limits.memory.0,
            "the limit range's maximum",
        );
        for (sum, v) in sums.iter_mut().zip([req_cpu, req_mem, lim_cpu, lim_mem]) {
            *sum = sum.clone() + v.unwrap_or_default();
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
    if let (Some(both), Some(storage)) = (volumes, q_storage)
        && *both > storage
    {
        c.issue(
            &p("quota.requestsStorage"),
            format!("{storage} is below the two volumes together ({both})"),
        );
    }
    let counts = [
        (
            "quota.persistentVolumeClaims",
            quota.persistent_volume_claims,
            e.least.claims,
        ),
        ("quota.pods", quota.pods, e.least.pods),
        ("quota.services", quota.services, e.least.services),
    ];
    for (key, value, (least, why)) in counts {
        if value < least {
            c.issue(&p(key), format!("must be at least {least} ({why})"));
        }
    }
}
