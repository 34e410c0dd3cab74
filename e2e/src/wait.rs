//! Waiting on a real cluster: poll until a check passes, and say what was awaited when it does
//! not.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use storefleet_types::Store;

/// Polls `check` every `every` until it returns `Ok(Some(value))` or `timeout` passes. `Ok(None)`
/// means "not yet" with `describe` giving the last state seen; `Err` stops at once.
pub async fn until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut check: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Result<T, String>, String>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = match check().await? {
            Ok(value) => return Ok(value),
            Err(state) => state,
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "timed out after {}s waiting for {what}; last seen: {last}",
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(every).await;
    }
}

/// A condition of a Store by type.
pub fn condition<'a>(store: &'a Store, type_: &str) -> Option<&'a Condition> {
    store.status.as_ref()?.condition(type_)
}

/// Whether a condition is `True`.
pub fn is_true(store: &Store, type_: &str) -> bool {
    condition(store, type_).is_some_and(|c| c.status == "True")
}

/// One line describing a Store's status, for timeout messages.
pub fn describe(store: &Store) -> String {
    let status = store.status.clone().unwrap_or_default();
    let conditions: Vec<String> = status
        .conditions
        .iter()
        .map(|c| format!("{}={}({})", c.type_, c.status, c.reason))
        .collect();
    format!(
        "phase={} message={:?} conditions=[{}]",
        status.phase.map(|p| p.as_str()).unwrap_or("none"),
        status.message.unwrap_or_default(),
        conditions.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use storefleet_types::{Phase, StoreSpec, StoreStatus};

    #[tokio::test(start_paused = true)]
    async fn returns_when_ready_and_times_out_with_the_last_state() {
        let mut n = 0;
        let got = until(
            "three polls",
            Duration::from_secs(10),
            Duration::from_secs(1),
            || {
                n += 1;
                let v = n;
                async move { Ok(if v >= 3 { Ok(v) } else { Err(format!("n={v}")) }) }
            },
        )
        .await;
        assert_eq!(got, Ok(3));
        let err = until::<(), _, _>(
            "never",
            Duration::from_secs(5),
            Duration::from_secs(1),
            || async { Ok(Err("still pending".to_string())) },
        )
        .await
        .expect_err("times out");
        assert_eq!(
            err,
            "timed out after 5s waiting for never; last seen: still pending"
        );
        let stop = until::<(), _, _>(
            "broken",
            Duration::from_secs(5),
            Duration::from_secs(1),
            || async { Err("api down".to_string()) },
        )
        .await;
        assert_eq!(stop, Err("api down".into()));
    }

    #[test]
    fn conditions_and_description() {
        let spec: StoreSpec =
            serde_json::from_value(serde_json::json!({"engine": "woocommerce", "owner": "a"}))
                .expect("spec");
        let mut store = Store::new("a", spec);
        assert!(!is_true(&store, "Ready"));
        store.status = Some(StoreStatus {
            phase: Some(Phase::Provisioning),
            message: Some("Waiting for database".into()),
            conditions: vec![Condition {
                type_: "Ready".into(),
                status: "False".into(),
                reason: "DatabaseNotReady".into(),
                message: "Waiting for database".into(),
                observed_generation: Some(1),
                last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
            }],
            ..StoreStatus::default()
        });
        assert!(!is_true(&store, "Ready"));
        assert_eq!(
            condition(&store, "Ready").map(|c| c.reason.as_str()),
            Some("DatabaseNotReady")
        );
        assert_eq!(
            describe(&store),
            "phase=Provisioning message=\"Waiting for database\" conditions=[Ready=False(DatabaseNotReady)]"
        );
    }
}
