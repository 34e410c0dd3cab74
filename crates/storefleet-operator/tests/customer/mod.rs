//! A shop's customer, for the tiers where a real shop serves: of a WooCommerce store over HTTP
//! (curl with a cookie jar; the real WordPress tier's loopback port or, on the node tier, the
//! storefront's Service), of a Medusa store in Chromium (`medusa`).

#![allow(dead_code)]

pub mod medusa;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// A customer's HTTP client: requests for `host` go to `address` (`ip:port`).
pub struct Browser {
    /// The cookie jar.
    pub jar: PathBuf,
    /// Where the shop answers.
    pub address: String,
    /// The shop's host name.
    pub host: String,
}

impl Browser {
    /// One request: status, headers (lower-case names), body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> (u16, BTreeMap<String, String>, String) {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-S", "-X", method, "-D", "-", "--max-time", "60"])
            .arg("--connect-to")
            .arg(format!("{}:80:{}", self.host, self.address))
            .arg("-b")
            .arg(&self.jar)
            .arg("-c")
            .arg(&self.jar);
        for (k, v) in headers {
            cmd.arg("-H").arg(format!("{k}: {v}"));
        }
        if let Some(body) = body {
            cmd.args([
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                &body.to_string(),
            ]);
        }
        cmd.arg(format!("http://{}{path}", self.host));
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run curl: {e}"));
        assert!(
            out.status.success(),
            "curl {method} {path} via {}: {}",
            self.address,
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let code = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        (code, headers, body.to_string())
    }

    /// A request whose answer must be 2xx JSON.
    pub fn json(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> (BTreeMap<String, String>, Value) {
        let (code, headers, text) = self.request(method, path, headers, body);
        assert!(
            (200..300).contains(&code),
            "{method} {path}: {code}\n{text}"
        );
        (
            headers,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}\n{text}")),
        )
    }

    /// The shop page answers and lists sample products 1 to `count`.
    pub fn shop_lists_sample_products(&self, count: usize) {
        let (code, _, page) = self.request("GET", "/shop/", &[], None);
        assert_eq!(code, 200, "{page}");
        for i in 1..=count {
            assert!(
                page.contains(&format!("Sample product {i}")),
                "the shop lists sample product {i}"
            );
        }
    }

    /// The payment methods the checkout offers (sorted) and the Store API nonce.
    pub fn payment_methods(&self) -> (Vec<String>, String) {
        let (headers, cart) = self.json("GET", "/wp-json/wc/store/v1/cart", &[], None);
        let mut methods: Vec<String> = cart["payment_methods"]
            .as_array()
            .expect("payment_methods")
            .iter()
            .filter_map(|m| m.as_str().map(String::from))
            .collect();
        methods.sort();
        let nonce = headers.get("nonce").cloned().expect("Store API nonce");
        (methods, nonce)
    }

    /// A customer orders two of the first product with cash on delivery, through the Store API
    /// (cart → checkout); the order's id. The order must be processing and its payment a success.
    pub fn order_with_cash_on_delivery(&self, nonce: &str) -> String {
        let (_, products) = self.json("GET", "/wp-json/wc/store/v1/products", &[], None);
        let product = products[0]["id"].as_i64().expect("product id");
        let (_, cart) = self.json(
            "POST",
            "/wp-json/wc/store/v1/cart/add-item",
            &[("Nonce", nonce)],
            Some(&serde_json::json!({"id": product, "quantity": 2})),
        );
        assert_eq!(cart["items_count"], 2);
        let address = serde_json::json!({"first_name": "Ada", "last_name": "Lovelace", "address_1": "1 Main St", "city": "Springfield", "state": "CA", "postcode": "90001", "country": "US"});
        let mut billing = address.clone();
        billing["email"] = "ada@example.com".into();
        let (_, order) = self.json(
            "POST",
            "/wp-json/wc/store/v1/checkout",
            &[("Nonce", nonce)],
            Some(&serde_json::json!({"billing_address": billing, "shipping_address": address, "payment_method": "cod"})),
        );
        assert_eq!(order["status"], "processing", "{order}");
        assert_eq!(
            order["payment_result"]["payment_status"], "success",
            "{order}"
        );
        order["order_id"].as_i64().expect("order id").to_string()
    }
}
