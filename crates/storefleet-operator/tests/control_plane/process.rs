//! The `storefleet-operator run` binary itself, on a real kube-apiserver
//! (`KUBEBUILDER_ASSETS`): what a newcomer sees without the CRD, and a pod that stops when told
//! to (SIGTERM), with and without leader election.
//!
//! Without the assets every test prints one `skipped:` line and returns.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use storefleet_envtest::process::Supervised;
use storefleet_envtest::{ControlPlane, TempDir};
use storefleet_operator::config::OperatorConfig;
use storefleet_operator::controller::runtime::SHUTDOWN_GRACE;

/// The operator binary, started with `kubeconfig`; its pid is written to `pid` (the binary
/// replaces the shell that wrote it).
fn start(dir: &Path, kubeconfig: &Path, args: &[&str]) -> (Supervised, PathBuf) {
    let pid = dir.join("operator.pid");
    let mut all: Vec<String> = vec![
        "-c".into(),
        r#"echo $$ > "$1"; export KUBECONFIG="$2"; shift 2; exec "$@""#.into(),
        "sh".into(),
        pid.display().to_string(),
        kubeconfig.display().to_string(),
        env!("CARGO_BIN_EXE_storefleet-operator").into(),
        "run".into(),
        "--log-format=text".into(),
        "--listen=127.0.0.1:0".into(),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    let process = Supervised::start(
        "storefleet-operator",
        Path::new("/bin/sh"),
        &all,
        &dir.join("operator.log"),
    )
    .expect("start the operator");
    (process, pid)
}

/// Waits until the process has exited; its exit status.
fn wait_exit(process: &mut Supervised, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = process.exit_status() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn wait_log(process: &Supervised, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !process.log_tail(200).contains(needle) {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log:\n{}",
            process.log_tail(40)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sigterm(pid: &Path) {
    let pid = std::fs::read_to_string(pid).expect("pid file");
    let status = Command::new("kill")
        .args(["-TERM", pid.trim()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[tokio::test]
async fn without_the_crd_run_says_what_to_apply_and_exits_non_zero() {
    let Some(cp) =
        ControlPlane::start("without_the_crd_run_says_what_to_apply_and_exits_non_zero").await
    else {
        return;
    };
    let dir = TempDir::new("operator-process").expect("temp dir");
    let (mut process, _) = start(
        dir.path(),
        cp.admin_kubeconfig(),
        &["--leader-election=false"],
    );
    let status = wait_exit(&mut process, Duration::from_secs(30))
        .unwrap_or_else(|| panic!("still running without the CRD:\n{}", process.log_tail(20)));
    assert!(!status.success(), "exit status {status}");
    let log = process.log_tail(50);
    assert!(
        log.contains("the stores.storefleet.io CRD is not installed")
            && log.contains("kubectl apply --server-side -f crd/storefleet.io_stores.yaml"),
        "{log}"
    );
    assert!(
        log.lines().filter(|l| l.contains("ERROR")).count() == 1,
        "one line, not a loop:\n{log}"
    );
}

#[tokio::test]
async fn sigterm_stops_the_operator_within_the_grace_period() {
    let env = env_or_skip!(prepare, OperatorConfig::default());
    env.create(storefleet_types::Store::test()).await;
    let dir = TempDir::new("operator-process").expect("temp dir");
    for mode in [
        vec!["--leader-election=false"],
        vec![
            "--leader-election=true",
            "--lease-namespace",
            common::RELEASE_NAMESPACE,
            "--identity",
            "test-replica",
        ],
    ] {
        let (mut process, pid) = start(dir.path(), &env.operator_kubeconfig, &mode);
        wait_log(&process, "controller starting");
        // Mid-work: the store is being provisioned (no kubelet answers for its pods here).
        tokio::time::sleep(Duration::from_secs(2)).await;
        sigterm(&pid);
        let started = Instant::now();
        let status = wait_exit(&mut process, SHUTDOWN_GRACE + Duration::from_secs(5))
            .unwrap_or_else(|| {
                panic!(
                    "{mode:?}: still running {:?} after SIGTERM:\n{}",
                    started.elapsed(),
                    process.log_tail(20)
                )
            });
        assert!(status.success(), "{mode:?}: exit status {status}");
        assert!(process.log_tail(50).contains("shutdown requested"));
    }
}
