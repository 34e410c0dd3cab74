//! Workloads tier (`STOREFLEET_E2E_WORKLOADS=1`, kind with an ingress controller and internet):
//! a store reaches Ready, answers through the Ingress, lists its sample products, takes a Cash on
//! Delivery order over HTTP that the admin sees through the WooCommerce REST API, and leaves
//! nothing behind when deleted; a Medusa store does the same through its Store and admin APIs.
//! HTTP goes through `curl` (cookie jar, `--resolve` to the ingress address).

use std::process::Stdio;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{PersistentVolume, Secret};
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::Value;
use storefleet_types::Phase;
use storefleet_types::names::{child, secret_keys};
use tokio::io::AsyncWriteExt;

use crate::kube_env::Env;

/// Runs curl; returns stdout. `stdin` is sent as the request body source when given.
async fn curl(args: &[String], stdin: Option<&str>) -> Result<String, String> {
    let mut child = tokio::process::Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--fail-with-body",
            "--max-time",
            "60",
        ])
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("curl: {e}"))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())
            .await
            .map_err(|e| format!("curl stdin: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| format!("curl: {e}"))?;
    let body = String::from_utf8_lossy(&out.stdout).to_string();
    if out.status.success() {
        Ok(body)
    } else {
        Err(format!(
            "curl {}: {} {}",
            args.last().cloned().unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).trim(),
            body.chars().take(300).collect::<String>()
        ))
    }
}

fn json(text: &str, what: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| {
        format!(
            "{what} is not JSON ({e}): {}",
            text.chars().take(300).collect::<String>()
        )
    })
}

/// The whole shop, for real.
pub fn store_sells_through_the_ingress(env: &Env) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move {
        let store = env.create_store("e2e-shop", |_| {}).await?;
        let name = store.metadata.name.clone().unwrap_or_default();
        let store = ready(env, &name).await?;
        let status = store.status.clone().unwrap_or_default();
        let ns = status.namespace.clone().ok_or("no namespace in status")?;
        let url = status.url.clone().ok_or("no url in status")?;
        let (resolve, base) = through_ingress(env, &url);
        let jar = std::env::temp_dir().join(format!("storefleet-e2e-{name}.cookies"));
        let jar = jar.display().to_string();
        let base = |path: &str| format!("{base}{path}");
        let get = |path: &str| {
            vec![
                "--resolve".to_string(),
                resolve.clone(),
                "-b".into(),
                jar.clone(),
                "-c".into(),
                jar.clone(),
                "-L".into(),
                base(path),
            ]
        };

        // The storefront answers through the Ingress.
        curl(&get("/"), None).await?;

        // The sample products are listed (WooCommerce Store API, public).
        let products = json(
            &curl(&get("/wp-json/wc/store/v1/products"), None).await?,
            "product list",
        )?;
        let first = products
            .as_array()
            .and_then(|a| a.first())
            .ok_or("no product is listed")?;
        let product_id = first["id"].as_i64().ok_or("product without id")?;

        // A Cash on Delivery order, placed like a customer: cart, then checkout, with the
        // Store API's nonce.
        let mut headers = get("/wp-json/wc/store/v1/cart");
        headers.insert(0, "-D".into());
        headers.insert(1, "-".into());
        let cart = curl(&headers, None).await?;
        let nonce = cart
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .starts_with("nonce:")
                    .then(|| l[6..].trim().to_string())
            })
            .ok_or("the cart did not send a Nonce header")?;
        let post = |path: &str, body: &str| -> Vec<String> {
            let mut a = get(path);
            a.splice(
                0..0,
                [
                    "-X".into(),
                    "POST".into(),
                    "-H".into(),
                    format!("Nonce: {nonce}"),
                    "-H".into(),
                    "Content-Type: application/json".into(),
                    "--data-binary".into(),
                    body.into(),
                ],
            );
            a
        };
        curl(
            &post(
                "/wp-json/wc/store/v1/cart/add-item",
                &format!("{{\"id\":{product_id},\"quantity\":1}}"),
            ),
            None,
        )
        .await?;
        let address = r#"{"first_name":"E2E","last_name":"Customer","address_1":"1 Test Street","city":"Testville","postcode":"12345","country":"US","state":"CA","email":"e2e@storefleet.io","phone":"5550100"}"#;
        let checkout = format!(
            r#"{{"billing_address":{address},"shipping_address":{address},"payment_method":"cod"}}"#
        );
        let order = json(
            &curl(&post("/wp-json/wc/store/v1/checkout", &checkout), None).await?,
            "checkout",
        )?;
        let order_id = order["order_id"]
            .as_i64()
            .ok_or(format!("checkout returned no order_id: {order}"))?;

        // The admin sees it through the REST API, logged in with the store's credentials.
        let (user, password) = admin_credentials(env, &ns).await?;
        let form = format!(
            "log={}&pwd={}&rememberme=forever&testcookie=1",
            encode(&user),
            encode(&password)
        );
        let mut login = get("/wp-login.php");
        login.splice(
            0..0,
            [
                "-H".into(),
                "Cookie: wordpress_test_cookie=WP%20Cookie%20check".into(),
                "--data-binary".into(),
                "@-".into(),
            ],
        );
        curl(&login, Some(&form)).await?;
        let rest_nonce = curl(&get("/wp-admin/admin-ajax.php?action=rest-nonce"), None)
            .await?
            .trim()
            .to_string();
        let mut admin_get = get(&format!("/wp-json/wc/v3/orders/{order_id}"));
        admin_get.splice(0..0, ["-H".into(), format!("X-WP-Nonce: {rest_nonce}")]);
        let seen = json(&curl(&admin_get, None).await?, "admin order")?;
        if seen["payment_method"] != "cod" {
            return Err(format!(
                "order {order_id} has payment_method {}",
                seen["payment_method"]
            ));
        }
        let _ = std::fs::remove_file(&jar);

        deleted_without_leftovers(env, &name, &ns).await
    })
}

/// The store's admin login (user, password) from its credentials Secret.
async fn admin_credentials(env: &Env, ns: &str) -> Result<(String, String), String> {
    let secret = Api::<Secret>::namespaced(env.client.clone(), ns)
        .get(child::ADMIN_SECRET)
        .await
        .map_err(|e| e.to_string())?;
    let data = secret.data.unwrap_or_default();
    let read = |k: &str| {
        data.get(k)
            .map(|v| String::from_utf8_lossy(&v.0).to_string())
            .ok_or(format!("credentials Secret has no {k}"))
    };
    Ok((
        read(secret_keys::ADMIN_USER)?,
        read(secret_keys::ADMIN_PASSWORD)?,
    ))
}

/// Waits until the store is Ready (`STOREFLEET_E2E_READY_TIMEOUT`).
async fn ready(env: &Env, name: &str) -> Result<storefleet_types::Store, String> {
    let timeout = Duration::from_secs(env.settings.ready_timeout_secs);
    env.wait_store(name, "condition Ready=True", timeout, |s| {
        s.status.as_ref().and_then(|st| st.phase) == Some(Phase::Ready)
    })
    .await
}

/// Deleting the store leaves no namespace and no volume behind.
async fn deleted_without_leftovers(env: &Env, name: &str, ns: &str) -> Result<(), String> {
    env.stores()
        .delete(name, &DeleteParams::default())
        .await
        .map_err(|e| e.to_string())?;
    env.wait_store_gone(name, Duration::from_secs(600)).await?;
    env.wait_namespace_gone(ns, Duration::from_secs(60)).await?;
    let volumes: Api<PersistentVolume> = Api::all(env.client.clone());
    crate::wait::until(
        &format!("volumes of {ns} to be released"),
        Duration::from_secs(180),
        Duration::from_secs(3),
        || {
            let volumes = volumes.clone();
            let ns = ns.to_string();
            async move {
                let list = volumes
                    .list(&ListParams::default())
                    .await
                    .map_err(|e| e.to_string())?;
                let left: Vec<String> = list
                    .items
                    .into_iter()
                    .filter(|pv| {
                        pv.spec
                            .as_ref()
                            .and_then(|s| s.claim_ref.as_ref())
                            .and_then(|c| c.namespace.as_deref())
                            == Some(ns.as_str())
                    })
                    .filter_map(|pv| pv.metadata.name)
                    .collect();
                Ok(if left.is_empty() {
                    Ok(())
                } else {
                    Err(format!("PVs still claimed: {left:?}"))
                })
            }
        },
    )
    .await
}

/// `--resolve` and URL base for a store's host through the ingress address.
fn through_ingress(env: &Env, url: &str) -> (String, String) {
    let host = url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let (address, port) = env
        .settings
        .ingress_address
        .rsplit_once(':')
        .unwrap_or((&env.settings.ingress_address, "80"));
    (
        format!("{host}:{port}:{address}"),
        format!("http://{host}:{port}"),
    )
}

/// A Medusa store, for real: Ready (its setup placed and verified an order through the Store
/// API), the storefront page and its configuration answer through the Ingress, the Store API
/// lists the sample products with the storefront's publishable key, and the admin, logged in
/// with the store's credentials, sees the verified order. Nothing is left when deleted.
pub fn medusa_store_serves_through_the_ingress(env: &Env) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move {
        if !env.settings.in_cluster && env.settings.medusa_image.is_none() {
            return Err(crate::harness::skip(
                "Medusa store: set STOREFLEET_E2E_MEDUSA_IMAGE to an image the cluster can pull (make demo loads localhost/storefleet/storefleet-medusa:dev)",
            ));
        }
        let store = env
            .create_store("e2e-medusa", |s| {
                s.spec.engine = storefleet_types::Engine::Medusa;
            })
            .await?;
        let name = store.metadata.name.clone().unwrap_or_default();
        let store = ready(env, &name).await?;
        let status = store.status.clone().unwrap_or_default();
        let ns = status.namespace.clone().ok_or("no namespace in status")?;
        let url = status.url.clone().ok_or("no url in status")?;
        if !url.ends_with("/shop") {
            return Err(format!("status.url {url} is not the storefront"));
        }
        let (resolve, base) = through_ingress(env, &url);
        let get = |path: &str, headers: &[String]| {
            let mut args = vec!["--resolve".to_string(), resolve.clone()];
            for h in headers {
                args.extend(["-H".to_string(), h.clone()]);
            }
            args.push(format!("{base}{path}"));
            args
        };
        let page = curl(&get("/shop", &[]), None).await?;
        if !page.contains("<html") {
            return Err("the storefront page is not HTML".into());
        }
        let config = json(
            &curl(&get("/shop/config", &[]), None).await?,
            "/shop/config",
        )?;
        let key = config["publishableKey"]
            .as_str()
            .ok_or(format!("no publishable key: {config}"))?
            .to_string();
        let products = json(
            &curl(
                &get(
                    "/store/products",
                    &[format!("x-publishable-api-key: {key}")],
                ),
                None,
            )
            .await?,
            "product list",
        )?;
        if products["count"].as_i64().unwrap_or(0) < 1 {
            return Err(format!("no product is listed: {products}"));
        }
        let (email, password) = admin_credentials(env, &ns).await?;
        let login = serde_json::json!({"email": email, "password": password}).to_string();
        let mut post = get(
            "/auth/user/emailpass",
            &["Content-Type: application/json".into()],
        );
        post.splice(0..0, ["--data-binary".to_string(), "@-".to_string()]);
        let token = json(&curl(&post, Some(&login)).await?, "admin login")?["token"]
            .as_str()
            .ok_or("the admin login returned no token")?
            .to_string();
        let orders = json(
            &curl(
                &get("/admin/orders", &[format!("Authorization: Bearer {token}")]),
                None,
            )
            .await?,
            "admin orders",
        )?;
        if orders["count"].as_i64().unwrap_or(0) < 1 {
            return Err(format!("the setup's test order is missing: {orders}"));
        }
        deleted_without_leftovers(env, &name, &ns).await
    })
}

/// `application/x-www-form-urlencoded` encoding.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_encoding() {
        assert_eq!(super::encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(super::encode("Abc123-_.~"), "Abc123-_.~");
    }
}
