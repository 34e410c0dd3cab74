//! The Medusa image's four roles: the migration Job, the server and worker Deployments, the
//! setup Job. One image, `MEDUSA_WORKER_MODE` and the command pick the role.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, HTTPGetAction, PodSpec, PodTemplateSpec, Probe, Volume,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use storefleet_types::names::{Component, child, ports, secret_keys as keys};

use super::super::{
    child_meta, container_security, empty_dir, env, env_from_secret, mount, pod_template,
    resources, selector,
};
use super::medusa_env;
use crate::config::ContainerResources;
use crate::desired::shop::files_volume;
use crate::desired::shop::hashed_name;
use crate::validate::{Medusa, ValidatedStore};

/// The `node` user of the official Node image, which the Medusa image runs as.
pub const MEDUSA_UID: i64 = 1000;
/// Where the local file provider keeps uploads (`static/` of the built server).
pub const UPLOADS_PATH: &str = "/app/static";
/// The Medusa CLI in the image.
const MEDUSA: &str = "/app/node_modules/.bin/medusa";
/// The setup script in the built server.
const SETUP_SCRIPT: &str = "./src/scripts/storefleet-setup.js";

fn tmp_volume(store: &ValidatedStore) -> Volume {
    empty_dir(store, "tmp")
}

/// A Medusa container: the image, its env, `/tmp`, and restricted security. The root
/// filesystem stays writable: Node and the Medusa CLI write caches next to the application.
fn container(
    name: &str,
    medusa: &Medusa,
    command: Vec<String>,
    env: Vec<EnvVar>,
    resources_of: &ContainerResources,
) -> Container {
    Container {
        name: name.into(),
        image: Some(medusa.images.medusa.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(command),
        env: Some(env),
        resources: Some(resources(resources_of)),
        security_context: Some(container_security(false)),
        volume_mounts: Some(vec![mount("tmp", "/tmp")]),
        ..Container::default()
    }
}

fn health(period: i32, failures: i32) -> Option<Probe> {
    Some(Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/health".into()),
            port: IntOrString::String(ports::HTTP_NAME.into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failures),
        ..Probe::default()
    })
}

/// A Medusa process that serves HTTP (`/health`): the server or the worker.
fn serving(mut c: Container) -> Container {
    c.ports = Some(vec![ContainerPort {
        name: Some(ports::HTTP_NAME.into()),
        container_port: ports::MEDUSA_HTTP,
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    }]);
    c.startup_probe = health(5, 60);
    c.readiness_probe = health(10, 3);
    c.liveness_probe = health(20, 3);
    c
}

fn pod(store: &ValidatedStore, component: Component, spec: PodSpec) -> PodTemplateSpec {
    pod_template(store, component, MEDUSA_UID, spec)
}

fn deployment(
    store: &ValidatedStore,
    name: &str,
    component: Component,
    container: Container,
    volumes: Vec<Volume>,
) -> Deployment {
    Deployment {
        metadata: child_meta(store, name, component),
        spec: DeploymentSpec {
            replicas: Some(1),
            selector: selector(store, component),
            // One pod at a time: the uploads volume is ReadWriteOnce, and an old and a new
            // version never share the database.
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                rolling_update: None,
            }),
            revision_history_limit: Some(3),
            template: pod(
                store,
                component,
                PodSpec {
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                },
            ),
            ..DeploymentSpec::default()
        },
        status: None,
    }
}

fn cli(args: &[&str]) -> Vec<String> {
    std::iter::once(MEDUSA)
        .chain(args.iter().copied())
        .map(String::from)
        .collect()
}

/// The server (`storefront`): Store API, admin under `/app`, storefront under `/shop`, uploads
/// on the store's files volume.
pub fn build_server_deployment(store: &ValidatedStore, medusa: &Medusa) -> Deployment {
    let mut c = serving(container(
        "medusa",
        medusa,
        cli(&["start"]),
        medusa_env(store, "server"),
        &store.plan.medusa.resources.server,
    ));
    if let Some(mounts) = c.volume_mounts.as_mut() {
        mounts.push(mount(crate::desired::shop::FILES_VOLUME, UPLOADS_PATH));
    }
    deployment(
        store,
        child::STOREFRONT,
        Component::Storefront,
        c,
        vec![tmp_volume(store), files_volume()],
    )
}

/// The worker: subscribers, scheduled jobs and workflows; no Service.
pub fn build_worker_deployment(store: &ValidatedStore, medusa: &Medusa) -> Deployment {
    let c = serving(container(
        "medusa",
        medusa,
        cli(&["start"]),
        medusa_env(store, "worker"),
        &store.plan.medusa.resources.worker,
    ));
    deployment(
        store,
        child::WORKER,
        Component::Worker,
        c,
        vec![tmp_volume(store)],
    )
}

fn job(store: &ValidatedStore, name: &str, component: Component, container: Container) -> Job {
    Job {
        metadata: child_meta(store, name, component),
        spec: Some(JobSpec {
            backoff_limit: Some(store.setup.backoff_limit),
            active_deadline_seconds: Some(store.setup.active_deadline_seconds),
            template: pod(
                store,
                component,
                PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![container],
                    volumes: Some(vec![tmp_volume(store)]),
                    ..PodSpec::default()
                },
            ),
            ..JobSpec::default()
        }),
        status: None,
    }
}

/// `migrate-<hash of the image>`: a new image migrates again before it is rolled out.
pub fn migration_job_name(medusa: &Medusa) -> String {
    hashed_name(
        child::MIGRATION_JOB_PREFIX,
        &["db:migrate", medusa.images.medusa.as_str()],
    )
}

/// `medusa db:migrate`.
pub fn build_migration_job(store: &ValidatedStore, medusa: &Medusa) -> Job {
    let c = container(
        "migrate",
        medusa,
        cli(&["db:migrate"]),
        medusa_env(store, "server"),
        &store.plan.medusa.resources.migration,
    );
    job(store, &migration_job_name(medusa), Component::Migration, c)
}

/// What the setup script is told (no secret among them).
fn setup_parameters(store: &ValidatedStore) -> Vec<EnvVar> {
    let s = &store.setup;
    let mut out = vec![
        env("STORE_TITLE", s.title.clone()),
        env("CURRENCY", s.currency.clone()),
        env("SAMPLE_PRODUCTS", s.sample_products.to_string()),
        // The server's Service inside the namespace: the test order goes through the Store API.
        env("MEDUSA_URL", format!("http://{}", child::STOREFRONT)),
    ];
    // A new store restored from a backup (the restore Job ran first): setup adopts that shop
    // (a rollback's restore point is the store's own shop already).
    if let Some(restore) = store
        .backup
        .as_ref()
        .and_then(|b| b.restore.as_ref())
        .filter(|r| !r.rollback)
    {
        out.push(env("RESTORED_FROM", restore.store.clone()));
    }
    out
}

/// `setup-<hash of the image and the parameters>`.
pub fn setup_job_name(store: &ValidatedStore, medusa: &Medusa) -> String {
    let vars = setup_parameters(store);
    let mut parts = vec![SETUP_SCRIPT, medusa.images.medusa.as_str()];
    for var in &vars {
        parts.push(var.name.as_str());
        parts.push(var.value.as_deref().unwrap_or_default());
    }
    hashed_name(child::SETUP_JOB_PREFIX, &parts)
}

/// `medusa exec` of the setup script: admin, region, sales channel, publishable key, stock
/// location, shipping, products, and a verified test order.
pub fn build_setup_job(store: &ValidatedStore, medusa: &Medusa) -> Job {
    let mut vars = medusa_env(store, "server");
    vars.extend([
        env_from_secret("ADMIN_EMAIL", child::ADMIN_SECRET, keys::ADMIN_EMAIL),
        env_from_secret("ADMIN_PASSWORD", child::ADMIN_SECRET, keys::ADMIN_PASSWORD),
    ]);
    vars.extend(setup_parameters(store));
    let c = container(
        "setup",
        medusa,
        cli(&["exec", SETUP_SCRIPT]),
        vars,
        &store.plan.medusa.resources.setup,
    );
    job(store, &setup_job_name(store, medusa), Component::Setup, c)
}
