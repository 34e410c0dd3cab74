//! The store's data: generated Secrets, lost credentials, a lost namespace, volumes that grow.

use super::*;

#[tokio::test]
async fn generated_secrets_survive_restarts_and_are_never_overwritten() {
    let mut env = env_or_skip!(start, config());
    // Stop half-way: database ready, storefront not.
    env.cp.kubelet().hold(NS, Component::Storefront.as_str());
    env.create(Store::test()).await;
    env.wait_store("alice", "database ready", |s| {
        s.and_then(|s| s.status.as_ref())
            .is_some_and(|s| is_true(s, "DatabaseReady"))
    })
    .await;
    let secrets = |env: &Env| {
        let api: Api<Secret> = Api::namespaced(env.admin.clone(), NS);
        async move {
            let mut out = Vec::new();
            for name in [
                child::DATABASE_SECRET,
                child::ADMIN_SECRET,
                child::SALTS_SECRET,
            ] {
                let s = api.get(name).await.expect("secret");
                out.push((s.uid(), s.data.clone()));
            }
            out
        }
    };
    let first = secrets(&env).await;
    env.stop_operator().await;
    // Someone edits a generated value while the operator is down: it is not "repaired".
    let api: Api<Secret> = Api::namespaced(env.admin.clone(), NS);
    api.patch(
        child::ADMIN_SECRET,
        &PatchParams::default(),
        &Patch::Merge(json!({"stringData": {"email": "owner@example.com"}})),
    )
    .await
    .expect("edit secret");
    let edited = secrets(&env).await;
    env.start_operator();
    env.cp.kubelet().release(NS, Component::Storefront.as_str());
    env.wait_phase("alice", Phase::Ready).await;
    assert_eq!(secrets(&env).await, edited, "secrets are create-only");
    assert_eq!(
        first[0], edited[0],
        "the database credentials were never regenerated"
    );
    let jobs: Vec<Job> = env.children(NS, "alice").await;
    assert_eq!(jobs.len(), 1, "one setup Job after the restart");
}

/// A generated Secret deleted after it was issued is reported, never regenerated (the database
/// and the shop still use its values); restoring it lets the store continue.
#[tokio::test]
async fn a_deleted_credentials_secret_is_reported_not_regenerated() {
    let env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;
    let secrets: Api<Secret> = Api::namespaced(env.admin.clone(), NS);
    let backup = secrets.get(child::DATABASE_SECRET).await.expect("secret");
    secrets
        .delete(child::DATABASE_SECRET, &DeleteParams::default())
        .await
        .expect("delete");
    let store = env
        .wait_store("alice", "credentials lost", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| condition(s, "Stalled"))
                .is_some_and(|c| c.reason == "CredentialsLost")
        })
        .await
        .expect("store");
    let message = store.status.and_then(|s| s.message).unwrap_or_default();
    assert!(message.contains(child::DATABASE_SECRET), "{message}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        secrets
            .get_opt(child::DATABASE_SECRET)
            .await
            .expect("get")
            .is_none(),
        "not regenerated"
    );
    // Restore from the backup: the store continues by itself.
    let mut restored = backup.clone();
    restored.metadata = kube::api::ObjectMeta {
        name: backup.metadata.name.clone(),
        labels: backup.metadata.labels.clone(),
        owner_references: backup.metadata.owner_references.clone(),
        ..Default::default()
    };
    secrets
        .create(&PostParams::default(), &restored)
        .await
        .expect("restore");
    env.wait_phase("alice", Phase::Ready).await;
    let now = secrets.get(child::DATABASE_SECRET).await.expect("secret");
    assert_eq!(now.data, backup.data);
}

/// Data loss is never Ready: a Ready store whose namespace is deleted (its database and files
/// with it) is `Stalled`/`DataLost`, naming what vanished; nothing is created again on an empty
/// shop (no namespace, no setup Job, no route) until the owner asks to start over with the retry
/// annotation.
#[tokio::test]
async fn a_ready_store_whose_namespace_is_deleted_is_data_lost_not_ready() {
    use k8s_openapi::api::networking::v1::Ingress;
    let env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    let ready = env.wait_phase("alice", Phase::Ready).await;
    let first_setup = ready
        .status
        .as_ref()
        .and_then(|s| s.completed_setup.clone())
        .expect("completed setup");
    let ns_uid = env.namespace(NS).await.and_then(|n| n.metadata.uid);
    let recorded = env
        .wait_store("alice", "the data recorded", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| s.data.as_ref())
                .is_some_and(|d| d.namespace_uid.is_some() && d.volumes.len() >= 2)
        })
        .await
        .and_then(|s| s.status)
        .and_then(|s| s.data)
        .expect("data");
    assert_eq!(recorded.namespace_uid, ns_uid);
    assert!(
        recorded.volumes.contains_key("data-database-0")
            && recorded.volumes.contains_key(child::STOREFRONT_DATA),
        "{recorded:?}"
    );

    // By mistake, the namespace goes (and the database and files in it).
    Api::<Namespace>::all(env.admin.clone())
        .delete(NS, &DeleteParams::default())
        .await
        .expect("delete namespace");
    let lost = env
        .wait_condition("alice", "Stalled", "DataLost", |c| {
            c.status == "True" && c.reason == "DataLost"
        })
        .await;
    let status = lost.status.clone().unwrap_or_default();
    assert_eq!(status.phase, Some(Phase::Failed));
    assert!(!is_true(&status, "Ready"));
    let message = condition(&status, "Ready")
        .map(|c| c.message)
        .unwrap_or_default();
    assert!(
        message.contains("namespace store-alice was deleted") && message.contains("retry"),
        "{message}"
    );
    // Nothing comes back on an empty shop.
    env.wait_namespace_gone(NS).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        env.namespace(NS).await.is_none(),
        "the namespace was created again, empty"
    );
    let still = env.status("alice").await;
    assert_eq!(still.phase, Some(Phase::Failed));
    assert_eq!(still.completed_setup.as_deref(), Some(first_setup.as_str()));

    // The owner asks to start over: a new, empty shop is set up and becomes Ready.
    env.retry("alice", "start-over").await;
    let again = env.wait_phase("alice", Phase::Ready).await;
    let status = again.status.unwrap_or_default();
    let new_uid = env.namespace(NS).await.and_then(|n| n.metadata.uid);
    assert_ne!(new_uid, ns_uid);
    let jobs: Vec<Job> = env.children(NS, "alice").await;
    assert_eq!(jobs.len(), 1, "setup ran on the new shop");
    let ingresses: Vec<Ingress> = env.children(NS, "alice").await;
    assert_eq!(ingresses.len(), 1);
    let data = env
        .wait_store("alice", "the new data recorded", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| s.data.as_ref())
                .is_some_and(|d| d.namespace_uid == new_uid)
        })
        .await;
    assert!(data.is_some());
    assert!(status.completed_setup.is_some());
}

/// A StorageClass named `name` with the given `allowVolumeExpansion`, and bound volumes for
/// `store`'s two claims (the control plane has no provisioner: the PersistentVolumes are made
/// here and pre-bound, and the real PV controller binds them).
async fn storage_for(env: &Env, class: &str, expandable: bool, store: &str) {
    use k8s_openapi::api::core::v1::PersistentVolume;
    use k8s_openapi::api::storage::v1::StorageClass;
    let classes: Api<StorageClass> = Api::all(env.admin.clone());
    let sc: StorageClass = serde_json::from_value(json!({
        "metadata": {"name": class},
        "provisioner": "example.com/none",
        "allowVolumeExpansion": expandable,
        "volumeBindingMode": "Immediate"
    }))
    .expect("class");
    classes
        .patch(
            class,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&sc),
        )
        .await
        .expect("class");
    let volumes: Api<PersistentVolume> = Api::all(env.admin.clone());
    for claim in ["data-database-0", "storefront-data"] {
        let name = format!("{store}-{claim}");
        let pv: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {
                "capacity": {"storage": "50Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": class,
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": format!("/tmp/storefleet-test-pv/{name}")},
                "claimRef": {"namespace": format!("store-{store}"), "name": claim}
            }
        }))
        .expect("pv");
        volumes
            .create(&PostParams::default(), &pv)
            .await
            .expect("pv");
    }
}

fn requested_storage(pvc: &k8s_openapi::api::core::v1::PersistentVolumeClaim) -> String {
    pvc.spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(|q| q.0.clone())
        .unwrap_or_default()
}

/// Growing a shop is the first day-2 thing its owner does: `small` → `medium` on a Ready store
/// grows its bound claims in place (the StorageClass allows expansion) and re-creates the
/// database StatefulSet with the new claim template (its pod orphaned, not deleted); nothing is
/// rejected or stalled on the way and the store is Ready again on the same claims. Where the class does not allow expansion the store says so, naming
/// the class, and nothing is changed.
#[tokio::test]
async fn a_larger_plan_grows_the_volumes_in_place() {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    let mut config = config();
    config.storage_class_name = Some("expandable".into());
    config.allowed_storage_class_names = vec!["fixed".into()];
    let env = env_or_skip!(start, config);
    storage_for(&env, "expandable", true, "alice").await;
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(env.admin.clone(), NS);
    common::eventually("both claims bound", || async {
        let bound =
            |c: PersistentVolumeClaim| c.status.and_then(|s| s.phase).as_deref() == Some("Bound");
        (bound(claims.get("data-database-0").await.ok()?)
            && bound(claims.get("storefront-data").await.ok()?))
        .then_some(())
    })
    .await;
    let statefulsets: Api<StatefulSet> = Api::namespaced(env.admin.clone(), NS);
    let before = statefulsets.get(child::DATABASE).await.expect("sts");

    env.patch("alice", json!({"spec": {"plan": "medium"}}))
        .await;
    let deadline = std::time::Instant::now() + common::WAIT;
    loop {
        let store = env.stores().get("alice").await.expect("store");
        // The plan's new container resources roll the pods (Provisioning for that while), but
        // the volumes never stall it nor get a change rejected.
        let status = store.status.clone().unwrap_or_default();
        assert!(
            condition(&status, "Stalled").is_none()
                && !status
                    .message
                    .as_deref()
                    .unwrap_or_default()
                    .contains("rejected"),
            "growing the volumes is accepted: {status:?}"
        );
        let db = claims.get("data-database-0").await.expect("claim");
        let files = claims.get("storefront-data").await.expect("claim");
        let sts = statefulsets.get(child::DATABASE).await.ok();
        let template = sts
            .as_ref()
            .and_then(|s| s.spec.volume_claim_templates.clone())
            .and_then(|t| t.into_iter().next())
            .map(|t| requested_storage(&t));
        let status = store.status.clone().unwrap_or_default();
        if requested_storage(&db) == "10Gi"
            && requested_storage(&files) == "5Gi"
            && template.as_deref() == Some("10Gi")
            && status.observed_generation == store.metadata.generation
            && status
                .volume_sizes
                .get("data-database-0")
                .map(String::as_str)
                == Some("10Gi")
        {
            let sts = sts.expect("sts");
            assert_ne!(sts.metadata.uid, before.metadata.uid, "re-created");
            assert_eq!(
                db.metadata.uid,
                status
                    .data
                    .as_ref()
                    .and_then(|d| d.volumes.get("data-database-0").cloned()),
                "the same claim, grown"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "volumes did not grow: db {} files {} template {template:?} status {:?}",
            requested_storage(&db),
            requested_storage(&files),
            status.volume_sizes
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Settled: still Ready, the re-created StatefulSet adopted the running pod.
    let store = env.wait_phase("alice", Phase::Ready).await;
    assert!(is_true(&store.status.unwrap_or_default(), "DatabaseReady"));

    // bob's class does not allow expansion: refused, naming the class; his claims unchanged.
    storage_for(&env, "fixed", false, "bob").await;
    env.create(Store::test().with_name("bob").with_storage_class("fixed"))
        .await;
    env.wait_phase("bob", Phase::Ready).await;
    let bob: Api<PersistentVolumeClaim> = Api::namespaced(env.admin.clone(), "store-bob");
    common::eventually("bob's claims bound", || async {
        let c = bob.get("storefront-data").await.ok()?;
        (c.status.and_then(|s| s.phase).as_deref() == Some("Bound")).then_some(())
    })
    .await;
    env.patch("bob", json!({"spec": {"plan": "medium"}})).await;
    let refused = env
        .wait_condition("bob", "Stalled", "expansion unsupported", |c| {
            c.reason == "VolumeExpansionUnsupported"
        })
        .await;
    let message = refused.status.and_then(|s| s.message).unwrap_or_default();
    assert!(message.contains("StorageClass fixed"), "{message}");
    let files = bob.get("storefront-data").await.expect("claim");
    assert_eq!(requested_storage(&files), "2Gi");
}
