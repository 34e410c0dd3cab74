//! Backups of a Medusa store on the real stack, after `medusa.rs` has set the shop up and a
//! customer has bought (a running server and worker, Debian's PostgreSQL, Redis): its backup,
//! restore and drill pods as the operator builds them (`desired::backup::pods`), run with
//! Debian's PostgreSQL client and server and restic against a real S3 store (Garage,
//! `STOREFLEET_GARAGE`). Only addresses change: the database Service becomes the loopback
//! PostgreSQL, the store's public URL the server's address here, the volume mounts folders.
//!
//! A product added after the backup is gone after the restore, the orders and the uploaded
//! photo (byte-identical, served again) are back, the running server serves the restored shop;
//! a clone restored into another database moves the photo's address to its own; a setup of a
//! restored shop hands it to the new store's admin; a drill restores the newest backup into a
//! scratch PostgreSQL and reports what the operator records.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use k8s_openapi::api::core::v1::Container;
use serde_json::json;
use storefleet_envtest::object_store::{self, ObjectStore};
use storefleet_operator::config::{BackupConfig, OperatorConfig, Retention, S3Target};
use storefleet_operator::desired::backup::drill::build_drill;
use storefleet_operator::desired::backup::pods::{build_backup_cron_job, build_restore_job};
use storefleet_operator::desired::backup::{self, BucketKey, keys};
use storefleet_operator::desired::backup_parts;
use storefleet_operator::validate::ValidatedStore;
use storefleet_types::BackupRecord;
use storefleet_types::names::{child, ports};

use super::{http, resolve_env, which};

/// The platform key of this test.
const PLATFORM_KEY: &[u8] = b"storefleet-medusa-test-platform-key-0123";

/// Garage and restic, or why not.
pub(crate) fn object_store() -> Result<ObjectStore, String> {
    let garage = object_store::garage().map_err(|e| e.to_string())?;
    if which("restic").is_none() {
        return Err("restic is not installed (make test-deps)".into());
    }
    ObjectStore::start(&garage, "medusa-backups").map_err(|e| e.to_string())
}

/// The operator configuration with `store` as its backup target.
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
                daily: 7,
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

/// What the backup part needs of the running shop.
pub(crate) struct Shop<'a> {
    pub validated: &'a ValidatedStore,
    pub secrets: &'a BTreeMap<(String, String), String>,
    pub object_store: &'a ObjectStore,
    /// Debian's PostgreSQL binaries.
    pub postgres_bin: &'a Path,
    /// Whether the test runs as root (PostgreSQL's server then runs as nobody).
    pub root: bool,
    pub tmp: &'a Path,
    pub pg_port: u16,
    /// The superuser's password.
    pub superuser_password: &'a str,
    /// The application role, its password and database.
    pub app: (&'a str, &'a str, &'a str),
    /// The server's uploads folder (`static/`).
    pub uploads: PathBuf,
    /// The server here, and the store's public URL it stands for.
    pub url: &'a str,
    pub public_url: &'a str,
    /// An admin's token.
    pub token: &'a str,
    /// The server's folder (the image's `/app`: its modules).
    pub server_dir: &'a Path,
}

impl Shop<'_> {
    /// The secrets with the repository Secrets as the operator builds them (its own repository
    /// for backups, drills and restores).
    fn secrets(&self) -> BTreeMap<(String, String), String> {
        let resolved = self.validated.backup.as_ref().expect("backups");
        let password =
            backup::repository_password(PLATFORM_KEY, &resolved.owner, &self.validated.name);
        let bucket = BucketKey {
            access_key: self.object_store.access_key().into(),
            secret_key: self.object_store.secret_key().into(),
        };
        let mut all = self.secrets.clone();
        let own = storefleet_operator::validate::ResolvedRestore {
            store: self.validated.name.clone(),
            repository: resolved.repository.clone(),
            snapshot: "latest".into(),
            rollback: false,
        };
        for secret in [
            backup::repository_secret(self.validated, resolved, &password, &bucket),
            backup::restore_secret(self.validated, resolved, &own, &password, &bucket),
        ] {
            let name = secret.metadata.name.clone().expect("name");
            for (key, value) in secret.data.unwrap_or_default() {
                all.insert(
                    (name.clone(), key),
                    String::from_utf8(value.0).expect("utf-8"),
                );
            }
        }
        all
    }

    /// A folder nobody may write to as well (the scratch database runs as nobody under root).
    fn folder(&self, name: &str) -> PathBuf {
        let dir = self.tmp.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("folder");
        if self.root {
            run(Command::new("chown").arg("65534:65534").arg(&dir));
        }
        dir
    }

    /// Runs one container's command as its pod would, with its environment resolved, the
    /// addresses made local and `changes` applied; as nobody when `unprivileged` and root.
    fn run(&self, container: &Container, changes: &[(&str, String)], unprivileged: bool) -> Output {
        let mut env: BTreeMap<String, String> = resolve_env(container, &self.secrets())
            .into_iter()
            .map(|(k, v)| {
                let v = match k.as_str() {
                    "PGHOST" => {
                        assert_eq!(v, child::DATABASE, "the pod talks to the database Service");
                        "127.0.0.2".into()
                    }
                    "PGPORT" => self.pg_port.to_string(),
                    _ => v
                        .replace(
                            &format!("@{}:{}", child::DATABASE, ports::POSTGRES),
                            &format!("@127.0.0.2:{}", self.pg_port),
                        )
                        .replace(self.public_url, self.url),
                };
                (k, v)
            })
            .collect();
        env.insert(
            "PATH".into(),
            format!(
                "{}:/usr/bin:/bin:/usr/sbin:/sbin",
                self.postgres_bin.display()
            ),
        );
        env.insert(
            "TERMINATION_LOG".into(),
            self.tmp
                .join(format!("report-{}", container.name))
                .display()
                .to_string(),
        );
        for (k, v) in changes {
            env.insert((*k).into(), v.clone());
        }
        let command = container.command.clone().expect("command");
        let name = Path::new(&command[1])
            .file_name()
            .expect("script")
            .to_string_lossy()
            .into_owned();
        let text = match name.as_str() {
            backup::RESTIC_KEY => backup::RESTIC_SCRIPT,
            backup::MEDUSA_KEY => backup::MEDUSA_SCRIPT,
            backup::MEDUSA_CHECK_KEY => backup::MEDUSA_CHECK,
            other => panic!("no script {other}"),
        };
        let script = self.tmp.join(&name);
        std::fs::write(&script, text).expect("script");
        // The interpreter (`sh`, `node`), the script, its arguments; in the container's folder
        // (`/app`: the Medusa app, here the server's).
        let interpreter = &command[0];
        let mut cmd = if unprivileged && self.root {
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                interpreter,
            ]);
            c
        } else {
            Command::new(interpreter)
        };
        if container.working_dir.is_some() {
            cmd.current_dir(self.server_dir);
        }
        cmd.arg(&script)
            .args(&command[2..])
            .env_clear()
            .envs(&env)
            .output()
            .expect("run the container")
    }

    /// The report a container left, as the operator records it.
    fn report(&self, container: &str) -> BackupRecord {
        let path = self.tmp.join(format!("report-{container}"));
        let message = std::fs::read_to_string(&path).expect("a report");
        let _ = std::fs::remove_file(&path);
        storefleet_operator::controller::backups::record_of("job", "now", Some(&message))
    }

    fn psql(&self, database: &str, sql: &str) -> String {
        let (user, password, _) = self.app;
        check(
            "psql",
            &Command::new(self.postgres_bin.join("psql"))
                .args(["-h", "127.0.0.1", "-p", &self.pg_port.to_string()])
                .args([
                    "-U",
                    user,
                    "-d",
                    database,
                    "-At",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                ])
                .arg(sql)
                .env("PGPASSWORD", password)
                .output()
                .expect("psql"),
        )
        .trim()
        .to_string()
    }

    fn backup_pod(&self) -> k8s_openapi::api::core::v1::PodSpec {
        let resolved = self.validated.backup.as_ref().expect("backups");
        build_backup_cron_job(self.validated, resolved, &backup_parts(self.validated))
            .spec
            .job_template
            .spec
            .and_then(|j| j.template.spec)
            .expect("pod")
    }

    /// One backup: `dump`, then `restic`. Its report.
    fn back_up(&self) -> BackupRecord {
        let pod = self.backup_pod();
        let root = self.folder("backup");
        // The files volume as the pod mounts it at files/uploads: a folder with the uploads (a
        // symlink would be backed up as a symlink).
        std::fs::create_dir_all(root.join("files")).expect("files");
        run(Command::new("cp")
            .arg("-a")
            .arg(&self.uploads)
            .arg(root.join("files/uploads")));
        let dump = &pod.init_containers.as_ref().expect("init")[0];
        let out = self.run(
            dump,
            &[("DUMP_DIR", root.join("dump").display().to_string())],
            false,
        );
        check("dump", &out);
        let restic = &pod.containers[0];
        let tmp = self.folder("backup-tmp");
        let out = self.run(
            restic,
            &[
                ("BACKUP_ROOT", root.display().to_string()),
                ("TMPDIR", tmp.display().to_string()),
            ],
            false,
        );
        check("restic backup", &out);
        self.report("restic")
    }

    /// A restore Job's pod: `restic` restores the store's own `snapshot`, `load` loads it into
    /// `database` as the store at `store_url`.
    fn restore(&self, snapshot: &str, database: &str, store_url: &str, uploads: &Path) -> String {
        let resolved = self.validated.backup.as_ref().expect("backups");
        let job = build_restore_job(
            self.validated,
            resolved,
            &backup_parts(self.validated),
            &self.validated.name,
            snapshot,
        );
        let pod = job.spec.and_then(|j| j.template.spec).expect("pod");
        let restored = self.folder("restored");
        let tmp = self.folder("restore-tmp");
        let fetch = &pod.init_containers.as_ref().expect("init")[0];
        let out = self.run(
            fetch,
            &[
                ("RESTORED", restored.display().to_string()),
                ("TMPDIR", tmp.display().to_string()),
            ],
            false,
        );
        check("restic restore", &out);
        let load = &pod.containers[0];
        assert_eq!(
            load.env
                .iter()
                .flatten()
                .find(|v| v.name == "UPLOADS")
                .and_then(|v| v.value.as_deref()),
            Some("/uploads")
        );
        let out = self.run(
            load,
            &[
                ("RESTORED", restored.display().to_string()),
                ("UPLOADS", uploads.display().to_string()),
                ("PGDATABASE", database.into()),
                ("STORE_URL", store_url.into()),
            ],
            false,
        );
        check("load", &out)
    }

    /// A drill's pod (`desired/backup/drill.rs`): `restic` restores the newest snapshot; `load`
    /// loads it (here into the shop's own database, which the running server then serves, the
    /// sidecars' stand-ins: the newest backup is the shop as it is) and hands the check the
    /// publishable key and the administrator; `check` asks the server for its health and
    /// products and logs the admin in with a one-time password it sets. Its log and report.
    fn drill(&self) -> (String, BackupRecord) {
        let resolved = self.validated.backup.as_ref().expect("backups");
        let objects = storefleet_operator::desired::build(self.validated);
        let parts = backup_parts(self.validated);
        let drill = build_drill(self.validated, &objects, resolved, &parts, "drill-1", None);
        let pod = drill.job.spec.and_then(|j| j.template.spec).expect("pod");
        let init = pod.init_containers.clone().unwrap_or_default();
        let names: Vec<&str> = init.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["restic", "postgres", "redis", "load", "medusa"],
            "fetch, the data services, the load, the server"
        );
        for sidecar in [&init[1], &init[2], &init[4]] {
            assert_eq!(sidecar.restart_policy.as_deref(), Some("Always"));
        }
        let restored = self.folder("drill-restored");
        let tmp = self.folder("drill-tmp");
        let handed = self.folder("drill");
        let mut changes = vec![
            ("RESTORED", restored.display().to_string()),
            ("TMPDIR", tmp.display().to_string()),
            ("DRILL_DIR", handed.display().to_string()),
        ];
        let mut log = check("drill: restic", &self.run(&init[0], &changes, true));
        let mut load = changes.clone();
        load.push(("UPLOADS", self.uploads.display().to_string()));
        log.push_str(&check("drill: load", &self.run(&init[3], &load, false)));
        changes.push(("STOREFRONT", self.url.to_string()));
        log.push_str(&check(
            "drill: check",
            &self.run(&pod.containers[0], &changes, false),
        ));
        (log, self.report("check"))
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "{cmd:?}: {}", text(&out));
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn check(what: &str, out: &Output) -> String {
    assert!(out.status.success(), "{what} failed:\n{}", text(out));
    text(out)
}

/// Backs the shop up, changes it, destroys it, restores it, clones it and drills it.
pub(crate) fn backs_up_restores_clones_and_drills(shop: &Shop<'_>) {
    let (user, _, database) = shop.app;
    // A photo uploaded as the local file provider stores it, shown as a product's thumbnail.
    let photo: Vec<u8> = (0..150_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::create_dir_all(&shop.uploads).expect("uploads");
    std::fs::write(shop.uploads.join("storefleet-photo.jpg"), &photo).expect("photo");
    let photo_url = format!("{}/static/storefleet-photo.jpg", shop.url);
    let (_, products) = http(
        "GET",
        &format!("{}/admin/products?limit=1&fields=id", shop.url),
        Some(shop.token),
        None,
    );
    let product = products["products"][0]["id"]
        .as_str()
        .expect("a product")
        .to_string();
    let (code, body) = http(
        "POST",
        &format!("{}/admin/products/{product}", shop.url),
        Some(shop.token),
        Some(json!({"thumbnail": photo_url})),
    );
    assert_eq!(code, 200, "{body}");

    // The backup and its report.
    let record = shop.back_up();
    println!("medusa backed up: {record:?}");
    let snapshot = record.snapshot.clone().expect("a snapshot");
    assert_eq!(
        (record.orders, record.products, record.customers.is_some()),
        (Some(2), Some(3), true),
        "{record:?}"
    );
    assert!(record.bytes.is_some_and(|b| b > 10_000), "{record:?}");

    // After it: a product added; then the data is destroyed.
    let (code, body) = http(
        "POST",
        &format!("{}/admin/products", shop.url),
        Some(shop.token),
        Some(
            json!({"title": "Added after the backup", "options": [{"title": "Size", "values": ["One"]}]}),
        ),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        shop.psql(
            database,
            "SELECT count(*) FROM product WHERE title = 'Added after the backup'"
        ),
        "1"
    );
    shop.psql(database, &format!("DROP OWNED BY \"{user}\""));
    std::fs::remove_file(shop.uploads.join("storefleet-photo.jpg")).expect("rm photo");

    // The restore: the shop as it was, served by the running server.
    let log = shop.restore(&snapshot, database, shop.url, &shop.uploads);
    println!("{log}");
    assert!(log.contains("restored: the counts equal the manifest's (2 orders, 3 products"));
    assert_eq!(
        shop.psql(
            database,
            "SELECT count(*) FROM product WHERE title = 'Added after the backup'"
        ),
        "0",
        "nothing from after the backup"
    );
    let (code, orders) = http(
        "GET",
        &format!("{}/admin/orders?fields=id", shop.url),
        Some(shop.token),
        None,
    );
    assert_eq!((code, orders["count"].as_u64()), (200, Some(2)), "{orders}");
    let (_, products) = http(
        "GET",
        &format!("{}/admin/products?limit=50&fields=id,thumbnail", shop.url),
        Some(shop.token),
        None,
    );
    assert_eq!(products["count"], 3, "{products}");
    assert!(
        products["products"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["thumbnail"] == photo_url.as_str())),
        "{products}"
    );
    let served = Command::new("curl")
        .args(["-s", "--fail", &photo_url])
        .output()
        .expect("curl");
    assert!(served.status.success(), "the photo is served again");
    assert_eq!(served.stdout, photo, "media are byte-identical");

    // A clone: restored into another database as another store's address; the photo's address
    // moves with it, the original's does not.
    let superuser = "postgres";
    check(
        "create the clone's database",
        &Command::new(shop.postgres_bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &shop.pg_port.to_string()])
            .args(["-U", superuser, "-d", "postgres", "-c"])
            .arg(format!("CREATE DATABASE medusa_clone OWNER \"{user}\""))
            .env("PGPASSWORD", shop.superuser_password)
            .output()
            .expect("psql"),
    );
    let clone_uploads = shop.folder("clone-uploads");
    let clone_url = "http://bob-staging.shop.local";
    let log = shop.restore(&snapshot, "medusa_clone", clone_url, &clone_uploads);
    assert!(log.contains("moving uploaded files' addresses"), "{log}");
    assert_eq!(
        shop.psql(
            "medusa_clone",
            &format!("SELECT thumbnail FROM product WHERE id = '{product}'")
        ),
        format!("{clone_url}/static/storefleet-photo.jpg")
    );
    assert_eq!(
        shop.psql(
            database,
            &format!("SELECT thumbnail FROM product WHERE id = '{product}'")
        ),
        photo_url,
        "the original keeps its address"
    );
    assert_eq!(
        std::fs::read(clone_uploads.join("storefleet-photo.jpg")).expect("the clone's photo"),
        photo
    );

    // A drill: the newest backup restored, the shop it holds served and its admin logged in,
    // and its report.
    let newest = shop.back_up();
    let (log, proven) = shop.drill();
    for line in [
        "storefleet-drill: health: 200",
        "storefleet-drill: store products: 200",
        "storefleet-drill: admin login: /admin/users/me answers 200",
    ] {
        assert!(log.contains(line), "{line}: {log}");
    }
    println!("{}", log.lines().last().unwrap_or_default());
    assert_eq!(proven.snapshot, newest.snapshot, "{proven:?}");
    assert_eq!(proven.orders, Some(2));
    assert!(proven.seconds.is_some() && proven.snapshot_time.is_some());

    // The repository holds the store's snapshots under its own key.
    let resolved = shop.validated.backup.as_ref().expect("backups");
    let secrets = shop.secrets();
    let out = run(Command::new("restic")
        .args(["snapshots", "--json", "--no-lock"])
        .env("RESTIC_CACHE_DIR", shop.tmp.join("restic-cache-host"))
        .env("RESTIC_REPOSITORY", &resolved.repository)
        .envs(
            [
                keys::PASSWORD,
                keys::ACCESS_KEY,
                keys::SECRET_KEY,
                keys::REGION,
            ]
            .map(|k| {
                (
                    k,
                    secrets[&(child::BACKUP_SECRET.to_string(), k.to_string())].clone(),
                )
            }),
        ));
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    let ids: Vec<&str> = list.iter().filter_map(|s| s["short_id"].as_str()).collect();
    assert_eq!(
        ids,
        [newest.snapshot.as_deref().expect("newest")],
        "keep-daily keeps each day's newest backup: today's two are one"
    );
}
