//! What each builder promises, checked on the typed objects: labels and owners, selectors that
//! select their pods, references that resolve, resources that fit the plan, policies that allow
//! exactly the flows they name.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube_quantity::ParsedQuantity;
use storefleet_operator::config::{GatewayConfig, OperatorConfig};
use storefleet_operator::desired::route::RouteObject;
use storefleet_operator::desired::secrets::{Csprng, PASSWORD_LEN, Placeholder, Value};
use storefleet_operator::desired::woocommerce::WoocommerceObjects;
use storefleet_operator::desired::{self, AppObjects, Child, StoreObjects};
use storefleet_operator::validate::{ValidatedStore, validate};
use storefleet_types::fixtures::TEST_UID;
use storefleet_types::names::{self, Component, child, labels as keys};
use storefleet_types::{GatewaySpec, IngressSpec, Plan, SetupSpec, Store};

/// The defaults, plus what an admin would allow for the custom-ingress cases below.
fn config() -> OperatorConfig {
    let mut config = OperatorConfig {
        owner_domains: BTreeMap::from([(
            "alice@example.com".to_string(),
            vec!["shop.example.com".to_string(), "*.example.com".to_string()],
        )]),
        ..OperatorConfig::default()
    };
    config.ingress.allowed_class_names = vec!["traefik".into()];
    config.ingress.allowed_cluster_issuers = vec!["letsencrypt".into()];
    config.api_service_account = Some(storefleet_operator::config::ServiceAccountRef {
        namespace: "storefleet-system".into(),
        name: "storefleet-api".into(),
    });
    config.ingress.allowed_annotations.push("a/*".into());
    config
}

/// The WooCommerce application objects of a store.
fn woo(o: &StoreObjects) -> &WoocommerceObjects {
    match &o.app {
        AppObjects::Woocommerce(w) => w,
        AppObjects::Medusa(_) => panic!("a WooCommerce store"),
    }
}

fn ingress_of(o: &StoreObjects) -> Ingress {
    match &o.route {
        RouteObject::Ingress(i) => i.clone(),
        RouteObject::HttpRoute(r) => panic!("routed by a Gateway: {r:?}"),
    }
}

fn gateway_config() -> OperatorConfig {
    let mut config = config();
    config.gateway = Some(GatewayConfig {
        https_listener: Some("https".into()),
        ..GatewayConfig::new("gateways", "shops", "envoy-gateway-system")
    });
    config
}

fn validated(store: &Store) -> ValidatedStore {
    validate(store, &config()).expect("valid store")
}

fn objects(store: &Store) -> StoreObjects {
    desired::build(&validated(store))
}

/// `LabelSelector` semantics (matchLabels and the In/NotIn/Exists/DoesNotExist operators).
fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let exprs_ok = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.clone().unwrap_or_default();
        match e.operator.as_str() {
            "In" => labels.get(&e.key).is_some_and(|v| values.contains(v)),
            "NotIn" => labels.get(&e.key).is_none_or(|v| !values.contains(v)),
            "Exists" => labels.contains_key(&e.key),
            "DoesNotExist" => !labels.contains_key(&e.key),
            other => panic!("unknown operator {other}"),
        }
    });
    labels_ok && exprs_ok
}

/// The pod templates of a store, by component, in apply order.
fn pods(o: &StoreObjects) -> Vec<(Component, PodTemplateSpec)> {
    const ALL: [Component; 8] = [
        Component::Isolation,
        Component::Credentials,
        Component::Database,
        Component::Storefront,
        Component::Setup,
        Component::Cache,
        Component::Worker,
        Component::Migration,
    ];
    o.children()
        .iter()
        .filter_map(|c| match c {
            Child::StatefulSet(s) => Some(s.spec.template.clone()),
            Child::Deployment(d) => Some(d.spec.template.clone()),
            Child::SetupJob(j) | Child::MigrationJob(j) => Some(j.spec.as_ref()?.template.clone()),
            _ => None,
        })
        .map(|t| {
            let label = pod_labels(&t)[keys::COMPONENT].clone();
            let component = ALL
                .into_iter()
                .find(|c| c.as_str() == label)
                .expect("a known component");
            (component, t)
        })
        .collect()
}

/// One store of each engine.
fn both_engines() -> [Store; 2] {
    [
        Store::test(),
        Store::test()
            .with_name("bob")
            .with_engine(storefleet_types::Engine::Medusa),
    ]
}

fn pod_labels(t: &PodTemplateSpec) -> BTreeMap<String, String> {
    t.metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

fn spec(t: &PodTemplateSpec) -> &PodSpec {
    t.spec.as_ref().expect("pod spec")
}

fn container(t: &PodTemplateSpec) -> &Container {
    &spec(t).containers[0]
}

#[test]
fn every_object_is_labelled_owned_and_placed() {
    let o = objects(&Store::test());
    let children = o.children();
    assert_eq!(
        children.len(),
        22,
        "namespace, quota, limits, 6 policies, 3 secrets, the API's Role and RoleBinding, 8 workload objects"
    );
    for child in &children {
        let meta = child.metadata().clone();
        let name = meta.name.clone().expect("named");
        let labels = meta.labels.clone().expect("labelled");
        assert_eq!(
            labels.get(keys::MANAGED_BY).map(String::as_str),
            Some(keys::MANAGED_BY_VALUE),
            "{name}"
        );
        assert_eq!(
            labels.get(keys::PART_OF).map(String::as_str),
            Some(keys::PART_OF_VALUE),
            "{name}"
        );
        assert_eq!(
            labels.get(keys::INSTANCE).map(String::as_str),
            Some("alice"),
            "{name}"
        );
        assert_eq!(
            labels.get(keys::STORE).map(String::as_str),
            Some("alice"),
            "{name}"
        );
        assert!(labels.contains_key(keys::COMPONENT), "{name}");
        let owners = meta.owner_references.clone().expect("owned");
        assert_eq!(owners.len(), 1, "{name}");
        assert_eq!(owners[0].uid, TEST_UID);
        assert_eq!(owners[0].kind, names::KIND);
        assert_eq!(owners[0].api_version, names::API_VERSION);
        assert_eq!(owners[0].controller, Some(true));
        match child {
            Child::Namespace(_) => assert_eq!(meta.namespace, None),
            _ => assert_eq!(meta.namespace.as_deref(), Some("store-alice"), "{name}"),
        }
    }
    // Pods carry the same labels as their owners.
    for (component, template) in pods(&o) {
        let labels = pod_labels(&template);
        assert_eq!(
            labels.get(keys::COMPONENT).map(String::as_str),
            Some(component.as_str())
        );
        assert_eq!(
            labels.get(keys::MANAGED_BY).map(String::as_str),
            Some(keys::MANAGED_BY_VALUE)
        );
    }
}

#[test]
fn retain_leaves_every_object_unowned() {
    let o = objects(&Store::test().with_deletion_policy(storefleet_types::DeletionPolicy::Retain));
    for child in o.children() {
        assert_eq!(
            child.metadata().owner_references,
            None,
            "{:?}",
            child.metadata().name
        );
        assert!(
            child
                .metadata()
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(keys::STORE))
        );
    }
}

#[test]
fn apply_order_puts_isolation_first_and_exposure_after_setup() {
    let o = objects(&Store::test());
    let kinds: Vec<&str> = o
        .children()
        .iter()
        .map(|c| match c {
            Child::Namespace(_) => "Namespace",
            Child::ResourceQuota(_) => "ResourceQuota",
            Child::LimitRange(_) => "LimitRange",
            Child::NetworkPolicy(_) => "NetworkPolicy",
            Child::EdgePolicy(_) => "EdgePolicy",
            Child::GeneratedSecret(_) => "Secret",
            Child::Service(_) => "Service",
            Child::Role(_) => "Role",
            Child::RoleBinding(_) => "RoleBinding",
            Child::StatefulSet(_) => "StatefulSet",
            Child::PersistentVolumeClaim(_) => "PersistentVolumeClaim",
            Child::Deployment(_) => "Deployment",
            Child::Ingress(_) => "Ingress",
            Child::HttpRoute(_) => "HTTPRoute",
            Child::ConfigMap(_) => "ConfigMap",
            Child::SetupJob(_) | Child::MigrationJob(_) => "Job",
        })
        .collect();
    assert_eq!(&kinds[..3], ["Namespace", "ResourceQuota", "LimitRange"]);
    // Nothing opens the shop to the edge before the setup Job has installed it with our admin.
    assert_eq!(kinds[kinds.len() - 3..], ["Job", "EdgePolicy", "Ingress"]);
    let first_secret = kinds.iter().position(|k| *k == "Secret").expect("secrets");
    let first_workload = kinds
        .iter()
        .position(|k| *k == "StatefulSet")
        .expect("statefulset");
    let last_policy = kinds
        .iter()
        .rposition(|k| *k == "NetworkPolicy")
        .expect("policies");
    assert!(last_policy < first_secret && first_secret < first_workload);
}

#[test]
fn namespace_enforces_pod_security() {
    let ns = objects(&Store::test()).namespace;
    let labels = ns.metadata.labels.expect("labels");
    assert_eq!(ns.metadata.name.as_deref(), Some("store-alice"));
    assert_eq!(labels["pod-security.kubernetes.io/enforce"], "restricted");
    assert_eq!(labels["pod-security.kubernetes.io/warn"], "restricted");
    assert_eq!(labels["pod-security.kubernetes.io/audit"], "restricted");
}

#[test]
fn workload_selectors_select_their_own_pods_only() {
    let o = objects(&Store::test());
    let all = pods(&o);
    let check = |selector: &LabelSelector, component: Component, what: &str| {
        for (c, t) in &all {
            assert_eq!(
                selects(selector, &pod_labels(t)),
                *c == component,
                "{what} vs {c} pod"
            );
        }
    };
    check(
        &woo(&o).database.stateful_set.spec.selector,
        Component::Database,
        "statefulset selector",
    );
    check(
        &woo(&o).storefront.deployment.spec.selector,
        Component::Storefront,
        "deployment selector",
    );
    let svc_selector = |s: &k8s_openapi::api::core::v1::Service| LabelSelector {
        match_labels: s.spec.as_ref().and_then(|s| s.selector.clone()),
        match_expressions: None,
    };
    check(
        &svc_selector(&woo(&o).database.service),
        Component::Database,
        "database service",
    );
    check(
        &svc_selector(&woo(&o).storefront.service),
        Component::Storefront,
        "storefront service",
    );
    // The setup Job runs next to the storefront pod (ReadWriteOnce volume).
    let affinity = spec(&woo(&o).setup.job.spec.as_ref().expect("job").template)
        .affinity
        .as_ref()
        .and_then(|a| a.pod_affinity.as_ref())
        .and_then(|p| {
            p.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .expect("required pod affinity");
    assert_eq!(affinity[0].topology_key, "kubernetes.io/hostname");
    check(
        affinity[0].label_selector.as_ref().expect("selector"),
        Component::Storefront,
        "job affinity",
    );
}

#[test]
fn services_and_ingress_point_at_named_ports_that_exist() {
    let o = objects(&Store::test());
    let port_names = |t: &PodTemplateSpec| -> Vec<String> {
        container(t)
            .ports
            .iter()
            .flatten()
            .filter_map(|p| p.name.clone())
            .collect()
    };
    let db_ports = port_names(&woo(&o).database.stateful_set.spec.template);
    let sf_ports = port_names(&woo(&o).storefront.deployment.spec.template);
    for (svc, ports) in [
        (&woo(&o).database.service, &db_ports),
        (&woo(&o).storefront.service, &sf_ports),
    ] {
        for p in svc
            .spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .expect("ports")
        {
            let target = match p.target_port.expect("target") {
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s,
                other => panic!("numeric target port {other:?}"),
            };
            assert!(ports.contains(&target), "{target} not in {ports:?}");
        }
    }
    assert_eq!(
        woo(&o)
            .database
            .service
            .spec
            .as_ref()
            .and_then(|s| s.cluster_ip.clone())
            .as_deref(),
        Some("None")
    );
    assert_eq!(
        woo(&o).database.stateful_set.spec.service_name.as_deref(),
        Some(child::DATABASE)
    );
    let rules = ingress_of(&o)
        .spec
        .as_ref()
        .and_then(|s| s.rules.clone())
        .expect("rules");
    let backend = rules[0].http.as_ref().expect("http").paths[0]
        .backend
        .service
        .clone()
        .expect("service backend");
    assert_eq!(backend.name, child::STOREFRONT);
    let svc_port_names: Vec<String> = woo(&o)
        .storefront
        .service
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .expect("ports")
        .into_iter()
        .filter_map(|p| p.name)
        .collect();
    assert!(svc_port_names.contains(&backend.port.and_then(|p| p.name).expect("named port")));
}

#[test]
fn every_secret_and_config_reference_resolves() {
    let o = objects(&Store::test());
    let secrets: BTreeMap<String, Vec<String>> = o
        .secrets
        .iter()
        .map(|t| (t.name().to_string(), t.values.keys().cloned().collect()))
        .collect();
    let mut refs = 0;
    for (component, template) in pods(&o) {
        for var in container(&template).env.iter().flatten() {
            if let Some(r) = var
                .value_from
                .as_ref()
                .and_then(|v| v.secret_key_ref.as_ref())
            {
                refs += 1;
                let keys = secrets.get(&r.name).unwrap_or_else(|| {
                    panic!("{component}: {} names missing Secret {}", var.name, r.name)
                });
                assert!(
                    keys.contains(&r.key),
                    "{component}: {} names missing key {}/{}",
                    var.name,
                    r.name,
                    r.key
                );
            }
        }
        for volume in spec(&template).volumes.iter().flatten() {
            if let Some(cm) = &volume.config_map {
                assert_eq!(
                    cm.name,
                    woo(&o).setup.script.metadata.name.clone().expect("name")
                );
            }
            if let Some(pvc) = &volume.persistent_volume_claim {
                assert_eq!(
                    Some(&pvc.claim_name),
                    woo(&o).storefront.volume.metadata.name.as_ref()
                );
            }
        }
        let volumes: Vec<String> = spec(&template)
            .volumes
            .iter()
            .flatten()
            .map(|v| v.name.clone())
            .collect();
        let claims: Vec<String> = woo(&o)
            .database
            .stateful_set
            .spec
            .volume_claim_templates
            .iter()
            .flatten()
            .filter_map(|c| c.metadata.name.clone())
            .collect();
        for m in container(&template).volume_mounts.iter().flatten() {
            assert!(
                volumes.contains(&m.name) || claims.contains(&m.name),
                "{component}: mount {} has no volume",
                m.name
            );
        }
    }
    assert!(
        refs >= 20,
        "database, storefront and setup read their credentials from Secrets ({refs})"
    );
}

#[test]
fn pods_meet_the_restricted_pod_security_standard_and_have_probes() {
    for store in both_engines() {
        let o = objects(&store);
        let found: Vec<Component> = pods(&o).into_iter().map(|(c, _)| c).collect();
        assert!(found.len() >= 3, "{found:?}");
        restricted_with_probes(&o);
    }
    let o = objects(&Store::test());
    let sf = container(&woo(&o).storefront.deployment.spec.template);
    let readiness = sf
        .readiness_probe
        .as_ref()
        .and_then(|p| p.http_get.as_ref())
        .expect("http readiness");
    assert_eq!(
        readiness.path.as_deref(),
        Some("/wp-login.php"),
        "ready means PHP + database answer"
    );
    let db = container(&woo(&o).database.stateful_set.spec.template);
    let cmd = db
        .readiness_probe
        .as_ref()
        .and_then(|p| p.exec.as_ref())
        .and_then(|e| e.command.clone())
        .expect("exec");
    assert!(cmd.contains(&"--innodb_initialized".to_string()));
}

/// Every pod of `o` meets `restricted`; every long-running one has all three probes.
fn restricted_with_probes(o: &StoreObjects) {
    for (component, template) in pods(o) {
        let pod = spec(&template);
        let psc = pod.security_context.as_ref().expect("pod security context");
        assert_eq!(psc.run_as_non_root, Some(true), "{component}");
        assert!(psc.run_as_user.is_some_and(|u| u > 0), "{component}");
        assert_eq!(
            psc.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
            Some("RuntimeDefault"),
            "{component}"
        );
        for sysctl in psc.sysctls.iter().flatten() {
            assert_eq!(
                sysctl.name, "net.ipv4.ip_unprivileged_port_start",
                "only safe sysctls"
            );
        }
        assert_eq!(
            pod.automount_service_account_token,
            Some(false),
            "{component}"
        );
        let c = container(&template);
        let sc = c
            .security_context
            .as_ref()
            .expect("container security context");
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{component}");
        assert_eq!(
            sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
            Some(vec!["ALL".to_string()]),
            "{component}"
        );
        assert!(
            sc.capabilities.as_ref().is_some_and(|c| c.add.is_none()),
            "{component}"
        );
        assert!(sc.privileged.is_none_or(|p| !p), "{component}");
        if !matches!(component, Component::Setup | Component::Migration) {
            assert!(c.readiness_probe.is_some(), "{component} readiness");
            assert!(c.liveness_probe.is_some(), "{component} liveness");
            assert!(c.startup_probe.is_some(), "{component} startup");
        }
    }
}

fn q(s: &str) -> ParsedQuantity {
    ParsedQuantity::try_from(s).expect("valid quantity")
}

#[test]
fn resources_fit_the_limit_range_and_the_quota_for_every_plan() {
    for (plan, store) in [Plan::Small, Plan::Medium, Plan::Large]
        .into_iter()
        .flat_map(|plan| both_engines().map(|s| (plan, s.with_plan(plan))))
    {
        let o = objects(&store);
        let hard = o
            .quota
            .spec
            .as_ref()
            .and_then(|s| s.hard.clone())
            .expect("hard");
        let max = o.limit_range.spec.as_ref().expect("spec").limits[0]
            .max
            .clone()
            .expect("max");
        let mut sums: BTreeMap<String, ParsedQuantity> = BTreeMap::new();
        for (component, template) in pods(&o) {
            let r = container(&template).resources.clone().expect("resources");
            let (req, lim) = (r.requests.expect("requests"), r.limits.expect("limits"));
            for res in ["cpu", "memory", "ephemeral-storage"] {
                assert!(
                    q(&req[res].0) <= q(&lim[res].0),
                    "{plan:?} {component} {res}: request above limit"
                );
                assert!(
                    q(&lim[res].0) <= q(&max[res].0),
                    "{plan:?} {component} {res}: limit above LimitRange max"
                );
                *sums.entry(format!("requests.{res}")).or_default() += q(&req[res].0);
                *sums.entry(format!("limits.{res}")).or_default() += q(&lim[res].0);
            }
        }
        // Every emptyDir is bounded, within what one container may write.
        for (component, template) in pods(&o) {
            for volume in spec(&template).volumes.iter().flatten() {
                if let Some(dir) = &volume.empty_dir {
                    let limit = dir.size_limit.as_ref().unwrap_or_else(|| {
                        panic!("{plan:?} {component}: emptyDir {} unbounded", volume.name)
                    });
                    assert!(
                        q(&limit.0) <= q(&max["ephemeral-storage"].0),
                        "{plan:?} {component}: emptyDir {} above the LimitRange max",
                        volume.name
                    );
                }
            }
        }
        for key in ["requests.ephemeral-storage", "limits.ephemeral-storage"] {
            assert!(sums.contains_key(key), "{plan:?}: {key} summed");
        }
        for (key, sum) in sums {
            assert!(
                sum <= q(&hard[&key].0),
                "{plan:?}: pods need {sum} of {key}, quota is {}",
                hard[&key].0
            );
        }
        // Volumes: each under the PVC max, together under the storage quota.
        let pvc_max = o.limit_range.spec.as_ref().expect("spec").limits[1]
            .max
            .clone()
            .expect("max")["storage"]
            .clone();
        let claims: Vec<_> = o
            .children()
            .iter()
            .flat_map(|c| match c {
                Child::PersistentVolumeClaim(p) => vec![(*p).clone()],
                Child::StatefulSet(s) => s.spec.volume_claim_templates.clone().unwrap_or_default(),
                _ => Vec::new(),
            })
            .map(|claim| {
                claim
                    .spec
                    .and_then(|s| s.resources)
                    .and_then(|r| r.requests)
                    .expect("requests")["storage"]
                    .clone()
            })
            .collect();
        // Database and files, and for Medusa Redis's append-only file.
        let expected = if matches!(store.spec.engine, storefleet_types::Engine::Medusa) {
            3
        } else {
            2
        };
        assert_eq!(claims.len(), expected, "{plan:?}: the store's volumes");
        let mut total = ParsedQuantity::default();
        for claim in &claims {
            assert!(q(&claim.0) <= q(&pvc_max.0), "{plan:?}");
            total += q(&claim.0);
        }
        assert!(total <= q(&hard["requests.storage"].0), "{plan:?}");
        assert_eq!(hard["services.loadbalancers"].0, "0");
        assert_eq!(hard["services.nodeports"].0, "0");
    }
}

#[test]
fn network_policies_allow_exactly_the_named_flows() {
    let o = objects(&Store::test());
    let by_name = |n: &str| {
        o.policies()
            .find(|p| p.metadata.name.as_deref() == Some(n))
            .expect(n)
            .clone()
    };
    let all = pods(&o);
    let labels_of = |c: Component| pod_labels(&all.iter().find(|(x, _)| *x == c).expect("pod").1);
    let (db, sf, setup) = (
        labels_of(Component::Database),
        labels_of(Component::Storefront),
        labels_of(Component::Setup),
    );

    let deny = by_name(child::NETPOL_DEFAULT_DENY).spec.expect("spec");
    for l in [&db, &sf, &setup] {
        assert!(selects(deny.pod_selector.as_ref().expect("selector"), l));
    }
    assert_eq!(
        deny.policy_types,
        Some(vec!["Ingress".into(), "Egress".into()])
    );
    assert!(deny.ingress.is_none() && deny.egress.is_none());

    let ingress = by_name(child::NETPOL_INGRESS).spec.expect("spec");
    let sel = ingress.pod_selector.as_ref().expect("selector");
    assert!(selects(sel, &sf) && !selects(sel, &db) && !selects(sel, &setup));
    let from = &ingress.ingress.as_ref().expect("rules")[0];
    let ns_sel = from.from.as_ref().expect("from")[0]
        .namespace_selector
        .clone()
        .expect("namespace selector");
    assert_eq!(
        ns_sel.match_labels.expect("labels")["kubernetes.io/metadata.name"],
        "ingress-nginx"
    );
    assert_eq!(
        from.ports.as_ref().expect("ports")[0].port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(80))
    );

    let db_in = by_name(child::NETPOL_DATABASE_INGRESS).spec.expect("spec");
    assert!(selects(db_in.pod_selector.as_ref().expect("selector"), &db));
    assert!(!selects(
        db_in.pod_selector.as_ref().expect("selector"),
        &sf
    ));
    let peer = db_in.ingress.as_ref().expect("rules")[0]
        .from
        .as_ref()
        .expect("from")[0]
        .pod_selector
        .clone()
        .expect("pods");
    assert!(selects(&peer, &sf) && selects(&peer, &setup) && !selects(&peer, &db));

    let db_out = by_name(child::NETPOL_DATABASE_EGRESS).spec.expect("spec");
    let sel = db_out.pod_selector.as_ref().expect("selector");
    assert!(selects(sel, &sf) && selects(sel, &setup) && !selects(sel, &db));
    let peer = db_out.egress.as_ref().expect("rules")[0]
        .to
        .as_ref()
        .expect("to")[0]
        .pod_selector
        .clone()
        .expect("pods");
    assert!(selects(&peer, &db) && !selects(&peer, &sf));

    let net = by_name(child::NETPOL_INTERNET).spec.expect("spec");
    let sel = net.pod_selector.as_ref().expect("selector");
    assert!(
        selects(sel, &sf) && selects(sel, &setup) && !selects(sel, &db),
        "the database never reaches the internet"
    );
    let rule = &net.egress.as_ref().expect("rules")[0];
    let blocks: Vec<_> = rule
        .to
        .as_ref()
        .expect("to")
        .iter()
        .filter_map(|p| p.ip_block.clone())
        .collect();
    let v4 = blocks
        .iter()
        .find(|b| b.cidr == "0.0.0.0/0")
        .expect("ipv4 block");
    for private in [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
    ] {
        assert!(
            v4.except.iter().flatten().any(|e| e == private),
            "{private} excluded"
        );
    }
    let v6 = blocks
        .iter()
        .find(|b| b.cidr == "::/0")
        .expect("ipv6 block");
    assert!(
        v6.except.iter().flatten().all(|e| e.contains(':')),
        "only IPv6 ranges in the IPv6 block"
    );
    let ports: Vec<_> = rule
        .ports
        .iter()
        .flatten()
        .filter_map(|p| p.port.clone())
        .collect();
    assert_eq!(ports.len(), 2);

    let dns = by_name(child::NETPOL_DNS).spec.expect("spec");
    assert!(selects(dns.pod_selector.as_ref().expect("selector"), &db));
    assert!(
        dns.egress.as_ref().expect("rules")[0]
            .ports
            .iter()
            .flatten()
            .all(|p| p.port
                == Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(53)))
    );
    // The cluster's DNS pods, and NodeLocal DNSCache (host network, no pod to select).
    let peers = dns.egress.as_ref().expect("rules")[0]
        .to
        .clone()
        .expect("peers");
    assert!(peers.iter().any(|p| p.namespace_selector.is_some()));
    assert!(
        peers
            .iter()
            .filter_map(|p| p.ip_block.as_ref())
            .any(|b| b.cidr == "169.254.20.10/32"),
        "{peers:?}"
    );
}

#[test]
fn a_cluster_issuer_lets_the_acme_solver_be_reached() {
    let plain = objects(&Store::test());
    assert!(
        plain
            .policies()
            .all(|p| p.metadata.name.as_deref() != Some(child::NETPOL_ACME_SOLVER))
    );
    let issued = objects(&Store::test().with_cluster_issuer("letsencrypt"));
    let solver = issued
        .policies()
        .find(|p| p.metadata.name.as_deref() == Some(child::NETPOL_ACME_SOLVER))
        .expect("solver policy")
        .spec
        .clone()
        .expect("spec");
    let solver_pod = BTreeMap::from([(
        "acme.cert-manager.io/http01-solver".to_string(),
        "true".to_string(),
    )]);
    assert!(selects(
        solver.pod_selector.as_ref().expect("selector"),
        &solver_pod
    ));
    for (_, t) in pods(&issued) {
        assert!(
            !selects(
                solver.pod_selector.as_ref().expect("selector"),
                &pod_labels(&t)
            ),
            "only the solver"
        );
    }
    let rule = &solver.ingress.expect("rules")[0];
    assert_eq!(
        rule.ports.as_ref().expect("ports")[0].port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(8089))
    );
    let from = rule.from.as_ref().expect("from")[0]
        .namespace_selector
        .clone()
        .expect("namespaces");
    assert_eq!(
        from.match_labels.expect("labels")["kubernetes.io/metadata.name"],
        "ingress-nginx"
    );
    let tls_secret = objects(&Store::test().with_tls_secret("cert"));
    assert_eq!(
        tls_secret.policies().count(),
        6,
        "no solver without cert-manager"
    );
}

#[test]
fn secrets_are_templates_materialized_once() {
    let o = objects(&Store::test());
    let names: Vec<&str> = o.secrets.iter().map(|t| t.name()).collect();
    assert_eq!(
        names,
        [
            child::DATABASE_SECRET,
            child::ADMIN_SECRET,
            child::SALTS_SECRET
        ]
    );
    let admin = &o.secrets[1];
    assert_eq!(
        admin.values["email"],
        Value::Fixed("alice@example.com".into())
    );
    assert_eq!(admin.values["password"], Value::Generated(PASSWORD_LEN));

    let a = admin.materialize(&mut Csprng);
    let b = admin.materialize(&mut Csprng);
    let pw = |s: &k8s_openapi::api::core::v1::Secret| {
        s.string_data.as_ref().expect("data")["password"].clone()
    };
    assert_eq!(pw(&a).len(), PASSWORD_LEN);
    assert!(pw(&a).chars().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(
        pw(&a),
        pw(&b),
        "fresh randomness each time a Secret is created"
    );
    let p = admin.materialize(&mut Placeholder);
    assert_eq!(pw(&p), storefleet_operator::desired::secrets::PLACEHOLDER);
    // Building again yields equal templates: nothing random is ever part of the desired state.
    assert_eq!(objects(&Store::test()).secrets, o.secrets);
}

#[test]
fn setup_job_is_bounded_and_named_after_its_inputs() {
    let o = objects(&Store::test());
    let job = woo(&o).setup.job.clone();
    let spec = job.spec.as_ref().expect("spec");
    assert_eq!(spec.backoff_limit, Some(3));
    assert_eq!(spec.active_deadline_seconds, Some(1200));
    assert_eq!(
        spec.template
            .spec
            .as_ref()
            .expect("pod")
            .restart_policy
            .as_deref(),
        Some("Never")
    );
    let name = job.metadata.name.clone().expect("name");
    assert!(
        name.starts_with(child::SETUP_JOB_PREFIX)
            && name.len() == child::SETUP_JOB_PREFIX.len() + 8,
        "{name}"
    );

    let same = woo(&objects(&Store::test().with_plan(Plan::Medium)))
        .setup
        .job
        .metadata
        .name
        .clone();
    assert_eq!(
        same.as_deref(),
        Some(name.as_str()),
        "a plan change does not re-run the setup"
    );
    let changed_setup = SetupSpec {
        currency: Some("EUR".into()),
        ..SetupSpec::default()
    };
    let other = woo(&objects(&Store::test().with_setup(changed_setup)))
        .setup
        .job
        .metadata
        .name
        .clone();
    assert_ne!(
        other.as_deref(),
        Some(name.as_str()),
        "a setup change is a new Job"
    );
    let renamed = woo(&objects(&Store::test().with_display_name("Alice's Shop")))
        .setup
        .job
        .metadata
        .name
        .clone();
    assert_ne!(renamed.as_deref(), Some(name.as_str()));

    let env: BTreeMap<String, String> = container(&spec.template)
        .env
        .iter()
        .flatten()
        .filter_map(|e| e.value.clone().map(|v| (e.name.clone(), v)))
        .collect();
    assert_eq!(env["STORE_URL"], "http://alice.shop.local");
    assert_eq!(env["PAYMENT_METHODS"], "cod");
    assert_eq!(env["CURRENCY"], "USD");
    assert_eq!(env["SAMPLE_PRODUCTS"], "3");
    assert!(
        !env.contains_key("ADMIN_PASSWORD"),
        "passwords only by Secret reference"
    );
    let script = &woo(&o).setup.script.data.as_ref().expect("data")["setup.sh"];
    assert!(script.contains("wp plugin is-active woocommerce"));
}

#[test]
fn ingress_host_class_and_tls() {
    let plain = ingress_of(&objects(&Store::test()));
    let spec = plain.spec.clone().expect("spec");
    assert_eq!(
        spec.ingress_class_name, None,
        "no class assumed: the cluster's default IngressClass"
    );
    assert_eq!(
        spec.rules.expect("rules")[0].host.as_deref(),
        Some("alice.shop.local")
    );
    assert!(spec.tls.is_none());
    assert!(plain.metadata.annotations.is_none());

    let issued = ingress_of(&objects(
        &Store::test()
            .with_domain("shop.example.com")
            .with_cluster_issuer("letsencrypt"),
    ));
    let tls = issued.spec.clone().and_then(|s| s.tls).expect("tls");
    assert_eq!(tls[0].hosts, Some(vec!["shop.example.com".to_string()]));
    assert_eq!(tls[0].secret_name.as_deref(), Some("storefront-tls"));
    assert_eq!(
        issued.metadata.annotations.expect("annotations")["cert-manager.io/cluster-issuer"],
        "letsencrypt"
    );

    let own = ingress_of(&objects(
        &Store::test()
            .with_tls_secret("my-cert")
            .with_ingress(IngressSpec {
                class_name: Some("traefik".into()),
                annotations: BTreeMap::from([("a/b".to_string(), "c".to_string())]),
            }),
    ));
    let spec = own.spec.clone().expect("spec");
    assert_eq!(spec.ingress_class_name.as_deref(), Some("traefik"));
    assert_eq!(
        spec.tls.expect("tls")[0].secret_name.as_deref(),
        Some("my-cert")
    );
    let annotations = own.metadata.annotations.expect("annotations");
    assert_eq!(annotations["a/b"], "c");
    assert!(!annotations.contains_key("cert-manager.io/cluster-issuer"));
}

#[test]
fn storefront_and_database_volumes() {
    let o = objects(&Store::test().with_sizes("1Gi", "1500Mi"));
    let sf = woo(&o).storefront.volume.spec.clone().expect("spec");
    assert_eq!(sf.access_modes, Some(vec!["ReadWriteOnce".to_string()]));
    assert_eq!(
        sf.resources.and_then(|r| r.requests).expect("requests")["storage"].0,
        "1500Mi"
    );
    let claim = woo(&o)
        .database
        .stateful_set
        .spec
        .volume_claim_templates
        .clone()
        .expect("claims")[0]
        .clone();
    assert_eq!(
        claim
            .spec
            .and_then(|s| s.resources)
            .and_then(|r| r.requests)
            .expect("requests")["storage"]
            .0,
        "1Gi"
    );
    let strategy = woo(&o)
        .storefront
        .deployment
        .spec
        .strategy
        .clone()
        .and_then(|s| s.type_);
    assert_eq!(
        strategy.as_deref(),
        Some("Recreate"),
        "never two pods on a ReadWriteOnce volume"
    );
    let config = OperatorConfig {
        storage_class_name: Some("fast".into()),
        ..OperatorConfig::default()
    };
    let v = validate(&Store::test(), &config).expect("valid");
    assert_eq!(
        woo(&desired::build(&v))
            .storefront
            .volume
            .clone()
            .spec
            .and_then(|s| s.storage_class_name)
            .as_deref(),
        Some("fast")
    );
}

/// Behind a Gateway: one HTTPRoute (no Ingress) for the store's host to the storefront Service,
/// attached to the configured Gateway and listener; the storefront admits only the Gateway's
/// data plane.
#[test]
fn gateway_routing_builds_an_http_route_and_admits_the_data_plane() {
    let store = Store::test()
        .with_gateway(GatewaySpec::default())
        .with_tls(storefleet_types::TlsSpec::default());
    let o = desired::build(&validate(&store, &gateway_config()).expect("valid"));
    let kinds: Vec<_> = o
        .children()
        .iter()
        .filter(|c| matches!(c, Child::Ingress(_) | Child::HttpRoute(_)))
        .map(|c| matches!(c, Child::HttpRoute(_)))
        .collect();
    assert_eq!(kinds, [true], "exactly one route, an HTTPRoute");
    let RouteObject::HttpRoute(route) = &o.route else {
        panic!("an HTTPRoute");
    };
    assert_eq!(route.metadata.namespace.as_deref(), Some("store-alice"));
    assert_eq!(
        route.metadata.labels.as_ref().expect("labels")["storefleet.io/store"],
        "alice"
    );
    assert!(route.metadata.owner_references.is_some());
    let json = serde_json::to_value(route).expect("json");
    assert_eq!(json["apiVersion"], "gateway.networking.k8s.io/v1");
    assert_eq!(json["kind"], "HTTPRoute");
    assert_eq!(
        json["spec"]["parentRefs"],
        serde_json::json!([{"namespace": "gateways", "name": "shops", "sectionName": "https"}])
    );
    assert_eq!(
        json["spec"]["hostnames"],
        serde_json::json!(["alice.shop.local"])
    );
    assert_eq!(
        json["spec"]["rules"][0]["backendRefs"],
        serde_json::json!([{"name": child::STOREFRONT, "port": 80}])
    );
    // The Service the route names exists and serves that port.
    let port = woo(&o)
        .storefront
        .service
        .spec
        .as_ref()
        .expect("spec")
        .ports
        .as_ref()
        .expect("ports")[0]
        .port;
    assert_eq!(port, 80);

    let access = o
        .policies()
        .find(|p| p.metadata.name.as_deref() == Some(child::NETPOL_INGRESS))
        .expect("storefront access policy");
    let from = serde_json::to_value(access).expect("json")["spec"]["ingress"][0]["from"].clone();
    assert_eq!(
        from[0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "envoy-gateway-system"
    );
    assert!(
        !o.policies()
            .any(|p| p.metadata.name.as_deref() == Some(child::NETPOL_ACME_SOLVER)),
        "no HTTP-01 solver behind a Gateway"
    );
}

fn medusa(o: &StoreObjects) -> &storefleet_operator::desired::medusa::MedusaObjects {
    match &o.app {
        AppObjects::Medusa(m) => m,
        AppObjects::Woocommerce(_) => panic!("a Medusa store"),
    }
}

fn medusa_store() -> Store {
    Store::test()
        .with_name("bob")
        .with_engine(storefleet_types::Engine::Medusa)
}

#[test]
fn medusa_selectors_services_and_references_fit_together() {
    let o = objects(&medusa_store());
    let m = medusa(&o);
    let templates = pods(&o);
    // Each workload selects its own pods and no other.
    let selectors = [
        (Component::Database, &m.database.spec.selector),
        (Component::Cache, &m.cache.spec.selector),
        (Component::Storefront, &m.server.spec.selector),
        (Component::Worker, &m.worker.spec.selector),
    ];
    for (component, selector) in selectors {
        for (other, template) in &templates {
            assert_eq!(
                selects(selector, &pod_labels(template)),
                *other == component,
                "{component} selector vs {other} pod"
            );
        }
    }
    // Services point at named ports of the pods they select.
    for service in [&m.database_service, &m.cache_service, &m.service] {
        let spec = service.spec.as_ref().expect("spec");
        let selected: Vec<_> = templates
            .iter()
            .filter(|(_, t)| {
                spec.selector
                    .as_ref()
                    .is_some_and(|s| s.iter().all(|(k, v)| pod_labels(t).get(k) == Some(v)))
            })
            .collect();
        assert_eq!(selected.len(), 1, "{:?}", service.metadata.name);
        let names: Vec<String> = container(&selected[0].1)
            .ports
            .iter()
            .flatten()
            .filter_map(|p| p.name.clone())
            .collect();
        for port in spec.ports.iter().flatten() {
            let Some(IntOrString::String(target)) = &port.target_port else {
                panic!("named target port")
            };
            assert!(names.contains(target), "{target} in {names:?}");
        }
    }
    assert_eq!(
        m.service.metadata.name.as_deref(),
        Some(child::STOREFRONT),
        "the route's backend"
    );
    // Every Secret key a pod reads is one the operator generates, and every $(VAR) in an env
    // value or an argument is defined before it (Kubernetes expands only earlier variables).
    let generated: BTreeSet<(String, String)> = o
        .secrets
        .iter()
        .flat_map(|t| {
            t.values
                .keys()
                .map(|k| (t.name().to_string(), k.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    for (component, template) in &templates {
        let c = container(template);
        let mut defined: BTreeSet<String> = BTreeSet::new();
        let uses = |text: &str| -> Vec<String> {
            text.split("$(")
                .skip(1)
                .filter_map(|rest| rest.split(')').next().map(str::to_string))
                .collect()
        };
        for var in c.env.iter().flatten() {
            if let Some(r) = var
                .value_from
                .as_ref()
                .and_then(|f| f.secret_key_ref.as_ref())
            {
                assert!(
                    generated.contains(&(r.name.clone(), r.key.clone())),
                    "{component}: {}/{}",
                    r.name,
                    r.key
                );
            }
            for used in uses(var.value.as_deref().unwrap_or_default()) {
                assert!(
                    defined.contains(&used),
                    "{component}: $({used}) before it is defined"
                );
            }
            defined.insert(var.name.clone());
        }
        for arg in c.args.iter().flatten().chain(c.command.iter().flatten()) {
            for used in uses(arg) {
                assert!(
                    defined.contains(&used),
                    "{component}: $({used}) is not defined"
                );
            }
        }
    }
}

#[test]
fn medusa_network_policies_allow_exactly_its_flows() {
    let o = objects(&medusa_store());
    let names: BTreeSet<String> = o
        .policies()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    assert!(
        !names.contains(child::NETPOL_INTERNET),
        "no internet egress"
    );
    let by_name = |n: &str| {
        o.policies()
            .find(|p| p.metadata.name.as_deref() == Some(n))
            .and_then(|p| p.spec.clone())
            .unwrap_or_else(|| panic!("policy {n}"))
    };
    let ports =
        |rules: Vec<Option<Vec<k8s_openapi::api::networking::v1::NetworkPolicyPort>>>| -> Vec<i32> {
            rules
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|p| match p.port {
                    Some(IntOrString::Int(n)) => Some(n),
                    _ => None,
                })
                .collect()
        };
    let edge = by_name(child::NETPOL_INGRESS);
    assert_eq!(
        ports(
            edge.ingress
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.ports)
                .collect()
        ),
        vec![names::ports::MEDUSA_HTTP]
    );
    let db = by_name(child::NETPOL_DATABASE_INGRESS);
    assert_eq!(
        ports(
            db.ingress
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.ports)
                .collect()
        ),
        vec![names::ports::POSTGRES]
    );
    let cache = by_name(child::NETPOL_CACHE_INGRESS);
    assert_eq!(
        ports(
            cache
                .ingress
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.ports)
                .collect()
        ),
        vec![names::ports::REDIS]
    );
    let egress = by_name(child::NETPOL_DATABASE_EGRESS);
    assert_eq!(
        ports(
            egress
                .egress
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.ports)
                .collect()
        ),
        vec![names::ports::POSTGRES, names::ports::REDIS]
    );
    // Who may talk to the data services: the four Medusa roles, not the data services themselves.
    let clients = egress.pod_selector.clone().expect("selector");
    for (component, template) in pods(&o) {
        let expected = !matches!(component, Component::Database | Component::Cache);
        assert_eq!(
            selects(&clients, &pod_labels(&template)),
            expected,
            "{component}"
        );
        let admitted = db.ingress.clone().unwrap_or_default()[0]
            .from
            .clone()
            .unwrap_or_default()[0]
            .pod_selector
            .clone()
            .expect("pods");
        assert_eq!(
            selects(&admitted, &pod_labels(&template)),
            expected,
            "{component}"
        );
    }
    // Only the setup Job reaches the server from inside the namespace.
    let setup_out = by_name(child::NETPOL_SETUP_TO_STOREFRONT);
    let setup_in = by_name(child::NETPOL_STOREFRONT_FROM_SETUP);
    for (component, template) in pods(&o) {
        let labels = pod_labels(&template);
        let selector = setup_out.pod_selector.clone().expect("selector");
        assert_eq!(selects(&selector, &labels), component == Component::Setup);
        let target = setup_in.pod_selector.clone().expect("selector");
        assert_eq!(
            selects(&target, &labels),
            component == Component::Storefront
        );
    }
}

#[test]
fn medusa_jobs_are_named_after_their_inputs() {
    let o = objects(&medusa_store());
    let migration = medusa(&o).migration.metadata.name.clone().expect("name");
    let setup = medusa(&o).setup.metadata.name.clone().expect("name");
    assert!(migration.starts_with(child::MIGRATION_JOB_PREFIX));
    assert!(setup.starts_with(child::SETUP_JOB_PREFIX));
    let other_setup = objects(&medusa_store().with_setup(SetupSpec {
        currency: Some("EUR".into()),
        ..SetupSpec::default()
    }));
    assert_eq!(
        medusa(&other_setup).migration.metadata.name.as_deref(),
        Some(migration.as_str()),
        "a setup change does not migrate again"
    );
    assert_ne!(
        medusa(&other_setup).setup.metadata.name.as_deref(),
        Some(setup.as_str())
    );
    let mut upgraded = medusa_store();
    upgraded.spec.versions = Some(storefleet_types::VersionsSpec {
        medusa: Some("0.2.0".into()),
        ..Default::default()
    });
    let upgraded = objects(&upgraded);
    assert_ne!(
        medusa(&upgraded).migration.metadata.name.as_deref(),
        Some(migration.as_str()),
        "a new image migrates again"
    );
    // The migration comes before the server and the worker in apply order.
    let order: Vec<String> = upgraded
        .children()
        .iter()
        .filter(|c| matches!(c, Child::MigrationJob(_) | Child::Deployment(_)))
        .map(|c| c.metadata().name.clone().unwrap_or_default())
        .collect();
    assert!(
        order[0].starts_with(child::MIGRATION_JOB_PREFIX),
        "{order:?}"
    );
    assert_eq!(&order[1..], [child::STOREFRONT, child::WORKER]);
}

#[test]
fn waves_follow_the_apply_order_and_no_pod_runs_before_its_guards() {
    use storefleet_operator::desired::wave::Wave;
    for store in [Store::test(), medusa_store()] {
        let o = objects(&store);
        let children = o.children();
        let waves: Vec<Wave> = children.iter().map(|c| c.wave()).collect();
        assert!(
            waves.windows(2).all(|w| w[0] <= w[1]),
            "the documented order is a valid order of the waves: {waves:?}"
        );
        assert_eq!(waves.first(), Some(&Wave::Namespace));
        assert_eq!(waves.iter().filter(|w| **w == Wave::Namespace).count(), 1);
        // Everything that runs a pod comes after every guard: quota, limits, policies, Secrets.
        for child in &children {
            let runs_pods = matches!(
                child,
                Child::StatefulSet(_)
                    | Child::Deployment(_)
                    | Child::SetupJob(_)
                    | Child::MigrationJob(_)
            );
            assert_eq!(
                child.wave().runs_pods(),
                runs_pods,
                "{:?}",
                child.metadata().name
            );
            let guard = matches!(
                child,
                Child::ResourceQuota(_)
                    | Child::LimitRange(_)
                    | Child::NetworkPolicy(_)
                    | Child::GeneratedSecret(_)
            );
            if guard {
                assert!(!child.wave().runs_pods() && child.wave() > Wave::Namespace);
            }
        }
        // The databases before the migration, the migration before the Deployments.
        let wave_of = |pred: fn(&Child<'_>) -> bool| -> Vec<Wave> {
            children
                .iter()
                .filter(|c| pred(c))
                .map(|c| c.wave())
                .collect()
        };
        let data = wave_of(|c| matches!(c, Child::StatefulSet(_)));
        let deployments = wave_of(|c| matches!(c, Child::Deployment(_)));
        assert!(data.iter().all(|d| deployments.iter().all(|s| d < s)));
        for m in wave_of(|c| matches!(c, Child::MigrationJob(_))) {
            assert!(data.iter().all(|d| *d < m) && deployments.iter().all(|s| m < *s));
        }
        // The route and the edge policies come after the setup Job, in their own wave.
        let setup = wave_of(|c| matches!(c, Child::SetupJob(_)));
        let exposure = wave_of(|c| {
            matches!(
                c,
                Child::EdgePolicy(_) | Child::Ingress(_) | Child::HttpRoute(_)
            )
        });
        assert!(!exposure.is_empty());
        assert!(
            exposure
                .iter()
                .all(|e| *e == Wave::Exposure && setup.iter().all(|s| s < e))
        );
        assert_eq!(waves.last(), Some(&Wave::Exposure));
        // Claims after the quota and limit range that admit their size.
        let quota = wave_of(|c| matches!(c, Child::ResourceQuota(_) | Child::LimitRange(_)));
        let claims = wave_of(|c| matches!(c, Child::PersistentVolumeClaim(_)));
        assert!(!claims.is_empty());
        assert!(claims.iter().all(|c| quota.iter().all(|q| q < c)));
        assert_eq!(Wave::ALL.len(), 8);
    }
}

#[test]
fn medusa_redis_persists_and_is_bounded() {
    for plan in [Plan::Small, Plan::Large] {
        let o = objects(&medusa_store().with_plan(plan));
        let cache = &medusa(&o).cache;
        let args = container(&cache.spec.template).args.clone().expect("args");
        let after = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .cloned()
                .unwrap_or_else(|| panic!("{flag} in {args:?}"))
        };
        assert_eq!(after("--appendonly"), "yes");
        assert_eq!(after("--maxmemory-policy"), "noeviction");
        // Three quarters of the container's memory limit.
        let limit = container(&cache.spec.template)
            .resources
            .clone()
            .and_then(|r| r.limits)
            .expect("limits")["memory"]
            .clone();
        let limit = q(&limit.0).to_bytes_i128().expect("bytes");
        assert_eq!(
            after("--maxmemory"),
            (limit * 3 / 4).to_string(),
            "{plan:?}"
        );
        // On its own claim, mounted where Redis writes.
        let templates = cache.spec.volume_claim_templates.clone().expect("claim");
        assert_eq!(templates.len(), 1);
        let name = templates[0].metadata.name.clone().expect("name");
        assert!(
            container(&cache.spec.template)
                .volume_mounts
                .iter()
                .flatten()
                .any(|m| m.name == name && m.mount_path == after("--dir"))
        );
    }
}

#[test]
fn the_api_may_read_the_admin_login_of_each_store_and_nothing_else() {
    for store in both_engines() {
        let o = objects(&store);
        let access = o.api_access.as_ref().expect("configured");
        let rules = access.role.rules.clone().expect("rules");
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].api_groups.as_deref(), Some(&[String::new()][..]));
        assert_eq!(
            rules[0].resources.as_deref(),
            Some(&["secrets".to_string()][..])
        );
        assert_eq!(
            rules[0].resource_names.as_deref(),
            Some(&[child::ADMIN_SECRET.to_string()][..])
        );
        assert_eq!(rules[0].verbs, ["get"]);
        let subjects = access.binding.subjects.clone().expect("subjects");
        assert_eq!(subjects.len(), 1);
        assert_eq!(subjects[0].kind, "ServiceAccount");
        assert_eq!(subjects[0].name, "storefleet-api");
        assert_eq!(subjects[0].namespace.as_deref(), Some("storefleet-system"));
        assert_eq!(
            access.binding.role_ref.name,
            access.role.metadata.name.clone().expect("name")
        );
        // Before any pod runs.
        let kinds: Vec<storefleet_operator::desired::wave::Wave> = o
            .children()
            .iter()
            .filter(|c| matches!(c, Child::Role(_) | Child::RoleBinding(_)))
            .map(|c| c.wave())
            .collect();
        use storefleet_operator::desired::wave::Wave;
        assert_eq!(kinds, [Wave::Foundation, Wave::Foundation]);
    }
    // Without the API's ServiceAccount in the config, nobody is granted anything.
    let plain = storefleet_operator::desired::build(
        &storefleet_operator::validate::validate(&Store::test(), &OperatorConfig::default())
            .expect("valid"),
    );
    assert!(plain.api_access.is_none());
}
