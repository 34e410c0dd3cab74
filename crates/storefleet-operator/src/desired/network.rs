//! NetworkPolicies: deny everything, then allow exactly the flows a shop needs.
//!
//! WooCommerce:
//! ```text
//!  edge ns ──80──► storefront ──3306──► database      (edge: the ingress controller's or the
//!                                                      Gateway data plane's namespace)
//!                                setup ───────3306──┘
//!  every pod ──53──► DNS (any namespace)
//!  storefront, setup ──80/443──► internet, except private, link-local and cluster ranges
//!  edge ns ──8089──► cert-manager's HTTP-01 solver (stores with a ClusterIssuer)
//! ```
//!
//! With backups: backup, restore ──3306 (5432 for Medusa)──► database, ──the endpoint's port──►
//! the object store (`backup.egressCidrs`), nothing else.
//!
//! Medusa (no internet egress: the image holds everything, payments are manual):
//! ```text
//!  edge ns ──9000──► storefront (server) ◄──9000── setup
//!  storefront, worker, migration, setup ──5432──► database, ──6379──► cache
//!  every pod ──53──► DNS; edge ns ──8089──► the HTTP-01 solver, as above
//! ```

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use storefleet_types::names::{Component, child, labels as keys, ports};

use super::{child_meta, selector};
use crate::validate::{App, ResolvedBackup, Tls, ValidatedStore};
use ipnet::IpNet;

/// Label every namespace carries with its own name (set by the apiserver).
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

fn port(protocol: &str, number: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(protocol.into()),
        port: Some(IntOrString::Int(number)),
        end_port: None,
    }
}

/// Pods of the storefront and of the setup Job: the ones that talk to the database and the
/// internet.
fn web_pods(store: &ValidatedStore) -> LabelSelector {
    pods_of(
        store,
        match store.app {
            App::Woocommerce(_) => &[Component::Storefront, Component::Setup, Component::Cron],
            App::Medusa(_) => &[
                Component::Storefront,
                Component::Worker,
                Component::Migration,
                Component::Setup,
            ],
        },
    )
}

/// The store's pods of any of `components`.
fn pods_of(store: &ValidatedStore, components: &[Component]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(BTreeMap::from([(
            keys::STORE.to_string(),
            store.name.clone(),
        )])),
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: keys::COMPONENT.into(),
            operator: "In".into(),
            values: Some(components.iter().map(|c| c.as_str().into()).collect()),
        }]),
    }
}

fn policy(store: &ValidatedStore, name: &str, spec: NetworkPolicySpec) -> NetworkPolicy {
    NetworkPolicy {
        metadata: child_meta(store, name, Component::Isolation),
        spec: Some(spec),
    }
}

/// Label cert-manager puts on its HTTP-01 solver pods, and the port they listen on.
pub const ACME_SOLVER_LABEL: &str = "acme.cert-manager.io/http01-solver";
/// Port of cert-manager's HTTP-01 solver.
pub const ACME_SOLVER_PORT: i32 = 8089;

/// Builds every NetworkPolicy of the store that keeps it closed, default deny first: the
/// flows between its own pods, DNS and (WooCommerce) the internet. What opens it to the edge is
/// [`build_edge_policies`], applied only once the shop is set up.
pub fn build_network_policies(store: &ValidatedStore) -> Vec<NetworkPolicy> {
    let mut out = vec![
        build_default_deny(store),
        build_dns_egress(store),
        build_database_ingress(store),
        build_database_egress(store),
        build_probe_to_storefront(store),
        build_storefront_from_probe(store),
    ];
    match store.app {
        App::Woocommerce(_) => out.push(build_internet_egress(store)),
        App::Medusa(_) => out.extend([
            build_cache_ingress(store),
            build_setup_to_storefront(store),
            build_storefront_from_setup(store),
        ]),
    }
    out
}

/// The policies that let the edge (the ingress controller's or the Gateway data plane's
/// namespace) in: to the storefront, and to cert-manager's HTTP-01 solver. Like the route, they
/// are applied only after setup has installed the shop with our admin, so that nobody reaches
/// an installer before we do.
pub fn build_edge_policies(store: &ValidatedStore) -> Vec<NetworkPolicy> {
    let mut out = vec![build_ingress_controller_access(store)];
    if matches!(store.tls, Some(Tls::ClusterIssuer(_))) {
        out.push(build_acme_solver_access(store));
    }
    out
}

/// With a cert-manager ClusterIssuer, the HTTP-01 solver pod runs in the store's namespace and
/// the ingress controller must reach it, or the certificate is never issued.
pub fn build_acme_solver_access(store: &ValidatedStore) -> NetworkPolicy {
    policy(
        store,
        child::NETPOL_ACME_SOLVER,
        NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    ACME_SOLVER_LABEL.to_string(),
                    "true".to_string(),
                )])),
                match_expressions: None,
            }),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![ingress_controller_peer(store)]),
                ports: Some(vec![port("TCP", ACME_SOLVER_PORT)]),
            }]),
            ..NetworkPolicySpec::default()
        },
    )
}

fn ingress_controller_peer(store: &ValidatedStore) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                NAMESPACE_NAME_LABEL.to_string(),
                store.edge_namespace.clone(),
            )])),
            match_expressions: None,
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// Denies all ingress and egress of every pod in the namespace.
pub fn build_default_deny(store: &ValidatedStore) -> NetworkPolicy {
    policy(
        store,
        child::NETPOL_DEFAULT_DENY,
        NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ..NetworkPolicySpec::default()
        },
    )
}

/// Lets every pod resolve names: port 53 of pods in any namespace (CoreDNS lives in different
/// places) and of the node-local DNS caches (`network.nodeLocalDnsCidrs`, host-network: no pod).
pub fn build_dns_egress(store: &ValidatedStore) -> NetworkPolicy {
    let pods = NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector::default()),
        ..NetworkPolicyPeer::default()
    };
    let caches = store
        .node_local_dns_cidrs
        .iter()
        .map(|cidr| NetworkPolicyPeer {
            ip_block: Some(IPBlock {
                cidr: cidr.to_string(),
                except: None,
            }),
            ..NetworkPolicyPeer::default()
        });
    policy(
        store,
        child::NETPOL_DNS,
        NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Egress".into()]),
            egress: Some(vec![NetworkPolicyEgressRule {
                to: Some(std::iter::once(pods).chain(caches).collect()),
                ports: Some(vec![port("UDP", 53), port("TCP", 53)]),
            }]),
            ..NetworkPolicySpec::default()
        },
    )
}

/// Lets the edge namespace (ingress controller or Gateway data plane) reach the storefront's HTTP port.
pub fn build_ingress_controller_access(store: &ValidatedStore) -> NetworkPolicy {
    policy(
        store,
        child::NETPOL_INGRESS,
        NetworkPolicySpec {
            pod_selector: Some(selector(store, Component::Storefront)),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![ingress_controller_peer(store)]),
                ports: Some(vec![port("TCP", storefront_port(store))]),
            }]),
            ..NetworkPolicySpec::default()
        },
    )
}

/// Lets the application's pods (and, with backups, the backup and restore pods) into the
/// database on its port (the database's side).
pub fn build_database_ingress(store: &ValidatedStore) -> NetworkPolicy {
    let mut from = vec![NetworkPolicyPeer {
        pod_selector: Some(web_pods(store)),
        ..NetworkPolicyPeer::default()
    }];
    if store.backup.is_some() {
        from.push(NetworkPolicyPeer {
            pod_selector: Some(selector(store, Component::Backup)),
            ..NetworkPolicyPeer::default()
        });
    }
    policy(
        store,
        child::NETPOL_DATABASE_INGRESS,
        NetworkPolicySpec {
            pod_selector: Some(selector(store, Component::Database)),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(from),
                ports: Some(vec![port("TCP", database_port(store))]),
            }]),
            ..NetworkPolicySpec::default()
        },
    )
}

/// Lets the storefront and setup pods out to the database on 3306 (their side).
pub fn build_database_egress(store: &ValidatedStore) -> NetworkPolicy {
    policy(
        store,
        child::NETPOL_DATABASE_EGRESS,
        NetworkPolicySpec {
            pod_selector: Some(web_pods(store)),
            policy_types: Some(vec!["Egress".into()]),
            egress: Some(data_egress(store)),
            ..NetworkPolicySpec::default()
        },
    )
}

/// Lets the storefront and setup pods download plugins and themes: HTTP(S) to the internet,
/// never to private, link-local or cluster ranges.
pub fn build_internet_egress(store: &ValidatedStore) -> NetworkPolicy {
    let (v4, v6): (Vec<IpNet>, Vec<IpNet>) = store
        .blocked_egress_cidrs
        .iter()
        .map(IpNet::trunc)
        .partition(|net| matches!(net, IpNet::V4(_)));
    let block = |cidr: &str, except: Vec<IpNet>| NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: cidr.into(),
            except: Some(except.iter().map(ToString::to_string).collect())
                .filter(|e: &Vec<String>| !e.is_empty()),
        }),
        ..NetworkPolicyPeer::default()
    };
    policy(
        store,
        child::NETPOL_INTERNET,
        NetworkPolicySpec {
            pod_selector: Some(web_pods(store)),
            policy_types: Some(vec!["Egress".into()]),
            egress: Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![block("0.0.0.0/0", v4), block("::/0", v6)]),
                ports: Some(vec![port("TCP", 80), port("TCP", 443)]),
            }]),
            ..NetworkPolicySpec::default()
        },
    )
}

/// The backup and restore pods' way out: the database, and the object store on its port (DNS
/// as every pod). Nothing else, the internet included.
pub fn build_backup_policy(store: &ValidatedStore, backup: &ResolvedBackup) -> NetworkPolicy {
    NetworkPolicy {
        metadata: child_meta(store, child::BACKUP, Component::Backup),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(store, Component::Backup)),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(Vec::new()),
            egress: Some(vec![
                egress_to(store, Component::Database, database_port(store)),
                object_store_egress(backup),
            ]),
        }),
    }
}

/// Out to the object store (`backup.egressCidrs`) on its port: backup, restore and drill pods.
pub fn object_store_egress(backup: &ResolvedBackup) -> NetworkPolicyEgressRule {
    NetworkPolicyEgressRule {
        to: Some(
            backup
                .egress_cidrs
                .iter()
                .map(|cidr| NetworkPolicyPeer {
                    ip_block: Some(IPBlock {
                        cidr: cidr.trunc().to_string(),
                        except: None,
                    }),
                    ..NetworkPolicyPeer::default()
                })
                .collect(),
        ),
        ports: Some(vec![port("TCP", i32::from(backup.port))]),
    }
}

/// The port the storefront pods serve on.
fn storefront_port(store: &ValidatedStore) -> i32 {
    match store.app {
        App::Woocommerce(_) => ports::STOREFRONT_HTTP,
        App::Medusa(_) => ports::MEDUSA_HTTP,
    }
}

/// The database's port: MariaDB's or PostgreSQL's.
fn database_port(store: &ValidatedStore) -> i32 {
    match store.app {
        App::Woocommerce(_) => ports::DATABASE,
        App::Medusa(_) => ports::POSTGRES,
    }
}

fn egress_to(store: &ValidatedStore, component: Component, number: i32) -> NetworkPolicyEgressRule {
    NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            pod_selector: Some(selector(store, component)),
            ..NetworkPolicyPeer::default()
        }]),
        ports: Some(vec![port("TCP", number)]),
    }
}

/// The application's pods reach the database (and Redis, for Medusa).
fn data_egress(store: &ValidatedStore) -> Vec<NetworkPolicyEgressRule> {
    let mut rules = vec![egress_to(store, Component::Database, database_port(store))];
    if let App::Medusa(_) = store.app {
        rules.push(egress_to(store, Component::Cache, ports::REDIS));
    }
    rules
}

/// Medusa: Redis admits the server, worker, migration and setup pods.
pub fn build_cache_ingress(store: &ValidatedStore) -> NetworkPolicy {
    policy(
        store,
        child::NETPOL_CACHE_INGRESS,
        NetworkPolicySpec {
            pod_selector: Some(selector(store, Component::Cache)),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(web_pods(store)),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: Some(vec![port("TCP", ports::REDIS)]),
            }]),
            ..NetworkPolicySpec::default()
        },
    )
}

/// The checkout probe reaches the storefront (and nothing else but DNS).
pub fn build_probe_to_storefront(store: &ValidatedStore) -> NetworkPolicy {
    policy(
        store,
        child::NETPOL_PROBE_TO_STOREFRONT,
        NetworkPolicySpec {
            pod_selector: Some(selector(store, Component::Probe)),
            policy_types: Some(vec!["Egress".into()]),
            egress: Some(vec![egress_to(
                store,
                Component::Storefront,
                storefront_port(store),
            )]),
            ..NetworkPolicySpec::default()
        },
    )
}

/// The storefront admits the checkout probe.
pub fn build_storefront_from_probe(store: &ValidatedStore) -> NetworkPolicy {
    policy(
        store,
        child::NETPOL_STOREFRONT_FROM_PROBE,
        NetworkPolicySpec {
            pod_selector: Some(selector(store, Component::Storefront)),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(selector(store, Component::Probe)),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: Some(vec![port("TCP", storefront_port(store))]),
            }]),
            ..NetworkPolicySpec::default()
        },
    )
}

/// Medusa: the setup Job reaches the server (the test order goes through the Store API).
pub fn build_setup_to_storefront(store: &ValidatedStore) -> NetworkPolicy {
    policy(
        store,
        child::NETPOL_SETUP_TO_STOREFRONT,
        NetworkPolicySpec {
            pod_selector: Some(selector(store, Component::Setup)),
            policy_types: Some(vec!["Egress".into()]),
            egress: Some(vec![egress_to(
                store,
                Component::Storefront,
                ports::MEDUSA_HTTP,
            )]),
            ..NetworkPolicySpec::default()
        },
    )
}

/// Medusa: the server admits the setup Job.
pub fn build_storefront_from_setup(store: &ValidatedStore) -> NetworkPolicy {
    policy(
        store,
        child::NETPOL_STOREFRONT_FROM_SETUP,
        NetworkPolicySpec {
            pod_selector: Some(selector(store, Component::Storefront)),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(selector(store, Component::Setup)),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: Some(vec![port("TCP", ports::MEDUSA_HTTP)]),
            }]),
            ..NetworkPolicySpec::default()
        },
    )
}
