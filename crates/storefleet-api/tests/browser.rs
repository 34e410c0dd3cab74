//! The dashboard in a real headless Chromium (Debian's `chromium` + `chromium-driver`), driven
//! through WebDriver: log in with a token, create a store, watch it change phase live, see the
//! admin credentials when Ready, delete it with the confirmation, see an API error shown.
//! `make test` installs the browser where it is missing (see the Makefile's `test-deps`).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use storefleet_api::backend::memory::{MemoryBackend, TEST_PASSWORD};
use storefleet_api::tokens::{Role, TokenEntry, Tokens};
use storefleet_api::{AppState, Settings, app};
use storefleet_types::Phase;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const TOKEN: &str = "browser-tenant-token-0123";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn start_driver() -> (Driver, Client) {
    for path in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            std::path::Path::new(path).exists(),
            "{path} is missing: install Debian's chromium and chromium-driver (`make test-deps` does)"
        );
    }
    // kube brings ring, fantoccini's TLS stack another provider: pick one for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let profile = std::env::temp_dir().join(format!("storefleet-chromium-{}", std::process::id()));
    let caps = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-quic", "--no-first-run", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let caps = caps.as_object().cloned().expect("object");
    let url = format!("http://127.0.0.1:{port}");
    let mut last = String::new();
    for _ in 0..50 {
        match ClientBuilder::rustls()
            .expect("tls")
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("cannot start a WebDriver session: {last}");
}

async fn wait_text(c: &Client, css: &str, want: &str) {
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

async fn wait_gone(c: &Client, css: &str) {
    for _ in 0..100 {
        if c.find(Locator::Css(css)).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} is still shown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_create_watch_and_delete() {
    let backend = MemoryBackend::new();
    let tokens = Tokens::from_entries(vec![TokenEntry {
        token: TOKEN.into(),
        user: "carol@example.com".into(),
        role: Role::Tenant,
    }]);
    let router = app(AppState::new(backend.clone(), tokens, Settings::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .ok();
    });

    let (_driver, c) = start_driver().await;
    c.goto(&format!("http://{addr}/"))
        .await
        .expect("open dashboard");

    // A wrong token is refused with a message.
    c.find(Locator::Id("token"))
        .await
        .expect("token field")
        .send_keys("wrong-token-0000000000")
        .await
        .expect("type");
    c.find(Locator::Id("login"))
        .await
        .expect("login")
        .click()
        .await
        .expect("click");
    wait_text(&c, "#login-error", "not valid").await;

    // Log in.
    let field = c.find(Locator::Id("token")).await.expect("token field");
    field.clear().await.expect("clear");
    field.send_keys(TOKEN).await.expect("type");
    c.find(Locator::Id("login"))
        .await
        .expect("login")
        .click()
        .await
        .expect("click");
    wait_text(&c, "#stores-view h2", "New store").await;

    // Create a store: it appears, Pending, pushed by the watch.
    c.find(Locator::Id("new-name"))
        .await
        .expect("name")
        .send_keys("browser-shop")
        .await
        .expect("type");
    c.find(Locator::Css("#new-plan option[value='medium']"))
        .await
        .expect("plan")
        .click()
        .await
        .expect("select");
    c.find(Locator::Id("create"))
        .await
        .expect("create")
        .click()
        .await
        .expect("click");
    let phase = "tr[data-store='browser-shop'] td.phase";
    wait_text(&c, phase, "Pending").await;
    wait_text(&c, "tr[data-store='browser-shop']", "medium").await;

    // The operator moves it along: the page follows without a reload.
    backend.set_phase(
        "browser-shop",
        Phase::Provisioning,
        "Waiting for database (0/1 ready)",
    );
    wait_text(&c, phase, "Provisioning").await;
    wait_text(&c, "tr[data-store='browser-shop']", "Waiting for database").await;
    backend.set_phase("browser-shop", Phase::Ready, "Store is ready");
    wait_text(&c, phase, "Ready").await;

    // Details: URL and credentials when Ready, and the events.
    c.find(Locator::Css(
        "tr[data-store='browser-shop'] button[data-action='details']",
    ))
    .await
    .expect("details")
    .click()
    .await
    .expect("click");
    wait_text(&c, "#admin-password", TEST_PASSWORD).await;
    wait_text(&c, "#events", "Ready").await;

    // An API error is shown as the API's message.
    c.find(Locator::Id("new-name"))
        .await
        .expect("name")
        .send_keys("browser-shop")
        .await
        .expect("type");
    c.find(Locator::Id("create"))
        .await
        .expect("create")
        .click()
        .await
        .expect("click");
    wait_text(&c, "#error", "a store named browser-shop already exists").await;

    let png = c.screenshot().await.expect("screenshot");
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    std::fs::write(&shot, png).expect("write screenshot");

    // Delete, with the confirmation.
    c.find(Locator::Css(
        "tr[data-store='browser-shop'] button[data-action='delete']",
    ))
    .await
    .expect("delete")
    .click()
    .await
    .expect("click");
    wait_text(&c, "#confirm-text", "Delete store browser-shop?").await;
    c.find(Locator::Id("confirm-ok"))
        .await
        .expect("confirm")
        .click()
        .await
        .expect("click");
    wait_text(&c, phase, "Deleting").await;
    backend.finish_deletion("browser-shop");
    wait_gone(&c, "tr[data-store='browser-shop']").await;
    wait_text(&c, "#empty", "No stores yet").await;

    c.close().await.ok();
    server.abort();
}
