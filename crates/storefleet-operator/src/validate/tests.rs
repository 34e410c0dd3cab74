//! Tests of validation.

use super::*;
use crate::config::{GatewayConfig, RoutingMode};
use storefleet_types::{GatewaySpec, SetupSpec, TlsSpec};

fn ok(store: &Store) -> ValidatedStore {
    validate(store, &OperatorConfig::default()).expect("valid store")
}

fn err(store: &Store) -> ValidationError {
    validate(store, &OperatorConfig::default()).expect_err("invalid store")
}

#[test]
fn defaults_are_resolved() {
    let v = ok(&Store::test());
    assert_eq!(v.namespace, "store-alice");
    assert_eq!(v.host, "alice.shop.local");
    assert_eq!(v.url(), "http://alice.shop.local");
    assert_eq!(v.admin_url(), "http://alice.shop.local/wp-admin/");
    assert_eq!(
        v.route,
        Route::Ingress {
            class: None,
            annotations: Default::default()
        },
        "the cluster's default IngressClass"
    );
    assert_eq!(v.setup.admin_email, "alice@example.com");
    assert_eq!(v.setup.title, "alice");
    let App::Woocommerce(woo) = &v.app else {
        panic!("engine woocommerce: {:?}", v.app)
    };
    assert_eq!(woo.payment_methods, vec![PaymentMethod::Cod]);
    assert_eq!(woo.images.mariadb, "docker.io/library/mariadb:11.4.8");
    assert_eq!(v.database_size.0, "2Gi");
    assert_eq!(v.tls, None);
    assert_eq!(v.quota(), &v.plan.quota);
}

#[test]
fn owner_that_is_not_an_email_gets_a_host_address() {
    let v = ok(&Store::test().with_owner("alice"));
    assert_eq!(v.setup.admin_email, "admin@alice.shop.local");
    // An owner with a quote is not taken as the admin's address.
    let quoted = Store::test().with_owner("a\"b@example.com");
    let v = validate(&quoted, &OperatorConfig::default()).expect("valid");
    assert_eq!(v.setup.admin_email, "admin@alice.shop.local");
}

#[test]
fn medusa_stores_resolve_their_own_images_urls_and_quota() {
    let mut store = Store::test().with_engine(Engine::Medusa);
    store.spec.versions = Some(storefleet_types::VersionsSpec {
        postgres: Some("17.2".into()),
        ..Default::default()
    });
    let v = ok(&store);
    let App::Medusa(m) = &v.app else {
        panic!("engine medusa: {:?}", v.app)
    };
    assert_eq!(m.images.postgres, "docker.io/library/postgres:17.2");
    assert_eq!(m.images.redis, "docker.io/library/redis:7.4.5");
    assert_eq!(
        m.images.medusa,
        "ghcr.io/storefleet/storefleet-medusa:0.1.0"
    );
    assert_eq!(v.shop_url(), "http://alice.shop.local/shop");
    assert_eq!(v.admin_url(), "http://alice.shop.local/app");
    assert_eq!(v.quota(), &v.plan.medusa.quota);
}

#[test]
fn the_other_engines_settings_are_refused_with_their_fields() {
    let mut store = Store::test().with_engine(Engine::Medusa);
    store.spec.versions = Some(storefleet_types::VersionsSpec {
        wordpress: Some("6.8".into()),
        ..Default::default()
    });
    store.spec.setup = Some(SetupSpec {
        theme: Some("storefront".into()),
        payment_methods: Some(vec![PaymentMethod::Bacs]),
        ..Default::default()
    });
    let e = err(&store);
    let text = e.to_string();
    assert_eq!(e.reason(), "InvalidSpec", "{text}");
    for field in [
        "spec.versions.wordpress: is for engine woocommerce, and this store's engine is medusa",
        "spec.setup.theme: is a WooCommerce setting",
        "spec.setup.paymentMethods: is a WooCommerce setting",
    ] {
        assert!(text.contains(field), "{field} in {text}");
    }
    let mut woo = Store::test();
    woo.spec.versions = Some(storefleet_types::VersionsSpec {
        redis: Some("7".into()),
        ..Default::default()
    });
    assert_eq!(
        err(&woo).to_string(),
        "spec.versions.redis: is for engine medusa, and this store's engine is woocommerce"
    );
}

#[test]
fn tls_sources() {
    // A named issuer only when offered: the default, or one listed.
    let refused = err(&Store::test().with_cluster_issuer("le"));
    assert_eq!(field_of(refused), "spec.tls.clusterIssuer");
    let mut offered = OperatorConfig::default();
    offered.ingress.allowed_cluster_issuers = vec!["le".into()];
    let v = validate(&Store::test().with_cluster_issuer("le"), &offered).expect("offered");
    assert_eq!(v.tls, Some(Tls::ClusterIssuer("le".into())));
    assert_eq!(v.url(), "https://alice.shop.local");
    let v = ok(&Store::test().with_tls_secret("cert"));
    assert_eq!(v.tls, Some(Tls::Secret("cert".into())));
    assert_eq!(
        err(&Store::test().with_tls(TlsSpec::default())),
        ValidationError::NoClusterIssuer
    );
    let mut config = OperatorConfig::default();
    config.ingress.default_cluster_issuer = Some("default-issuer".into());
    let v = validate(&Store::test().with_tls(TlsSpec::default()), &config).expect("valid");
    assert_eq!(v.tls, Some(Tls::ClusterIssuer("default-issuer".into())));
    let named = Store::test().with_cluster_issuer("default-issuer");
    assert!(validate(&named, &config).is_ok(), "the default by name");
}

#[test]
fn storage_classes_are_allowlisted() {
    let mut config = OperatorConfig {
        storage_class_name: Some("standard".into()),
        ..OperatorConfig::default()
    };
    let fast = Store::test().with_storage_class("fast");
    let e = validate(&fast, &config).expect_err("not offered");
    assert_eq!(field_of(e), "spec.storage.storageClassName");
    assert!(validate(&Store::test().with_storage_class("standard"), &config).is_ok());
    config.allowed_storage_class_names = vec!["fast".into()];
    let v = validate(&fast, &config).expect("offered");
    assert_eq!(v.storage_class.as_deref(), Some("fast"));
}

#[test]
fn sizes_must_fit_the_plan() {
    assert!(matches!(
        err(&Store::test().with_sizes("100Gi", "1Gi")),
        ValidationError::SizeExceedsPlan {
            field: "spec.storage.databaseSize",
            ..
        }
    ));
    let mut tight = OperatorConfig::default();
    tight.plans.small.quota.requests_storage = Quantity("3Gi".into());
    assert!(matches!(
        validate(&Store::test().with_sizes("2Gi", "2Gi"), &tight),
        Err(ValidationError::SizeExceedsPlan {
            field: "spec.storage",
            ..
        })
    ));
    ok(&Store::test().with_sizes("2Gi", "2Gi"));
    assert!(matches!(
        err(&Store::test().with_sizes("5GB", "1Gi")),
        ValidationError::InvalidField { .. }
    ));
    let v = ok(&Store::test()
        .with_plan(Plan::Large)
        .with_sizes("40Gi", "20Gi"));
    assert_eq!(v.database_size.0, "40Gi");
}

#[test]
fn names_and_fields_are_rechecked() {
    assert!(matches!(
        err(&Store::test().with_name("Bad_Name")),
        ValidationError::InvalidName(_)
    ));
    let mut no_uid = Store::test();
    no_uid.metadata.uid = None;
    assert!(matches!(err(&no_uid), ValidationError::MissingUid(_)));
    assert_eq!(
        err(&Store::test().with_owner("")),
        ValidationError::InvalidOwner
    );
    assert!(matches!(
        err(&Store::test().with_domain("Shop.Example")),
        ValidationError::InvalidField {
            field: "spec.domain",
            ..
        }
    ));
    let dup = SetupSpec {
        payment_methods: Some(vec![PaymentMethod::Cod, PaymentMethod::Cod]),
        ..Default::default()
    };
    assert!(matches!(
        err(&Store::test().with_setup(dup)),
        ValidationError::InvalidField {
            field: "spec.setup.paymentMethods",
            ..
        }
    ));
    let lower = SetupSpec {
        currency: Some("eur".into()),
        ..Default::default()
    };
    assert!(matches!(
        err(&Store::test().with_setup(lower)),
        ValidationError::InvalidField {
            field: "spec.setup.currency",
            ..
        }
    ));
}

fn field_of(e: ValidationError) -> &'static str {
    match e {
        ValidationError::InvalidField { field, .. } => field,
        other => panic!("not a field error: {other:?}"),
    }
}

#[test]
fn a_store_cannot_claim_another_stores_host() {
    // Under the base domain, only its own name (and below).
    assert_eq!(
        ok(&Store::test().with_domain("alice.shop.local")).host,
        "alice.shop.local"
    );
    assert_eq!(
        ok(&Store::test().with_domain("www.alice.shop.local")).host,
        "www.alice.shop.local"
    );
    for squat in [
        "bob.shop.local",
        "shop.local",
        "xalice.shop.local",
        "bob.example.com",
    ] {
        assert_eq!(
            field_of(err(&Store::test().with_domain(squat))),
            "spec.domain",
            "{squat}"
        );
    }
    // Elsewhere, what an admin allowed for the owner.
    let config = OperatorConfig {
        owner_domains: BTreeMap::from([(
            "alice@example.com".to_string(),
            vec![
                "shop.alice.example".to_string(),
                "*.alice.example".to_string(),
            ],
        )]),
        ..OperatorConfig::default()
    };
    for allowed in ["shop.alice.example", "eu.alice.example"] {
        assert!(
            validate(&Store::test().with_domain(allowed), &config).is_ok(),
            "{allowed}"
        );
    }
    let mallory = Store::test()
        .with_owner("mallory@example.com")
        .with_domain("shop.alice.example");
    assert!(
        validate(&mallory, &config).is_err(),
        "another owner's domain"
    );
    assert!(
        validate(&Store::test().with_domain("alice.example"), &config).is_err(),
        "*. is for subdomains"
    );
}

#[test]
fn reserved_hosts_belong_to_no_store() {
    let config = OperatorConfig {
        base_domain: "localtest.me".into(),
        reserved_hosts: vec![
            "storefleet.localtest.me".into(),
            "shop.alice.example".into(),
        ],
        owner_domains: BTreeMap::from([(
            "alice@example.com".to_string(),
            vec!["*.alice.example".to_string()],
        )]),
        ..OperatorConfig::default()
    };
    // By its name under the base domain, or by a domain the owner may otherwise use.
    for store in [
        Store::test().with_name("storefleet"),
        Store::test().with_domain("shop.alice.example"),
    ] {
        let e = validate(&store, &config).expect_err("reserved");
        assert_eq!(e.reason(), "HostReserved", "{e}");
        assert!(e.to_string().contains("reservedHosts"), "{e}");
    }
    assert!(validate(&Store::test().with_domain("eu.alice.example"), &config).is_ok());
}

#[test]
fn ingress_annotations_and_classes_are_allowlisted() {
    let with = |annotations: &[(&str, &str)], class: Option<&str>| {
        Store::test().with_ingress(storefleet_types::IngressSpec {
            class_name: class.map(String::from),
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    };
    assert!(
        validate(
            &with(
                &[("nginx.ingress.kubernetes.io/proxy-body-size", "16m")],
                None
            ),
            &OperatorConfig::default()
        )
        .is_ok()
    );
    for (key, value) in [
        ("nginx.ingress.kubernetes.io/server-alias", "bob.shop.local"),
        (
            "nginx.ingress.kubernetes.io/configuration-snippet",
            "more_set_headers x;",
        ),
        (
            "nginx.ingress.kubernetes.io/server-snippet",
            "location / {}",
        ),
        ("nginx.ingress.kubernetes.io/auth-url", "http://internal"),
        ("nginx.ingress.kubernetes.io/mirror-target", "http://evil"),
        ("cert-manager.io/cluster-issuer", "other"),
    ] {
        assert_eq!(
            field_of(err(&with(&[(key, value)], None))),
            "spec.ingress.annotations",
            "{key}"
        );
    }
    assert_eq!(
        field_of(err(&with(&[], Some("internal")))),
        "spec.ingress.className"
    );
    let mut config = OperatorConfig::default();
    config.ingress.class_name = Some("public".into());
    config.ingress.allowed_class_names = vec!["public-traefik".into()];
    assert!(validate(&with(&[], Some("public-traefik")), &config).is_ok());
    assert!(
        validate(&with(&[], Some("public")), &config).is_ok(),
        "the default class"
    );
}

fn gateway_config() -> OperatorConfig {
    OperatorConfig {
        gateway: Some(GatewayConfig {
            allowed_gateways: vec![GatewayRef {
                namespace: "gateways".into(),
                name: "internal-shops".into(),
            }],
            http_listener: Some("http".into()),
            https_listener: Some("https".into()),
            ..GatewayConfig::new("gateways", "shops", "envoy-gateway-system")
        }),
        ..OperatorConfig::default()
    }
}

#[test]
fn gateway_routing_resolves_the_offered_gateways_only() {
    let config = gateway_config();
    let v = validate(&Store::test().with_gateway(GatewaySpec::default()), &config)
        .expect("default gateway");
    assert_eq!(
        v.route,
        Route::Gateway {
            gateway: GatewayRef {
                namespace: "gateways".into(),
                name: "shops".into()
            },
            listener: Some("http".into())
        }
    );
    assert_eq!(v.edge_namespace, "envoy-gateway-system");
    // Without spec.gateway the operator's routing decides.
    assert!(matches!(ok(&Store::test()).route, Route::Ingress { .. }));
    let mut by_default = config.clone();
    by_default.routing = RoutingMode::Gateway;
    assert!(matches!(
        validate(&Store::test(), &by_default).expect("valid").route,
        Route::Gateway { .. }
    ));

    let named = |name: &str, namespace: Option<&str>| {
        Store::test().with_gateway(GatewaySpec {
            name: Some(name.into()),
            namespace: namespace.map(String::from),
        })
    };
    assert!(validate(&named("internal-shops", None), &config).is_ok());
    let refused = validate(&named("admin", Some("kube-system")), &config)
        .expect_err("not offered")
        .to_string();
    assert!(
        refused.contains("kube-system/admin is not offered")
            && refused.contains("gateways/shops, gateways/internal-shops"),
        "{refused}"
    );
    // No Gateway configured: a clear refusal.
    let no_gateway = validate(
        &Store::test().with_gateway(GatewaySpec::default()),
        &OperatorConfig::default(),
    )
    .expect_err("no gateway")
    .to_string();
    assert!(no_gateway.contains("offers no Gateway"), "{no_gateway}");
}

#[test]
fn behind_a_gateway_tls_is_the_listener_s() {
    let config = gateway_config();
    let v = validate(
        &Store::test()
            .with_gateway(GatewaySpec::default())
            .with_tls(TlsSpec::default()),
        &config,
    )
    .expect("tls: {} needs no ClusterIssuer behind a Gateway");
    assert_eq!(v.tls, Some(Tls::Gateway));
    assert_eq!(v.url(), "https://alice.shop.local");
    assert!(
        matches!(&v.route, Route::Gateway { listener: Some(l), .. } if l == "https"),
        "{:?}",
        v.route
    );
    let own_cert = Store::test()
        .with_gateway(GatewaySpec::default())
        .with_tls(TlsSpec {
            cluster_issuer: Some("letsencrypt".into()),
            secret_name: None,
        });
    assert_eq!(
        field_of(validate(&own_cert, &config).expect_err("refused")),
        "spec.tls"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut store = Store::test().with_domain("bob.shop.local");
    store.spec.setup = Some(storefleet_types::SetupSpec {
        currency: Some("usd".into()),
        theme: Some("Not A Slug".into()),
        ..Default::default()
    });
    store.spec.ingress = Some(Default::default());
    store.spec.gateway = Some(Default::default());
    let e = err(&store);
    assert_eq!(e.reason(), "InvalidSpec");
    let text = e.to_string();
    for part in [
        "4 problems",
        "spec.domain",
        "set ingress or gateway, not both",
        "spec.setup.currency",
        "spec.setup.theme",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    // One problem is reported as itself.
    assert_eq!(
        field_of(err(&Store::test().with_domain("bob.shop.local"))),
        "spec.domain"
    );
}

fn backup_config() -> OperatorConfig {
    OperatorConfig::from_yaml(
        "backup:\n  s3: {endpoint: \"https://s3.example.com\", bucket: shop-backups}\n  credentialsSecret: backup-s3\n  keySecret: backup-key\n  egressCidrs: [\"203.0.113.10/32\"]\n",
    )
    .expect("config")
}

#[test]
fn backups_follow_the_operator_and_the_store() {
    assert_eq!(ok(&Store::test()).backup, None, "no target, no backup");
    let mut store = Store::test();
    store.spec.backup = Some(storefleet_types::BackupSpec {
        schedule: Some("15 1 * * *".into()),
        ..Default::default()
    });
    assert!(
        err(&store).to_string().contains("no backup target"),
        "a store asking for backups where there is no target is told so"
    );
    let config = backup_config();
    let b = validate(&store, &config)
        .expect("valid")
        .backup
        .expect("backed up");
    assert_eq!(b.schedule, "15 1 * * *");
    assert_eq!(
        b.drill_schedule,
        crate::config::spread("H 5 * * 0", "alice"),
        "the operator's drills, weekly, at a minute of the store's own"
    );
    // A store's own schedule may spread too; one that stays no cron schedule is refused.
    store.spec.backup = Some(storefleet_types::BackupSpec {
        schedule: Some("H H * * *".into()),
        ..Default::default()
    });
    let spread = validate(&store, &config).expect("valid").backup;
    let spread = spread.expect("backed up").schedule;
    assert!(
        !spread.contains('H') && crate::config::is_cron(&spread),
        "{spread}"
    );
    store.spec.backup = Some(storefleet_types::BackupSpec {
        schedule: Some("0 3 H * *".into()),
        ..Default::default()
    });
    assert!(
        validate(&store, &config)
            .expect_err("refused")
            .to_string()
            .contains("spec.backup.schedule"),
        "an H outside the minute and hour is refused"
    );
    assert!(b.scheduled);
    assert_eq!(b.retention, crate::config::Retention::default());
    assert_eq!(
        b.repository,
        "s3:https://s3.example.com/shop-backups/stores/alice@example.com/alice"
    );
    store.spec.backup = Some(storefleet_types::BackupSpec {
        enabled: Some(false),
        ..Default::default()
    });
    assert!(
        !validate(&store, &config)
            .expect("valid")
            .backup
            .expect("kept")
            .scheduled
    );
    assert!(ok(&store).backup.is_none(), "turned off needs no target");
    store.spec.backup = Some(storefleet_types::BackupSpec {
        schedule: Some("61 * * *".into()),
        ..Default::default()
    });
    let e = validate(&store, &config).expect_err("bad schedule");
    assert!(e.to_string().contains("spec.backup.schedule"), "{e}");
    // A store's own drill schedule.
    store.spec.backup = Some(storefleet_types::BackupSpec {
        drill_schedule: Some("0 6 * * *".into()),
        ..Default::default()
    });
    let b = validate(&store, &config)
        .expect("valid")
        .backup
        .expect("backed up");
    assert_eq!(b.drill_schedule, "0 6 * * *");
    // Five fields Kubernetes takes, and croner (the operator works drill times out itself).
    store.spec.backup = Some(storefleet_types::BackupSpec {
        drill_schedule: Some("0 6 * * 8".into()),
        ..Default::default()
    });
    let e = validate(&store, &config).expect_err("no eighth weekday");
    assert!(e.to_string().contains("spec.backup.drillSchedule"), "{e}");
    store.spec.backup = Some(storefleet_types::BackupSpec {
        drill_schedule: Some("sometimes".into()),
        ..Default::default()
    });
    let e = validate(&store, &config).expect_err("bad drill schedule");
    assert!(e.to_string().contains("spec.backup.drillSchedule"), "{e}");
}

#[test]
fn a_store_restores_only_its_owners_backups_and_only_where_there_are_backups() {
    let mut store = Store::test().with_name("staging");
    store.spec.restore_from = Some(storefleet_types::RestoreFromSpec {
        store: "alice".into(),
        snapshot: "latest".into(),
    });
    assert!(err(&store).to_string().contains("spec.restoreFrom"));
    let restore = validate(&store, &backup_config())
        .expect("valid")
        .backup
        .and_then(|b| b.restore)
        .expect("restore");
    assert_eq!(
        restore.repository, "s3:https://s3.example.com/shop-backups/stores/alice@example.com/alice",
        "the owner's own repository of that store"
    );
    store.spec.owner = "mallory@example.com".into();
    let theirs = validate(&store, &backup_config())
        .expect("valid")
        .backup
        .and_then(|b| b.restore)
        .expect("restore");
    assert!(
        theirs.repository.contains("/mallory@example.com/alice"),
        "another owner's restoreFrom names its own folder, never alice's: {}",
        theirs.repository
    );
    let mut medusa = store.clone();
    medusa.spec.engine = storefleet_types::Engine::Medusa;
    let medusa = validate(&medusa, &backup_config()).expect("a Medusa store restores too");
    assert!(medusa.backup.and_then(|b| b.restore).is_some());
}
