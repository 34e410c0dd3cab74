//! `storefleet-operator`: `crd` prints the CRD, `render` prints every object a Store manifest
//! produces (no cluster needed).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kube::CustomResourceExt;
use storefleet_operator::config::{ConfigOverrides, OperatorConfig};
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
    /// Print the Store CustomResourceDefinition as YAML.
    Crd,
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
    let cli = Cli::parse();
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

fn run(cli: Cli) -> Result<String, String> {
    match cli.command {
        Command::Crd => crd_yaml(),
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

fn crd_yaml() -> Result<String, String> {
    serde_saphyr::to_string(&Store::crd()).map_err(|e| format!("cannot serialize the CRD: {e}"))
}
