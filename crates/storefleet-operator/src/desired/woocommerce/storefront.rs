//! WordPress: a one-replica Deployment on the store's files volume (`shop.rs`, with the Service), its
//! environment and probes.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, HTTPGetAction, PersistentVolumeClaim, PodSpec,
    PodTemplateSpec, Probe, Service, Sysctl, TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use storefleet_types::names::{Component, child, ports, secret_keys as keys};

use crate::desired::shop::{
    FILES_VOLUME, build_storefront_service, build_storefront_volume, files_volume,
};
use crate::desired::{
    child_meta, container_security, empty_dir, env, env_from_secret, labels, pod_security,
    resources, selector,
};
use crate::validate::{ValidatedStore, Woocommerce};

/// uid and gid of `www-data` in the official WordPress images (apache and cli).
pub const WWW_DATA_UID: i64 = 33;
/// The docroot of the official image, in an emptyDir ([`DOCROOT_VOLUME`]): the image's
/// entrypoint copies its own WordPress (`/usr/src/wordpress`) there at every start, and writes
/// `wp-config.php` from the environment, so the image's tag is the WordPress version that runs.
pub const DOCROOT: &str = "/var/www/html";
/// The docroot's emptyDir.
pub const DOCROOT_VOLUME: &str = "docroot";
/// The emptyDir's folder mounted at [`DOCROOT`]: one www-data made (the first container does)
/// and owns. The entrypoint, running as www-data, sets the mode of the folder it copies into,
/// which fails on the root-owned top of a volume. (The mount is at the docroot itself, not
/// above it: the image declares `VOLUME /var/www/html`, and containerd gives each container a
/// volume of its own there unless something is mounted at that very path.)
pub const DOCROOT_DIR: &str = "html";
/// Where the first container mounts the whole docroot emptyDir.
pub const DOCROOT_ROOT: &str = "/storefleet/docroot";
/// Where the files volume is mounted: `wp-content` (plugins, themes, uploads), all that is the
/// store's own. The volume's folder of the same name ([`CONTENT_DIR`]) is mounted there.
pub const CONTENT: &str = "/var/www/html/wp-content";
/// The files volume's folder holding `wp-content`. A store made when the volume held the whole
/// docroot (core, `wp-config.php` and `wp-content`) keeps that layout: its `wp-content` is
/// mounted as is, and the old core beside it is no longer read.
pub const CONTENT_DIR: &str = "wp-content";
/// Where the whole files volume is mounted in the pods' first container, which makes sure
/// [`CONTENT_DIR`] exists and is www-data's before anything mounts it (a folder the kubelet
/// would create for the mount is root's).
pub const FILES_ROOT: &str = "/storefleet/files";

/// The storefront's objects.
#[derive(Debug, Clone, PartialEq)]
pub struct StorefrontObjects {
    /// The shop's files: `wp-content` (plugins, themes, uploads); core comes from the image.
    pub volume: PersistentVolumeClaim,
    /// ClusterIP Service.
    pub service: Service,
    /// The Deployment.
    pub deployment: Deployment,
}

/// Builds the storefront's objects.
pub fn build_storefront(store: &ValidatedStore, woo: &Woocommerce) -> StorefrontObjects {
    StorefrontObjects {
        volume: build_storefront_volume(store),
        service: build_storefront_service(store),
        deployment: build_storefront_deployment(store, woo),
    }
}

/// The env the official WordPress image turns into `wp-config.php`: database connection and
/// salts, all from Secrets. The setup Job uses the same env so WP-CLI sees the same config.
pub fn wordpress_env(store: &ValidatedStore) -> Vec<EnvVar> {
    let db = child::DATABASE_SECRET;
    let mut out = vec![
        env(
            "WORDPRESS_DB_HOST",
            format!("{}:{}", child::DATABASE, ports::DATABASE),
        ),
        env_from_secret("WORDPRESS_DB_NAME", db, keys::DB_NAME),
        env_from_secret("WORDPRESS_DB_USER", db, keys::DB_USER),
        env_from_secret("WORDPRESS_DB_PASSWORD", db, keys::DB_PASSWORD),
    ];
    out.extend(
        keys::WORDPRESS_SALTS
            .iter()
            .map(|k| env_from_secret(&format!("WORDPRESS_{k}"), child::SALTS_SECRET, k)),
    );
    // The image's wp-config honours X-Forwarded-Proto; pin the site URL so that WordPress never
    // redirects to the pod's address. WordPress's scheduled work runs from the CronJob `cron`,
    // never inside a visitor's request.
    let url = store.url();
    out.push(env(
        "WORDPRESS_CONFIG_EXTRA",
        format!(
            "define('WP_HOME', '{url}');\ndefine('WP_SITEURL', '{url}');\ndefine('DISABLE_WP_CRON', true);\n"
        ),
    ));
    // A clone restored from another store's backup is a staging shop: WordPress and its
    // plugins read the environment type from here (`wp_get_environment_type()`), and the setup
    // keeps the clone from mailing customers or taking payments.
    if store.is_staging_clone() {
        out.push(env("WP_ENVIRONMENT_TYPE", "staging"));
    }
    out
}

/// Mount of [`files_volume`]'s [`CONTENT_DIR`] at [`CONTENT`].
pub fn files_mount() -> VolumeMount {
    VolumeMount {
        name: FILES_VOLUME.into(),
        mount_path: CONTENT.into(),
        sub_path: Some(CONTENT_DIR.into()),
        ..VolumeMount::default()
    }
}

/// The docroot's emptyDir and the mount of its [`DOCROOT_DIR`] at [`DOCROOT`].
pub fn docroot(store: &ValidatedStore) -> (Volume, VolumeMount) {
    (
        empty_dir(store, DOCROOT_VOLUME),
        VolumeMount {
            name: DOCROOT_VOLUME.into(),
            mount_path: DOCROOT.into(),
            sub_path: Some(DOCROOT_DIR.into()),
            ..VolumeMount::default()
        },
    )
}

/// The first container of every pod on the files volume that runs WordPress: as www-data, in
/// the storefront's image, it makes the docroot and makes sure the volume has its
/// [`CONTENT_DIR`] (a store made before core came from the image has it already).
pub fn content_init(store: &ValidatedStore, woo: &Woocommerce) -> Container {
    init_container(
        store,
        woo,
        "content",
        format!("mkdir -p {DOCROOT_ROOT}/{DOCROOT_DIR} {FILES_ROOT}/{CONTENT_DIR}"),
        vec![
            VolumeMount {
                name: DOCROOT_VOLUME.into(),
                mount_path: DOCROOT_ROOT.into(),
                ..VolumeMount::default()
            },
            files_root_mount(),
        ],
    )
}

/// The docroot of a WP-CLI pod, laid out as the storefront's own start lays out its own: by the
/// storefront image's entrypoint (WordPress copied from the image, `wp-config.php` from the
/// storefront's environment: [`wordpress_env`], no other Secret;
/// `apache2 -v`, the command it then runs, only prints Apache's version). So WP-CLI runs the
/// WordPress of the storefront's image.
pub fn core_init(store: &ValidatedStore, woo: &Woocommerce) -> Container {
    let mut container = init_container(
        store,
        woo,
        "core",
        format!("cd {DOCROOT} && exec docker-entrypoint.sh apache2 -v"),
        vec![docroot(store).1, files_mount()],
    );
    container.env = Some(wordpress_env(store));
    container
}

fn init_container(
    store: &ValidatedStore,
    woo: &Woocommerce,
    name: &str,
    script: String,
    mounts: Vec<VolumeMount>,
) -> Container {
    Container {
        name: name.into(),
        image: Some(woo.images.wordpress.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec!["sh".into(), "-c".into(), script]),
        resources: Some(resources(&store.plan.resources.setup)),
        security_context: Some(container_security(true)),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

fn files_root_mount() -> VolumeMount {
    VolumeMount {
        name: FILES_VOLUME.into(),
        mount_path: FILES_ROOT.into(),
        ..VolumeMount::default()
    }
}

fn http_get(path: &str) -> Option<HTTPGetAction> {
    Some(HTTPGetAction {
        path: Some(path.into()),
        port: IntOrString::String(ports::HTTP_NAME.into()),
        ..HTTPGetAction::default()
    })
}

/// The Deployment: one WordPress replica as `www-data`, recreated (never two pods on the
/// ReadWriteOnce volume). Ready means PHP answers with the database reachable
/// (`/wp-login.php` fails with 500 when WordPress cannot connect); alive means Apache answers.
pub fn build_storefront_deployment(store: &ValidatedStore, woo: &Woocommerce) -> Deployment {
    let container = Container {
        name: "wordpress".into(),
        image: Some(woo.images.wordpress.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        env: Some(wordpress_env(store)),
        ports: Some(vec![ContainerPort {
            name: Some(ports::HTTP_NAME.into()),
            container_port: ports::STOREFRONT_HTTP,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        startup_probe: Some(Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::String(ports::HTTP_NAME.into()),
                host: None,
            }),
            period_seconds: Some(5),
            failure_threshold: Some(60),
            ..Probe::default()
        }),
        readiness_probe: Some(Probe {
            http_get: http_get("/wp-login.php"),
            period_seconds: Some(10),
            timeout_seconds: Some(5),
            failure_threshold: Some(3),
            ..Probe::default()
        }),
        liveness_probe: Some(Probe {
            http_get: http_get("/wp-includes/images/blank.gif"),
            period_seconds: Some(20),
            timeout_seconds: Some(5),
            failure_threshold: Some(3),
            ..Probe::default()
        }),
        resources: Some(resources(&store.plan.resources.storefront)),
        // Apache writes its pid and lock files under /var/run and /var/lock of the image.
        security_context: Some(container_security(false)),
        volume_mounts: Some(vec![docroot(store).1, files_mount()]),
        ..Container::default()
    };
    let mut security = pod_security(WWW_DATA_UID);
    // Lets Apache, running as www-data, bind port 80: a "safe" sysctl, allowed by `restricted`.
    security.sysctls = Some(vec![Sysctl {
        name: "net.ipv4.ip_unprivileged_port_start".into(),
        value: "0".into(),
    }]);
    Deployment {
        metadata: child_meta(store, child::STOREFRONT, Component::Storefront),
        spec: DeploymentSpec {
            replicas: Some(1),
            selector: selector(store, Component::Storefront),
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                rolling_update: None,
            }),
            revision_history_limit: Some(3),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(store, Component::Storefront)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(security),
                    init_containers: Some(vec![content_init(store, woo)]),
                    containers: vec![container],
                    volumes: Some(vec![docroot(store).0, files_volume()]),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        status: None,
    }
}
