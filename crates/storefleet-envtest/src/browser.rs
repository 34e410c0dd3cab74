//! A real headless Chromium (Debian's `chromium` + `chromium-driver`) driven through WebDriver,
//! for the browser tests: [`Browser::start`] gives a session, or why it cannot run here.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromium-driver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver and a session in it; both go away on drop, with every Chromium process they
/// started (pass or fail).
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    profile: PathBuf,
    /// The WebDriver session.
    pub client: Client,
}

impl Drop for Browser {
    fn drop(&mut self) {
        stop(&mut self.driver, &self.profile);
    }
}

/// Stops chromedriver and everything it started. Killing chromedriver alone leaves Chromium
/// running (its processes are re-parented, not signalled), so the whole process group goes
/// (chromedriver leads its own), then any process still naming the profile folder (Chromium's
/// crash handlers start sessions of their own; their database lives in the profile too), then
/// the folder.
fn stop(driver: &mut Child, profile: &Path) {
    let group = format!("-{}", driver.id());
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stderr(Stdio::null())
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
    for _ in 0..50 {
        let left = processes_naming(profile);
        if left.is_empty() {
            break;
        }
        for pid in left {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_dir_all(profile);
}

/// The live processes whose command line names `path`.
pub fn processes_naming(path: &Path) -> Vec<u32> {
    let needle = path.to_string_lossy().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            // A zombie has an empty command line: it holds nothing.
            String::from_utf8_lossy(&cmdline)
                .contains(&needle)
                .then_some(pid)
        })
        .collect()
}

impl Browser {
    /// Starts chromedriver and a headless session (window 1280×900), or says why not.
    pub async fn start() -> Result<Self, String> {
        Self::start_resolving(&[]).await
    }

    /// [`Browser::start`], with each `(host, address)` of `hosts` resolved to that address (an
    /// IP) instead of through the system's resolver: a shop's name reaches its Service.
    pub async fn start_resolving(hosts: &[(&str, &str)]) -> Result<Self, String> {
        for path in [CHROMIUM, CHROMEDRIVER] {
            if !std::path::Path::new(path).exists() {
                return Err(format!(
                    "{path} is missing: install Debian's chromium and chromium-driver (make test-deps)"
                ));
            }
        }
        // kube brings ring, fantoccini's TLS stack another provider: pick one for the process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = crate::ports::free_port().map_err(|e| e.to_string())?;
        let profile =
            std::env::temp_dir().join(format!("storefleet-chromium-{}-{port}", std::process::id()));
        std::fs::create_dir_all(profile.join("tmp")).map_err(|e| format!("profile: {e}"))?;
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            // Its own process group, so that drop can stop Chromium with it; Chromium's
            // configuration and crash reports inside the profile, so that nothing is shared.
            .process_group(0)
            .env("XDG_CONFIG_HOME", profile.join("config"))
            .env("XDG_CACHE_HOME", profile.join("cache"))
            // Chromium's own temporary folders (`org.chromium.Chromium.*`) too: they outlive
            // it in the system's temporary folder otherwise.
            .env("TMPDIR", profile.join("tmp"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("chromedriver: {e}"))?;
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--window-size=1280,900",
        ]
        .map(String::from)
        .to_vec();
        args.push(format!("--user-data-dir={}", profile.display()));
        if !hosts.is_empty() {
            let rules: Vec<String> = hosts
                .iter()
                .map(|(host, address)| format!("MAP {host} {address}"))
                .collect();
            args.push(format!("--host-resolver-rules={}", rules.join(",")));
        }
        let caps = json!({
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args }
        });
        let caps = caps.as_object().cloned().unwrap_or_default();
        let url = format!("http://127.0.0.1:{port}");
        let mut last = String::new();
        let mut driver = Some(driver);
        for _ in 0..50 {
            let mut builder = ClientBuilder::rustls().map_err(|e| e.to_string())?;
            match builder.capabilities(caps.clone()).connect(&url).await {
                Ok(client) => {
                    let Some(driver) = driver.take() else { break };
                    return Ok(Self {
                        driver,
                        profile,
                        client,
                    });
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if let Some(mut d) = driver {
            stop(&mut d, &profile);
        }
        Err(format!("cannot start a WebDriver session: {last}"))
    }

    /// Chromium's profile folder (every Chromium process of this browser names it).
    pub fn profile(&self) -> &Path {
        &self.profile
    }

    /// Waits (10 s) until the element at `css` shows `want`; panics with what it showed.
    pub async fn wait_text(&self, css: &str, want: &str) {
        wait_text(&self.client, css, want).await;
    }

    /// Clicks the element at `css`.
    pub async fn click(&self, css: &str) {
        click(&self.client, css).await;
    }

    /// Types `text` into the element at `css` (cleared first).
    pub async fn fill(&self, css: &str, text: &str) {
        fill(&self.client, css, text).await;
    }
}

/// Waits (10 s) until the element at `css` shows `want`; panics with what it showed.
pub async fn wait_text(c: &Client, css: &str, want: &str) {
    let mut seen = String::new();
    for _ in 0..100 {
        if let Ok(el) = c.find(Locator::Css(css)).await
            && let Ok(text) = el.text().await
        {
            if text.contains(want) {
                return;
            }
            seen = text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never showed {want:?} (last: {seen:?})");
}

/// Clicks the element at `css`.
pub async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Types `text` into the element at `css` (cleared first).
pub async fn fill(c: &Client, css: &str, text: &str) {
    let field = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    field
        .clear()
        .await
        .unwrap_or_else(|e| panic!("clear {css}: {e}"));
    field
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
}
