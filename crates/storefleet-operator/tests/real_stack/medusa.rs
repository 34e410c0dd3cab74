//! The Medusa application (`medusa/`) on the real stack, run from the objects the operator
//! builds for an `engine: medusa` Store: its npm dependencies as locked
//! (`STOREFLEET_MEDUSA_MODULES`, installed by `hack/medusa-deps.sh` outside the repository),
//! `medusa build`, Debian's PostgreSQL (user, password and database from the generated Secret,
//! password authentication) and Redis (the cache StatefulSet's arguments: `--requirepass` with
//! the generated password) on loopback, then the migration Job's, the server's and the worker's
//! and the setup Job's commands with their containers' environment, resolved as the kubelet
//! does (Secret keys, `$(VAR)` expansion). Only addresses are rewritten: the Services
//! `database`, `cache` and `storefront` and the store's public URL become loopback ports, the
//! database at 127.0.0.2, an address Medusa does not take for localhost (for localhost it drops
//! TLS by itself, and the URL's own `sslmode` would go untested).
//! The setup runs twice: the first run sets the shop up and places a test order through the
//! Store API, the second creates nothing and verifies the same order. The admin logs in with the
//! generated credentials (its session cookie is not `Secure` on this plain-HTTP store) and sees
//! the products and the order; a customer buys in the storefront
//! (`/shop`) in a real headless Chromium: browse, add to cart, check out with the manual
//! payment, and the order is confirmed.
//!
//! Without the modules, node, PostgreSQL, Redis or Chromium the test prints one `skipped:` line.

use crate::customer;

#[path = "medusa_backup.rs"]
mod backup;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;
use serde_json::{Value, json};
use storefleet_envtest::TempDir;
use storefleet_envtest::browser::{Browser, CHROMEDRIVER, CHROMIUM};
use storefleet_envtest::process::Supervised;
use storefleet_operator::config::OperatorConfig;
use storefleet_operator::desired::medusa::MedusaObjects;
use storefleet_operator::desired::secrets::Csprng;
use storefleet_operator::desired::{self, AppObjects};
use storefleet_operator::validate::validate;
use storefleet_types::names::{child, secret_keys};
use storefleet_types::{Engine, SetupSpec, Store};

const MODULES_VAR: &str = "STOREFLEET_MEDUSA_MODULES";
const ADMIN_EMAIL: &str = "owner@shop.example";
const TITLE: &str = "Medusa \"Test\" Shop; --exec=x";

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(bin))
            .find(|p| p.is_file())
    })
}

/// Debian's PostgreSQL server binaries (`/usr/lib/postgresql/<major>/bin`), newest first.
fn postgres_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("postgres").is_file() && p.join("initdb").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

struct Tools {
    modules: PathBuf,
    postgres: PathBuf,
    redis: PathBuf,
    root: bool,
}

fn tools() -> Result<Tools, String> {
    let modules = std::env::var_os(MODULES_VAR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| format!("{MODULES_VAR} is not set (eval \"$(hack/medusa-deps.sh)\")"))?;
    if !modules.join(".bin/medusa").exists() {
        return Err(format!(
            "{MODULES_VAR}={} has no .bin/medusa",
            modules.display()
        ));
    }
    which("node").ok_or("node is not installed")?;
    let postgres = postgres_bin().ok_or("PostgreSQL is not installed (make test-deps)")?;
    let redis = which("redis-server").ok_or("redis-server is not installed (make test-deps)")?;
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| e.to_string())?;
    let root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
    for browser in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(browser).exists() {
            return Err(format!("{browser} is not installed (make test-deps)"));
        }
    }
    if root && which("setpriv").is_none() {
        return Err("setpriv is needed to run PostgreSQL as nobody".into());
    }
    Ok(Tools {
        modules,
        postgres,
        redis,
        root,
    })
}

fn free_port() -> u16 {
    storefleet_envtest::ports::free_port().expect("free port")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The operator's objects for a Medusa store (under `config`), and the values of its generated
/// Secrets.
fn operator_objects(
    config: &OperatorConfig,
) -> (
    MedusaObjects,
    BTreeMap<(String, String), String>,
    String,
    storefleet_operator::validate::ValidatedStore,
) {
    let mut store = Store::test()
        .with_name("bob")
        .with_owner(ADMIN_EMAIL)
        .with_engine(Engine::Medusa)
        .with_display_name(TITLE)
        .with_setup(SetupSpec {
            currency: Some("EUR".into()),
            sample_products: Some(3),
            ..SetupSpec::default()
        });
    store.metadata.uid = Some("medusa-tier".into());
    let validated = validate(&store, config).expect("a valid Medusa store");
    let public_url = validated.url();
    let objects = desired::build(&validated);
    let mut secrets = BTreeMap::new();
    for template in &objects.secrets {
        let secret = template.materialize(&mut Csprng);
        for (key, value) in secret.string_data.unwrap_or_default() {
            secrets.insert((template.name().to_string(), key), value);
        }
    }
    let AppObjects::Medusa(medusa) = objects.app else {
        panic!("a Medusa store builds Medusa objects")
    };
    (medusa, secrets, public_url, validated)
}

/// `$(VAR)` references expanded from `vars` (as the kubelet does for env values and args).
fn expand(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    for (name, value) in vars {
        out = out.replace(&format!("$({name})"), value);
    }
    assert!(!out.contains("$("), "an undefined variable in {text:?}");
    out
}

/// A container's environment as the kubelet resolves it, in order.
fn resolve_env(
    container: &Container,
    secrets: &BTreeMap<(String, String), String>,
) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for var in container.env.iter().flatten() {
        let value = match var
            .value_from
            .as_ref()
            .and_then(|f| f.secret_key_ref.as_ref())
        {
            Some(r) => secrets
                .get(&(r.name.clone(), r.key.clone()))
                .unwrap_or_else(|| panic!("Secret {}/{} is generated", r.name, r.key))
                .clone(),
            None => expand(var.value.as_deref().unwrap_or_default(), &vars),
        };
        vars.insert(var.name.clone(), value);
    }
    vars
}

fn first_container(template: &k8s_openapi::api::core::v1::PodTemplateSpec) -> &Container {
    &template.spec.as_ref().expect("pod spec").containers[0]
}

fn job_container(job: &k8s_openapi::api::batch::v1::Job) -> &Container {
    first_container(&job.spec.as_ref().expect("job spec").template)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let name = entry.file_name();
        if name == "node_modules" || name == ".medusa" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn check(what: &str, out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

/// As root, PostgreSQL runs as nobody (it refuses root).
fn as_postgres_user(tools: &Tools, binary: &Path) -> (PathBuf, Vec<String>) {
    if tools.root {
        (
            PathBuf::from("setpriv"),
            vec![
                "--reuid=65534".into(),
                "--regid=65534".into(),
                "--clear-groups".into(),
                binary.display().to_string(),
            ],
        )
    } else {
        (binary.to_path_buf(), Vec::new())
    }
}

fn http(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, url]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "-d", &b.to_string()]);
    }
    let out = cmd.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (
        code.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::String(body.to_string())),
    )
}

fn wait_http(url: &str, process: &mut Supervised, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if http("GET", url, None, None).0 == 200 {
            return;
        }
        assert!(
            !process.exited(),
            "{what} exited:\n{}",
            process.log_tail(40)
        );
        assert!(
            Instant::now() < deadline,
            "{what} never answered {url}:\n{}",
            process.log_tail(40)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medusa_builds_migrates_serves_and_its_setup_places_a_verified_order() {
    let tools = match tools() {
        Ok(t) => t,
        Err(why) => {
            eprintln!(
                "skipped: medusa_builds_migrates_serves_and_its_setup_places_a_verified_order: {why}: real Medusa tier not available"
            );
            return;
        }
    };
    if which("curl").is_none() {
        eprintln!("skipped: medusa tier: curl is not installed (make test-deps)");
        return;
    }
    let tmp = TempDir::new("medusa").expect("temp dir");
    let app = tmp.path().join("app");
    copy_dir(&repo_root().join("medusa"), &app);
    std::os::unix::fs::symlink(&tools.modules, app.join("node_modules")).expect("link modules");
    let medusa = app.join("node_modules/.bin/medusa");

    // The image's build step.
    let built = check(
        "medusa build",
        &Command::new(&medusa)
            .arg("build")
            .current_dir(&app)
            .env("NODE_ENV", "production")
            .output()
            .expect("run medusa build"),
    );
    assert!(
        !built.contains("completed with errors"),
        "the build reported errors:\n{built}"
    );
    let server_dir = app.join(".medusa/server");
    assert!(server_dir.join("src/scripts/storefleet-setup.js").is_file());
    assert!(
        server_dir.join("public/admin/index.html").is_file(),
        "the admin is built"
    );
    std::os::unix::fs::symlink(&tools.modules, server_dir.join("node_modules"))
        .expect("link modules");

    // What the operator builds for the store (backed up where Garage and restic are here), and
    // its generated Secrets.
    let object_store = match backup::object_store() {
        Ok(store) => Some(store),
        Err(why) => {
            eprintln!("skipped: medusa backups: {why}: backup tier not available");
            None
        }
    };
    let config = object_store
        .as_ref()
        .map_or_else(OperatorConfig::default, backup::config);
    let (objects, secrets, public_url, validated) = operator_objects(&config);
    let admin_password = secrets[&(
        child::ADMIN_SECRET.to_string(),
        secret_keys::ADMIN_PASSWORD.to_string(),
    )]
        .clone();
    assert_eq!(
        secrets[&(
            child::ADMIN_SECRET.to_string(),
            secret_keys::ADMIN_USER.to_string()
        )],
        ADMIN_EMAIL,
        "Medusa's admin logs in with the e-mail"
    );

    // PostgreSQL, as the official image's entrypoint sets it up from the StatefulSet's env.
    let pg = resolve_env(first_container(&objects.database.spec.template), &secrets);
    let data = tmp.path().join("pg");
    std::fs::create_dir_all(&data).expect("pg dir");
    let pwfile = data.join("pwfile");
    std::fs::write(&pwfile, &pg["POSTGRES_PASSWORD"]).expect("pwfile");
    if tools.root {
        check(
            "chown",
            &Command::new("chown")
                .args(["-R", "65534:65534"])
                .arg(&data)
                .output()
                .expect("chown"),
        );
    }
    let (bin, mut args) = as_postgres_user(&tools, &tools.postgres.join("initdb"));
    args.extend([
        "-D".into(),
        data.join("data").display().to_string(),
        "-U".into(),
        pg["POSTGRES_USER"].clone(),
        format!("--pwfile={}", pwfile.display()),
        "--auth=scram-sha-256".into(),
    ]);
    check(
        "initdb",
        &Command::new(&bin).args(&args).output().expect("initdb"),
    );
    let pg_port = free_port();
    let (bin, mut args) = as_postgres_user(&tools, &tools.postgres.join("postgres"));
    args.extend([
        "-D".into(),
        data.join("data").display().to_string(),
        "-p".into(),
        pg_port.to_string(),
        "-k".into(),
        data.display().to_string(),
        "-c".into(),
        "listen_addresses=127.0.0.1,127.0.0.2".into(),
    ]);
    let bin = which(&bin.display().to_string()).unwrap_or(bin);
    let mut postgres = Supervised::start("postgres", &bin, &args, &tmp.path().join("postgres.log"))
        .expect("postgres");

    // Redis with the cache StatefulSet's arguments (the generated password), on loopback.
    let cache = first_container(&objects.cache.spec.template);
    let cache_env = resolve_env(cache, &secrets);
    let redis_dir = tmp.path().join("redis");
    std::fs::create_dir_all(&redis_dir).expect("redis dir");
    let redis_port = free_port();
    let mut redis_args: Vec<String> = cache
        .args
        .iter()
        .flatten()
        .skip(1) // the image's `redis-server`
        .map(|a| expand(a, &cache_env))
        .map(|a| {
            if a == "/data" {
                redis_dir.display().to_string()
            } else {
                a
            }
        })
        .collect();
    assert!(
        redis_args.contains(&"--requirepass".to_string()),
        "{redis_args:?}"
    );
    redis_args.extend([
        "--port".into(),
        redis_port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
    ]);
    let _redis = Supervised::start(
        "redis",
        &tools.redis,
        &redis_args,
        &tmp.path().join("redis.log"),
    )
    .expect("redis");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = Command::new(tools.postgres.join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &pg_port.to_string()])
            .output()
            .is_ok_and(|o| o.status.success());
        if ready {
            break;
        }
        assert!(
            !postgres.exited(),
            "postgres exited:\n{}",
            postgres.log_tail(20)
        );
        assert!(Instant::now() < deadline, "postgres did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The entrypoint runs the store's first-start scripts (the postgres-init ConfigMap) as the
    // superuser, with the container's environment; POSTGRES_DB is not set, so it creates no
    // database itself.
    assert!(!pg.contains_key("POSTGRES_DB"), "{pg:?}");
    assert_eq!(pg["POSTGRES_USER"], "postgres");
    let init = objects.database_init.data.clone().expect("init scripts");
    for (name, script) in &init {
        let path = tmp.path().join(name);
        std::fs::write(&path, script).expect("script");
        let path_var = format!(
            "{}:{}",
            tools.postgres.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        check(
            name,
            &Command::new("sh")
                .arg(&path)
                .envs(&pg)
                .env("PATH", path_var)
                .env("PGHOST", "127.0.0.1")
                .env("PGPORT", pg_port.to_string())
                .env("PGPASSWORD", &pg["POSTGRES_PASSWORD"])
                .output()
                .expect("init script"),
        );
    }
    // The application's role owns its database and is no superuser.
    let roles = check(
        "the application's role",
        &Command::new(tools.postgres.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &pg_port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-At", "-c"])
            .arg(format!(
                "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = '{}'",
                pg["APP_USER"]
            ))
            .env("PGPASSWORD", &pg["POSTGRES_PASSWORD"])
            .output()
            .expect("psql"),
    );
    assert_eq!(roles.trim(), "f|f|f", "{roles}");

    // Each container's command and environment; only addresses change: the Services become
    // loopback ports and the store's public URL the server's address here.
    let server_port = free_port();
    let worker_port = free_port();
    let url = format!("http://127.0.0.1:{server_port}");
    let local = |container: &Container, port: u16| -> (Vec<String>, Vec<(String, String)>) {
        let env = resolve_env(container, &secrets)
            .into_iter()
            .map(|(k, v)| {
                let v = v
                    .replace(
                        &format!(
                            "@{}:{}",
                            child::DATABASE,
                            storefleet_types::names::ports::POSTGRES
                        ),
                        &format!("@127.0.0.2:{pg_port}"),
                    )
                    .replace(
                        &format!(
                            "@{}:{}",
                            child::CACHE,
                            storefleet_types::names::ports::REDIS
                        ),
                        &format!("@127.0.0.1:{redis_port}"),
                    )
                    .replace(&public_url, &url);
                let v = match k.as_str() {
                    "PORT" => port.to_string(),
                    "MEDUSA_URL" => {
                        assert_eq!(v, format!("http://{}", child::STOREFRONT));
                        url.clone()
                    }
                    _ => v,
                };
                (k, v)
            })
            .collect();
        let command = container.command.clone().expect("a command");
        assert!(
            command[0].ends_with("/node_modules/.bin/medusa"),
            "{command:?}"
        );
        let mut argv = vec![medusa.display().to_string()];
        argv.extend(command[1..].iter().cloned());
        argv.extend(container.args.iter().flatten().cloned());
        (argv, env)
    };
    let run = |container: &Container| -> Output {
        let (argv, env) = local(container, server_port);
        Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(&server_dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", tmp.path())
            .envs(env)
            .output()
            .expect("run medusa")
    };

    // The migration Job.
    check("medusa db:migrate", &run(job_container(&objects.migration)));

    // The server and the worker Deployments: one image, two modes.
    let start = |container: &Container, name: &str, port: u16| {
        let (argv, env) = local(container, port);
        let mut args: Vec<String> =
            vec!["-i".into(), "-C".into(), server_dir.display().to_string()];
        args.push(format!(
            "PATH={}",
            std::env::var("PATH").unwrap_or_default()
        ));
        args.push(format!("HOME={}", tmp.path().display()));
        args.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
        args.extend(argv);
        Supervised::start(
            name,
            Path::new("/usr/bin/env"),
            &args,
            &tmp.path().join(format!("{name}.log")),
        )
        .expect("start medusa")
    };
    let mut server = start(
        first_container(&objects.server.spec.template),
        "server",
        server_port,
    );
    let mut worker = start(
        first_container(&objects.worker.spec.template),
        "worker",
        worker_port,
    );
    wait_http(&format!("{url}/health"), &mut server, "the server");
    wait_http(
        &format!("http://127.0.0.1:{worker_port}/health"),
        &mut worker,
        "the worker",
    );
    assert_eq!(
        http("GET", &format!("{url}/app/"), None, None).0,
        200,
        "the admin is served under /app"
    );

    // The setup Job, twice.
    let setup = job_container(&objects.setup);
    let first = check("setup (first run)", &run(setup));
    assert!(
        first.contains("storefleet-setup: placed test order"),
        "{first}"
    );
    assert!(
        first.contains("created: admin user, admin login, sales channel, region, tax region, stock location, fulfillment set, shipping option, publishable API key, 3 sample products, test order"),
        "{first}"
    );
    assert!(
        !first.contains(&admin_password),
        "the password is never printed"
    );
    let order = first
        .lines()
        .find_map(|l| l.strip_prefix("storefleet-setup: placed test order "))
        .expect("order id")
        .trim()
        .to_string();
    // The second run also leaves its report (the kubelet's termination log: a file here).
    let report = tmp.path().join("setup-report");
    let mut reporting = setup.clone();
    reporting
        .env
        .get_or_insert_default()
        .push(k8s_openapi::api::core::v1::EnvVar {
            name: "TERMINATION_LOG".into(),
            value: Some(report.display().to_string()),
            value_from: None,
        });
    let second = check("setup (second run)", &run(&reporting));
    let versions = storefleet_operator::controller::reports::versions_of(
        "setup",
        Some(&std::fs::read_to_string(&report).expect("the setup's report")),
    );
    let package: Value = serde_json::from_str(
        &std::fs::read_to_string(tools.modules.join("@medusajs/medusa/package.json"))
            .expect("package.json"),
    )
    .expect("json");
    assert_eq!(
        versions.medusa.as_deref(),
        package["version"].as_str(),
        "{versions:?}"
    );
    assert!(
        versions
            .database
            .as_deref()
            .is_some_and(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit())),
        "{versions:?}"
    );
    assert!(
        second.contains("storefleet-setup: created: nothing"),
        "{second}"
    );
    assert!(
        second.contains(&format!("storefleet-setup: verified test order {order}")),
        "{second}"
    );

    // A run that stopped between the admin user and its login (here: the login removed from
    // the database) is not counted as done: the next run makes the login, which works below.
    check(
        "remove the admin's login",
        &Command::new(tools.postgres.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &pg_port.to_string()])
            .args(["-U", &pg["APP_USER"], "-d", &pg["APP_DB"]])
            .args(["-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!(
                "DELETE FROM provider_identity WHERE entity_id = '{ADMIN_EMAIL}' AND provider = 'emailpass'"
            ))
            .env("PGPASSWORD", &pg["APP_PASSWORD"])
            .output()
            .expect("psql"),
    );
    let third = check("setup (a user without a login)", &run(setup));
    assert!(
        third.contains("storefleet-setup: created: admin login"),
        "{third}"
    );

    // The admin logs in with the credentials the setup was given.
    let (code, login) = http(
        "POST",
        &format!("{url}/auth/user/emailpass"),
        None,
        Some(json!({"email": ADMIN_EMAIL, "password": admin_password})),
    );
    assert_eq!(code, 200, "{login}");
    let token = login["token"].as_str().expect("token").to_string();
    // The dashboard's session cookie: this store is plain HTTP, so it must not be Secure (a
    // browser would never send it back to http://bob.shop.local).
    let session = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-D", "-", "-X", "POST"])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .arg(format!("{url}/auth/session"))
        .output()
        .expect("curl");
    let headers = String::from_utf8_lossy(&session.stdout).to_ascii_lowercase();
    let cookie = headers
        .lines()
        .find(|l| l.starts_with("set-cookie:") && l.contains("connect.sid"))
        .unwrap_or_else(|| panic!("a session cookie: {headers}"));
    assert!(!cookie.contains("secure"), "{cookie}");
    assert!(cookie.contains("httponly"), "{cookie}");
    let (_, products) = http(
        "GET",
        &format!("{url}/admin/products?limit=50"),
        Some(&token),
        None,
    );
    assert_eq!(products["count"], 3, "{products}");
    let (_, orders) = http(
        "GET",
        &format!(
            "{url}/admin/orders?fields=id,total,currency_code,payment_collections.payments.provider_id"
        ),
        Some(&token),
        None,
    );
    assert_eq!(orders["count"], 1, "one test order, not two: {orders}");
    assert_eq!(orders["orders"][0]["id"], order.as_str());
    assert_eq!(orders["orders"][0]["currency_code"], "eur");
    let (_, store) = http("GET", &format!("{url}/admin/stores"), Some(&token), None);
    assert_eq!(store["stores"][0]["name"], TITLE, "{store}");

    // A customer buys in the storefront.
    let browser = Browser::start().await.expect("headless Chromium");
    customer::medusa::buys_a_sample_product(
        &browser,
        &format!("{url}/shop"),
        "Medusa \"Test\" Shop",
        "customer@example.com",
    )
    .await;
    let c = &browser.client;
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(shots.join("medusa-storefront-confirmation.png"), png).expect("write");
    let (_, orders) = http(
        "GET",
        &format!("{url}/admin/orders?fields=id,email"),
        Some(&token),
        None,
    );
    assert_eq!(
        orders["count"], 2,
        "the test order and the customer's: {orders}"
    );
    assert!(
        orders["orders"]
            .as_array()
            .is_some_and(|o| o.iter().any(|o| o["email"] == "customer@example.com")),
        "{orders}"
    );
    assert!(!server.exited() && !worker.exited());

    // The checkout probe's own command (the CronJob `probe`: `node -e`, in the image's app
    // folder) against the running server: health, the storefront page, a product, a cart, the
    // shipping options and payment providers; no order.
    let probe = storefleet_operator::desired::probe::build_probe(&validated);
    let container = crate::wordpress::cron_job_container(&probe);
    let command = container.command.clone().expect("command");
    assert_eq!(command[0], "node");
    let out = Command::new(&command[0])
        .args(&command[1..])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("STOREFRONT", &url)
        .current_dir(&server_dir)
        .output()
        .expect("the probe runs");
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && log.contains("storefleet-probe: checkout works"),
        "{log}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(log.contains("providers pp_system_default"), "{log}");
    let (_, orders) = http(
        "GET",
        &format!("{url}/admin/orders?fields=id"),
        Some(&token),
        None,
    );
    assert_eq!(orders["count"], 2, "the probe placed no order: {orders}");

    // Backups: back up, destroy, restore, clone, drill (`medusa_backup.rs`).
    if let Some(object_store) = &object_store {
        let shop = backup::Shop {
            validated: &validated,
            secrets: &secrets,
            object_store,
            postgres_bin: &tools.postgres,
            root: tools.root,
            tmp: tmp.path(),
            pg_port,
            superuser_password: &pg["POSTGRES_PASSWORD"],
            app: (&pg["APP_USER"], &pg["APP_PASSWORD"], &pg["APP_DB"]),
            uploads: server_dir.join("static"),
            url: &url,
            public_url: &public_url,
            token: &token,
            server_dir: &server_dir,
        };
        backup::backs_up_restores_clones_and_drills(&shop);
        assert!(!server.exited(), "the server served the restored shop");

        // The setup of a shop restored from a backup hands it to the new store's admin (here: a
        // new password) and verifies it.
        let mut adopt = setup.clone();
        let new_password = "Restored-shop-password-0123456789";
        for var in adopt.env.iter_mut().flatten() {
            if var.name == "ADMIN_PASSWORD" {
                var.value = Some(new_password.into());
                var.value_from = None;
            }
        }
        adopt
            .env
            .get_or_insert_default()
            .push(k8s_openapi::api::core::v1::EnvVar {
                name: "RESTORED_FROM".into(),
                value: Some("bob".into()),
                value_from: None,
            });
        let adopted = check("setup (a restored shop)", &run(&adopt));
        assert!(
            adopted.contains("adopting the shop restored from a backup of store bob")
                && adopted.contains("logs in with this store's password")
                && adopted.contains(&format!("verified test order {order}")),
            "{adopted}"
        );
        assert!(
            !adopted.contains(new_password),
            "the password is never printed"
        );
        let (code, login) = http(
            "POST",
            &format!("{url}/auth/user/emailpass"),
            None,
            Some(json!({"email": ADMIN_EMAIL, "password": new_password})),
        );
        assert_eq!(
            code, 200,
            "the admin logs in with the new store's password: {login}"
        );
    }
}
