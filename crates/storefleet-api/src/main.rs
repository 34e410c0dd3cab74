//! `storefleet-api`: the thin API pod and the dashboard.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use storefleet_api::backend::kube::KubeBackend;
use storefleet_api::backend::memory::MemoryBackend;
use storefleet_api::demo;
use storefleet_api::tokens::Tokens;
use storefleet_api::{AppState, Settings, app, probes};

/// Storefleet's API and dashboard: tenants create, watch, retry and delete their own stores.
#[derive(Debug, Parser)]
#[command(name = "storefleet-api", version, about)]
struct Cli {
    /// Address to serve on.
    #[arg(long, env = "STOREFLEET_API_LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Address of the probe listener (/healthz, /readyz, /metrics): for the kubelet and
    /// Prometheus only, never behind the Service's route.
    #[arg(
        long,
        env = "STOREFLEET_API_PROBE_LISTEN",
        default_value = "0.0.0.0:9090"
    )]
    probe_listen: SocketAddr,
    /// YAML list of {token, user, role} (role: tenant | admin); reloaded when it changes.
    #[arg(
        long,
        env = "STOREFLEET_API_TOKENS_FILE",
        required_unless_present = "demo"
    )]
    tokens_file: Option<PathBuf>,
    /// Serve the dashboard on an in-memory backend with sample stores that move through their
    /// phases (no cluster, nothing provisioned; the dashboard says so). Tokens:
    /// demo-tenant-token and demo-admin-token.
    #[arg(long, conflicts_with = "tokens_file")]
    demo: bool,
    /// Store creations per minute, per token and per client IP.
    #[arg(long, env = "STOREFLEET_API_CREATIONS_PER_MINUTE", default_value_t = 5)]
    creations_per_minute: u32,
    /// Stores one tenant may own.
    #[arg(long, env = "STOREFLEET_API_MAX_STORES_PER_OWNER", default_value_t = 5)]
    max_stores_per_owner: usize,
    /// Largest request body in bytes.
    #[arg(long, env = "STOREFLEET_API_BODY_LIMIT", default_value_t = 16384)]
    body_limit: usize,
    /// Take the client IP from X-Forwarded-For (only behind a trusted ingress).
    #[arg(
        long,
        env = "STOREFLEET_API_TRUST_FORWARDED_FOR",
        default_value_t = false
    )]
    trust_forwarded_for: bool,
    /// New stores get `tls: {}` (the operator's default cert-manager ClusterIssuer).
    #[arg(long, env = "STOREFLEET_API_DEFAULT_TLS", default_value_t = false, action = clap::ArgAction::Set)]
    default_tls: bool,
    /// Log format: json or text.
    #[arg(long, env = "STOREFLEET_LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
    log_format: String,
}

fn main() -> ExitCode {
    // kube uses ring; a build with every target also links aws-lc-rs, and rustls then cannot
    // pick a provider by itself (it panics at the first HTTPS request). Choose one here.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,kube=warn,tower=warn,hyper=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if cli.log_format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// Binds the probe listener and serves it in the background (until the process ends).
async fn spawn_probes(addr: SocketAddr, router: axum::Router) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} (probes): {e}"))?;
    tracing::info!(%addr, "serving probes and metrics");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "probe listener stopped");
        }
    });
    Ok(())
}

async fn serve(cli: Cli) -> Result<(), String> {
    let settings = Settings {
        creations_per_minute: cli.creations_per_minute,
        max_stores_per_owner: cli.max_stores_per_owner,
        body_limit: cli.body_limit,
        trust_forwarded_for: cli.trust_forwarded_for,
        default_tls: cli.default_tls,
        demo: cli.demo,
        ..Settings::default()
    };
    let (router, _reload) = match &cli.tokens_file {
        Some(path) if !cli.demo => {
            let tokens = Tokens::load(path).map_err(|e| e.to_string())?;
            let reload = tokens.watch(path.clone(), Duration::from_secs(5));
            let client = kube::Client::try_default()
                .await
                .map_err(|e| format!("cannot connect to Kubernetes: {e}"))?;
            let backend = KubeBackend::start(client);
            let state = AppState::new(backend, tokens, settings);
            spawn_probes(cli.probe_listen, probes(state.clone())).await?;
            (app(state), Some(reload))
        }
        _ => {
            let backend = MemoryBackend::new();
            demo::seed(&backend).await;
            tokio::spawn(demo::run(backend.clone(), Duration::from_secs(4)));
            tracing::warn!(
                tenant_token = demo::TENANT_TOKEN,
                admin_token = demo::ADMIN_TOKEN,
                "DEMO MODE: in-memory sample stores, no cluster, nothing is provisioned; open http://{}/ and log in with a demo token",
                cli.listen
            );
            let tokens = Tokens::from_entries(demo::tokens());
            let state = AppState::new(backend, tokens, settings);
            spawn_probes(cli.probe_listen, probes(state.clone())).await?;
            (app(state), None)
        }
    };
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cli.listen))?;
    tracing::info!(addr = %cli.listen, "serving");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| format!("server error: {e}"))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
