//! The apiserver's audit log (level Metadata): who called what, and with what result. Tests use
//! it to count a component's requests and to compare the permissions it used with the ones the
//! chart grants.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::{ControlPlane, Error};

/// One audited request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The authenticated user (`system:serviceaccount:<ns>:<name>` for a ServiceAccount).
    pub user: String,
    /// The RBAC verb (get, list, watch, create, patch, update, delete, ...).
    pub verb: String,
    /// API group ("" for core).
    pub group: String,
    /// Resource, with `/subresource` when there is one.
    pub resource: String,
    /// Namespace, if any.
    pub namespace: Option<String>,
    /// Name, if any.
    pub name: Option<String>,
    /// HTTP status code of the response.
    pub code: u16,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    #[serde(rename = "auditID")]
    audit_id: String,
    stage: String,
    verb: String,
    user: User,
    object_ref: Option<ObjRef>,
    response_status: Option<Status>,
}

#[derive(Deserialize)]
struct User {
    username: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjRef {
    resource: Option<String>,
    subresource: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    api_group: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    code: Option<u16>,
}

impl ControlPlane {
    /// Every resource request in the audit log so far, once each, in order: completed requests,
    /// and watches that are still open (logged at `ResponseStarted`).
    pub fn audited(&self) -> Result<Vec<Request>, Error> {
        let text = std::fs::read_to_string(self.audit_log()).map_err(|source| Error::Io {
            what: "read the audit log".into(),
            source,
        })?;
        let mut seen = std::collections::HashSet::new();
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str::<Line>(l).ok())
            .filter(|l| {
                l.stage == "ResponseComplete" || (l.stage == "ResponseStarted" && l.verb == "watch")
            })
            .filter(|l| seen.insert(l.audit_id.clone()))
            .filter_map(|l| {
                let o = l.object_ref?;
                let resource = o.resource?;
                Some(Request {
                    user: l.user.username,
                    verb: l.verb,
                    group: o.api_group.unwrap_or_default(),
                    resource: match o.subresource {
                        Some(sub) => format!("{resource}/{sub}"),
                        None => resource,
                    },
                    namespace: o.namespace,
                    name: o.name,
                    code: l.response_status.and_then(|s| s.code).unwrap_or(0),
                })
            })
            .collect())
    }

    /// The (group, resource, verb) triples `user` needed: the verbs of its requests, plus
    /// `create` for a server-side apply that created its object (answered 201), which RBAC
    /// checks although the request is a patch.
    pub fn permissions_used(
        &self,
        user: &str,
    ) -> Result<BTreeSet<(String, String, String)>, Error> {
        Ok(self
            .audited()?
            .into_iter()
            .filter(|r| r.user == user)
            .flat_map(|r| {
                let created = r.verb == "patch" && r.code == 201;
                let mut out = vec![(r.group.clone(), r.resource.clone(), r.verb)];
                if created {
                    out.push((r.group, r.resource, "create".to_string()));
                }
                out
            })
            .collect())
    }
}
