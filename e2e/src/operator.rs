//! The operator under test when it runs locally: the built binary as a child process against
//! the same kubeconfig, restartable, killed when dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use crate::text;

/// A running local operator.
#[derive(Debug)]
pub struct LocalOperator {
    bin: PathBuf,
    port: u16,
    log: PathBuf,
    child: Option<Child>,
    /// Highest VmHWM seen across restarts.
    peak_rss: u64,
    /// The operator configuration file, if any.
    config: Option<PathBuf>,
}

impl LocalOperator {
    /// Starts the binary and waits until `/readyz` answers.
    pub async fn start(bin: &Path, port: u16, config: Option<PathBuf>) -> Result<Self, String> {
        if !bin.exists() {
            return Err(format!(
                "operator binary {} not found: build it with `cargo build -p storefleet-operator` (make e2e does)",
                bin.display()
            ));
        }
        let log = std::env::temp_dir().join(format!(
            "storefleet-e2e-operator-{}.log",
            std::process::id()
        ));
        let mut op = Self {
            bin: bin.to_path_buf(),
            config,
            port,
            log,
            child: None,
            peak_rss: 0,
        };
        op.spawn().await?;
        Ok(op)
    }

    async fn spawn(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("cannot open {}: {e}", self.log.display()))?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new(&self.bin);
        command
            .args([
                "run",
                "--leader-election=false",
                "--log-format=json",
                "--listen",
            ])
            .arg(format!("127.0.0.1:{}", self.port));
        if let Some(config) = &self.config {
            command.arg(format!("--config={}", config.display()));
        }
        let child = command
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        let port = self.port;
        crate::wait::until(
            "the operator's /readyz",
            Duration::from_secs(30),
            Duration::from_millis(250),
            || async move {
                Ok(match http_get(port, "/readyz").await {
                    Ok((200, _)) => Ok(()),
                    Ok((code, _)) => Err(format!("HTTP {code}")),
                    Err(e) => Err(e),
                })
            },
        )
        .await
        .map_err(|e| format!("{e} (operator log: {})", self.log.display()))
    }

    /// Kills the process (SIGKILL, as a crash would) and starts it again.
    pub async fn restart(&mut self) -> Result<(), String> {
        self.sample_memory();
        if let Some(mut child) = self.child.take() {
            child
                .kill()
                .await
                .map_err(|e| format!("cannot kill the operator: {e}"))?;
        }
        self.spawn().await
    }

    /// The operator's metrics text.
    pub async fn metrics(&self) -> Result<String, String> {
        match http_get(self.port, "/metrics").await? {
            (200, body) => Ok(body),
            (code, _) => Err(format!("/metrics answered HTTP {code}")),
        }
    }

    /// Reads the process's peak resident memory so far.
    pub fn sample_memory(&mut self) -> u64 {
        let pid = self.child.as_ref().and_then(Child::id);
        if let Some(status) =
            pid.and_then(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
            && let Some(bytes) = text::peak_rss_bytes(&status)
        {
            self.peak_rss = self.peak_rss.max(bytes);
        }
        self.peak_rss
    }

    /// Where the operator logs.
    pub fn log_path(&self) -> &Path {
        &self.log
    }
}

/// A plain HTTP/1.1 GET on loopback; returns (status, body).
pub async fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .map_err(|e| format!("read: {e}"))?;
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, body))
}
