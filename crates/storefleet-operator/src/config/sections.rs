//! Configuration sections: controller tuning, routing (Ingress, Gateway API), network, images,
//! the setup Job.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

/// Controller tuning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ControllerConfig {
    /// How many Stores are reconciled at once.
    pub concurrency: u16,
}

/// Ingress defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct IngressConfig {
    /// IngressClass of store Ingresses; null leaves `ingressClassName` unset, so the cluster's
    /// default IngressClass serves them.
    pub class_name: Option<String>,
    /// Namespace of the ingress controller's pods: the only source allowed to reach a storefront.
    pub controller_namespace: String,
    /// cert-manager ClusterIssuer used by `tls: {}`; `tls: {}` is an error when null.
    pub default_cluster_issuer: Option<String>,
    /// IngressClasses a Store may choose besides `className` (an internal class is never
    /// reachable from a Store unless listed here).
    pub allowed_class_names: Vec<String>,
    /// ClusterIssuers a Store may name in `spec.tls.clusterIssuer` besides
    /// `defaultClusterIssuer` (an issuer meant for the platform's own hosts, or one that is not
    /// public, is never reachable from a Store unless listed here).
    pub allowed_cluster_issuers: Vec<String>,
    /// Ingress annotations a Store may set: exact keys, or `prefix*`. Anything else (snippets,
    /// server aliases, auth URLs, mirrors) is refused: it configures the shared controller.
    pub allowed_annotations: Vec<String>,
}

/// Ingress annotations a Store may set by default: per-shop limits that touch nothing shared.
pub const DEFAULT_ALLOWED_ANNOTATIONS: [&str; 8] = [
    "nginx.ingress.kubernetes.io/proxy-body-size",
    "nginx.ingress.kubernetes.io/proxy-read-timeout",
    "nginx.ingress.kubernetes.io/proxy-send-timeout",
    "nginx.ingress.kubernetes.io/proxy-connect-timeout",
    "nginx.ingress.kubernetes.io/limit-rps",
    "nginx.ingress.kubernetes.io/limit-rpm",
    "nginx.ingress.kubernetes.io/limit-connections",
    "nginx.ingress.kubernetes.io/ssl-redirect",
];

impl IngressConfig {
    /// Whether a Store may set the Ingress annotation `key`.
    pub fn allows_annotation(&self, key: &str) -> bool {
        self.allowed_annotations
            .iter()
            .any(|a| match a.strip_suffix('*') {
                Some(prefix) => key.starts_with(prefix),
                None => a == key,
            })
    }

    /// Whether a Store may name the ClusterIssuer `issuer`.
    pub fn allows_cluster_issuer(&self, issuer: &str) -> bool {
        self.default_cluster_issuer.as_deref() == Some(issuer)
            || self.allowed_cluster_issuers.iter().any(|c| c == issuer)
    }

    /// Whether a Store may choose the IngressClass `class`.
    pub fn allows_class(&self, class: &str) -> bool {
        self.class_name.as_deref() == Some(class)
            || self.allowed_class_names.iter().any(|c| c == class)
    }
}

/// How a store is routed when its spec names neither `ingress` nor `gateway`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RoutingMode {
    /// A `networking.k8s.io/v1` Ingress (the `ingress` section).
    #[default]
    Ingress,
    /// A Gateway API HTTPRoute attached to the `gateway` section's Gateway.
    Gateway,
}

/// A ServiceAccount, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccountRef {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

/// A Gateway, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayRef {
    /// Namespace of the Gateway.
    pub namespace: String,
    /// Name of the Gateway.
    pub name: String,
}

impl std::fmt::Display for GatewayRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Gateway API routing: the Gateway(s) the platform runs for stores. Its listeners must allow
/// HTTPRoutes from store namespaces (`allowedRoutes.namespaces`, e.g. a selector on the label
/// `app.kubernetes.io/managed-by: storefleet` that every store namespace carries); TLS is the
/// HTTPS listener's (a wildcard certificate, or cert-manager's Gateway support).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayConfig {
    /// The Gateway of `spec.gateway: {}` (and of every store under `routing: gateway`).
    pub default_gateway: GatewayRef,
    /// Other Gateways a Store may name in `spec.gateway`.
    #[serde(default)]
    pub allowed_gateways: Vec<GatewayRef>,
    /// Listener (sectionName) of plain-HTTP stores; every listener that allows the route when
    /// null.
    #[serde(default)]
    pub http_listener: Option<String>,
    /// Listener (sectionName) of stores with `spec.tls`; every listener when null.
    #[serde(default)]
    pub https_listener: Option<String>,
    /// Namespace of the Gateway's data-plane pods (Envoy Gateway: `envoy-gateway-system`): the
    /// only source allowed to reach a storefront.
    pub data_plane_namespace: String,
}

impl GatewayConfig {
    /// A Gateway `namespace/name` for every store, its data plane in `data_plane_namespace`, all
    /// listeners, no other Gateway offered.
    pub fn new(namespace: &str, name: &str, data_plane_namespace: &str) -> Self {
        Self {
            default_gateway: GatewayRef {
                namespace: namespace.into(),
                name: name.into(),
            },
            allowed_gateways: Vec::new(),
            http_listener: None,
            https_listener: None,
            data_plane_namespace: data_plane_namespace.into(),
        }
    }

    /// The Gateway a store asks for: the default when it names none, else one of the offered.
    pub fn resolve(&self, name: Option<&str>, namespace: Option<&str>) -> Option<GatewayRef> {
        let Some(name) = name else {
            return Some(self.default_gateway.clone());
        };
        let wanted = GatewayRef {
            namespace: namespace
                .unwrap_or(&self.default_gateway.namespace)
                .to_string(),
            name: name.to_string(),
        };
        (wanted == self.default_gateway || self.allowed_gateways.contains(&wanted))
            .then_some(wanted)
    }

    /// Every Gateway a store may use, default first.
    pub fn offered(&self) -> Vec<String> {
        std::iter::once(&self.default_gateway)
            .chain(&self.allowed_gateways)
            .map(ToString::to_string)
            .collect()
    }
}

/// Egress rules of store pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Destinations store pods may never reach on the internet-egress rule: private, link-local,
    /// loopback, carrier-grade NAT and the cluster's own pod and service ranges.
    pub blocked_egress_cidrs: Vec<IpNet>,
    /// Node-local DNS resolvers store pods may reach on port 53 besides the DNS pods of the
    /// cluster (a host-network cache is not a pod, so no pod selector matches it): NodeLocal
    /// DNSCache's link-local address by default.
    pub node_local_dns_cidrs: Vec<IpNet>,
}

/// One container image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Image {
    /// Repository, e.g. `docker.io/library/wordpress`.
    pub repository: String,
    /// Tag used when the Store's `spec.versions` names none.
    pub tag: String,
}

impl Image {
    fn new(repository: &str, tag: &str) -> Self {
        Self {
            repository: repository.into(),
            tag: tag.into(),
        }
    }

    /// `repository:tag`, with the Store's tag when it gives one.
    pub fn reference(&self, tag_override: Option<&str>) -> String {
        format!("{}:{}", self.repository, tag_override.unwrap_or(&self.tag))
    }
}

/// Container images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Images {
    /// Official WordPress image, apache variant.
    pub wordpress: Image,
    /// Official MariaDB image.
    pub mariadb: Image,
    /// Official WordPress image, WP-CLI variant (runs the setup Job).
    pub wp_cli: Image,
    /// Storefleet's Medusa v2 image (`medusa/`, built by `make images`): server, worker,
    /// migration and setup of `engine: medusa` stores. The chart points it at its own registry.
    pub medusa: Image,
    /// Official PostgreSQL image (Medusa's database).
    pub postgres: Image,
    /// Official Redis image (Medusa's cache, event bus, workflow engine and locking).
    pub redis: Image,
    /// Official restic image: backups, restores and their drills.
    pub restic: Image,
}

/// WordPress's scheduled work, run by each WooCommerce store's CronJob `cron`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CronConfig {
    /// When it runs (cron, five fields, UTC; `H` in the minute or hour field is a value of each
    /// store's own, so that a fleet's runs are spread: `H/5` is every 5 minutes from a minute
    /// below 5 that is the store's).
    pub schedule: String,
}

impl Default for CronConfig {
    fn default() -> Self {
        Self {
            schedule: "H/5 * * * *".into(),
        }
    }
}

/// The checkout probe, run by each store's CronJob `probe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ProbeConfig {
    /// When it runs (cron, five fields, UTC; `H` as in `cron.schedule`).
    pub schedule: String,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            schedule: "H/10 * * * *".into(),
        }
    }
}

/// The setup Job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SetupConfig {
    /// `activeDeadlineSeconds` of the Job.
    pub active_deadline_seconds: i64,
    /// `backoffLimit` of the Job.
    pub backoff_limit: i32,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self { concurrency: 8 }
    }
}

impl Default for IngressConfig {
    fn default() -> Self {
        Self {
            class_name: None,
            controller_namespace: "ingress-nginx".into(),
            default_cluster_issuer: None,
            allowed_class_names: Vec::new(),
            allowed_cluster_issuers: Vec::new(),
            allowed_annotations: DEFAULT_ALLOWED_ANNOTATIONS
                .iter()
                .map(|a| a.to_string())
                .collect(),
        }
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        let v4 = |a, b, c, d, len| IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len));
        let v6 = |addr: Ipv6Addr, len| IpNet::V6(Ipv6Net::new_assert(addr, len));
        Self {
            blocked_egress_cidrs: vec![
                v4(10, 0, 0, 0, 8),
                v4(172, 16, 0, 0, 12),
                v4(192, 168, 0, 0, 16),
                v4(169, 254, 0, 0, 16),
                v4(100, 64, 0, 0, 10),
                v4(127, 0, 0, 0, 8),
                v6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
                v6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
                v6(Ipv6Addr::LOCALHOST, 128),
            ],
            node_local_dns_cidrs: vec![v4(169, 254, 20, 10, 32)],
        }
    }
}

impl Default for Images {
    fn default() -> Self {
        Self {
            wordpress: Image::new("docker.io/library/wordpress", "6.8.3-php8.3-apache"),
            mariadb: Image::new("docker.io/library/mariadb", "11.4.8"),
            wp_cli: Image::new("docker.io/library/wordpress", "cli-2.12.0-php8.3"),
            medusa: Image::new("ghcr.io/storefleet/storefleet-medusa", "0.1.0"),
            postgres: Image::new("docker.io/library/postgres", "17.6"),
            redis: Image::new("docker.io/library/redis", "7.4.5"),
            restic: Image::new("docker.io/restic/restic", "0.18.0"),
        }
    }
}

impl Default for SetupConfig {
    fn default() -> Self {
        Self {
            active_deadline_seconds: 1200,
            backoff_limit: 3,
        }
    }
}
