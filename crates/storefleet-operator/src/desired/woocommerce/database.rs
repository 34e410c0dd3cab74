//! MariaDB: a headless Service and a one-replica StatefulSet with its own volume.

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, ExecAction, PodSpec, PodTemplateSpec, Probe, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use storefleet_types::names::{Component, child, ports, secret_keys as keys};

use crate::desired::{
    child_meta, container_security, database_claim, empty_dir, env_from_secret, labels, mount,
    pod_security, resources, selector, selector_labels,
};
use crate::validate::{ValidatedStore, Woocommerce};

/// uid and gid of the `mysql` user in the official image.
pub const MARIADB_UID: i64 = 999;
/// Where MariaDB keeps its data.
pub const DATA_PATH: &str = "/var/lib/mysql";

/// The database's objects.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseObjects {
    /// Headless Service: stable DNS name `database` for the storefront.
    pub service: Service,
    /// The StatefulSet.
    pub stateful_set: StatefulSet,
}

/// Builds the database's Service and StatefulSet.
pub fn build_database(store: &ValidatedStore, woo: &Woocommerce) -> DatabaseObjects {
    DatabaseObjects {
        service: build_database_service(store),
        stateful_set: build_database_stateful_set(store, woo),
    }
}

/// Headless Service in front of the database pod.
pub fn build_database_service(store: &ValidatedStore) -> Service {
    Service {
        metadata: child_meta(store, child::DATABASE, Component::Database),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            selector: Some(selector_labels(store, Component::Database)),
            ports: Some(vec![ServicePort {
                name: Some(ports::DATABASE_NAME.into()),
                port: ports::DATABASE,
                target_port: Some(IntOrString::String(ports::DATABASE_NAME.into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            publish_not_ready_addresses: Some(false),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The official image's health check script, which uses the health-check user the image creates
/// on first start.
fn healthcheck(args: &[&str]) -> Option<ExecAction> {
    let mut command = vec!["healthcheck.sh".to_string()];
    command.extend(args.iter().map(ToString::to_string));
    Some(ExecAction {
        command: Some(command),
    })
}

/// The StatefulSet: one MariaDB replica as the `mysql` user, read-only root filesystem, its data
/// on a volume from the claim template.
pub fn build_database_stateful_set(store: &ValidatedStore, woo: &Woocommerce) -> StatefulSet {
    let secret = child::DATABASE_SECRET;
    let container = Container {
        name: "mariadb".into(),
        image: Some(woo.images.mariadb.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        env: Some(vec![
            env_from_secret("MARIADB_ROOT_PASSWORD", secret, keys::DB_ROOT_PASSWORD),
            env_from_secret("MARIADB_DATABASE", secret, keys::DB_NAME),
            env_from_secret("MARIADB_USER", secret, keys::DB_USER),
            env_from_secret("MARIADB_PASSWORD", secret, keys::DB_PASSWORD),
            crate::desired::env("MARIADB_AUTO_UPGRADE", "1"),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some(ports::DATABASE_NAME.into()),
            container_port: ports::DATABASE,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        startup_probe: Some(Probe {
            exec: healthcheck(&["--connect", "--innodb_initialized"]),
            period_seconds: Some(5),
            timeout_seconds: Some(5),
            failure_threshold: Some(60),
            ..Probe::default()
        }),
        readiness_probe: Some(Probe {
            exec: healthcheck(&["--connect", "--innodb_initialized"]),
            period_seconds: Some(10),
            timeout_seconds: Some(5),
            failure_threshold: Some(3),
            ..Probe::default()
        }),
        liveness_probe: Some(Probe {
            exec: healthcheck(&["--connect"]),
            period_seconds: Some(20),
            timeout_seconds: Some(5),
            failure_threshold: Some(3),
            ..Probe::default()
        }),
        resources: Some(resources(&store.plan.resources.database)),
        security_context: Some(container_security(true)),
        volume_mounts: Some(vec![
            mount(child::DATABASE_DATA, DATA_PATH),
            mount("run", "/run/mysqld"),
            mount("tmp", "/tmp"),
        ]),
        ..Container::default()
    };
    StatefulSet {
        metadata: child_meta(store, child::DATABASE, Component::Database),
        spec: StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(child::DATABASE.into()),
            selector: selector(store, Component::Database),
            pod_management_policy: Some("OrderedReady".into()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(store, Component::Database)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(pod_security(MARIADB_UID)),
                    termination_grace_period_seconds: Some(60),
                    containers: vec![container],
                    volumes: Some(vec![empty_dir(store, "run"), empty_dir(store, "tmp")]),
                    ..PodSpec::default()
                }),
            },
            volume_claim_templates: Some(vec![database_claim(store)]),
            ..StatefulSetSpec::default()
        },
        status: None,
    }
}
