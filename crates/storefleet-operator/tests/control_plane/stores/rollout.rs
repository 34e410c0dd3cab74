//! A fleet's upgrade in waves (`StoreRollout`) on a real apiserver: 20 stores, three waves. The
//! canary's walk through the new version fails: the rollout halts after wave 1 with the canary
//! rolled back and the 18 others untouched. Resumed, it moves the rest; the operator is killed
//! in the middle of the last wave and, started again, finishes it: every store upgraded once,
//! none left out. A store that pins its own WordPress is skipped and named. Job pods succeed or
//! fail at the kubelet stand-in's word.

use super::*;

use std::collections::BTreeSet;
use std::time::Instant;

use storefleet_types::{RolloutPhase, RolloutState, StoreRollout, UpgradePhase, VersionsSpec};

const STORES: usize = 20;
const TARGET: &str = "7.0.4-php8.3-apache";

fn name(i: usize) -> String {
    format!("shop-{i:02}")
}

fn rollouts(env: &Env) -> Api<StoreRollout> {
    Api::all(env.admin.clone())
}

async fn rollout(env: &Env) -> StoreRollout {
    rollouts(env).get("wp7").await.expect("the rollout")
}

/// Waits until the rollout's status satisfies `check`; its status then.
async fn wait_rollout(
    env: &Env,
    what: &str,
    check: impl Fn(&storefleet_types::StoreRolloutStatus) -> bool,
) -> StoreRollout {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let r = rollout(env).await;
        if r.status.as_ref().is_some_and(&check) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "rollout: {what}: not after 300 s; status: {:#?}",
            r.status
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The rollout as Argo CD reads it.
async fn rollout_json(env: &Env) -> serde_json::Value {
    serde_json::to_value(rollout(env).await).expect("json")
}

/// Argo CD's health of a rollout (config/argocd's health check, run through Lua 5.4).
fn argo_health(object: &serde_json::Value) -> String {
    let dir = &common::argocd::health_dirs()[1];
    common::argocd::health_in(dir, object).0
}

async fn storefront_image(env: &Env, store: &str) -> String {
    let deployments: Vec<Deployment> = env.children(&format!("store-{store}"), store).await;
    deployments
        .iter()
        .find(|d| d.name_any() == child::STOREFRONT)
        .and_then(|d| d.spec.template.spec.as_ref())
        .and_then(|p| p.containers.iter().find(|c| c.name == "wordpress"))
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

/// The walks (`upgrade-check-` Jobs) of `store`'s upgrades.
async fn checks(env: &Env, store: &str) -> usize {
    let jobs: Vec<Job> = env.children(&format!("store-{store}"), store).await;
    jobs.iter()
        .filter(|j| j.name_any().starts_with("upgrade-check-"))
        .count()
}

#[tokio::test]
async fn a_rollout_moves_the_fleet_in_waves_halts_on_the_canary_and_resumes_exactly() {
    let Some(mut env) = Env::start("rollout_waves", config()).await else {
        return;
    };
    let old_tag = env.config.images.wordpress.tag.clone();
    for i in 0..STORES {
        let mut store = Store::test().with_name(&name(i));
        if i == 0 {
            // shop-00 pins its own WordPress: the rollout leaves it alone.
            store.spec.versions = Some(VersionsSpec {
                wordpress: Some(old_tag.clone()),
                ..VersionsSpec::default()
            });
        }
        env.create(store).await;
    }
    for i in 0..STORES {
        env.wait_phase(&name(i), Phase::Ready).await;
    }
    let old_image = storefront_image(&env, &name(1)).await;
    assert!(old_image.ends_with(&old_tag), "{old_image}");

    // The canary (the first store by name that pins nothing) cannot sell on the new version.
    env.cp
        .kubelet()
        .named_jobs("store-shop-01", "upgrade-check-", JobPods::FailWith(13));
    let started = Instant::now();
    let spec = json!({
        "apiVersion": "storefleet.io/v1alpha1",
        "kind": "StoreRollout",
        "metadata": {"name": "wp7"},
        "spec": {
            "target": {"wordpress": TARGET},
            "waves": [{"stores": 1}, {"percent": 10}, {"percent": 100}],
            "pauseSeconds": 0,
            "maxConcurrent": 20,
        },
    });
    let created: StoreRollout = serde_json::from_value(spec).expect("rollout");
    rollouts(&env)
        .create(&PostParams::default(), &created)
        .await
        .expect("create the rollout");

    let halted = wait_rollout(&env, "halted", |s| s.phase == Some(RolloutPhase::Halted)).await;
    let status = halted.status.expect("status");
    println!(
        "halted after the canary: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(status.waves.len(), 1, "halted after wave 1");
    assert_eq!(status.waves[0].stores, [name(1)]);
    assert_eq!(status.failed.len(), 1);
    assert_eq!(status.failed[0].store, name(1));
    assert!(
        status.failed[0].reason.contains("cart"),
        "the check that failed: {}",
        status.failed[0].reason
    );
    assert_eq!(status.skipped.len(), 1);
    assert_eq!(status.skipped[0].store, name(0));
    assert!(status.skipped[0].reason.contains("pinned"));
    assert_eq!(status.covered, Some(19));
    let stalled = status.conditions.iter().find(|c| c.type_ == "Stalled");
    assert_eq!(stalled.map(|c| c.status.as_str()), Some("True"));
    assert_eq!(argo_health(&rollout_json(&env).await), "Degraded");
    // The canary was rolled back; the others were not touched.
    let canary = env.status(&name(1)).await;
    let upgrade = canary.upgrade.expect("the canary's upgrade");
    assert_eq!(upgrade.phase, UpgradePhase::RolledBack);
    assert_eq!(upgrade.rollout.as_deref(), Some("wp7"));
    assert_eq!(canary.rollout.map(|m| m.state), Some(RolloutState::Failed));
    assert_eq!(storefront_image(&env, &name(1)).await, old_image);
    for i in (0..STORES).filter(|i| *i != 1) {
        let status = env.status(&name(i)).await;
        assert!(status.upgrade.is_none(), "{} was touched", name(i));
        assert_eq!(storefront_image(&env, &name(i)).await, old_image);
    }
    // The rollout never wrote a Store: each spec is as created.
    for i in 0..STORES {
        let store = env.get(&name(i)).await.expect("store");
        assert_eq!(store.metadata.generation, Some(1), "{}", name(i));
    }

    // Resumed (the canary's failure forgiven): wave 2 (10 % of 19: two stores), then the rest.
    rollouts(&env)
        .patch(
            "wp7",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {names::RESUME_ANNOTATION: "1"}}})),
        )
        .await
        .expect("resume");
    let resumed = Instant::now();
    let last_wave = wait_rollout(&env, "the last wave under way", |s| {
        s.waves.len() == 3 && s.waves[2].admitted > 0
    })
    .await;
    let status = last_wave.status.expect("status");
    assert_eq!(status.waves[1].stores, [name(2), name(3)]);
    assert_eq!(status.waves[2].stores.len(), 16);
    assert!(
        status.upgraded.len() < 18,
        "killed mid-wave: {:?}",
        status.upgraded
    );

    // SIGKILL, as it were, mid-wave; then a new operator.
    env.kill_operator().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    env.start_operator();
    let done = wait_rollout(&env, "completed", |s| {
        s.phase == Some(RolloutPhase::Completed)
    })
    .await;
    println!(
        "19 covered stores: halted after {:.1} s (canary); resumed to Completed in {:.1} s, with a kill of the operator in wave 3 (stand-in kubelet)",
        0.0_f64.max(started.elapsed().as_secs_f64() - resumed.elapsed().as_secs_f64()),
        resumed.elapsed().as_secs_f64()
    );
    let status = done.status.expect("status");
    let upgraded: BTreeSet<String> = status.upgraded.iter().cloned().collect();
    assert_eq!(
        upgraded.len(),
        status.upgraded.len(),
        "no store counted twice"
    );
    let expected: BTreeSet<String> = (2..STORES).map(name).collect();
    assert_eq!(
        upgraded, expected,
        "every covered store but the canary, none left out"
    );
    assert_eq!(status.progress.as_deref(), Some("18/19"));
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready");
    assert_eq!(ready.map(|c| c.status.as_str()), Some("True"));
    assert_eq!(argo_health(&rollout_json(&env).await), "Healthy");
    for i in 2..STORES {
        let store = name(i);
        let s = env.status(&store).await;
        let upgrade = s.upgrade.expect("upgraded");
        assert_eq!(upgrade.phase, UpgradePhase::Succeeded, "{store}");
        assert_eq!(upgrade.rollout.as_deref(), Some("wp7"));
        assert!(storefront_image(&env, &store).await.ends_with(TARGET));
        assert_eq!(checks(&env, &store).await, 1, "{store}: upgraded once");
    }
    // The pinned store and the canary stay where they are.
    assert_eq!(storefront_image(&env, &name(0)).await, old_image);
    assert_eq!(storefront_image(&env, &name(1)).await, old_image);
    assert!(env.status(&name(0)).await.upgrade.is_none());

    // Deleting the finished rollout moves nobody back: a store keeps what it runs.
    rollouts(&env)
        .delete("wp7", &DeleteParams::default())
        .await
        .expect("delete the rollout");
    env.patch(&name(5), json!({"metadata": {"labels": {"touch": "1"}}}))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(storefront_image(&env, &name(5)).await.ends_with(TARGET));
    assert_eq!(
        env.status(&name(5)).await.upgrade.map(|u| u.phase),
        Some(UpgradePhase::Succeeded)
    );
}
