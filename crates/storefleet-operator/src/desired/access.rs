//! The API's access to one store: a Role that may `get` the Secret `admin-credentials` of the
//! store's namespace and nothing else, bound to the API's ServiceAccount (operator config
//! `apiServiceAccount`). The API then needs no Secret access outside store namespaces, and none
//! in a namespace that is not a store's.

use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use storefleet_types::names::{Component, child};

use super::child_meta;
use crate::validate::ValidatedStore;

/// The Role and its RoleBinding.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiAccess {
    /// `get` on `secrets/admin-credentials`.
    pub role: Role,
    /// To the API's ServiceAccount.
    pub binding: RoleBinding,
}

/// The API's access, when the configuration names its ServiceAccount.
pub fn build_api_access(store: &ValidatedStore) -> Option<ApiAccess> {
    let sa = store.api_service_account.as_ref()?;
    let role = Role {
        metadata: child_meta(store, child::API_ACCESS, Component::Credentials),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["secrets".into()]),
            resource_names: Some(vec![child::ADMIN_SECRET.into()]),
            verbs: vec!["get".into()],
            ..PolicyRule::default()
        }]),
    };
    let binding = RoleBinding {
        metadata: child_meta(store, child::API_ACCESS, Component::Credentials),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: child::API_ACCESS.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: sa.name.clone(),
            namespace: Some(sa.namespace.clone()),
            api_group: None,
        }]),
    };
    Some(ApiAccess { role, binding })
}
