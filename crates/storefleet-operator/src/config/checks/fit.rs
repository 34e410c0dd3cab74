//! How a plan fits together (CPU, memory and ephemeral storage alike): the limit range in
//! itself, the volumes within it, and for each engine (WooCommerce, and Medusa's own section)
//! every container within its limits and the limit range, all of them together within the
//! engine's quota, and the object counts.

use kube_quantity::ParsedQuantity;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::Checker;
use crate::config::{Compute, ContainerResources, PlanConfig, QuotaConfig};

/// One amount a container, a limit range and a quota give (CPU, memory, ephemeral storage).
struct Amount {
    /// Its key in a container's or limit range's config (`cpu`, `ephemeralStorage`).
    key: &'static str,
    /// Its suffix in the quota's config keys (`requestsCpu`, `limitsEphemeralStorage`).
    quota_key: &'static str,
    /// Its Kubernetes resource name (`ephemeral-storage`).
    resource: &'static str,
    /// Where it is in a [`Compute`].
    of: fn(&Compute) -> &Quantity,
    /// The quota's bound on its requests and on its limits.
    quota: fn(&QuotaConfig) -> (&Quantity, &Quantity),
}

const AMOUNTS: [Amount; 3] = [
    Amount {
        key: "cpu",
        quota_key: "Cpu",
        resource: "cpu",
        of: |c| &c.cpu,
        quota: |q| (&q.requests_cpu, &q.limits_cpu),
    },
    Amount {
        key: "memory",
        quota_key: "Memory",
        resource: "memory",
        of: |c| &c.memory,
        quota: |q| (&q.requests_memory, &q.limits_memory),
    },
    Amount {
        key: "ephemeralStorage",
        quota_key: "EphemeralStorage",
        resource: "ephemeral-storage",
        of: |c| &c.ephemeral_storage,
        quota: |q| (&q.requests_ephemeral_storage, &q.limits_ephemeral_storage),
    },
];

/// Each amount's limit range maximum (None where it is invalid).
type Maxima = [Option<ParsedQuantity>; 3];

pub(super) fn check_plan(c: &mut Checker, path: &str, plan: &PlanConfig) {
    let p = |suffix: &str| format!("{path}.{suffix}");
    let lr = &plan.limit_range;
    let mut max: Maxima = Default::default();
    for (amount, max) in AMOUNTS.iter().zip(max.iter_mut()) {
        let (key, of) = (amount.key, amount.of);
        let at = |which: &str| p(&format!("limitRange.{which}.{key}"));
        *max = c.positive(&at("containerMax"), of(&lr.container_max));
        let default = c.positive(&at("containerDefault"), of(&lr.container_default));
        let request = c.positive(
            &at("containerDefaultRequest"),
            of(&lr.container_default_request),
        );
        c.at_most(
            &at("containerDefault"),
            &default,
            max,
            &of(&lr.container_default).0,
            "the maximum",
        );
        c.at_most(
            &at("containerDefaultRequest"),
            &request,
            &default,
            &of(&lr.container_default_request).0,
            "the default limit",
        );
    }
    let vol_max = c.positive(&p("limitRange.volumeMax"), &lr.volume_max);
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
    let scratch = c.positive(&p("volumes.scratch"), &plan.volumes.scratch);
    c.at_most(
        &p("volumes.scratch"),
        &scratch,
        &max[2],
        &plan.volumes.scratch.0,
        "the limit range's containerMax.ephemeralStorage",
    );
    let r = &plan.resources;
    let probe = crate::config::probe_resources();
    check_engine(
        c,
        &Engine {
            path: path.to_string(),
            quota: &plan.quota,
            components: &[
                ("database", &r.database),
                ("storefront", &r.storefront),
                ("setup", &r.setup),
                ("probe", &probe),
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
    // A Medusa store also has Redis's volume (its append-only file).
    let cache = ParsedQuantity::try_from(crate::desired::medusa::CACHE_VOLUME).ok();
    let medusa_volumes = match (&volumes, cache) {
        (Some(v), Some(c)) => Some(v.clone() + c),
        _ => None,
    };
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
                ("probe", &probe),
            ],
            least: Counts {
                claims: (3, "database, uploads and cache"),
                pods: (5, "database, cache, server, worker, one Job"),
                services: (3, "database, cache and storefront"),
            },
        },
        &max,
        &medusa_volumes,
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
fn check_engine(c: &mut Checker, e: &Engine<'_>, max: &Maxima, volumes: &Option<ParsedQuantity>) {
    let path = &e.path;
    let p = |suffix: &str| format!("{path}.{suffix}");
    let quota = e.quota;
    for (amount, max) in AMOUNTS.iter().zip(max) {
        let (key, quota_key, of) = (amount.key, amount.quota_key, amount.of);
        let (q_requests, q_limits) = (amount.quota)(quota);
        let bound_requests = c.positive(&p(&format!("quota.requests{quota_key}")), q_requests);
        let bound_limits = c.positive(&p(&format!("quota.limits{quota_key}")), q_limits);
        // Summed from the first value on, so that the total keeps its unit (`24Gi`, not bytes).
        let add = |sum: Option<ParsedQuantity>, v: Option<ParsedQuantity>| match (sum, v) {
            (Some(s), Some(v)) => Some(s + v),
            (s, v) => s.or(v),
        };
        let (mut requests, mut limits) = (None, None);
        for (name, r) in e.components {
            let rp = |which: &str| format!("{path}.resources.{name}.{which}.{key}");
            let request = c.positive(&rp("requests"), of(&r.requests));
            let limit = c.positive(&rp("limits"), of(&r.limits));
            c.at_most(
                &rp("requests"),
                &request,
                &limit,
                &of(&r.requests).0,
                "its limit",
            );
            c.at_most(
                &rp("limits"),
                &limit,
                max,
                &of(&r.limits).0,
                "the limit range's maximum",
            );
            requests = add(requests, request);
            limits = add(limits, limit);
        }
        let resource = amount.resource;
        for (which, bound, sum) in [
            ("requests", bound_requests, requests),
            ("limits", bound_limits, limits),
        ] {
            if let (Some(b), Some(sum)) = (bound, sum)
                && sum > b
            {
                c.issue(
                    &p(&format!("quota.{which}{quota_key}")),
                    format!(
                        "{b} is below the {which}.{resource} of the store's pods together ({sum})"
                    ),
                );
            }
        }
    }
    let q_storage = c.positive(&p("quota.requestsStorage"), &quota.requests_storage);
    if let (Some(both), Some(storage)) = (volumes, q_storage)
        && *both > storage
    {
        c.issue(
            &p("quota.requestsStorage"),
            format!("{storage} is below the store's volumes together ({both})"),
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
