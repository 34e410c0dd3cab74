//! Backups: where every store's restic repository lives (one S3-compatible bucket), the platform
//! key each repository's password is derived from, and the default schedule and retention.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Backups of every store with restic, to one S3-compatible bucket. Each store's repository is
/// `<prefix>/<owner>/<store>` in the bucket, encrypted with a password derived from the
/// platform key and the store's owner and name: it survives the loss of the store's namespace,
/// and a new store of the same owner and name (a restore) finds it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupConfig {
    /// The bucket.
    pub s3: S3Target,
    /// The namespace of the two Secrets below: the operator's (the chart sets its release's).
    #[serde(default = "default_secrets_namespace")]
    pub secrets_namespace: String,
    /// A Secret in the operator's namespace with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`
    /// for the bucket.
    pub credentials_secret: String,
    /// A Secret in the operator's namespace whose key `key` holds the platform key (at least 32
    /// bytes) every repository password is derived from. Losing it loses every backup: keep a
    /// copy outside the cluster.
    pub key_secret: String,
    /// Where the object store is (its addresses): the backup pods' only way out of the store's
    /// namespace, on the endpoint's port.
    pub egress_cidrs: Vec<IpNet>,
    /// When a store is backed up unless its spec says otherwise (cron, UTC; `H` in the minute or
    /// hour field is a value of each store's own: the default, `H 3 * * *`, backs each store up
    /// at a minute of its own between 03:00 and 03:59, not the whole fleet at 03:00).
    #[serde(default = "default_schedule")]
    pub schedule: String,
    /// What a store keeps unless its spec says otherwise.
    #[serde(default)]
    pub retention: Retention,
    /// When each store's newest backup is restored into a throwaway namespace, its shop
    /// started there and checked, to prove it (cron, UTC; a store's first drill runs right
    /// after its first backup; `H` as in `schedule`): a backup counts once a drill restored it
    /// (`BackupVerified`).
    #[serde(default = "default_drill_schedule")]
    pub drill_schedule: String,
    /// Each store's Jobs use a bucket key of its own instead of `credentialsSecret`'s, so that
    /// no store's Job can read or delete another store's backups: the Secret
    /// `<credentialsSecret>-<store>` in `secretsNamespace`, with `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and optionally `BUCKET` (the store's own bucket, for object stores
    /// whose keys are granted whole buckets), annotated `storefleet.io/owner: <the store's
    /// owner>`. The platform makes it with a key scoped to the store's repository (an IAM policy
    /// on `<prefix>/<owner>/<store>/`, or a bucket of its own); a store with backups waits for
    /// its key. `credentialsSecret` is then not read.
    #[serde(default)]
    pub store_credentials: bool,
    /// How many drills run at once across the fleet (each is a throwaway namespace with a
    /// database and a storefront, on the platform's capacity): the others wait their turn.
    #[serde(default = "default_drill_concurrency")]
    pub drill_concurrency: u32,
}

/// An S3-compatible bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct S3Target {
    /// `https://s3.example.com` (or `http://` inside a trusted network), with a port if not the
    /// scheme's.
    pub endpoint: String,
    /// The bucket's name.
    pub bucket: String,
    /// The region the endpoint answers for.
    #[serde(default = "default_region")]
    pub region: String,
    /// The folder in the bucket under which each owner's stores are kept.
    #[serde(default = "default_prefix")]
    pub prefix: String,
}

/// How many snapshots a store keeps (restic's `forget --keep-*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Retention {
    /// The last snapshot of each of this many days.
    pub daily: u32,
    /// The last snapshot of each of this many weeks.
    pub weekly: u32,
    /// The last snapshot of each of this many months.
    pub monthly: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            daily: 7,
            weekly: 4,
            monthly: 6,
        }
    }
}

fn default_secrets_namespace() -> String {
    "storefleet-system".into()
}

fn default_drill_schedule() -> String {
    "H 5 * * 0".into()
}

fn default_drill_concurrency() -> u32 {
    2
}

fn default_schedule() -> String {
    "H 3 * * *".into()
}

fn default_region() -> String {
    "us-east-1".into()
}

fn default_prefix() -> String {
    "stores".into()
}

impl S3Target {
    /// The endpoint's port (from the URL, else the scheme's).
    pub fn port(&self) -> Option<u16> {
        let (scheme, rest) = self.endpoint.split_once("://")?;
        let authority = rest.split('/').next()?;
        match authority.rsplit_once(':') {
            Some((_, port)) => port.parse().ok(),
            None => match scheme {
                "https" => Some(443),
                "http" => Some(80),
                _ => None,
            },
        }
    }
}

impl BackupConfig {
    /// The restic repository of the store `name` of `owner` (an owner that is not a plain
    /// lower-case name is its hash: no owner can name a folder of another's).
    pub fn repository(&self, owner: &str, name: &str) -> String {
        self.repository_in(&self.s3.bucket, owner, name)
    }

    /// [`repository`](Self::repository) in `bucket` (a store's own, `storeCredentials`).
    pub fn repository_in(&self, bucket: &str, owner: &str, name: &str) -> String {
        let endpoint = self.s3.endpoint.trim_end_matches('/');
        let prefix = self.s3.prefix.trim_matches('/');
        let owner = owner_folder(owner);
        format!(
            "s3:{endpoint}/{bucket}/{}{owner}/{name}",
            if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            }
        )
    }
}

/// The folder of an owner's stores: the owner itself when it is a plain lower-case name or
/// e-mail address, else
/// `owner-` and a hash of it (an owner such as `alice/../bob` names no other owner's folder).
pub fn owner_folder(owner: &str) -> String {
    let plain = !owner.is_empty()
        && owner.len() <= 63
        && !owner.starts_with(['.', '-', '_'])
        && owner.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.' | '@')
        })
        && !owner.contains("..");
    if plain && !owner.starts_with("owner-") {
        return owner.to_string();
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, owner.as_bytes());
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("owner-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(endpoint: &str, prefix: &str) -> BackupConfig {
        BackupConfig {
            s3: S3Target {
                endpoint: endpoint.into(),
                bucket: "backups".into(),
                region: "garage".into(),
                prefix: prefix.into(),
            },
            secrets_namespace: default_secrets_namespace(),
            credentials_secret: "backup-s3".into(),
            key_secret: "backup-key".into(),
            egress_cidrs: Vec::new(),
            schedule: default_schedule(),
            retention: Retention::default(),
            drill_schedule: default_drill_schedule(),
            drill_concurrency: 2,
            store_credentials: false,
        }
    }

    #[test]
    fn each_store_has_its_repository_under_its_owner() {
        assert_eq!(
            config("https://s3.example.com/", "/stores/").repository("alice", "shop"),
            "s3:https://s3.example.com/backups/stores/alice/shop"
        );
        assert_eq!(
            config("http://127.0.0.1:3900", "").repository("bob", "shop"),
            "s3:http://127.0.0.1:3900/backups/bob/shop"
        );
    }

    #[test]
    fn an_owner_names_no_other_owners_folder() {
        assert_eq!(owner_folder("alice"), "alice");
        assert_eq!(owner_folder("team.a_1"), "team.a_1");
        assert_eq!(owner_folder("alice@example.com"), "alice@example.com");
        for odd in [
            "alice/../bob",
            "..",
            "Alice",
            "a b",
            "",
            "owner-abc",
            ".hidden",
        ] {
            let folder = owner_folder(odd);
            assert!(
                folder.starts_with("owner-") && folder.len() == 38,
                "{odd}: {folder}"
            );
            assert!(!folder.contains('/'));
        }
        assert_ne!(owner_folder("Alice"), owner_folder("ALICE"));
    }

    #[test]
    fn the_endpoint_port_is_the_urls_or_the_schemes() {
        assert_eq!(config("https://s3.example.com", "").s3.port(), Some(443));
        assert_eq!(config("http://10.0.0.5:3900/", "").s3.port(), Some(3900));
        assert_eq!(config("http://minio", "").s3.port(), Some(80));
        assert_eq!(config("s3.example.com", "").s3.port(), None);
    }
}
