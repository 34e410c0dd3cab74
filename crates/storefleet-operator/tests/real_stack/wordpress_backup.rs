//! Backups on the real stack: a WooCommerce shop (as `wordpress` runs it: Debian's MariaDB, the
//! released WordPress, WooCommerce and WP-CLI), Debian's restic, and a real S3-compatible object
//! store on loopback (Garage, `STOREFLEET_GARAGE`). The scripts run with exactly the environment
//! the backup CronJob's and the restore Job's containers get (the Secrets materialized, the
//! repository Secret built as the operator builds it), as www-data; four variables differ
//! because a Service name and volume mounts do not exist outside a cluster: `WORDPRESS_DB_HOST`,
//! `BACKUP_ROOT`/`DUMP_DIR`, `RESTORED` and `DOCROOT`.
//!
//! Orders before the backup come back, the ones after it do not, media are byte-identical, the
//! shop serves and sells again; a corrupted object makes the restore fail loudly; the retention
//! leaves only what it keeps.

use crate::customer::Browser;
use crate::wordpress::{Shop, WWW_DATA, resolve_env, run, serve, start_shop_with, tier, which};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Secret};
use storefleet_envtest::object_store::{self, ObjectStore};
use storefleet_operator::config::{BackupConfig, OperatorConfig, Retention, S3Target};
use storefleet_operator::desired::backup::drill::build_drill;
use storefleet_operator::desired::backup::pods::{build_backup_cron_job, build_restore_job};
use storefleet_operator::desired::backup::{self, BucketKey};
use storefleet_operator::desired::backup_parts;
use storefleet_types::{SetupSpec, Store};

/// The platform key of this test (a real one is 32 random bytes in a Secret).
const PLATFORM_KEY: &[u8] = b"storefleet-test-platform-key-0123456789";

/// Garage, restic and mariadb-dump, or None after one `skipped:` line.
fn backup_tier() -> Option<PathBuf> {
    let garage = match object_store::garage() {
        Ok(garage) => garage,
        Err(why) => {
            println!("skipped: backup tier not available ({why}; see README, \"Test tiers\")");
            return None;
        }
    };
    for bin in ["restic", "mariadb-dump"] {
        if which(bin).is_none() {
            println!("skipped: backup tier not available ({bin} is not installed: make test-deps)");
            return None;
        }
    }
    Some(garage)
}

pub(crate) fn config(store: &ObjectStore) -> OperatorConfig {
    OperatorConfig {
        backup: Some(BackupConfig {
            s3: S3Target {
                endpoint: store.endpoint(),
                bucket: store.bucket().into(),
                region: object_store::REGION.into(),
                prefix: "stores".into(),
            },
            secrets_namespace: "storefleet-system".into(),
            credentials_secret: "backup-s3".into(),
            key_secret: "backup-key".into(),
            egress_cidrs: vec!["127.0.0.1/32".parse().expect("cidr")],
            schedule: "0 3 * * *".into(),
            retention: Retention {
                daily: 2,
                weekly: 0,
                monthly: 0,
            },
            drill_schedule: "0 5 * * 0".into(),
            drill_concurrency: 2,
            store_credentials: false,
        }),
        ..OperatorConfig::default()
    }
}

/// A folder www-data owns.
fn folder(shop: &Shop, name: &str) -> PathBuf {
    let dir = shop.path().join(name);
    std::fs::create_dir_all(&dir).expect("folder");
    run(Command::new("chown")
        .arg(format!("{WWW_DATA}:{WWW_DATA}"))
        .arg(&dir));
    dir
}

/// Runs one container's command as the pod would (as www-data), with its environment resolved
/// and `changes` applied; the script from the ConfigMap.
fn run_container(
    shop: &Shop,
    container: &Container,
    secrets: &[Secret],
    changes: &[(&str, String)],
) -> Output {
    let mut env: BTreeMap<String, String> = resolve_env(container, secrets);
    assert_eq!(
        env.get("WORDPRESS_DB_HOST")
            .map_or("database:3306", String::as_str),
        "database:3306",
        "the pod talks to the database Service"
    );
    if env.contains_key("WORDPRESS_DB_HOST") {
        env.insert(
            "WORDPRESS_DB_HOST".into(),
            format!("127.0.0.1:{}", shop.db_port),
        );
    }
    // The pod's /tmp (an emptyDir its containers share), unless the caller names one.
    let tmp = folder(shop, &format!("tmp-{}", container.name));
    env.insert("TMPDIR".into(), tmp.display().to_string());
    // What the kubelet would read into the container's status.
    env.insert(
        "TERMINATION_LOG".into(),
        folder(shop, "reports")
            .join(&container.name)
            .display()
            .to_string(),
    );
    for (k, v) in changes {
        env.insert((*k).into(), v.clone());
    }
    env.insert("PATH".into(), "/usr/bin:/bin:/usr/sbin:/sbin".into());
    let command = container.command.clone().expect("command");
    let scripts = folder(shop, "scripts");
    let script_name = Path::new(&command[1])
        .file_name()
        .expect("script")
        .to_string_lossy()
        .into_owned();
    let text = match script_name.as_str() {
        backup::RESTIC_KEY => backup::RESTIC_SCRIPT,
        backup::WOOCOMMERCE_KEY => backup::WOOCOMMERCE_SCRIPT,
        backup::WOOCOMMERCE_CHECK_KEY => backup::WOOCOMMERCE_CHECK,
        other => panic!("no script {other}"),
    };
    let script = scripts.join(&script_name);
    std::fs::write(&script, text).expect("script");
    let script = script.display().to_string();
    // The interpreter, the script, its arguments.
    let mut args: Vec<&str> = vec![command[0].as_str(), &script];
    args.extend(command[2..].iter().map(String::as_str));
    shop.as_www_data(&env, &args)
        .output()
        .expect("run container")
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The shop's secrets with the repository Secret as the operator builds it.
pub(crate) fn secrets(shop: &Shop, store: &ObjectStore) -> Vec<Secret> {
    let resolved = shop.validated.backup.as_ref().expect("backup configured");
    let password = backup::repository_password(PLATFORM_KEY, &resolved.owner, &shop.validated.name);
    let bucket = BucketKey {
        access_key: store.access_key().into(),
        secret_key: store.secret_key().into(),
    };
    let mut secrets = shop.secrets.clone();
    secrets.push(backup::repository_secret(
        &shop.validated,
        resolved,
        &password,
        &bucket,
    ));
    // Restoring its own backups: the restore repository is its own.
    let own = storefleet_operator::validate::ResolvedRestore {
        store: shop.validated.name.clone(),
        repository: resolved.repository.clone(),
        snapshot: "latest".into(),
        rollback: false,
    };
    secrets.push(backup::restore_secret(
        &shop.validated,
        resolved,
        &own,
        &password,
        &bucket,
    ));
    secrets
}

/// One backup, as the CronJob's pod runs it: `dump`, then `restic`. The snapshot id.
fn back_up(shop: &Shop, store: &ObjectStore) -> String {
    back_up_with_report(shop, store).0
}

/// [`back_up`], with its report as the operator records it.
fn back_up_with_report(
    shop: &Shop,
    store: &ObjectStore,
) -> (String, storefleet_types::BackupRecord) {
    let resolved = shop.validated.backup.as_ref().expect("backup");
    let cron = build_backup_cron_job(&shop.validated, resolved, &backup_parts(&shop.validated));
    let pod = cron
        .spec
        .job_template
        .spec
        .and_then(|j| j.template.spec)
        .expect("pod");
    back_up_pod(shop, store, &pod, &[])
}

/// One backup as the pod `pod` (a backup Job's) runs it, restic's variables changed by `changes`.
pub(crate) fn back_up_pod(
    shop: &Shop,
    store: &ObjectStore,
    pod: &k8s_openapi::api::core::v1::PodSpec,
    changes: &[(&str, String)],
) -> (String, storefleet_types::BackupRecord) {
    let root = folder(shop, "backup");
    let dump_dir = root.join("dump");
    let _ = std::fs::remove_dir_all(&dump_dir);
    let files = root.join("files");
    if !files.exists() {
        std::os::unix::fs::symlink(&shop.docroot, &files).expect("files");
    }
    let secrets = secrets(shop, store);
    let dump = &pod.init_containers.as_ref().expect("init")[0];
    let out = run_container(
        shop,
        dump,
        &secrets,
        &[("DUMP_DIR", dump_dir.display().to_string())],
    );
    assert!(out.status.success(), "dump: {}", text(&out));
    let mut restic_changes = vec![("BACKUP_ROOT", root.display().to_string())];
    restic_changes.extend(changes.iter().cloned());
    let out = run_container(shop, &pod.containers[0], &secrets, &restic_changes);
    assert!(out.status.success(), "restic backup: {}", text(&out));
    let log = text(&out);
    let snapshot = log
        .lines()
        .find_map(|l| l.strip_prefix("storefleet-backup: snapshot "))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no snapshot id in {log}"));
    // Its report, as the operator reads it into status.backup.last.
    let record = report(shop, "restic");
    assert_eq!(record.snapshot.as_deref(), Some(snapshot.as_str()));
    let orders: i64 = shop
        .wp(&["eval", "echo count(wc_get_orders(array('limit' => -1)));"])
        .parse()
        .expect("count");
    assert_eq!(record.orders, Some(orders), "the report counts the orders");
    assert_eq!(record.products, Some(2));
    assert!(record.bytes.is_some_and(|b| b > 100_000), "{record:?}");
    assert!(record.seconds.is_some() && record.snapshot_time.is_some());
    (snapshot, record)
}

/// The report the container `container` left (its termination message), as the operator
/// records it.
fn report(shop: &Shop, container: &str) -> storefleet_types::BackupRecord {
    let path = shop.path().join("reports").join(container);
    let message = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    let _ = std::fs::remove_file(&path);
    storefleet_operator::controller::backups::record_of("job", "now", Some(&message))
}

/// One restore of `snapshot`, as the restore Job's pod runs it: `restic`, then `load`.
fn restore(shop: &Shop, store: &ObjectStore, snapshot: &str) -> Result<String, String> {
    let resolved = shop.validated.backup.as_ref().expect("backup");
    let job = build_restore_job(
        &shop.validated,
        resolved,
        &backup_parts(&shop.validated),
        &shop.validated.name,
        snapshot,
    );
    restore_job(shop, job, &secrets(shop, store), snapshot)
}

/// Runs a restore Job's pod as the cluster would: `restic`, then `load`.
pub(crate) fn restore_job(
    shop: &Shop,
    job: k8s_openapi::api::batch::v1::Job,
    secrets: &[Secret],
    snapshot: &str,
) -> Result<String, String> {
    let pod = job.spec.and_then(|j| j.template.spec).expect("pod");
    let restored = folder(shop, &format!("restored-{snapshot}"));
    let fetch = &pod.init_containers.as_ref().expect("init")[0];
    let out = run_container(
        shop,
        fetch,
        secrets,
        &[("RESTORED", restored.display().to_string())],
    );
    if !out.status.success() {
        return Err(text(&out));
    }
    let load = &pod.containers[0];
    let out = run_container(
        shop,
        load,
        secrets,
        &[
            ("RESTORED", restored.display().to_string()),
            ("DUMP_DIR", restored.join("dump").display().to_string()),
            ("DOCROOT", shop.docroot.display().to_string()),
        ],
    );
    if out.status.success() {
        Ok(text(&out))
    } else {
        Err(text(&out))
    }
}

/// The shop of these tests: two sample products.
pub(crate) fn shop_store() -> Store {
    Store::test().with_setup(SetupSpec {
        sample_products: Some(2),
        ..SetupSpec::default()
    })
}

/// One drill, as its pod runs it (`desired/backup/drill.rs`): `restic` restores the newest
/// snapshot; the drill's own database and WordPress (the sidecars: here a second MariaDB and
/// WordPress tree as the images lay them out, with Secrets of their own, as the drill's are);
/// `load` loads the snapshot into them and hands the check an administrator with a one-time
/// password and products; WordPress serves the restored files (`php -S`, the Service's
/// stand-in); `check` opens the home page and the products and logs the admin in. Its report
/// (as the operator records it in `lastVerifiedRestore`) and the containers' output.
fn drill(
    shop: &Shop,
    store: &ObjectStore,
    fixtures: &Path,
) -> Result<(storefleet_types::BackupRecord, String), String> {
    drill_spoiled(shop, store, fixtures, |_| {})
}

/// [`drill`], with `spoil` done to what restic restored before the load (a backup that restores
/// but is not a shop).
fn drill_spoiled(
    shop: &Shop,
    store: &ObjectStore,
    fixtures: &Path,
    spoil: impl Fn(&Path),
) -> Result<(storefleet_types::BackupRecord, String), String> {
    let resolved = shop.validated.backup.as_ref().expect("backup");
    let parts = backup_parts(&shop.validated);
    let objects = build_drill(
        &shop.validated,
        &shop.objects,
        resolved,
        &parts,
        "drill-1",
        None,
    );
    let pod = objects.job.spec.and_then(|j| j.template.spec).expect("pod");
    let init = pod.init_containers.clone().unwrap_or_default();
    let names: Vec<&str> = init.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["restic", "mariadb", "load", "wordpress"],
        "fetch, the database, the load, the storefront"
    );
    assert_eq!(
        init[1].restart_policy.as_deref(),
        Some("Always"),
        "a sidecar"
    );
    assert_eq!(
        init[3].restart_policy.as_deref(),
        Some("Always"),
        "a sidecar"
    );
    let copy = start_shop_with(fixtures, shop_store(), &config(store));
    let restored = folder(&copy, "restored");
    let drill_dir = folder(&copy, "drill");
    let tmp = folder(&copy, "pod-tmp").display().to_string();
    let mut log = String::new();
    let mut step = |copy: &Shop, container: &Container, changes: &[(&str, String)]| {
        let out = run_container(copy, container, &secrets(copy, store), changes);
        log.push_str(&text(&out));
        if out.status.success() {
            Ok(())
        } else {
            Err(log.clone())
        }
    };
    let common = [
        ("RESTORED", restored.display().to_string()),
        ("DRILL_DIR", drill_dir.display().to_string()),
        ("TMPDIR", tmp.clone()),
    ];
    step(&copy, &init[0], &common)?;
    spoil(&restored);
    let mut load = common.to_vec();
    load.extend([
        ("DUMP_DIR", restored.join("dump").display().to_string()),
        ("DOCROOT", copy.docroot.display().to_string()),
    ]);
    step(&copy, &init[2], &load)?;
    let (_php, port) = serve(&copy);
    let mut check = common.to_vec();
    check.push(("STOREFRONT", format!("http://127.0.0.1:{port}")));
    step(&copy, &pod.containers[0], &check)?;
    Ok((report(&copy, "check"), log))
}

/// A new order for the first product; its id.
pub(crate) fn order(shop: &Shop) -> String {
    let id = shop.wp(&[
        "eval",
        "$p = wc_get_products(array('limit' => 1)); $o = wc_create_order(); $o->add_product($p[0], 1); $o->calculate_totals(); $o->set_status('processing'); $o->save(); echo $o->get_id();",
    ]);
    assert!(id.parse::<u64>().is_ok(), "an order id: {id}");
    id
}

pub(crate) fn order_exists(shop: &Shop, id: &str) -> bool {
    shop.wp(&["eval", &format!("echo wc_get_order({id}) ? 'yes' : 'no';")]) == "yes"
}

pub(crate) fn snapshots(store: &ObjectStore, shop: &Shop) -> usize {
    let resolved = shop.validated.backup.as_ref().expect("backup");
    let out = run(Command::new("restic")
        .args(["snapshots", "--json", "--no-lock"])
        .env("RESTIC_REPOSITORY", &resolved.repository)
        .env(
            "RESTIC_PASSWORD",
            backup::repository_password(PLATFORM_KEY, &resolved.owner, &shop.validated.name),
        )
        .env("AWS_ACCESS_KEY_ID", store.access_key())
        .env("AWS_SECRET_ACCESS_KEY", store.secret_key())
        .env("AWS_DEFAULT_REGION", object_store::REGION)
        .env("RESTIC_CACHE_DIR", shop.path().join("restic-cache-host")));
    let list: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).expect("snapshots as JSON");
    list.len()
}

/// The WordPress fixtures, an object store and a shop set up with backups to it; None after one
/// `skipped:` line.
pub(crate) fn set_up_shop() -> Option<(PathBuf, ObjectStore, Shop)> {
    let fixtures = tier()?;
    let garage = backup_tier()?;
    let store = ObjectStore::start(&garage, "backups").expect("garage");
    let shop = start_shop_with(&fixtures, shop_store(), &config(&store));
    let out = shop.setup();
    assert!(out.status.success(), "setup: {}", text(&out));
    Some((fixtures, store, shop))
}

/// The pod of the store's backup CronJob.
pub(crate) fn pod_of_cron(shop: &Shop) -> k8s_openapi::api::core::v1::PodSpec {
    let resolved = shop.validated.backup.as_ref().expect("backup");
    build_backup_cron_job(&shop.validated, resolved, &backup_parts(&shop.validated))
        .spec
        .job_template
        .spec
        .and_then(|j| j.template.spec)
        .expect("pod")
}

#[test]
fn a_backup_restores_the_shop_as_it_was_and_a_corrupt_one_is_refused() {
    let Some((fixtures, store, shop)) = set_up_shop() else {
        return;
    };

    // Before the backup: an order and a media file.
    let before = order(&shop);
    let uploads = shop.docroot.join("wp-content/uploads/storefleet");
    let photo: Vec<u8> = (0..200_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::create_dir_all(&uploads).expect("uploads");
    std::fs::write(uploads.join("photo.jpg"), &photo).expect("photo");
    run(Command::new("chown")
        .args(["-R", &format!("{WWW_DATA}:{WWW_DATA}")])
        .arg(shop.docroot.join("wp-content/uploads")));
    let orders_then = shop.wp(&["eval", "echo count(wc_get_orders(array('limit' => -1)));"]);

    let snapshot = back_up(&shop, &store);
    println!("backed up: snapshot {snapshot} of a shop with {orders_then} orders");

    // After it: another order and another file; then the data is destroyed.
    let after = order(&shop);
    std::fs::write(uploads.join("later.jpg"), b"later").expect("later");
    let db = &resolve_env(
        &build_backup_cron_job(
            &shop.validated,
            shop.validated.backup.as_ref().expect("backup"),
            &backup_parts(&shop.validated),
        )
        .spec
        .job_template
        .spec
        .and_then(|j| j.template.spec)
        .expect("pod")
        .init_containers
        .expect("init")[0],
        &shop.secrets,
    );
    run(Command::new("mariadb")
        .args(["--no-defaults", "-uroot"])
        .arg(format!(
            "--socket={}",
            shop.path().join("mysql.sock").display()
        ))
        .args([
            "-e",
            &format!(
                "DROP DATABASE `{0}`; CREATE DATABASE `{0}`",
                db["WORDPRESS_DB_NAME"]
            ),
        ]));
    std::fs::remove_dir_all(shop.docroot.join("wp-content/uploads")).expect("rm uploads");

    let log = restore(&shop, &store, &snapshot).unwrap_or_else(|e| panic!("restore: {e}"));
    println!("{log}");
    assert!(
        order_exists(&shop, &before),
        "the order before the backup is back"
    );
    assert!(
        !order_exists(&shop, &after),
        "the order after the backup is not"
    );
    assert_eq!(
        shop.wp(&["eval", "echo count(wc_get_orders(array('limit' => -1)));"]),
        orders_then
    );
    assert_eq!(
        std::fs::read(uploads.join("photo.jpg")).expect("photo restored"),
        photo,
        "media are byte-identical"
    );
    assert!(
        !uploads.join("later.jpg").exists(),
        "nothing from after the backup"
    );

    // The shop serves its products and a customer buys again.
    let (_php, port) = serve(&shop);
    let browser = Browser {
        jar: shop.path().join("cookies"),
        address: format!("127.0.0.1:{port}"),
        host: "alice.shop.local".into(),
    };
    browser.shop_lists_sample_products(2);
    let (_, nonce) = browser.payment_methods();
    let bought = browser.order_with_cash_on_delivery(&nonce);
    assert!(
        order_exists(&shop, &bought),
        "a customer's order after the restore"
    );

    // A clone for staging: a new store of the same owner, restored from this one's latest
    // backup before its setup, which adopts the shop under its own admin and address. The
    // shop takes online payments (PayPal, live) and mails its customers; the clone must not.
    shop.wp(&[
        "option",
        "update",
        "woocommerce_paypal_settings",
        r#"{"enabled":"yes","testmode":"no","email":"payments@alice.example"}"#,
        "--format=json",
    ]);
    let mails = "$n = 0; add_action('phpmailer_init', function () use (&$n) { $n++; }); wp_mail('customer@example.com', 'Your order', 'Thanks'); echo $n;";
    assert_eq!(shop.wp(&["eval", mails]), "1", "the shop itself mails");
    let latest = back_up(&shop, &store);
    let orders_now = shop.wp(&["eval", "echo count(wc_get_orders(array('limit' => -1)));"]);
    let mut clone = Store::test().with_name("alice-staging");
    clone.spec.restore_from = Some(storefleet_types::RestoreFromSpec {
        store: "alice".into(),
        snapshot: latest.clone(),
    });
    let staging = start_shop_with(&fixtures, clone, &config(&store));
    let resolved = staging.validated.backup.as_ref().expect("backup");
    let restore_from = resolved.restore.as_ref().expect("restoreFrom");
    assert_eq!(
        restore_from.repository,
        shop.validated.backup.as_ref().expect("backup").repository
    );
    let bucket = BucketKey {
        access_key: store.access_key().into(),
        secret_key: store.secret_key().into(),
    };
    let password = backup::repository_password(PLATFORM_KEY, &resolved.owner, "alice");
    let mut clone_secrets = staging.secrets.clone();
    clone_secrets.push(backup::restore_secret(
        &staging.validated,
        resolved,
        restore_from,
        &password,
        &bucket,
    ));
    let job = staging
        .objects
        .backup
        .as_ref()
        .and_then(|b| b.restore_job.clone())
        .expect("the restore Job");
    let log = restore_job(&staging, job, &clone_secrets, &latest)
        .unwrap_or_else(|e| panic!("restoring the clone: {e}"));
    println!("{log}");
    let out = staging.setup();
    assert!(
        out.status.success(),
        "setup adopts the restored shop: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("adopting the shop restored from a backup of store alice"),
        "{}",
        text(&out)
    );
    let home = staging.wp(&[
        "eval",
        "global $wpdb; echo $wpdb->get_var(\"SELECT option_value FROM {$wpdb->options} WHERE option_name = 'home'\");",
    ]);
    assert_eq!(
        home, "http://alice-staging.shop.local",
        "moved to its own address"
    );
    let orders_clone: u64 = staging
        .wp(&["eval", "echo count(wc_get_orders(array('limit' => -1)));"])
        .parse()
        .expect("count");
    let orders_now: u64 = orders_now.parse().expect("count");
    assert!(
        orders_clone >= orders_now,
        "the clone holds alice's {orders_now} orders: {orders_clone}"
    );
    assert_eq!(
        std::fs::read(
            staging
                .docroot
                .join("wp-content/uploads/storefleet/photo.jpg")
        )
        .expect("the clone's media"),
        photo
    );
    // A staging shop: no e-mail leaves, PayPal is off and in test mode, only offline payment
    // methods are offered, search engines are kept away; the original is untouched.
    assert_eq!(
        staging
            .job_env()
            .get("WP_ENVIRONMENT_TYPE")
            .map(String::as_str),
        Some("staging")
    );
    assert!(
        text(&out).contains("staging clone: e-mail is off")
            && text(&out).contains("online payment gateways off"),
        "{}",
        text(&out)
    );
    assert_eq!(
        staging.wp(&["eval", "echo wp_get_environment_type();"]),
        "staging"
    );
    assert_eq!(staging.wp(&["eval", mails]), "0", "the clone mails no one");
    let paypal = staging.wp(&[
        "option",
        "get",
        "woocommerce_paypal_settings",
        "--format=json",
    ]);
    let paypal: serde_json::Value = serde_json::from_str(&paypal).expect("settings");
    assert_eq!(
        (paypal["enabled"].as_str(), paypal["testmode"].as_str()),
        (Some("no"), Some("yes")),
        "{paypal}"
    );
    assert_eq!(
        staging.wp(&[
            "eval",
            "echo implode(',', array_keys(WC()->payment_gateways()->get_available_payment_gateways()));",
        ]),
        "cod",
        "only the offline method the store offers"
    );
    assert_eq!(staging.wp(&["option", "get", "blog_public"]), "0");
    assert_eq!(shop.wp(&["eval", mails]), "1", "the original still mails");
    let original: serde_json::Value = serde_json::from_str(&shop.wp(&[
        "option",
        "get",
        "woocommerce_paypal_settings",
        "--format=json",
    ]))
    .expect("settings");
    assert_eq!(
        original["enabled"], "yes",
        "the original still takes payments"
    );
    let admin = staging.job_env()["ADMIN_USER"].clone();
    assert_eq!(
        staging.wp(&[
            "eval",
            "$u = get_user_by('login', getenv('ADMIN_USER')); echo wp_check_password(getenv('ADMIN_PASSWORD'), $u->user_pass, $u->ID) ? 'yes' : 'no';",
        ]),
        "yes",
        "the clone's admin ({admin}) logs in with the clone's password"
    );
    drop(staging);

    // Retention: more backups the same day; daily 2 keeps the day's last one.
    for _ in 0..2 {
        back_up(&shop, &store);
    }
    assert_eq!(snapshots(&store, &shop), 1, "only what the retention keeps");

    // A drill restores the newest backup into a database and WordPress of its own, and the
    // restored shop serves its home page and products and logs its admin in; the shop's own
    // database and files are not touched.
    let orders_before_drill =
        shop.wp(&["eval", "echo count(wc_get_orders(array('limit' => -1)));"]);
    let admin_hash = shop.wp(&["user", "get", "1", "--field=user_pass"]);
    let newest = back_up(&shop, &store);
    let (proven, log) = drill(&shop, &store, &fixtures).unwrap_or_else(|e| panic!("drill: {e}"));
    for line in [
        "storefleet-drill: home page: 200",
        "storefleet-drill: 2 product pages: 200",
        "storefleet-drill: admin login: the profile page answers 200",
        "storefleet-drill: verified: the backup restores",
    ] {
        assert!(log.contains(line), "{line}: {log}");
    }
    println!("{}", log.lines().last().unwrap_or_default());
    assert_eq!(
        shop.wp(&["user", "get", "1", "--field=user_pass"]),
        admin_hash,
        "the one-time password is the drill's copy's alone"
    );
    // A backup that restores but is no shop (its WooCommerce gone from the files): the check
    // fails, naming the step.
    let err = drill_spoiled(&shop, &store, &fixtures, |restored| {
        let plugin = restored.join("files/wp-content/plugins/woocommerce");
        std::fs::remove_dir_all(&plugin).expect("remove the plugin");
    })
    .expect_err("a drill of a shop without WooCommerce fails");
    let failed = err
        .lines()
        .find(|l| l.starts_with("storefleet-drill: FAILED"))
        .unwrap_or_else(|| panic!("one FAILED line: {err}"));
    assert!(failed.contains("product #"), "{failed}");
    println!("a drill of a broken shop: {failed}");
    // Its report, as the operator records it in status.backup.lastVerifiedRestore: the newest
    // snapshot, the measured restore time and the restored counts.
    assert_eq!(
        proven.snapshot.as_deref(),
        Some(newest.as_str()),
        "{proven:?}"
    );
    assert!(
        proven.seconds.is_some() && proven.snapshot_time.is_some(),
        "{proven:?}"
    );
    assert_eq!(
        proven.orders.map(|n| n.to_string()),
        Some(shop.wp(&["eval", "echo count(wc_get_orders(array('limit' => -1)));"]))
    );
    assert_eq!(
        shop.wp(&["eval", "echo count(wc_get_orders(array('limit' => -1)));"]),
        orders_before_drill
    );

    // A corrupted object: the restore fails and says so; nothing is loaded.
    let latest = back_up(&shop, &store);
    for file in store.data_files() {
        let mut bytes = std::fs::read(&file).expect("block");
        if bytes.len() > 64 {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0xff;
            std::fs::write(&file, bytes).expect("corrupt");
        }
    }
    let err = drill(&shop, &store, &fixtures).expect_err("a drill of a corrupt backup fails");
    assert!(
        err.contains("storefleet-backup: FAILED"),
        "the drill's failure is one clear line: {err}"
    );
    let err = restore(&shop, &store, &latest).expect_err("a corrupt backup is not restored");
    assert!(
        err.contains("storefleet-backup: FAILED"),
        "the failure is one clear line: {err}"
    );
    println!(
        "corrupt backup refused: {}",
        err.lines().last().unwrap_or_default()
    );
}

/// What one measured round took (`benches/backup.rs`).
#[allow(dead_code)] // the bench's, not the tests'
pub(crate) struct Measured {
    /// Orders in the shop.
    pub orders: i64,
    /// The dump's size in bytes.
    pub dump_bytes: i64,
    /// The backup (dump, restic backup, retention), as timed here.
    pub backup: Duration,
    /// A restore into the store (restic restore, checks, load, files, counts).
    pub restore: Duration,
    /// A drill (restic restore, its own database, load, WordPress on it, checks): the RTO a
    /// drill measures.
    pub drill: Duration,
    /// The drill's own figure (its report's seconds).
    pub drill_reported: Option<i64>,
}

/// Sets a shop up with `extra_orders` orders besides the setup's test order, then times one
/// backup, one restore of it over the shop and one drill; None (after a `skipped:` line) where
/// the components are absent.
#[allow(dead_code)] // the bench's, not the tests'
pub(crate) fn measure(extra_orders: usize) -> Option<Measured> {
    use std::time::Instant;
    let fixtures = tier()?;
    let garage = backup_tier()?;
    let store = ObjectStore::start(&garage, "bench").expect("garage");
    let shop = start_shop_with(&fixtures, shop_store(), &config(&store));
    let out = shop.setup();
    assert!(out.status.success(), "setup: {}", text(&out));
    if extra_orders > 0 {
        shop.wp(&[
            "eval",
            &format!(
                "$p = wc_get_products(array('limit' => 1)); for ($i = 0; $i < {extra_orders}; $i++) {{ $o = wc_create_order(); $o->add_product($p[0], 1); $o->calculate_totals(); $o->set_status('processing'); $o->save(); }}"
            ),
        ]);
    }
    let started = Instant::now();
    let (snapshot, record) = back_up_with_report(&shop, &store);
    let backup = started.elapsed();
    let started = Instant::now();
    restore(&shop, &store, &snapshot).unwrap_or_else(|e| panic!("restore: {e}"));
    let restore = started.elapsed();
    let started = Instant::now();
    let (proven, _) = drill(&shop, &store, &fixtures).unwrap_or_else(|e| panic!("drill: {e}"));
    let drill_time = started.elapsed();
    Some(Measured {
        orders: record.orders.unwrap_or_default(),
        dump_bytes: record.bytes.unwrap_or_default(),
        backup,
        restore,
        drill: drill_time,
        drill_reported: proven.seconds,
    })
}
