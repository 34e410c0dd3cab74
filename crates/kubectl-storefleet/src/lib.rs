//! `kubectl storefleet`: a Store from kubectl, in plain words. Every command reads or writes the
//! Store and its namespace's objects with the caller's own kubeconfig (their RBAC decides what
//! they may do); it keeps nothing.
//!
//! ```text
//!  status STORE        conditions, each child and its state, versions, backups, events
//!  credentials STORE   the shop's admin login (the Secret the status names)
//!  hibernate / wake    spec.hibernate (with GitOps, change it in git instead)
//!  retry STORE         a Failed store's retry annotation
//!  logs STORE [PART]   the newest pod's log: setup (default), cron, probe, storefront
//!  backup STORE        a backup now (storefleet.io/backup-now)
//!  restore SOURCE NEW  a new store restored from SOURCE's backup (spec.restoreFrom)
//! ```

mod actions;
mod status;

use std::io::Write;

use clap::{Parser, Subcommand, ValueEnum};
use kube::Client;

/// `kubectl storefleet`.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-storefleet",
    bin_name = "kubectl storefleet",
    version,
    about = "Storefleet's Stores from kubectl"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// One command.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Conditions, each child and its state, what it runs, backups and drills, events.
    Status {
        /// The store.
        store: String,
    },
    /// The shop's admin login.
    Credentials {
        /// The store.
        store: String,
    },
    /// Hibernate the store (every pod stopped; volumes, Secrets and route kept).
    Hibernate {
        /// The store.
        store: String,
    },
    /// Wake a hibernated store.
    Wake {
        /// The store.
        store: String,
    },
    /// Retry a Failed store.
    Retry {
        /// The store.
        store: String,
    },
    /// The newest log of a part of the store.
    Logs {
        /// The store.
        store: String,
        /// Which part.
        #[arg(value_enum, default_value_t = Part::Setup)]
        part: Part,
    },
    /// Back the store up now.
    Backup {
        /// The store.
        store: String,
    },
    /// Make a new store restored from a backup of SOURCE (same owner, engine and plan).
    Restore {
        /// The store whose backup to restore (it may have been deleted, then give --owner and
        /// --engine).
        source: String,
        /// The new store's name.
        new: String,
        /// A snapshot id (`latest` by default).
        #[arg(long, default_value = "latest")]
        snapshot: String,
        /// The owner, when SOURCE is gone.
        #[arg(long)]
        owner: Option<String>,
        /// The engine, when SOURCE is gone.
        #[arg(long)]
        engine: Option<String>,
    },
}

/// A part of a store whose log `logs` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Part {
    /// The newest setup Job.
    Setup,
    /// The newest run of WordPress's scheduled work.
    Cron,
    /// The newest checkout probe.
    Probe,
    /// The storefront (WordPress, or Medusa's server).
    Storefront,
}

impl Part {
    /// The component label of its pods.
    pub fn component(self) -> storefleet_types::names::Component {
        use storefleet_types::names::Component;
        match self {
            Part::Setup => Component::Setup,
            Part::Cron => Component::Cron,
            Part::Probe => Component::Probe,
            Part::Storefront => Component::Storefront,
        }
    }
}

/// What went wrong, in the words a user of kubectl needs.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// No such store.
    #[error("there is no store named {0} (kubectl get stores lists them)")]
    NoStore(String),
    /// The command does not fit the store's state.
    #[error("{0}")]
    Refused(String),
    /// RBAC said no.
    #[error(
        "you may not {what}: your Kubernetes user lacks the permission (ask the platform team)"
    )]
    Forbidden {
        /// What was tried.
        what: String,
    },
    /// Anything else the apiserver said.
    #[error("cannot {what}: {source}")]
    Kube {
        /// What was tried.
        what: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// Writing the output.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl PluginError {
    /// An apiserver error while doing `what`.
    pub fn kube(what: impl Into<String>, source: kube::Error) -> Self {
        let what = what.into();
        match &source {
            kube::Error::Api(s) if s.code == 403 => Self::Forbidden { what },
            _ => Self::Kube { what, source },
        }
    }
}

/// Runs one command with `client`, writing what it shows to `out`.
pub async fn run(client: Client, command: Command, out: &mut dyn Write) -> Result<(), PluginError> {
    actions::run(&client, command, out).await
}
