use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;
use storefleet_types::{
    Engine, Plan, RolloutMark, RolloutPhase, RolloutState, StoreRollout, StoreRolloutStatus,
};

use super::*;

const T0: &str = "2026-12-05T10:00:00Z";

fn at(offset_secs: i64) -> Timestamp {
    T0.parse::<Timestamp>().expect("time") + SignedDuration::from_secs(offset_secs)
}

fn rollout(spec: serde_json::Value) -> StoreRollout {
    let mut spec = spec;
    spec["target"] = serde_json::json!({"wordpress": "7.0.4-php8.3-apache"});
    serde_json::from_value(serde_json::json!({
        "apiVersion": "storefleet.io/v1alpha1",
        "kind": "StoreRollout",
        "metadata": {"name": "wp7", "uid": "r-1", "generation": 1},
        "spec": spec,
    }))
    .expect("rollout")
}

/// A store as the tests describe it.
#[derive(Clone)]
struct S {
    name: String,
    engine: Engine,
    labels: BTreeMap<String, String>,
    pinned: bool,
    set_up: bool,
    asleep: bool,
    mark: Option<RolloutMark>,
}

fn fleet(n: usize) -> Vec<S> {
    (0..n)
        .map(|i| S {
            name: format!("shop-{i:02}"),
            engine: Engine::Woocommerce,
            labels: BTreeMap::new(),
            pinned: false,
            set_up: true,
            asleep: false,
            mark: None,
        })
        .collect()
}

fn candidates(stores: &[S]) -> Vec<Candidate<'_>> {
    stores
        .iter()
        .map(|s| Candidate {
            name: &s.name,
            engine: s.engine,
            plan: Plan::Small,
            labels: &s.labels,
            pinned: s.pinned,
            set_up: s.set_up,
            asleep: s.asleep,
            deleting: false,
            mark: s.mark.as_ref(),
        })
        .collect()
}

/// One pass; the rollout takes the status it wrote.
fn pass(r: &mut StoreRollout, stores: &[S], now: Timestamp) -> Decision {
    let d = plan(r, &candidates(stores), now);
    r.status = Some(d.status.clone());
    d
}

fn set(stores: &mut [S], name: &str, state: RolloutState) {
    let s = stores.iter_mut().find(|s| s.name == name).expect("store");
    s.mark = Some(RolloutMark {
        name: "wp7".into(),
        uid: Some("r-1".into()),
        state,
        message: (state == RolloutState::Failed).then(|| "rolled back: cart failed".into()),
    });
}

fn status(r: &StoreRollout) -> &StoreRolloutStatus {
    r.status.as_ref().expect("status")
}

fn condition<'a>(r: &'a StoreRollout, type_: &str) -> Option<&'a str> {
    status(r)
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

#[test]
fn a_wave_takes_its_share_in_name_order_and_admits_up_to_the_concurrency() {
    let mut stores = fleet(20);
    stores[0].pinned = true; // shop-00 pins its own WordPress
    let mut r = rollout(serde_json::json!({
        "waves": [{"stores": 1}, {"percent": 50}, {"percent": 100}],
        "pauseSeconds": 0, "maxConcurrent": 3,
    }));
    let d = pass(&mut r, &stores, at(0));
    assert_eq!(d.admitted, ["shop-01"]);
    assert_eq!(status(&r).covered, Some(19));
    assert_eq!(status(&r).wave.as_deref(), Some("1/3"));
    assert_eq!(status(&r).progress.as_deref(), Some("0/19"));
    assert_eq!(status(&r).phase, Some(RolloutPhase::Progressing));
    assert_eq!(condition(&r, "Reconciling"), Some("True"));
    assert_eq!(d.requeue, Some(IN_FLIGHT_RECHECK));
    assert_eq!(status(&r).skipped.len(), 1);
    assert_eq!(status(&r).skipped[0].store, "shop-00");
    assert!(status(&r).skipped[0].reason.contains("pinned"));

    // Nothing happened: a pass admits nobody new (what a restarted operator does).
    let again = pass(&mut r, &stores, at(5));
    assert!(again.admitted.is_empty());

    // The canary upgraded: wave 2 takes 50 % of 19 (10), three at once.
    set(&mut stores, "shop-01", RolloutState::Upgraded);
    let d = pass(&mut r, &stores, at(10));
    assert_eq!(d.admitted, ["shop-02", "shop-03", "shop-04"]);
    assert_eq!(status(&r).waves.len(), 2);
    assert_eq!(status(&r).waves[1].stores.len(), 10);
    assert_eq!(status(&r).upgraded, ["shop-01"]);

    // Two more upgraded: two more admitted.
    set(&mut stores, "shop-02", RolloutState::Upgraded);
    set(&mut stores, "shop-03", RolloutState::Upgrading);
    set(&mut stores, "shop-04", RolloutState::Upgraded);
    let d = pass(&mut r, &stores, at(20));
    assert_eq!(d.admitted, ["shop-05", "shop-06"]);

    // Everyone of wave 2 upgraded, then the last wave takes all the rest; then Completed.
    for i in 2..=11 {
        set(&mut stores, &format!("shop-{i:02}"), RolloutState::Upgraded);
        pass(&mut r, &stores, at(30 + i64::from(i)));
    }
    assert_eq!(status(&r).waves.len(), 3);
    assert_eq!(status(&r).waves[2].stores.len(), 8);
    for i in 12..20 {
        set(&mut stores, &format!("shop-{i:02}"), RolloutState::Upgraded);
        pass(&mut r, &stores, at(60 + i64::from(i)));
    }
    assert_eq!(status(&r).phase, Some(RolloutPhase::Completed));
    assert_eq!(condition(&r, "Ready"), Some("True"));
    assert_eq!(condition(&r, "Reconciling"), None);
    assert_eq!(status(&r).progress.as_deref(), Some("19/19"));
    assert_eq!(status(&r).wave.as_deref(), Some("3/3"));
    // Completed is final: a store made later is not taken.
    let mut more = stores.clone();
    more.extend(fleet(21).into_iter().skip(20));
    assert!(pass(&mut r, &more, at(200)).admitted.is_empty());
}

#[test]
fn a_failure_beyond_the_budget_halts_until_a_resume_forgives_it() {
    let mut stores = fleet(5);
    let mut r = rollout(serde_json::json!({"pauseSeconds": 0}));
    pass(&mut r, &stores, at(0));
    set(&mut stores, "shop-00", RolloutState::Failed);
    let d = pass(&mut r, &stores, at(10));
    assert!(d.admitted.is_empty(), "halted: nobody admitted");
    assert_eq!(status(&r).phase, Some(RolloutPhase::Halted));
    assert_eq!(condition(&r, "Stalled"), Some("True"));
    assert_eq!(condition(&r, "Ready"), Some("False"));
    assert_eq!(status(&r).failed[0].store, "shop-00");
    let message = status(&r).message.clone().unwrap_or_default();
    assert!(
        message.contains("shop-00 (rolled back: cart failed)"),
        "{message}"
    );
    assert!(message.contains(names::RESUME_ANNOTATION), "{message}");
    assert!(
        d.notes
            .iter()
            .any(|(warning, reason, _)| *warning && *reason == "Halted")
    );
    assert_eq!(d.requeue, None);
    // Halted stays halted.
    assert!(pass(&mut r, &stores, at(20)).admitted.is_empty());

    // The resume: the failure is forgiven and the next wave starts.
    r.metadata
        .annotations
        .get_or_insert_default()
        .insert(names::RESUME_ANNOTATION.into(), "1".into());
    let d = pass(&mut r, &stores, at(30));
    assert_eq!(status(&r).forgiven, 1);
    assert_eq!(status(&r).phase, Some(RolloutPhase::Progressing));
    assert_eq!(d.admitted, ["shop-01"], "10% of 5 is one store");
    assert!(d.notes.iter().any(|(_, reason, _)| *reason == "Resumed"));
    // The same value again is no second resume.
    set(&mut stores, "shop-01", RolloutState::Failed);
    pass(&mut r, &stores, at(40));
    assert_eq!(status(&r).phase, Some(RolloutPhase::Halted));
    assert_eq!(status(&r).forgiven, 1);
}

#[test]
fn failures_within_the_budget_go_on_and_a_pause_waits_between_waves() {
    let mut stores = fleet(4);
    let mut r = rollout(serde_json::json!({"maxFailures": 1, "pauseSeconds": 60}));
    pass(&mut r, &stores, at(0));
    set(&mut stores, "shop-00", RolloutState::Failed);
    let d = pass(&mut r, &stores, at(10));
    assert_eq!(status(&r).phase, Some(RolloutPhase::Progressing));
    assert!(d.admitted.is_empty(), "the pause runs");
    assert_eq!(d.requeue, Some(Duration::from_secs(60)));
    assert_eq!(
        status(&r).next_wave_at.as_deref(),
        Some(at(70).to_string().as_str())
    );
    assert!(pass(&mut r, &stores, at(69)).admitted.is_empty());
    let d = pass(&mut r, &stores, at(70));
    assert_eq!(d.admitted, ["shop-01"]);
    assert_eq!(status(&r).next_wave_at, None);
}

#[test]
fn paused_admits_nobody_and_stores_not_ready_to_move_wait_for_a_later_wave() {
    let mut stores = fleet(3);
    stores[0].asleep = true;
    stores[1].set_up = false;
    stores[2].mark = Some(RolloutMark {
        name: "another".into(),
        uid: None,
        state: RolloutState::Upgrading,
        message: None,
    });
    let mut r = rollout(serde_json::json!({"paused": true}));
    let d = pass(&mut r, &stores, at(0));
    assert!(d.admitted.is_empty());
    assert_eq!(status(&r).phase, Some(RolloutPhase::Paused));
    let reasons: Vec<&str> = status(&r)
        .skipped
        .iter()
        .map(|s| s.reason.as_str())
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("hibernated"));
    assert!(reasons[1].contains("not set up"));
    assert!(reasons[2].contains("another rollout"));
    // Unpaused with nobody free: nothing to do.
    r.spec.paused = false;
    pass(&mut r, &stores, at(1));
    assert_eq!(status(&r).phase, Some(RolloutPhase::Completed));
}

#[test]
fn a_store_deleted_mid_wave_ends_its_part_and_a_mark_of_another_rollout_counts_not() {
    let mut stores = fleet(2);
    let mut r = rollout(serde_json::json!({"waves": [{"stores": 2}], "pauseSeconds": 0}));
    pass(&mut r, &stores, at(0));
    // shop-01 reports for a rollout of the same name made before (another uid): not ours.
    set(&mut stores, "shop-01", RolloutState::Upgraded);
    if let Some(m) = stores[1].mark.as_mut() {
        m.uid = Some("r-0".into());
    }
    stores.remove(0);
    pass(&mut r, &stores, at(10));
    assert_eq!(status(&r).skipped[0].store, "shop-00");
    assert!(status(&r).skipped[0].reason.contains("deleted"));
    assert!(status(&r).upgraded.is_empty());
    assert_eq!(status(&r).phase, Some(RolloutPhase::Progressing));
}

#[test]
fn a_selector_covers_by_engine_plan_and_labels_and_only_targets_of_the_engine() {
    let labels: BTreeMap<String, String> = [("tier".to_string(), "gold".to_string())].into();
    let mut selector = RolloutSelector::default();
    assert!(covers(
        &selector,
        Engine::Medusa,
        Plan::Large,
        &BTreeMap::new()
    ));
    selector.engine = Some(Engine::Woocommerce);
    selector.match_labels = labels.clone();
    assert!(covers(&selector, Engine::Woocommerce, Plan::Small, &labels));
    assert!(!covers(
        &selector,
        Engine::Woocommerce,
        Plan::Small,
        &BTreeMap::new()
    ));
    assert!(!covers(&selector, Engine::Medusa, Plan::Small, &labels));
    // A WordPress target covers no Medusa store, even with an empty selector.
    let mut stores = fleet(1);
    stores[0].engine = Engine::Medusa;
    let mut r = rollout(serde_json::json!({}));
    pass(&mut r, &stores, at(0));
    assert_eq!(status(&r).phase, Some(RolloutPhase::Completed));
    assert!(status(&r).skipped.is_empty());
}

#[test]
fn wave_sizes_and_pins() {
    let count = |n| WaveSpec {
        stores: Some(n),
        percent: None,
    };
    let percent = |p| WaveSpec {
        stores: None,
        percent: Some(p),
    };
    assert_eq!(wave_size(&count(1), 100), 1);
    assert_eq!(wave_size(&percent(10), 19), 2);
    assert_eq!(wave_size(&percent(1), 5), 1);
    assert_eq!(wave_size(&percent(100), 7), 7);
    let target = VersionsSpec {
        wordpress: Some("7.0.4-php8.3-apache".into()),
        ..VersionsSpec::default()
    };
    let own = VersionsSpec {
        mariadb: Some("11.4".into()),
        ..VersionsSpec::default()
    };
    assert!(!pins(Some(&own), &target, Engine::Woocommerce));
    let own = VersionsSpec {
        wordpress: Some("6.8.3-php8.3-apache".into()),
        ..VersionsSpec::default()
    };
    assert!(pins(Some(&own), &target, Engine::Woocommerce));
    assert_eq!(target_summary(&target), "wordpress=7.0.4-php8.3-apache");
}
