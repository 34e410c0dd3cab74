//! Backups on real pods: Garage on the node's bridge (where pods reach the host), the platform's
//! Secrets in the release namespace, and the operator's backup, drill and restore pods run by the
//! real kubelet from the stand-in images (Debian's restic under `restic/restic:0.18.0`, Debian's
//! MariaDB under the MariaDB reference). What only a real kubelet shows: the pods start
//! restricted and read-only, their reports reach the status through real termination messages,
//! and a new store restored from a backup provisions, restores before its setup, is adopted and
//! becomes Ready with the old shop's orders. NetworkPolicies are not enforced by this node's
//! bridge CNI: the backup policy is applied, not exercised.

use std::path::Path;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use serde_json::json;
use storefleet_envtest::node::files::BRIDGE_ADDRESS;
use storefleet_envtest::object_store::{self, ObjectStore};
use storefleet_operator::config::{BackupConfig, Retention, S3Target};
use storefleet_operator::desired::backup::keys;
use storefleet_types::names::{self, child};
use storefleet_types::{RestoreFromSpec, Store};

use crate::common::{self, Env};

const BUCKET: &str = "node-backups";
const KEY_SECRET: &str = "backup-key";
const S3_SECRET: &str = "backup-s3";

/// The backup target: Garage's S3 API on the bridge at `port`.
pub fn config(port: u16) -> BackupConfig {
    BackupConfig {
        s3: S3Target {
            endpoint: format!("http://{BRIDGE_ADDRESS}:{port}"),
            bucket: BUCKET.into(),
            region: object_store::REGION.into(),
            prefix: "stores".into(),
        },
        secrets_namespace: common::RELEASE_NAMESPACE.into(),
        credentials_secret: S3_SECRET.into(),
        key_secret: KEY_SECRET.into(),
        egress_cidrs: vec![format!("{BRIDGE_ADDRESS}/32").parse().expect("cidr")],
        schedule: "0 3 * * *".into(),
        retention: Retention::default(),
        drill_schedule: "0 5 * * 0".into(),
        drill_concurrency: 2,
        store_credentials: false,
    }
}

/// Starts Garage on the bridge and creates the platform's Secrets.
pub async fn start(env: &Env, garage: &Path, port: u16) -> ObjectStore {
    let store = ObjectStore::start_on(garage, BUCKET, BRIDGE_ADDRESS, Some(port)).expect("garage");
    let secrets: Api<Secret> = Api::namespaced(env.admin.clone(), common::RELEASE_NAMESPACE);
    for (name, data) in [
        (
            KEY_SECRET,
            vec![("key", b"node-tier-platform-key-0123456789abcdef".to_vec())],
        ),
        (
            S3_SECRET,
            vec![
                (keys::ACCESS_KEY, store.access_key().as_bytes().to_vec()),
                (keys::SECRET_KEY, store.secret_key().as_bytes().to_vec()),
            ],
        ),
    ] {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            data: Some(
                data.into_iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v)))
                    .collect(),
            ),
            ..Secret::default()
        };
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .expect("a platform Secret");
    }
    store
}

/// Alice's shop (with `orders` orders) is backed up now, drilled, and restored into the new
/// store `alice-copy`, which becomes Ready with those orders and is deleted again.
pub async fn on_real_pods(env: &Env, orders: i64, count_orders: &str) {
    let ns = "store-alice";
    // A backup now: its pods' report becomes status.backup.last.
    env.patch(
        "alice",
        json!({"metadata": {"annotations": {names::BACKUP_NOW_ANNOTATION: "node-1"}}}),
    )
    .await;
    let store = env
        .wait_store("alice", "status.backup.last", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| s.backup.as_ref())
                .and_then(|b| b.last.as_ref())
                .is_some()
        })
        .await
        .expect("alice");
    let status = store.status.expect("status");
    let last = status.backup.and_then(|b| b.last).expect("last");
    println!("node tier: backed up on real pods: {last:?}");
    assert_eq!(last.orders, Some(orders), "the backup counted the orders");
    assert_eq!(last.products, Some(3));
    let snapshot = last
        .snapshot
        .clone()
        .expect("the snapshot, from the pod's report");
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "BackupReady" && c.status == "True"),
        "{:?}",
        status.conditions
    );
    // The pods ran restricted, with no ServiceAccount token, as www-data.
    let pods = Api::<Pod>::namespaced(env.admin.clone(), ns)
        .list(&kube::api::ListParams::default().labels("app.kubernetes.io/component=backup"))
        .await
        .expect("backup pods");
    let pod = pods.items.first().expect("the backup pod");
    let spec = pod.spec.as_ref().expect("spec");
    assert_eq!(spec.automount_service_account_token, Some(false));
    assert_eq!(
        spec.security_context.as_ref().and_then(|s| s.run_as_user),
        Some(33)
    );

    // The first backup is drilled at once, on real pods: its throwaway namespace, the newest
    // backup restored there, the shop's own MariaDB and WordPress started as sidecars on it,
    // the home page, the products and an admin login checked through the drill's Service;
    // BackupVerified and lastVerifiedRestore from the check's report; the namespace removed.
    let store = env
        .wait_store("alice", "a verified restore", |s| {
            s.and_then(|s| s.status.as_ref())
                .and_then(|s| s.backup.as_ref())
                .and_then(|b| b.last_verified_restore.as_ref())
                .is_some()
        })
        .await
        .expect("alice");
    let status = store.status.expect("status");
    let proven = status
        .backup
        .and_then(|b| b.last_verified_restore)
        .expect("proven");
    println!("node tier: drilled on real pods: {proven:?}");
    env.wait_namespace_gone(&format!("{}alice", names::DRILL_NAMESPACE_PREFIX))
        .await;
    assert_eq!(proven.snapshot.as_deref(), Some(snapshot.as_str()));
    assert_eq!(proven.orders, Some(orders));
    assert!(proven.seconds.is_some());
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "BackupVerified" && c.status == "True"),
        "{:?}",
        status.conditions
    );

    // A new store restored from that backup: restore before setup, adopted, Ready, with the
    // orders; a clone of another store is a staging shop.
    let mut copy: Store =
        serde_saphyr::from_str(include_str!("../../../../examples/minimal.yaml")).expect("example");
    copy.metadata.name = Some("alice-copy".into());
    copy.spec.restore_from = Some(RestoreFromSpec {
        store: "alice".into(),
        snapshot: snapshot.clone(),
    });
    env.create(copy).await;
    let ready = env.wait_ready("alice-copy").await;
    let status = ready.status.expect("status");
    assert!(
        status
            .completed_restore
            .as_deref()
            .is_some_and(|j| j.starts_with(child::RESTORE_JOB_PREFIX)),
        "{status:?}"
    );
    let storefront = Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(
        env.admin.clone(),
        "store-alice-copy",
    )
    .get(child::STOREFRONT)
    .await
    .expect("the copy's storefront");
    let env_vars = storefront
        .spec
        .template
        .spec
        .map(|p| p.containers[0].env.clone().unwrap_or_default())
        .unwrap_or_default();
    assert!(
        env_vars
            .iter()
            .any(|v| v.name == "WP_ENVIRONMENT_TYPE" && v.value.as_deref() == Some("staging")),
        "a clone runs as a staging shop"
    );
    let copy_ns = "store-alice-copy";
    let credentials = Api::<Secret>::namespaced(env.admin.clone(), copy_ns)
        .get("database-credentials")
        .await
        .expect("the copy's database credentials");
    let ip = Api::<Pod>::namespaced(env.admin.clone(), copy_ns)
        .get("database-0")
        .await
        .expect("the copy's database pod")
        .status
        .and_then(|s| s.pod_ip)
        .expect("its IP");
    let counted = crate::run(
        std::process::Command::new("mariadb")
            .args(["--batch", "--skip-column-names", "-h", &ip])
            .arg(format!(
                "-u{}",
                crate::secret_value(&credentials, "username")
            ))
            .env("MYSQL_PWD", crate::secret_value(&credentials, "password"))
            .arg(crate::secret_value(&credentials, "database"))
            .args(["-e", count_orders]),
    );
    assert_eq!(
        counted.trim(),
        orders.to_string(),
        "the restored store holds alice's orders"
    );
    println!("node tier: alice-copy restored from snapshot {snapshot} and Ready on real pods");
    env.delete("alice-copy").await;
    env.wait_gone("alice-copy").await;
    env.wait_namespace_gone("store-alice-copy").await;
}
