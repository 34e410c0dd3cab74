//! A WooCommerce store's backup and restore pods.
//!
//! Backup (the CronJob `backup`): the init container `dump` (the MariaDB image, whose client
//! does `mariadb-dump --single-transaction`) writes the dump and its manifest into `dump/`;
//! then `restic` backs up `dump/` and the shop's `wp-content` (the files volume, mounted
//! read-only on the storefront's node) and applies the retention.
//!
//! Restore (a Job `restore-<hash>`): the init container `restic` restores a snapshot into an
//! empty folder and verifies what it read; then `load` (the MariaDB image, as www-data) checks
//! the dump against its manifest, loads it into the store's database, puts `wp-content` in
//! place and checks the shop's counts against the manifest.
//!
//! Every pod is restricted, has no ServiceAccount token and no Service links, and reaches only
//! the database and the object store (the `backup` NetworkPolicy).

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use storefleet_types::names::{Component, child};

use super::setup::on_the_storefronts_node;
use super::storefront::{WWW_DATA_UID, wordpress_env};
use crate::desired::backup::{
    BACKUP_ROOT, RESTORED, ResticRun, SCRIPT_DIR, WOOCOMMERCE_KEY, mount_at, restic_container,
    scripts_volume,
};
use crate::desired::shop::{files_volume, hashed_name};
use crate::desired::{
    child_meta, container_security, empty_dir, env, labels, pod_security, resources,
};
use crate::validate::{ResolvedBackup, ValidatedStore};

/// The docroot as the storefront mounts the files volume.
const DOCROOT: &str = "/var/www/html";

/// The backup CronJob.
pub fn build_backup_cron_job(store: &ValidatedStore, backup: &ResolvedBackup) -> CronJob {
    let dump = database_container(
        store,
        backup,
        "dump",
        vec![env("DUMP_DIR", format!("{BACKUP_ROOT}/dump"))],
        vec![mount_at("dump", &format!("{BACKUP_ROOT}/dump"), false)],
    );
    let restic = restic_container(
        store,
        backup,
        &ResticRun::Backup {
            reason: "scheduled".into(),
        },
        vec![
            mount_at("dump", &format!("{BACKUP_ROOT}/dump"), true),
            mount_at(
                files_volume().name.as_str(),
                &format!("{BACKUP_ROOT}/files"),
                true,
            ),
        ],
    );
    let volumes = vec![
        files_volume(),
        empty_dir(store, "dump"),
        empty_dir(store, "tmp"),
        scripts_volume(),
    ];
    let spec = job_spec(store, vec![dump], restic, volumes);
    cron_job(store, backup, child::BACKUP, &backup.schedule, spec)
}

/// A CronJob of the store's backups (`name`, on `schedule`): one run at a time, a missed run not
/// made up for later than an hour, the last three runs of each outcome kept for `kubectl logs`,
/// suspended with the store's scheduled backups.
fn cron_job(
    store: &ValidatedStore,
    backup: &ResolvedBackup,
    name: &str,
    schedule: &str,
    spec: JobSpec,
) -> CronJob {
    CronJob {
        metadata: child_meta(store, name, Component::Backup),
        spec: CronJobSpec {
            schedule: schedule.to_string(),
            suspend: Some(!backup.scheduled),
            time_zone: Some("Etc/UTC".into()),
            concurrency_policy: Some("Forbid".into()),
            starting_deadline_seconds: Some(3600),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(3),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(store, Component::Backup)),
                    ..ObjectMeta::default()
                }),
                spec: Some(spec),
            },
        },
        status: None,
    }
}

/// The drill CronJob: the store's newest snapshot restored (`restic restore --verify`) into an
/// empty folder, then loaded into a scratch database the pod starts for itself and checked
/// against its manifest (checksum, counts), the files put in a scratch folder: nothing of the
/// shop's is touched, and the pod needs neither the database nor the files volume.
pub fn build_drill_cron_job(store: &ValidatedStore, backup: &ResolvedBackup) -> CronJob {
    let fetch = restic_container(
        store,
        backup,
        &ResticRun::Verify,
        vec![mount_at("restored", RESTORED, false)],
    );
    let check = Container {
        name: "drill".into(),
        image: Some(backup.database_image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec![
            "sh".into(),
            format!("{SCRIPT_DIR}/{WOOCOMMERCE_KEY}"),
            "drill".into(),
        ]),
        env: Some(vec![env("RESTORED", RESTORED), env("TMPDIR", "/tmp")]),
        resources: Some(resources(&store.plan.resources.setup)),
        security_context: Some(container_security(true)),
        volume_mounts: Some(vec![
            mount_at("scripts", SCRIPT_DIR, true),
            mount_at("tmp", "/tmp", false),
            mount_at("restored", RESTORED, true),
        ]),
        ..Container::default()
    };
    let volumes = vec![
        empty_dir(store, "restored"),
        empty_dir(store, "tmp"),
        scripts_volume(),
    ];
    let mut spec = job_spec(store, vec![fetch], check, volumes);
    if let Some(pod) = spec.template.spec.as_mut() {
        // No volume of the shop's: any node will do.
        pod.affinity = None;
        // The scratch database runs as the MariaDB image's user.
        pod.security_context = Some(pod_security(MARIADB_UID));
    }
    cron_job(store, backup, child::DRILL, &backup.drill_schedule, spec)
}

/// The MariaDB image's `mysql` user.
const MARIADB_UID: i64 = 999;

/// The name of the restore Job of `from`'s `snapshot`: [`child::RESTORE_JOB_PREFIX`] + a hash
/// of them.
pub fn restore_job_name(backup: &ResolvedBackup, from: &str, snapshot: &str) -> String {
    hashed_name(
        child::RESTORE_JOB_PREFIX,
        &[from, snapshot, &backup.image, &backup.database_image],
    )
}

/// The Job that restores `snapshot` (an id, or `latest`) of `from`'s repository (the Secret
/// `restore-repository`) into the store.
pub fn build_restore_job(
    store: &ValidatedStore,
    backup: &ResolvedBackup,
    from: &str,
    snapshot: &str,
) -> Job {
    let fetch = restic_container(
        store,
        backup,
        &ResticRun::Restore {
            from: from.into(),
            snapshot: snapshot.into(),
        },
        vec![mount_at("restored", RESTORED, false)],
    );
    let load = database_container(
        store,
        backup,
        "load",
        vec![
            env("DUMP_DIR", format!("{RESTORED}/dump")),
            env("RESTORED", RESTORED),
            env("DOCROOT", DOCROOT),
        ],
        vec![
            mount_at("restored", RESTORED, true),
            mount_at(files_volume().name.as_str(), DOCROOT, false),
        ],
    );
    let load = Container {
        command: Some(vec![
            "sh".into(),
            format!("{SCRIPT_DIR}/{WOOCOMMERCE_KEY}"),
            "import".into(),
        ]),
        ..load
    };
    let volumes = vec![
        files_volume(),
        empty_dir(store, "restored"),
        empty_dir(store, "tmp"),
        scripts_volume(),
    ];
    let mut spec = job_spec(store, vec![fetch], load, volumes);
    // A restore that failed is looked at, not repeated over a half-loaded database.
    spec.backoff_limit = Some(0);
    Job {
        metadata: child_meta(
            store,
            &restore_job_name(backup, from, snapshot),
            Component::Backup,
        ),
        spec: Some(spec),
        status: None,
    }
}

/// A container on the MariaDB image running the database half (`dump`, or `import` when the
/// caller sets the command), with the storefront's database variables.
fn database_container(
    store: &ValidatedStore,
    backup: &ResolvedBackup,
    name: &str,
    extra: Vec<k8s_openapi::api::core::v1::EnvVar>,
    mounts: Vec<k8s_openapi::api::core::v1::VolumeMount>,
) -> Container {
    let mut env_vars: Vec<_> = wordpress_env(store)
        .into_iter()
        .filter(|v| v.name.starts_with("WORDPRESS_DB_"))
        .collect();
    env_vars.extend(extra);
    let mut volume_mounts = vec![
        mount_at("scripts", SCRIPT_DIR, true),
        mount_at("tmp", "/tmp", false),
    ];
    volume_mounts.extend(mounts);
    Container {
        name: name.into(),
        image: Some(backup.database_image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec![
            "sh".into(),
            format!("{SCRIPT_DIR}/{WOOCOMMERCE_KEY}"),
            "dump".into(),
        ]),
        env: Some(env_vars),
        resources: Some(resources(&store.plan.resources.setup)),
        security_context: Some(container_security(true)),
        volume_mounts: Some(volume_mounts),
        ..Container::default()
    }
}

/// A run-once Job spec as www-data on the storefront's node (the files volume is
/// ReadWriteOnce), with a deadline.
fn job_spec(
    store: &ValidatedStore,
    init: Vec<Container>,
    main: Container,
    volumes: Vec<Volume>,
) -> JobSpec {
    JobSpec {
        backoff_limit: Some(1),
        active_deadline_seconds: Some(store.setup.active_deadline_seconds),
        template: PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels(store, Component::Backup)),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                restart_policy: Some("Never".into()),
                automount_service_account_token: Some(false),
                enable_service_links: Some(false),
                security_context: Some(pod_security(WWW_DATA_UID)),
                affinity: Some(on_the_storefronts_node(store)),
                init_containers: Some(init),
                containers: vec![main],
                volumes: Some(volumes),
                ..PodSpec::default()
            }),
        },
        ..JobSpec::default()
    }
}
