//! Child processes that never outlive the test.
//!
//! Each binary runs under a tiny `sh` guard that holds the read end of a pipe from the test:
//! when the test process goes away for any reason (drop, panic, SIGKILL from a test runner's
//! timeout), the pipe closes, `read` returns and the guard kills the binary. [`Supervised`]'s
//! `Drop` closes the pipe and waits, so a dropped harness leaves no process behind.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Error;

/// The guard: start the binary in the background, wait for stdin to close (or the binary to
/// exit), then kill it (SIGKILL: nothing here needs a graceful shutdown).
/// (A background job's stdin is /dev/null, hence the explicit `<&3`.)
const GUARD: &str = r#"
exec 3<&0
"$@" </dev/null &
pid=$!
( read -r _ <&3 ; kill -KILL "$pid" 2>/dev/null ) &
reader=$!
wait "$pid"
status=$?
kill "$reader" 2>/dev/null
exit "$status"
"#;

/// A running binary under the guard.
#[derive(Debug)]
pub struct Supervised {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    log: PathBuf,
}

impl Supervised {
    /// Starts `binary` with `args`; stdout and stderr go to `log`.
    pub fn start(name: &str, binary: &Path, args: &[String], log: &Path) -> Result<Self, Error> {
        let out = File::create(log).map_err(|source| Error::Io {
            what: format!("create {}", log.display()),
            source,
        })?;
        let err = out.try_clone().map_err(|source| Error::Io {
            what: format!("clone {}", log.display()),
            source,
        })?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(GUARD)
            .arg("guard")
            .arg(binary)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| Error::Io {
                what: format!("start {}", binary.display()),
                source,
            })?;
        let stdin = child.stdin.take();
        Ok(Self {
            name: name.into(),
            child,
            stdin,
            log: log.to_path_buf(),
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The guard's pid (the binary is its child).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)) | Err(_))
    }

    /// The exit status, once the process has exited (the guard exits with the binary's status).
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last lines of the log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Stops the process and waits for it (at most ~10 s, then SIGKILL to the guard).
    pub fn stop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("envtest: {} did not stop in 10 s; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.stop();
    }
}
