//! Tests of the upgrade transaction's pure half.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use storefleet_types::{Engine, Store};

use super::*;
use crate::config::OperatorConfig;
use crate::validate::validate;

fn store(engine: Engine) -> ValidatedStore {
    validate(
        &Store::test().with_engine(engine),
        &OperatorConfig::default(),
    )
    .expect("valid store")
}

fn at(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn versions(wordpress: &str, woocommerce: Option<&str>) -> DeployedVersions {
    DeployedVersions {
        images: [
            (
                role::WORDPRESS,
                format!("docker.io/library/wordpress:{wordpress}"),
            ),
            (role::MARIADB, "docker.io/library/mariadb:11.4".to_string()),
        ]
        .into_iter()
        .map(|(r, i)| (r.to_string(), i))
        .collect(),
        woocommerce: woocommerce.map(str::to_string),
    }
}

fn facts<'a>(
    asked: &'a DeployedVersions,
    deployed: Option<&'a DeployedVersions>,
    upgrade: Option<&'a UpgradeStatus>,
) -> Facts<'a> {
    Facts {
        asked,
        deployed,
        upgrade,
        set_up: true,
        asleep: false,
        backups: true,
        retry: false,
        rollout: None,
    }
}

const NOW: &str = "2026-12-05T10:00:00Z";

#[test]
fn the_asked_versions_are_every_image_by_role_and_they_rebuild_the_store() {
    let woo = store(Engine::Woocommerce);
    let asked = asked(&woo);
    assert_eq!(
        asked.images.keys().map(String::as_str).collect::<Vec<_>>(),
        [role::MARIADB, role::WORDPRESS, role::WP_CLI]
    );
    assert_eq!(
        with_versions(&woo, &asked),
        woo,
        "its own versions change nothing"
    );
    let mut other = asked.clone();
    other.images.insert(
        role::WORDPRESS.into(),
        "registry.test/wordpress:7.0.4".into(),
    );
    other.woocommerce = Some("10.0.2".into());
    let moved = with_versions(&woo, &other);
    let App::Woocommerce(w) = &moved.app else {
        panic!("still WooCommerce")
    };
    assert_eq!(w.images.wordpress, "registry.test/wordpress:7.0.4");
    assert_eq!(w.woocommerce_version.as_deref(), Some("10.0.2"));
    assert_eq!(super::asked(&moved), other);

    let medusa = store(Engine::Medusa);
    let asked = super::asked(&medusa);
    assert_eq!(
        asked.images.keys().map(String::as_str).collect::<Vec<_>>(),
        [role::MEDUSA, role::POSTGRES, role::REDIS]
    );
    assert_eq!(asked.woocommerce, None);
    assert_eq!(with_versions(&medusa, &asked), medusa);
}

#[test]
fn a_new_shop_is_set_up_on_what_it_asks_and_an_older_one_adopts_it() {
    let asked = versions("6.8.3", None);
    let new = begin(
        Facts {
            set_up: false,
            ..facts(&asked, None, None)
        },
        at(NOW),
    );
    assert_eq!(
        (new.build, new.deployed, new.started),
        (asked.clone(), None, false)
    );
    // Set up before this operator recorded versions: what it asks for is what it runs.
    let adopted = begin(facts(&asked, None, None), at(NOW));
    assert_eq!(adopted.deployed, Some(asked.clone()));
    assert_eq!(adopted.upgrade, None);
    assert!(!adopted.started);
    let same = begin(facts(&asked, Some(&asked), None), at(NOW));
    assert_eq!((same.build, same.started), (asked, false));
}

#[test]
fn other_versions_start_an_upgrade_that_backs_up_on_the_old_images_first() {
    let old = versions("6.8.3", Some("9.9.5"));
    let new = versions("7.0.4", Some("10.0.2"));
    let b = begin(facts(&new, Some(&old), None), at(NOW));
    assert!(b.started);
    assert_eq!(
        b.build, old,
        "nothing changes before the restore point exists"
    );
    let u = b.upgrade.expect("an upgrade");
    assert_eq!(
        (&u.from, &u.to, u.phase),
        (&old, &new, UpgradePhase::BackingUp)
    );
    assert_eq!(u.started_at.as_deref(), Some(NOW));
    assert_eq!(
        b.deployed,
        Some(old.clone()),
        "deployed moves only on success"
    );

    // No backups: no restore point, straight to the new images.
    let b = begin(
        Facts {
            backups: false,
            ..facts(&new, Some(&old), None)
        },
        at(NOW),
    );
    assert_eq!(b.upgrade.map(|u| u.phase), Some(UpgradePhase::Upgrading));
    assert_eq!(b.build, new);

    // A sleeping store's upgrade waits for the wake, on the old images.
    let b = begin(
        Facts {
            asleep: true,
            ..facts(&new, Some(&old), None)
        },
        at(NOW),
    );
    assert_eq!((b.build, b.upgrade, b.started), (old, None, false));
    assert!(b.held.is_some_and(|h| h.contains("wakes")));
}

#[test]
fn an_upgrade_runs_to_its_end_whatever_the_spec_asks_meanwhile() {
    let old = versions("6.8.3", None);
    let new = versions("7.0.4", None);
    let newer = versions("7.1.0", None);
    let mut u = begin(facts(&new, Some(&old), None), at(NOW))
        .upgrade
        .expect("an upgrade");
    for (phase, build) in [
        (UpgradePhase::BackingUp, &old),
        (UpgradePhase::Upgrading, &new),
        (UpgradePhase::Verifying, &new),
        (UpgradePhase::RollingBack, &old),
    ] {
        u.phase = phase;
        let b = begin(facts(&newer, Some(&old), Some(&u)), at(NOW));
        assert_eq!((&b.build, b.started), (build, false), "{phase:?}");
        assert_eq!(b.upgrade.as_ref(), Some(&u));
    }
    // Ended: the newer spec is the next upgrade, from what runs.
    u.phase = UpgradePhase::RolledBack;
    let b = begin(facts(&newer, Some(&old), Some(&u)), at(NOW));
    assert!(b.started);
    let next = b.upgrade.expect("the next upgrade");
    assert_eq!((&next.from, &next.to), (&old, &newer));
}

#[test]
fn a_target_that_failed_is_not_tried_again_until_a_retry() {
    let old = versions("6.8.3", None);
    let new = versions("7.0.4", None);
    for phase in [
        UpgradePhase::RolledBack,
        UpgradePhase::Aborted,
        UpgradePhase::RollbackFailed,
    ] {
        let u = UpgradeStatus {
            from: old.clone(),
            to: new.clone(),
            phase,
            failed_check: Some("verification: at cart".into()),
            ..UpgradeStatus::default()
        };
        let b = begin(facts(&new, Some(&old), Some(&u)), at(NOW));
        assert_eq!((&b.build, b.started), (&old, false), "{phase:?}: no loop");
        assert!(
            b.held
                .as_deref()
                .is_some_and(|h| h.contains(&format!("{phase:?}")) && h.contains("retry"))
        );
        let retried = begin(
            Facts {
                retry: true,
                ..facts(&new, Some(&old), Some(&u))
            },
            at(NOW),
        );
        assert!(retried.started, "{phase:?}: a retry starts it again");
        assert_eq!(
            retried.upgrade.map(|u| (u.phase, u.failed_check)),
            Some((UpgradePhase::BackingUp, None))
        );
    }
}

#[test]
fn each_phase_moves_on_from_what_its_step_showed() {
    let old = versions("6.8.3", None);
    let new = versions("7.0.4", None);
    let start = begin(facts(&new, Some(&old), None), at(NOW))
        .upgrade
        .expect("an upgrade");
    let later = at("2026-12-05T10:05:00Z");

    let mut u = start.clone();
    u.backed_up(Some("1a2b3c4d".into()), later);
    assert_eq!(
        (u.phase, u.restore_point.as_deref()),
        (UpgradePhase::Upgrading, Some("1a2b3c4d"))
    );
    assert_eq!(u.phase_since.as_deref(), Some("2026-12-05T10:05:00Z"));
    u.verified(later);
    assert_eq!(u.phase, UpgradePhase::Upgrading, "not before the setup");
    u.set_up(later);
    assert_eq!(u.phase, UpgradePhase::Verifying);
    let mut ok = u.clone();
    ok.verified(later);
    assert_eq!(ok.phase, UpgradePhase::Succeeded);
    assert_eq!(building(&ok), &new);

    // A failed check rolls back; the rollback's walk ends it RolledBack.
    let mut bad = u.clone();
    bad.failed("verification: at cart".into(), later);
    assert_eq!(bad.phase, UpgradePhase::RollingBack);
    assert_eq!(building(&bad), &old);
    assert_eq!(restoring(Some(&bad)), Some("1a2b3c4d"));
    bad.restored = Some("restore-abc".into());
    assert_eq!(
        restoring(Some(&bad)),
        Some("1a2b3c4d"),
        "the whole phase: its Job is done once restored"
    );
    let mut back = bad.clone();
    back.verified(later);
    assert_eq!(back.phase, UpgradePhase::RolledBack);
    assert_eq!(restoring(Some(&back)), None, "ended");
    assert_eq!(back.failed_check.as_deref(), Some("verification: at cart"));
    // A failed rollback keeps the first failure first.
    bad.failed("setup: exit 1".into(), later);
    assert_eq!(bad.phase, UpgradePhase::RollbackFailed);
    assert_eq!(
        bad.failed_check.as_deref(),
        Some("verification: at cart; then the rollback: setup: exit 1")
    );

    // A failed (or snapshot-less) backup aborts with nothing changed.
    let mut aborted = start.clone();
    aborted.failed("the pre-upgrade backup failed".into(), later);
    assert_eq!(aborted.phase, UpgradePhase::Aborted);
    assert_eq!(building(&aborted), &old);
    let mut no_snapshot = start;
    no_snapshot.backed_up(None, later);
    assert_eq!(no_snapshot.phase, UpgradePhase::Aborted);
    assert_eq!(restoring(Some(&no_snapshot)), None);

    // Ended phases do not move.
    let mut done = ok;
    done.failed("late".into(), later);
    assert_eq!(
        (done.phase, done.failed_check),
        (UpgradePhase::Succeeded, None)
    );
}

#[test]
fn new_images_that_never_get_ready_expire_their_phase() {
    let old = versions("6.8.3", None);
    let new = versions("7.0.4", None);
    let mut u = begin(facts(&new, Some(&old), None), at(NOW))
        .upgrade
        .expect("an upgrade");
    let timeout = Duration::from_secs(600);
    let late = at("2026-12-05T10:10:01Z");
    assert!(!u.expired(late, timeout), "a backup has its own deadline");
    u.phase = UpgradePhase::Upgrading;
    assert!(!u.expired(at("2026-12-05T10:09:59Z"), timeout));
    assert!(u.expired(late, timeout));
    u.phase = UpgradePhase::RollingBack;
    assert!(u.expired(late, timeout));
    u.phase_since = Some("not a time".into());
    assert!(!u.expired(late, timeout), "an unreadable time waits");
}

#[test]
fn the_account_names_tags_the_restore_point_and_the_check() {
    let u = UpgradeStatus {
        from: versions("6.8.3", Some("9.9.5")),
        to: versions("7.0.4", Some("10.0.2")),
        phase: UpgradePhase::RolledBack,
        restore_point: Some("1a2b3c4d".into()),
        failed_check: Some("verification: at cart".into()),
        ..UpgradeStatus::default()
    };
    assert_eq!(
        describe(&u),
        "The upgrade to mariadb 11.4, wordpress 7.0.4, woocommerce 10.0.2 failed and was rolled back to mariadb 11.4, wordpress 6.8.3, woocommerce 9.9.5 (restore point: snapshot 1a2b3c4d): verification: at cart"
    );
    assert_eq!(tag("registry:5000/wordpress:7.0.4-php8.3"), "7.0.4-php8.3");
    assert_eq!(tag("wordpress"), "wordpress", "no tag: the reference");
}
