//! Desired objects (what should exist): one pure function per child object, from a
//! [`ValidatedStore`] to typed k8s-openapi structs. No client, no randomness (generated secret
//! values come from a [`SecretValues`] source the caller picks), no `json!`.
//!
//! ```text
//!  ValidatedStore ─► namespace ─► limits (quota, limit range) ─► network (policies)
//!                 ─► secrets (templates: created once, never overwritten)
//!                 ─► the engine's application, on what every shop has (shop: the
//!                    storefront Service, the files volume, hashed Job names):
//!                      woocommerce/: database (MariaDB) ─► storefront (WordPress
//!                                    Deployment) ─► setup (ConfigMap script, Job)
//!                      medusa/:      PostgreSQL, Redis, migration Job, server and worker
//!                                    Deployments, setup Job
//!                 ─► route (Ingress or Gateway API HTTPRoute)   = StoreObjects, in apply order
//!                 ─► hibernate (asleep: the same objects, workloads at zero, CronJobs suspended)
//! ```
//!
//! [`wave`] groups that order into stages whose children do not depend on each other.
//!
//! Every object carries [`labels`] so that it can be found again; every object, the Namespace
//! included, has an ownerReference to the Store, except under `deletionPolicy: Retain`
//! (see [`owner_references`]).

pub mod access;
pub mod backup;
pub mod child;
pub mod hibernate;
pub mod limits;
pub mod medusa;
pub mod namespace;
pub mod network;
pub mod probe;
pub mod route;
pub mod secrets;
pub mod shop;
pub mod wave;
pub mod woocommerce;

pub use child::Child;

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, EmptyDirVolumeSource, EnvVar, EnvVarSource, LimitRange, Namespace,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSecurityContext, PodSpec, PodTemplateSpec,
    ResourceQuota, ResourceRequirements, SeccompProfile, SecretKeySelector, SecurityContext,
    Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use storefleet_types::DeletionPolicy;
use storefleet_types::names::{self, Component, labels as keys};

pub use secrets::{SecretTemplate, SecretValues};

use crate::config::ContainerResources;
use crate::validate::{App, ValidatedStore};

/// Every object one Store consists of.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreObjects {
    /// The store's namespace.
    pub namespace: Namespace,
    /// Its ResourceQuota.
    pub quota: ResourceQuota,
    /// Its LimitRange.
    pub limit_range: LimitRange,
    /// Default deny plus the allowed flows inside the store (and out of it).
    pub network_policies: Vec<NetworkPolicy>,
    /// What lets the edge in (applied with the route, after setup).
    pub edge_policies: Vec<NetworkPolicy>,
    /// Generated credentials: created once when absent, never overwritten.
    pub secrets: Vec<SecretTemplate>,
    /// The API's read of the admin login (when the config names the API's ServiceAccount).
    pub api_access: Option<access::ApiAccess>,
    /// The engine's application.
    pub app: AppObjects,
    /// The storefront's route from outside.
    pub route: route::RouteObject,
    /// Backups (WooCommerce, where the operator has a backup target).
    pub backup: Option<backup::BackupObjects>,
    /// The checkout probe (applied with the route, once set up).
    pub probe: k8s_openapi::api::batch::v1::CronJob,
    /// Asleep (`spec.hibernate`): the workloads at zero, the CronJobs suspended
    /// ([`hibernate`]).
    pub asleep: bool,
}

/// The application objects of one engine.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // built once per reconcile, never moved around in bulk
pub enum AppObjects {
    /// WordPress + WooCommerce on MariaDB.
    Woocommerce(woocommerce::WoocommerceObjects),
    /// Medusa v2 on PostgreSQL and Redis.
    Medusa(medusa::MedusaObjects),
}

impl StoreObjects {
    /// Every child in the documented apply order: isolation first (namespace, quota, limit
    /// range, network policies), then credentials, the rest of what runs no pod, database,
    /// storefront, setup, and last what exposes the shop (edge policies, route), sorted by
    /// [`wave`](Child::wave).
    pub fn children(&self) -> Vec<Child<'_>> {
        let mut out = vec![
            Child::Namespace(&self.namespace),
            Child::ResourceQuota(&self.quota),
            Child::LimitRange(&self.limit_range),
        ];
        out.extend(self.network_policies.iter().map(Child::NetworkPolicy));
        out.extend(self.secrets.iter().map(Child::GeneratedSecret));
        if let Some(access) = &self.api_access {
            out.extend([
                Child::Role(&access.role),
                Child::RoleBinding(&access.binding),
            ]);
        }
        let route = match &self.route {
            route::RouteObject::Ingress(o) => Child::Ingress(o),
            route::RouteObject::HttpRoute(o) => Child::HttpRoute(o),
        };
        match &self.app {
            AppObjects::Woocommerce(w) => out.extend([
                Child::Service(&w.database.service),
                Child::StatefulSet(&w.database.stateful_set),
                Child::PersistentVolumeClaim(&w.storefront.volume),
                Child::Service(&w.storefront.service),
                Child::Deployment(&w.storefront.deployment),
                Child::ConfigMap(&w.setup.script),
                Child::SetupJob(&w.setup.job),
                Child::CronJob(&w.cron),
            ]),
            AppObjects::Medusa(m) => out.extend([
                Child::ConfigMap(&m.database_init),
                Child::Service(&m.database_service),
                Child::StatefulSet(&m.database),
                Child::Service(&m.cache_service),
                Child::StatefulSet(&m.cache),
                Child::MigrationJob(&m.migration),
                Child::PersistentVolumeClaim(&m.uploads),
                Child::Service(&m.service),
                Child::Deployment(&m.server),
                Child::Deployment(&m.worker),
                Child::SetupJob(&m.setup),
            ]),
        }
        if let Some(b) = &self.backup {
            out.extend([
                Child::ConfigMap(&b.scripts),
                Child::NetworkPolicy(&b.policy),
                Child::BackupCronJob(&b.cron_job),
            ]);
            out.extend(b.secret.iter().map(Child::BackupSecret));
            out.extend(b.restore_secret.iter().map(Child::BackupSecret));
            out.extend(b.restore_job.iter().map(Child::RestoreJob));
        }
        out.push(Child::CronJob(&self.probe));
        out.extend(self.edge_policies.iter().map(Child::EdgePolicy));
        out.push(route);
        // The waves are the order the apply step keeps; within a wave, the order above.
        out.sort_by_key(Child::wave);
        out
    }

    /// Every NetworkPolicy: those that keep the store closed, then those that open it to the
    /// edge.
    pub fn policies(&self) -> impl Iterator<Item = &NetworkPolicy> {
        self.network_policies.iter().chain(&self.edge_policies)
    }

    /// The volume claims that hold the shop's data, by name: each database StatefulSet's claims
    /// (`<template>-<statefulset>-0`) and the standalone claims (WordPress files, Medusa
    /// uploads). A cache's claims are not data.
    pub fn data_volumes(&self) -> Vec<String> {
        self.data_claims().into_iter().map(|c| c.name).collect()
    }

    /// The data volume claims with the size they are given, and for a StatefulSet's claim the
    /// StatefulSet and its claim template.
    pub fn data_claims(&self) -> Vec<DataClaim> {
        let size = |claim: &PersistentVolumeClaim| {
            requested_storage(claim)
                .cloned()
                .unwrap_or_else(|| Quantity(String::new()))
        };
        let mut out = Vec::new();
        for child in self.children() {
            match child {
                Child::StatefulSet(sts) => {
                    let claims = sts.spec.volume_claim_templates.iter().flatten();
                    for claim in claims {
                        let component = claim
                            .metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get(keys::COMPONENT));
                        if component.map(String::as_str) == Some(Component::Database.as_str()) {
                            let template = claim.metadata.name.clone().unwrap_or_default();
                            let statefulset = sts.metadata.name.clone().unwrap_or_default();
                            out.push(DataClaim {
                                name: format!("{template}-{statefulset}-0"),
                                size: size(claim),
                                template: Some((statefulset, template)),
                            });
                        }
                    }
                }
                Child::PersistentVolumeClaim(pvc) => out.push(DataClaim {
                    name: pvc.metadata.name.clone().unwrap_or_default(),
                    size: size(pvc),
                    template: None,
                }),
                _ => {}
            }
        }
        out
    }

    /// The setup Job.
    pub fn setup_job(&self) -> &Job {
        match &self.app {
            AppObjects::Woocommerce(w) => &w.setup.job,
            AppObjects::Medusa(m) => &m.setup,
        }
    }
}

/// Builds every object of a store.
pub fn build(store: &ValidatedStore) -> StoreObjects {
    let mut objects = StoreObjects {
        namespace: namespace::build_namespace(store),
        quota: limits::build_resource_quota(store),
        limit_range: limits::build_limit_range(store),
        network_policies: network::build_network_policies(store),
        edge_policies: network::build_edge_policies(store),
        secrets: secrets::build_secret_templates(store),
        api_access: access::build_api_access(store),
        app: match &store.app {
            App::Woocommerce(woo) => {
                AppObjects::Woocommerce(woocommerce::build_woocommerce(store, woo))
            }
            App::Medusa(m) => AppObjects::Medusa(medusa::build_medusa(store, m)),
        },
        route: route::build_route(store),
        backup: store.backup.as_ref().map(|b| {
            let parts = backup_parts(store);
            backup::BackupObjects {
                scripts: backup::scripts(store, &parts),
                policy: network::build_backup_policy(store, b),
                cron_job: backup::pods::build_backup_cron_job(store, b, &parts),
                secret: None,
                restore_job: b.restore.as_ref().map(|r| {
                    backup::pods::build_restore_job(store, b, &parts, &r.store, &r.snapshot)
                }),
                restore_secret: None,
            }
        }),
        probe: probe::build_probe(store),
        asleep: store.hibernate,
    };
    if objects.asleep {
        hibernate::put_to_sleep(&mut objects);
    }
    objects
}

/// What the store's engine puts into its backup, drill and restore pods.
pub fn backup_parts(store: &ValidatedStore) -> backup::pods::EngineParts {
    match &store.app {
        App::Woocommerce(woo) => woocommerce::backup::parts(store, woo),
        App::Medusa(m) => medusa::backup::parts(store, m),
    }
}

/// The labels every object of `store` carries, for `component`.
pub fn labels(store: &ValidatedStore, component: Component) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            keys::MANAGED_BY.to_string(),
            keys::MANAGED_BY_VALUE.to_string(),
        ),
        (keys::PART_OF.to_string(), keys::PART_OF_VALUE.to_string()),
        (keys::INSTANCE.to_string(), store.name.clone()),
        (keys::COMPONENT.to_string(), component.as_str().to_string()),
        (keys::STORE.to_string(), store.name.clone()),
    ])
}

/// The selector of a component's pods: stable (never changes for a store), a subset of
/// [`labels`].
pub fn selector_labels(store: &ValidatedStore, component: Component) -> BTreeMap<String, String> {
    BTreeMap::from([
        (keys::STORE.to_string(), store.name.clone()),
        (keys::COMPONENT.to_string(), component.as_str().to_string()),
    ])
}

/// [`selector_labels`] as a LabelSelector.
pub fn selector(store: &ValidatedStore, component: Component) -> LabelSelector {
    LabelSelector {
        match_labels: Some(selector_labels(store, component)),
        match_expressions: None,
    }
}

/// The ownerReference to the Store.
pub fn owner_reference(store: &ValidatedStore) -> OwnerReference {
    OwnerReference {
        api_version: names::API_VERSION.into(),
        kind: names::KIND.into(),
        name: store.name.clone(),
        uid: store.uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The ownerReferences of every child: the Store, unless `deletionPolicy: Retain`.
///
/// Under Retain no child is owned, so neither garbage collection nor a foreground deletion of
/// the Store (as Argo CD does) can take the kept data; switching a store to Retain drops the
/// references on the next reconcile, and cleanup drops any left.
pub fn owner_references(store: &ValidatedStore) -> Option<Vec<OwnerReference>> {
    match store.deletion_policy {
        DeletionPolicy::Delete => Some(vec![owner_reference(store)]),
        DeletionPolicy::Retain => None,
    }
}

/// Metadata of a namespaced child: name, the store's namespace, labels, ownerReference.
pub fn child_meta(store: &ValidatedStore, name: &str, component: Component) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(store.namespace.clone()),
        labels: Some(labels(store, component)),
        owner_references: owner_references(store),
        ..ObjectMeta::default()
    }
}

/// A ReadWriteOnce claim of `size` in the store's StorageClass.
pub fn rwo_claim_spec(store: &ValidatedStore, size: &Quantity) -> PersistentVolumeClaimSpec {
    PersistentVolumeClaimSpec {
        access_modes: Some(vec!["ReadWriteOnce".into()]),
        storage_class_name: store.storage_class.clone(),
        resources: Some(VolumeResourceRequirements {
            requests: Some(BTreeMap::from([("storage".to_string(), size.clone())])),
            limits: None,
        }),
        ..PersistentVolumeClaimSpec::default()
    }
}

/// The storage a claim (or claim template) requests.
pub fn requested_storage(claim: &PersistentVolumeClaim) -> Option<&Quantity> {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
}

/// A StatefulSet's volume claim template `data` of `component`, `size` in the store's
/// StorageClass.
pub fn claim_template(
    store: &ValidatedStore,
    component: Component,
    size: &Quantity,
) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(names::child::DATABASE_DATA.into()),
            labels: Some(labels(store, component)),
            ..ObjectMeta::default()
        },
        spec: Some(rwo_claim_spec(store, size)),
        status: None,
    }
}

/// The database's volume claim template `data` (`databaseSize`, the store's StorageClass).
pub fn database_claim(store: &ValidatedStore) -> PersistentVolumeClaim {
    claim_template(store, Component::Database, &store.database_size)
}

/// A pod template of `component`: our labels, no ServiceAccount token, no service links, and
/// the restricted pod security context of `uid`, around `spec`.
pub fn pod_template(
    store: &ValidatedStore,
    component: Component,
    uid: i64,
    spec: PodSpec,
) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(store, component)),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            security_context: Some(pod_security(uid)),
            ..spec
        }),
    }
}

/// A data volume claim of a store, as built.
#[derive(Debug, Clone, PartialEq)]
pub struct DataClaim {
    /// The claim's name (`data-database-0` for a StatefulSet's).
    pub name: String,
    /// Its requested size.
    pub size: Quantity,
    /// The StatefulSet whose claim template makes it, and the template's name.
    pub template: Option<(String, String)>,
}

/// A store's own CronJob (WordPress's cron, the checkout probe): one run at a time (`Forbid`),
/// UTC, `deadline` seconds for a run to start and to finish, no retry of a failed pod, the newest
/// success and `failed_kept` failures kept for their conditions and logs.
pub fn store_cron_job(
    store: &ValidatedStore,
    (name, component): (&str, Component),
    schedule: &str,
    (deadline, failed_kept): (i64, i32),
    job: JobSpec,
) -> k8s_openapi::api::batch::v1::CronJob {
    use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobTemplateSpec};
    CronJob {
        metadata: child_meta(store, name, component),
        spec: CronJobSpec {
            schedule: schedule.to_string(),
            time_zone: Some("Etc/UTC".into()),
            concurrency_policy: Some("Forbid".into()),
            starting_deadline_seconds: Some(deadline),
            successful_jobs_history_limit: Some(1),
            failed_jobs_history_limit: Some(failed_kept),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(store, component)),
                    ..ObjectMeta::default()
                }),
                spec: Some(JobSpec {
                    backoff_limit: Some(0),
                    active_deadline_seconds: Some(deadline),
                    ..job
                }),
            },
            ..CronJobSpec::default()
        },
        status: None,
    }
}

/// An emptyDir volume bounded by the plan's `volumes.scratch` (past it the kubelet evicts the
/// pod rather than let it fill the node's disk).
pub fn empty_dir(store: &ValidatedStore, name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(store.plan.volumes.scratch.clone()),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// A volume mount.
pub fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        ..VolumeMount::default()
    }
}

/// Requests and limits (CPU, memory, ephemeral storage) from the plan.
pub fn resources(r: &ContainerResources) -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(limits::compute(&r.requests)),
        limits: Some(limits::compute(&r.limits)),
        ..ResourceRequirements::default()
    }
}

/// Pod security context that meets the `restricted` Pod Security Standard.
pub fn pod_security(uid: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        fs_group: Some(uid),
        fs_group_change_policy: Some("OnRootMismatch".into()),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..PodSecurityContext::default()
    }
}

/// Container security context: no privilege escalation, no capabilities.
pub fn container_security(read_only_root: bool) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(read_only_root),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        ..SecurityContext::default()
    }
}

/// An env var with a literal value.
pub fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// An env var read from a Secret key.
pub fn env_from_secret(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.into(),
                key: key.into(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
    }
}
