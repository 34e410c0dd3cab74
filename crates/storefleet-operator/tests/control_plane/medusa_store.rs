//! An `engine: medusa` Store on the real control plane (`KUBEBUILDER_ASSETS`), the operator
//! running with the chart's RBAC: the migration Job runs once PostgreSQL and Redis are ready and
//! gates the server and the worker, the setup Job follows, the store goes Ready with the
//! storefront and admin URLs, every pod is admitted under the `restricted` Pod Security Standard
//! and the quota, and deleting the Store removes everything. Pods are made ready (Job pods
//! succeed) by the kubelet stand-in; the Medusa processes themselves run in `tests/real_stack/medusa.rs`.
//!
//! Without the assets the test prints one `skipped:` line and returns.

use crate::common;

use std::time::Duration;

use std::collections::BTreeSet;

use common::{condition, is_true};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::ResourceExt;
use serde_json::json;
use storefleet_envtest::JobPods;
use storefleet_operator::config::OperatorConfig;
use storefleet_types::names::{Component, child};
use storefleet_types::{Engine, Phase, Store};

const NS: &str = "store-bob";

fn names<K: kube::Resource>(objects: &[K]) -> BTreeSet<String> {
    objects.iter().map(|o| o.name_any()).collect()
}

#[tokio::test]
async fn a_medusa_store_migrates_before_it_serves_goes_ready_and_deletes_cleanly() {
    let mut config = OperatorConfig::default();
    // One failed pod fails a Job (the real Job controller's backoff is 10 s, 20 s, ...).
    config.setup.backoff_limit = 0;
    // The checkout probe once a year: no Job of the cronjob controller's among those counted.
    config.probe.schedule = "0 0 1 1 *".into();
    let env = env_or_skip!(start, config);
    // The migration Job's pod stays pending until released.
    env.cp.kubelet().hold(NS, Component::Migration.as_str());
    env.create(
        Store::test()
            .with_name("bob")
            .with_owner("bob@example.com")
            .with_engine(Engine::Medusa),
    )
    .await;

    let waiting = env
        .wait_store("bob", "waiting for the migration", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| condition(s, "StorefrontReady"))
                .is_some_and(|c| c.message.contains("Migrating the database"))
        })
        .await
        .expect("store");
    let status = waiting.status.clone().unwrap_or_default();
    assert!(is_true(&status, "DatabaseReady"), "{status:#?}");
    let sets: Vec<StatefulSet> = env.children(NS, "bob").await;
    assert_eq!(
        names(&sets),
        BTreeSet::from([child::DATABASE.to_string(), child::CACHE.to_string()])
    );
    let jobs: Vec<Job> = env.children(NS, "bob").await;
    assert_eq!(jobs.len(), 1, "only the migration: {:?}", names(&jobs));
    assert!(jobs[0].name_any().starts_with(child::MIGRATION_JOB_PREFIX));
    let deployments: Vec<Deployment> = env.children(NS, "bob").await;
    assert!(
        deployments.is_empty(),
        "nothing serves before the database is migrated: {:?}",
        names(&deployments)
    );

    // The migration fails: the store is Failed with the reason, and nothing serves.
    env.cp.kubelet().jobs(NS, JobPods::Fail);
    env.cp.kubelet().release(NS, Component::Migration.as_str());
    let failed = env.wait_phase("bob", Phase::Failed).await;
    let stalled =
        condition(&failed.status.clone().unwrap_or_default(), "Stalled").expect("Stalled");
    assert_eq!(stalled.reason, "MigrationFailed");
    assert!(
        stalled.message.contains("kubectl logs"),
        "{}",
        stalled.message
    );
    let deployments: Vec<Deployment> = env.children(NS, "bob").await;
    assert!(deployments.is_empty(), "{:?}", names(&deployments));

    // A retry runs it again.
    env.cp.kubelet().jobs(NS, JobPods::Succeed);
    env.retry("bob", "after-fix").await;
    let store = env.wait_phase("bob", Phase::Ready).await;
    let status = store.status.clone().unwrap_or_default();
    assert_eq!(status.url.as_deref(), Some("http://bob.shop.local/shop"));
    assert_eq!(
        status.admin_url.as_deref(),
        Some("http://bob.shop.local/app")
    );
    assert_eq!(
        status.credentials_secret.as_deref(),
        Some(child::ADMIN_SECRET)
    );
    for step in [
        "NamespaceReady",
        "DatabaseReady",
        "StorefrontReady",
        "SetupComplete",
    ] {
        assert!(is_true(&status, step), "{step}: {status:#?}");
    }
    assert!(is_true(&status, "WorkerHealthy"), "{status:#?}");
    // The worker stops consuming (its pod no longer ready): WorkerHealthy says so, and why.
    env.cp.kubelet().hold(NS, Component::Worker.as_str());
    let stalled = env
        .wait_condition("bob", "WorkerHealthy", "the worker unavailable", |c| {
            c.status == "False"
        })
        .await;
    let worker =
        condition(&stalled.status.unwrap_or_default(), "WorkerHealthy").expect("WorkerHealthy");
    assert_eq!(worker.reason, "WorkerUnavailable");
    assert!(worker.message.contains("worker"), "{}", worker.message);
    env.cp.kubelet().release(NS, Component::Worker.as_str());
    env.wait_condition("bob", "WorkerHealthy", "the worker back", |c| {
        c.status == "True"
    })
    .await;
    env.wait_phase("bob", Phase::Ready).await;
    // Hibernated: PostgreSQL, Redis, the server and the worker at zero, the probe suspended;
    // awake: Ready again with no new migration or setup Job.
    let jobs_before = names(&env.children::<Job>(NS, "bob").await);
    env.patch("bob", json!({"spec": {"hibernate": true}})).await;
    env.wait_condition("bob", "Hibernated", "asleep", |c| c.status == "True")
        .await;
    for sts in env.children::<StatefulSet>(NS, "bob").await {
        assert_eq!(sts.spec.replicas, Some(0), "{}", sts.name_any());
    }
    for d in env.children::<Deployment>(NS, "bob").await {
        assert_eq!(d.spec.replicas, Some(0), "{}", d.name_any());
    }
    env.patch("bob", json!({"spec": {"hibernate": false}}))
        .await;
    env.wait_phase("bob", Phase::Ready).await;
    assert_eq!(names(&env.children::<Job>(NS, "bob").await), jobs_before);
    let deployments: Vec<Deployment> = env.children(NS, "bob").await;
    assert_eq!(
        names(&deployments),
        BTreeSet::from([child::STOREFRONT.to_string(), child::WORKER.to_string()])
    );
    let jobs: Vec<Job> = env.children(NS, "bob").await;
    assert_eq!(jobs.len(), 2, "migration and setup: {:?}", names(&jobs));
    assert!(
        jobs.iter()
            .any(|j| j.name_any().starts_with(child::SETUP_JOB_PREFIX))
    );
    let secrets: Vec<Secret> = env.children(NS, "bob").await;
    assert_eq!(
        names(&secrets),
        BTreeSet::from([
            child::DATABASE_SECRET.to_string(),
            child::ADMIN_SECRET.to_string(),
            child::MEDUSA_SECRET.to_string(),
        ])
    );
    let policies: Vec<NetworkPolicy> = env.children(NS, "bob").await;
    assert_eq!(
        names(&policies),
        [
            child::NETPOL_DEFAULT_DENY,
            child::NETPOL_DNS,
            child::NETPOL_INGRESS,
            child::NETPOL_DATABASE_INGRESS,
            child::NETPOL_DATABASE_EGRESS,
            child::NETPOL_CACHE_INGRESS,
            child::NETPOL_SETUP_TO_STOREFRONT,
            child::NETPOL_STOREFRONT_FROM_SETUP,
            child::NETPOL_PROBE_TO_STOREFRONT,
            child::NETPOL_STOREFRONT_FROM_PROBE,
        ]
        .into_iter()
        .map(String::from)
        .collect::<BTreeSet<_>>(),
        "no internet egress for a Medusa store"
    );
    // Every pod got past the real PodSecurity (restricted) and quota admission: all of them ran.
    let uid = store.uid().unwrap_or_default();
    for deployment in &deployments {
        assert!(
            deployment.owner_references().iter().any(|o| o.uid == uid),
            "{} owned by the Store",
            deployment.name_any()
        );
    }

    // A new Medusa version migrates first: the server keeps its old image until then, and the
    // earlier migration Job is removed afterwards.
    let image_of = |d: &Deployment| {
        d.spec
            .template
            .spec
            .as_ref()
            .and_then(|p| p.containers[0].image.clone())
            .unwrap_or_default()
    };
    let server = |deployments: &[Deployment]| {
        deployments
            .iter()
            .find(|d| d.name_any() == child::STOREFRONT)
            .map(image_of)
            .unwrap_or_default()
    };
    let old_image = server(&deployments);
    let old_migration = jobs
        .iter()
        .map(|j| j.name_any())
        .find(|n| n.starts_with(child::MIGRATION_JOB_PREFIX))
        .expect("migration job");
    env.cp.kubelet().hold(NS, Component::Migration.as_str());
    env.patch("bob", json!({"spec": {"versions": {"medusa": "0.2.0"}}}))
        .await;
    env.wait_condition("bob", "StorefrontReady", "migrating the new version", |c| {
        c.message.contains("Migrating the database")
    })
    .await;
    let deployments: Vec<Deployment> = env.children(NS, "bob").await;
    assert_eq!(
        server(&deployments),
        old_image,
        "the old version keeps serving"
    );
    // Another version while that upgrade runs: the upgrade runs to its end (0.2.0, verified),
    // then the next one moves to 0.3.0; never two migrations at once.
    env.patch("bob", json!({"spec": {"versions": {"medusa": "0.3.0"}}}))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let upgrade = env
        .status("bob")
        .await
        .upgrade
        .expect("the running upgrade");
    assert!(
        upgrade.to.images["medusa"].ends_with(":0.2.0"),
        "the running upgrade keeps its target: {upgrade:?}"
    );
    let migrations = |jobs: &[Job]| {
        names(jobs)
            .into_iter()
            .filter(|n| n.starts_with(child::MIGRATION_JOB_PREFIX))
            .count()
    };
    let jobs: Vec<Job> = env.children(NS, "bob").await;
    assert_eq!(
        migrations(&jobs),
        2,
        "the finished first one and the running 0.2.0 one only: {:?}",
        names(&jobs)
    );
    env.cp.kubelet().release(NS, Component::Migration.as_str());
    env.wait_store("bob", "Ready on the newest version", |s| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|st| {
            st.phase == Some(Phase::Ready)
                && st
                    .deployed
                    .as_ref()
                    .is_some_and(|d| d.images["medusa"].ends_with(":0.3.0"))
        })
    })
    .await;
    let deployments: Vec<Deployment> = env.children(NS, "bob").await;
    assert!(
        server(&deployments).ends_with(":0.3.0"),
        "{}",
        server(&deployments)
    );
    common::eventually("the earlier migration job removed", || async {
        let jobs: Vec<Job> = env.children(NS, "bob").await;
        (!names(&jobs).contains(&old_migration)).then_some(())
    })
    .await;

    env.delete("bob").await;
    env.wait_gone("bob").await;
    env.wait_namespace_gone(NS).await;
}
