//! The API fuzzed from its own OpenAPI document: schemathesis (from PyPI, installed by
//! `make test-deps`, found through `STOREFLEET_SCHEMATHESIS`) generates valid and invalid
//! requests for every operation, against the `storefleet-api` binary, on its demo backend and on
//! the Kubernetes backend of a real control plane (`KUBEBUILDER_ASSETS`). A run fails on any 5xx
//! answer, any response (status, content type, body, SSE event) that the document does not
//! describe, i.e. any break of the documented error shape. Bounded: a fixed number of examples
//! per operation and a fixed seed (the run is reproducible), under a time limit.
//!
//! Without schemathesis (or, for the second test, the control plane) a test prints one
//! `skipped:` line and returns.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube::CustomResourceExt;
use storefleet_envtest::{ControlPlane, TempDir, chart, ports::free_port};
use storefleet_types::Store;

/// Examples per operation and phase.
const MAX_EXAMPLES: &str = "100";
/// The seed every run uses.
const SEED: &str = "20261203";
/// The longest a run may take.
const TIME_LIMIT: Duration = Duration::from_secs(300);
const TENANT_TOKEN: &str = "fuzz-tenant-token-0123456789";

fn schemathesis() -> Option<PathBuf> {
    let path = std::env::var_os("STOREFLEET_SCHEMATHESIS").map(PathBuf::from);
    match path {
        Some(p) if p.is_file() => Some(p),
        _ => {
            println!(
                "skipped: schemathesis not found (STOREFLEET_SCHEMATHESIS; `make test-deps` installs it)"
            );
            None
        }
    }
}

/// A child process killed (and reaped) when dropped, pass or fail.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `storefleet-api` with `args` and waits for `/healthz` on `addr`.
fn start_api(args: &[String], envs: &[(&str, &Path)], log: &Path) -> Kill {
    let log = std::fs::File::create(log).expect("log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_storefleet-api"));
    cmd.args(args)
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .env_remove("STOREFLEET_API_TOKENS_FILE");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    Kill(cmd.spawn().expect("start storefleet-api"))
}

fn wait_healthy(addr: &str, api: &mut Kill) {
    use std::io::{Read, Write};
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = api.0.try_wait() {
            panic!("storefleet-api exited: {status}");
        }
        let ok = std::net::TcpStream::connect(addr).ok().and_then(|mut s| {
            write!(
                s,
                "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            .ok()?;
            let mut out = String::new();
            s.read_to_string(&mut out).ok()?;
            out.starts_with("HTTP/1.1 200").then_some(())
        });
        if ok.is_some() {
            return;
        }
        assert!(Instant::now() < deadline, "storefleet-api never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs schemathesis against `base` with `token`; panics with its report unless it passed. A
/// run in which schemathesis itself crashed (a Python traceback inside schemathesis, reported as
/// a "Runtime Error", and no failed check: a fault of the fuzzer's, not a finding) is run once
/// more.
fn fuzz(st: &Path, base: &str, token: &str, dir: &Path) {
    let (status, text) = fuzz_once(st, base, token, dir);
    let crashed_itself = !status.success()
        && text.contains("Runtime Error")
        && text.contains("site-packages/schemathesis")
        && !text.contains("FAILURES");
    let (status, text) = if crashed_itself {
        println!("schemathesis crashed on its own (no failed check): running it once more");
        fuzz_once(st, base, token, dir)
    } else {
        (status, text)
    };
    let summary: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("generated") || l.contains("passed") || l.starts_with("====="))
        .collect();
    println!("{}", summary.join("\n"));
    assert!(status.success(), "schemathesis found failures:\n{text}");
    assert!(text.contains("generated"), "no test case ran:\n{text}");
}

/// One schemathesis run: its exit status and report.
fn fuzz_once(st: &Path, base: &str, token: &str, dir: &Path) -> (std::process::ExitStatus, String) {
    let document = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    let report = dir.join("schemathesis.log");
    let out = std::fs::File::create(&report).expect("report");
    let child = Command::new(st)
        .arg("run")
        .arg(&document)
        .args(["--url", base])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        // examples: the document's own; coverage: every boundary and mutation of each parameter,
        // header and body (a missing Content-Type, a wrong type, ...); fuzzing: random ones.
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED, "-w", "2"])
        .args(["--no-color"])
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("report"))
        .stderr(out)
        .spawn()
        .expect("start schemathesis");
    let mut child = Kill(child);
    let deadline = Instant::now() + TIME_LIMIT;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "schemathesis ran over {TIME_LIMIT:?}:\n{}",
            std::fs::read_to_string(&report).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    (status, std::fs::read_to_string(&report).unwrap_or_default())
}

#[test]
fn fuzzing_the_demo_api_finds_no_5xx_and_nothing_undocumented() {
    let Some(st) = schemathesis() else {
        return;
    };
    let tmp = TempDir::new("fuzz-demo").expect("temporary folder");
    let dir = tmp.path();
    let addr = format!("127.0.0.1:{}", free_port().expect("port"));
    let probes = format!("127.0.0.1:{}", free_port().expect("port"));
    let mut api = start_api(
        &[
            "--demo".into(),
            "--log-format=text".into(),
            format!("--listen={addr}"),
            format!("--probe-listen={probes}"),
        ],
        &[("KUBECONFIG", Path::new("/nonexistent"))],
        &dir.join("api.log"),
    );
    wait_healthy(&addr, &mut api);
    fuzz(
        &st,
        &format!("http://{addr}"),
        storefleet_api::demo::TENANT_TOKEN,
        dir,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fuzzing_the_api_on_a_real_apiserver_finds_no_5xx_and_nothing_undocumented() {
    let Some(st) = schemathesis() else {
        return;
    };
    let Some(cp) = ControlPlane::start(
        "fuzzing_the_api_on_a_real_apiserver_finds_no_5xx_and_nothing_undocumented",
    )
    .await
    else {
        return;
    };
    const NAMESPACE: &str = "storefleet-system";
    cp.apply(&[serde_json::to_value(Store::crd()).expect("crd")])
        .await
        .expect("CRD");
    cp.ensure_namespace(NAMESPACE).await.expect("namespace");
    let rbac = chart::access_objects("storefleet", NAMESPACE, &[], "storefleet-api")
        .expect("helm template");
    cp.apply(&rbac).await.expect("RBAC");
    let stores: kube::Api<Store> = kube::Api::all(cp.admin());
    let deadline = Instant::now() + Duration::from_secs(60);
    while stores.list(&Default::default()).await.is_err() {
        assert!(Instant::now() < deadline, "the Store CRD is never served");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (kubeconfig, _) = cp
        .service_account(NAMESPACE, "storefleet-api")
        .await
        .expect("token");
    let dir = cp.dir().to_path_buf();
    let tokens = dir.join("tokens.yaml");
    std::fs::write(
        &tokens,
        format!("- token: {TENANT_TOKEN}\n  user: fuzz@example.com\n  role: tenant\n"),
    )
    .expect("tokens");
    let addr = format!("127.0.0.1:{}", free_port().expect("port"));
    let probes = format!("127.0.0.1:{}", free_port().expect("port"));
    let mut api = start_api(
        &[
            "--log-format=text".into(),
            format!("--listen={addr}"),
            format!("--probe-listen={probes}"),
            format!("--tokens-file={}", tokens.display()),
        ],
        &[("KUBECONFIG", kubeconfig.as_path())],
        &dir.join("api.log"),
    );
    let (st2, base, dir2) = (st.clone(), format!("http://{addr}"), dir.clone());
    tokio::task::spawn_blocking(move || {
        wait_healthy(&addr, &mut api);
        fuzz(&st2, &base, TENANT_TOKEN, &dir2);
        drop(api);
    })
    .await
    .expect("fuzzing");
}
