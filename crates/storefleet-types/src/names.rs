//! Every name Storefleet puts on the cluster, defined once.
//!
//! Group, finalizer, field manager, label keys, child object names, ports and limits on
//! user-chosen names all live here so that the CRD, the operator, the API and the tests can
//! never disagree about them.

/// API group of the Store resource.
pub const GROUP: &str = "storefleet.io";
/// The one served and stored version.
pub const VERSION: &str = "v1alpha1";
/// Kind of the custom resource.
pub const KIND: &str = "Store";
/// `apiVersion` string of the Store resource.
pub const API_VERSION: &str = "storefleet.io/v1alpha1";

/// Finalizer that guards cleanup of a Store's children.
pub const FINALIZER: &str = "storefleet.io/cleanup";
/// Server-side-apply field manager of the operator.
pub const FIELD_MANAGER: &str = "storefleet-operator";
/// Where the events of Stores are: Kubernetes records the events of a cluster-scoped object in
/// `default`.
pub const EVENTS_NAMESPACE: &str = "default";
/// Annotation whose change asks the operator to run a failed setup again.
pub const RETRY_ANNOTATION: &str = "storefleet.io/retry";
/// Annotation on a StoreRollout whose new value resumes it once halted (the failures so far are
/// forgiven: the budget counts those after).
pub const RESUME_ANNOTATION: &str = "storefleet.io/resume";
/// Kind of the fleet's rollouts.
pub const ROLLOUT_KIND: &str = "StoreRollout";
/// Annotation on a Store asking for a backup now: each new value is one backup (e.g.
/// `kubectl annotate store shop storefleet.io/backup-now="$(date +%s)" --overwrite`).
pub const BACKUP_NOW_ANNOTATION: &str = "storefleet.io/backup-now";
/// Annotation on a Store asking for a drill now (the newest backup restored and checked in a
/// throwaway namespace): each new value is one drill.
pub const DRILL_NOW_ANNOTATION: &str = "storefleet.io/drill-now";
/// Prefix of a drill's throwaway namespace; the Store's name follows (at most 17 + 40
/// characters, a valid namespace name whatever the stores' namespace prefix).
pub const DRILL_NAMESPACE_PREFIX: &str = "storefleet-drill-";
/// Annotation on a store's own bucket key Secret (`backup.storeCredentials`) naming the owner
/// whose stores it serves: a key made for one owner's store never serves another owner's store
/// of the same name.
pub const STORE_KEY_OWNER_ANNOTATION: &str = "storefleet.io/owner";
/// Annotation on a drill's namespace and Job naming the value of
/// [`DRILL_NOW_ANNOTATION`] it answers, if it answers one.
pub const DRILL_ASKED_ANNOTATION: &str = "storefleet.io/drill-asked";
/// Annotation on a store's Namespace naming the uid of the Store it belongs to. Ownership is by
/// identity: a new Store with the name of a deleted (retained) one does not get its namespace.
/// An admin hands a retained namespace to a new Store by setting this to the new Store's uid.
pub const STORE_UID_ANNOTATION: &str = "storefleet.io/store-uid";
/// Annotation on a store's Namespace set once its generated Secrets exist: from then on a missing
/// one is reported as lost (`CredentialsLost`), never silently regenerated.
pub const CREDENTIALS_ISSUED_ANNOTATION: &str = "storefleet.io/credentials-issued";
/// Annotation on every child the operator server-side applies: a hash of the object as applied
/// (without this annotation). A restarted operator (or a pass after a spec change) trusts a child
/// whose hash matches what it would apply, and whose fields no one else took, without applying
/// it again.
pub const APPLIED_ANNOTATION: &str = "storefleet.io/applied";

/// Label keys and fixed values carried by every object Storefleet creates.
pub mod labels {
    /// `app.kubernetes.io/managed-by`
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    /// Value of [`MANAGED_BY`].
    pub const MANAGED_BY_VALUE: &str = "storefleet";
    /// `app.kubernetes.io/part-of`
    pub const PART_OF: &str = "app.kubernetes.io/part-of";
    /// Value of [`PART_OF`].
    pub const PART_OF_VALUE: &str = "storefleet";
    /// `app.kubernetes.io/instance`: the Store's name.
    pub const INSTANCE: &str = "app.kubernetes.io/instance";
    /// `app.kubernetes.io/component`: see [`super::Component`].
    pub const COMPONENT: &str = "app.kubernetes.io/component";
    /// `storefleet.io/store`: the Store's name; what the operator's watches select on.
    pub const STORE: &str = "storefleet.io/store";
}

/// The part of a store an object belongs to (value of `app.kubernetes.io/component`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// Namespace, quota, limit range, network policies.
    Isolation,
    /// Generated credentials.
    Credentials,
    /// MariaDB (or PostgreSQL for Medusa).
    Database,
    /// The web shop itself (WordPress, Medusa).
    Storefront,
    /// The one-off setup Job and its script.
    Setup,
    /// Redis (Medusa's cache, event bus, workflow engine and locking).
    Cache,
    /// Medusa's background worker (same image as the server, worker mode).
    Worker,
    /// Medusa's database migration Job (`medusa db:migrate`).
    Migration,
    /// Backups and restores (restic) and their Jobs.
    Backup,
    /// A drill's throwaway namespace and what runs in it.
    Drill,
    /// WordPress's scheduled work, run from outside (the CronJob `cron`).
    Cron,
    /// The checkout probe (the CronJob `probe`).
    Probe,
}

impl Component {
    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Isolation => "isolation",
            Self::Credentials => "credentials",
            Self::Database => "database",
            Self::Storefront => "storefront",
            Self::Setup => "setup",
            Self::Cache => "cache",
            Self::Worker => "worker",
            Self::Migration => "migration",
            Self::Backup => "backup",
            Self::Drill => "drill",
            Self::Cron => "cron",
            Self::Probe => "probe",
        }
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Limits on the Store's own name, shared by the CRD's CEL rules, the operator's validation and
/// the API.
pub mod store_name {
    /// Longest Store name. With a namespace prefix of at most
    /// [`NAMESPACE_PREFIX_MAX_LEN`] characters, `<prefix><name>` stays a valid DNS label (63).
    pub const MAX_LEN: usize = 40;
    /// Longest namespace prefix the operator config accepts.
    pub const NAMESPACE_PREFIX_MAX_LEN: usize = 63 - MAX_LEN;
    /// RFC 1123 label that starts with a letter (so `<name>` is also a valid Service-style name).
    pub const PATTERN: &str = "^[a-z]([-a-z0-9]*[a-z0-9])?$";

    /// Checks a Store name against [`MAX_LEN`] and [`PATTERN`]; returns the reason when invalid.
    pub fn check(name: &str) -> Result<(), String> {
        if name.is_empty() {
            return Err("name must not be empty".into());
        }
        if name.len() > MAX_LEN {
            return Err(format!(
                "name must be at most {MAX_LEN} characters (it becomes part of the namespace name), got {}",
                name.len()
            ));
        }
        let bytes = name.as_bytes();
        let first_ok = bytes[0].is_ascii_lowercase();
        let last_ok =
            bytes[bytes.len() - 1].is_ascii_lowercase() || bytes[bytes.len() - 1].is_ascii_digit();
        let body_ok = bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
        if first_ok && last_ok && body_ok {
            Ok(())
        } else {
            Err(format!(
                "name {name:?} must consist of lower case letters, digits and '-', start with a letter and end with a letter or digit"
            ))
        }
    }
}

/// A DNS label: lower case letters, digits and '-', not at the ends, at most 63 characters.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A host name as `spec.domain` accepts it: dot-separated DNS labels, at most 253 characters.
pub fn is_hostname(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// Limits on `spec.owner` (the CRD's schema says the same).
pub mod owner {
    /// Longest owner.
    pub const MAX_LEN: usize = 254;

    /// Checks an owner; returns the reason when invalid.
    pub fn check(owner: &str) -> Result<(), String> {
        if owner.is_empty() || owner.len() > MAX_LEN || owner.contains(char::is_whitespace) {
            Err(format!(
                "owner must be 1 to {MAX_LEN} characters without spaces"
            ))
        } else {
            Ok(())
        }
    }
}

/// Names of the objects inside a store's namespace. Fixed, so that the namespace is the only
/// name that depends on the Store.
pub mod child {
    /// Headless Service and StatefulSet of the database.
    pub const DATABASE: &str = "database";
    /// volumeClaimTemplate name of the database StatefulSet.
    pub const DATABASE_DATA: &str = "data";
    /// Service, Deployment and Ingress of the storefront.
    pub const STOREFRONT: &str = "storefront";
    /// PVC holding the storefront's files (WordPress core, plugins, uploads).
    pub const STOREFRONT_DATA: &str = "storefront-data";
    /// ConfigMap holding the setup script.
    pub const SETUP_SCRIPT: &str = "setup-script";
    /// Prefix of the setup Job's name; a hash of its inputs follows.
    pub const SETUP_JOB_PREFIX: &str = "setup-";
    /// The backup CronJob (and the NetworkPolicy of backup and restore pods).
    pub const BACKUP: &str = "backup";
    /// Prefix (with a dash) of a drill's Job in its throwaway namespace; formerly the name of
    /// the drill CronJob (swept from stores that still have one).
    pub const DRILL: &str = "drill";
    /// The CronJob that runs WordPress's scheduled work (WooCommerce stores).
    pub const CRON: &str = "cron";
    /// The CronJob that walks a customer's way to the checkout (both engines).
    pub const PROBE: &str = "probe";
    /// The Secret with the store's restic repository, its password and the bucket's key.
    pub const BACKUP_SECRET: &str = "backup-repository";
    /// The Secret with the repository a new store is restored from (`spec.restoreFrom`).
    pub const RESTORE_SECRET: &str = "restore-repository";
    /// The ConfigMap with the backup and restore scripts.
    pub const BACKUP_SCRIPTS: &str = "backup-scripts";
    /// Prefix of a restore Job's name; a hash of its inputs follows.
    pub const RESTORE_JOB_PREFIX: &str = "restore-";
    /// ResourceQuota.
    pub const QUOTA: &str = "store-quota";
    /// LimitRange.
    pub const LIMITS: &str = "store-limits";
    /// Secret with the database passwords.
    pub const DATABASE_SECRET: &str = "database-credentials";
    /// Secret with the shop's admin login: the one the API may read.
    pub const ADMIN_SECRET: &str = "admin-credentials";
    /// Secret with WordPress's authentication keys and salts.
    pub const SALTS_SECRET: &str = "wordpress-salts";
    /// Default-deny NetworkPolicy.
    pub const NETPOL_DEFAULT_DENY: &str = "default-deny";
    /// DNS egress NetworkPolicy.
    pub const NETPOL_DNS: &str = "allow-dns";
    /// Ingress controller to storefront NetworkPolicy.
    pub const NETPOL_INGRESS: &str = "allow-ingress-controller";
    /// NetworkPolicy on the database: storefront and setup may connect.
    pub const NETPOL_DATABASE_INGRESS: &str = "allow-database-ingress";
    /// NetworkPolicy on storefront and setup: they may connect to the database.
    pub const NETPOL_DATABASE_EGRESS: &str = "allow-database-egress";
    /// Ingress controller to cert-manager's HTTP-01 solver pod (stores with a ClusterIssuer).
    pub const NETPOL_ACME_SOLVER: &str = "allow-acme-http01-solver";
    /// Storefront and setup to the internet on 80/443 NetworkPolicy.
    pub const NETPOL_INTERNET: &str = "allow-internet-egress";
    /// Medusa: Redis, its Service and StatefulSet.
    pub const CACHE: &str = "cache";
    /// The Role and RoleBinding that let Storefleet's API read the admin login.
    pub const API_ACCESS: &str = "storefleet-api-credentials";
    /// Medusa: the ConfigMap with PostgreSQL's first-start script (the application's role).
    pub const POSTGRES_INIT: &str = "postgres-init";
    /// Medusa: the worker Deployment.
    pub const WORKER: &str = "worker";
    /// Medusa: the migration Job is `migrate-<hash of the image>`.
    pub const MIGRATION_JOB_PREFIX: &str = "migrate-";
    /// Medusa: generated JWT and cookie secrets and the Redis password.
    pub const MEDUSA_SECRET: &str = "medusa-secrets";
    /// Medusa: the server, worker, migration and setup pods may reach Redis.
    pub const NETPOL_CACHE_INGRESS: &str = "allow-cache-ingress";
    /// Medusa: the setup Job may reach the server (it places the test order via the Store API).
    pub const NETPOL_SETUP_TO_STOREFRONT: &str = "allow-setup-to-storefront";
    /// Medusa: the server admits the setup Job.
    pub const NETPOL_STOREFRONT_FROM_SETUP: &str = "allow-storefront-from-setup";
    /// The checkout probe may reach the storefront (both engines).
    pub const NETPOL_PROBE_TO_STOREFRONT: &str = "allow-probe-to-storefront";
    /// The storefront admits the checkout probe.
    pub const NETPOL_STOREFRONT_FROM_PROBE: &str = "allow-storefront-from-probe";
}

/// Ports.
pub mod ports {
    /// MariaDB.
    pub const DATABASE: i32 = 3306;
    /// The storefront container's HTTP port.
    pub const STOREFRONT_HTTP: i32 = 80;
    /// Name of the HTTP port on containers and Services.
    pub const HTTP_NAME: &str = "http";
    /// Name of the database port.
    pub const DATABASE_NAME: &str = "mysql";
    /// Medusa: PostgreSQL.
    pub const POSTGRES: i32 = 5432;
    /// Medusa: name of the PostgreSQL port.
    pub const POSTGRES_NAME: &str = "postgres";
    /// Medusa: Redis.
    pub const REDIS: i32 = 6379;
    /// Medusa: name of the Redis port.
    pub const REDIS_NAME: &str = "redis";
    /// Medusa: the server's (and worker's) HTTP port in the container.
    pub const MEDUSA_HTTP: i32 = 9000;
}

/// Keys inside the generated Secrets.
pub mod secret_keys {
    /// Database root password.
    pub const DB_ROOT_PASSWORD: &str = "root-password";
    /// Database application user.
    pub const DB_USER: &str = "username";
    /// Database application password.
    pub const DB_PASSWORD: &str = "password";
    /// Database name.
    pub const DB_NAME: &str = "database";
    /// Admin user name (credentials Secret).
    pub const ADMIN_USER: &str = "username";
    /// Admin password (credentials Secret).
    pub const ADMIN_PASSWORD: &str = "password";
    /// Admin e-mail (credentials Secret).
    pub const ADMIN_EMAIL: &str = "email";
    /// WordPress keys and salts, one Secret key each, as the official image's env names expect.
    /// Medusa: `JWT_SECRET`.
    pub const JWT_SECRET: &str = "jwt-secret";
    /// Medusa: `COOKIE_SECRET`.
    pub const COOKIE_SECRET: &str = "cookie-secret";
    /// Medusa: the Redis password.
    pub const REDIS_PASSWORD: &str = "redis-password";
    /// The eight WordPress keys and salts, each a key of the salts Secret.
    pub const WORDPRESS_SALTS: [&str; 8] = [
        "AUTH_KEY",
        "SECURE_AUTH_KEY",
        "LOGGED_IN_KEY",
        "NONCE_KEY",
        "AUTH_SALT",
        "SECURE_AUTH_SALT",
        "LOGGED_IN_SALT",
        "NONCE_SALT",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_names() {
        for good in [
            "a",
            "alice",
            "shop-1",
            "a1",
            &"a".repeat(store_name::MAX_LEN),
        ] {
            assert_eq!(store_name::check(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "1shop",
            "-a",
            "a-",
            "Alice",
            "a_b",
            "a.b",
            &"a".repeat(store_name::MAX_LEN + 1),
        ] {
            assert!(store_name::check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hostnames_and_owners() {
        assert!(is_hostname("shop.example.com") && is_hostname("a"));
        for bad in [
            "",
            "Shop.com",
            "a..b",
            "-a.com",
            "a_b.com",
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert!(!is_hostname(bad), "{bad}");
        }
        assert!(owner::check("alice@example.com").is_ok());
        assert!(
            owner::check("").is_err()
                && owner::check("a b").is_err()
                && owner::check(&"a".repeat(255)).is_err()
        );
    }

    #[test]
    fn prefix_and_name_fit_a_dns_label() {
        assert_eq!(
            store_name::NAMESPACE_PREFIX_MAX_LEN + store_name::MAX_LEN,
            63
        );
    }
}
