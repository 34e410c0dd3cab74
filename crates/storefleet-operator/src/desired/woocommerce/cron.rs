//! WordPress's scheduled work, run from outside: the storefront runs with `DISABLE_WP_CRON`
//! (`storefront.rs`), so no visitor's request ever waits for it and a quiet shop still runs it;
//! the CronJob `cron` runs the due WordPress events and WooCommerce's Action Scheduler queue
//! (order e-mails, scheduled sales, webhooks, clean-ups) every few minutes with WP-CLI, as the
//! setup does: the store's environment, restricted, on the storefront's node (the files volume
//! is ReadWriteOnce). Applied once the shop is set up, with its route.

use k8s_openapi::api::batch::v1::{CronJob, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodTemplateSpec, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use storefleet_types::names::{Component, child};

use super::storefront::{files_mount, wordpress_env};
use crate::desired::shop::files_volume;
use crate::desired::{container_security, empty_dir, env, labels, resources, store_cron_job};
use crate::validate::{ValidatedStore, Woocommerce};

/// How long one run may take (less than the default interval of five minutes; `Forbid` keeps
/// runs from piling up whatever the schedule).
pub const DEADLINE_SECONDS: i64 = 240;

/// What a run does: WordPress's due events, then (with WooCommerce active) a bounded share of
/// Action Scheduler's queue; one line per step, and one `FAILED` line naming the step.
pub const COMMAND: &str = r#"set -eu
fail() { printf 'storefleet-cron: FAILED: %s\n' "$*" >&2; exit 1; }
wp cron event run --due-now || fail "wp cron event run --due-now"
if wp plugin is-active woocommerce; then
  wp action-scheduler run --batch-size=50 --batches=10 || fail "wp action-scheduler run"
fi
printf 'storefleet-cron: done\n'
"#;

/// The CronJob `cron`.
pub fn build_cron_job(store: &ValidatedStore, woo: &Woocommerce) -> CronJob {
    let mut env_vars = wordpress_env(store);
    env_vars.push(env("HOME", "/tmp"));
    let container = Container {
        name: "cron".into(),
        image: Some(woo.images.wp_cli.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec!["sh".into(), "-c".into(), COMMAND.into()]),
        env: Some(env_vars),
        resources: Some(resources(&store.plan.resources.setup)),
        security_context: Some(container_security(true)),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        volume_mounts: Some(vec![
            files_mount(),
            VolumeMount {
                name: "tmp".into(),
                mount_path: "/tmp".into(),
                ..VolumeMount::default()
            },
        ]),
        ..Container::default()
    };
    let pod = super::setup::wp_cli_pod(
        store,
        woo,
        container,
        vec![files_volume(), empty_dir(store, "tmp")],
    );
    store_cron_job(
        store,
        (child::CRON, Component::Cron),
        &store.setup.cron_schedule,
        (DEADLINE_SECONDS, 3),
        JobSpec {
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(store, Component::Cron)),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..JobSpec::default()
        },
    )
}
