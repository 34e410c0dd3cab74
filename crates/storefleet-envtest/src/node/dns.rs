//! The cluster's DNS for the node's pods (no CoreDNS image can be had here): A records for
//! `<service>.<namespace>.svc.cluster.local` (the ClusterIP; for a headless Service the ready
//! endpoints) and `<hostname>.<service>.<namespace>.svc.cluster.local` (a StatefulSet's pods),
//! from watches of Services and EndpointSlices. Every other name is NXDOMAIN: nothing is
//! forwarded, so no pod resolves a name outside the cluster.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, PoisonError, RwLock};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::net::UdpSocket;

use super::files::CLUSTER_DOMAIN;

type Records = Arc<RwLock<HashMap<String, Vec<Ipv4Addr>>>>;

const TYPE_A: u16 = 1;
const RCODE_NXDOMAIN: u8 = 3;
const RCODE_FORMERR: u8 = 1;

/// The question of a query: its name (lower case, without the final dot), type and where the
/// question section ends.
fn question(query: &[u8]) -> Option<(String, u16, usize)> {
    if query.len() < 12 || u16::from_be_bytes([query[4], query[5]]) != 1 {
        return None;
    }
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None; // compression pointers do not occur in a question
        }
        labels.push(
            std::str::from_utf8(query.get(at..at + len)?)
                .ok()?
                .to_ascii_lowercase(),
        );
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    Some((labels.join("."), qtype, at + 4))
}

/// The answer to `query`: the addresses of its name for type A, an empty answer for other types
/// of a known name, NXDOMAIN for an unknown one. None for what is not a query.
pub fn answer(query: &[u8], lookup: impl Fn(&str) -> Option<Vec<Ipv4Addr>>) -> Option<Vec<u8>> {
    if query.len() < 12 || query[2] & 0x80 != 0 {
        return None;
    }
    let mut reply = Vec::with_capacity(512);
    reply.extend_from_slice(&query[..2]);
    // QR, the query's opcode and RD; RA.
    let flags_high = 0x80 | (query[2] & 0x79);
    let Some((name, qtype, end)) = question(query) else {
        reply.extend_from_slice(&[flags_high, 0x80 | RCODE_FORMERR, 0, 0, 0, 0, 0, 0, 0, 0]);
        return Some(reply);
    };
    let found = lookup(&name);
    let addresses = match (&found, qtype) {
        (Some(a), TYPE_A) => a.clone(),
        _ => Vec::new(),
    };
    let rcode = if found.is_some() { 0 } else { RCODE_NXDOMAIN };
    let count = u16::try_from(addresses.len()).unwrap_or(u16::MAX);
    reply.push(flags_high);
    reply.push(0x80 | rcode);
    reply.extend_from_slice(&1u16.to_be_bytes());
    reply.extend_from_slice(&count.to_be_bytes());
    reply.extend_from_slice(&[0, 0, 0, 0]);
    reply.extend_from_slice(&query[12..end]);
    for address in addresses.iter().take(usize::from(count)) {
        // The name by pointer to the question, A, IN, a TTL of 5 s, four bytes.
        reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4]);
        reply.extend_from_slice(&address.octets());
    }
    Some(reply)
}

/// The records of the cluster now.
pub fn records(
    services: &[Arc<Service>],
    slices: &[Arc<EndpointSlice>],
) -> HashMap<String, Vec<Ipv4Addr>> {
    let mut out: HashMap<String, Vec<Ipv4Addr>> = HashMap::new();
    let fqdn =
        |service: &str, namespace: &str| format!("{service}.{namespace}.svc.{CLUSTER_DOMAIN}");
    let mut headless = Vec::new();
    for svc in services {
        let (Some(ns), Some(spec)) = (svc.namespace(), svc.spec.as_ref()) else {
            continue;
        };
        match spec.cluster_ip.as_deref() {
            Some("None") => headless.push((svc.name_any(), ns)),
            Some(ip) => {
                if let Ok(ip) = ip.parse() {
                    out.insert(fqdn(&svc.name_any(), &ns), vec![ip]);
                }
            }
            None => {}
        }
    }
    for (service, ns) in headless {
        let mut ready = Vec::new();
        for slice in slices.iter().filter(|s| {
            s.namespace().as_deref() == Some(ns.as_str())
                && s.labels().get("kubernetes.io/service-name") == Some(&service)
        }) {
            for endpoint in slice.endpoints.iter().flatten() {
                let is_ready = endpoint
                    .conditions
                    .as_ref()
                    .and_then(|c| c.ready)
                    .unwrap_or(true);
                let Some(ip) = endpoint.addresses.first().and_then(|a| a.parse().ok()) else {
                    continue;
                };
                if let Some(host) = &endpoint.hostname {
                    out.insert(format!("{host}.{}", fqdn(&service, &ns)), vec![ip]);
                }
                if is_ready {
                    ready.push(ip);
                }
            }
        }
        ready.sort();
        out.insert(fqdn(&service, &ns), ready);
    }
    out
}

/// Serves DNS on `socket` from watches of the cluster until the task is aborted.
pub async fn serve(client: Client, socket: UdpSocket) {
    let table: Records = Arc::default();
    let (services, services_writer) = reflector::store::<Service>();
    let (slices, slices_writer) = reflector::store::<EndpointSlice>();
    let services_stream = reflector::reflector(
        services_writer,
        watcher(
            Api::<Service>::all(client.clone()),
            watcher::Config::default(),
        ),
    )
    .default_backoff()
    .map(|_| ());
    let slices_stream = reflector::reflector(
        slices_writer,
        watcher(
            Api::<EndpointSlice>::all(client),
            watcher::Config::default(),
        ),
    )
    .default_backoff()
    .map(|_| ());
    let updates = {
        let table = table.clone();
        let refresh = move |services: &Store<Service>, slices: &Store<EndpointSlice>| {
            let next = records(&services.state(), &slices.state());
            *table.write().unwrap_or_else(PoisonError::into_inner) = next;
        };
        futures::stream::select(services_stream, slices_stream).for_each(move |()| {
            refresh(&services, &slices);
            async {}
        })
    };
    let answers = async move {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let lookup = |name: &str| {
                table
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(name)
                    .cloned()
            };
            if let Some(reply) = answer(&buf[..len], lookup) {
                let _ = socket.send_to(&reply, peer).await;
            }
        }
    };
    tokio::join!(updates, answers);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&1u16.to_be_bytes());
        q
    }

    fn lookup(name: &str) -> Option<Vec<Ipv4Addr>> {
        (name == "database.store-a.svc.cluster.local").then(|| vec![Ipv4Addr::new(10, 244, 0, 7)])
    }

    #[test]
    fn a_known_name_is_answered_with_its_address() {
        let reply = answer(&query("Database.store-a.svc.cluster.local", TYPE_A), lookup).unwrap();
        assert_eq!(&reply[..2], &[0x12, 0x34]);
        assert_eq!(reply[3] & 0x0f, 0, "NOERROR");
        assert_eq!(u16::from_be_bytes([reply[6], reply[7]]), 1, "one answer");
        assert_eq!(&reply[reply.len() - 4..], &[10, 244, 0, 7]);
    }

    #[test]
    fn other_types_of_a_known_name_are_empty_and_unknown_names_do_not_exist() {
        let aaaa = answer(&query("database.store-a.svc.cluster.local", 28), lookup).unwrap();
        assert_eq!((aaaa[3] & 0x0f, aaaa[7]), (0, 0));
        let outside = answer(&query("api.wordpress.org", TYPE_A), lookup).unwrap();
        assert_eq!((outside[3] & 0x0f, outside[7]), (RCODE_NXDOMAIN, 0));
    }

    #[test]
    fn garbage_is_refused_without_a_panic() {
        assert!(answer(&[1, 2, 3], lookup).is_none());
        let reply = answer(&[0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 200], lookup).unwrap();
        assert_eq!(reply[3] & 0x0f, RCODE_FORMERR);
    }
}
