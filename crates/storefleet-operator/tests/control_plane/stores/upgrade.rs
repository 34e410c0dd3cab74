//! A store's upgrade (a change of `spec.versions`) as one transaction, on a real apiserver: the
//! pre-upgrade backup first (its snapshot the restore point), then the new images and the new
//! setup, then a walk through the shop (a Job of the checkout probe's template); a failed walk
//! rolls back to the old images and restores the restore point before the old setup and another
//! walk; the failed target is not tried again until a retry. Job pods succeed or fail at the
//! kubelet stand-in's word, by Job name.

use super::backup::{backup_config, platform_secrets};
use super::*;

use storefleet_types::UpgradePhase;

const SNAPSHOT_REPORT: &str = r#"{"snapshot": "7c0ffee1", "snapshotTime": "2026-12-05T03:00:01Z", "seconds": 9, "manifest": {"engine": "woocommerce", "orders": 4, "products": 2, "customers": 1, "sha256": "00", "bytes": 4096, "seconds": 1}}"#;

const NEW_WORDPRESS: &str = "7.0.4-php8.3-apache";

fn image_of(deployment: &Deployment, container: &str) -> String {
    deployment
        .spec
        .template
        .spec
        .as_ref()
        .and_then(|p| p.containers.iter().find(|c| c.name == container))
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

async fn storefront_image(env: &Env) -> String {
    let deployments: Vec<Deployment> = env.children(NS, "alice").await;
    deployments
        .iter()
        .find(|d| d.name_any() == child::STOREFRONT)
        .map(|d| image_of(d, "wordpress"))
        .unwrap_or_default()
}

async fn jobs_named(env: &Env, prefix: &str) -> Vec<Job> {
    let jobs: Vec<Job> = env.children(NS, "alice").await;
    jobs.into_iter()
        .filter(|j| j.name_any().starts_with(prefix))
        .collect()
}

/// `env`'s store, Ready with backups that report a snapshot.
async fn ready_store(env: &Env) {
    platform_secrets(env).await;
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;
    env.cp.kubelet().report(NS, "restic", SNAPSHOT_REPORT);
}

/// How long an ended upgrade took, from its record (start to its last phase).
fn took(u: &storefleet_types::UpgradeStatus) -> String {
    let at = |s: &Option<String>| {
        s.as_deref()
            .and_then(|s| s.parse::<k8s_openapi::jiff::Timestamp>().ok())
    };
    match (at(&u.started_at), at(&u.phase_since)) {
        (Some(start), Some(end)) => format!(
            "{:.1} s from start to {:?} (stand-in kubelet)",
            end.duration_since(start).as_secs_f64(),
            u.phase
        ),
        _ => "no times recorded".into(),
    }
}

async fn ask_for_new_wordpress(env: &Env) {
    env.patch(
        "alice",
        json!({"spec": {"versions": {"wordpress": NEW_WORDPRESS}}}),
    )
    .await;
}

#[tokio::test]
async fn an_upgrade_backs_up_then_moves_the_images_and_is_verified() {
    let env = env_or_skip!(start, backup_config());
    ready_store(&env).await;
    let status = env.status("alice").await;
    let deployed = status.deployed.clone().expect("versions recorded at setup");
    let old_image = storefront_image(&env).await;
    assert_eq!(deployed.images.get("wordpress"), Some(&old_image));
    assert!(condition(&status, "Upgraded").is_none(), "no upgrade yet");

    ask_for_new_wordpress(&env).await;
    let store = env
        .wait_condition("alice", "Upgraded", "the upgrade verified", |c| {
            c.status == "True"
        })
        .await;
    let status = store.status.expect("status");
    let upgrade = status.upgrade.clone().expect("the upgrade's record");
    assert_eq!(upgrade.phase, UpgradePhase::Succeeded);
    println!("upgrade: {}", took(&upgrade));
    assert_eq!(
        upgrade.restore_point.as_deref(),
        Some("7c0ffee1"),
        "the pre-upgrade backup's snapshot"
    );
    assert_eq!(upgrade.from, deployed);
    assert_eq!(status.deployed.as_ref(), Some(&upgrade.to));
    let new_image = storefront_image(&env).await;
    assert!(
        new_image.ends_with(&format!(":{NEW_WORDPRESS}")),
        "{new_image}"
    );
    assert_eq!(upgrade.to.images.get("wordpress"), Some(&new_image));
    assert_eq!(status.phase, Some(Phase::Ready));

    // The Jobs of the transaction: a backup tagged upgrade, the new setup, one walk that passed.
    let backups = jobs_named(&env, "upgrade-backup-").await;
    assert_eq!(backups.len(), 1);
    let reason = backups[0]
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.iter().find(|c| c.name == "restic"))
        .and_then(|c| c.env.as_ref())
        .and_then(|env| env.iter().find(|v| v.name == "REASON"))
        .and_then(|v| v.value.clone());
    assert_eq!(reason.as_deref(), Some("upgrade"));
    let checks = jobs_named(&env, "upgrade-check-").await;
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].status.as_ref().and_then(|s| s.succeeded), Some(1));
    assert!(jobs_named(&env, "rollback-check-").await.is_empty());
    assert!(
        jobs_named(&env, child::RESTORE_JOB_PREFIX).await.is_empty(),
        "nothing restored"
    );
    let events = env.events("alice").await;
    let reasons: Vec<&str> = events.iter().map(|(r, _)| r.as_str()).collect();
    assert!(reasons.contains(&"Upgrading"), "{reasons:?}");
    assert!(reasons.contains(&"Upgraded"), "{reasons:?}");

    // Asked again for what it runs: nothing moves.
    let before = env.versions("alice").await;
    env.patch("alice", json!({"metadata": {"labels": {"touch": "1"}}}))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = env.versions("alice").await;
    let moved: Vec<&String> = after
        .iter()
        .filter(|(k, v)| !k.starts_with("Store/") && before.get(*k) != Some(v))
        .map(|(k, _)| k)
        .collect();
    assert!(moved.is_empty(), "an upgraded store at rest: {moved:?}");
}

#[tokio::test]
async fn a_failed_walk_rolls_back_to_the_old_images_and_the_restore_point_and_is_not_retried() {
    let env = env_or_skip!(start, backup_config());
    ready_store(&env).await;
    let old_image = storefront_image(&env).await;
    // The new version's shop cannot put a product into a cart (the probe's exit code 13); the
    // rolled-back shop can.
    env.cp
        .kubelet()
        .named_jobs(NS, "upgrade-check-", JobPods::FailWith(13));
    ask_for_new_wordpress(&env).await;
    let store = env
        .wait_condition("alice", "Upgraded", "the rollback", |c| {
            c.reason == "RolledBack"
        })
        .await;
    let status = store.status.expect("status");
    let upgraded = condition(&status, "Upgraded").expect("Upgraded");
    assert_eq!(upgraded.status, "False");
    assert!(
        upgraded.message.contains("at cart") && upgraded.message.contains("7c0ffee1"),
        "the check that failed and the restore point: {}",
        upgraded.message
    );
    let upgrade = status.upgrade.clone().expect("the upgrade's record");
    assert_eq!(upgrade.phase, UpgradePhase::RolledBack);
    println!("upgrade rolled back: {}", took(&upgrade));
    assert_eq!(
        status.deployed.as_ref(),
        Some(&upgrade.from),
        "deployed stays"
    );
    assert_eq!(
        storefront_image(&env).await,
        old_image,
        "the old images again"
    );
    assert_eq!(status.phase, Some(Phase::Ready), "the old shop serves");

    // The restore point was put back, once, from the store's own repository.
    let restores = jobs_named(&env, child::RESTORE_JOB_PREFIX).await;
    assert_eq!(restores.len(), 1, "one restore");
    assert_eq!(
        upgrade.restored.as_deref(),
        Some(restores[0].name_any().as_str())
    );
    let restic = restores[0]
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| {
            p.init_containers
                .iter()
                .flatten()
                .chain(p.containers.iter())
                .find(|c| c.name == "restic")
                .cloned()
        })
        .expect("the restic container");
    let snapshot = restic
        .env
        .iter()
        .flatten()
        .find(|v| v.name == "SNAPSHOT")
        .and_then(|v| v.value.clone());
    assert_eq!(snapshot.as_deref(), Some("7c0ffee1"));
    let rollback_checks = jobs_named(&env, "rollback-check-").await;
    assert_eq!(rollback_checks.len(), 1, "the rolled-back shop was walked");
    let events = env.events("alice").await;
    let reasons: Vec<&str> = events.iter().map(|(r, _)| r.as_str()).collect();
    assert!(reasons.contains(&"RollingBack"), "{reasons:?}");
    assert!(reasons.contains(&"RolledBack"), "{reasons:?}");

    // No loop: the same target is not tried again.
    env.patch("alice", json!({"metadata": {"labels": {"touch": "1"}}}))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(jobs_named(&env, "upgrade-backup-").await.len(), 1);
    let status = env.status("alice").await;
    assert_eq!(
        status.upgrade.as_ref().map(|u| u.phase),
        Some(UpgradePhase::RolledBack)
    );
    assert!(
        condition(&status, "Upgraded").is_some_and(|c| c.message.contains("retry")),
        "the condition says how to try again"
    );

    // A retry tries it again (a new backup, new Jobs); this time the shop passes its walk.
    env.cp
        .kubelet()
        .named_jobs(NS, "upgrade-check-", JobPods::Succeed);
    env.retry("alice", "1").await;
    env.wait_condition("alice", "Upgraded", "the retried upgrade", |c| {
        c.status == "True"
    })
    .await;
    common::eventually("the earlier upgrade's Jobs swept", || async {
        (jobs_named(&env, "upgrade-backup-").await.len() == 1).then_some(())
    })
    .await;
    assert!(
        storefront_image(&env)
            .await
            .ends_with(&format!(":{NEW_WORDPRESS}"))
    );
}

#[tokio::test]
async fn a_medusa_store_without_backups_migrates_on_upgrade_and_rolls_back_its_images_only() {
    let mut config = config();
    config.probe.schedule = "0 0 1 1 *".into();
    let env = env_or_skip!(start, config);
    env.create(Store::test().with_engine(storefleet_types::Engine::Medusa))
        .await;
    env.wait_phase("alice", Phase::Ready).await;
    let server_image = || async {
        let deployments: Vec<Deployment> = env.children(NS, "alice").await;
        deployments
            .iter()
            .find(|d| d.name_any() == child::STOREFRONT)
            .map(|d| image_of(d, "medusa"))
            .unwrap_or_default()
    };
    let old_image = server_image().await;

    // The new image's walk fails at the cart: no restore point, so the rollback brings back
    // the old images only (and says so by having none).
    env.cp
        .kubelet()
        .named_jobs(NS, "upgrade-check-", JobPods::FailWith(13));
    env.patch("alice", json!({"spec": {"versions": {"medusa": "0.2.0"}}}))
        .await;
    let store = env
        .wait_condition("alice", "Upgraded", "the rollback", |c| {
            c.reason == "RolledBack"
        })
        .await;
    let status = store.status.expect("status");
    let upgrade = status.upgrade.expect("the upgrade's record");
    assert_eq!(upgrade.restore_point, None, "no backups, no restore point");
    assert_eq!(upgrade.restored, None);
    assert!(
        upgrade
            .failed_check
            .as_deref()
            .is_some_and(|c| c.contains("at cart")),
        "{upgrade:?}"
    );
    assert!(
        upgrade.to.images["medusa"].ends_with(":0.2.0"),
        "{upgrade:?}"
    );
    assert!(jobs_named(&env, "upgrade-backup-").await.is_empty());
    assert!(jobs_named(&env, child::RESTORE_JOB_PREFIX).await.is_empty());
    // The walk ran on the new image's server, which serves only once its migration succeeded.
    let checks = jobs_named(&env, "upgrade-check-").await;
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].status.as_ref().and_then(|s| s.failed), Some(1));
    assert_eq!(server_image().await, old_image, "the old image again");
    assert_eq!(status.phase, Some(Phase::Ready));
}
