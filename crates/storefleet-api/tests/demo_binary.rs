//! `storefleet-api --demo`, the binary as a newcomer runs it: no tokens file, no cluster; it
//! serves the dashboard and answers as the demo. And the local secrets the README has users
//! create stay out of git.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(addr: &str, path: &str, token: Option<&str>) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn the_demo_runs_without_a_cluster_or_a_tokens_file() {
    let port = storefleet_envtest::ports::free_port().expect("free port");
    let addr = format!("127.0.0.1:{port}");
    let probe_port = storefleet_envtest::ports::free_port().expect("free port");
    let probe_addr = format!("127.0.0.1:{probe_port}");
    let child = Command::new(env!("CARGO_BIN_EXE_storefleet-api"))
        .args(["--demo", "--log-format", "text", "--listen", &addr])
        .args(["--probe-listen", &probe_addr])
        // No kubeconfig anywhere: the demo must not need one.
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("STOREFLEET_API_TOKENS_FILE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start storefleet-api --demo");
    let _child = Kill(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        if let Some(reply) = get(&addr, "/healthz", None) {
            break reply;
        }
        assert!(Instant::now() < deadline, "the demo never answered");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let me = get(
        &addr,
        "/api/v1/me",
        Some(storefleet_api::demo::TENANT_TOKEN),
    )
    .expect("me");
    assert!(me.contains("\"demo\":true"), "{me}");
    let stores = get(
        &addr,
        "/api/v1/stores",
        Some(storefleet_api::demo::TENANT_TOKEN),
    )
    .expect("stores");
    assert!(stores.contains("acme-outdoor"), "{stores}");
    assert!(
        !stores.contains("north-wind"),
        "another tenant's store: {stores}"
    );
    // Readiness and metrics on the probe listener only.
    for path in ["/readyz", "/metrics"] {
        let public = get(&addr, path, None).expect("public");
        assert!(public.starts_with("HTTP/1.1 404"), "{path}: {public}");
        let probe = get(&probe_addr, path, None).expect("probe");
        assert!(probe.starts_with("HTTP/1.1 200"), "{path}: {probe}");
    }
    let page = get(&addr, "/", None).expect("dashboard");
    assert!(page.contains("id=\"demo-banner\""), "{page}");

    // Without --demo, a tokens file is required, and the error says so.
    let out = Command::new(env!("CARGO_BIN_EXE_storefleet-api"))
        .env_remove("STOREFLEET_API_TOKENS_FILE")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--tokens-file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The README has users create `tokens.yaml` in the repository root: git must ignore it.
#[test]
fn local_secrets_are_ignored_by_git() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let ignore = std::fs::read_to_string(root.join(".gitignore")).expect(".gitignore");
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    for entry in ["/tokens.yaml", "*.tokens.yaml", ".env"] {
        assert!(lines.contains(&entry), "{entry} missing from .gitignore");
    }
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    assert!(
        readme.contains("cat > tokens.yaml"),
        "the README's file name changed: update .gitignore"
    );
}
