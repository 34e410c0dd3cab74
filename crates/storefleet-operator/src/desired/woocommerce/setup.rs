//! Setup: a ConfigMap with the idempotent WP-CLI script, and the Job that runs it.
//!
//! The Job's pod template is immutable, so the Job's name carries a hash of everything the run
//! depends on (script, parameters, image): a change of any of them is a new Job, and an
//! unchanged store keeps its finished Job (the setup is not re-run on every reconcile).

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EnvVar, PodSpec, PodTemplateSpec, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use storefleet_types::names::{Component, child, secret_keys as keys};

use super::storefront::{
    WWW_DATA_UID, content_init, core_init, docroot, files_mount, wordpress_env,
};
use crate::desired::shop::{files_volume, hashed_name, on_the_storefronts_node};
use crate::desired::{
    child_meta, container_security, empty_dir, env, env_from_secret, labels, pod_security,
    resources,
};
use crate::validate::{ValidatedStore, Woocommerce};

/// The WP-CLI script, shipped in the ConfigMap.
pub const SCRIPT: &str = include_str!("../../../scripts/woocommerce-setup.sh");
/// Key of the script in the ConfigMap.
pub const SCRIPT_KEY: &str = "setup.sh";
/// Where the script is mounted in the Job's pod.
pub const SCRIPT_DIR: &str = "/opt/storefleet";
/// The setup objects.
#[derive(Debug, Clone, PartialEq)]
pub struct SetupObjects {
    /// The script.
    pub script: ConfigMap,
    /// The Job.
    pub job: Job,
}

/// Builds the ConfigMap and the Job.
pub fn build_setup(store: &ValidatedStore, woo: &Woocommerce) -> SetupObjects {
    SetupObjects {
        script: build_setup_script(store),
        job: build_setup_job(store, woo),
    }
}

/// The ConfigMap with the script.
pub fn build_setup_script(store: &ValidatedStore) -> ConfigMap {
    ConfigMap {
        metadata: child_meta(store, child::SETUP_SCRIPT, Component::Setup),
        data: Some(BTreeMap::from([(
            SCRIPT_KEY.to_string(),
            SCRIPT.to_string(),
        )])),
        ..ConfigMap::default()
    }
}

/// The script's parameters (no secrets: those come from Secret references).
pub fn setup_parameters(store: &ValidatedStore, woo: &Woocommerce) -> Vec<EnvVar> {
    let s = &store.setup;
    let methods: Vec<&str> = woo.payment_methods.iter().map(|m| m.gateway_id()).collect();
    let mut out = vec![
        env("STORE_URL", store.url()),
        env("STORE_TITLE", s.title.clone()),
        env("THEME", woo.theme.clone()),
        env("CURRENCY", s.currency.clone()),
        env("SAMPLE_PRODUCTS", s.sample_products.to_string()),
        env("PAYMENT_METHODS", methods.join(" ")),
    ];
    if let Some(version) = &woo.woocommerce_version {
        out.push(env("WOOCOMMERCE_VERSION", version.clone()));
    }
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

/// The name of the setup Job: [`child::SETUP_JOB_PREFIX`] + a hash of its inputs.
pub fn setup_job_name(store: &ValidatedStore, woo: &Woocommerce) -> String {
    let vars = setup_parameters(store, woo);
    // The storefront's image too: the Job runs the WordPress it brings (`core_init`).
    let mut parts = vec![
        SCRIPT,
        woo.images.wp_cli.as_str(),
        woo.images.wordpress.as_str(),
    ];
    for var in &vars {
        parts.push(var.name.as_str());
        parts.push(var.value.as_deref().unwrap_or_default());
    }
    hashed_name(child::SETUP_JOB_PREFIX, &parts)
}

/// The Job: runs the script once with a deadline and a bounded backoff, on the storefront's
/// node (it mounts the storefront's ReadWriteOnce volume).
pub fn build_setup_job(store: &ValidatedStore, woo: &Woocommerce) -> Job {
    let mut env_vars = wordpress_env(store);
    env_vars.extend([
        env_from_secret("ADMIN_USER", child::ADMIN_SECRET, keys::ADMIN_USER),
        env_from_secret("ADMIN_PASSWORD", child::ADMIN_SECRET, keys::ADMIN_PASSWORD),
        env_from_secret("ADMIN_EMAIL", child::ADMIN_SECRET, keys::ADMIN_EMAIL),
    ]);
    env_vars.extend(setup_parameters(store, woo));
    let container = Container {
        name: "setup".into(),
        image: Some(woo.images.wp_cli.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec!["sh".into(), format!("{SCRIPT_DIR}/{SCRIPT_KEY}")]),
        env: Some(env_vars),
        resources: Some(resources(&store.plan.resources.setup)),
        security_context: Some(container_security(true)),
        volume_mounts: Some(vec![
            files_mount(),
            VolumeMount {
                name: "script".into(),
                mount_path: SCRIPT_DIR.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "tmp".into(),
                mount_path: "/tmp".into(),
                ..VolumeMount::default()
            },
        ]),
        ..Container::default()
    };
    Job {
        metadata: child_meta(store, &setup_job_name(store, woo), Component::Setup),
        spec: Some(JobSpec {
            backoff_limit: Some(store.setup.backoff_limit),
            active_deadline_seconds: Some(store.setup.active_deadline_seconds),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(store, Component::Setup)),
                    ..ObjectMeta::default()
                }),
                spec: Some(wp_cli_pod(
                    store,
                    woo,
                    container,
                    vec![
                        files_volume(),
                        Volume {
                            name: "script".into(),
                            config_map: Some(ConfigMapVolumeSource {
                                name: child::SETUP_SCRIPT.into(),
                                default_mode: Some(0o555),
                                ..ConfigMapVolumeSource::default()
                            }),
                            ..Volume::default()
                        },
                        empty_dir(store, "tmp"),
                    ],
                )),
            },
            ..JobSpec::default()
        }),
        status: None,
    }
}

/// A run-once pod of WP-CLI as www-data on the storefront's node (the files volume is
/// ReadWriteOnce): the setup's and the scheduled work's (`cron.rs`).
pub(super) fn wp_cli_pod(
    store: &ValidatedStore,
    woo: &Woocommerce,
    mut container: Container,
    mut volumes: Vec<Volume>,
) -> PodSpec {
    let (docroot_volume, docroot_mount) = docroot(store);
    volumes.push(docroot_volume);
    container
        .volume_mounts
        .get_or_insert_default()
        .insert(0, docroot_mount);
    PodSpec {
        init_containers: Some(vec![content_init(store, woo), core_init(store, woo)]),
        restart_policy: Some("Never".into()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(pod_security(WWW_DATA_UID)),
        affinity: Some(on_the_storefronts_node(store)),
        containers: vec![container],
        volumes: Some(volumes),
        ..PodSpec::default()
    }
}
