//! One child of a wave: the request it needs (server-side apply, or create-once for a generated
//! Secret), unless the memo shows it unchanged, and what to remember of the answer. The
//! requests of a wave run at once; [`record`] puts their answers in the memo afterwards.

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Namespace, Secret};

use crate::controller::children::ChildKind;
use crate::controller::children::key_of;
use crate::controller::context::Context;
use crate::controller::memory::{ChildKey, Memo, version_of};
use crate::controller::observe::{self, Step};
use crate::controller::requests::{ApplyError, align_owners, create_once, get_metadata, ssa};
use crate::desired::secrets::Csprng;
use crate::desired::{Child, SecretTemplate};

/// What a workload or the route said when it was applied.
#[derive(Debug)]
pub enum Said {
    Nothing,
    Workload(Step),
    Route(Step),
}

/// What applying (or creating, or reading) one child came to; recorded in the memo once its
/// wave has finished.
#[derive(Debug)]
pub enum Answer {
    /// Applied (or read): the version to remember, unless `memoize` is false.
    Applied {
        key: ChildKey,
        version: Option<String>,
        memoize: bool,
        said: Said,
    },
    /// An issued Secret is gone (its name).
    Lost(String),
    /// Nothing to remember (a Secret deleted between our create and our read).
    Nothing,
}

pub type Pending<'a> = BoxFuture<'a, Result<Answer, ApplyError>>;

/// Server-side apply of one child, unless the memo shows it unchanged (None).
fn apply_one<'a, K: ChildKind>(
    ctx: &'a Context,
    memo: &Memo,
    object: &'a K,
    observe: fn(&K) -> Said,
) -> Option<Pending<'a>> {
    let key = key_of::<K>(object.meta());
    if memo.unchanged(&key, ctx.memory.seen()) {
        return None;
    }
    // kube-apiserver writes a PersistentVolumeClaim once more on the first re-apply after its
    // creation (seen on 1.36), so a claim is memoized from its second apply on: otherwise that
    // write would happen on the next full pass of a Ready store.
    let memoize = K::kind(&()) != "PersistentVolumeClaim" || memo.knows(&key, ctx.memory.seen());
    Some(
        async move {
            let applied = ssa(ctx, object).await?;
            Ok(Answer::Applied {
                version: version_of(&K::kind(&()), applied.meta()),
                said: observe(&applied),
                key,
                memoize,
            })
        }
        .boxed(),
    )
}

fn nothing<K>(_: &K) -> Said {
    Said::Nothing
}

/// The request a child of the Namespace, Foundation, Data, Storefront or Exposure wave needs,
/// if any.
pub fn start<'a>(
    ctx: &'a Context,
    memo: &Memo,
    child: Child<'a>,
    namespace: &'a Namespace,
    issued: bool,
) -> Option<Pending<'a>> {
    match child {
        Child::Namespace(_) => apply_one(ctx, memo, namespace, nothing),
        Child::ResourceQuota(o) => apply_one(ctx, memo, o, nothing),
        Child::LimitRange(o) => apply_one(ctx, memo, o, nothing),
        Child::NetworkPolicy(o) | Child::EdgePolicy(o) => apply_one(ctx, memo, o, nothing),
        Child::Service(o) => apply_one(ctx, memo, o, nothing),
        Child::Role(o) => apply_one(ctx, memo, o, nothing),
        Child::RoleBinding(o) => apply_one(ctx, memo, o, nothing),
        Child::PersistentVolumeClaim(o) => apply_one(ctx, memo, o, nothing),
        Child::ConfigMap(o) => apply_one(ctx, memo, o, nothing),
        Child::Ingress(o) => apply_one(ctx, memo, o, nothing),
        Child::StatefulSet(o) => apply_one(ctx, memo, o, |sts| {
            Said::Workload(observe::database(Some(sts)))
        }),
        Child::Deployment(o) => apply_one(ctx, memo, o, |deploy| {
            Said::Workload(observe::storefront(Some(deploy)))
        }),
        Child::HttpRoute(o) => apply_one(ctx, memo, o, |route| Said::Route(observe::route(route))),
        Child::GeneratedSecret(t) => (!memo
            .unchanged(&key_of::<Secret>(&t.metadata), ctx.memory.seen()))
        .then(|| secret(ctx, t, issued).boxed()),
        Child::BackupCronJob(o) | Child::CronJob(o) => apply_one(ctx, memo, o, nothing),
        Child::BackupSecret(o) => apply_one(ctx, memo, o, nothing),
        // The migration step and the setup step create their Jobs themselves.
        Child::MigrationJob(_) | Child::SetupJob(_) | Child::RestoreJob(_) => None,
    }
}

/// Takes `child` as our last apply left it, without a request, when the memo does not know it
/// and the child shows so itself ([`Memo::adopt`]): the hash it carries is that of what we would
/// apply now and no one else took a field of ours; a create-only Secret, when the Secrets were
/// issued and it exists owned as the policy says. The HTTPRoute is always applied when the memo
/// does not know it: whether the Gateway accepted it is read from the apply's answer.
pub fn adopt(
    ctx: &Context,
    memo: &mut Memo,
    child: Child<'_>,
    namespace: &Namespace,
    issued: bool,
) {
    fn applied<K: ChildKind>(ctx: &Context, memo: &mut Memo, object: &K) {
        memo.adopt(&key_of::<K>(object.meta()), ctx.memory.seen(), |trust| {
            serde_json::to_value(object).is_ok_and(|json| trust.holds_applied(&json))
        });
    }
    match child {
        Child::Namespace(_) => applied(ctx, memo, namespace),
        Child::ResourceQuota(o) => applied(ctx, memo, o),
        Child::LimitRange(o) => applied(ctx, memo, o),
        Child::NetworkPolicy(o) | Child::EdgePolicy(o) => applied(ctx, memo, o),
        Child::Service(o) => applied(ctx, memo, o),
        Child::Role(o) => applied(ctx, memo, o),
        Child::RoleBinding(o) => applied(ctx, memo, o),
        Child::PersistentVolumeClaim(o) => applied(ctx, memo, o),
        Child::ConfigMap(o) => applied(ctx, memo, o),
        Child::Ingress(o) => applied(ctx, memo, o),
        Child::StatefulSet(o) => applied(ctx, memo, o),
        Child::Deployment(o) => applied(ctx, memo, o),
        Child::BackupCronJob(o) | Child::CronJob(o) => applied(ctx, memo, o),
        Child::BackupSecret(o) => applied(ctx, memo, o),
        Child::GeneratedSecret(t) if issued => {
            let key = key_of::<Secret>(&t.metadata);
            memo.adopt(&key, ctx.memory.seen(), |trust| {
                trust.holds_owners(&t.metadata)
            });
        }
        Child::GeneratedSecret(_)
        | Child::HttpRoute(_)
        | Child::MigrationJob(_)
        | Child::SetupJob(_)
        | Child::RestoreJob(_) => {}
    }
}

/// Records what a wave's request came to.
pub fn record(memo: &mut Memo, done: Answer, lost: &mut Vec<String>) {
    match done {
        Answer::Applied {
            key,
            version,
            memoize,
            said,
        } => {
            match said {
                Said::Nothing => {}
                Said::Workload(step) => {
                    memo.workloads.insert(key.clone(), step);
                }
                Said::Route(step) => memo.route = Some(step),
            }
            if memoize {
                memo.record(key, version.as_deref());
            }
        }
        Answer::Lost(name) => lost.push(name),
        Answer::Nothing => {}
    }
}

/// A generated Secret: created with fresh values while none was ever issued; once issued, only
/// read (metadata) so that a lost one is reported, never regenerated.
async fn secret(
    ctx: &Context,
    template: &SecretTemplate,
    issued: bool,
) -> Result<Answer, ApplyError> {
    let key = key_of::<Secret>(&template.metadata);
    let applied = |version: Option<&str>, key| Answer::Applied {
        key,
        version: version.map(str::to_string),
        memoize: true,
        said: Said::Nothing,
    };
    if !issued {
        // Fresh values from the CSPRNG; never logged, never overwritten.
        if let Some(created) = create_once(ctx, &template.materialize(&mut Csprng)).await? {
            return Ok(applied(created.metadata.resource_version.as_deref(), key));
        }
    }
    Ok(
        match get_metadata::<Secret>(ctx, &template.metadata).await? {
            Some(existing) => {
                align_owners::<Secret>(ctx, &existing.metadata, &template.metadata).await?;
                applied(existing.metadata.resource_version.as_deref(), key)
            }
            None if issued => Answer::Lost(template.metadata.name.clone().unwrap_or_default()),
            // Deleted between our create and our read: the next pass creates it.
            None => Answer::Nothing,
        },
    )
}
