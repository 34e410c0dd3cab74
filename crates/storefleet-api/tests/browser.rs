//! The dashboard in a real headless Chromium (Debian's `chromium` + `chromium-driver`), driven
//! through WebDriver: log in with a token and see who is logged in, the empty state, create a
//! store and watch it change phase live (its shop linked only once Ready, times relative), open
//! its details beside the list, reveal and copy the admin password, see an API error, delete it
//! with the confirmation; a slow backend shows a spinner and then says so; `--demo` serves sample
//! stores under a demo banner, and screenshots at desktop and phone widths are written to
//! `target/tmp/screenshots/`. `make test` installs the browser where it is missing (see the
//! Makefile's `test-deps`).

use std::net::SocketAddr;
use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::json;
use storefleet_api::backend::memory::{MemoryBackend, TEST_PASSWORD};
use storefleet_api::tokens::{Role, TokenEntry, Tokens};
use storefleet_api::{AppState, Settings, app};
use storefleet_envtest::browser::{Browser, click, wait_text};
use storefleet_types::Phase;

const TOKEN: &str = "browser-tenant-token-0123";

async fn start_driver() -> (Browser, Client) {
    let browser = Browser::start()
        .await
        .expect("headless Chromium (make test-deps installs it)");
    let client = browser.client.clone();
    (browser, client)
}

async fn js(c: &Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![]).await.expect("script runs")
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap_or_default()
}

/// Where the screenshots go (the closing note of a change names them).
fn screenshot_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    let path = screenshot_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).expect("write screenshot");
    eprintln!("screenshot: {}", path.display());
}

async fn serve<B: storefleet_api::backend::Backend>(
    state: AppState<B>,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let router = app(state);
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
    (addr, server)
}

async fn log_in(c: &Client, token: &str) {
    let field = c.find(Locator::Id("token")).await.expect("token field");
    field.clear().await.expect("clear");
    field.send_keys(token).await.expect("type");
    click(c, "#login").await;
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
    let (addr, server) = serve(AppState::new(backend.clone(), tokens, Settings::default())).await;

    let (_driver, c) = start_driver().await;
    c.goto(&format!("http://{addr}/"))
        .await
        .expect("open dashboard");

    // A wrong token is refused with a message.
    log_in(&c, "wrong-token-0000000000").await;
    wait_text(&c, "#login-error", "not valid").await;

    // Log in: who is logged in is shown, and an empty account says so without a bare table.
    log_in(&c, TOKEN).await;
    wait_text(&c, "#stores-view h2", "New store").await;
    wait_text(&c, "#who", "carol@example.com").await;
    wait_text(&c, "#role", "Tenant").await;
    wait_text(&c, "#empty", "No stores yet").await;
    assert_eq!(
        js(&c, "return document.getElementById('stores').hidden").await,
        json!(true),
        "no table header above an empty list"
    );
    assert_eq!(
        js(&c, "return document.getElementById('demo-banner').hidden").await,
        json!(true),
        "no demo banner on a real backend"
    );

    // Create a store: it appears, Pending, pushed by the watch.
    c.find(Locator::Id("new-name"))
        .await
        .expect("name")
        .send_keys("browser-shop")
        .await
        .expect("type");
    c.find(Locator::Id("new-display"))
        .await
        .expect("title")
        .send_keys("Browser Shop")
        .await
        .expect("type");
    click(&c, "#new-engine option[value='medusa']").await;
    click(&c, "#new-plan option[value='medium']").await;
    click(&c, "#create").await;
    let row = "tr[data-store='browser-shop']";
    let phase = "tr[data-store='browser-shop'] td.phase";
    wait_text(&c, phase, "Pending").await;
    wait_text(&c, row, "Medium").await;
    wait_text(&c, row, "Browser Shop").await;
    wait_text(&c, &format!("{row} time"), "just now").await;

    // The operator moves it along: the page follows without a reload. No shop link before Ready.
    backend.set_phase(
        "browser-shop",
        Phase::Provisioning,
        "Waiting for database (0/1 ready)",
    );
    wait_text(&c, phase, "Provisioning").await;
    wait_text(&c, row, "Waiting for database").await;
    wait_text(&c, &format!("{row} td.shop"), "Available when ready").await;
    assert!(
        c.find(Locator::Css(&format!("{row} td.shop a")))
            .await
            .is_err(),
        "a shop that is still provisioning is not linked"
    );
    backend.set_phase("browser-shop", Phase::Ready, "Store is ready");
    wait_text(&c, phase, "Ready").await;
    wait_text(&c, &format!("{row} td.shop a"), "Visit shop").await;
    let href = c
        .find(Locator::Css(&format!("{row} td.shop a")))
        .await
        .expect("shop link")
        .attr("href")
        .await
        .expect("href");
    assert_eq!(href.as_deref(), Some("http://browser-shop.shop.local"));

    // Details open beside the list; the password stays hidden until revealed.
    click(&c, &format!("{row} button[data-action='details']")).await;
    wait_text(&c, "#detail-title", "Browser Shop").await;
    wait_text(&c, "#detail-name", "medusa").await;
    wait_text(&c, "#events", "Ready").await;
    wait_text(&c, "#admin-password", "•").await;
    assert!(!text_of(&c, "#detail").await.contains(TEST_PASSWORD));
    let beside = js(
        &c,
        "const d = document.getElementById('detail').getBoundingClientRect(); \
         const l = document.querySelector('.list-card').getBoundingClientRect(); \
         return d.left >= l.right - 1 && d.top < l.bottom;",
    )
    .await;
    assert_eq!(beside, json!(true), "details beside the list on a desktop");
    click(&c, "#reveal-password").await;
    wait_text(&c, "#admin-password", TEST_PASSWORD).await;
    click(&c, "#copy-password").await;
    wait_text(&c, "#copy-password", "Copied").await;
    click(&c, "#reveal-password").await;
    wait_text(&c, "#admin-password", "•").await;

    // Backed up by the platform: *Back up* asks for a backup now; the last backup shows in the
    // details; *Clone* makes a staging clone restored from the newest backup.
    {
        use storefleet_api::backend::Backend;
        let store = backend
            .get("browser-shop")
            .await
            .expect("get")
            .expect("store");
        let mut status = store.status.clone().expect("status");
        let mut backup_ready = status.conditions[0].clone();
        backup_ready.type_ = "BackupReady".into();
        backup_ready.reason = "BackupSucceeded".into();
        status.conditions.push(backup_ready);
        status.backup = Some(storefleet_types::BackupStatus {
            last: Some(storefleet_types::BackupRecord {
                job: "backup-29000".into(),
                finished_at: Some("2026-12-04T03:00:20Z".into()),
                snapshot: Some("5ba21d3e".into()),
                orders: Some(3),
                ..storefleet_types::BackupRecord::default()
            }),
            ..storefleet_types::BackupStatus::default()
        });
        status.versions = Some(storefleet_types::RunningVersions {
            job: "setup-1".into(),
            medusa: Some("2.21.2".into()),
            database: Some("15.18".into()),
            ..storefleet_types::RunningVersions::default()
        });
        backend.put_status(
            "browser-shop",
            status,
            storefleet_api::backend::EventView {
                type_: "Normal".into(),
                reason: "BackupSucceeded".into(),
                message: "backed up".into(),
                time: None,
            },
        );
    }
    click(&c, &format!("{row} button[data-action='backup']")).await;
    wait_text(&c, "#notice", "Backup of browser-shop requested").await;
    {
        use storefleet_api::backend::Backend;
        let store = backend
            .get("browser-shop")
            .await
            .expect("get")
            .expect("store");
        assert!(
            store
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key("storefleet.io/backup-now")),
            "the button asked for a backup"
        );
    }
    click(&c, &format!("{row} button[data-action='details']")).await;
    wait_text(&c, "#last-backup", "snapshot 5ba21d3e · 3 orders").await;
    wait_text(&c, "#last-drill", "No drill yet").await;
    wait_text(&c, "#versions", "Medusa 2.21.2 · database 15.18").await;
    click(&c, &format!("{row} button[data-action='clone']")).await;
    c.send_alert_text("browser-shop-staging")
        .await
        .expect("the clone's name");
    c.accept_alert().await.expect("accept");
    wait_text(
        &c,
        "tr[data-store='browser-shop-staging'] td.phase",
        "Pending",
    )
    .await;
    {
        use storefleet_api::backend::Backend;
        let clone = backend
            .get("browser-shop-staging")
            .await
            .expect("get")
            .expect("the clone");
        let from = clone.spec.restore_from.clone().expect("restoreFrom");
        assert_eq!(
            (from.store.as_str(), from.snapshot.as_str()),
            ("browser-shop", "latest")
        );
        assert_eq!(clone.spec.engine, storefleet_types::Engine::Medusa);
    }
    backend.finish_deletion("browser-shop-staging");
    wait_gone(&c, "tr[data-store='browser-shop-staging']").await;

    // Hibernate, then wake: the buttons write spec.hibernate.
    let hibernated = || async {
        use storefleet_api::backend::Backend;
        backend
            .get("browser-shop")
            .await
            .expect("get")
            .expect("store")
            .spec
            .hibernate
    };
    click(&c, &format!("{row} button[data-action='hibernate']")).await;
    wait_text(&c, "#notice", "browser-shop is going to sleep").await;
    assert!(hibernated().await, "the button asked to hibernate");
    click(&c, &format!("{row} button[data-action='wake']")).await;
    wait_text(&c, "#notice", "browser-shop is waking up").await;
    assert!(!hibernated().await, "the button woke it");

    // An API error is shown as the API's message.
    c.find(Locator::Id("new-name"))
        .await
        .expect("name")
        .send_keys("browser-shop")
        .await
        .expect("type");
    click(&c, "#create").await;
    wait_text(&c, "#error", "a store named browser-shop already exists").await;

    // Delete, with the confirmation.
    click(&c, &format!("{row} button[data-action='delete']")).await;
    wait_text(&c, "#confirm-text", "Delete store browser-shop?").await;
    click(&c, "#confirm-ok").await;
    wait_text(&c, phase, "Deleting").await;
    backend.finish_deletion("browser-shop");
    wait_gone(&c, row).await;
    wait_text(&c, "#empty", "No stores yet").await;

    c.close().await.ok();
    server.abort();
}

/// A backend whose list never answers (Kubernetes unreachable): the dashboard shows a spinner,
/// then says the server did not answer, instead of waiting silently.
#[derive(Debug, Clone)]
struct Unreachable(MemoryBackend);

impl storefleet_api::backend::Backend for Unreachable {
    async fn list(
        &self,
    ) -> Result<Vec<std::sync::Arc<storefleet_types::Store>>, storefleet_api::backend::BackendError>
    {
        std::future::pending().await
    }
    async fn get(
        &self,
        name: &str,
    ) -> Result<
        Option<std::sync::Arc<storefleet_types::Store>>,
        storefleet_api::backend::BackendError,
    > {
        self.0.get(name).await
    }
    async fn create(
        &self,
        store: storefleet_types::Store,
    ) -> Result<std::sync::Arc<storefleet_types::Store>, storefleet_api::backend::BackendError>
    {
        self.0.create(store).await
    }
    async fn delete(
        &self,
        store: &storefleet_types::Store,
    ) -> Result<(), storefleet_api::backend::BackendError> {
        self.0.delete(store).await
    }
    async fn annotate(
        &self,
        name: &str,
        annotation: &str,
        value: &str,
    ) -> Result<std::sync::Arc<storefleet_types::Store>, storefleet_api::backend::BackendError>
    {
        self.0.annotate(name, annotation, value).await
    }
    async fn hibernate(
        &self,
        name: &str,
        hibernate: bool,
    ) -> Result<std::sync::Arc<storefleet_types::Store>, storefleet_api::backend::BackendError>
    {
        self.0.hibernate(name, hibernate).await
    }
    async fn events(
        &self,
        store: &storefleet_types::Store,
    ) -> Result<Vec<storefleet_api::backend::EventView>, storefleet_api::backend::BackendError>
    {
        self.0.events(store).await
    }
    async fn credentials(
        &self,
        store: &storefleet_types::Store,
    ) -> Result<Option<storefleet_api::backend::Credentials>, storefleet_api::backend::BackendError>
    {
        self.0.credentials(store).await
    }
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<storefleet_api::backend::Change> {
        self.0.subscribe()
    }
    async fn ready(&self) -> bool {
        false
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_backend_shows_a_spinner_then_says_so() {
    let tokens = Tokens::from_entries(vec![TokenEntry {
        token: TOKEN.into(),
        user: "carol@example.com".into(),
        role: Role::Tenant,
    }]);
    let (addr, server) = serve(AppState::new(
        Unreachable(MemoryBackend::new()),
        tokens,
        Settings::default(),
    ))
    .await;
    let (_driver, c) = start_driver().await;
    c.goto(&format!("http://{addr}/")).await.expect("open");
    log_in(&c, TOKEN).await;
    wait_text(&c, "#loading", "Loading your stores").await;
    assert_eq!(
        js(&c, "return document.getElementById('empty').hidden && document.getElementById('stores').hidden").await,
        json!(true),
        "no empty state while nothing is known"
    );
    // The notice comes after 10 s (wait_text polls for 10 s; poll a little longer).
    let mut notice = String::new();
    for _ in 0..80 {
        notice = text_of(&c, "#error").await;
        if notice.contains("did not answer within 10 s") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(notice.contains("did not answer within 10 s"), "{notice:?}");
    wait_text(&c, "#live", "Connecting").await;
    c.close().await.ok();
    server.abort();
}

/// `storefleet-api --demo`: sample stores under a demo banner, a new store walks to Ready by
/// itself; screenshots at desktop and phone widths.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_and_screenshots_at_desktop_and_phone_widths() {
    let backend = MemoryBackend::new();
    storefleet_api::demo::seed(&backend).await;
    tokio::spawn(storefleet_api::demo::run(
        backend.clone(),
        Duration::from_millis(300),
    ));
    let settings = Settings {
        demo: true,
        ..Settings::default()
    };
    let tokens = Tokens::from_entries(storefleet_api::demo::tokens());
    let (addr, server) = serve(AppState::new(backend.clone(), tokens, settings)).await;
    let (_driver, c) = start_driver().await;
    c.set_window_size(1280, 860).await.expect("desktop size");
    c.goto(&format!("http://{addr}/")).await.expect("open");
    screenshot(&c, "dashboard-login-desktop").await;
    log_in(&c, storefleet_api::demo::TENANT_TOKEN).await;
    wait_text(&c, "#demo-banner", "nothing is provisioned").await;
    wait_text(&c, "#who", storefleet_api::demo::TENANT).await;
    wait_text(&c, "tr[data-store='acme-outdoor'] td.phase", "Ready").await;
    wait_text(&c, "tr[data-store='vinyl-vault'] td.phase", "Failed").await;
    wait_text(&c, "tr[data-store='acme-outdoor'] time", "days ago").await;
    assert!(
        c.find(Locator::Css("tr[data-store='north-wind']"))
            .await
            .is_err(),
        "another tenant's sample store is not shown"
    );

    // A new store goes to Ready by itself.
    c.find(Locator::Id("new-name"))
        .await
        .expect("name")
        .send_keys("fresh-shop")
        .await
        .expect("type");
    click(&c, "#create").await;
    wait_text(&c, "tr[data-store='fresh-shop'] td.phase", "Provisioning").await;
    wait_text(&c, "tr[data-store='fresh-shop'] td.phase", "Ready").await;

    click(
        &c,
        "tr[data-store='acme-outdoor'] button[data-action='details']",
    )
    .await;
    wait_text(&c, "#detail-title", "ACME Outdoor Supplies").await;
    wait_text(&c, "#events", "Store is ready").await;
    screenshot(&c, "dashboard-desktop").await;

    // Phone: the list stacks; details cover the screen and close again.
    c.set_window_size(390, 844).await.expect("phone size");
    click(&c, "#detail-close").await;
    wait_text(&c, "tr[data-store='corner-bakery']", "The Corner Bakery").await;
    let fits = js(
        &c,
        "return document.documentElement.scrollWidth <= window.innerWidth + 1",
    )
    .await;
    assert_eq!(fits, json!(true), "no horizontal scrolling on a phone");
    screenshot(&c, "dashboard-phone").await;
    click(
        &c,
        "tr[data-store='acme-outdoor'] button[data-action='details']",
    )
    .await;
    wait_text(&c, "#detail-title", "ACME Outdoor Supplies").await;
    let covers = js(
        &c,
        "const d = document.getElementById('detail').getBoundingClientRect(); \
         return d.left <= 1 && d.width >= document.documentElement.clientWidth - 1;",
    )
    .await;
    assert_eq!(covers, json!(true), "details cover the screen on a phone");
    screenshot(&c, "dashboard-phone-details").await;

    c.close().await.ok();
    server.abort();
}
