//! A customer of a Medusa store's storefront (`/shop`) in a real headless Chromium, for the
//! tiers where Medusa really serves: the real Medusa tier (loopback ports) and the node tier (the
//! storefront's Service on the real node).

use storefleet_envtest::browser::Browser;

/// Opens the storefront at `url` (the store's `/shop`), sees the store's `title` and its sample
/// products priced in euro, puts sample product 2 into the cart, checks out to a German address
/// with the standard shipping and the manual payment as `email`, and sees the order confirmed.
pub async fn buys_a_sample_product(browser: &Browser, url: &str, title: &str, email: &str) {
    browser
        .client
        .goto(url)
        .await
        .unwrap_or_else(|e| panic!("open the storefront {url}: {e}"));
    browser.wait_text("#title", title).await;
    browser.wait_text("#products", "Sample product 1").await;
    browser.wait_text("#products", "€").await;
    browser
        .click("article[data-product='sample-product-2'] button.add")
        .await;
    browser.wait_text("#cart-count", "1").await;
    browser.click("#cart-button").await;
    browser.wait_text("#cart-lines", "Sample product 2").await;
    browser.click("#checkout").await;
    browser.wait_text("#country", "Germany").await;
    for (field, value) in [
        ("#email", email),
        ("#first-name", "Ada"),
        ("#last-name", "Lovelace"),
        ("#address", "Hauptstraße 1"),
        ("#city", "Berlin"),
        ("#postal-code", "10115"),
    ] {
        browser.fill(field, value).await;
    }
    browser.click("#to-delivery").await;
    browser
        .wait_text("#shipping-options", "Standard shipping")
        .await;
    browser.wait_text("#order-total", "€").await;
    browser.click("#place-order").await;
    browser
        .wait_text("#confirmation-view", "Thank you for your order")
        .await;
    browser.wait_text("#confirmed-email", email).await;
}
