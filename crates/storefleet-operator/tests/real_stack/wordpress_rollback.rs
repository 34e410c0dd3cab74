//! An upgrade that breaks the shop, on the real stack from start to end, each step with the
//! command and environment its Job or pod gets (see `wordpress_backup` and
//! `wordpress_upgrade`): a WooCommerce shop on WordPress 6.8.3 with backups to Garage; the
//! upgrade's own backup (the restore point); the 7.0.4 image's storefront (its entrypoint) and
//! the new setup Job (its database updates), a table and an order of the newer version's; a
//! scheduled backup meanwhile that keeps one snapshot (the restore point, tagged `upgrade`, is
//! kept too); a plugin that dies on WordPress 7 (a must-use
//! plugin, as an incompatible plugin would); the upgrade's walk (its check Job: the checkout
//! probe's own script) fails at the home page, and its exit code names the step. Then the
//! rollback as the operator builds it: the 6.8.3 image's storefront, the restore Job with the
//! restore point (the newer table and order gone), the old setup, the rollback's walk: it
//! passes, the orders from before the upgrade are there, and a customer buys. (This replaces
//! `wordpress_backup`'s test of a rollback's data alone.)

use std::path::Path;

use storefleet_operator::controller::steps::job::{ROLLBACK_CHECK, UPGRADE_CHECK};
use storefleet_operator::controller::steps::upgrade::{backup_job, check_job};
use storefleet_operator::controller::upgrade::{self, Begin};
use storefleet_operator::desired::{self, StoreObjects};
use storefleet_operator::validate::validate;
use storefleet_types::{UpgradePhase, UpgradeStatus, VersionsSpec};

use crate::customer::Browser;
use crate::wordpress::{Shop, WWW_DATA, run, serve, which};
use crate::wordpress_backup::{
    back_up_pod, config, order, order_exists, pod_of_cron, restore_job, secrets, set_up_shop,
    shop_store, snapshots, text,
};
use crate::wordpress_upgrade::{setup_of, storefront_from_image};

const NEW_WORDPRESS: &str = "7.0.4-php8.3-apache";

/// A must-use plugin that was never made for WordPress 7: every storefront page dies with a
/// fatal error there (WP-CLI, which the setup runs, is spared: the walk must find it).
const FATAL_ON_7: &str = r"<?php
if ( ! defined( 'WP_CLI' ) && version_compare( $GLOBALS['wp_version'], '7.0', '>=' ) ) {
	storefleet_test_removed_in_wordpress_7();
}
";

/// Runs the walk of `job` (the probe's template) against the shop served on `port`: its exit
/// code and its output.
fn walk(shop: &Shop, job: &k8s_openapi::api::batch::v1::Job, port: u16) -> (Option<i32>, String) {
    let container = &job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod")
        .containers[0];
    let mut env = shop.env_of(container);
    env.insert("STOREFRONT".into(), format!("http://127.0.0.1:{port}"));
    let command = container.command.clone().expect("command");
    let args: Vec<&str> = command.iter().map(String::as_str).collect();
    let out = shop
        .as_www_data(&env, &args)
        .output()
        .expect("the walk runs");
    (out.status.code(), text(&out))
}

fn newer_table(shop: &Shop) -> String {
    shop.wp(&[
        "eval",
        "global $wpdb; echo $wpdb->get_var(\"SHOW TABLES LIKE '{$wpdb->prefix}newer\\\\_feature'\");",
    ])
}

fn place_fatal_plugin(volume: &Path) {
    let dir = volume.join("wp-content/mu-plugins");
    std::fs::create_dir_all(&dir).expect("mu-plugins");
    std::fs::write(dir.join("incompatible.php"), FATAL_ON_7).expect("plugin");
    run(std::process::Command::new("chown")
        .args(["-R", &format!("{WWW_DATA}:{WWW_DATA}")])
        .arg(&dir));
}

#[test]
fn an_upgrade_that_breaks_the_shop_fails_its_walk_and_the_rollback_serves_the_old_shop_and_its_orders()
 {
    let Some((fixtures, store, mut shop)) = set_up_shop() else {
        return;
    };
    let release_7 = fixtures.join("upgrade/wordpress");
    if !release_7.join("wp-login.php").exists() {
        println!(
            "skipped: no {} (hack/test-assets.sh unpacks it)",
            release_7.display()
        );
        return;
    }
    for tool in ["unshare", "mount", "umount", "bash"] {
        if which(tool).is_none() {
            println!("skipped: {tool} is not installed");
            return;
        }
    }
    // The files volume (here the old layout: the whole docroot, as `set_up_shop` made it).
    let volume = shop.docroot.clone();
    let before = order(&shop);
    let db_version = shop.wp(&["option", "get", "db_version"]);
    assert_eq!(shop.wp(&["core", "version"]), "6.8.3");

    // BackingUp: the upgrade's own backup Job; its snapshot is the restore point.
    let from = upgrade::asked(&shop.validated);
    let newer = {
        let mut s = shop_store();
        s.spec.versions = Some(VersionsSpec {
            wordpress: Some(NEW_WORDPRESS.into()),
            ..VersionsSpec::default()
        });
        validate(&s, &config(&store)).expect("valid")
    };
    let mut u = UpgradeStatus {
        from: from.clone(),
        to: upgrade::asked(&newer),
        phase: UpgradePhase::BackingUp,
        started_at: Some("2026-12-05T10:00:00Z".into()),
        ..UpgradeStatus::default()
    };
    let job = backup_job(&shop.objects, &u).expect("a store with backups");
    let pod = job.spec.and_then(|j| j.template.spec).expect("pod");
    let (restore_point, _) = back_up_pod(&shop, &store, &pod, &[]);
    // A scheduled backup meanwhile, whose retention keeps one snapshot: the restore point stays.
    let keep_one = [
        ("KEEP_DAILY", "1".to_string()),
        ("KEEP_WEEKLY", "0".to_string()),
        ("KEEP_MONTHLY", "0".to_string()),
    ];
    let (scheduled, _) = back_up_pod(&shop, &store, &pod_of_cron(&shop), &keep_one);
    assert_ne!(scheduled, restore_point);
    assert_eq!(
        snapshots(&store, &shop),
        2,
        "the newest daily and the upgrade's restore point (tag upgrade) are kept"
    );

    // Upgrading: the 7.0.4 image's storefront and the new setup Job.
    let objects: StoreObjects = desired::build(&newer);
    let (docroot, said, _mounted_7) =
        storefront_from_image(&shop, &fixtures, &release_7, &volume, &objects);
    assert!(said.contains("successfully copied"), "{said}");
    shop.docroot = docroot;
    assert_eq!(shop.wp(&["core", "version"]), "7.0.4");
    let (out, _) = setup_of(&shop, &objects);
    assert!(out.status.success(), "setup at 7.0.4:\n{}", text(&out));
    assert_ne!(
        shop.wp(&["option", "get", "db_version"]),
        db_version,
        "the database was updated for 7.0.4"
    );
    // What the newer version added meanwhile: a table of its own, and an order (lost with the
    // rollback: the shop is not put in maintenance).
    shop.wp(&[
        "eval",
        "global $wpdb; $wpdb->query(\"CREATE TABLE {$wpdb->prefix}newer_feature (id INT PRIMARY KEY)\");",
    ]);
    assert_eq!(newer_table(&shop), "wp_newer_feature");
    let meanwhile = order(&shop);

    // Verifying: a plugin that dies on WordPress 7; the walk finds it at the first step.
    place_fatal_plugin(&volume);
    u.phase = UpgradePhase::Verifying;
    let check = check_job(&objects.probe, UPGRADE_CHECK, &u);
    let (code, log) = {
        let (_php, port) = serve(&shop);
        walk(&shop, &check, port)
    };
    assert_eq!(code, Some(10), "the walk fails at home: {log}");
    assert!(log.contains("FAILED: home"), "{log}");
    let condition = format!(
        "Container probe for pod store-alice/x failed with exit code {} matching FailJob rule at index 0",
        code.unwrap_or_default()
    );
    let step = storefleet_operator::desired::probe::failed_step(&condition).expect("a step");
    assert!(step.starts_with("home"), "{step}");

    // RollingBack, as the operator builds the store then: the old images, its restore point.
    u.phase = UpgradePhase::RollingBack;
    u.restore_point = Some(restore_point.clone());
    u.failed_check = Some(step.to_string());
    let begin = Begin {
        build: from.clone(),
        deployed: Some(from),
        upgrade: Some(u.clone()),
        started: false,
        held: None,
    };
    let rolling_back = upgrade::carried(&shop.validated, &begin);
    let restore = rolling_back
        .backup
        .as_ref()
        .and_then(|b| b.restore.as_ref())
        .expect("restore");
    assert_eq!((restore.store.as_str(), restore.rollback), ("alice", true));
    let old = desired::build(&rolling_back);
    let setup_env = serde_json::to_string(&old.setup_job().spec).expect("json");
    assert!(
        !setup_env.contains("RESTORED_FROM"),
        "the rolled-back shop is the store's own: nothing to adopt"
    );
    // The restore Job mounts the files volume (not an image's docroot).
    shop.docroot = volume.clone();
    let restore = old
        .backup
        .as_ref()
        .and_then(|b| b.restore_job.clone())
        .expect("the rollback's restore Job");
    let log = restore_job(&shop, restore, &secrets(&shop, &store), &restore_point)
        .unwrap_or_else(|e| panic!("restore: {e}"));
    assert!(log.contains("dropping the shop's tables"), "{log}");
    assert_eq!(newer_table(&shop), "", "the newer version's table is gone");
    assert!(
        !order_exists(&shop, &meanwhile),
        "nothing from after the restore point"
    );
    // The 6.8.3 image's storefront again, and the old setup over what was restored.
    let (docroot, said, _mounted_6) =
        storefront_from_image(&shop, &fixtures, &fixtures.join("wordpress"), &volume, &old);
    assert!(said.contains("successfully copied"), "{said}");
    shop.docroot = docroot;
    assert_eq!(shop.wp(&["core", "version"]), "6.8.3", "the old core runs");
    assert_eq!(
        shop.wp(&["option", "get", "db_version"]),
        db_version,
        "the pre-upgrade database"
    );
    let (out, _) = setup_of(&shop, &old);
    assert!(out.status.success(), "the old setup:\n{}", text(&out));

    // The rollback's walk passes; the orders from before are there; a customer buys.
    let check = check_job(&old.probe, ROLLBACK_CHECK, &u);
    let (_php, port) = serve(&shop);
    let (code, log) = walk(&shop, &check, port);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("checkout works"), "{log}");
    assert!(order_exists(&shop, &before), "the order from before");
    let browser = Browser {
        jar: shop.path().join("cookies-rolled-back"),
        address: format!("127.0.0.1:{port}"),
        host: "alice.shop.local".into(),
    };
    let (_, nonce) = browser.payment_methods();
    let bought = browser.order_with_cash_on_delivery(&nonce);
    assert!(order_exists(&shop, &bought));
}
