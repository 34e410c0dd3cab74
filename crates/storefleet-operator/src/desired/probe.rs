//! The checkout probe (both engines): the CronJob `probe` walks what a customer does up to
//! paying, through the shop's own `storefront` Service, without creating an order
//! (`scripts/woocommerce-probe.php` on the WP-CLI image, `scripts/medusa-probe.js` on the
//! store's Medusa image). Each step that fails exits with its own code; the Job's pod failure
//! policy turns it into the Job's condition, from which [`failed_step`] names the step for the
//! `CheckoutHealthy` condition, with no log read. Applied once the shop is set up, with its route
//! (suspended while the store sleeps). Restricted, no volume but a bounded scratch folder, no
//! service account token; its only way out is to the storefront (`network.rs`).

use k8s_openapi::api::batch::v1::{
    CronJob, JobSpec, PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement,
    PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{Container, PodSpec};
use storefleet_types::names::{Component, child};

use crate::desired::medusa::MEDUSA_UID;
use crate::desired::woocommerce::storefront::WWW_DATA_UID;
use crate::desired::{
    container_security, empty_dir, env, mount, pod_template, resources, store_cron_job,
};
use crate::validate::{App, ValidatedStore};

/// The WooCommerce probe (PHP, run with `php -r`: without its opening tag).
pub const WOOCOMMERCE_SCRIPT: &str = include_str!("../../scripts/woocommerce-probe.php");
/// The Medusa probe (Node, run with `node -e` in the image's app folder).
pub const MEDUSA_SCRIPT: &str = include_str!("../../scripts/medusa-probe.js");

/// How long one run may take.
pub const DEADLINE_SECONDS: i64 = 120;

/// The steps, by the exit code the scripts give them.
pub const STEPS: [(i32, &str); 5] = [
    (
        10,
        "home: the shop's home page (or Medusa's /health and /shop)",
    ),
    (11, "products: no product can be bought"),
    (12, "product page: a product's page"),
    (13, "cart: a product cannot be put into a cart"),
    (
        14,
        "payment: the checkout does not offer the store's payment methods (or shipping)",
    ),
];

/// The step a failed probe Job's condition names (its pod failure policy's message says
/// "... failed with exit code N ..."); None when it is not one of [`STEPS`] (a deadline, an
/// image that did not start).
pub fn failed_step(job_message: &str) -> Option<&'static str> {
    let code: i32 = job_message
        .split("exit code ")
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    STEPS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, step)| *step)
}

/// The CronJob `probe`.
pub fn build_probe(store: &ValidatedStore) -> CronJob {
    let (image, uid, command, mut env_vars) = match &store.app {
        App::Woocommerce(woo) => (
            woo.images.wp_cli.clone(),
            WWW_DATA_UID,
            vec![
                "php".to_string(),
                "-r".to_string(),
                WOOCOMMERCE_SCRIPT.trim_start_matches("<?php").to_string(),
            ],
            vec![
                env("SHOP_URL", store.url()),
                env(
                    "PAYMENT_METHODS",
                    woo.payment_methods
                        .iter()
                        .map(|m| m.gateway_id())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            ],
        ),
        App::Medusa(m) => (
            m.images.medusa.clone(),
            MEDUSA_UID,
            vec!["node".into(), "-e".into(), MEDUSA_SCRIPT.into()],
            Vec::new(),
        ),
    };
    env_vars.push(env("STOREFRONT", format!("http://{}", child::STOREFRONT)));
    env_vars.push(env("HOME", "/tmp"));
    let container = Container {
        name: child::PROBE.into(),
        image: Some(image),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(command),
        env: Some(env_vars),
        resources: Some(resources(&crate::config::probe_resources())),
        security_context: Some(container_security(true)),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        volume_mounts: Some(vec![mount("tmp", "/tmp")]),
        ..Container::default()
    };
    let pod = PodSpec {
        restart_policy: Some("Never".into()),
        containers: vec![container],
        volumes: Some(vec![empty_dir(store, "tmp")]),
        ..PodSpec::default()
    };
    let fail_job_on = PodFailurePolicyRule {
        action: "FailJob".into(),
        on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
            container_name: Some(child::PROBE.into()),
            operator: "In".into(),
            values: STEPS.iter().map(|(code, _)| *code).collect(),
        }),
        on_pod_conditions: None,
    };
    store_cron_job(
        store,
        (child::PROBE, Component::Probe),
        &store.setup.probe_schedule,
        (DEADLINE_SECONDS, 1),
        JobSpec {
            pod_failure_policy: Some(PodFailurePolicy {
                rules: vec![fail_job_on],
            }),
            template: pod_template(store, Component::Probe, uid, pod),
            ..JobSpec::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failed_step_comes_from_the_pod_failure_policys_message() {
        let message = "Container probe for pod store-alice/probe-29001-x7k2p failed with exit code 14 matching FailJob rule at index 0";
        assert_eq!(
            failed_step(message),
            Some("payment: the checkout does not offer the store's payment methods (or shipping)")
        );
        assert_eq!(
            failed_step("Job was active longer than specified deadline"),
            None
        );
        assert_eq!(failed_step("failed with exit code 1 matching"), None);
    }
}
