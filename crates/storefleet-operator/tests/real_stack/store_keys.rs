//! Stores' own bucket keys (`backup.storeCredentials`) on a real S3 store (Garage, each key
//! granted its store's bucket alone): with the repository Secrets as the operator builds them,
//! each store backs up with restic into its own repository, and a store's key can neither read
//! another store's backups (restic) nor delete one of its objects (a signed S3 DELETE).

use std::path::Path;
use std::process::{Command, Output};

use storefleet_envtest::TempDir;
use storefleet_envtest::object_store::{self, ObjectStore};
use storefleet_operator::config::OperatorConfig;
use storefleet_operator::desired::backup::{self, BucketKey, keys};
use storefleet_operator::validate::validate;
use storefleet_types::Store;

use crate::wordpress::which;

const PLATFORM_KEY: &[u8] = b"storefleet-store-keys-test-platform-key-0123";

/// The environment restic gets from a store's repository Secret.
fn restic_env(secret: &k8s_openapi::api::core::v1::Secret) -> Vec<(String, String)> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
        .collect()
}

fn restic(env: &[(String, String)], cache: &Path, args: &[&str]) -> Output {
    Command::new("restic")
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("RESTIC_CACHE_DIR", cache)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("restic")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_stores_own_key_reaches_its_repository_and_no_other() {
    let garage = match object_store::garage() {
        Ok(garage) => garage,
        Err(why) => {
            println!("skipped: backup tier not available ({why}; see README, \"Test tiers\")");
            return;
        }
    };
    if which("restic").is_none() || which("curl").is_none() {
        println!(
            "skipped: backup tier not available (restic or curl is not installed: make test-deps)"
        );
        return;
    }
    let s3 = ObjectStore::start(&garage, "platform").expect("garage");
    let config = OperatorConfig::from_yaml(&format!(
        "backup:\n  s3: {{endpoint: \"{}\", bucket: platform, region: {}}}\n  credentialsSecret: backup-s3\n  keySecret: backup-key\n  egressCidrs: [127.0.0.1/32]\n  storeCredentials: true\n",
        s3.endpoint(),
        object_store::REGION
    ))
    .expect("config");
    let backup_config = config.backup.clone().expect("backup");
    let dir = TempDir::new("store-keys").expect("temp dir");
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).expect("files");
    std::fs::write(files.join("orders.sql"), b"-- the shop's orders").expect("file");

    // Two stores of two owners, each with its own bucket and key; their repository Secrets as
    // the operator builds them.
    let mut envs = Vec::new();
    for (name, owner) in [("alice", "alice@example.com"), ("bob", "bob@example.com")] {
        let store = Store::test().with_name(name).with_owner(owner);
        let validated = validate(&store, &config).expect("valid");
        let resolved = validated.backup.clone().expect("backups");
        let bucket = format!("{name}-backups");
        let (access_key, secret_key) = s3.bucket_with_key(&bucket, name).expect("a store's key");
        let password = backup::repository_password(PLATFORM_KEY, owner, name);
        let mut secret = backup::repository_secret(
            &validated,
            &resolved,
            &password,
            &BucketKey {
                access_key,
                secret_key,
            },
        );
        backup::set_repository(
            &mut secret,
            &backup_config.repository_in(&bucket, owner, name),
        );
        envs.push((name, restic_env(&secret)));
    }
    let cache = dir.path().join("cache");
    for (name, env) in &envs {
        for args in [
            vec!["init"],
            vec!["backup", "--host", name, files.to_str().expect("utf-8")],
        ] {
            let out = restic(env, &cache, &args);
            assert!(
                out.status.success(),
                "{name}: restic {args:?}: {}",
                text(&out)
            );
        }
    }
    let (alice, bob) = (&envs[0].1, &envs[1].1);
    let get = |env: &[(String, String)], key: &str| {
        env.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .expect("key")
    };

    // Alice's key on Bob's repository: nothing to read.
    let mut trespass: Vec<(String, String)> = alice
        .iter()
        .filter(|(k, _)| k != keys::REPOSITORY)
        .cloned()
        .collect();
    trespass.push((keys::REPOSITORY.into(), get(bob, keys::REPOSITORY)));
    let out = restic(
        &trespass,
        &dir.path().join("cache-2"),
        &["snapshots", "--no-lock"],
    );
    assert!(
        !out.status.success(),
        "alice's key read bob's backups: {}",
        text(&out)
    );
    let said = text(&out);
    assert!(
        said.contains("Access Denied") || said.contains("AccessDenied") || said.contains("403"),
        "{said}"
    );
    println!(
        "alice's key on bob's repository: {}",
        said.lines()
            .find(|l| l.contains("Access Denied") || l.contains("AccessDenied"))
            .unwrap_or_default()
    );

    // Nor delete: a signed S3 DELETE of Bob's repository config with Alice's key is refused
    // (the same signing reaches Alice's own), and Bob's is still there.
    // (The owner's `@` percent-encoded: curl signs the path as it is sent.)
    let config_of = |env: &[(String, String)]| {
        format!(
            "{}/config",
            get(env, keys::REPOSITORY)
                .strip_prefix("s3:")
                .expect("an s3 repository")
        )
        .replace('@', "%40")
    };
    let signed = |env: &[(String, String)], method: &str, url: &str| -> String {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30"])
            // (`-I`: a HEAD that waits for no body.)
            .args(if method == "HEAD" { vec!["-I"] } else { vec!["-X", method] })
            // Garage wants the payload's hash (an empty one's).
            .args([
                "-H",
                "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ])
            .arg("--aws-sigv4")
            .arg(format!("aws:amz:{}:s3", object_store::REGION))
            .arg("--user")
            .arg(format!(
                "{}:{}",
                get(env, keys::ACCESS_KEY),
                get(env, keys::SECRET_KEY)
            ))
            .arg(url)
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        signed(alice, "HEAD", &config_of(alice)),
        "200",
        "alice's signed request reaches her own repository"
    );
    assert_eq!(
        signed(alice, "DELETE", &config_of(bob)),
        "403",
        "alice's key deletes nothing of bob's"
    );
    assert_eq!(
        signed(bob, "HEAD", &config_of(bob)),
        "200",
        "bob's repository is whole"
    );
    let out = restic(bob, &cache, &["snapshots", "--no-lock"]);
    assert!(
        out.status.success(),
        "bob still reads his own: {}",
        text(&out)
    );
}
