//! API calls one store costs: writes from creation to Ready, and reads/writes of a no-op
//! reconcile, counted by the in-memory cluster while the real reconcile function runs.
//!
//! `cargo bench -p storefleet-operator --bench controller_writes`

use std::collections::BTreeMap;
use std::sync::Arc;

use storefleet_operator::build;
use storefleet_operator::config::OperatorConfig;
use storefleet_operator::controller::Context;
use storefleet_operator::controller::fake::{self, FakeCluster};
use storefleet_operator::controller::reconcile::reconcile;
use storefleet_operator::validate::validate;
use storefleet_types::{Phase, Store};

async fn pass(fake: &FakeCluster, ctx: &Arc<Context<FakeCluster>>) {
    let store = fake.store("alice").expect("store exists");
    reconcile(Arc::new(store), ctx.clone())
        .await
        .expect("reconcile succeeds");
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let config = OperatorConfig::default();
        let children = build::build(&validate(&Store::test(), &config).expect("valid")).children().len();
        let fake = FakeCluster::new();
        let (ctx, _clock) = fake::context(&fake, config);
        fake.put_store(Store::test());
        let mut passes = 1;
        pass(&fake, &ctx).await;
        fake.mark_database_ready("store-alice");
        fake.mark_storefront_available("store-alice");
        pass(&fake, &ctx).await;
        fake.complete_job("store-alice").expect("job created");
        pass(&fake, &ctx).await;
        passes += 2;
        let status = fake.store("alice").and_then(|s| s.status).unwrap_or_default();
        assert_eq!(status.phase, Some(Phase::Ready));

        let writes = fake.writes();
        let mut by_op: BTreeMap<&str, usize> = BTreeMap::new();
        for w in &writes {
            *by_op.entry(w.op).or_default() += 1;
        }
        let status_patches = by_op.get("patch-status").copied().unwrap_or_default();
        let budget = children + 1 + status_patches;
        println!("creation to Ready ({passes} reconciles): {} writes {by_op:?}", writes.len());
        println!(
            "  budget: {children} children + 1 finalizer + {status_patches} status patches (one per transition) = {budget}: {}",
            if writes.len() <= budget { "met" } else { "NOT met" }
        );

        let (writes_before, reads_before) = (fake.writes().len(), fake.reads());
        pass(&fake, &ctx).await;
        let noop_writes = fake.writes().len() - writes_before;
        println!(
            "no-op reconcile of a Ready store: {noop_writes} writes, {} reads: {}",
            fake.reads() - reads_before,
            if noop_writes == 0 { "met" } else { "NOT met" }
        );
    });
}
