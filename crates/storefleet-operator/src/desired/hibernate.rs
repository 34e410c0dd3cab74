//! Hibernation (`spec.hibernate`): the same objects, asleep. Every StatefulSet and Deployment
//! of the store at zero replicas and every CronJob suspended; nothing else changes (the volumes,
//! Secrets, Services, policies and route stay as they are), so waking is the same build awake.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::CronJob;

use crate::desired::{AppObjects, StoreObjects};

/// Puts a store's workloads to sleep.
pub fn put_to_sleep(objects: &mut StoreObjects) {
    match &mut objects.app {
        AppObjects::Woocommerce(w) => {
            stop_statefulset(&mut w.database.stateful_set);
            stop_deployment(&mut w.storefront.deployment);
            suspend(&mut w.cron);
        }
        AppObjects::Medusa(m) => {
            stop_statefulset(&mut m.database);
            stop_statefulset(&mut m.cache);
            stop_deployment(&mut m.server);
            stop_deployment(&mut m.worker);
        }
    }
    if let Some(backup) = &mut objects.backup {
        suspend(&mut backup.cron_job);
    }
    suspend(&mut objects.probe);
}

fn stop_statefulset(sts: &mut StatefulSet) {
    sts.spec.replicas = Some(0);
}

fn stop_deployment(deploy: &mut Deployment) {
    deploy.spec.replicas = Some(0);
}

fn suspend(cron_job: &mut CronJob) {
    cron_job.spec.suspend = Some(true);
}
