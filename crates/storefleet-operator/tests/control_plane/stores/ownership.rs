//! What is the store's and what is not: deletion, Retain, owner references, foreign and retained
//! namespaces.

use super::*;

#[tokio::test]
async fn deleting_a_store_removes_its_namespace_then_the_store() {
    let env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;
    env.delete("alice").await;
    env.wait_gone("alice").await;
    assert!(
        env.namespace(NS).await.is_none(),
        "the Store disappears only after its namespace"
    );
    // Waiting for the namespace to go is no error: the passes that waited are `requeue`.
    let text = env.metrics().encode();
    assert!(
        text.contains("storefleet_reconciles_total{result=\"requeue\"}"),
        "{text}"
    );
    assert!(
        !text.contains("storefleet_reconciles_total{result=\"error\"}"),
        "no pass of this store's life failed: {text}"
    );
    // A store that never got past validation deletes at once; one deleted while provisioning too.
    env.cp
        .kubelet()
        .hold("store-carol", Component::Database.as_str());
    env.create(Store::test().with_name("carol")).await;
    env.wait_phase("carol", Phase::Provisioning).await;
    env.delete("carol").await;
    env.wait_gone("carol").await;
    assert!(env.namespace("store-carol").await.is_none());
}

#[tokio::test]
async fn retain_keeps_the_namespace_without_ownership() {
    let env = env_or_skip!(start, config());
    env.create(Store::test().with_deletion_policy(DeletionPolicy::Retain))
        .await;
    let store = env.wait_phase("alice", Phase::Ready).await;
    let uid = store.uid().unwrap_or_default();
    env.delete("alice").await;
    env.wait_gone("alice").await;
    // Give the garbage collector time to act on any reference we left.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ns = env.namespace(NS).await.expect("namespace kept");
    assert!(ns.metadata.deletion_timestamp.is_none());
    assert!(ns.owner_references().iter().all(|o| o.uid != uid));
    let secrets: Vec<Secret> = env.children(NS, "alice").await;
    let jobs: Vec<Job> = env.children(NS, "alice").await;
    let sets: Vec<StatefulSet> = env.children(NS, "alice").await;
    assert_eq!(secrets.len(), 3, "credentials kept");
    assert_eq!(sets.len(), 1, "database kept");
    for refs in secrets
        .iter()
        .map(|o| o.owner_references().to_vec())
        .chain(jobs.iter().map(|o| o.owner_references().to_vec()))
        .chain(sets.iter().map(|o| o.owner_references().to_vec()))
    {
        assert!(
            refs.iter().all(|o| o.uid != uid),
            "no reference to the deleted Store"
        );
    }
}

#[tokio::test]
async fn owner_references_let_the_garbage_collector_remove_children() {
    let mut env = env_or_skip!(start, config());
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Provisioning).await;
    env.wait_store("alice", "namespace ready", |s| {
        s.and_then(|s| s.status.as_ref())
            .is_some_and(|s| is_true(s, "NamespaceReady"))
    })
    .await;
    // The operator is gone and someone force-removes the finalizer: the garbage collector alone
    // must remove the namespace (and with it everything) through the ownerReferences.
    env.stop_operator().await;
    env.patch("alice", json!({"metadata": {"finalizers": null}}))
        .await;
    env.delete("alice").await;
    env.wait_gone("alice").await;
    env.wait_namespace_gone(NS).await;
}

#[tokio::test]
async fn a_foreign_namespace_is_never_adopted_nor_deleted() {
    let env = env_or_skip!(start, config());
    env.cp
        .ensure_namespace(NS)
        .await
        .expect("foreign namespace");
    env.create(Store::test()).await;
    let store = env
        .wait_store("alice", "namespace taken", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| condition(s, "Stalled"))
                .is_some_and(|c| c.reason == "NamespaceTaken")
        })
        .await
        .expect("store");
    assert_eq!(phase(Some(&store)), Some(Phase::Failed));
    let configmaps: Vec<ConfigMap> = env.children(NS, "alice").await;
    assert!(
        configmaps.is_empty(),
        "nothing applied into a foreign namespace"
    );
    env.delete("alice").await;
    env.wait_gone("alice").await;
    let ns: Namespace = env.namespace(NS).await.expect("still there");
    assert!(ns.metadata.deletion_timestamp.is_none(), "never deleted");
}

/// Ownership is by identity, not by name: a retained namespace is not adopted by a new Store
/// with the same name (another tenant's, here), whose deletion then leaves it alone; an admin
/// hands it over explicitly by setting the uid annotation.
#[tokio::test]
async fn a_retained_namespace_is_not_adopted_by_a_new_store_of_the_same_name() {
    let env = env_or_skip!(start, config());
    env.create(Store::test().with_deletion_policy(DeletionPolicy::Retain))
        .await;
    env.wait_phase("alice", Phase::Ready).await;
    let secrets: Api<Secret> = Api::namespaced(env.admin.clone(), NS);
    let before = secrets.get(child::ADMIN_SECRET).await.expect("secret");
    env.delete("alice").await;
    env.wait_gone("alice").await;

    // Mallory creates a store with the same name.
    let mallory = env
        .create(
            Store::test()
                .with_owner("mallory@example.com")
                .with_deletion_policy(DeletionPolicy::Delete),
        )
        .await;
    let store = env
        .wait_store("alice", "namespace taken", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| condition(s, "Stalled"))
                .is_some_and(|c| c.reason == "NamespaceTaken")
        })
        .await
        .expect("store");
    let status = store.status.unwrap_or_default();
    assert_eq!(status.phase, Some(Phase::Failed));
    assert!(
        status
            .message
            .unwrap_or_default()
            .contains(names::STORE_UID_ANNOTATION),
        "the message says how an admin hands it over"
    );
    let after = secrets.get(child::ADMIN_SECRET).await.expect("secret kept");
    assert_eq!(
        after.resource_version(),
        before.resource_version(),
        "untouched"
    );
    let jobs: Vec<Job> = env.children(NS, "alice").await;
    assert!(jobs.iter().all(|j| {
        j.owner_references()
            .iter()
            .all(|o| Some(&o.uid) != mallory.metadata.uid.as_ref())
    }));

    // Deleting Mallory's store does not delete the retained data.
    env.delete("alice").await;
    env.wait_gone("alice").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ns = env.namespace(NS).await.expect("still there");
    assert!(ns.metadata.deletion_timestamp.is_none());

    // An admin hands the namespace to a new Store on purpose.
    let heir = env.create(Store::test()).await;
    let namespaces: Api<Namespace> = Api::all(env.admin.clone());
    namespaces
        .patch(
            NS,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {names::STORE_UID_ANNOTATION: heir.metadata.uid}}})),
        )
        .await
        .expect("hand over");
    env.retry("alice", "adopted").await;
    env.wait_phase("alice", Phase::Ready).await;
    let kept = secrets.get(child::ADMIN_SECRET).await.expect("secret");
    assert_eq!(
        kept.data, before.data,
        "the retained credentials are the shop's"
    );
}
