//! A change of a store's versions, carried out as one transaction (pure): which versions a pass
//! builds the store's children from, and where the upgrade goes from what its steps showed. The
//! Jobs it runs are `steps/upgrade.rs`'s.
//!
//! ```text
//!  asked != deployed (a set-up store, awake)
//!   ─► BackingUp    old images; the pre-upgrade backup (the restore point)    failed ─► Aborted
//!   ─► Upgrading    new images; the new setup updates the database            failed ─┐
//!   ─► Verifying    a customer's walk through the shop (the probe's steps)     failed ─┤
//!   ─► Succeeded    deployed := the new versions                                      │
//!      RollingBack  old images; the restore point put back; the old setup; a walk  ◄──┘
//!   ─► RolledBack   (the same versions are not tried again: only a new spec or a retry)
//!      or RollbackFailed (a check of the rollback failed: the store is Failed)
//! ```
//!
//! A transaction runs to its end: a spec changed meanwhile is the next upgrade's target. A store
//! without backups has no restore point: its rollback brings back the old images only.

use std::borrow::Cow;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use storefleet_types::{DeployedVersions, UpgradePhase, UpgradeStatus};

use crate::validate::{App, ResolvedRestore, ValidatedStore};

/// The role names of [`DeployedVersions::images`].
pub mod role {
    /// WordPress (apache).
    pub const WORDPRESS: &str = "wordpress";
    /// MariaDB.
    pub const MARIADB: &str = "mariadb";
    /// WP-CLI.
    pub const WP_CLI: &str = "wpCli";
    /// Storefleet's Medusa image.
    pub const MEDUSA: &str = "medusa";
    /// PostgreSQL.
    pub const POSTGRES: &str = "postgres";
    /// Redis.
    pub const REDIS: &str = "redis";
}

/// The versions `store`'s spec resolves to (over the operator's defaults); what a set-up store
/// asks for keeps what it runs where its spec pins nothing (`rollout::store::asked`).
pub fn asked(store: &ValidatedStore) -> DeployedVersions {
    let images = |pairs: [(&str, &String); 3]| {
        pairs
            .into_iter()
            .map(|(role, image)| (role.to_string(), image.clone()))
            .collect()
    };
    match &store.app {
        App::Woocommerce(w) => DeployedVersions {
            images: images([
                (role::WORDPRESS, &w.images.wordpress),
                (role::MARIADB, &w.images.mariadb),
                (role::WP_CLI, &w.images.wp_cli),
            ]),
            woocommerce: w.woocommerce_version.clone(),
        },
        App::Medusa(m) => DeployedVersions {
            images: images([
                (role::MEDUSA, &m.images.medusa),
                (role::POSTGRES, &m.images.postgres),
                (role::REDIS, &m.images.redis),
            ]),
            woocommerce: None,
        },
    }
}

/// `store` with the versions of `versions` (a role it does not hold keeps the store's own).
pub fn with_versions(store: &ValidatedStore, versions: &DeployedVersions) -> ValidatedStore {
    let mut out = store.clone();
    let set = |target: &mut String, role: &str| {
        if let Some(image) = versions.images.get(role) {
            target.clone_from(image);
        }
    };
    match &mut out.app {
        App::Woocommerce(w) => {
            set(&mut w.images.wordpress, role::WORDPRESS);
            set(&mut w.images.mariadb, role::MARIADB);
            set(&mut w.images.wp_cli, role::WP_CLI);
            w.woocommerce_version.clone_from(&versions.woocommerce);
        }
        App::Medusa(m) => {
            set(&mut m.images.medusa, role::MEDUSA);
            set(&mut m.images.postgres, role::POSTGRES);
            set(&mut m.images.redis, role::REDIS);
        }
    }
    out
}

/// What the store's status recorded, and what this pass knows of the store.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The versions the spec asks for.
    pub asked: &'a DeployedVersions,
    /// `status.deployed`.
    pub deployed: Option<&'a DeployedVersions>,
    /// `status.upgrade`.
    pub upgrade: Option<&'a UpgradeStatus>,
    /// Whether the shop was set up (`status.completedSetup`).
    pub set_up: bool,
    /// Whether the store sleeps (an upgrade waits for the wake).
    pub asleep: bool,
    /// Whether it has backups (a restore point).
    pub backups: bool,
    /// Whether this pass is a retry (`storefleet.io/retry`): a failed target is tried again.
    pub retry: bool,
    /// The StoreRollout whose target `asked` is (recorded on an upgrade it starts).
    pub rollout: Option<&'a str>,
}

/// Which versions a pass builds from, and the records it starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    /// The versions the children are built from in this pass.
    pub build: DeployedVersions,
    /// `status.deployed` from now on.
    pub deployed: Option<DeployedVersions>,
    /// `status.upgrade` from now on.
    pub upgrade: Option<UpgradeStatus>,
    /// An upgrade started in this pass.
    pub started: bool,
    /// Why the asked versions are not being carried out (a sleeping store, a target that
    /// failed): for the `Upgraded` condition.
    pub held: Option<String>,
}

/// Where a pass starts: the versions it builds from, and an upgrade started when the spec asks
/// for other versions than the store's set-up shop runs.
pub fn begin(facts: Facts<'_>, now: Timestamp) -> Begin {
    let keep = |build: &DeployedVersions, held: Option<String>| Begin {
        build: build.clone(),
        deployed: facts.deployed.cloned(),
        upgrade: facts.upgrade.cloned(),
        started: false,
        held,
    };
    // A new shop is set up on what it asks for; the first setup records it.
    let Some(deployed) = facts.deployed.filter(|_| facts.set_up) else {
        let mut begin = keep(facts.asked, None);
        if facts.set_up {
            // Set up before versions were recorded: what it asks for is what it runs.
            begin.deployed = Some(facts.asked.clone());
        }
        return begin;
    };
    if let Some(upgrade) = facts.upgrade.filter(|u| u.phase.in_progress()) {
        return keep(building(upgrade), None);
    }
    if facts.asked == deployed {
        return keep(deployed, None);
    }
    if facts.asleep {
        let held = "The store is hibernated: the upgrade starts when it wakes";
        return keep(deployed, Some(held.into()));
    }
    if let Some(failed) = facts
        .upgrade
        .filter(|u| &u.to == facts.asked && !facts.retry)
        .filter(|u| !matches!(u.phase, UpgradePhase::Succeeded))
    {
        let held = format!(
            "These versions were tried and the upgrade ended {:?}; change spec.versions or set the storefleet.io/retry annotation to try again",
            failed.phase
        );
        return keep(deployed, Some(held));
    }
    let phase = if facts.backups {
        UpgradePhase::BackingUp
    } else {
        UpgradePhase::Upgrading
    };
    let upgrade = UpgradeStatus {
        from: deployed.clone(),
        to: facts.asked.clone(),
        phase,
        started_at: Some(now.to_string()),
        phase_since: Some(now.to_string()),
        rollout: facts.rollout.map(String::from),
        ..UpgradeStatus::default()
    };
    Begin {
        build: building(&upgrade).clone(),
        deployed: Some(deployed.clone()),
        upgrade: Some(upgrade),
        started: true,
        held: None,
    }
}

/// `store` as a pass builds it: with the versions `begin` chose and, while a rollback runs, its
/// restore point as the store's restore (the restore Job, then setup over what it restored).
pub fn carried<'a>(store: &'a ValidatedStore, begin: &Begin) -> Cow<'a, ValidatedStore> {
    let restore = restoring(begin.upgrade.as_ref());
    if begin.build == asked(store) && restore.is_none() {
        return Cow::Borrowed(store);
    }
    let mut out = with_versions(store, &begin.build);
    if let (Some(snapshot), Some(backup)) = (restore, out.backup.as_mut()) {
        backup.restore = Some(ResolvedRestore {
            store: store.name.clone(),
            repository: backup.repository.clone(),
            snapshot: snapshot.to_string(),
            rollback: true,
        });
    }
    Cow::Owned(out)
}

/// The versions the children run in an upgrade's phase: the old ones until the backup is taken
/// and again from a rollback on, the new ones in between and after a success.
pub fn building(upgrade: &UpgradeStatus) -> &DeployedVersions {
    match upgrade.phase {
        UpgradePhase::Upgrading | UpgradePhase::Verifying | UpgradePhase::Succeeded => &upgrade.to,
        UpgradePhase::BackingUp
        | UpgradePhase::RollingBack
        | UpgradePhase::RolledBack
        | UpgradePhase::Aborted
        | UpgradePhase::RollbackFailed => &upgrade.from,
    }
}

/// The snapshot a rollback puts back (rolling back, with a restore point): the store is built
/// with it as its restore for the whole phase, and its restore Job runs once (`restored`).
pub fn restoring(upgrade: Option<&UpgradeStatus>) -> Option<&str> {
    let u = upgrade?;
    (u.phase == UpgradePhase::RollingBack)
        .then_some(u.restore_point.as_deref())
        .flatten()
}

impl Transition for UpgradeStatus {
    fn backed_up(&mut self, snapshot: Option<String>, now: Timestamp) {
        match snapshot {
            Some(snapshot) => {
                self.restore_point = Some(snapshot);
                enter(self, UpgradePhase::Upgrading, now);
            }
            None => self.failed(
                "the pre-upgrade backup reported no snapshot: nothing was changed".into(),
                now,
            ),
        }
    }

    fn set_up(&mut self, now: Timestamp) {
        if self.phase == UpgradePhase::Upgrading {
            enter(self, UpgradePhase::Verifying, now);
        }
    }

    fn verified(&mut self, now: Timestamp) {
        match self.phase {
            UpgradePhase::Verifying => enter(self, UpgradePhase::Succeeded, now),
            UpgradePhase::RollingBack => enter(self, UpgradePhase::RolledBack, now),
            _ => {}
        }
    }

    fn failed(&mut self, check: String, now: Timestamp) {
        let next = match self.phase {
            UpgradePhase::BackingUp => UpgradePhase::Aborted,
            UpgradePhase::Upgrading | UpgradePhase::Verifying => UpgradePhase::RollingBack,
            UpgradePhase::RollingBack => UpgradePhase::RollbackFailed,
            _ => return,
        };
        self.failed_check = Some(match self.failed_check.take() {
            // The upgrade's own failure stays first: it is why the store rolled back.
            Some(first) if next == UpgradePhase::RollbackFailed => {
                format!("{first}; then the rollback: {check}")
            }
            _ => check,
        });
        enter(self, next, now);
    }

    fn expired(&self, now: Timestamp, timeout: Duration) -> bool {
        let waits = matches!(
            self.phase,
            UpgradePhase::Upgrading | UpgradePhase::RollingBack
        );
        let since = self
            .phase_since
            .as_deref()
            .and_then(|s| s.parse::<Timestamp>().ok());
        waits
            && since.is_some_and(|since| {
                now.duration_since(since)
                    .try_into()
                    .is_ok_and(|d: Duration| d > timeout)
            })
    }
}

/// How an upgrade moves on from what its steps showed.
pub trait Transition {
    /// The pre-upgrade backup succeeded with `snapshot` (its report's): on to the new images.
    fn backed_up(&mut self, snapshot: Option<String>, now: Timestamp);
    /// The new version's setup succeeded (database updates included): on to the verification.
    fn set_up(&mut self, now: Timestamp);
    /// The walk through the shop passed: the upgrade succeeded, or the rollback is done.
    fn verified(&mut self, now: Timestamp);
    /// `check` failed: an abort before anything changed, a rollback after, a failed rollback
    /// during one.
    fn failed(&mut self, check: String, now: Timestamp);
    /// Whether the phase has waited longer than `timeout` (new images that never become ready).
    fn expired(&self, now: Timestamp, timeout: Duration) -> bool;
}

fn enter(upgrade: &mut UpgradeStatus, phase: UpgradePhase, now: Timestamp) {
    upgrade.phase = phase;
    upgrade.phase_since = Some(now.to_string());
}

/// A one-line account of an upgrade, for its condition and events (no secret: images, versions,
/// a snapshot id, a check's words).
pub fn describe(upgrade: &UpgradeStatus) -> String {
    let to = summary(&upgrade.to);
    let from = summary(&upgrade.from);
    match upgrade.phase {
        UpgradePhase::BackingUp => format!("Upgrading to {to}: taking the pre-upgrade backup"),
        UpgradePhase::Upgrading => format!(
            "Upgrading to {to}: new images, database updates{}",
            point(upgrade)
        ),
        UpgradePhase::Verifying => format!("Upgrading to {to}: verifying that the shop sells"),
        UpgradePhase::RollingBack => format!(
            "Rolling back to {from}{}: {}",
            point(upgrade),
            check(upgrade)
        ),
        UpgradePhase::Succeeded => format!("Upgraded from {from} to {to}, verified"),
        UpgradePhase::RolledBack => format!(
            "The upgrade to {to} failed and was rolled back to {from}{}: {}",
            point(upgrade),
            check(upgrade)
        ),
        UpgradePhase::Aborted => {
            format!("The upgrade to {to} was not started: {}", check(upgrade))
        }
        UpgradePhase::RollbackFailed => format!(
            "The upgrade to {to} failed and so did its rollback to {from}: {}",
            check(upgrade)
        ),
    }
}

fn point(upgrade: &UpgradeStatus) -> String {
    match &upgrade.restore_point {
        Some(snapshot) => format!(" (restore point: snapshot {snapshot})"),
        None => String::new(),
    }
}

fn check(upgrade: &UpgradeStatus) -> &str {
    upgrade.failed_check.as_deref().unwrap_or("a check failed")
}

/// The versions in short: each image's tag by role, and WooCommerce's version.
pub fn summary(versions: &DeployedVersions) -> String {
    let mut parts: Vec<String> = versions
        .images
        .iter()
        .map(|(role, image)| format!("{role} {}", tag(image)))
        .collect();
    if let Some(woocommerce) = &versions.woocommerce {
        parts.push(format!("woocommerce {woocommerce}"));
    }
    parts.join(", ")
}

/// The tag of an image reference (what follows the last `:` after the last `/`).
fn tag(image: &str) -> &str {
    let name = image.rsplit('/').next().unwrap_or(image);
    name.split_once(':').map_or(image, |(_, tag)| tag)
}

#[cfg(test)]
mod tests;
