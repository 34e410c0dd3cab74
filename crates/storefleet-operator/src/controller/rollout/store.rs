//! A store's side of a rollout (pure): which rollout admits it, the versions that gives it, and
//! the mark it reports (`status.rollout`) for the rollout to count.
//!
//! A store asks for the versions of its own spec first; then, while a rollout's status admits
//! it, that rollout's target; else what it runs (`status.deployed`). An operator default thus
//! sets up new stores, and moves a running store only through a rollout (or its own spec).

use std::borrow::Cow;
use std::sync::Arc;

use kube::ResourceExt;
use storefleet_types::{
    DeployedVersions, Engine, RolloutMark, RolloutState, Store, StoreRollout, UpgradeStatus,
    VersionsSpec,
};

use super::engine_versions;
use crate::controller::upgrade::{self, Begin, role};

/// The rollout whose status admits `store` (the oldest, when several do).
pub fn admitting<'a>(store: &str, rollouts: &'a [Arc<StoreRollout>]) -> Option<&'a StoreRollout> {
    rollouts
        .iter()
        .filter(|r| r.metadata.deletion_timestamp.is_none())
        .filter(|r| {
            r.status.as_ref().is_some_and(|s| {
                s.waves
                    .iter()
                    .any(|w| w.admitted().iter().any(|n| n == store))
            })
        })
        .min_by_key(|r| (r.creation_timestamp().map(|t| t.0), r.name_any()))
        .map(AsRef::as_ref)
}

/// A store as a rollout moves it.
#[derive(Debug, Clone)]
pub struct Enrolled<'a> {
    /// The store, with the rollout's target where its spec pins nothing.
    pub store: Cow<'a, Store>,
    /// The rollout (name, uid) that admits it.
    pub rollout: Option<(String, Option<String>)>,
    /// Why the target is not taken (a database's major version would change).
    pub refused: Option<String>,
}

/// `store` as the rollout admitting it (of `rollouts`) would have it.
pub fn enrolled<'a>(store: &'a Store, rollouts: &[Arc<StoreRollout>]) -> Enrolled<'a> {
    let Some(rollout) = admitting(&store.name_any(), rollouts) else {
        return Enrolled {
            store: Cow::Borrowed(store),
            rollout: None,
            refused: None,
        };
    };
    let id = Some((rollout.name_any(), rollout.uid()));
    let deployed = store.status.as_ref().and_then(|s| s.deployed.as_ref());
    match with_target(store, &rollout.spec.target, deployed) {
        Ok(moved) => Enrolled {
            store: Cow::Owned(moved),
            rollout: id,
            refused: None,
        },
        Err(why) => Enrolled {
            store: Cow::Borrowed(store),
            rollout: id,
            refused: Some(why),
        },
    }
}

/// `store` with `target`'s versions of its engine where its own spec pins none; refused when a
/// database's major version would change (no upgrade path between majors yet).
pub fn with_target(
    store: &Store,
    target: &VersionsSpec,
    deployed: Option<&DeployedVersions>,
) -> Result<Store, String> {
    let engine = store.spec.engine;
    let mut out = store.clone();
    let versions = out.spec.versions.get_or_insert_default();
    for (field, value) in engine_versions(target, engine) {
        let slot = match field {
            "wordpress" => &mut versions.wordpress,
            "mariadb" => &mut versions.mariadb,
            "wpCli" => &mut versions.wp_cli,
            "woocommerce" => &mut versions.woocommerce,
            "medusa" => &mut versions.medusa,
            "postgres" => &mut versions.postgres,
            _ => &mut versions.redis,
        };
        if slot.is_some() {
            continue;
        }
        if let Some(database) = [role::MARIADB, role::POSTGRES]
            .into_iter()
            .find(|r| *r == field)
            && let Some(running) = deployed.and_then(|d| d.images.get(database))
            && major(tag_of(running)) != major(value)
        {
            return Err(format!(
                "the target's {field} {value} is another major version than the store's database runs ({running}); Storefleet has no upgrade path between majors yet"
            ));
        }
        *slot = Some(value.to_string());
    }
    Ok(out)
}

/// The versions a store asks for: those its spec (or the rollout admitting it) sets, as
/// `validated` resolved them, and for the others what it runs (`deployed`), when it runs any.
pub fn asked(
    validated_asks: DeployedVersions,
    spec: Option<&VersionsSpec>,
    engine: Engine,
    deployed: Option<&DeployedVersions>,
) -> DeployedVersions {
    let Some(deployed) = deployed else {
        return validated_asks;
    };
    let pinned: Vec<&str> = spec
        .map(|v| {
            engine_versions(v, engine)
                .into_iter()
                .map(|(f, _)| f)
                .collect()
        })
        .unwrap_or_default();
    let mut out = validated_asks;
    for (role, image) in &mut out.images {
        // The roles are named as the spec's fields.
        if !pinned.contains(&role.as_str())
            && let Some(running) = deployed.images.get(role)
        {
            image.clone_from(running);
        }
    }
    if !pinned.contains(&"woocommerce") && engine == Engine::Woocommerce {
        out.woocommerce.clone_from(&deployed.woocommerce);
    }
    out
}

/// What an admitted store reports to its rollout after `begin` (the store asking for `asked`).
pub fn mark(
    rollout: (String, Option<String>),
    refused: Option<String>,
    begin: &Begin,
    asked: &DeployedVersions,
    asleep: bool,
) -> RolloutMark {
    let (name, uid) = rollout;
    let ours = |u: &&UpgradeStatus| u.rollout.as_deref() == Some(name.as_str()) && &u.to == asked;
    let (state, message) = if let Some(why) = refused {
        (RolloutState::Failed, Some(why))
    } else if let Some(u) = begin.upgrade.as_ref().filter(ours) {
        match u.phase {
            p if p.in_progress() => (RolloutState::Upgrading, None),
            storefleet_types::UpgradePhase::Succeeded => (RolloutState::Upgraded, None),
            _ => (RolloutState::Failed, Some(upgrade::describe(u))),
        }
    } else if begin
        .upgrade
        .as_ref()
        .is_some_and(|u| u.phase.in_progress())
    {
        (
            RolloutState::Pending,
            Some("waits for the upgrade under way to end".into()),
        )
    } else if begin.deployed.as_ref() == Some(asked) {
        (
            RolloutState::Upgraded,
            Some("already ran the target".into()),
        )
    } else if let Some(held) = begin.held.as_ref().filter(|_| !asleep) {
        (RolloutState::Failed, Some(held.clone()))
    } else {
        (RolloutState::Pending, begin.held.clone())
    };
    RolloutMark {
        name,
        uid,
        state,
        message,
    }
}

/// The tag of an image reference (`registry:5000/wordpress:6.8.3` → `6.8.3`).
fn tag_of(image: &str) -> &str {
    match image.rsplit_once(':') {
        Some((_, tag)) if !tag.contains('/') => tag,
        _ => "",
    }
}

/// The leading number of a version tag.
fn major(tag: &str) -> &str {
    let end = tag.find(|c: char| !c.is_ascii_digit()).unwrap_or(tag.len());
    &tag[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use storefleet_types::UpgradePhase;

    fn deployed(pairs: &[(&str, &str)], woocommerce: Option<&str>) -> DeployedVersions {
        DeployedVersions {
            images: pairs
                .iter()
                .map(|(r, i)| ((*r).to_string(), (*i).to_string()))
                .collect(),
            woocommerce: woocommerce.map(String::from),
        }
    }

    #[test]
    fn the_target_fills_what_the_spec_does_not_pin_and_never_moves_a_database_major() {
        let mut store = Store::test();
        store.spec.versions = Some(VersionsSpec {
            wordpress: Some("6.8.3-php8.3-apache".into()),
            ..VersionsSpec::default()
        });
        let target = VersionsSpec {
            wordpress: Some("7.0.4-php8.3-apache".into()),
            woocommerce: Some("10.0.2".into()),
            mariadb: Some("11.8.2".into()),
            medusa: Some("2.9.0".into()),
            ..VersionsSpec::default()
        };
        let running = deployed(&[(role::MARIADB, "mariadb:11.4.5")], None);
        let moved = with_target(&store, &target, Some(&running)).expect("same major");
        let v = moved.spec.versions.expect("versions");
        assert_eq!(
            v.wordpress.as_deref(),
            Some("6.8.3-php8.3-apache"),
            "the spec's pin wins"
        );
        assert_eq!(v.woocommerce.as_deref(), Some("10.0.2"));
        assert_eq!(v.mariadb.as_deref(), Some("11.8.2"));
        assert_eq!(v.medusa, None, "another engine's version is not taken");

        let running = deployed(&[(role::MARIADB, "registry:5000/mariadb:10.11")], None);
        let err = with_target(&store, &target, Some(&running)).expect_err("another major");
        assert!(err.contains("major"), "{err}");
    }

    #[test]
    fn a_set_up_store_keeps_what_it_runs_where_nothing_pins_a_version() {
        let defaults = deployed(
            &[
                (role::WORDPRESS, "wordpress:7.0.4"),
                (role::MARIADB, "mariadb:11.4"),
            ],
            Some("10.0.2"),
        );
        let running = deployed(
            &[
                (role::WORDPRESS, "wordpress:6.8.3"),
                (role::MARIADB, "mariadb:11.4"),
            ],
            Some("9.9.5"),
        );
        // A new store: the defaults.
        assert_eq!(
            asked(defaults.clone(), None, Engine::Woocommerce, None),
            defaults
        );
        // A running store: what it runs, though the operator's defaults moved.
        assert_eq!(
            asked(defaults.clone(), None, Engine::Woocommerce, Some(&running)),
            running
        );
        // Its spec (or a rollout admitting it) pins WordPress: that moves, the rest stays.
        let pins = VersionsSpec {
            wordpress: Some("7.0.4".into()),
            ..VersionsSpec::default()
        };
        let out = asked(defaults, Some(&pins), Engine::Woocommerce, Some(&running));
        assert_eq!(out.images[role::WORDPRESS], "wordpress:7.0.4");
        assert_eq!(out.woocommerce.as_deref(), Some("9.9.5"));
    }

    #[test]
    fn the_mark_follows_the_upgrade_the_rollout_started() {
        let id = || ("wp7".to_string(), Some("r-1".to_string()));
        let old = deployed(&[(role::WORDPRESS, "wordpress:6.8.3")], None);
        let new = deployed(&[(role::WORDPRESS, "wordpress:7.0.4")], None);
        let upgrade = |phase, rollout: Option<&str>| UpgradeStatus {
            from: old.clone(),
            to: new.clone(),
            phase,
            rollout: rollout.map(String::from),
            failed_check: Some("cart: exit 13".into()),
            ..UpgradeStatus::default()
        };
        let begin =
            |u: Option<UpgradeStatus>, deployed: &DeployedVersions, held: Option<&str>| Begin {
                build: deployed.clone(),
                deployed: Some(deployed.clone()),
                upgrade: u,
                started: false,
                held: held.map(String::from),
            };
        let state = |b: &Begin, asleep| mark(id(), None, b, &new, asleep).state;
        let running = begin(
            Some(upgrade(UpgradePhase::Verifying, Some("wp7"))),
            &old,
            None,
        );
        assert_eq!(state(&running, false), RolloutState::Upgrading);
        let done = begin(
            Some(upgrade(UpgradePhase::Succeeded, Some("wp7"))),
            &new,
            None,
        );
        assert_eq!(state(&done, false), RolloutState::Upgraded);
        let failed = begin(
            Some(upgrade(UpgradePhase::RolledBack, Some("wp7"))),
            &old,
            None,
        );
        let m = mark(id(), None, &failed, &new, false);
        assert_eq!(m.state, RolloutState::Failed);
        assert!(
            m.message.as_deref().unwrap_or_default().contains("cart"),
            "{m:?}"
        );
        // Another upgrade (its spec's) under way: the rollout's waits.
        let other = begin(Some(upgrade(UpgradePhase::Upgrading, None)), &old, None);
        assert_eq!(state(&other, false), RolloutState::Pending);
        // Already there.
        assert_eq!(
            state(&begin(None, &new, None), false),
            RolloutState::Upgraded
        );
        // Held: asleep waits; a target that failed before (its own spec's) is a failure.
        let held = begin(None, &old, Some("held"));
        assert_eq!(state(&held, true), RolloutState::Pending);
        assert_eq!(state(&held, false), RolloutState::Failed);
        // Refused (a database major): failed at once.
        let refused = mark(id(), Some("major".into()), &held, &new, false);
        assert_eq!(refused.state, RolloutState::Failed);
    }

    #[test]
    fn a_tag_and_its_major() {
        assert_eq!(tag_of("registry:5000/mariadb:11.4.5"), "11.4.5");
        assert_eq!(tag_of("registry:5000/mariadb"), "");
        assert_eq!(major("11.4.5"), "11");
        assert_eq!(major("17-alpine"), "17");
    }
}
