//! `storefleet-operator`: `run` is the controller, `crd` prints the CRD, `render` prints every
//! object a Store manifest produces (no cluster needed).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kube::CustomResourceExt;
use storefleet_operator::config::{ConfigOverrides, OperatorConfig};
use storefleet_operator::controller::runtime::{self, RunOptions};
use storefleet_operator::render;
use storefleet_types::Store;

/// Storefleet's Kubernetes operator: one Store custom resource, one isolated online shop.
#[derive(Debug, Parser)]
#[command(name = "storefleet-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the controller against the current kube context (KUBECONFIG, ~/.kube/config, or
    /// in-cluster), with /healthz, /readyz and /metrics on --listen.
    Run {
        /// Operator configuration file (YAML); built-in defaults when absent.
        #[arg(long, env = "STOREFLEET_CONFIG")]
        config: Option<PathBuf>,
        /// Address of the health and metrics server.
        #[arg(long, env = "STOREFLEET_LISTEN", default_value = "0.0.0.0:8080")]
        listen: SocketAddr,
        /// Take the leader-election Lease before reconciling (set false for a single local run).
        #[arg(long, env = "STOREFLEET_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
        leader_election: bool,
        /// Namespace of the leader-election Lease.
        #[arg(long, env = "POD_NAMESPACE", default_value = "storefleet-system")]
        lease_namespace: String,
        /// This replica's identity in the Lease.
        #[arg(long, env = "POD_NAME")]
        identity: Option<String>,
        /// Threads that run the controller: 1 (default) runs it on the main thread, which is
        /// plenty for its network-bound work and keeps its memory smallest (one allocator arena);
        /// more spread it over that many worker threads.
        #[arg(long, env = "STOREFLEET_WORKER_THREADS", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
        worker_threads: u16,
        /// Log format.
        #[arg(long, env = "STOREFLEET_LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
        log_format: String,
        #[command(flatten)]
        overrides: ConfigOverrides,
    },
    /// Print a CustomResourceDefinition as YAML: Store's, or StoreRollout's.
    Crd {
        /// Which kind's.
        #[arg(long, default_value = "store", value_parser = ["store", "storerollout"])]
        kind: String,
    },
    /// Print every object a Store manifest produces, in apply order, without a cluster.
    Render {
        /// The Store manifest (YAML); `-` reads standard input.
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
        /// Operator configuration file (YAML); built-in defaults when absent.
        #[arg(long, env = "STOREFLEET_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        overrides: ConfigOverrides,
    },
}

fn main() -> ExitCode {
    // kube uses ring; a build with every target also links aws-lc-rs, and rustls then cannot
    // pick a provider by itself (it panics at the first HTTPS request). Choose one here.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    if let Command::Run {
        config,
        listen,
        leader_election,
        lease_namespace,
        identity,
        log_format,
        worker_threads,
        overrides,
    } = cli.command
    {
        init_logging(&log_format);
        return match run_controller(
            config,
            listen,
            leader_election,
            lease_namespace,
            identity,
            worker_threads,
            &overrides,
        ) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                tracing::error!("{message}");
                ExitCode::FAILURE
            }
        };
    }
    match run(cli) {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,kube=warn,tower=warn,hyper=warn")
    });
    // Colour only for a person at a terminal, never in a pipe or a log file.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if format == "json" {
        builder
            .json()
            .with_current_span(true)
            .flatten_event(true)
            .init();
    } else {
        builder.init();
    }
}

fn run_controller(
    config: Option<PathBuf>,
    listen: SocketAddr,
    leader_election: bool,
    lease_namespace: String,
    identity: Option<String>,
    worker_threads: u16,
    overrides: &ConfigOverrides,
) -> Result<(), String> {
    let config = OperatorConfig::load(config.as_deref(), overrides).map_err(|e| e.to_string())?;
    let identity = identity
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("storefleet-operator-{}", std::process::id()));
    let options = RunOptions {
        config,
        listen,
        leader_election,
        lease_namespace,
        identity,
    };
    let mut builder = if worker_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(usize::from(worker_threads));
        builder
    };
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let result = runtime
        .block_on(runtime::run(options))
        .map_err(|e| e.to_string());
    // Tasks still running (a watch, a request) are not waited for: the process is stopping.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

fn run(cli: Cli) -> Result<String, String> {
    match cli.command {
        Command::Run { .. } => Err("run is handled in main".into()),
        Command::Crd { kind } => crd_yaml(&kind),
        Command::Render {
            file,
            config,
            overrides,
        } => {
            let config =
                OperatorConfig::load(config.as_deref(), &overrides).map_err(|e| e.to_string())?;
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
                    .map_err(|e| format!("cannot read standard input: {e}"))?
            } else {
                std::fs::read_to_string(&file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?
            };
            let store =
                render::parse_store(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            render::render(&store, &config).map_err(|e| format!("{}: {e}", file.display()))
        }
    }
}

fn crd_yaml(kind: &str) -> Result<String, String> {
    let crd = match kind {
        "storerollout" => storefleet_types::StoreRollout::crd(),
        _ => Store::crd(),
    };
    serde_saphyr::to_string(&crd).map_err(|e| format!("cannot serialize the CRD: {e}"))
}
