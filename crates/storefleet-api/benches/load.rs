//! Load benchmark of the API on loopback with the in-memory backend: an open-loop load of
//! 200 requests/s (latency measured from each request's scheduled start, so a slow server
//! cannot hide its queueing), for list and for create; p50/p99 and achieved requests/s, and the
//! server's peak resident memory (the server runs as a child process, measured alone).
//!
//! `cargo bench -p storefleet-api --bench load` (targets: p99 < 10 ms at 200 req/s, < 30 MiB).

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use storefleet_api::backend::Backend;
use storefleet_api::backend::memory::MemoryBackend;
use storefleet_api::tokens::{Role, TokenEntry, Tokens};
use storefleet_api::{AppState, Settings, app};

const TOKEN: &str = "bench-admin-token-0123456789";
const RATE: u32 = 200;
const SECONDS: u32 = 5;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::var("STOREFLEET_BENCH_SERVER").is_ok() {
        runtime.block_on(server());
    } else {
        runtime.block_on(load());
    }
}

/// Child mode: serve the API with 50 stores, print the port, run until killed.
async fn server() {
    let backend = MemoryBackend::new();
    for i in 0..50 {
        let spec =
            serde_json::from_value(serde_json::json!({"engine": "woocommerce", "owner": "ops"}))
                .expect("spec");
        backend
            .create(storefleet_types::Store::new(&format!("seed-{i}"), spec))
            .await
            .expect("seed");
    }
    let tokens = Tokens::from_entries(vec![TokenEntry {
        token: TOKEN.into(),
        user: "ops".into(),
        role: Role::Admin,
    }]);
    let settings = Settings {
        creations_per_minute: u32::MAX / 2,
        max_stores_per_owner: usize::MAX,
        ..Settings::default()
    };
    let router = app(AppState::new(backend, tokens, settings));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    println!("{}", listener.local_addr().expect("addr").port());
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .expect("serve");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn load() {
    let exe = std::env::current_exe().expect("exe");
    let mut child = Command::new(exe)
        .env("STOREFLEET_BENCH_SERVER", "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("server starts");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("port");
    let port: u16 = line.trim().parse().expect("port number");
    let client: Arc<Client<_, Full<Bytes>>> =
        Arc::new(Client::builder(TokioExecutor::new()).build_http());

    for (label, method) in [("list", "GET"), ("create", "POST")] {
        let interval = Duration::from_secs_f64(1.0 / f64::from(RATE));
        let total = RATE * SECONDS;
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(total as usize);
        for i in 0..total {
            let scheduled = start + interval * i;
            tokio::time::sleep_until(scheduled.into()).await;
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                let (uri, body) = if method == "GET" {
                    (
                        format!("http://127.0.0.1:{port}/api/v1/stores"),
                        Bytes::new(),
                    )
                } else {
                    (
                        format!("http://127.0.0.1:{port}/api/v1/stores"),
                        Bytes::from(format!("{{\"name\":\"load-{i}\"}}")),
                    )
                };
                let req = hyper::Request::builder()
                    .method(method)
                    .uri(uri)
                    .header("authorization", format!("Bearer {TOKEN}"))
                    .header("content-type", "application/json")
                    .body(Full::new(body))
                    .expect("request");
                let res = client.request(req).await.expect("response");
                let ok = res.status().is_success();
                let _ = res.into_body().collect().await;
                (scheduled.elapsed(), ok)
            }));
        }
        let mut latencies = Vec::with_capacity(tasks.len());
        let mut failures = 0;
        for t in tasks {
            let (latency, ok) = t.await.expect("task");
            latencies.push(latency);
            failures += usize::from(!ok);
        }
        let elapsed = start.elapsed();
        latencies.sort();
        let (p50, p99) = (percentile(&latencies, 0.50), percentile(&latencies, 0.99));
        println!(
            "{label:<6} {total} requests at {RATE}/s: p50 {:.2} ms, p99 {:.2} ms, {:.0} requests/s achieved, {failures} failed; target p99 < 10 ms: {}",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            f64::from(total) / elapsed.as_secs_f64(),
            if p99 < Duration::from_millis(10) && failures == 0 {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let peak_kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    println!(
        "server peak resident memory: {:.1} MiB; target < 30 MiB: {}",
        peak_kib as f64 / 1024.0,
        if peak_kib > 0 && peak_kib < 30 * 1024 {
            "met"
        } else {
            "NOT met"
        }
    );
    let _ = child.kill();
    let _ = child.wait();
}
