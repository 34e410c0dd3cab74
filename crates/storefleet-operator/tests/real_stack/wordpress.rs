//! The setup script on the real stack: WordPress, WooCommerce, Storefront and WP-CLI as
//! released (`STOREFLEET_WORDPRESS_FIXTURES`, unpacked by `.ci/run` from
//! `../shared/fixtures/wordpress`), Debian's MariaDB, PHP and busybox.
//!
//! Everything the containers get comes from the objects the builders return: the database is
//! initialised from the StatefulSet's environment (as the MariaDB image's entrypoint does), the
//! storefront is served with the Deployment's environment, and the script (from the ConfigMap)
//! runs as uid 33 under busybox `sh` with exactly the Job's environment. Two variables are
//! changed, because a Service name and a volume mount do not exist outside a cluster:
//! `WORDPRESS_DB_HOST` (`database:3306` → the local server) and `DOCROOT`.
//!
//! Without the fixtures or the Debian packages (or without root, needed to run as uid 33) the
//! test prints one `skipped:` line.

use crate::customer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use customer::Browser;
use k8s_openapi::api::core::v1::{Container, Secret};
use storefleet_envtest::TempDir;
use storefleet_envtest::process::Supervised;
use storefleet_operator::config::OperatorConfig;
use storefleet_operator::desired::secrets::Csprng;
use storefleet_operator::desired::woocommerce::WoocommerceObjects;
use storefleet_operator::desired::woocommerce::setup::SCRIPT_KEY;
use storefleet_operator::desired::{self, AppObjects, StoreObjects};
use storefleet_operator::validate::validate;
use storefleet_types::{PaymentMethod, SetupSpec, Store};

/// The variable naming the unpacked fixtures.
const FIXTURES_VAR: &str = "STOREFLEET_WORDPRESS_FIXTURES";
/// www-data in the official images.
pub(crate) const WWW_DATA: &str = "33";

pub(crate) fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(bin))
            .chain([PathBuf::from("/usr/sbin").join(bin)])
            .find(|p| p.is_file())
    })
}

/// The fixtures folder, or why the tier cannot run here.
pub(crate) fn fixtures() -> Result<PathBuf, String> {
    let dir = std::env::var_os(FIXTURES_VAR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| format!("{FIXTURES_VAR} is not set"))?;
    for entry in [
        "wordpress/wp-login.php",
        "woocommerce/woocommerce.php",
        "storefront/style.css",
        "wp-cli.phar",
        "wp-config-docker.php",
    ] {
        if !dir.join(entry).exists() {
            return Err(format!("{FIXTURES_VAR}={} has no {entry}", dir.display()));
        }
    }
    for bin in [
        "mariadbd",
        "mariadb-install-db",
        "mariadb",
        "php",
        "busybox",
        "setpriv",
        "curl",
    ] {
        if which(bin).is_none() {
            return Err(format!("{bin} is not installed (make test-deps)"));
        }
    }
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err("running as uid 33 needs root".into());
    }
    Ok(dir)
}

pub(crate) fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The container of a CronJob's pods.
pub(crate) fn cron_job_container(cron_job: &k8s_openapi::api::batch::v1::CronJob) -> Container {
    cron_job
        .spec
        .job_template
        .spec
        .as_ref()
        .and_then(|j| j.template.spec.as_ref())
        .map(|p| p.containers[0].clone())
        .expect("the CronJob's container")
}

pub(crate) fn woo(o: &StoreObjects) -> &WoocommerceObjects {
    match &o.app {
        AppObjects::Woocommerce(w) => w,
        AppObjects::Medusa(_) => panic!("a WooCommerce store"),
    }
}

pub(crate) fn free_port() -> u16 {
    storefleet_envtest::ports::free_port().expect("free port")
}

/// A container's environment with every secretKeyRef resolved from `secrets`.
pub(crate) fn resolve_env(container: &Container, secrets: &[Secret]) -> BTreeMap<String, String> {
    container
        .env
        .iter()
        .flatten()
        .map(|var| {
            let value = match (&var.value, &var.value_from) {
                (Some(v), _) => v.clone(),
                (None, Some(from)) => {
                    let key = from
                        .secret_key_ref
                        .as_ref()
                        .expect("only secret refs are used");
                    let secret = secrets
                        .iter()
                        .find(|s| s.metadata.name.as_deref() == Some(key.name.as_str()))
                        .unwrap_or_else(|| {
                            panic!("{} refers to missing Secret {}", var.name, key.name)
                        });
                    secret
                        .string_data
                        .as_ref()
                        .and_then(|d| d.get(&key.key))
                        .cloned()
                        .or_else(|| {
                            secret
                                .data
                                .as_ref()
                                .and_then(|d| d.get(&key.key))
                                .map(|v| String::from_utf8_lossy(&v.0).into_owned())
                        })
                        .unwrap_or_else(|| panic!("Secret {} has no key {}", key.name, key.key))
                }
                (None, None) => String::new(),
            };
            (var.name.clone(), value)
        })
        .collect()
}

pub(crate) struct Shop {
    pub(crate) dir: TempDir,
    pub(crate) docroot: PathBuf,
    pub(crate) bin: PathBuf,
    pub(crate) db_port: u16,
    pub(crate) objects: StoreObjects,
    pub(crate) validated: storefleet_operator::validate::ValidatedStore,
    pub(crate) secrets: Vec<Secret>,
    _mariadb: Supervised,
}

impl Shop {
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The Job's environment, with the two documented changes.
    pub(crate) fn job_env(&self) -> BTreeMap<String, String> {
        let job = &woo(&self.objects).setup.job;
        let pod = job
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .expect("pod");
        let mut env = resolve_env(&pod.containers[0], &self.secrets);
        assert_eq!(
            env["WORDPRESS_DB_HOST"], "database:3306",
            "the Job talks to the Service"
        );
        env.insert(
            "WORDPRESS_DB_HOST".into(),
            format!("127.0.0.1:{}", self.db_port),
        );
        env.insert("DOCROOT".into(), self.docroot.display().to_string());
        env.insert(
            "PATH".into(),
            format!("{}:/usr/bin:/bin", self.bin.display()),
        );
        env
    }

    /// The environment of `container` (a Job's or CronJob's), with the Job's documented changes.
    pub(crate) fn env_of(&self, container: &Container) -> BTreeMap<String, String> {
        let mut env = resolve_env(container, &self.secrets);
        env.insert(
            "WORDPRESS_DB_HOST".into(),
            format!("127.0.0.1:{}", self.db_port),
        );
        env.insert(
            "PATH".into(),
            format!("{}:/usr/bin:/bin", self.bin.display()),
        );
        env
    }

    /// The storefront's environment (for php -S), with the same database change.
    pub(crate) fn storefront_env(&self) -> BTreeMap<String, String> {
        let deployment = &woo(&self.objects).storefront.deployment;
        let pod = deployment.spec.template.spec.as_ref().expect("pod");
        self.env_of(&pod.containers[0])
    }

    pub(crate) fn as_www_data(&self, env: &BTreeMap<String, String>, args: &[&str]) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid",
            WWW_DATA,
            "--regid",
            WWW_DATA,
            "--clear-groups",
            "--",
        ])
        .args(args)
        .env_clear()
        .envs(env)
        .current_dir(&self.docroot);
        cmd
    }

    /// Runs the setup script from the ConfigMap as the Job would.
    pub(crate) fn setup(&self) -> Output {
        let script = self.path().join("setup.sh");
        let text = woo(&self.objects)
            .setup
            .script
            .data
            .as_ref()
            .and_then(|d| d.get(SCRIPT_KEY))
            .expect("script");
        std::fs::write(&script, text).expect("write script");
        let script = script.display().to_string();
        // The kubelet's termination log: a file www-data may write.
        let report = self.path().join("setup-report");
        std::fs::write(&report, "").expect("report file");
        run(Command::new("chown")
            .arg(format!("{WWW_DATA}:{WWW_DATA}"))
            .arg(&report));
        let mut env = self.job_env();
        env.insert("TERMINATION_LOG".into(), report.display().to_string());
        self.as_www_data(&env, &["busybox", "sh", &script])
            .output()
            .expect("run setup")
    }

    /// What the last setup reported (its termination message), as the operator records it.
    pub(crate) fn setup_report(&self) -> storefleet_types::RunningVersions {
        let message =
            std::fs::read_to_string(self.path().join("setup-report")).expect("the setup's report");
        storefleet_operator::controller::reports::versions_of("setup", Some(&message))
    }

    /// `wp` as www-data with the Job's environment; trimmed stdout.
    pub(crate) fn wp(&self, args: &[&str]) -> String {
        let mut all = vec!["wp"];
        all.extend_from_slice(args);
        let out = run(&mut self.as_www_data(&self.job_env(), &all));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// MariaDB initialised as the image's entrypoint would from the StatefulSet's environment, and
/// a WordPress tree as the storefront image lays it out (with WooCommerce and Storefront where
/// `wp plugin install` / `wp theme install` would put them: there is no internet here).
pub(crate) fn start_shop(fixtures: &Path, store: Store) -> Shop {
    start_shop_with(fixtures, store, &OperatorConfig::default())
}

/// [`start_shop`] under an operator configuration of the test's.
pub(crate) fn start_shop_with(fixtures: &Path, store: Store, config: &OperatorConfig) -> Shop {
    let validated = validate(&store, config).expect("valid store");
    let objects = desired::build(&validated);
    let secrets: Vec<Secret> = objects
        .secrets
        .iter()
        .map(|t| t.materialize(&mut Csprng))
        .collect();
    let dir = TempDir::new("wordpress").expect("temp dir");
    let root = dir.path().to_path_buf();

    // The database.
    let sts = woo(&objects)
        .database
        .stateful_set
        .spec
        .template
        .spec
        .as_ref()
        .expect("pod");
    let db_env = resolve_env(&sts.containers[0], &secrets);
    let data = root.join("mysql");
    run(Command::new("mariadb-install-db")
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args([
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]));
    let db_port = free_port();
    let socket = root.join("mysql.sock");
    let mariadbd = which("mariadbd").expect("mariadbd");
    let mariadb = Supervised::start(
        "mariadbd",
        &mariadbd,
        &[
            "--no-defaults".into(),
            format!("--datadir={}", data.display()),
            format!("--socket={}", socket.display()),
            format!("--port={db_port}"),
            "--bind-address=127.0.0.1".into(),
            "--user=root".into(),
            "--skip-log-bin".into(),
        ],
        &root.join("mariadb.log"),
    )
    .expect("start mariadbd");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", db_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "mariadbd did not start: {}",
            mariadb.log_tail(20)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let quote = |s: &str| s.replace('\\', "\\\\").replace('\'', "\\'");
    let sql = format!(
        "CREATE DATABASE `{db}`; CREATE USER '{user}'@'%' IDENTIFIED BY '{pw}'; GRANT ALL ON `{db}`.* TO '{user}'@'%';",
        db = db_env["MARIADB_DATABASE"],
        user = quote(&db_env["MARIADB_USER"]),
        pw = quote(&db_env["MARIADB_PASSWORD"]),
    );
    run(Command::new("mariadb")
        .args(["--no-defaults", "-uroot"])
        .arg(format!("--socket={}", socket.display()))
        .args(["-e", &sql]));

    // The files: WordPress, plus what the image's entrypoint writes (wp-config.php).
    let docroot = root.join("html");
    run(Command::new("cp")
        .arg("-r")
        .arg(fixtures.join("wordpress"))
        .arg(&docroot));
    run(Command::new("cp")
        .arg("-r")
        .arg(fixtures.join("woocommerce"))
        .arg(docroot.join("wp-content/plugins/woocommerce")));
    run(Command::new("cp")
        .arg("-r")
        .arg(fixtures.join("storefront"))
        .arg(docroot.join("wp-content/themes/storefront")));
    std::fs::copy(
        fixtures.join("wp-config-docker.php"),
        docroot.join("wp-config.php"),
    )
    .expect("wp-config");
    // The CLI image's `wp`.
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::copy(fixtures.join("wp-cli.phar"), root.join("wp-cli.phar")).expect("phar");
    std::fs::write(
        bin.join("wp"),
        format!(
            "#!/bin/sh\nexec php {} \"$@\"\n",
            root.join("wp-cli.phar").display()
        ),
    )
    .expect("wp");
    run(Command::new("chmod").arg("0755").arg(bin.join("wp")));
    run(Command::new("chown")
        .args(["-R", &format!("{WWW_DATA}:{WWW_DATA}")])
        .arg(&docroot));

    Shop {
        dir,
        docroot,
        bin,
        db_port,
        objects,
        validated,
        secrets,
        _mariadb: mariadb,
    }
}

/// The fixtures, or None after one `skipped:` line saying why the tier cannot run here.
pub(crate) fn tier() -> Option<PathBuf> {
    fixtures()
        .map_err(|why| {
            println!(
                "skipped: real WordPress tier not available ({why}; see README, \"Test tiers\")"
            );
        })
        .ok()
}

/// `php -S` with a router standing in for Apache's rewrite rules, as www-data, with the
/// storefront Deployment's environment.
pub(crate) fn serve(shop: &Shop) -> (Supervised, u16) {
    let router = shop.path().join("router.php");
    std::fs::write(
        &router,
        r#"<?php
$path = urldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/');
$file = $_SERVER['DOCUMENT_ROOT'] . $path;
if ($path !== '/' && (is_file($file) || is_file(rtrim($file, '/') . '/index.php'))) {
    return false;
}
$_SERVER['SCRIPT_NAME'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = $_SERVER['DOCUMENT_ROOT'] . '/index.php';
require $_SERVER['DOCUMENT_ROOT'] . '/index.php';
"#,
    )
    .expect("router");
    let port = free_port();
    let env = shop.storefront_env();
    let mut args: Vec<String> = vec![
        "--reuid".into(),
        WWW_DATA.into(),
        "--regid".into(),
        WWW_DATA.into(),
        "--clear-groups".into(),
        "--".into(),
        "env".into(),
        "-i".into(),
    ];
    args.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
    args.extend([
        "php".into(),
        "-S".into(),
        format!("127.0.0.1:{port}"),
        "-t".into(),
        shop.docroot.display().to_string(),
        router.display().to_string(),
    ]);
    let php = Supervised::start(
        "php -S",
        &which("setpriv").expect("setpriv"),
        &args,
        &shop.path().join("php.log"),
    )
    .expect("php -S");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "php -S did not start: {}",
            php.log_tail(20)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (php, port)
}

#[test]
fn setup_runs_on_real_wordpress_and_a_customer_can_order() {
    let Some(fixtures) = tier() else {
        return;
    };
    // A title that WP-CLI would read as an option if it were passed as an argument.
    let title = "--exec=file_put_contents('/tmp/storefleet-pwned', 'x'); Alice's \"shop\"";
    let store = Store::test()
        .with_display_name(title)
        .with_setup(SetupSpec {
            sample_products: Some(3),
            payment_methods: Some(vec![PaymentMethod::Cod, PaymentMethod::Bacs]),
            ..SetupSpec::default()
        });
    let shop = start_shop(&fixtures, store);

    // First run: installs, configures, creates the products and the verified test order.
    let first = shop.setup();
    let log = String::from_utf8_lossy(&first.stdout).to_string()
        + &String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "setup failed:\n{log}");
    // What the shop runs, read from it: the released WordPress and WooCommerce of the fixtures,
    // this PHP, this MariaDB.
    let versions = shop.setup_report();
    assert_eq!(versions.wordpress.as_deref(), Some("6.8.3"), "{versions:?}");
    assert!(
        versions
            .woocommerce
            .as_deref()
            .is_some_and(|v| v.starts_with("9.") || v.starts_with("10.")),
        "{versions:?}"
    );
    assert!(
        versions.php.as_deref().is_some_and(|v| v.starts_with("8."))
            && versions
                .database
                .as_deref()
                .is_some_and(|v| v.contains("MariaDB")),
        "{versions:?}"
    );
    for expected in [
        "installing WordPress",
        "payment method cod is enabled",
        "payment method bacs is enabled",
        "created 3 sample products",
        "placed test order",
        "verified test order",
    ] {
        assert!(log.contains(expected), "{expected:?} missing from:\n{log}");
    }
    let admin = shop.job_env()["ADMIN_PASSWORD"].clone();
    assert!(!log.contains(&admin), "the admin password was printed");
    let products = shop.wp(&[
        "post",
        "list",
        "--post_type=product",
        "--post_status=any",
        "--format=ids",
    ]);
    let orders = shop.wp(&[
        "--user=storeadmin",
        "wc",
        "shop_order",
        "list",
        "--status=any",
        "--field=id",
    ]);
    assert_eq!(products.split_whitespace().count(), 3, "{products}");
    assert_eq!(orders.lines().count(), 1, "{orders}");
    assert_eq!(shop.wp(&["option", "get", "woocommerce_currency"]), "USD");
    // WordPress stores the title HTML-escaped (its sanitize_option for blogname).
    let escaped = title
        .replace('&', "&amp;")
        .replace('\'', "&#039;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    assert_eq!(
        shop.wp(&["option", "get", "blogname"]),
        escaped,
        "the title is stored as text"
    );
    assert!(
        !Path::new("/tmp/storefleet-pwned").exists(),
        "the title never ran as code"
    );
    assert_eq!(
        shop.wp(&["theme", "list", "--status=active", "--field=name"]),
        "storefront"
    );

    // Second run: converges without creating anything.
    let second = shop.setup();
    let log2 = String::from_utf8_lossy(&second.stdout).to_string()
        + &String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "second setup failed:\n{log2}");
    assert!(log2.contains("WordPress is already installed"), "{log2}");
    assert!(log2.contains("no sample products created"), "{log2}");
    assert!(log2.contains("exists"), "{log2}");
    assert_eq!(
        shop.wp(&[
            "post",
            "list",
            "--post_type=product",
            "--post_status=any",
            "--format=ids"
        ]),
        products
    );
    assert_eq!(
        shop.wp(&[
            "--user=storeadmin",
            "wc",
            "shop_order",
            "list",
            "--status=any",
            "--field=id"
        ]),
        orders
    );

    // The storefront, served with the Deployment's environment.
    let (_php, port) = serve(&shop);
    let browser = Browser {
        jar: shop.path().join("cookies"),
        address: format!("127.0.0.1:{port}"),
        host: "alice.shop.local".into(),
    };
    browser.shop_lists_sample_products(3);
    // Checkout offers the configured payment methods; a customer orders.
    let (methods, nonce) = browser.payment_methods();
    assert_eq!(methods, ["bacs", "cod"]);
    let id = browser.order_with_cash_on_delivery(&nonce);
    assert_eq!(
        shop.wp(&[
            "--user=storeadmin",
            "wc",
            "shop_order",
            "get",
            &id,
            "--field=payment_method"
        ]),
        "cod"
    );
    let billing = shop.wp(&[
        "--user=storeadmin",
        "wc",
        "shop_order",
        "get",
        &id,
        "--field=billing",
        "--format=json",
    ]);
    assert!(billing.contains("ada@example.com"), "{billing}");

    // WordPress's scheduled work, from outside: the storefront runs with DISABLE_WP_CRON (no
    // visitor's request runs it), and the CronJob `cron`'s own command and environment run a
    // due WordPress event and a pending Action Scheduler action.
    assert_eq!(
        shop.wp(&["eval", "echo DISABLE_WP_CRON ? 'off' : 'on';"]),
        "off"
    );
    shop.wp(&[
        "eval",
        "wp_schedule_single_event(time() - 3600, 'storefleet_test_event');",
    ]);
    let before = shop.wp(&[
        "eval",
        "echo time(), ' ', implode(',', array_keys(_get_cron_array()));",
    ]);
    shop.wp(&["eval", "as_enqueue_async_action('storefleet_test_action');"]);
    let pending = "echo count(as_get_scheduled_actions(array('hook' => 'storefleet_test_action', 'status' => ActionScheduler_Store::STATUS_PENDING), 'ids'));";
    assert_eq!(shop.wp(&["eval", pending]), "1");
    let container = cron_job_container(&woo(&shop.objects).cron);
    let command = container.command.clone().expect("command");
    let out = run(&mut shop.as_www_data(
        &shop.env_of(&container),
        &["busybox", "sh", "-c", &command[2]],
    ));
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(log.contains("storefleet-cron: done"), "{log}");
    let events = shop.wp(&[
        "cron",
        "event",
        "list",
        "--fields=hook,next_run_gmt",
        "--format=csv",
    ]);
    assert!(
        !events.contains("storefleet_test_event"),
        "the due event ran: {log}\n{events}\nbefore the run (time, then the cron array's keys in order): {before}"
    );
    assert_eq!(shop.wp(&["eval", pending]), "0", "the queued action ran");

    // The checkout probe's own command and environment (the CronJob `probe`), through the
    // served storefront instead of the Service: it walks home, a product, its page, a cart and
    // the payment methods, and leaves no order.
    let orders_before = shop.wp(&[
        "eval",
        "echo count(wc_get_orders(array('limit' => -1, 'status' => 'any', 'return' => 'ids')));",
    ]);
    let container = cron_job_container(&shop.objects.probe);
    let mut env = shop.env_of(&container);
    assert_eq!(
        env.get("STOREFRONT").map(String::as_str),
        Some("http://storefront")
    );
    env.insert("STOREFRONT".into(), format!("http://127.0.0.1:{port}"));
    let command = container.command.clone().expect("command");
    let args: Vec<&str> = command.iter().map(String::as_str).collect();
    let probe_run = || {
        shop.as_www_data(&env, &args)
            .output()
            .expect("the probe runs")
    };
    let out = probe_run();
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && log.contains("storefleet-probe: checkout works"),
        "{log}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(log.contains("payment: the checkout offers"), "{log}");
    assert_eq!(
        shop.wp(&[
            "eval",
            "echo count(wc_get_orders(array('limit' => -1, 'status' => 'any', 'return' => 'ids')));"
        ]),
        orders_before,
        "the probe placed no order"
    );
    // Checkout broken (every payment method turned off): the probe fails at the payment step,
    // with its exit code (the Job's pod failure policy turns it into the step's name).
    shop.wp(&[
        "eval",
        "foreach (array('cod', 'bacs', 'cheque') as $g) { $o = get_option(\"woocommerce_{$g}_settings\", array()); $o['enabled'] = 'no'; update_option(\"woocommerce_{$g}_settings\", $o); }",
    ]);
    let out = probe_run();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(14), "{stderr}");
    assert!(
        stderr.contains("storefleet-probe: FAILED: payment: the checkout offers no payment method"),
        "{stderr}"
    );
    let message = "Container probe for pod store-alice/probe-1 failed with exit code 14 matching FailJob rule at index 0";
    assert!(
        storefleet_operator::desired::probe::failed_step(message)
            .is_some_and(|step| step.starts_with("payment")),
    );
}

/// The install window, as an attacker would use it: someone reaches WordPress's installer
/// before setup (the route is not there yet in a cluster; here the storefront is served
/// directly), finishes it with our well-known admin name and their own password, and drops a
/// plugin and a must-use plugin. Setup finds the install is not ours, wipes it (files the
/// stranger added, every table) and installs the shop with our admin: no foreign admin, no
/// foreign code, and nothing of theirs ran next to our credentials.
#[test]
fn an_install_finished_by_a_stranger_before_setup_is_wiped_and_installed_again() {
    let Some(fixtures) = tier() else {
        return;
    };
    let shop = start_shop(&fixtures, Store::test());
    let (_php, port) = serve(&shop);
    // The stranger finishes the installer (the form WordPress's install.php posts).
    let install = run(Command::new("curl")
        .args([
            "-s",
            "-S",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "120",
        ])
        .arg("--connect-to")
        .arg(format!("alice.shop.local:80:127.0.0.1:{port}"))
        .args([
            "--data-urlencode",
            "weblog_title=pwned",
            "--data-urlencode",
            "user_name=storeadmin",
            "--data-urlencode",
            "admin_password=attacker-password-1",
            "--data-urlencode",
            "admin_password2=attacker-password-1",
            "--data-urlencode",
            "pw_weak=1",
            "--data-urlencode",
            "admin_email=attacker@example.net",
            "--data-urlencode",
            "blog_public=0",
            "--data-urlencode",
            "language=",
        ])
        .arg("http://alice.shop.local/wp-admin/install.php?step=2"));
    assert_eq!(String::from_utf8_lossy(&install.stdout), "200");
    assert_eq!(
        shop.wp(&["user", "list", "--role=administrator", "--field=user_email"]),
        "attacker@example.net",
        "the stranger's install happened"
    );
    // What an admin can add: a plugin, and a must-use plugin that runs on every load.
    let content = shop.docroot.join("wp-content");
    let canary = shop.path().join("foreign-code-ran");
    std::fs::create_dir_all(content.join("plugins/backdoor")).expect("plugin dir");
    std::fs::write(
        content.join("plugins/backdoor/backdoor.php"),
        "<?php /* Plugin Name: backdoor */",
    )
    .expect("plugin");
    std::fs::create_dir_all(content.join("mu-plugins")).expect("mu-plugins");
    std::fs::write(
        content.join("mu-plugins/spy.php"),
        format!(
            "<?php file_put_contents('{}', getenv('ADMIN_PASSWORD') ?: 'loaded');",
            canary.display()
        ),
    )
    .expect("mu-plugin");
    run(Command::new("chown")
        .args(["-R", &format!("{WWW_DATA}:{WWW_DATA}")])
        .arg(&content));
    let _ = std::fs::remove_file(&canary);

    let out = shop.setup();
    let log =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "setup failed:\n{log}");
    assert!(
        log.contains("installed by someone else") && log.contains("wiping it"),
        "{log}"
    );
    assert!(log.contains("installing WordPress"), "{log}");
    assert!(!canary.exists(), "the stranger's code ran during setup");
    assert!(
        !content.join("plugins/backdoor").exists(),
        "foreign plugin kept"
    );
    assert!(
        !content.join("mu-plugins").exists(),
        "foreign must-use plugin kept"
    );
    assert_eq!(
        shop.wp(&["user", "list", "--role=administrator", "--field=user_login"]),
        "storeadmin",
        "one administrator"
    );
    assert_ne!(
        shop.wp(&["user", "get", "storeadmin", "--field=user_email"]),
        "attacker@example.net"
    );
    let ours = shop.job_env()["ADMIN_PASSWORD"].clone();
    let check = |password: &str| {
        shop.as_www_data(
            &shop.job_env(),
            &["wp", "user", "check-password", "storeadmin", password],
        )
        .status()
        .expect("wp")
        .success()
    };
    assert!(check(&ours), "our admin password works");
    assert!(
        !check("attacker-password-1"),
        "the stranger's password works"
    );
    // A second run knows the install as ours.
    let again = shop.setup();
    let log = String::from_utf8_lossy(&again.stdout).to_string();
    assert!(again.status.success(), "{log}");
    assert!(log.contains("already installed (by this setup)"), "{log}");
}
