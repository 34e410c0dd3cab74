//! Cleanup, run by kube's finalizer helper when a Store is deleted: a drill's throwaway
//! namespace goes first, whatever the policy; `Delete` removes the store's namespace (and so
//! everything in it) and waits until it is gone; `Retain` drops the Store's ownerReferences from
//! every child it finds by label. Idempotent, 404 is success, and it works
//! when nothing was ever created. A namespace that does not belong to the Store is left alone.

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};
use kube::runtime::controller::Action;
use storefleet_types::names::labels as keys;
use storefleet_types::{DeletionPolicy, Store};
use tracing::{info, warn};

use crate::controller::children::{ChildKind, KindVisitor, for_each_kind};
use crate::controller::context::Context;
use crate::controller::memory::ChildKey;
use crate::controller::memory::seen::Identity;
use crate::controller::report::{self, StatusError};
use crate::controller::requests::{self, ApplyError, status_code};
use crate::controller::status::{Outcome, StatusFacts};
use crate::desired::backup::drill::drill_namespace;

/// A step of the cleanup failed.
#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    /// Reading or deleting the namespace failed.
    #[error("cannot delete namespace {namespace}")]
    Namespace {
        /// The namespace.
        namespace: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Listing the children of a kind failed.
    #[error("cannot list the {kind} objects of the store")]
    List {
        /// The kind.
        kind: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Dropping an ownerReference failed.
    #[error(transparent)]
    Release(#[from] ApplyError),
    /// Writing the Deleting status failed.
    #[error(transparent)]
    Status(#[from] StatusError),
    /// Not a failure: the namespace is being deleted; the finalizer stays until it is gone.
    #[error("waiting for namespace {namespace} to be deleted")]
    NamespaceTerminating {
        /// The namespace.
        namespace: String,
    },
}

impl CleanupError {
    /// The apiserver's error, if one caused this.
    pub fn kube(&self) -> Option<&kube::Error> {
        match self {
            Self::Namespace { source, .. } | Self::List { source, .. } => Some(source),
            Self::Release(e) => Some(e.kube()),
            Self::Status(e) => Some(e.kube()),
            Self::NamespaceTerminating { .. } => None,
        }
    }
}

/// Deletes (or releases) what the Store made. `Ok` means the finalizer may be removed;
/// [`CleanupError::NamespaceTerminating`] means "not done yet, come back" (kube's finalizer helper
/// keeps the finalizer on any error).
pub async fn cleanup(store: &Store, ctx: &Context) -> Result<Action, CleanupError> {
    let name = store.name_any();
    let facts = StatusFacts::of(store);
    let namespace = facts
        .namespace
        .clone()
        .unwrap_or_else(|| ctx.config.namespace_for(&name));
    let uid = store.metadata.uid.clone().unwrap_or_default();
    let message = match store.spec.deletion_policy {
        DeletionPolicy::Delete => format!("Deleting namespace {namespace} and everything in it"),
        DeletionPolicy::Retain => format!("Keeping namespace {namespace} (deletionPolicy: Retain)"),
    };
    report::finish(store, ctx, facts, Outcome::Deleting(message)).await?;
    // A drill's throwaway namespace goes whatever the policy: it holds nothing of the shop's.
    // (Only one the watch shows: no request for the stores that never drilled; one made in this
    // very instant is owned by the Store and goes with it.)
    let drill = drill_namespace(&name);
    let drilled = ctx
        .memory
        .seen()
        .contains(&ChildKey::new("Namespace", None, Some(&drill)));
    if drilled && !delete_namespace(ctx, &name, &uid, &drill).await? {
        return Err(CleanupError::NamespaceTerminating { namespace: drill });
    }
    match store.spec.deletion_policy {
        DeletionPolicy::Delete => {
            if !delete_namespace(ctx, &name, &uid, &namespace).await? {
                return Err(CleanupError::NamespaceTerminating { namespace });
            }
        }
        DeletionPolicy::Retain => release(ctx, &name, &uid).await?,
    }
    ctx.memory.seen().forget_namespace(&drill);
    ctx.memory.terminated(&drill);
    ctx.memory.forget(&name, &namespace);
    ctx.metrics.remove_store(&name);
    info!(store = %name, "cleanup finished");
    Ok(Action::await_change())
}

/// Deletes the store's namespace if it belongs to the store. True once it is gone (or was never
/// the store's).
async fn delete_namespace(
    ctx: &Context,
    name: &str,
    uid: &str,
    namespace: &str,
) -> Result<bool, CleanupError> {
    // Known to be terminating: the namespace watch says whether it is gone yet (its deletion
    // starts the next pass); only a namespace the watch does not show is read.
    if ctx.memory.is_terminating(namespace) {
        let key = ChildKey::new("Namespace", None, Some(namespace));
        match ctx.memory.seen().identity(&key) {
            Identity::Gone => {
                ctx.memory.terminated(namespace);
                return Ok(true);
            }
            Identity::Uid(_) => return Ok(false),
            Identity::Unknown => {}
        }
    }
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    let failed = |source| CleanupError::Namespace {
        namespace: namespace.to_string(),
        source,
    };
    ctx.metrics.api_request("get");
    let Some(ns) = api.get_metadata_opt(namespace).await.map_err(failed)? else {
        ctx.memory.terminated(namespace);
        return Ok(true);
    };
    if !requests::belongs_to(&ns.metadata, name, uid) {
        warn!(store = %name, %namespace, "namespace does not belong to this store; leaving it");
        return Ok(true);
    }
    if ns.metadata.deletion_timestamp.is_none() {
        ctx.metrics.api_request("delete");
        match api.delete(namespace, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(e) if status_code(&e) == Some(404) => return Ok(true),
            Err(e) => return Err(failed(e)),
        }
    }
    ctx.memory.terminating_now(namespace);
    Ok(false)
}

/// Retain: drops this Store's ownerReferences from every child labelled for it, kinds in reverse
/// apply order.
async fn release(ctx: &Context, name: &str, uid: &str) -> Result<(), CleanupError> {
    struct Release<'a> {
        ctx: &'a Context,
        name: &'a str,
        uid: &'a str,
        steps: Vec<BoxFuture<'a, Result<(), CleanupError>>>,
    }
    impl KindVisitor for Release<'_> {
        fn visit<K: ChildKind>(&mut self) {
            if K::GATEWAY_API && !self.ctx.config.gateway_api() {
                return;
            }
            self.steps
                .push(Box::pin(release_kind::<K>(self.ctx, self.name, self.uid)));
        }
    }
    let mut visitor = Release {
        ctx,
        name,
        uid,
        steps: Vec::new(),
    };
    for_each_kind(&mut visitor);
    for step in visitor.steps.into_iter().rev() {
        step.await?;
    }
    Ok(())
}

async fn release_kind<K: ChildKind>(
    ctx: &Context,
    name: &str,
    uid: &str,
) -> Result<(), CleanupError> {
    ctx.metrics.api_request("list");
    let selector = format!("{}={name}", keys::STORE);
    let listed = Api::<K>::all(ctx.client.clone())
        .list_metadata(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| CleanupError::List {
            kind: K::kind(&()).into_owned(),
            source,
        })?;
    for object in listed.items {
        let refs = object.metadata.owner_references.clone().unwrap_or_default();
        let kept: Vec<_> = refs.iter().filter(|r| r.uid != uid).cloned().collect();
        if kept.len() != refs.len() {
            requests::set_owner_references::<K>(ctx, &object.metadata, kept).await?;
        }
    }
    Ok(())
}
