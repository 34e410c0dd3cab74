//! Hosts routed in the cluster: every Ingress and (with Gateway routing) every HTTPRoute,
//! whoever made it, kept as host names and a creation time only. A store may not take a host
//! that something else already routes: ingress controllers and Gateways give a contested host
//! to the oldest route, so a foreign route older than the store's own (or any, while the store
//! has none) would serve the shop's visitors.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use futures::StreamExt;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::watch;

use crate::gateway_api::HTTPRoute;

/// One route: its kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteKey {
    /// `Ingress` or `HTTPRoute`.
    pub kind: &'static str,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl std::fmt::Display for RouteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// What a route claims: exact host names (wildcards and host-less rules take no one's host:
/// an exact host wins over them) and when it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Exact host names.
    pub hosts: Vec<String>,
    /// `metadata.creationTimestamp`.
    pub created: Option<Time>,
}

/// The hosts an Ingress routes.
pub fn ingress_claim(ingress: &Ingress) -> Claim {
    let hosts = ingress
        .spec
        .iter()
        .flat_map(|s| s.rules.iter().flatten())
        .filter_map(|r| r.host.clone());
    claim(hosts, ingress.meta().creation_timestamp.clone())
}

/// The hosts an HTTPRoute routes.
pub fn http_route_claim(route: &HTTPRoute) -> Claim {
    claim(
        route.spec.hostnames.iter().cloned(),
        route.meta().creation_timestamp.clone(),
    )
}

fn claim(hosts: impl Iterator<Item = String>, created: Option<Time>) -> Claim {
    let mut hosts: Vec<String> = hosts
        .filter(|h| !h.is_empty() && !h.starts_with('*'))
        .map(|h| h.to_ascii_lowercase())
        .collect();
    hosts.sort();
    hosts.dedup();
    Claim { hosts, created }
}

/// Every route's claim, and which kinds have been listed once.
#[derive(Debug, Default)]
struct Index {
    routes: HashMap<RouteKey, Claim>,
    /// Per kind being (re)listed, the routes the list has shown so far.
    relisting: HashMap<&'static str, HashSet<RouteKey>>,
}

/// The routed hosts of the cluster, kept up to date by [`RoutedHosts::watch`].
#[derive(Debug)]
pub struct RoutedHosts {
    index: Mutex<Index>,
    /// How many kinds are watched, and how many have been listed once.
    listed: watch::Sender<(usize, HashSet<&'static str>)>,
}

impl Default for RoutedHosts {
    fn default() -> Self {
        Self::new(0)
    }
}

impl RoutedHosts {
    /// An empty index that is complete once `kinds` kinds have been listed.
    pub fn new(kinds: usize) -> Self {
        Self {
            index: Mutex::default(),
            listed: watch::channel((kinds, HashSet::new())).0,
        }
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records one watch event of a route of `kind`.
    pub fn event(&self, kind: &'static str, event: watcher::Event<(RouteKey, Claim)>) {
        let mut index = self.index();
        match event {
            watcher::Event::Init => {
                index.relisting.insert(kind, HashSet::new());
            }
            watcher::Event::InitApply((key, claim)) => {
                if let Some(seen) = index.relisting.get_mut(kind) {
                    seen.insert(key.clone());
                }
                index.routes.insert(key, claim);
            }
            watcher::Event::InitDone => {
                let seen = index.relisting.remove(kind).unwrap_or_default();
                index
                    .routes
                    .retain(|key, _| key.kind != kind || seen.contains(key));
                drop(index);
                self.listed.send_modify(|(_, listed)| {
                    listed.insert(kind);
                });
            }
            watcher::Event::Apply((key, claim)) => {
                index.routes.insert(key, claim);
            }
            watcher::Event::Delete((key, _)) => {
                index.routes.remove(&key);
            }
        }
    }

    /// Waits until every watched kind has been listed once.
    pub async fn listed(&self) {
        let mut rx = self.listed.subscribe();
        // The sender lives in self, so the channel cannot close while we wait.
        let _ = rx.wait_for(|(kinds, listed)| listed.len() >= *kinds).await;
    }

    /// The route outside `namespace` that holds `host` before the store whose namespace it is:
    /// the oldest foreign route that is older than the store's own oldest route for the host
    /// (ties broken by kind, namespace and name, as Gateway API does), or any foreign route
    /// while the store routes the host nowhere.
    pub fn holder(&self, host: &str, namespace: &str) -> Option<RouteKey> {
        let index = self.index();
        let order =
            |(key, claim): (&RouteKey, &Claim)| (claim.created.as_ref().map(|t| t.0), key.clone());
        let routing = || {
            index
                .routes
                .iter()
                .filter(|(_, claim)| claim.hosts.iter().any(|h| h == host))
        };
        let own = routing()
            .filter(|(key, _)| key.namespace == namespace)
            .map(order)
            .min();
        let foreign = routing()
            .filter(|(key, _)| key.namespace != namespace)
            .map(order)
            .min()?;
        match own {
            Some(own) if own < foreign => None,
            _ => Some(foreign.1),
        }
    }

    /// Watches every Ingress, and every HTTPRoute when `gateway_api`, into this index until the
    /// returned task is aborted. Errors are logged and retried with backoff.
    pub fn watch(self: &std::sync::Arc<Self>, client: &Client, gateway_api: bool) -> Watches {
        let mut tasks = vec![spawn(
            self.clone(),
            "Ingress",
            Api::<Ingress>::all(client.clone()),
            ingress_claim,
        )];
        if gateway_api {
            tasks.push(spawn(
                self.clone(),
                "HTTPRoute",
                Api::<HTTPRoute>::all(client.clone()),
                http_route_claim,
            ));
        }
        Watches(tasks)
    }
}

/// The running route watches; dropping them stops them.
#[derive(Debug)]
pub struct Watches(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Watches {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

fn spawn<K>(
    hosts: std::sync::Arc<RoutedHosts>,
    kind: &'static str,
    api: Api<K>,
    claim_of: fn(&K) -> Claim,
) -> tokio::task::JoinHandle<()>
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let keyed = move |o: K| {
        let key = RouteKey {
            kind,
            namespace: o.namespace().unwrap_or_default(),
            name: o.name_any(),
        };
        (key, claim_of(&o))
    };
    tokio::spawn(async move {
        let mut events = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => hosts.event(kind, map_event(event, keyed)),
                Err(e) => tracing::warn!(kind, error = %e, "watching routes of the cluster"),
            }
        }
    })
}

fn map_event<K, T>(event: watcher::Event<K>, f: impl Fn(K) -> T) -> watcher::Event<T> {
    match event {
        watcher::Event::Apply(o) => watcher::Event::Apply(f(o)),
        watcher::Event::Delete(o) => watcher::Event::Delete(f(o)),
        watcher::Event::InitApply(o) => watcher::Event::InitApply(f(o)),
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitDone => watcher::Event::InitDone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Option<Time> {
        Timestamp::from_second(secs).ok().map(Time)
    }

    fn key(kind: &'static str, namespace: &str, name: &str) -> RouteKey {
        RouteKey {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    fn route(hosts: &[&str], created: i64) -> Claim {
        claim(hosts.iter().map(|h| h.to_string()), at(created))
    }

    #[test]
    fn the_oldest_route_holds_a_host() {
        let index = RoutedHosts::default();
        let foreign = key("Ingress", "web", "landing");
        index.event(
            "Ingress",
            watcher::Event::Apply((foreign.clone(), route(&["alice.shop.local"], 20))),
        );
        // The store routes the host nowhere yet: any foreign route holds it.
        assert_eq!(
            index.holder("alice.shop.local", "store-alice"),
            Some(foreign.clone())
        );
        assert_eq!(index.holder("bob.shop.local", "store-bob"), None);
        // The store's own route is older: it keeps the host; newer: it loses it.
        let own = key("Ingress", "store-alice", "storefront");
        index.event(
            "Ingress",
            watcher::Event::Apply((own.clone(), route(&["alice.shop.local"], 10))),
        );
        assert_eq!(index.holder("alice.shop.local", "store-alice"), None);
        index.event(
            "Ingress",
            watcher::Event::Apply((own, route(&["alice.shop.local"], 30))),
        );
        assert_eq!(
            index.holder("alice.shop.local", "store-alice"),
            Some(foreign.clone())
        );
        index.event("Ingress", watcher::Event::Delete((foreign, route(&[], 0))));
        assert_eq!(index.holder("alice.shop.local", "store-alice"), None);
    }

    #[test]
    fn wildcards_and_host_less_rules_hold_nothing() {
        let index = RoutedHosts::default();
        index.event(
            "HTTPRoute",
            watcher::Event::Apply((
                key("HTTPRoute", "web", "catch-all"),
                route(&["*.shop.local", ""], 1),
            )),
        );
        assert_eq!(index.holder("alice.shop.local", "store-alice"), None);
        // Host names compare without case.
        index.event(
            "HTTPRoute",
            watcher::Event::Apply((
                key("HTTPRoute", "web", "upper"),
                route(&["Alice.Shop.Local"], 1),
            )),
        );
        assert!(index.holder("alice.shop.local", "store-alice").is_some());
    }

    #[tokio::test]
    async fn a_relist_forgets_what_it_no_longer_shows_and_marks_the_kind_listed() {
        let index = RoutedHosts::new(1);
        let gone = key("Ingress", "web", "gone");
        let kept = key("Ingress", "web", "kept");
        index.event(
            "Ingress",
            watcher::Event::Apply((gone, route(&["a.shop.local"], 1))),
        );
        index.event("Ingress", watcher::Event::Init);
        index.event(
            "Ingress",
            watcher::Event::InitApply((kept.clone(), route(&["b.shop.local"], 1))),
        );
        index.event("Ingress", watcher::Event::InitDone);
        tokio::time::timeout(std::time::Duration::from_secs(5), index.listed())
            .await
            .expect("listed");
        assert_eq!(index.holder("a.shop.local", "store-a"), None);
        assert_eq!(index.holder("b.shop.local", "store-b"), Some(kept));
    }
}
