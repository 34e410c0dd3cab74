//! What each plan means: the namespace's quota and limit range, container resources, volumes.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube_quantity::ParsedQuantity;
use serde::{Deserialize, Serialize};
use storefleet_types::Plan;

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
    /// What an `engine: medusa` store of this plan gets instead of `quota` and `resources`
    /// (a Node server and worker, PostgreSQL and Redis need more than WordPress and MariaDB).
    /// The limit range and the volumes are the plan's.
    pub medusa: MedusaPlanConfig,
}

/// A plan's quota and container resources for Medusa stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MedusaPlanConfig {
    /// ResourceQuota of the store's namespace.
    pub quota: QuotaConfig,
    /// Container resources per component.
    pub resources: MedusaResources,
}

/// Container resources of a Medusa store's components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MedusaResources {
    /// PostgreSQL.
    pub database: ContainerResources,
    /// Redis.
    pub cache: ContainerResources,
    /// The Medusa server (HTTP: Store API, admin).
    pub server: ContainerResources,
    /// The Medusa worker (subscribers, scheduled jobs, workflows).
    pub worker: ContainerResources,
    /// The migration Job.
    pub migration: ContainerResources,
    /// The setup Job.
    pub setup: ContainerResources,
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
    /// `requests.ephemeral-storage`: all pods together.
    pub requests_ephemeral_storage: Quantity,
    /// `limits.ephemeral-storage`: all pods together (a full node disk evicts other tenants).
    pub limits_ephemeral_storage: Quantity,
    /// `persistentvolumeclaims`.
    pub persistent_volume_claims: u32,
    /// `pods`.
    pub pods: u32,
    /// `services`.
    pub services: u32,
}

/// CPU, memory and ephemeral storage (container logs, writable layer, emptyDirs), as in a
/// container's requests or limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Compute {
    /// CPU.
    pub cpu: Quantity,
    /// Memory.
    pub memory: Quantity,
    /// Ephemeral storage (`ephemeral-storage`): what the pod may write on the node's disk.
    pub ephemeral_storage: Quantity,
}

/// LimitRange values for containers and PVCs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitRangeConfig {
    /// Largest container limits.
    pub container_max: Compute,
    /// Limits of a container that sets none.
    pub container_default: Compute,
    /// Requests of a container that sets none.
    pub container_default_request: Compute,
    /// Largest PVC.
    pub volume_max: Quantity,
}

/// Requests and limits of one container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerResources {
    /// Requests.
    pub requests: Compute,
    /// Limits.
    pub limits: Compute,
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
    /// `sizeLimit` of every emptyDir (`/tmp`, `/run`, Redis's `/data`): past it the pod is
    /// evicted instead of filling the node's disk.
    pub scratch: Quantity,
}

fn q(s: &str) -> Quantity {
    Quantity(s.into())
}

/// The checkout probe's container, the same in every plan: a few HTTP requests from PHP or Node
/// (50m and 64Mi requested, at most 250m and 256Mi; 64Mi of scratch requested, 256Mi at most).
pub fn probe_resources() -> ContainerResources {
    ContainerResources {
        requests: cm("50m", "64Mi", "64Mi"),
        limits: cm("250m", "256Mi", "256Mi"),
    }
}

fn cm(cpu: &str, memory: &str, ephemeral_storage: &str) -> Compute {
    Compute {
        cpu: q(cpu),
        memory: q(memory),
        ephemeral_storage: q(ephemeral_storage),
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
        // Every container: ephemeral storage 128Mi requested, 1Gi at most (times the plan).
        let res = |requests: (&str, &str), limits: (&str, &str)| ContainerResources {
            requests: cm(requests.0, requests.1, &mem(128)),
            limits: cm(limits.0, limits.1, &mem(1024)),
        };
        let bytes = |s: &str| {
            ParsedQuantity::try_from(s)
                .ok()
                .and_then(|q| q.to_bytes_i128())
                .unwrap_or_default()
        };
        // Storage quota: both volumes plus 50% head room for a resize or a retained extra claim.
        let storage_gi = (bytes(db) + bytes(sf)) * 3 / 2 / (1i128 << 30);
        Self {
            quota: QuotaConfig {
                requests_cpu: q(&cpu(1000)),
                requests_memory: q(&mem(1536)),
                limits_cpu: q(&cpu(3000)),
                limits_memory: q(&mem(3072)),
                requests_storage: q(&format!("{storage_gi}Gi")),
                requests_ephemeral_storage: q(&mem(2048)),
                limits_ephemeral_storage: q(&mem(8192)),
                persistent_volume_claims: 4,
                pods: 10,
                services: 5,
            },
            limit_range: LimitRangeConfig {
                container_max: cm(&cpu(1000), &mem(1024), &mem(2048)),
                container_default: cm(&cpu(250), &mem(256), &mem(512)),
                container_default_request: cm(&cpu(50), &mem(64), &mem(64)),
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
                scratch: q(&mem(512)),
            },
            medusa: MedusaPlanConfig {
                quota: QuotaConfig {
                    requests_cpu: q(&cpu(1000)),
                    requests_memory: q(&mem(2048)),
                    limits_cpu: q(&cpu(4000)),
                    limits_memory: q(&mem(5120)),
                    requests_storage: q(&format!("{storage_gi}Gi")),
                    requests_ephemeral_storage: q(&mem(2048)),
                    limits_ephemeral_storage: q(&mem(8192)),
                    persistent_volume_claims: 4,
                    pods: 12,
                    services: 5,
                },
                resources: MedusaResources {
                    database: res((&cpu(100), &mem(256)), (&cpu(500), &mem(512))),
                    cache: res((&cpu(50), &mem(64)), (&cpu(250), &mem(256))),
                    server: res((&cpu(200), &mem(384)), (&cpu(1000), &mem(1024))),
                    worker: res((&cpu(100), &mem(256)), (&cpu(500), &mem(768))),
                    migration: res((&cpu(100), &mem(256)), (&cpu(500), &mem(768))),
                    setup: res((&cpu(100), &mem(256)), (&cpu(500), &mem(768))),
                },
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
