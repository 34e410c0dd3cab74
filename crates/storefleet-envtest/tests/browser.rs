//! The headless browser of the browser tests leaves nothing behind: dropping it (as a test
//! ends, pass or fail) stops chromedriver and every Chromium process it started.

use storefleet_envtest::browser::{Browser, processes_naming};

#[tokio::test]
async fn dropping_the_browser_leaves_no_chromium() {
    let browser = match Browser::start().await {
        Ok(b) => b,
        Err(why) => {
            println!("skipped: browser tier not available ({why})");
            return;
        }
    };
    browser
        .client
        .goto("data:text/html,<p id=x>hello</p>")
        .await
        .expect("navigate");
    browser.wait_text("#x", "hello").await;
    let profile = browser.profile().to_path_buf();
    assert!(
        processes_naming(&profile).len() >= 2,
        "Chromium runs with its profile named: {:?}",
        processes_naming(&profile)
    );
    drop(browser);
    assert!(
        processes_naming(&profile).is_empty(),
        "Chromium processes left behind: {:?}",
        processes_naming(&profile)
    );
    assert!(!profile.exists(), "the profile folder is removed");
}
