//! The CRD's admission rules, exercised the way the apiserver applies them: the OpenAPI schema
//! (patterns, lengths, enums, required fields) through a JSON-schema validator, then the CEL
//! rules (`x-kubernetes-validations`) through kube's client-side CEL evaluator.

use kube::CustomResourceExt;
use serde_json::{Value, json};
use storefleet_types::{Store, names};

mod support;

/// Admission of a Store as the apiserver does it: schema first, then CEL. Returns every message.
fn admit(object: &Value, old: Option<&Value>) -> Result<(), Vec<String>> {
    support::admit(&support::schema(&Store::crd()), object, old)
}

fn store(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "storefleet.io/v1alpha1",
        "kind": "Store",
        "metadata": {"name": name},
        "spec": spec,
    })
}

fn minimal() -> Value {
    json!({"engine": "woocommerce", "owner": "alice@example.com"})
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

#[track_caller]
fn rejected(object: Value, needle: &str) {
    match admit(&object, None) {
        Ok(()) => panic!("expected rejection mentioning {needle:?} for {object}"),
        Err(errors) => assert!(
            errors.iter().any(|e| e.contains(needle)),
            "expected an error mentioning {needle:?}, got {errors:#?}"
        ),
    }
}

#[track_caller]
fn accepted(object: Value) {
    if let Err(errors) = admit(&object, None) {
        panic!("expected {object} to be accepted, got {errors:#?}");
    }
}

#[test]
fn good_stores_are_accepted() {
    accepted(store("alice", minimal()));
    accepted(store(
        "a",
        json!({"engine": "medusa", "owner": "bob", "plan": "large"}),
    ));
    accepted(store(&"a".repeat(names::store_name::MAX_LEN), minimal()));
    accepted(store(
        "prod-shop",
        json!({
            "engine": "woocommerce",
            "owner": "team-shop@example.com",
            "plan": "medium",
            "displayName": "The Prod Shop",
            "domain": "shop.example.com",
            "ingress": {"className": "nginx", "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "16m"}},
            "tls": {"clusterIssuer": "letsencrypt-prod"},
            "storage": {"storageClassName": "fast-ssd", "databaseSize": "5Gi", "storefrontSize": "2.5Gi"},
            "versions": {"wordpress": "6.8.3-php8.3-apache", "mariadb": "11.4.8", "wpCli": "cli-2.12.0-php8.3", "woocommerce": "10.3.5"},
            "setup": {"adminEmail": "ops@example.com", "theme": "storefront", "currency": "EUR", "sampleProducts": 0, "paymentMethods": ["cod", "bacs"]},
            "deletionPolicy": "Retain",
        }),
    ));
    accepted(store("tls-default", with(minimal(), "tls", json!({}))));
    accepted(store(
        "tls-secret",
        with(minimal(), "tls", json!({"secretName": "shop-cert"})),
    ));
}

#[test]
fn names_that_cannot_become_a_namespace_are_rejected() {
    rejected(
        store(&"a".repeat(names::store_name::MAX_LEN + 1), minimal()),
        "at most 40 characters",
    );
    for bad in ["Alice", "1shop", "shop-", "a.b", "a_b"] {
        rejected(store(bad, minimal()), "DNS label");
    }
}

#[test]
fn cel_name_rules_match_the_shared_constants() {
    let crd = serde_json::to_string(&Store::crd()).expect("crd serializes");
    assert!(crd.contains(&format!(
        "self.metadata.name.size() <= {}",
        names::store_name::MAX_LEN
    )));
    assert!(crd.contains(&format!("matches('{}')", names::store_name::PATTERN)));
}

#[test]
fn required_fields_and_closed_enums() {
    rejected(store("a", json!({"owner": "alice"})), "engine");
    rejected(store("a", json!({"engine": "woocommerce"})), "owner");
    rejected(
        store("a", with(minimal(), "engine", json!("shopify"))),
        "shopify",
    );
    rejected(store("a", with(minimal(), "plan", json!("huge"))), "huge");
    rejected(
        store("a", with(minimal(), "deletionPolicy", json!("Orphan"))),
        "Orphan",
    );
    rejected(
        store(
            "a",
            with(minimal(), "setup", json!({"paymentMethods": ["paypal"]})),
        ),
        "paypal",
    );
}

#[test]
fn owner_is_non_empty_and_bounded() {
    rejected(store("a", with(minimal(), "owner", json!(""))), "owner");
    rejected(
        store("a", with(minimal(), "owner", json!("x".repeat(255)))),
        "owner",
    );
    rejected(
        store("a", with(minimal(), "owner", json!("two words"))),
        "owner",
    );
}

#[test]
fn domain_must_be_a_hostname() {
    for bad in [
        "Shop.Example.com",
        "shop..example.com",
        "-shop.example.com",
        "shop_1.example.com",
        "https://shop.example.com",
    ] {
        rejected(store("a", with(minimal(), "domain", json!(bad))), "domain");
    }
    rejected(
        store(
            "a",
            with(
                minimal(),
                "domain",
                json!(format!("{}.com", "a".repeat(64))),
            ),
        ),
        "domain",
    );
}

#[test]
fn sizes_must_be_quantities() {
    for bad in ["5GB", "-1Gi", "0", "1e3", "lots", "5 Gi"] {
        rejected(
            store(
                "a",
                with(minimal(), "storage", json!({"databaseSize": bad})),
            ),
            "databaseSize",
        );
    }
    for good in ["5Gi", "500Mi", "1.5Gi", "1000000000", "10G"] {
        accepted(store(
            "a",
            with(minimal(), "storage", json!({"databaseSize": good})),
        ));
    }
}

#[test]
fn tls_takes_issuer_or_secret_not_both() {
    rejected(
        store(
            "a",
            with(
                minimal(),
                "tls",
                json!({"clusterIssuer": "le", "secretName": "cert"}),
            ),
        ),
        "not both",
    );
}

#[test]
fn setup_values_are_checked() {
    rejected(
        store("a", with(minimal(), "setup", json!({"currency": "usd"}))),
        "currency",
    );
    rejected(
        store("a", with(minimal(), "setup", json!({"sampleProducts": 51}))),
        "sampleProducts",
    );
    rejected(
        store(
            "a",
            with(minimal(), "setup", json!({"adminEmail": "nobody"})),
        ),
        "adminEmail",
    );
    rejected(
        store("a", with(minimal(), "setup", json!({"paymentMethods": []}))),
        "paymentMethods",
    );
    rejected(
        store(
            "a",
            with(
                minimal(),
                "versions",
                json!({"wordpress": "latest; rm -rf /"}),
            ),
        ),
        "wordpress",
    );
}

#[test]
fn each_engine_takes_only_its_own_settings() {
    let medusa = || json!({"engine": "medusa", "owner": "bob@example.com"});
    accepted(store(
        "a",
        with(
            medusa(),
            "versions",
            json!({"medusa": "0.2.0", "postgres": "17.6", "redis": "7.4.5"}),
        ),
    ));
    accepted(store(
        "a",
        with(
            medusa(),
            "setup",
            json!({"currency": "EUR", "sampleProducts": 2}),
        ),
    ));
    for versions in [
        json!({"wordpress": "6.8"}),
        json!({"mariadb": "11"}),
        json!({"wpCli": "cli"}),
        json!({"woocommerce": "9.3"}),
    ] {
        rejected(
            store("a", with(medusa(), "versions", versions)),
            "wordpress, mariadb, wpCli and woocommerce are for engine woocommerce",
        );
    }
    for versions in [
        json!({"medusa": "1"}),
        json!({"postgres": "17"}),
        json!({"redis": "7"}),
    ] {
        rejected(
            store("a", with(minimal(), "versions", versions)),
            "medusa, postgres and redis for engine medusa",
        );
    }
    for setup in [
        json!({"theme": "storefront"}),
        json!({"paymentMethods": ["cod"]}),
    ] {
        rejected(
            store("a", with(medusa(), "setup", setup)),
            "theme and paymentMethods are WooCommerce settings",
        );
    }
    rejected(
        store(
            "a",
            with(medusa(), "versions", json!({"medusa": "latest; rm -rf /"})),
        ),
        "medusa",
    );
}

#[test]
fn engine_is_immutable() {
    let old = store("alice", minimal());
    let same = store("alice", with(minimal(), "plan", json!("medium")));
    assert_eq!(admit(&same, Some(&old)), Ok(()));
    let changed = store("alice", with(minimal(), "engine", json!("medusa")));
    let errors = admit(&changed, Some(&old)).expect_err("engine change must be rejected");
    assert!(
        errors.iter().any(|e| e.contains("engine is immutable")),
        "{errors:#?}"
    );
}

#[test]
fn conditions_are_a_map_keyed_on_type() {
    let schema = support::schema(&Store::crd());
    let conditions = &schema["properties"]["status"]["properties"]["conditions"];
    assert_eq!(conditions["x-kubernetes-list-type"], "map");
    assert_eq!(conditions["x-kubernetes-list-map-keys"], json!(["type"]));
}

#[test]
fn crd_names_columns_and_subresources() {
    let crd = Store::crd();
    assert_eq!(crd.spec.group, names::GROUP);
    assert_eq!(crd.spec.scope, "Cluster");
    assert_eq!(crd.spec.names.kind, names::KIND);
    assert_eq!(
        crd.spec.names.short_names.as_deref(),
        Some(&["sto".to_string()][..])
    );
    assert_eq!(
        crd.spec.names.categories.as_deref(),
        Some(&["storefleet".to_string()][..])
    );
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, names::VERSION);
    assert!(
        version
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some()
    );
    let columns: Vec<_> = version
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| (c.name.as_str(), c.json_path.as_str()))
        .collect();
    assert_eq!(
        columns,
        [
            ("Engine", ".spec.engine"),
            ("Plan", ".spec.plan"),
            ("Ready", ".status.conditions[?(@.type==\"Ready\")].status"),
            ("Status", ".status.conditions[?(@.type==\"Ready\")].message"),
            ("URL", ".status.url"),
            ("Age", ".metadata.creationTimestamp"),
            ("Upgrade", ".status.upgrade.phase"),
        ]
    );
    let wide: Vec<(&str, Option<i32>)> = version
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| (c.name.as_str(), c.priority))
        .filter(|(_, p)| p.is_some_and(|p| p > 0))
        .collect();
    assert_eq!(wide, [("Upgrade", Some(1))], "shown with -o wide only");
}

#[test]
fn database_major_versions_cannot_change() {
    let woo = |tag: &str| {
        store(
            "alice",
            with(minimal(), "versions", json!({"mariadb": tag})),
        )
    };
    assert_eq!(
        admit(&woo("11.4.5"), Some(&woo("11.4"))),
        Ok(()),
        "a minor update"
    );
    refused_change(&woo("12.0"), &woo("11.4"), "versions.mariadb");
    let medusa = |tag: &str| {
        store(
            "bob",
            json!({"engine": "medusa", "owner": "bob@example.com", "versions": {"postgres": tag}}),
        )
    };
    assert_eq!(
        admit(&medusa("17.6-alpine"), Some(&medusa("17-alpine"))),
        Ok(())
    );
    refused_change(
        &medusa("18-alpine"),
        &medusa("17-alpine"),
        "versions.postgres",
    );
    // A store created with a pin may pin any major.
    assert_eq!(admit(&woo("12.0"), None), Ok(()));
}

/// `new` replacing `old` is refused with "`field`: the major version cannot change".
#[track_caller]
fn refused_change(new: &Value, old: &Value, field: &str) {
    let errors = admit(new, Some(old)).expect_err("a major change");
    let needle = format!("{field}: the major version cannot change");
    assert!(errors.iter().any(|e| e.contains(&needle)), "{errors:#?}");
}

#[test]
fn plans_and_volumes_only_grow() {
    let on = |plan: &str, storage: Option<Value>| {
        let mut spec = with(minimal(), "plan", json!(plan));
        if let Some(storage) = storage {
            spec["storage"] = storage;
        }
        store("shop", spec)
    };
    let refused = |new: &Value, old: &Value, needle: &str| {
        let errors = admit(new, Some(old)).expect_err("refused");
        assert!(errors.iter().any(|e| e.contains(needle)), "{errors:#?}");
    };
    // A larger plan, larger sizes, a size set where the plan's applied: accepted.
    assert_eq!(admit(&on("medium", None), Some(&on("small", None))), Ok(()));
    assert_eq!(admit(&on("large", None), Some(&on("small", None))), Ok(()));
    let sized = |db: &str| Some(json!({"databaseSize": db, "storefrontSize": "2Gi"}));
    assert_eq!(
        admit(&on("small", sized("3Gi")), Some(&on("small", sized("2Gi")))),
        Ok(())
    );
    assert_eq!(
        admit(
            &on("small", sized("2048Mi")),
            Some(&on("small", sized("2Gi")))
        ),
        Ok(()),
        "the same size in another unit"
    );
    assert_eq!(
        admit(&on("small", sized("2Gi")), Some(&on("small", None))),
        Ok(())
    );
    // A smaller plan, a smaller size, a size removed, another class: refused, naming the plans.
    refused(
        &on("small", None),
        &on("medium", None),
        "spec.plan: medium cannot become small",
    );
    refused(
        &on("small", sized("1Gi")),
        &on("small", sized("2Gi")),
        "spec.storage.databaseSize can only grow",
    );
    refused(
        &on("small", Some(json!({"databaseSize": "2Gi"}))),
        &on("small", sized("2Gi")),
        "spec.storage.storefrontSize can only grow",
    );
    refused(
        &on("small", None),
        &on("small", sized("2Gi")),
        "spec.storage.databaseSize can only grow",
    );
    refused(
        &on("small", Some(json!({"storageClassName": "fast"}))),
        &on("small", None),
        "spec.storage.storageClassName is immutable",
    );
}

#[test]
fn the_admin_email_and_a_medusa_currency_are_fixed_once_the_store_exists() {
    let refused = |new: &Value, old: &Value, needle: &str| {
        let errors = admit(new, Some(old)).expect_err("refused");
        assert!(errors.iter().any(|e| e.contains(needle)), "{errors:#?}");
    };
    let setup = |engine: &str, setup: Value| {
        let mut spec = with(minimal(), "engine", json!(engine));
        spec["setup"] = setup;
        store("shop", spec)
    };
    // The admin's e-mail: explicit, or the owner's.
    let old = setup("woocommerce", json!({"adminEmail": "a@example.com"}));
    refused(
        &setup("woocommerce", json!({"adminEmail": "b@example.com"})),
        &old,
        "spec.setup.adminEmail",
    );
    assert_eq!(
        admit(
            &setup(
                "woocommerce",
                json!({"adminEmail": "a@example.com", "sampleProducts": 5})
            ),
            Some(&old)
        ),
        Ok(())
    );
    let owned = |owner: &str, s: Value| {
        let mut spec = with(minimal(), "owner", json!(owner));
        spec["setup"] = s;
        store("shop", spec)
    };
    refused(
        &owned("bob@example.com", json!({})),
        &owned("alice@example.com", json!({})),
        "spec.setup.adminEmail",
    );
    // A new owner with the old e-mail pinned is fine.
    assert_eq!(
        admit(
            &owned(
                "bob@example.com",
                json!({"adminEmail": "alice@example.com"})
            ),
            Some(&owned("alice@example.com", json!({})))
        ),
        Ok(())
    );
    // Medusa's currency, USD by default.
    refused(
        &setup("medusa", json!({"currency": "EUR"})),
        &setup("medusa", json!({})),
        "spec.setup.currency",
    );
    assert_eq!(
        admit(
            &setup("medusa", json!({"currency": "USD"})),
            Some(&setup("medusa", json!({})))
        ),
        Ok(())
    );
    // WooCommerce's is a setting the setup applies again.
    assert_eq!(
        admit(
            &setup("woocommerce", json!({"currency": "EUR"})),
            Some(&setup("woocommerce", json!({})))
        ),
        Ok(())
    );
}

#[test]
fn backup_schedules_and_retentions_are_checked() {
    for good in [
        json!({"enabled": false}),
        json!({"schedule": "30 2 * * *"}),
        json!({"schedule": "@daily", "retention": {"daily": 14}}),
        json!({"drillSchedule": "0 6 * * *"}),
    ] {
        accepted(store("a", with(minimal(), "backup", good)));
    }
    rejected(
        store(
            "a",
            with(minimal(), "backup", json!({"schedule": "every night"})),
        ),
        "schedule",
    );
    rejected(
        store(
            "a",
            with(
                minimal(),
                "backup",
                json!({"drillSchedule": "weekly please"}),
            ),
        ),
        "drillSchedule",
    );
    rejected(
        store(
            "a",
            with(minimal(), "backup", json!({"retention": {"daily": 0}})),
        ),
        "at least one snapshot",
    );
    rejected(
        store(
            "a",
            with(minimal(), "backup", json!({"retention": {"daily": 400}})),
        ),
        "daily",
    );
}

#[test]
fn restore_from_names_a_store_and_a_snapshot_and_is_fixed_once_set() {
    accepted(store(
        "a",
        with(minimal(), "restoreFrom", json!({"store": "shop"})),
    ));
    accepted(store(
        "a",
        with(
            minimal(),
            "restoreFrom",
            json!({"store": "shop", "snapshot": "4bba301e"}),
        ),
    ));
    rejected(
        store(
            "a",
            with(minimal(), "restoreFrom", json!({"store": "Shop/../x"})),
        ),
        "store",
    );
    rejected(
        store(
            "a",
            with(
                minimal(),
                "restoreFrom",
                json!({"store": "shop", "snapshot": "yesterday"}),
            ),
        ),
        "snapshot",
    );
    let old = store(
        "a",
        with(minimal(), "restoreFrom", json!({"store": "shop"})),
    );
    let new = store(
        "a",
        with(minimal(), "restoreFrom", json!({"store": "other"})),
    );
    let result = admit(&new, Some(&old));
    assert!(
        result
            .as_ref()
            .is_err_and(|e| e.iter().any(|m| m.contains("restoreFrom is fixed"))),
        "{result:?}"
    );
}
