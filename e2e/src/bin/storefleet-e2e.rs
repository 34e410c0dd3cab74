//! `make e2e`: runs the suite against the cluster KUBECONFIG (or ~/.kube/config) points at.
//! With no reachable cluster every test prints one line saying so, counts as skipped, and the
//! run exits 0.

use std::process::ExitCode;

use storefleet_e2e::harness::{run_all, skip_all};
use storefleet_e2e::kube_env::{Env, connect};
use storefleet_e2e::settings::Settings;
use storefleet_e2e::suite;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("e2e: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        let settings = Settings::from_env();
        let tests = suite::all();
        let summary = match connect().await {
            Err(reason) => skip_all(&tests, &format!("no reachable cluster ({reason})")),
            Ok(client) => match Env::prepare(client, settings).await {
                Ok(env) => run_all(&env, &tests).await,
                Err(e) => {
                    eprintln!("e2e: cannot prepare the cluster: {e}");
                    return 1;
                }
            },
        };
        println!("{summary}");
        summary.exit_code()
    });
    if code == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
