//! `kubectl storefleet` (crate `kubectl-storefleet`) against a real store on the real control
//! plane: each command as its arguments parse, what it shows, what it writes, and the plain words
//! of what it refuses.

use super::*;
use kubectl_storefleet::{Cli, PluginError};

/// Runs `kubectl storefleet ARGS` as the cluster's admin: (its result, what it printed).
async fn kubectl(env: &Env, args: &[&str]) -> (Result<(), PluginError>, String) {
    use clap::Parser;
    let cli =
        Cli::try_parse_from(std::iter::once("kubectl-storefleet").chain(args.iter().copied()))
            .expect("the arguments parse");
    let mut out = Vec::new();
    let result = kubectl_storefleet::run(env.admin.clone(), cli.command, &mut out).await;
    (result, String::from_utf8_lossy(&out).into_owned())
}

fn refused(result: Result<(), PluginError>) -> String {
    match result {
        Err(e @ (PluginError::Refused(_) | PluginError::NoStore(_))) => e.to_string(),
        other => panic!("refused in plain words, not {other:?}"),
    }
}

#[tokio::test]
async fn the_kubectl_plugin_shows_and_acts_on_a_real_store() {
    let env = env_or_skip!(start, config());
    env.cp.kubelet().report(
        NS,
        "setup",
        r#"{"wordpress": "6.8.3", "woocommerce": "9.9.5", "php": "8.3.26", "database": "11.4.8-MariaDB"}"#,
    );
    env.create(Store::test()).await;
    env.wait_phase("alice", Phase::Ready).await;
    common::eventually("the versions recorded", || async {
        env.status("alice").await.versions.map(|_| ())
    })
    .await;

    let (result, status) = kubectl(&env, &["status", "alice"]).await;
    result.expect("status");
    for line in [
        "Store alice: woocommerce on the small plan, owned by alice@example.com",
        "Phase:       Ready (Store is ready)",
        "Shop:        http://alice.shop.local",
        "Runs:        WordPress 6.8.3, WooCommerce 9.9.5, PHP 8.3.26, database 11.4.8-MariaDB",
        "+ Ready",
        "StatefulSet/database",
        "1/1 ready",
        "Deployment/storefront",
        "CronJob/probe",
        "PersistentVolumeClaim/storefront-data",
        "Events (newest first):",
        "Ready: Store is ready",
    ] {
        assert!(status.contains(line), "{line:?} in:\n{status}");
    }

    let (result, login) = kubectl(&env, &["credentials", "alice"]).await;
    result.expect("credentials");
    let secret = Api::<Secret>::namespaced(env.admin.clone(), NS)
        .get(child::ADMIN_SECRET)
        .await
        .expect("the admin Secret");
    let value = |key: &str| {
        String::from_utf8_lossy(&secret.data.as_ref().expect("data")[key].0).into_owned()
    };
    assert!(
        login.contains(&format!("username: {}", value("username"))),
        "{login}"
    );
    assert!(login.contains(&format!("password: {}", value("password"))));

    // What does not fit the store's state is refused, in plain words, and nothing is written.
    let before = env
        .get("alice")
        .await
        .expect("store")
        .metadata
        .resource_version;
    assert!(
        refused(kubectl(&env, &["retry", "alice"]).await.0)
            .contains("only a Failed store is retried")
    );
    assert!(refused(kubectl(&env, &["backup", "alice"]).await.0).contains("has no backups"));
    assert!(
        refused(kubectl(&env, &["logs", "alice", "probe"]).await.0)
            .contains("has no probe pod now")
    );
    assert_eq!(
        refused(kubectl(&env, &["status", "nobody"]).await.0),
        "there is no store named nobody (kubectl get stores lists them)"
    );
    assert_eq!(
        env.get("alice")
            .await
            .expect("store")
            .metadata
            .resource_version,
        before
    );

    // Hibernate and wake write spec.hibernate; the operator does the rest.
    let (result, said) = kubectl(&env, &["hibernate", "alice"]).await;
    result.expect("hibernate");
    assert!(said.contains("store alice is hibernating"), "{said}");
    env.wait_condition("alice", "Hibernated", "asleep", |c| c.status == "True")
        .await;
    let (_, status) = kubectl(&env, &["status", "alice"]).await;
    assert!(status.contains("Phase:       Hibernated"), "{status}");
    assert!(
        status.contains("0/0 ready") && status.contains("suspended"),
        "{status}"
    );
    let (result, said) = kubectl(&env, &["wake", "alice"]).await;
    result.expect("wake");
    assert!(said.contains("store alice is waking"), "{said}");
    env.wait_phase("alice", Phase::Ready).await;

    // A restore makes a new store of the same owner, engine and plan from alice's backup.
    let (result, said) = kubectl(&env, &["restore", "alice", "alice-staging"]).await;
    result.expect("restore");
    assert!(said.contains("a staging clone"), "{said}");
    let clone = env.get("alice-staging").await.expect("the clone");
    assert_eq!(clone.spec.owner, "alice@example.com");
    let from = clone.spec.restore_from.expect("restoreFrom");
    assert_eq!(
        (from.store.as_str(), from.snapshot.as_str()),
        ("alice", "latest")
    );
    assert!(
        refused(
            kubectl(&env, &["restore", "alice", "alice-staging"])
                .await
                .0
        )
        .contains("a store named alice-staging already exists")
    );
    env.delete("alice-staging").await;
}
