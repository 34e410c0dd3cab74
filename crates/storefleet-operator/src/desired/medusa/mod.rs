//! Medusa v2 (`engine: medusa`): PostgreSQL and Redis (`data.rs`), the migration Job, the server
//! and worker Deployments and the setup Job (`server.rs`), all from Storefleet's one Medusa image
//! (`medusa/`), configured from the environment only.
//!
//! ```text
//!  database (PostgreSQL StatefulSet) ◄──5432── migration Job, server, worker, setup Job
//!  cache (Redis StatefulSet)         ◄──6379── the same four
//!  migration Job migrate-<hash of the image> ── must succeed before the server and the worker
//!                                               are applied (again for every new image)
//!  storefront (server Deployment, uploads volume) ◄─80/9000── edge; /app is the admin, /shop
//!                                               the storefront ◄──9000── setup Job (Store API)
//!  worker (Deployment, worker mode, no Service)
//! ```

pub mod backup;
mod data;
mod server;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, EnvVar, PersistentVolumeClaim, Service};
use storefleet_types::names::{child, ports, secret_keys as keys};

pub use data::{
    CACHE_VOLUME, POSTGRES_INIT_SCRIPT, POSTGRES_SUPERUSER, POSTGRES_UID, REDIS_UID,
    build_cache_service, build_cache_stateful_set, build_postgres_init, build_postgres_service,
    build_postgres_stateful_set,
};
pub use server::{
    MEDUSA_UID, UPLOADS_PATH, build_migration_job, build_server_deployment, build_setup_job,
    build_worker_deployment, migration_job_name, setup_job_name,
};

use super::{env, env_from_secret};
use crate::validate::{Medusa, ValidatedStore};

/// The database user and database name of every Medusa store.
pub const DATABASE_NAME: &str = "medusa";

/// Every object of a Medusa store's application.
#[derive(Debug, Clone, PartialEq)]
pub struct MedusaObjects {
    /// PostgreSQL's first-start script (the application's role).
    pub database_init: ConfigMap,
    /// PostgreSQL's headless Service.
    pub database_service: Service,
    /// PostgreSQL.
    pub database: StatefulSet,
    /// Redis' headless Service.
    pub cache_service: Service,
    /// Redis.
    pub cache: StatefulSet,
    /// `medusa db:migrate`, named after the image.
    pub migration: Job,
    /// Uploaded files (the server's local file provider).
    pub uploads: PersistentVolumeClaim,
    /// The server's Service (`storefront`, port 80), the route's backend.
    pub service: Service,
    /// The server: Store API, admin (`/app`), storefront (`/shop`).
    pub server: Deployment,
    /// The worker: subscribers, scheduled jobs, workflows.
    pub worker: Deployment,
    /// The setup Job.
    pub setup: Job,
}

/// Builds a Medusa store's application objects.
pub fn build_medusa(store: &ValidatedStore, medusa: &Medusa) -> MedusaObjects {
    MedusaObjects {
        database_init: build_postgres_init(store),
        database_service: build_postgres_service(store),
        database: build_postgres_stateful_set(store, medusa),
        cache_service: build_cache_service(store),
        cache: build_cache_stateful_set(store, medusa),
        migration: build_migration_job(store, medusa),
        uploads: super::shop::build_storefront_volume(store),
        service: super::shop::build_storefront_service(store),
        server: build_server_deployment(store, medusa),
        worker: build_worker_deployment(store, medusa),
        setup: build_setup_job(store, medusa),
    }
}

/// What every Medusa process (server, worker, migration, setup) is configured with: the
/// database and Redis URLs put together from the Secrets (Kubernetes expands `$(VAR)` from the
/// variables before it; the generated values are alphanumeric, so they need no escaping), the
/// secrets, and the public URL for CORS and the admin.
pub fn medusa_env(store: &ValidatedStore, mode: &str) -> Vec<EnvVar> {
    let db = child::DATABASE_SECRET;
    let url = store.url();
    vec![
        env_from_secret("DB_USER", db, keys::DB_USER),
        env_from_secret("DB_PASSWORD", db, keys::DB_PASSWORD),
        env_from_secret("DB_NAME", db, keys::DB_NAME),
        // `sslmode=disable`: Medusa insists on TLS to any database whose URL does not name
        // localhost, and the store's own PostgreSQL (reached from its namespace only, through
        // the NetworkPolicies) serves plain connections, as MariaDB does for WooCommerce.
        env(
            "DATABASE_URL",
            format!(
                "postgres://$(DB_USER):$(DB_PASSWORD)@{}:{}/$(DB_NAME)?sslmode=disable",
                child::DATABASE,
                ports::POSTGRES
            ),
        ),
        env_from_secret("REDIS_PASSWORD", child::MEDUSA_SECRET, keys::REDIS_PASSWORD),
        env(
            "REDIS_URL",
            format!(
                "redis://:$(REDIS_PASSWORD)@{}:{}",
                child::CACHE,
                ports::REDIS
            ),
        ),
        env_from_secret("JWT_SECRET", child::MEDUSA_SECRET, keys::JWT_SECRET),
        env_from_secret("COOKIE_SECRET", child::MEDUSA_SECRET, keys::COOKIE_SECRET),
        env("STORE_CORS", url.clone()),
        env("ADMIN_CORS", url.clone()),
        env("AUTH_CORS", url.clone()),
        env("MEDUSA_BACKEND_URL", url),
        // The admin's session cookie is Secure only when the store is served over HTTPS.
        env("COOKIE_SECURE", store.tls.is_some().to_string()),
        env("MEDUSA_WORKER_MODE", mode),
        env("NODE_ENV", "production"),
        // A store has no internet egress: the CLI's usage analytics would only time out.
        env("MEDUSA_DISABLE_TELEMETRY", "true"),
        env("PORT", ports::MEDUSA_HTTP.to_string()),
    ]
}
