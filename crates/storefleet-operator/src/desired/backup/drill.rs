//! A drill: the store's newest backup restored into a throwaway namespace of the platform's
//! (`storefleet-drill-<store>`: no route, no way out but the object store, no quota of the
//! tenant's), the shop started there from its own images and settings, and checked as its
//! customers and its admin would use it. One pod (a Job), in this order:
//!
//! ```text
//!  restic   (init)      the newest snapshot, `restore --verify`, into /restore
//!  database (sidecar)   the shop's own database container(s) (Medusa: and Redis), on scratch
//!                       volumes, with random passwords of the drill's (Secrets of the same
//!                       names as the shop's, so their settings apply unchanged)
//!  load     (init)      the dump checked against its manifest and loaded, the files put in
//!                       place, the counts checked; what the check needs handed over in /drill
//!  storefront (sidecar) the shop's own storefront container on the restored files
//!  check    (main)      through the `storefront` Service: the home page, products, the admin
//!                       login; its report (snapshot, measured restore time, counts) is the
//!                       container's termination message
//! ```
//!
//! The shop's host names for its services (`database`, `cache`) point at the pod itself
//! (hostAliases): every container runs with the shop's own environment.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, HostAlias, Namespace, PodSecurityContext, PodSpec, PodTemplateSpec,
    Secret, Service, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use storefleet_types::names::{self, Component, child};

use super::pods::EngineParts;
use super::{RESTORED, ResticRun, SCRIPT_DIR, mount_at, restic_container};
use crate::desired::child::Child;
use crate::desired::namespace::POD_SECURITY;
use crate::desired::secrets::SecretTemplate;
use crate::desired::shop::FILES_VOLUME;
use crate::desired::{
    StoreObjects, container_security, empty_dir, env, labels, pod_security, resources,
};
use crate::validate::{ResolvedBackup, ValidatedStore};

/// Where the load hands the check what it needs (an administrator to log in as, products to
/// look at).
pub const DRILL_DIR: &str = "/drill";

/// The throwaway namespace of `store`'s drills.
pub fn drill_namespace(store: &str) -> String {
    format!("{}{store}", names::DRILL_NAMESPACE_PREFIX)
}

/// The name of a drill's Job started at `unix_seconds`.
pub fn drill_job_name(unix_seconds: i64) -> String {
    format!("{}-{}", child::DRILL, unix_seconds / 60)
}

/// What a drill creates, all in its throwaway namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillObjects {
    /// The namespace (restricted pods; labelled as the store's, so it is found again).
    pub namespace: Namespace,
    /// Nothing in or out but the pod's own traffic, DNS and the object store.
    pub policy: NetworkPolicy,
    /// The shop's Secrets by name, with random values of the drill's own.
    pub secrets: Vec<SecretTemplate>,
    /// The store's repository Secret (the controller's, None in a render).
    pub repository: Option<Secret>,
    /// The scripts, and the ConfigMaps the shop's containers mount.
    pub config_maps: Vec<ConfigMap>,
    /// `storefront`: the Service the check goes through.
    pub service: Service,
    /// The drill.
    pub job: Job,
}

/// Metadata of an object of `store`'s drill.
fn drill_meta(store: &ValidatedStore, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(drill_namespace(&store.name)),
        labels: Some(labels(store, Component::Drill)),
        owner_references: crate::desired::owner_references(store),
        ..ObjectMeta::default()
    }
}

/// Moves an object of the store's into the drill's namespace, labelled as the drill's.
fn moved(store: &ValidatedStore, meta: &ObjectMeta) -> ObjectMeta {
    drill_meta(store, meta.name.as_deref().unwrap_or_default())
}

/// The drill `job` of `store` (`asked`: the value of `storefleet.io/drill-now` it answers).
pub fn build_drill(
    store: &ValidatedStore,
    objects: &StoreObjects,
    backup: &ResolvedBackup,
    parts: &EngineParts,
    job: &str,
    asked: Option<&str>,
) -> DrillObjects {
    let namespace_name = drill_namespace(&store.name);
    let mut ns_labels = labels(store, Component::Drill);
    ns_labels.extend(
        POD_SECURITY
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let mut annotations =
        BTreeMap::from([(names::STORE_UID_ANNOTATION.to_string(), store.uid.clone())]);
    if let Some(value) = asked {
        annotations.insert(names::DRILL_ASKED_ANNOTATION.into(), value.into());
    }
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(namespace_name),
            labels: Some(ns_labels),
            annotations: Some(annotations),
            owner_references: crate::desired::owner_references(store),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    let secrets = objects
        .secrets
        .iter()
        .filter(|t| t.name() != child::ADMIN_SECRET)
        .map(|t| SecretTemplate {
            metadata: moved(store, &t.metadata),
            values: t.values.clone(),
        })
        .collect();
    let repository = objects
        .backup
        .as_ref()
        .and_then(|b| b.secret.as_ref())
        .map(|s| Secret {
            metadata: moved(store, &s.metadata),
            ..s.clone()
        });
    let pod = drill_pod(store, objects, backup, parts);
    let mut config_maps = vec![ConfigMap {
        metadata: drill_meta(store, child::BACKUP_SCRIPTS),
        data: Some(BTreeMap::from([
            (
                super::RESTIC_KEY.to_string(),
                super::RESTIC_SCRIPT.to_string(),
            ),
            (parts.script.to_string(), parts.script_text.to_string()),
            (parts.check.key.to_string(), parts.check.text.to_string()),
        ])),
        ..ConfigMap::default()
    }];
    config_maps.extend(mounted_config_maps(store, objects, &pod.volumes));
    let mut service = objects
        .children()
        .into_iter()
        .find_map(|c| match c {
            Child::Service(s) if s.metadata.name.as_deref() == Some(child::STOREFRONT) => {
                Some(s.clone())
            }
            _ => None,
        })
        .unwrap_or_default();
    service.metadata = moved(store, &service.metadata);
    if let Some(spec) = service.spec.as_mut() {
        spec.selector = Some(drill_selector(store));
    }
    let mut job_meta = drill_meta(store, job);
    if let Some(value) = asked {
        job_meta.annotations = Some(BTreeMap::from([(
            names::DRILL_ASKED_ANNOTATION.to_string(),
            value.to_string(),
        )]));
    }
    DrillObjects {
        namespace,
        policy: drill_policy(store, backup),
        secrets,
        repository,
        config_maps,
        service,
        job: Job {
            metadata: job_meta,
            spec: Some(JobSpec {
                // A drill that failed says so; the next one is the schedule's.
                backoff_limit: Some(0),
                active_deadline_seconds: Some(store.setup.active_deadline_seconds),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(pod_labels(store)),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(pod.spec),
                },
                ..JobSpec::default()
            }),
            status: None,
        },
    }
}

/// The drill pod's labels: the store's, component `drill`, and the role the Service selects.
fn pod_labels(store: &ValidatedStore) -> BTreeMap<String, String> {
    let mut out = labels(store, Component::Drill);
    out.extend(drill_selector(store));
    out
}

fn drill_selector(store: &ValidatedStore) -> BTreeMap<String, String> {
    BTreeMap::from([
        (names::labels::STORE.to_string(), store.name.clone()),
        (
            names::labels::COMPONENT.to_string(),
            Component::Drill.as_str().to_string(),
        ),
    ])
}

/// The pod spec and its volumes (before they are put into the spec).
struct DrillPod {
    spec: PodSpec,
    volumes: Vec<Volume>,
}

fn drill_pod(
    store: &ValidatedStore,
    objects: &StoreObjects,
    backup: &ResolvedBackup,
    parts: &EngineParts,
) -> DrillPod {
    let mut volumes = vec![
        empty_dir(store, "restored"),
        empty_dir(store, "tmp"),
        empty_dir(store, "drill"),
        empty_dir(store, FILES_VOLUME),
        super::scripts_volume(),
    ];
    let shared = |c: Container| with_mounts(c, &[("drill", DRILL_DIR, false)]);
    let fetch = restic_container(
        store,
        backup,
        &ResticRun::Verify,
        vec![mount_at("restored", RESTORED, false)],
    );
    let mut sysctls = Vec::new();
    let (databases, storefronts) = shop_containers(objects, &mut volumes, &mut sysctls);
    let load = shared(super::pods::load_container(
        store,
        parts,
        "drill",
        vec![env("DRILL_DIR", DRILL_DIR)],
    ));
    let check = shared(check_container(store, parts));
    let mut init = vec![fetch];
    init.extend(databases);
    init.push(load);
    init.extend(storefronts);
    let mut check = check;
    // A container that fails leaves the end of its log as its message: the drill's reason.
    for c in init.iter_mut().chain(std::iter::once(&mut check)) {
        c.termination_message_policy = Some("FallbackToLogsOnError".into());
    }
    let mut security: PodSecurityContext = pod_security(parts.uid);
    if !sysctls.is_empty() {
        security.sysctls = Some(sysctls);
    }
    DrillPod {
        spec: PodSpec {
            restart_policy: Some("Never".into()),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            security_context: Some(security),
            host_aliases: Some(vec![HostAlias {
                ip: "127.0.0.1".into(),
                hostnames: Some(vec![child::DATABASE.into(), child::CACHE.into()]),
            }]),
            init_containers: Some(init),
            containers: vec![check],
            volumes: Some(volumes.clone()),
            ..PodSpec::default()
        },
        volumes,
    }
}

/// `c` with `mounts` (volume, path, read-only) added.
fn with_mounts(mut c: Container, mounts: &[(&str, &str, bool)]) -> Container {
    c.volume_mounts
        .get_or_insert_default()
        .extend(mounts.iter().map(|(v, p, ro)| mount_at(v, p, *ro)));
    c
}

/// The check: the engine's script, on the engine's image, against the `storefront` Service.
fn check_container(store: &ValidatedStore, parts: &EngineParts) -> Container {
    let mut command = parts.check.command.clone();
    command.push(format!("{SCRIPT_DIR}/{}", parts.check.key));
    let mut security = container_security(true);
    security.run_as_user = Some(parts.check.uid);
    security.run_as_group = Some(parts.check.uid);
    let mut env_vars = parts.check.env.clone();
    env_vars.extend([
        // The drill's `storefront` Service, in the pod's own namespace.
        env("STOREFRONT", format!("http://{}", child::STOREFRONT)),
        env("SHOP_URL", store.url()),
        env("RESTORED", RESTORED),
        env("DRILL_DIR", DRILL_DIR),
        env("TMPDIR", "/tmp"),
        env("HOME", "/tmp"),
    ]);
    Container {
        name: "check".into(),
        image: Some(parts.check.image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(command),
        working_dir: parts.check.working_dir.map(String::from),
        env: Some(env_vars),
        resources: Some(resources(&store.plan.resources.setup)),
        security_context: Some(security),
        volume_mounts: Some(vec![
            mount_at("scripts", SCRIPT_DIR, true),
            mount_at("tmp", "/tmp", false),
            mount_at("restored", RESTORED, true),
        ]),
        ..Container::default()
    }
}

/// The shop's own containers as sidecars of the drill pod: its StatefulSets' (database, and
/// Medusa's Redis) to start before the load, its storefront Deployment's after it. Each runs as
/// its own pod's user; its volumes become scratch ones named after it (the files volume stays
/// the one the load fills); the storefront pod's sysctls go to `sysctls`.
fn shop_containers(
    objects: &StoreObjects,
    volumes: &mut Vec<Volume>,
    sysctls: &mut Vec<k8s_openapi::api::core::v1::Sysctl>,
) -> (Vec<Container>, Vec<Container>) {
    let mut databases = Vec::new();
    let mut storefronts = Vec::new();
    for c in objects.children() {
        match c {
            Child::StatefulSet(sts) => {
                if let Some(pod) = sts.spec.template.spec.as_ref() {
                    databases.extend(sidecars(pod, volumes));
                }
            }
            Child::Deployment(d) if d.metadata.name.as_deref() == Some(child::STOREFRONT) => {
                if let Some(pod) = d.spec.template.spec.as_ref() {
                    storefronts.extend(sidecars(pod, volumes));
                    let pod_sysctls = pod
                        .security_context
                        .as_ref()
                        .and_then(|s| s.sysctls.clone());
                    sysctls.extend(pod_sysctls.into_iter().flatten());
                }
            }
            _ => {}
        }
    }
    (databases, storefronts)
}

/// The containers of `pod` as restartable init containers (sidecars), each on scratch copies of
/// its volumes (added to `volumes`) and as its pod's user.
fn sidecars(pod: &PodSpec, volumes: &mut Vec<Volume>) -> Vec<Container> {
    let user = pod.security_context.as_ref().and_then(|s| s.run_as_user);
    pod.containers
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.restart_policy = Some("Always".into());
            // A drill lives minutes: a restart would hide what failed.
            c.liveness_probe = None;
            let security = c.security_context.get_or_insert_default();
            security.run_as_user = security.run_as_user.or(user);
            security.run_as_group = security.run_as_group.or(user);
            for m in c.volume_mounts.iter_mut().flatten() {
                if m.name == FILES_VOLUME {
                    continue;
                }
                let renamed = format!("{}-{}", c.name, m.name);
                let source = pod
                    .volumes
                    .iter()
                    .flatten()
                    .find(|v| v.name == m.name)
                    .filter(|v| v.persistent_volume_claim.is_none())
                    .cloned();
                let volume = match source {
                    Some(v) => Volume {
                        name: renamed.clone(),
                        ..v
                    },
                    // A claim (a StatefulSet's template or a claim of the store's): scratch.
                    None => Volume {
                        name: renamed.clone(),
                        empty_dir: Some(Default::default()),
                        ..Volume::default()
                    },
                };
                if !volumes.iter().any(|v| v.name == renamed) {
                    volumes.push(volume);
                }
                *m = VolumeMount {
                    name: renamed,
                    ..m.clone()
                };
            }
            c
        })
        .collect()
}

/// The store's ConfigMaps that `volumes` mount (e.g. PostgreSQL's first-start script), moved.
fn mounted_config_maps(
    store: &ValidatedStore,
    objects: &StoreObjects,
    volumes: &[Volume],
) -> Vec<ConfigMap> {
    objects
        .children()
        .into_iter()
        .filter_map(|c| match c {
            Child::ConfigMap(cm) => Some(cm),
            _ => None,
        })
        .filter(|cm| {
            volumes.iter().any(|v| {
                v.config_map.as_ref().map(|s| s.name.as_str()) == cm.metadata.name.as_deref()
            })
        })
        .filter(|cm| cm.metadata.name.as_deref() != Some(child::BACKUP_SCRIPTS))
        .map(|cm| ConfigMap {
            metadata: moved(store, &cm.metadata),
            ..cm.clone()
        })
        .collect()
}

/// The drill namespace's one policy: its pods reach each other (the check goes through the
/// Service to the pod itself), DNS, and the object store on its port; nothing else gets in or
/// out (no route, no internet).
fn drill_policy(store: &ValidatedStore, backup: &ResolvedBackup) -> NetworkPolicy {
    let port = |protocol: &str, number: i32| NetworkPolicyPort {
        protocol: Some(protocol.into()),
        port: Some(IntOrString::Int(number)),
        end_port: None,
    };
    let here = NetworkPolicyPeer {
        pod_selector: Some(LabelSelector::default()),
        ..NetworkPolicyPeer::default()
    };
    let dns = NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector::default()),
            ..NetworkPolicyPeer::default()
        }]),
        ports: Some(vec![port("UDP", 53), port("TCP", 53)]),
    };
    NetworkPolicy {
        metadata: drill_meta(store, child::DRILL),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![here.clone()]),
                ports: None,
            }]),
            egress: Some(vec![
                NetworkPolicyEgressRule {
                    to: Some(vec![here]),
                    ports: None,
                },
                dns,
                crate::desired::network::object_store_egress(backup),
            ]),
        }),
    }
}
