//! Tests of loading and checking the configuration.

use kube_quantity::ParsedQuantity;
use storefleet_types::Plan;

use super::*;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

fn q(s: &str) -> Quantity {
    Quantity(s.into())
}

fn issues(yaml: &str) -> Vec<String> {
    let config = OperatorConfig::from_yaml(yaml).expect("shape is fine");
    match config.check() {
        Ok(()) => vec![],
        Err(ConfigError::Invalid(issues)) => issues.into_iter().map(|i| i.to_string()).collect(),
        Err(other) => panic!("unexpected {other}"),
    }
}

#[test]
fn defaults_are_valid() {
    OperatorConfig::default()
        .check()
        .expect("defaults pass their own checks");
    assert_eq!(
        OperatorConfig::from_yaml("").expect("empty is defaults"),
        OperatorConfig::default()
    );
}

#[test]
fn committed_sample_config_is_the_defaults() {
    let sample = include_str!("../../../../config/operator-config.yaml");
    assert_eq!(
        OperatorConfig::from_yaml(sample).expect("sample parses"),
        OperatorConfig::default()
    );
}

#[test]
fn partial_files_keep_other_defaults() {
    let c = OperatorConfig::from_yaml(
        "baseDomain: shops.example.com\ningress:\n  className: traefik\n",
    )
    .expect("valid");
    assert_eq!(c.base_domain, "shops.example.com");
    assert_eq!(c.ingress.class_name.as_deref(), Some("traefik"));
    assert_eq!(c.ingress.controller_namespace, "ingress-nginx");
    assert_eq!(c.plans, Plans::default());
}

#[test]
fn unknown_keys_name_their_path() {
    let err = OperatorConfig::from_yaml("ingress:\n  clasName: nginx\n").expect_err("typo");
    let text = err.to_string();
    assert!(text.starts_with("ingress"), "{text}");
    assert!(text.contains("clasName"), "{text}");
    let err = OperatorConfig::from_yaml("plans:\n  small:\n    quota: {}\n")
        .expect_err("incomplete plan");
    assert!(err.to_string().starts_with("plans.small.quota"), "{err}");
    let err = OperatorConfig::from_yaml("maxStores: many\n").expect_err("wrong type");
    assert!(err.to_string().starts_with("maxStores"), "{err}");
}

#[test]
fn impossible_values_name_their_path() {
    let found = issues(
        "baseDomain: Shop_Local\nnamespacePrefix: Store-with-a-far-too-long-prefix-\nmaxStores: 0\n",
    );
    assert!(
        found.iter().any(|i| i.starts_with("baseDomain:")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|i| i.starts_with("namespacePrefix:") && i.contains("at most")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|i| i.starts_with("namespacePrefix:") && i.contains("lower case")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|i| i.starts_with("maxStores:")),
        "{found:?}"
    );
    // CIDRs are typed: a bad one fails the parse, naming its key.
    for (bad, index) in [("[10.0.0.0/33]", 0), ("[10.0.0.0/8, nope]", 1)] {
        let err = OperatorConfig::from_yaml(&format!("network:\n  blockedEgressCidrs: {bad}\n"))
            .expect_err("bad CIDR");
        assert!(
            err.to_string()
                .starts_with(&format!("network.blockedEgressCidrs[{index}]")),
            "{err}"
        );
    }
    let found = issues("images:\n  mariadb: {repository: mariadb, tag: 'bad tag'}\n");
    assert!(
        found.iter().any(|i| i.starts_with("images.mariadb.tag")),
        "{found:?}"
    );
}

#[test]
fn plans_that_cannot_fit_are_rejected() {
    let mut config = OperatorConfig::default();
    config.plans.small.resources.storefront.limits.memory = q("4Gi");
    config.plans.small.resources.database.requests.cpu = q("2");
    config.plans.small.volumes.database = q("100Gi");
    config.plans.small.quota.pods = 1;
    let Err(ConfigError::Invalid(found)) = config.check() else {
        panic!("must fail")
    };
    let found: Vec<String> = found.into_iter().map(|i| i.to_string()).collect();
    let expect = [
        "plans.small.resources.storefront.limits.memory: 4Gi is above the limit range's maximum",
        "plans.small.resources.database.requests.cpu: 2 is above its limit",
        "plans.small.quota.limitsMemory:",
        "plans.small.quota.requestsCpu:",
        "plans.small.volumes.database: 100Gi is above the limit range's volumeMax",
        "plans.small.quota.requestsStorage:",
        "plans.small.quota.pods:",
    ];
    for e in expect {
        assert!(
            found.iter().any(|f| f.starts_with(e)),
            "missing {e:?} in {found:#?}"
        );
    }
}

#[test]
fn ephemeral_storage_is_checked_like_cpu_and_memory() {
    let mut config = OperatorConfig::default();
    let plan = &mut config.plans.large;
    plan.resources.storefront.limits.ephemeral_storage = q("20Gi");
    plan.resources.setup.requests.ephemeral_storage = q("0");
    plan.limit_range.container_default.ephemeral_storage = q("100Gi");
    plan.volumes.scratch = q("50Gi");
    plan.medusa.quota.limits_ephemeral_storage = q("1Gi");
    let Err(ConfigError::Invalid(found)) = config.check() else {
        panic!("must fail")
    };
    let found: Vec<String> = found.into_iter().map(|i| i.to_string()).collect();
    for e in [
        "plans.large.resources.storefront.limits.ephemeralStorage: 20Gi is above the limit range's maximum 8192Mi",
        "plans.large.resources.setup.requests.ephemeralStorage: 0 must be greater than zero",
        "plans.large.limitRange.containerDefault.ephemeralStorage: 100Gi is above the maximum",
        "plans.large.volumes.scratch: 50Gi is above the limit range's containerMax.ephemeralStorage",
        "plans.large.medusa.quota.limitsEphemeralStorage: 1Gi is below the limits.ephemeral-storage of the store's pods together (24832Mi)", // the probe's 256Mi included
    ] {
        assert!(
            found.iter().any(|f| f.starts_with(e)),
            "missing {e:?} in {found:#?}"
        );
    }
}

#[test]
fn medusa_plans_are_checked_against_their_own_quota() {
    let mut config = OperatorConfig::default();
    let medusa = &mut config.plans.medium.medusa;
    medusa.quota.limits_memory = q("4Gi");
    medusa.resources.server.limits.cpu = q("5");
    medusa.quota.pods = 4;
    medusa.quota.services = 2;
    let Err(ConfigError::Invalid(found)) = config.check() else {
        panic!("must fail")
    };
    let found: Vec<String> = found.into_iter().map(|i| i.to_string()).collect();
    for e in [
        "plans.medium.medusa.quota.limitsMemory: 4Gi is below the limits.memory of the store's pods together",
        "plans.medium.medusa.resources.server.limits.cpu: 5 is above the limit range's maximum",
        "plans.medium.medusa.quota.pods: must be at least 5",
        "plans.medium.medusa.quota.services: must be at least 3",
    ] {
        assert!(
            found.iter().any(|f| f.starts_with(e)),
            "missing {e:?} in {found:#?}"
        );
    }
    assert!(
        found.iter().all(|f| f.starts_with("plans.medium.medusa.")),
        "the WooCommerce side of the plan is unaffected: {found:#?}"
    );
}

#[test]
fn overrides_win() {
    let overrides = ConfigOverrides {
        base_domain: Some("example.org".into()),
        cluster_issuer: Some("letsencrypt".into()),
        max_stores: Some(3),
        ..Default::default()
    };
    let c = OperatorConfig::load(None, &overrides).expect("valid");
    assert_eq!(c.base_domain, "example.org");
    assert_eq!(
        c.ingress.default_cluster_issuer.as_deref(),
        Some("letsencrypt")
    );
    assert_eq!(c.max_stores, 3);
    let bad = ConfigOverrides {
        namespace_prefix: Some("UPPER-".into()),
        ..Default::default()
    };
    assert!(OperatorConfig::load(None, &bad).is_err());
    let empty = ConfigOverrides {
        namespace_prefix: Some(String::new()),
        ..Default::default()
    };
    let err = OperatorConfig::load(None, &empty).expect_err("an empty prefix");
    assert!(
        err.to_string()
            .contains("namespacePrefix: must not be empty"),
        "{err}"
    );
}

#[test]
fn builtin_plans_grow() {
    let small = PlanConfig::builtin(Plan::Small);
    let large = PlanConfig::builtin(Plan::Large);
    let s = ParsedQuantity::try_from(&small.quota.limits_memory).expect("valid");
    let l = ParsedQuantity::try_from(&large.quota.limits_memory).expect("valid");
    assert!(l > s);
    assert_eq!(small.quota.requests_storage.0, "6Gi");
}

#[test]
fn gateway_routing_needs_a_gateway_and_valid_names() {
    let err = OperatorConfig::from_yaml("routing: gateway\n")
        .expect("parses")
        .check()
        .expect_err("no gateway section")
        .to_string();
    assert!(
        err.contains("routing: gateway routing needs the gateway section"),
        "{err}"
    );

    let err = OperatorConfig::from_yaml(
        "gateway:\n  defaultGateway: {namespace: Bad_NS, name: shops}\n  allowedGateways: [{namespace: gw, name: \"no way\"}]\n  httpsListener: \"HTTPS!\"\n  dataPlaneNamespace: envoy-gateway-system\n",
    )
    .expect("parses")
    .check()
    .expect_err("bad names")
    .to_string();
    for path in [
        "gateway.defaultGateway.namespace",
        "gateway.allowedGateways[0].name",
        "gateway.httpsListener",
    ] {
        assert!(err.contains(path), "{path} in {err}");
    }

    let ok = OperatorConfig::from_yaml(
        "routing: gateway\ngateway:\n  defaultGateway: {namespace: gateways, name: shops}\n  dataPlaneNamespace: envoy-gateway-system\n",
    )
    .expect("parses");
    ok.check().expect("valid");
    assert!(ok.gateway_api());
    assert_eq!(
        OperatorConfig::default().ingress.class_name,
        None,
        "no class is assumed"
    );
}

#[test]
fn a_backup_target_is_checked_whole() {
    let good = "backup:\n  s3: {endpoint: \"https://s3.example.com\", bucket: shop-backups}\n  credentialsSecret: backup-s3\n  keySecret: backup-key\n  egressCidrs: [\"203.0.113.10/32\"]\n";
    assert_eq!(issues(good), Vec::<String>::new());
    let config = OperatorConfig::from_yaml(good).expect("valid");
    let backup = config.backup.expect("backup");
    assert_eq!(
        backup.schedule, "H 3 * * *",
        "the default: 03:xx, a minute per store"
    );
    assert_eq!(backup.s3.region, "us-east-1");
    assert_eq!(
        backup.repository("alice", "shop"),
        "s3:https://s3.example.com/shop-backups/stores/alice/shop"
    );
    let bad = "backup:\n  s3: {endpoint: \"s3.example.com\", bucket: B, prefix: \"../x\"}\n  credentialsSecret: \"Backup S3\"\n  keySecret: backup-key\n  egressCidrs: []\n  schedule: \"every night\"\n  retention: {daily: 0, weekly: 0, monthly: 0}\n";
    let found = issues(bad);
    for path in [
        "backup.s3.endpoint",
        "backup.s3.bucket",
        "backup.s3.prefix",
        "backup.credentialsSecret",
        "backup.egressCidrs",
        "backup.schedule",
        "backup.retention",
    ] {
        assert!(
            found.iter().any(|i| i.starts_with(&format!("{path}:"))),
            "{path} in {found:?}"
        );
    }
    assert!(
        !found.iter().any(|i| i.starts_with("backup.keySecret")),
        "{found:?}"
    );
}
