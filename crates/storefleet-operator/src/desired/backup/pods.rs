//! The backup, drill and restore pods of either engine: restic's container (`mod.rs`) with the
//! engine's database half ([`EngineParts`]: its image, script, database variables and where its
//! files live).
//!
//! Backup (the CronJob `backup`): the init container `dump` writes the dump and its manifest into
//! `dump/`; then `restic` backs up `dump/` and the shop's files (the files volume, mounted
//! read-only on the storefront's node) and applies the retention.
//!
//! Drill: in a throwaway namespace, see `drill.rs`.
//!
//! Restore (a Job `restore-<hash>`): `restic` restores a snapshot into an empty folder; `load`
//! checks the dump against its manifest, loads it into the store's database, puts the files in
//! place and checks the counts.
//!
//! Every pod is restricted, has no ServiceAccount token and no Service links, and reaches only
//! the database and the object store (the `backup` NetworkPolicy).

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, PodTemplateSpec, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use storefleet_types::names::{Component, child};

use super::{BACKUP_ROOT, RESTORED, ResticRun, SCRIPT_DIR, mount_at, restic_container};
use crate::desired::shop::{files_volume, hashed_name, on_the_storefronts_node};
use crate::desired::{
    child_meta, container_security, empty_dir, env, labels, pod_security, resources,
};
use crate::validate::{ResolvedBackup, ValidatedStore};

/// What an engine puts into its backup, drill and restore pods.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineParts {
    /// The database half's script, by its key in the scripts ConfigMap (`dump`, `import`,
    /// `drill`).
    pub script: &'static str,
    /// That script.
    pub script_text: &'static str,
    /// The store's own database image: its client dumps and loads.
    pub image: String,
    /// The store's database (from its Secrets) and what a load needs besides (e.g. its URL).
    pub database_env: Vec<EnvVar>,
    /// Where the shop's files are.
    pub files: FilesLayout,
    /// The user the backup and restore pods run as: the files' owner.
    pub uid: i64,
    /// A drill's check of the restored shop.
    pub check: CheckParts,
}

/// What checks a restored shop in a drill (`drill.rs`): a script of the engine's, run on one of
/// the store's images by its interpreter.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckParts {
    /// The image (the store's: WP-CLI's for WooCommerce, Medusa's).
    pub image: String,
    /// The script's key in the scripts ConfigMap.
    pub key: &'static str,
    /// The script.
    pub text: &'static str,
    /// The interpreter (the script's path follows).
    pub command: Vec<String>,
    /// The folder it runs in (where the interpreter finds its modules), if not the image's.
    pub working_dir: Option<&'static str>,
    /// The user it runs as (the image's).
    pub uid: i64,
    /// What it needs of the shop's settings besides (e.g. the database's address).
    pub env: Vec<EnvVar>,
}

/// Where an engine's files are, in a backup and in a restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilesLayout {
    /// Where a backup pod mounts the files volume, under [`BACKUP_ROOT`].
    pub backup_mount: &'static str,
    /// The folder under [`BACKUP_ROOT`] that restic backs up (and restores under
    /// [`RESTORED`]).
    pub backed_up: &'static str,
    /// Where a restore pod mounts the files volume.
    pub restore_mount: &'static str,
    /// The variable that tells the load script where that is.
    pub restore_var: &'static str,
}

/// The backup CronJob.
pub fn build_backup_cron_job(
    store: &ValidatedStore,
    backup: &ResolvedBackup,
    parts: &EngineParts,
) -> CronJob {
    let dump_dir = format!("{BACKUP_ROOT}/dump");
    let dump = database_container(
        store,
        parts,
        "dump",
        vec![env("DUMP_DIR", dump_dir.clone())],
        vec![mount_at("dump", &dump_dir, false)],
    );
    let mut restic = restic_container(
        store,
        backup,
        &ResticRun::Backup {
            reason: "scheduled".into(),
        },
        vec![
            mount_at("dump", &dump_dir, true),
            mount_at(
                files_volume().name.as_str(),
                &format!("{BACKUP_ROOT}/{}", parts.files.backup_mount),
                true,
            ),
        ],
    );
    restic
        .env
        .get_or_insert_default()
        .push(env("FILES", parts.files.backed_up));
    let volumes = vec![
        files_volume(),
        empty_dir(store, "dump"),
        empty_dir(store, "tmp"),
        super::scripts_volume(),
    ];
    let spec = job_spec(store, parts.uid, vec![dump], restic, volumes);
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

/// The name of the restore Job of `from`'s `snapshot`: [`child::RESTORE_JOB_PREFIX`] + a hash
/// of them and the images.
pub fn restore_job_name(
    backup: &ResolvedBackup,
    parts: &EngineParts,
    from: &str,
    snapshot: &str,
) -> String {
    hashed_name(
        child::RESTORE_JOB_PREFIX,
        &[from, snapshot, &backup.image, &parts.image],
    )
}

/// The Job that restores `snapshot` (an id, or `latest`) of `from`'s repository (the Secret
/// `restore-repository`) into the store.
pub fn build_restore_job(
    store: &ValidatedStore,
    backup: &ResolvedBackup,
    parts: &EngineParts,
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
    let load = load_container(store, parts, "import", Vec::new());
    let volumes = vec![
        files_volume(),
        empty_dir(store, "restored"),
        empty_dir(store, "tmp"),
        super::scripts_volume(),
    ];
    let mut spec = job_spec(store, parts.uid, vec![fetch], load, volumes);
    // A restore that failed is looked at, not repeated over a half-loaded database.
    spec.backoff_limit = Some(0);
    Job {
        metadata: child_meta(
            store,
            &restore_job_name(backup, parts, from, snapshot),
            Component::Backup,
        ),
        spec: Some(spec),
        status: None,
    }
}

/// The container `load` running the engine's script's `verb` (`import`, or `drill`) over what
/// restic restored: the dump and its manifest under [`RESTORED`], the files put where the files
/// volume is mounted; `extra` variables besides.
pub(super) fn load_container(
    store: &ValidatedStore,
    parts: &EngineParts,
    verb: &str,
    extra: Vec<EnvVar>,
) -> Container {
    let files = parts.files;
    let mut env_vars = vec![
        env("DUMP_DIR", format!("{RESTORED}/dump")),
        env("RESTORED", RESTORED),
        env(files.restore_var, files.restore_mount),
    ];
    env_vars.extend(extra);
    let load = database_container(
        store,
        parts,
        "load",
        env_vars,
        vec![
            mount_at("restored", RESTORED, true),
            mount_at(files_volume().name.as_str(), files.restore_mount, false),
        ],
    );
    Container {
        command: Some(script_command(parts, verb)),
        ..load
    }
}

/// `sh <the engine's script> <verb>`.
pub(super) fn script_command(parts: &EngineParts, verb: &str) -> Vec<String> {
    vec![
        "sh".into(),
        format!("{SCRIPT_DIR}/{}", parts.script),
        verb.into(),
    ]
}

/// A container on the database image running the database half (`dump`, or `import` when the
/// caller sets the command), with the store's database variables.
pub(super) fn database_container(
    store: &ValidatedStore,
    parts: &EngineParts,
    name: &str,
    extra: Vec<EnvVar>,
    mounts: Vec<k8s_openapi::api::core::v1::VolumeMount>,
) -> Container {
    let mut env_vars = parts.database_env.clone();
    env_vars.extend(extra);
    let mut volume_mounts = vec![
        mount_at("scripts", SCRIPT_DIR, true),
        mount_at("tmp", "/tmp", false),
    ];
    volume_mounts.extend(mounts);
    Container {
        name: name.into(),
        image: Some(parts.image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(script_command(parts, "dump")),
        env: Some(env_vars),
        resources: Some(resources(&store.plan.resources.setup)),
        security_context: Some(container_security(true)),
        volume_mounts: Some(volume_mounts),
        ..Container::default()
    }
}

/// A run-once Job spec as `uid` on the storefront's node (the files volume is ReadWriteOnce),
/// with a deadline.
fn job_spec(
    store: &ValidatedStore,
    uid: i64,
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
                security_context: Some(pod_security(uid)),
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
