//! `kubectl storefleet`: see the crate's documentation; installed as `kubectl-storefleet` on the
//! PATH (or with krew, `plugins/storefleet.yaml`), kubectl finds it.

use clap::Parser;
use kubectl_storefleet::{Cli, run};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let client = match kube::Client::try_default().await {
        Ok(client) => client,
        Err(e) => {
            eprintln!("error: cannot reach the cluster of your kubeconfig: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    match run(client, cli.command, &mut out).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
