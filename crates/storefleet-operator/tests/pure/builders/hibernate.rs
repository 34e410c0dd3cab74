//! A hibernated store's objects (`desired/hibernate.rs`): the same objects as awake, its
//! StatefulSets and Deployments at zero and its CronJobs suspended; nothing else differs (the
//! volumes, Secrets, Services, policies and route are kept).

use super::*;

fn asleep(store: Store) -> Store {
    let mut store = store;
    store.spec.hibernate = true;
    store
}

fn with_backups() -> OperatorConfig {
    let mut config = config();
    config.backup = Some(
        serde_saphyr::from_str(
            "s3: {endpoint: \"http://10.0.0.9:3900\", bucket: b}\ncredentialsSecret: s3\nkeySecret: key\negressCidrs: [10.0.0.9/32]\n",
        )
        .expect("backup config"),
    );
    config
}

/// Checks `asleep` against `awake`, child by child; returns (workloads stopped, CronJobs
/// suspended).
fn compare(awake: &StoreObjects, asleep: &StoreObjects) -> (usize, usize) {
    let (awake, asleep) = (awake.children(), asleep.children());
    assert_eq!(awake.len(), asleep.len(), "the same children");
    let (mut stopped, mut suspended) = (0, 0);
    for (a, s) in awake.iter().zip(&asleep) {
        match (a, s) {
            (Child::StatefulSet(a), Child::StatefulSet(s)) => {
                assert_eq!(s.spec.replicas, Some(0), "{:?} at zero", s.metadata.name);
                assert_ne!(a.spec.replicas, Some(0));
                let mut woken = (*s).clone();
                woken.spec.replicas = a.spec.replicas;
                assert_eq!(&woken, *a, "only the replicas differ");
                stopped += 1;
            }
            (Child::Deployment(a), Child::Deployment(s)) => {
                assert_eq!(s.spec.replicas, Some(0), "{:?} at zero", s.metadata.name);
                assert_ne!(a.spec.replicas, Some(0));
                let mut woken = (*s).clone();
                woken.spec.replicas = a.spec.replicas;
                assert_eq!(&woken, *a, "only the replicas differ");
                stopped += 1;
            }
            (
                Child::CronJob(a) | Child::BackupCronJob(a),
                Child::CronJob(s) | Child::BackupCronJob(s),
            ) => {
                assert_eq!(
                    s.spec.suspend,
                    Some(true),
                    "{:?} suspended",
                    s.metadata.name
                );
                let mut woken = (*s).clone();
                woken.spec.suspend = a.spec.suspend;
                assert_eq!(&woken, *a, "only suspend differs");
                suspended += 1;
            }
            (a, s) => assert_eq!(format!("{a:?}"), format!("{s:?}"), "kept as it is"),
        }
    }
    (stopped, suspended)
}

#[test]
fn a_hibernated_woocommerce_store_keeps_everything_but_its_pods() {
    let config = with_backups();
    let build = |store: &Store| desired::build(&validate(store, &config).expect("valid"));
    let awake = build(&Store::test());
    let asleep = build(&asleep(Store::test()));
    assert!(asleep.asleep && !awake.asleep);
    // MariaDB and WordPress stopped; WordPress's cron, the checkout probe and the backups
    // suspended.
    assert_eq!(compare(&awake, &asleep), (2, 3));
}

#[test]
fn a_hibernated_medusa_store_keeps_everything_but_its_pods() {
    let config = with_backups();
    let build = |store: &Store| desired::build(&validate(store, &config).expect("valid"));
    let awake = build(&medusa_store());
    let asleep = build(&asleep(medusa_store()));
    // PostgreSQL, Redis, the server and the worker stopped; the checkout probe and the backups
    // suspended.
    assert_eq!(compare(&awake, &asleep), (4, 2));
}

#[test]
fn waking_is_the_same_build_awake() {
    let store = asleep(Store::test());
    let mut woken = store.clone();
    woken.spec.hibernate = false;
    assert_eq!(objects(&woken), objects(&Store::test()));
    assert_ne!(objects(&store), objects(&Store::test()));
}
