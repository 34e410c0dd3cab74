//! The node tier: a Store's pods really run (crate `storefleet-envtest`, `node/`: containerd,
//! kubelet, kube-proxy and kube-scheduler on this machine, the harness's DNS and hostPath
//! storage), from the manifests as the operator renders them, unchanged, for both engines. The
//! images are STAND-INS built from Debian packages with the official images' start-up files
//! (`hack/node-images.sh`: Debian's PHP 8.2, MariaDB 10.11, PostgreSQL 15 and Redis 7.0 under the
//! official references; Storefleet's Medusa image built from `medusa/` on this machine's Node
//! 20), not the official images.

#[path = "real_node/backups.rs"]
mod backups;
mod common;
mod customer;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::Env;
use customer::Browser;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod, Secret, Service};
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams};
use storefleet_envtest::eventually;
use storefleet_operator::config::OperatorConfig;
use storefleet_types::Store;
use storefleet_types::names::{child, secret_keys};

const NS: &str = "store-alice";

/// WooCommerce and Storefront from the fixtures (`STOREFLEET_WORDPRESS_FIXTURES`): with no
/// internet here, the setup's `wp plugin install` cannot download them.
fn fixtures(test: &str) -> Option<PathBuf> {
    match std::env::var_os("STOREFLEET_WORDPRESS_FIXTURES").filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            println!(
                "skipped: {test}: real node tier needs STOREFLEET_WORDPRESS_FIXTURES (WooCommerce, Storefront; see README, \"Test tiers\")"
            );
            None
        }
    }
}

/// Runs a command; its output. A failure names the program and its arguments (never its
/// environment, where a password may be).
fn run(cmd: &mut Command) -> String {
    let shown = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The folder behind a claim of `namespace` (the hostPath provisioner's), once it is bound and
/// open.
async fn volume_folder(env: &Env, namespace: &str, claim: &str) -> PathBuf {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(env.admin.clone(), namespace);
    let volumes: Api<PersistentVolume> = Api::all(env.admin.clone());
    eventually(&format!("claim {claim} bound"), env.wait, || async {
        let volume = claims.get_opt(claim).await.ok()??.spec?.volume_name?;
        let path = volumes.get_opt(&volume).await.ok()??.spec?.host_path?.path;
        use std::os::unix::fs::PermissionsExt;
        let open = std::fs::metadata(&path).ok()?.permissions().mode() & 0o777 == 0o777;
        open.then(|| PathBuf::from(path))
    })
    .await
}

/// What `wp plugin install woocommerce` / `wp theme install storefront` would have put on the
/// storefront's volume, owned by www-data (uid 33), before the setup Job runs. Staged beside
/// and renamed into place, so the storefront's entrypoint (copying WordPress in as uid 33 at the
/// same time) never meets a root-owned `wp-content`.
fn preinstall(fixtures: &Path, folder: &Path) {
    let staging = folder.join(".storefleet-test-staging");
    for (from, to) in [
        ("woocommerce", "wp-content/plugins/woocommerce"),
        ("storefront", "wp-content/themes/storefront"),
    ] {
        let target = staging.join(to);
        std::fs::create_dir_all(&target).expect("staging folder");
        run(Command::new("cp")
            .arg("-R")
            .arg(format!("{}/.", fixtures.join(from).display()))
            .arg(&target));
    }
    run(Command::new("chown").args(["-R", "33:33"]).arg(&staging));
    let content = folder.join("wp-content");
    if std::fs::rename(staging.join("wp-content"), &content).is_err() {
        // The entrypoint made wp-content first: merge into it.
        run(Command::new("cp")
            .args(["-R", "-p"])
            .arg(format!("{}/.", staging.join("wp-content").display()))
            .arg(&content));
    }
    std::fs::remove_dir_all(&staging).expect("remove the staging folder");
}

/// `kubectl apply --server-side -f examples/<file>` of one Store.
async fn apply_example(env: &Env, yaml: &str) {
    let store: Store = serde_saphyr::from_str(yaml).expect("example");
    env.stores()
        .patch(
            &store.name_any(),
            &PatchParams::apply("kubectl").force(),
            &Patch::Apply(&store),
        )
        .await
        .expect("apply the example");
}

/// The folders of every volume (the hostPath provisioner's).
async fn volume_folders(env: &Env) -> Vec<PathBuf> {
    Api::<PersistentVolume>::all(env.admin.clone())
        .list(&ListParams::default())
        .await
        .expect("volumes")
        .items
        .into_iter()
        .filter_map(|v| v.spec?.host_path.map(|h| PathBuf::from(h.path)))
        .collect()
}

/// Deletes the store `name` and checks that nothing it made is left: no namespace, volume,
/// volume folder or running container.
async fn delete_leaves_nothing(env: &Env, name: &str, namespace: &str) {
    let node = env.cp.real_node().expect("real node");
    let folders = volume_folders(env).await;
    assert!(!folders.is_empty(), "the store had volumes");
    env.delete(name).await;
    env.wait_gone(name).await;
    env.wait_namespace_gone(namespace).await;
    let volumes: Api<PersistentVolume> = Api::all(env.admin.clone());
    eventually("no volume left", env.wait, || async {
        volumes
            .list(&ListParams::default())
            .await
            .ok()
            .filter(|l| l.items.is_empty())
    })
    .await;
    for folder in &folders {
        assert!(!folder.exists(), "{} removed", folder.display());
    }
    eventually("no container running", env.wait, || async {
        node.ctr(&["tasks", "ls", "-q"])
            .ok()
            .filter(|tasks| tasks.trim().is_empty())
    })
    .await;
}

/// A query on alice's MariaDB pod (as it is now) with the store's own database login.
async fn mariadb(env: &Env) -> impl Fn(&str) -> String {
    let credentials = Api::<Secret>::namespaced(env.admin.clone(), NS)
        .get("database-credentials")
        .await
        .expect("database credentials");
    let database_ip = Api::<Pod>::namespaced(env.admin.clone(), NS)
        .get("database-0")
        .await
        .expect("database pod")
        .status
        .and_then(|s| s.pod_ip)
        .expect("database pod IP");
    move |query: &str| {
        run(Command::new("mariadb")
            .args(["--batch", "--skip-column-names", "-h", &database_ip])
            .arg(format!("-u{}", secret_value(&credentials, "username")))
            .env("MYSQL_PWD", secret_value(&credentials, "password"))
            .arg(secret_value(&credentials, "database"))
            .args(["-e", query]))
    }
}

/// `spec.hibernate` on real pods: the time until no pod of the store runs, and until it is Ready
/// again (the wake time: MariaDB's and WordPress's start and their probes), printed.
async fn hibernate_and_wake(env: &Env, browser: &Browser) {
    let pods: Api<Pod> = Api::namespaced(env.admin.clone(), NS);
    let started = Instant::now();
    env.patch("alice", serde_json::json!({"spec": {"hibernate": true}}))
        .await;
    env.wait_condition("alice", "Hibernated", "every pod stopped", |c| {
        c.status == "True"
    })
    .await;
    let asleep = started.elapsed();
    let left: Vec<String> = pods
        .list(&ListParams::default())
        .await
        .expect("pods")
        .items
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .map(ResourceExt::name_any)
        .collect();
    assert!(left.is_empty(), "no pod runs: {left:?}");
    let started = Instant::now();
    env.patch("alice", serde_json::json!({"spec": {"hibernate": false}}))
        .await;
    env.wait_ready("alice").await;
    let woken = started.elapsed();
    browser.shop_lists_sample_products(3);
    println!(
        "node tier: alice hibernated (no pod left) in {:.1} s, woke to Ready in {:.1} s",
        asleep.as_secs_f64(),
        woken.as_secs_f64()
    );
}

fn secret_value(secret: &Secret, key: &str) -> String {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .unwrap_or_else(|| panic!("secret key {key}"));
    String::from_utf8(bytes.0.clone()).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_woocommerce_store_goes_ready_on_real_pods_sells_and_leaves_nothing_when_deleted() {
    const TEST: &str =
        "a_woocommerce_store_goes_ready_on_real_pods_sells_and_leaves_nothing_when_deleted";
    let Some(fixtures) = fixtures(TEST) else {
        return;
    };
    // With Garage (`STOREFLEET_GARAGE`) the operator has a backup target on the node's bridge,
    // where the pods reach it.
    let garage = match storefleet_envtest::object_store::garage() {
        Ok(garage) => Some(garage),
        Err(why) => {
            println!("skipped: backups on real pods: {why}");
            None
        }
    };
    let s3_port = storefleet_envtest::ports::free_port().expect("a port");
    let mut config = OperatorConfig::default();
    if garage.is_some() {
        config.backup = Some(backups::config(s3_port));
    }
    let images = [
        &config.images.wordpress,
        &config.images.mariadb,
        &config.images.wp_cli,
        &config.images.restic,
    ]
    .map(|image| image.reference(None));
    let Some(env) = Env::start_on_real_node(TEST, config, &images).await else {
        return;
    };
    println!(
        "node tier: stand-in images (Debian packages + the official start-up files), not the official images"
    );
    let started = Instant::now();
    let object_store = match &garage {
        Some(garage) => Some(backups::start(&env, garage, s3_port).await),
        None => None,
    };

    apply_example(&env, include_str!("../../../examples/minimal.yaml")).await;

    let files = volume_folder(&env, NS, "storefront-data").await;
    preinstall(&fixtures, &files);
    let ready = env.wait_ready("alice").await;
    println!(
        "node tier: alice Ready on real pods after {:.0?}",
        started.elapsed()
    );
    let url = ready.status.and_then(|s| s.url).expect("url");
    let host = url.trim_start_matches("http://").to_string();

    // The storefront serves the shop with its sample products through its Service.
    let service = Api::<Service>::namespaced(env.admin.clone(), NS)
        .get("storefront")
        .await
        .expect("storefront service");
    let ip = service.spec.and_then(|s| s.cluster_ip).expect("cluster IP");
    let jar = env.cp.dir().join("cookies");
    let browser = Browser {
        jar,
        address: format!("{ip}:80"),
        host,
    };
    browser.shop_lists_sample_products(3);
    let (methods, nonce) = browser.payment_methods();
    assert_eq!(methods, ["cod"]);

    // The setup Job's test order and a customer's order are in the database.
    let order = browser.order_with_cash_on_delivery(&nonce);
    let sql = mariadb(&env).await;
    let test_order =
        sql("SELECT option_value FROM wp_options WHERE option_name = 'storefleet_test_order_id'");
    assert!(!test_order.is_empty(), "setup remembered its test order");
    // Orders live in WooCommerce's own tables (HPOS) or as posts, as the shop is set.
    let hpos = sql(
        "SELECT option_value FROM wp_options WHERE option_name = 'woocommerce_custom_orders_table_enabled'",
    ) == "yes";
    for id in [&test_order, &order] {
        let query = if hpos {
            format!("SELECT COUNT(*) FROM wp_wc_orders WHERE id = {id} AND payment_method = 'cod'")
        } else {
            format!(
                "SELECT COUNT(*) FROM wp_posts p JOIN wp_postmeta m ON m.post_id = p.ID \
                 WHERE p.ID = {id} AND p.post_type = 'shop_order' \
                 AND m.meta_key = '_payment_method' AND m.meta_value = 'cod'"
            )
        };
        assert_eq!(
            sql(&query),
            "1",
            "order {id} is in the database (HPOS: {hpos})"
        );
    }

    // Hibernate and wake on real pods: every pod stops, the shop comes back with its orders.
    let count_orders = if hpos {
        "SELECT COUNT(*) FROM wp_wc_orders WHERE type = 'shop_order'"
    } else {
        "SELECT COUNT(*) FROM wp_posts WHERE post_type = 'shop_order'"
    };
    let orders_before = sql(count_orders);
    hibernate_and_wake(&env, &browser).await;
    // The database pod is a new one since the wake.
    let sql = mariadb(&env).await;
    assert_eq!(
        sql(count_orders),
        orders_before,
        "the orders are there after the wake"
    );

    // Backups on real pods: a backup now, a drill, a new store restored from the backup.
    if object_store.is_some() {
        let orders: i64 = sql(count_orders).parse().expect("a count");
        backups::on_real_pods(&env, orders, count_orders).await;
    }

    // Deleting the store leaves no pod, volume or folder behind.
    delete_leaves_nothing(&env, "alice", NS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_medusa_store_migrates_goes_ready_on_real_pods_sells_and_leaves_nothing_when_deleted() {
    const TEST: &str =
        "a_medusa_store_migrates_goes_ready_on_real_pods_sells_and_leaves_nothing_when_deleted";
    const NS: &str = "store-bob";
    for program in [
        storefleet_envtest::browser::CHROMIUM,
        storefleet_envtest::browser::CHROMEDRIVER,
        "/usr/bin/psql",
    ] {
        if !Path::new(program).exists() {
            println!(
                "skipped: {TEST}: real node tier needs {program} (make test-deps; see README, \"Test tiers\")"
            );
            return;
        }
    }
    let config = OperatorConfig::default();
    let images = [
        &config.images.medusa,
        &config.images.postgres,
        &config.images.redis,
    ]
    .map(|image| image.reference(None));
    let Some(env) = Env::start_on_real_node(TEST, config, &images).await else {
        return;
    };
    println!(
        "node tier: stand-in images (Debian's PostgreSQL 15 and Redis 7.0 with entrypoints of the official ones' behaviour; medusa/ built on this machine's Node 20), not the official images"
    );
    let started = Instant::now();

    apply_example(&env, include_str!("../../../examples/medusa.yaml")).await;
    let ready = env.wait_ready("bob").await;
    println!(
        "node tier: bob Ready on real pods after {:.0?}",
        started.elapsed()
    );
    let status = ready.status.expect("status");
    let url = status.url.expect("url");
    assert_eq!(url, "http://bob.shop.local/shop");

    // The migration Job ran to success on the node; the server and the worker pass their
    // /health probes.
    let jobs: Vec<Job> = env.children(NS, "bob").await;
    let migration = jobs
        .iter()
        .find(|j| j.name_any().starts_with(child::MIGRATION_JOB_PREFIX))
        .expect("the migration Job");
    assert_eq!(
        migration.status.as_ref().and_then(|s| s.succeeded),
        Some(1),
        "{:?}",
        migration.status
    );
    let deployments: Api<Deployment> = Api::namespaced(env.admin.clone(), NS);
    for name in [child::STOREFRONT, child::WORKER] {
        let available = deployments
            .get(name)
            .await
            .expect("deployment")
            .status
            .and_then(|s| s.available_replicas);
        assert_eq!(available, Some(1), "{name} is available (its probes pass)");
    }

    // Through the storefront's Service: the health check, the admin, the storefront.
    let ip = Api::<Service>::namespaced(env.admin.clone(), NS)
        .get(child::STOREFRONT)
        .await
        .expect("storefront service")
        .spec
        .and_then(|s| s.cluster_ip)
        .expect("cluster IP");
    let http = Browser {
        jar: env.cp.dir().join("cookies"),
        address: format!("{ip}:80"),
        host: "bob.shop.local".into(),
    };
    let (code, _, body) = http.request("GET", "/health", &[], None);
    assert_eq!((code, body.as_str()), (200, "OK"));
    for page in ["/app/", "/shop"] {
        let (code, _, body) = http.request("GET", page, &[], None);
        assert_eq!(code, 200, "{page}: {body}");
    }

    // A customer buys in the storefront, in Chromium, the shop's name resolving to its Service.
    let browser = storefleet_envtest::browser::Browser::start_resolving(&[("bob.shop.local", &ip)])
        .await
        .expect("headless Chromium");
    customer::medusa::buys_a_sample_product(&browser, &url, "Bob's Bikes", "customer@example.com")
        .await;
    drop(browser);

    // The setup Job's test order and the customer's order are in PostgreSQL.
    let credentials = Api::<Secret>::namespaced(env.admin.clone(), NS)
        .get(child::DATABASE_SECRET)
        .await
        .expect("database credentials");
    let database_ip = Api::<Pod>::namespaced(env.admin.clone(), NS)
        .get(&format!("{}-0", child::DATABASE))
        .await
        .expect("database pod")
        .status
        .and_then(|s| s.pod_ip)
        .expect("database pod IP");
    let emails = run(Command::new("psql")
        .args(["-h", &database_ip, "-At", "-v", "ON_ERROR_STOP=1"])
        .args(["-U", &secret_value(&credentials, secret_keys::DB_USER)])
        .args(["-d", &secret_value(&credentials, secret_keys::DB_NAME)])
        .env(
            "PGPASSWORD",
            secret_value(&credentials, secret_keys::DB_PASSWORD),
        )
        .args([
            "-c",
            "SELECT email FROM \"order\" WHERE deleted_at IS NULL ORDER BY created_at",
        ]));
    let emails: Vec<&str> = emails.lines().collect();
    assert_eq!(
        emails.len(),
        2,
        "the test order and the customer's: {emails:?}"
    );
    assert_eq!(emails[1], "customer@example.com");

    delete_leaves_nothing(&env, "bob", NS).await;
}
