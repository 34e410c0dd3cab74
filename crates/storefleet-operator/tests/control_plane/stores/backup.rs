//! Backups on a real apiserver: where the operator has a backup target, a set-up store gets its
//! repository Secret (the password derived from the platform key), the scripts, the backup
//! NetworkPolicy and the CronJob (accepted by the apiserver, restricted, on the storefront's
//! node); a store that turns backups off keeps them suspended; without the platform key the
//! store waits and says why in the operator's log, never the key.

use super::*;

use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::ResourceQuota;
use kube::api::ListParams;
use std::collections::BTreeMap;
use storefleet_operator::desired::backup::{self as backup_objects, keys as backup_keys};

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef-platform";

pub(super) fn backup_config() -> OperatorConfig {
    let mut config = config();
    let yaml = format!(
        "backup:\n  s3: {{endpoint: \"http://203.0.113.10:3900\", bucket: shop-backups, region: garage}}\n  secretsNamespace: {}\n  credentialsSecret: backup-s3\n  keySecret: backup-key\n  egressCidrs: [\"203.0.113.10/32\"]\n  schedule: \"30 2 * * *\"\n",
        common::RELEASE_NAMESPACE
    );
    config.backup = OperatorConfig::from_yaml(&yaml).expect("config").backup;
    config
}

pub(super) async fn platform_secrets(env: &Env) {
    let secrets: Api<Secret> = Api::namespaced(env.admin.clone(), common::RELEASE_NAMESPACE);
    for (name, data) in [
        ("backup-key", vec![("key", KEY.to_vec())]),
        (
            "backup-s3",
            vec![
                (backup_keys::ACCESS_KEY, b"GK-test".to_vec()),
                (backup_keys::SECRET_KEY, b"bucket-secret".to_vec()),
            ],
        ),
    ] {
        let secret: Secret =
            serde_json::from_value(json!({"metadata": {"name": name}})).expect("secret");
        let secret = Secret {
            data: Some(
                data.into_iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v)))
                    .collect(),
            ),
            ..secret
        };
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .expect("platform secret");
    }
}

#[tokio::test]
async fn a_set_up_store_is_backed_up_on_its_schedule_with_its_own_key() {
    let env = env_or_skip!(start, backup_config());
    // Without the platform's Secrets the store waits, and nothing is backed up.
    env.create(Store::test()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cron_jobs: Vec<CronJob> = env.children(NS, "alice").await;
    assert!(cron_jobs.is_empty(), "no backup without the platform key");
    platform_secrets(&env).await;
    env.wait_phase("alice", Phase::Ready).await;

    let secrets: Vec<Secret> = env.children(NS, "alice").await;
    let repository = secrets
        .iter()
        .find(|s| s.name_any() == child::BACKUP_SECRET)
        .expect("the repository Secret");
    let value = |key: &str| {
        repository
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
            .unwrap_or_default()
    };
    assert_eq!(
        value(backup_keys::PASSWORD),
        backup_objects::repository_password(KEY, "alice@example.com", "alice"),
        "the password is derived from the platform key, the owner and the name"
    );
    assert_eq!(
        value(backup_keys::REPOSITORY),
        "s3:http://203.0.113.10:3900/shop-backups/stores/alice@example.com/alice"
    );
    assert_eq!(value(backup_keys::ACCESS_KEY), "GK-test");

    let cron_job = common::eventually("the backup CronJob", || async {
        let cron_jobs: Vec<CronJob> = env.children(NS, "alice").await;
        cron_jobs
            .into_iter()
            .find(|c| c.name_any() == child::BACKUP)
    })
    .await;
    assert_eq!(cron_job.spec.schedule, "30 2 * * *");
    assert_eq!(cron_job.spec.suspend, Some(false));
    assert_eq!(cron_job.spec.concurrency_policy.as_deref(), Some("Forbid"));
    let pod = cron_job
        .spec
        .job_template
        .spec
        .and_then(|j| j.template.spec)
        .expect("pod");
    assert_eq!(pod.automount_service_account_token, Some(false));
    let policies: Vec<NetworkPolicy> = env.children(NS, "alice").await;
    let backup_policy = policies
        .iter()
        .find(|p| p.name_any() == child::BACKUP)
        .expect("the backup NetworkPolicy");
    let egress = serde_json::to_string(&backup_policy.spec).expect("json");
    assert!(
        egress.contains("203.0.113.10/32") && egress.contains("3900"),
        "{egress}"
    );
    let database = policies
        .iter()
        .find(|p| p.name_any() == child::NETPOL_DATABASE_INGRESS)
        .expect("database ingress");
    assert!(
        serde_json::to_string(&database.spec)
            .expect("json")
            .contains("\"backup\""),
        "the database lets the backup pods in"
    );

    // Turned off: the CronJob is suspended, the repository kept.
    env.patch("alice", json!({"spec": {"backup": {"enabled": false}}}))
        .await;
    common::eventually("the CronJob suspended", || async {
        let cron_jobs: Vec<CronJob> = env.children(NS, "alice").await;
        cron_jobs
            .into_iter()
            .find(|c| c.spec.suspend == Some(true))
            .map(|_| ())
    })
    .await;
    let secrets: Vec<Secret> = env.children(NS, "alice").await;
    assert!(secrets.iter().any(|s| s.name_any() == child::BACKUP_SECRET));

    // A Medusa store is backed up too: the dump and the drill on its PostgreSQL image, its
    // uploads read-only, the database letting the backup pods in on PostgreSQL's port.
    env.create(
        Store::test()
            .with_name("bob")
            .with_engine(storefleet_types::Engine::Medusa),
    )
    .await;
    env.wait_phase("bob", Phase::Ready).await;
    let cron_job = common::eventually("bob's backup CronJob", || async {
        let cron_jobs: Vec<CronJob> = env.children("store-bob", "bob").await;
        cron_jobs
            .into_iter()
            .find(|c| c.name_any() == child::BACKUP)
    })
    .await;
    let pod = cron_job
        .spec
        .job_template
        .spec
        .and_then(|j| j.template.spec)
        .expect("pod");
    let dump = &pod.init_containers.as_ref().expect("init")[0];
    assert!(
        dump.image
            .as_deref()
            .is_some_and(|i| i.contains("postgres")),
        "{:?}",
        dump.image
    );
    assert_eq!(
        dump.command.as_ref().map(|c| c[1].as_str()),
        Some("/opt/storefleet/medusa-backup.sh")
    );
    let uploads = pod.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == "files")
        .expect("the files volume");
    assert_eq!(
        (uploads.mount_path.as_str(), uploads.read_only),
        ("/backup/files/uploads", Some(true))
    );
    let policies: Vec<NetworkPolicy> = env.children("store-bob", "bob").await;
    let database = policies
        .iter()
        .find(|p| p.name_any() == child::NETPOL_DATABASE_INGRESS)
        .expect("database ingress");
    let text = serde_json::to_string(&database.spec).expect("json");
    assert!(
        text.contains("\"backup\"") && text.contains("5432"),
        "{text}"
    );
}

#[tokio::test]
async fn a_store_restored_from_a_backup_restores_before_its_setup_and_only_once() {
    let env = env_or_skip!(start, backup_config());
    platform_secrets(&env).await;
    env.cp.kubelet().hold(NS, Component::Backup.as_str());
    let mut store = Store::test();
    store.spec.restore_from = Some(storefleet_types::RestoreFromSpec {
        store: "old-alice".into(),
        snapshot: "latest".into(),
    });
    env.create(store).await;
    env.wait_store("alice", "restoring before setup", |s| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|s| {
            condition(s, "SetupComplete").is_some_and(|c| c.message.contains("estor"))
        })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let jobs: Vec<Job> = env.children(NS, "alice").await;
    let names: Vec<String> = jobs.iter().map(|j| j.name_any()).collect();
    assert_eq!(
        names.len(),
        1,
        "the restore Job only, no setup yet: {names:?}"
    );
    assert!(names[0].starts_with(child::RESTORE_JOB_PREFIX), "{names:?}");
    let secrets: Vec<Secret> = env.children(NS, "alice").await;
    let restore = secrets
        .iter()
        .find(|s| s.name_any() == child::RESTORE_SECRET)
        .expect("the restore-repository Secret");
    let value = |key: &str| {
        restore
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
            .unwrap_or_default()
    };
    assert!(
        value(backup_keys::REPOSITORY).ends_with("/alice@example.com/old-alice"),
        "{}",
        value(backup_keys::REPOSITORY)
    );
    assert_eq!(
        value(backup_keys::PASSWORD),
        backup_objects::repository_password(KEY, "alice@example.com", "old-alice")
    );

    env.cp.kubelet().release(NS, Component::Backup.as_str());
    let ready = env.wait_phase("alice", Phase::Ready).await;
    let status = ready.status.expect("status");
    assert_eq!(status.completed_restore.as_deref(), Some(names[0].as_str()));
    let jobs: Vec<Job> = env.children(NS, "alice").await;
    let setup = jobs
        .iter()
        .find(|j| j.name_any().starts_with(child::SETUP_JOB_PREFIX))
        .expect("the setup Job");
    let env_vars = serde_json::to_string(&setup.spec).expect("json");
    assert!(
        env_vars.contains("RESTORED_FROM") && env_vars.contains("old-alice"),
        "setup adopts the restored shop"
    );
    // Restored once: the finished restore Job may go, it is never run again.
    Api::<Job>::namespaced(env.admin.clone(), NS)
        .delete(&names[0], &DeleteParams::background())
        .await
        .expect("delete the restore Job");
    env.retry("alice", "after-restore").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let jobs: Vec<Job> = env.children(NS, "alice").await;
    assert!(
        !jobs
            .iter()
            .any(|j| j.name_any().starts_with(child::RESTORE_JOB_PREFIX)
                && j.metadata.deletion_timestamp.is_none()),
        "no second restore"
    );
    assert_eq!(env.status("alice").await.phase, Some(Phase::Ready));
}

#[tokio::test]
async fn a_backup_asked_for_runs_once_and_its_outcome_is_the_backup_condition() {
    let env = env_or_skip!(start, backup_config());
    platform_secrets(&env).await;
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;
    let status = env.status("alice").await;
    let backup = condition(&status, "BackupReady").expect("BackupReady");
    assert_eq!(
        (backup.status.as_str(), backup.reason.as_str()),
        ("False", "NoBackupYet")
    );

    // A backup now: one Job from the CronJob's template; it fails, and the condition says so.
    env.cp.kubelet().jobs(NS, JobPods::Fail);
    let annotate =
        |value: &str| json!({"metadata": {"annotations": {names::BACKUP_NOW_ANNOTATION: value}}});
    env.patch("alice", annotate("1")).await;
    env.wait_condition("alice", "BackupReady", "the failed backup", |c| {
        c.reason == "BackupFailed" && c.message.contains("kubectl logs")
    })
    .await;
    assert_eq!(
        env.status("alice").await.phase,
        Some(Phase::Ready),
        "a failed backup is no outage"
    );
    // Another value, another backup: it succeeds, and what its restic container reported (the
    // termination message restic.sh writes) becomes status.backup.last.
    env.cp.kubelet().jobs(NS, JobPods::Succeed);
    env.cp.kubelet().report(
        NS,
        "restic",
        r#"{"snapshot": "5ba21d3e", "snapshotTime": "2026-12-04T03:00:01.25Z", "seconds": 14, "manifest": {"engine": "woocommerce", "orders": 3, "products": 2, "customers": 1, "sha256": "00", "bytes": 81920, "seconds": 2}}"#,
    );
    // The first good backup starts a drill; held before its pod runs, to look at it.
    env.cp
        .kubelet()
        .hold(&format!("{}alice", names::DRILL_NAMESPACE_PREFIX), "drill");
    env.patch("alice", annotate("2")).await;
    env.wait_condition("alice", "BackupReady", "the good backup", |c| {
        c.status == "True" && c.reason == "BackupSucceeded"
    })
    .await;
    // The earlier value's finished Job is swept; the current value's stays (it never runs twice).
    let jobs = common::eventually("one backup Job asked for", || async {
        let jobs: Vec<Job> = env.children(NS, "alice").await;
        let asked: Vec<Job> = jobs
            .into_iter()
            .filter(|j| j.name_any().starts_with("backup-now-"))
            .filter(|j| j.metadata.deletion_timestamp.is_none())
            .collect();
        (asked.len() == 1).then_some(asked)
    })
    .await;
    let job = &jobs[0];
    let last = common::eventually("status.backup.last", || async {
        env.status("alice").await.backup.and_then(|b| b.last)
    })
    .await;
    assert_eq!(last.job, job.name_any(), "the newest backup's record");
    assert_eq!(
        (
            last.snapshot.as_deref(),
            last.snapshot_time.as_deref(),
            last.seconds,
            last.bytes,
            last.orders,
            last.products,
            last.customers,
        ),
        (
            Some("5ba21d3e"),
            Some("2026-12-04T03:00:01.25Z"),
            Some(14),
            Some(81920),
            Some(3),
            Some(2),
            Some(1)
        )
    );
    assert!(last.finished_at.is_some());
    assert!(
        job.status
            .as_ref()
            .and_then(|s| s.succeeded)
            .is_some_and(|n| n > 0),
        "the kept one is the current value's, which succeeded"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again: Vec<Job> = env.children(NS, "alice").await;
    assert_eq!(
        again
            .iter()
            .filter(|j| j.name_any().starts_with("backup-now-"))
            .count(),
        1,
        "the current value does not back up twice"
    );
    assert!(
        serde_json::to_string(&job.spec)
            .expect("json")
            .contains("\"manual\""),
        "tagged manual"
    );

    // The first good backup is drilled at once (a backup counts once a restore proved it): in
    // its throwaway namespace, held here before its pod runs, the drill's objects: restricted,
    // closed, the shop's Secrets by name with values of the drill's own, no quota of the
    // tenant's; the pod's containers the shop's own, as sidecars.
    let drill_ns = format!("{}alice", names::DRILL_NAMESPACE_PREFIX);
    let namespaces: Api<Namespace> = Api::all(env.admin.clone());
    let ns = common::eventually("the drill's namespace", || async {
        namespaces.get_opt(&drill_ns).await.ok().flatten()
    })
    .await;
    let ns_labels = ns.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        ns_labels
            .get("pod-security.kubernetes.io/enforce")
            .map(String::as_str),
        Some("restricted")
    );
    assert_eq!(
        ns_labels.get("storefleet.io/store").map(String::as_str),
        Some("alice")
    );
    let job: Job = common::eventually("the drill Job", || async {
        let jobs: Vec<Job> = env.children(&drill_ns, "alice").await;
        jobs.into_iter()
            .find(|j| j.name_any().starts_with("drill-"))
    })
    .await;
    let pod = job.spec.clone().and_then(|s| s.template.spec).expect("pod");
    let init: Vec<(&str, Option<&str>)> = pod
        .init_containers
        .iter()
        .flatten()
        .map(|c| (c.name.as_str(), c.restart_policy.as_deref()))
        .collect();
    assert_eq!(
        init,
        [
            ("restic", None),
            ("mariadb", Some("Always")),
            ("load", None),
            ("wordpress", Some("Always"))
        ]
    );
    assert_eq!(pod.containers[0].name, "check");
    let drill_secrets: Vec<Secret> = env.children(&drill_ns, "alice").await;
    let shop_secrets: Vec<Secret> = env.children(NS, "alice").await;
    let value = |secrets: &[Secret], name: &str, key: &str| {
        secrets
            .iter()
            .find(|s| s.name_any() == name)
            .and_then(|s| s.data.as_ref()?.get(key).cloned())
            .map(|v| v.0)
    };
    assert!(
        value(&drill_secrets, child::DATABASE_SECRET, "password").is_some(),
        "{:?}",
        drill_secrets
            .iter()
            .map(|s| s.name_any())
            .collect::<Vec<_>>()
    );
    assert_ne!(
        value(&drill_secrets, child::DATABASE_SECRET, "password"),
        value(&shop_secrets, child::DATABASE_SECRET, "password"),
        "the drill's own database password"
    );
    assert!(
        value(&drill_secrets, child::ADMIN_SECRET, "password").is_none(),
        "no admin login leaves the shop's namespace"
    );
    assert_eq!(
        value(&drill_secrets, child::BACKUP_SECRET, backup_keys::PASSWORD),
        value(&shop_secrets, child::BACKUP_SECRET, backup_keys::PASSWORD),
        "the store's repository, read by the drill"
    );
    let quotas: Vec<ResourceQuota> = env.children(&drill_ns, "alice").await;
    assert!(
        quotas.is_empty(),
        "the platform's capacity, not the tenant's quota"
    );
    let policies: Vec<NetworkPolicy> = env.children(&drill_ns, "alice").await;
    assert_eq!(
        policies.len(),
        1,
        "one policy: in-namespace, DNS, the object store"
    );
    let services: Vec<Service> = env.children(&drill_ns, "alice").await;
    assert_eq!(
        services.iter().map(|s| s.name_any()).collect::<Vec<_>>(),
        ["storefront"]
    );
    let status = env.status("alice").await;
    let running = status
        .backup
        .as_ref()
        .and_then(|b| b.running_drill.clone())
        .expect("the running drill");
    assert_eq!(running.job, job.name_any());
    let verified = condition(&status, "BackupVerified").expect("BackupVerified");
    assert_eq!(verified.reason, "NoDrillYet");

    // It fails: BackupVerified says which container and why, the namespace goes.
    env.cp.kubelet().jobs(&drill_ns, JobPods::Fail);
    env.cp.kubelet().release(&drill_ns, "drill");
    env.wait_condition("alice", "BackupVerified", "the failed drill", |c| {
        c.status == "False"
            && c.reason == "DrillFailed"
            && c.message.contains("check: failed on request of the test")
    })
    .await;
    env.wait_namespace_gone(&drill_ns).await;
    let last = env
        .status("alice")
        .await
        .backup
        .and_then(|b| b.last_drill)
        .expect("lastDrill");
    assert_eq!(
        (last.job.as_str(), last.succeeded),
        (job.name_any().as_str(), Some(false))
    );

    // A drill asked for: it succeeds; the check's report is the newest backup proven by a
    // restore and the measured restore time (the RTO); the namespace goes, nothing is left.
    env.cp.kubelet().jobs(&drill_ns, JobPods::Succeed);
    env.cp.kubelet().report(
        &drill_ns,
        "check",
        r#"{"snapshot": "5ba21d3e", "snapshotTime": "2026-12-04T03:00:01.25Z", "seconds": 37, "manifest": {"orders": 3, "products": 2, "customers": 1, "bytes": 81920}}"#,
    );
    env.patch(
        "alice",
        json!({"metadata": {"annotations": {names::DRILL_NOW_ANNOTATION: "1"}}}),
    )
    .await;
    env.wait_condition("alice", "BackupVerified", "the drill", |c| {
        c.status == "True" && c.reason == "DrillSucceeded"
    })
    .await;
    env.wait_namespace_gone(&drill_ns).await;
    let left: Vec<Namespace> = namespaces
        .list(&ListParams::default().labels("app.kubernetes.io/component=drill"))
        .await
        .expect("namespaces")
        .items;
    assert!(left.is_empty(), "nothing of the drills is left");
    let status = env.status("alice").await;
    let backup = status.backup.clone().expect("backup status");
    assert!(backup.running_drill.is_none());
    let last = backup.last_drill.expect("lastDrill");
    assert_eq!(
        (last.succeeded, last.asked.as_deref()),
        (Some(true), Some("1")),
        "{last:?}"
    );
    // The same value asks for nothing more.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        namespaces.get_opt(&drill_ns).await.expect("get").is_none(),
        "one drill per value"
    );
    let text = common::eventually("the backup metrics", || async {
        let text = env.metrics().encode();
        text.contains("storefleet_backup_last_verified_timestamp_seconds{store=\"alice\"}")
            .then_some(text)
    })
    .await;
    assert!(
        text.contains("storefleet_backup_last_success_timestamp_seconds{store=\"alice\"}")
            && text.contains("storefleet_backup_drill_failed{store=\"alice\"} 0"),
        "{text}"
    );
    // The drill's report: the newest backup proven by a restore, and the measured restore time.
    let proven = common::eventually("status.backup.lastVerifiedRestore", || async {
        env.status("alice")
            .await
            .backup
            .and_then(|b| b.last_verified_restore)
    })
    .await;
    assert_eq!(
        (
            proven.job.as_str(),
            proven.snapshot.as_deref(),
            proven.seconds,
            proven.orders
        ),
        (last.job.as_str(), Some("5ba21d3e"), Some(37), Some(3))
    );
    let text = common::eventually("the RPO and RTO metrics", || async {
        let text = env.metrics().encode();
        text.contains("storefleet_backup_restore_duration_seconds{store=\"alice\"} 37")
            .then_some(text)
    })
    .await;
    assert!(
        text.contains("storefleet_backup_duration_seconds{store=\"alice\"} 14")
            && text.contains("storefleet_backup_size_bytes{store=\"alice\"} 81920"),
        "{text}"
    );
    let taken: k8s_openapi::jiff::Timestamp = "2026-12-04T03:00:01.25Z".parse().expect("time");
    assert!(
        text.contains(&format!(
            "storefleet_backup_verified_snapshot_timestamp_seconds{{store=\"alice\"}} {}",
            taken.as_second()
        )),
        "{text}"
    );
}

#[tokio::test]
async fn with_store_keys_each_store_reaches_its_repository_with_its_own_key_and_waits_for_it() {
    let mut config = backup_config();
    if let Some(backup) = config.backup.as_mut() {
        backup.store_credentials = true;
    }
    let env = env_or_skip!(start, config);
    // The platform key only: no bucket key of the platform's is read.
    let secrets: Api<Secret> = Api::namespaced(env.admin.clone(), common::RELEASE_NAMESPACE);
    let secret = |name: &str, owner: &str, data: &[(&str, &str)]| -> Secret {
        serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": {names::STORE_KEY_OWNER_ANNOTATION: owner}},
            "stringData": data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        }))
        .expect("secret")
    };
    let key: Secret = serde_json::from_value(json!({
        "metadata": {"name": "backup-key"},
        "data": {"key": k8s_openapi::ByteString(KEY.to_vec())},
    }))
    .expect("key");
    secrets
        .create(&PostParams::default(), &key)
        .await
        .expect("platform key");
    env.create(Store::test()).await;
    // Without its key, or with one made for another owner's store, the store waits: no
    // repository Secret, nothing backed up.
    secrets
        .create(
            &PostParams::default(),
            &secret(
                "backup-s3-alice",
                "mallory@example.com",
                &[
                    (backup_keys::ACCESS_KEY, "GK-mallory"),
                    (backup_keys::SECRET_KEY, "s"),
                ],
            ),
        )
        .await
        .expect("a key of another owner's");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let found: Vec<Secret> = env.children(NS, "alice").await;
    assert!(
        !found.iter().any(|s| s.name_any() == child::BACKUP_SECRET),
        "another owner's key is never used"
    );
    assert_ne!(env.status("alice").await.phase, Some(Phase::Ready));
    // Its own key (and its own bucket): the repository Secret holds them.
    secrets
        .replace(
            "backup-s3-alice",
            &PostParams::default(),
            &secret(
                "backup-s3-alice",
                "alice@example.com",
                &[
                    (backup_keys::ACCESS_KEY, "GK-alice"),
                    (backup_keys::SECRET_KEY, "alice-secret"),
                    (backup_keys::BUCKET, "alice-bucket"),
                ],
            ),
        )
        .await
        .expect("alice's key");
    env.wait_phase("alice", Phase::Ready).await;
    let found: Vec<Secret> = env.children(NS, "alice").await;
    let repository = found
        .iter()
        .find(|s| s.name_any() == child::BACKUP_SECRET)
        .expect("the repository Secret");
    let value = |key: &str| {
        repository
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
            .unwrap_or_default()
    };
    assert_eq!(value(backup_keys::ACCESS_KEY), "GK-alice");
    assert_eq!(
        value(backup_keys::REPOSITORY),
        "s3:http://203.0.113.10:3900/alice-bucket/stores/alice@example.com/alice"
    );
}
