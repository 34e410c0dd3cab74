//! Medusa's data services: PostgreSQL (official image, StatefulSet, own volume) and Redis
//! (official image, StatefulSet, own volume with an append-only file: cache, event bus, workflow
//! engine and locks, which a restart must not lose).

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource, ExecAction,
    PersistentVolumeClaim, PodSpec, Probe, SecretKeySelector, Service, ServicePort, ServiceSpec,
    TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use storefleet_types::names::{Component, child, ports, secret_keys as keys};

use super::super::{
    child_meta, claim_template, container_security, database_claim, empty_dir, env,
    env_from_secret, mount, pod_template, resources, selector, selector_labels,
};
use crate::validate::{Medusa, ValidatedStore};

/// The `postgres` user of the official (Debian) image.
pub const POSTGRES_UID: i64 = 999;
/// The `redis` user of the official (Debian) image.
pub const REDIS_UID: i64 = 999;
/// Size of Redis's volume (the append-only file). Fixed, not from the plan: a StatefulSet's
/// claim template cannot change, and Redis holds at most `maxmemory` (three quarters of the
/// cache container's memory limit, 1 GiB on the large plan) plus the file's rewrite.
pub const CACHE_VOLUME: &str = "2Gi";
/// The part of the cache container's memory limit Redis may fill (`maxmemory`), in percent.
const MAXMEMORY_PERCENT: i128 = 75;

/// PostgreSQL's first-start script: the application's role, no superuser, owning its database.
pub const POSTGRES_INIT_SCRIPT: &str = include_str!("../../../scripts/postgres-init.sh");
/// The superuser the official image creates (it only sets the database up).
pub const POSTGRES_SUPERUSER: &str = "postgres";

/// Where the volume is mounted; the cluster lives in a folder below it (a fresh volume's root
/// may hold `lost+found`, which initdb refuses).
const POSTGRES_MOUNT: &str = "/var/lib/postgresql/data";

fn headless(
    store: &ValidatedStore,
    name: &str,
    component: Component,
    port: (&str, i32),
) -> Service {
    Service {
        metadata: child_meta(store, name, component),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            selector: Some(selector_labels(store, component)),
            ports: Some(vec![ServicePort {
                name: Some(port.0.into()),
                port: port.1,
                target_port: Some(IntOrString::String(port.0.into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            publish_not_ready_addresses: Some(false),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// PostgreSQL's headless Service `database`.
pub fn build_postgres_service(store: &ValidatedStore) -> Service {
    headless(
        store,
        child::DATABASE,
        Component::Database,
        (ports::POSTGRES_NAME, ports::POSTGRES),
    )
}

/// Redis' headless Service `cache`.
pub fn build_cache_service(store: &ValidatedStore) -> Service {
    headless(
        store,
        child::CACHE,
        Component::Cache,
        (ports::REDIS_NAME, ports::REDIS),
    )
}

fn port(name: &str, number: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: number,
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    }
}

fn probe(action: Probe, period: i32, failures: i32) -> Option<Probe> {
    Some(Probe {
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failures),
        ..action
    })
}

/// A one-replica StatefulSet of `container`, with the pod security of `uid`.
fn stateful_set(
    store: &ValidatedStore,
    name: &str,
    component: Component,
    uid: i64,
    container: Container,
    volumes: Vec<Volume>,
    claims: Option<Vec<PersistentVolumeClaim>>,
) -> StatefulSet {
    StatefulSet {
        metadata: child_meta(store, name, component),
        spec: StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(name.into()),
            selector: selector(store, component),
            pod_management_policy: Some("OrderedReady".into()),
            template: pod_template(
                store,
                component,
                uid,
                PodSpec {
                    termination_grace_period_seconds: Some(60),
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                },
            ),
            volume_claim_templates: claims,
            ..StatefulSetSpec::default()
        },
        status: None,
    }
}

/// PostgreSQL: user, password and database from the database Secret, data on its own volume.
pub fn build_postgres_stateful_set(store: &ValidatedStore, medusa: &Medusa) -> StatefulSet {
    let secret = child::DATABASE_SECRET;
    let ready = Probe {
        exec: Some(ExecAction {
            command: Some(
                ["pg_isready", "-h", "127.0.0.1", "-p", "5432"]
                    .map(String::from)
                    .to_vec(),
            ),
        }),
        ..Probe::default()
    };
    let container = Container {
        name: "postgres".into(),
        image: Some(medusa.images.postgres.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        // Read by the image's entrypoint on an empty data directory only. The superuser's
        // password is optional: stores made before it existed have a database already (and
        // their application user is its superuser).
        env: Some(vec![
            env("POSTGRES_USER", POSTGRES_SUPERUSER),
            EnvVar {
                name: "POSTGRES_PASSWORD".into(),
                value: None,
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: secret.into(),
                        key: keys::DB_ROOT_PASSWORD.into(),
                        optional: Some(true),
                    }),
                    ..EnvVarSource::default()
                }),
            },
            env_from_secret("APP_USER", secret, keys::DB_USER),
            env_from_secret("APP_PASSWORD", secret, keys::DB_PASSWORD),
            env_from_secret("APP_DB", secret, keys::DB_NAME),
            env("PGDATA", format!("{POSTGRES_MOUNT}/pgdata")),
        ]),
        ports: Some(vec![port(ports::POSTGRES_NAME, ports::POSTGRES)]),
        startup_probe: probe(ready.clone(), 5, 60),
        readiness_probe: probe(ready.clone(), 10, 3),
        liveness_probe: probe(ready, 20, 3),
        resources: Some(resources(&store.plan.medusa.resources.database)),
        security_context: Some(container_security(true)),
        volume_mounts: Some(vec![
            mount(child::DATABASE_DATA, POSTGRES_MOUNT),
            mount("run", "/var/run/postgresql"),
            mount("tmp", "/tmp"),
            VolumeMount {
                read_only: Some(true),
                ..mount("init", "/docker-entrypoint-initdb.d")
            },
        ]),
        ..Container::default()
    };
    stateful_set(
        store,
        child::DATABASE,
        Component::Database,
        POSTGRES_UID,
        container,
        vec![
            empty_dir(store, "run"),
            empty_dir(store, "tmp"),
            Volume {
                name: "init".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: child::POSTGRES_INIT.into(),
                    default_mode: Some(0o555),
                    ..ConfigMapVolumeSource::default()
                }),
                ..Volume::default()
            },
        ],
        Some(vec![database_claim(store)]),
    )
}

/// The ConfigMap with PostgreSQL's first-start script.
pub fn build_postgres_init(store: &ValidatedStore) -> ConfigMap {
    ConfigMap {
        metadata: child_meta(store, child::POSTGRES_INIT, Component::Database),
        data: Some(std::collections::BTreeMap::from([(
            "10-storefleet-app-role.sh".to_string(),
            POSTGRES_INIT_SCRIPT.to_string(),
        )])),
        ..ConfigMap::default()
    }
}

/// `maxmemory` for a container limited to `limit` (bytes); Redis's default (no limit) when the
/// quantity cannot be read.
fn maxmemory(limit: &Quantity) -> Option<String> {
    let bytes = kube_quantity::ParsedQuantity::try_from(limit)
        .ok()?
        .to_bytes_i128()?;
    Some((bytes * MAXMEMORY_PERCENT / 100).to_string())
}

/// Redis with a generated password, persisted on its own volume (append-only file, fsync every
/// second), bounded by `maxmemory` with `noeviction`: when full, writes fail loudly instead of
/// silently dropping a workflow's state or a lock. The cache, event bus, workflow engine and
/// locks of one store.
pub fn build_cache_stateful_set(store: &ValidatedStore, medusa: &Medusa) -> StatefulSet {
    let tcp = Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String(ports::REDIS_NAME.into()),
            host: None,
        }),
        ..Probe::default()
    };
    let container = Container {
        name: "redis".into(),
        image: Some(medusa.images.redis.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        env: Some(vec![env_from_secret(
            "REDIS_PASSWORD",
            child::MEDUSA_SECRET,
            keys::REDIS_PASSWORD,
        )]),
        // Kubernetes expands $(REDIS_PASSWORD); the pod spec never holds the value.
        args: Some(
            [
                "redis-server",
                "--requirepass",
                "$(REDIS_PASSWORD)",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--dir",
                "/data",
                "--maxmemory-policy",
                "noeviction",
            ]
            .map(String::from)
            .into_iter()
            .chain(
                maxmemory(&store.plan.medusa.resources.cache.limits.memory)
                    .map(|m| ["--maxmemory".to_string(), m])
                    .into_iter()
                    .flatten(),
            )
            .collect(),
        ),
        ports: Some(vec![port(ports::REDIS_NAME, ports::REDIS)]),
        startup_probe: probe(tcp.clone(), 2, 60),
        readiness_probe: probe(tcp.clone(), 10, 3),
        liveness_probe: probe(tcp, 20, 3),
        resources: Some(resources(&store.plan.medusa.resources.cache)),
        security_context: Some(container_security(true)),
        volume_mounts: Some(vec![
            mount(child::DATABASE_DATA, "/data"),
            mount("tmp", "/tmp"),
        ]),
        ..Container::default()
    };
    let claim = claim_template(store, Component::Cache, &Quantity(CACHE_VOLUME.into()));
    stateful_set(
        store,
        child::CACHE,
        Component::Cache,
        REDIS_UID,
        container,
        vec![empty_dir(store, "tmp")],
        Some(vec![claim]),
    )
}
