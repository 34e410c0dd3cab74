//! The store's Namespace, with Pod Security Admission labels.

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use storefleet_types::names::{self, Component};

use super::{labels, owner_references};
use crate::validate::ValidatedStore;

/// Pod Security Admission labels: enforce, warn and audit `restricted` (our own pods meet it;
/// the control-plane tests run them through the real admission).
pub const POD_SECURITY: [(&str, &str); 4] = [
    ("pod-security.kubernetes.io/enforce", "restricted"),
    ("pod-security.kubernetes.io/enforce-version", "latest"),
    ("pod-security.kubernetes.io/warn", "restricted"),
    ("pod-security.kubernetes.io/audit", "restricted"),
];

/// Builds the Namespace.
pub fn build_namespace(store: &ValidatedStore) -> Namespace {
    let mut labels = labels(store, Component::Isolation);
    labels.extend(
        POD_SECURITY
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    Namespace {
        metadata: ObjectMeta {
            name: Some(store.namespace.clone()),
            labels: Some(labels),
            annotations: Some(std::collections::BTreeMap::from([(
                names::STORE_UID_ANNOTATION.to_string(),
                store.uid.clone(),
            )])),
            owner_references: owner_references(store),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}
