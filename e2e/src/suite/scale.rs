//! Scale scenario (`STOREFLEET_E2E_SCALE=N`): N stores at once. Reports the time until every
//! store has all its children, the time to delete them all, the operator's peak resident memory
//! and the API requests it made (from its metrics), as a table.

use std::time::{Duration, Instant};

use futures::future::{BoxFuture, join_all};
use kube::api::DeleteParams;

use crate::kube_env::Env;
use crate::{text, wait};

/// The scenario.
pub fn scale_report(env: &Env) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move {
        let n = env.settings.scale.unwrap_or(1);
        let requests_before = api_requests(env).await;
        let start = Instant::now();
        let created = join_all((0..n).map(|_| env.create_store("e2e-scale", |_| {}))).await;
        let names: Vec<String> = created
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter_map(|s| s.metadata.name)
            .collect();
        let timeout = Duration::from_secs(120 + 5 * n as u64);
        let provisioned = join_all(names.iter().map(|name| {
            env.wait_store(name, "condition NamespaceReady=True", timeout, |s| {
                wait::is_true(s, "NamespaceReady")
            })
        }))
        .await;
        provisioned.into_iter().collect::<Result<Vec<_>, _>>()?;
        let children_time = start.elapsed();
        let requests_provisioned = api_requests(env).await;

        let start = Instant::now();
        for name in &names {
            env.stores()
                .delete(name, &DeleteParams::default())
                .await
                .map_err(|e| format!("delete {name}: {e}"))?;
        }
        let gone = join_all(names.iter().map(|name| env.wait_store_gone(name, timeout))).await;
        gone.into_iter().collect::<Result<Vec<_>, _>>()?;
        let delete_time = start.elapsed();
        let requests_after = api_requests(env).await;
        let peak = match env.operator.lock().await.as_mut() {
            Some(op) => format!("{:.1} MiB", op.sample_memory() as f64 / 1_048_576.0),
            None => "n/a (in-cluster: see storefleet_process_resident_memory_bytes)".into(),
        };
        let delta = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => format!("{}", (b - a).round()),
            _ => "n/a".into(),
        };
        let rows = vec![
            vec!["stores".into(), n.to_string()],
            vec![
                "time until every store has all its children".into(),
                format!("{:.1} s", children_time.as_secs_f64()),
            ],
            vec![
                "time to delete them all".into(),
                format!("{:.1} s", delete_time.as_secs_f64()),
            ],
            vec!["operator peak resident memory".into(), peak],
            vec![
                "API requests while provisioning".into(),
                delta(requests_before, requests_provisioned),
            ],
            vec![
                "API requests while deleting".into(),
                delta(requests_provisioned, requests_after),
            ],
        ];
        println!("{}", text::table(&["scale scenario", "value"], &rows));
        Ok(())
    })
}

async fn api_requests(env: &Env) -> Option<f64> {
    let guard = env.operator.lock().await;
    let metrics = guard.as_ref()?.metrics().await.ok()?;
    text::metric_sum(&metrics, "storefleet_api_requests_total")
}
