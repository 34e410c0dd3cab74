//! The operator against a real kube-apiserver, kube-controller-manager and etcd
//! (`KUBEBUILDER_ASSETS`), running as the chart's ServiceAccount with the chart's RBAC. Pods are
//! made ready (or Jobs failed) by the kubelet stand-in; everything else is the real thing:
//! admission (CEL rules, PodSecurity, quotas, limit ranges), server-side apply, watches, the
//! garbage collector and namespace deletion.
//!
//! Without the assets every test prints one `skipped:` line and returns.

use crate::common;

use std::time::Duration;

use common::{Env, condition, is_true, phase};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use storefleet_envtest::JobPods;
use storefleet_operator::config::OperatorConfig;
use storefleet_types::names::{self, Component, child, labels as keys};
use storefleet_types::{DeletionPolicy, Phase, Store};

const NS: &str = "store-alice";

fn config() -> OperatorConfig {
    let mut config = OperatorConfig::default();
    // One failed setup pod fails the Job (the real Job controller's backoff is 10 s, 20 s, ...).
    config.setup.backoff_limit = 0;
    // WordPress's scheduled work (the CronJob `cron`) once a year: the tests make its Jobs
    // themselves, and no Job of the cronjob controller's appears among the ones they count.
    config.cron.schedule = "0 0 1 1 *".into();
    // The checkout probe likewise.
    config.probe.schedule = "0 0 1 1 *".into();
    config
}

mod access;
mod admission;
mod backup;
mod data;
mod exposure;
mod hibernation;
mod lifecycle;
mod ownership;
mod plugin;
mod rollout;
mod upgrade;
