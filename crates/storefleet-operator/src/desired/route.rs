//! The storefront's route from outside: an Ingress, or a Gateway API HTTPRoute attached to a
//! Gateway the platform runs. Same host rules either way; TLS from cert-manager or a Secret on
//! an Ingress, from the Gateway's HTTPS listener behind a Gateway.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use storefleet_types::names::{Component, child, ports};

use super::child_meta;
use crate::config::GatewayRef;
use crate::gateway_api::{
    HTTPRoute, HttpBackendRef, HttpPathMatch, HttpRouteMatch, HttpRouteRule, HttpRouteSpec,
    ParentReference,
};
use crate::validate::{Route, Tls, ValidatedStore};

/// Secret cert-manager writes the certificate to when TLS comes from a ClusterIssuer.
pub const TLS_SECRET: &str = "storefront-tls";
/// Annotation cert-manager's ingress-shim reads.
pub const CERT_MANAGER_ISSUER_ANNOTATION: &str = "cert-manager.io/cluster-issuer";

/// The store's route: exactly one of the two kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteObject {
    /// `networking.k8s.io/v1` Ingress.
    Ingress(Ingress),
    /// `gateway.networking.k8s.io/v1` HTTPRoute.
    HttpRoute(HTTPRoute),
}

/// Builds the route the validated store asks for.
pub fn build_route(store: &ValidatedStore) -> RouteObject {
    match &store.route {
        Route::Ingress { class, annotations } => RouteObject::Ingress(build_storefront_ingress(
            store,
            class.as_deref(),
            annotations,
        )),
        Route::Gateway { gateway, listener } => RouteObject::HttpRoute(
            build_storefront_http_route(store, gateway, listener.as_deref()),
        ),
    }
}

/// The HTTPRoute: the store's host, every path, to the storefront Service, attached to the
/// store's Gateway (and listener, when the operator names one).
pub fn build_storefront_http_route(
    store: &ValidatedStore,
    gateway: &GatewayRef,
    listener: Option<&str>,
) -> HTTPRoute {
    HTTPRoute {
        metadata: child_meta(store, child::STOREFRONT, Component::Storefront),
        spec: HttpRouteSpec {
            parent_refs: vec![ParentReference {
                group: None,
                kind: None,
                namespace: Some(gateway.namespace.clone()),
                name: gateway.name.clone(),
                section_name: listener.map(str::to_string),
            }],
            hostnames: vec![store.host.clone()],
            rules: vec![HttpRouteRule {
                matches: vec![HttpRouteMatch {
                    path: Some(HttpPathMatch {
                        type_: Some("PathPrefix".into()),
                        value: Some("/".into()),
                    }),
                }],
                backend_refs: vec![HttpBackendRef {
                    name: child::STOREFRONT.into(),
                    port: Some(ports::STOREFRONT_HTTP),
                }],
            }],
        },
        status: None,
    }
}

/// The Ingress: the store's host to the storefront Service, with TLS from cert-manager or an
/// existing Secret.
pub fn build_storefront_ingress(
    store: &ValidatedStore,
    class: Option<&str>,
    annotations: &BTreeMap<String, String>,
) -> Ingress {
    let mut metadata = child_meta(store, child::STOREFRONT, Component::Storefront);
    let mut annotations = annotations.clone();
    let tls_secret = match &store.tls {
        None => None,
        Some(Tls::ClusterIssuer(issuer)) => {
            annotations.insert(CERT_MANAGER_ISSUER_ANNOTATION.into(), issuer.clone());
            Some(TLS_SECRET.to_string())
        }
        Some(Tls::Secret(secret)) => Some(secret.clone()),
        // Validation keeps this to Gateway routes; an Ingress names no certificate then.
        Some(Tls::Gateway) => None,
    };
    if !annotations.is_empty() {
        metadata.annotations = Some(annotations);
    }
    Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: class.map(str::to_string),
            rules: Some(vec![IngressRule {
                host: Some(store.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: child::STOREFRONT.into(),
                                port: Some(ServiceBackendPort {
                                    name: Some(ports::HTTP_NAME.into()),
                                    number: None,
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            tls: tls_secret.map(|secret| {
                vec![IngressTLS {
                    hosts: Some(vec![store.host.clone()]),
                    secret_name: Some(secret),
                }]
            }),
            default_backend: None,
        }),
        status: None,
    }
}
