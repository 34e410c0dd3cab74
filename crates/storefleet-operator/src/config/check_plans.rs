//! How a plan fits together: the limit range in itself, the volumes within it, and for each
//! engine (WooCommerce, and Medusa's own section) every container within its limits and the
//! limit range, all of them together within the engine's quota, and the object counts.

use kube_quantity::ParsedQuantity;

use super::checker::Checker;
use super::{ContainerResources, PlanConfig, QuotaConfig};

pub(super) fn check_plan(c: &mut Checker, path: &str, plan: &PlanConfig) {
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
