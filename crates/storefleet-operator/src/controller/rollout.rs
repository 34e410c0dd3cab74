//! A fleet's upgrade in waves (pure): from a `StoreRollout` and what the Store cache shows, the
//! rollout's next status (which stores are admitted) and when to look again. The I/O is
//! `rollouts.rs`; a store's side (which rollout admits it, its versions, its mark) is
//! `rollout/store.rs`.
//!
//! ```text
//!  each pass:  outcomes   every admitted store's mark (status.rollout): Upgraded or Failed
//!              resume     a new storefleet.io/resume value forgives the failures so far
//!              halt       failures (since the last resume) > maxFailures: admit no more
//!              waves      the wave under way admits its next stores (maxConcurrent at once);
//!                         verified (every store ended) ─► pause ─► the next wave chooses its
//!                         stores (covered, not pinned, set up, awake, free), in name order;
//!                         the last wave takes all left ─► Completed
//! ```
//!
//! Everything a pass decides is in the rollout's status (each wave's stores and how many were
//! admitted) or in the stores' own statuses (their upgrade and mark): an operator restarted
//! mid-wave goes on from there, upgrading no store twice and skipping none.

pub mod store;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;
use storefleet_types::{
    Engine, Plan, RolloutMark, RolloutPhase, RolloutSelector, RolloutState, RolloutStore,
    StoreRollout, StoreRolloutStatus, VersionsSpec, WaveSpec, WaveStatus, condition, names,
};

use crate::controller::status::Conditions;

/// How often a rollout with stores upgrading looks again without news from them (their status
/// changes bring it sooner).
pub const IN_FLIGHT_RECHECK: Duration = Duration::from_secs(30);

/// What a rollout knows of one store (from the Store cache).
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its engine.
    pub engine: Engine,
    /// Its plan.
    pub plan: Plan,
    /// Its labels.
    pub labels: &'a BTreeMap<String, String>,
    /// Its own spec pins a version the target sets for its engine.
    pub pinned: bool,
    /// Its shop was set up (it runs versions to upgrade from).
    pub set_up: bool,
    /// It is asleep (`spec.hibernate`).
    pub asleep: bool,
    /// It is being deleted.
    pub deleting: bool,
    /// Its `status.rollout`.
    pub mark: Option<&'a RolloutMark>,
}

/// Whether `selector` covers a store of `engine` and `plan` with `labels`.
pub fn covers(
    selector: &RolloutSelector,
    engine: Engine,
    plan: Plan,
    labels: &BTreeMap<String, String>,
) -> bool {
    selector.engine.is_none_or(|e| e == engine)
        && selector.plan.is_none_or(|p| p == plan)
        && selector
            .match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
}

/// The versions of `target` that are `engine`'s, as (spec field, value).
pub fn engine_versions(target: &VersionsSpec, engine: Engine) -> Vec<(&'static str, &str)> {
    let fields: [(&str, &Option<String>); 4] = match engine {
        Engine::Woocommerce => [
            ("wordpress", &target.wordpress),
            ("mariadb", &target.mariadb),
            ("wpCli", &target.wp_cli),
            ("woocommerce", &target.woocommerce),
        ],
        Engine::Medusa => [
            ("medusa", &target.medusa),
            ("postgres", &target.postgres),
            ("redis", &target.redis),
            ("", &None),
        ],
    };
    fields
        .into_iter()
        .filter_map(|(field, v)| v.as_deref().map(|v| (field, v)))
        .collect()
}

/// Whether `spec` (a store's `spec.versions`) pins one of the versions `target` sets for
/// `engine`.
pub fn pins(spec: Option<&VersionsSpec>, target: &VersionsSpec, engine: Engine) -> bool {
    let Some(spec) = spec else { return false };
    let own = engine_versions(spec, engine);
    engine_versions(target, engine)
        .iter()
        .any(|(field, _)| own.iter().any(|(f, _)| f == field))
}

/// The target in short: `wordpress=7.0.4-php8.3-apache woocommerce=10.0.2`.
pub fn target_summary(target: &VersionsSpec) -> String {
    let mut parts: Vec<String> = [Engine::Woocommerce, Engine::Medusa]
        .into_iter()
        .flat_map(|e| engine_versions(target, e))
        .map(|(field, v)| format!("{field}={v}"))
        .collect();
    parts.dedup();
    parts.join(" ")
}

/// An event a pass asks for: (warning?, reason, note).
pub type Note = (bool, &'static str, String);

/// What a pass decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The rollout's next status.
    pub status: StoreRolloutStatus,
    /// Stores admitted in this pass (their passes start their upgrades).
    pub admitted: Vec<String>,
    /// When to look again (None: on the next change).
    pub requeue: Option<Duration>,
    /// Events to publish on the rollout.
    pub notes: Vec<Note>,
}

/// The rollout's next status from its spec, its status and the stores (see the module doc).
pub fn plan(rollout: &StoreRollout, stores: &[Candidate<'_>], now: Timestamp) -> Decision {
    let prev = rollout.status.clone().unwrap_or_default();
    let mut pass = Pass {
        rollout,
        name: rollout.name_any(),
        uid: rollout.uid(),
        stores: stores.iter().map(|c| (c.name, c)).collect(),
        status: prev.clone(),
        admitted: Vec::new(),
        notes: Vec::new(),
        now,
    };
    if prev.phase == Some(RolloutPhase::Completed) {
        return pass.finish(&prev, RolloutPhase::Completed, None);
    }
    pass.record_outcomes();
    pass.resume(prev.phase == Some(RolloutPhase::Halted));
    let halted = pass.over_budget();
    let spec = &rollout.spec;
    let mut requeue = None;
    let mut completed = false;
    if !halted && !spec.paused {
        (completed, requeue) = pass.advance();
    }
    pass.list_skipped(stores);
    let phase = if completed {
        RolloutPhase::Completed
    } else if halted {
        RolloutPhase::Halted
    } else if spec.paused {
        RolloutPhase::Paused
    } else {
        RolloutPhase::Progressing
    };
    if phase == RolloutPhase::Progressing && pass.in_flight() > 0 {
        requeue = Some(requeue.map_or(IN_FLIGHT_RECHECK, |r: Duration| r.min(IN_FLIGHT_RECHECK)));
    }
    pass.finish(&prev, phase, requeue)
}

/// One pass over a rollout.
struct Pass<'a> {
    rollout: &'a StoreRollout,
    name: String,
    uid: Option<String>,
    stores: HashMap<&'a str, &'a Candidate<'a>>,
    status: StoreRolloutStatus,
    admitted: Vec<String>,
    notes: Vec<Note>,
    now: Timestamp,
}

impl Pass<'_> {
    /// The mark of `store` for this rollout.
    fn mark(&self, store: &str) -> Option<&RolloutMark> {
        self.stores
            .get(store)
            .and_then(|c| c.mark)
            .filter(|m| m.name == self.name && (m.uid.is_none() || m.uid == self.uid))
    }

    /// Admitted stores whose move has not ended.
    fn in_flight(&self) -> usize {
        self.status.moving().count()
    }

    /// Records how every admitted store's move ended, from its mark.
    fn record_outcomes(&mut self) {
        let admitted: Vec<String> = self.status.moving().cloned().collect();
        for store in admitted {
            let gone = self.stores.get(store.as_str()).is_none_or(|c| c.deleting);
            let mark = self.mark(&store).cloned();
            match mark {
                _ if gone => self.status.skipped.push(RolloutStore {
                    store,
                    reason: "deleted during the rollout".into(),
                }),
                Some(m) if m.state == RolloutState::Upgraded => self.status.upgraded.push(store),
                Some(m) if m.state == RolloutState::Failed => {
                    let reason = m.message.unwrap_or_else(|| "its upgrade failed".into());
                    self.notes.push((
                        true,
                        "StoreFailed",
                        format!("Store {store} failed: {reason}"),
                    ));
                    self.status.failed.push(RolloutStore { store, reason });
                }
                _ => {}
            }
        }
    }

    /// A new `storefleet.io/resume` value: recorded; a halted rollout's failures so far are
    /// forgiven.
    fn resume(&mut self, halted: bool) {
        let asked = self
            .rollout
            .annotations()
            .get(names::RESUME_ANNOTATION)
            .cloned();
        if asked.is_none() || asked == self.status.resumed {
            return;
        }
        self.status.resumed = asked;
        if halted {
            self.status.forgiven = count(self.status.failed.len());
            self.notes.push((
                false,
                "Resumed",
                format!(
                    "Resumed: {} failure(s) before now are forgiven",
                    self.status.forgiven
                ),
            ));
        }
    }

    /// Whether more stores failed (since the last resume) than the budget allows.
    fn over_budget(&self) -> bool {
        count(self.status.failed.len()).saturating_sub(self.status.forgiven)
            > self.rollout.spec.max_failures
    }

    /// Admits stores, ends a verified wave, starts the next: (completed, when to look again).
    fn advance(&mut self) -> (bool, Option<Duration>) {
        loop {
            let under_way = self
                .status
                .waves
                .last()
                .is_some_and(|w| w.finished_at.is_none());
            if under_way {
                self.admit();
                if !self.finish_wave() {
                    return (false, None);
                }
            }
            if self.status.waves.len() >= self.rollout.spec.waves.len() {
                return (true, None);
            }
            if let Some(wait) = self.pause_left() {
                return (false, Some(wait));
            }
            if !self.start_wave() {
                return (true, None);
            }
        }
    }

    /// Admits the wave's next stores, up to `maxConcurrent` moving at once.
    fn admit(&mut self) {
        let limit = usize::try_from(self.rollout.spec.max_concurrent).unwrap_or(usize::MAX);
        let mut moving = self.in_flight();
        let Some(wave) = self.status.waves.last_mut() else {
            return;
        };
        while moving < limit && (wave.admitted as usize) < wave.stores.len() {
            self.admitted
                .push(wave.stores[wave.admitted as usize].clone());
            wave.admitted += 1;
            moving += 1;
        }
    }

    /// Ends the wave under way once every store of it was admitted and ended: true if so.
    fn finish_wave(&mut self) -> bool {
        let Some(wave) = self.status.waves.last() else {
            return true;
        };
        let all_ended = wave.admitted as usize == wave.stores.len()
            && wave.stores.iter().all(|s| self.status.ended(s));
        if !all_ended {
            return false;
        }
        let number = self.status.waves.len();
        let of = self.rollout.spec.waves.len();
        let stores = wave.stores.len();
        let pause = SignedDuration::from_secs(i64::from(self.rollout.spec.pause_seconds));
        if let Some(wave) = self.status.waves.last_mut() {
            wave.finished_at = Some(self.now.to_string());
        }
        if number < of {
            self.status.next_wave_at = self.now.checked_add(pause).ok().map(|t| t.to_string());
        }
        self.notes.push((
            false,
            "WaveVerified",
            format!("Wave {number}/{of} ended: its {stores} store(s) upgraded and verified, or failed within the budget"),
        ));
        true
    }

    /// How long the pause after the last wave still runs.
    fn pause_left(&self) -> Option<Duration> {
        let at = self
            .status
            .next_wave_at
            .as_deref()?
            .parse::<Timestamp>()
            .ok()?;
        let left = self.now.duration_until(at);
        Duration::try_from(left).ok().filter(|d| !d.is_zero())
    }

    /// Starts the next wave with the stores it takes: false when no store is left.
    fn start_wave(&mut self) -> bool {
        let taken = in_waves(&self.status);
        let mut eligible: Vec<&str> = self
            .stores
            .values()
            .filter(|c| self.covers(c) && !taken.contains(c.name) && self.free(c).is_none())
            .map(|c| c.name)
            .collect();
        if eligible.is_empty() {
            return false;
        }
        eligible.sort_unstable();
        let covered = *self
            .status
            .covered
            .get_or_insert(count(eligible.len() + taken.len()));
        let index = self.status.waves.len();
        let last = index + 1 == self.rollout.spec.waves.len();
        let size = if last {
            eligible.len()
        } else {
            wave_size(&self.rollout.spec.waves[index], covered)
        };
        let stores: Vec<String> = eligible.into_iter().take(size).map(String::from).collect();
        self.notes.push((
            false,
            "WaveStarted",
            format!(
                "Wave {}/{} started with {} store(s): {}",
                index + 1,
                self.rollout.spec.waves.len(),
                stores.len(),
                names_in_short(&stores)
            ),
        ));
        self.status.waves.push(WaveStatus {
            stores,
            admitted: 0,
            started_at: Some(self.now.to_string()),
            finished_at: None,
        });
        self.status.next_wave_at = None;
        true
    }

    fn covers(&self, c: &Candidate<'_>) -> bool {
        let spec = &self.rollout.spec;
        covers(&spec.selector, c.engine, c.plan, c.labels)
            && !engine_versions(&spec.target, c.engine).is_empty()
    }

    /// Why a covered store cannot join a wave now (None: it can).
    fn free(&self, c: &Candidate<'_>) -> Option<&'static str> {
        if c.deleting {
            Some("being deleted")
        } else if c.pinned {
            Some("pinned in its own spec.versions")
        } else if !c.set_up {
            Some("not set up yet (it is set up on the operator's defaults)")
        } else if c.asleep {
            Some("hibernated")
        } else if c
            .mark
            .is_some_and(|m| m.name != self.name && !m.state.ended())
        {
            Some("in another rollout")
        } else {
            None
        }
    }

    /// The covered stores in no wave, and why (kept: the stores deleted during the rollout).
    fn list_skipped(&mut self, stores: &[Candidate<'_>]) {
        let taken = in_waves(&self.status);
        let mut skipped: Vec<RolloutStore> = self
            .status
            .skipped
            .iter()
            .filter(|s| taken.contains(s.store.as_str()))
            .cloned()
            .collect();
        for c in stores {
            if !self.covers(c) || taken.contains(c.name) {
                continue;
            }
            if let Some(reason) = self.free(c) {
                skipped.push(RolloutStore {
                    store: c.name.into(),
                    reason: reason.into(),
                });
            }
        }
        skipped.sort_by(|a, b| a.store.cmp(&b.store));
        self.status.skipped = skipped;
    }

    fn finish(
        mut self,
        prev: &StoreRolloutStatus,
        phase: RolloutPhase,
        requeue: Option<Duration>,
    ) -> Decision {
        let spec = &self.rollout.spec;
        let s = &mut self.status;
        let failures = count(s.failed.len()).saturating_sub(s.forgiven);
        let message = match phase {
            RolloutPhase::Completed => format!(
                "Completed: {} upgraded, {} failed, {} skipped",
                s.upgraded.len(),
                s.failed.len(),
                s.skipped.len()
            ),
            RolloutPhase::Halted => format!(
                "Halted: {failures} store(s) failed, more than maxFailures ({}): {}; they were rolled back by their own upgrades. Set the {} annotation to a new value to go on",
                spec.max_failures,
                s.failed
                    .iter()
                    .skip(s.forgiven as usize)
                    .map(|f| format!("{} ({})", f.store, f.reason))
                    .collect::<Vec<_>>()
                    .join(", "),
                names::RESUME_ANNOTATION
            ),
            RolloutPhase::Paused => "Paused (spec.paused): no store is admitted".into(),
            RolloutPhase::Progressing => match (s.waves.last(), s.next_wave_at.as_deref()) {
                (_, Some(at)) => {
                    format!("Wave {} verified; the next starts at {at}", s.waves.len())
                }
                (Some(w), None) => format!(
                    "Wave {}/{}: {} of {} store(s) admitted",
                    s.waves.len(),
                    spec.waves.len(),
                    w.admitted,
                    w.stores.len()
                ),
                (None, None) => "Starting".into(),
            },
        };
        if prev.phase != Some(phase) {
            let (warning, reason) = match phase {
                RolloutPhase::Halted => (true, "Halted"),
                RolloutPhase::Completed => (false, "Completed"),
                RolloutPhase::Paused => (false, "Paused"),
                RolloutPhase::Progressing => (false, "Progressing"),
            };
            self.notes.push((warning, reason, message.clone()));
        }
        let generation = self.rollout.metadata.generation.unwrap_or(0);
        let mut c = Conditions::after(&prev.conditions, generation, self.now);
        c.set(
            condition::READY,
            phase == RolloutPhase::Completed,
            phase.as_str(),
            &message,
        );
        if phase == RolloutPhase::Progressing {
            c.set(condition::RECONCILING, true, phase.as_str(), &message);
        }
        if phase == RolloutPhase::Halted {
            c.set(condition::STALLED, true, phase.as_str(), &message);
        }
        s.conditions = c.into_vec();
        s.observed_generation = Some(generation);
        s.phase = Some(phase);
        s.target = Some(target_summary(&spec.target));
        s.wave = Some(format!("{}/{}", s.waves.len(), spec.waves.len()));
        let covered = s
            .covered
            .unwrap_or(0)
            .max(count(s.waves.iter().map(|w| w.stores.len()).sum::<usize>()));
        s.progress = Some(format!("{}/{covered}", s.upgraded.len()));
        s.message = Some(message);
        Decision {
            status: self.status,
            admitted: self.admitted,
            requeue,
            notes: self.notes,
        }
    }
}

/// How many stores `wave` takes of `covered`: a count, or a percentage (at least one).
pub fn wave_size(wave: &WaveSpec, covered: u32) -> usize {
    let n = match (wave.stores, wave.percent) {
        (Some(n), _) => n,
        (None, Some(percent)) => (covered.saturating_mul(percent.min(100))).div_ceil(100),
        (None, None) => covered,
    };
    usize::try_from(n.max(1)).unwrap_or(usize::MAX)
}

/// The stores of every wave started.
fn in_waves(status: &StoreRolloutStatus) -> HashSet<&str> {
    status
        .waves
        .iter()
        .flat_map(|w| w.stores.iter().map(String::as_str))
        .collect()
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Up to five names, then how many more.
fn names_in_short(stores: &[String]) -> String {
    let shown: Vec<&str> = stores.iter().take(5).map(String::as_str).collect();
    match stores.len().saturating_sub(5) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}
