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

mod drill;
mod hibernate;
mod medusa;
mod routing;
mod security;

fn q(s: &str) -> ParsedQuantity {
    ParsedQuantity::try_from(s).expect("valid quantity")
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

mod wiring;
