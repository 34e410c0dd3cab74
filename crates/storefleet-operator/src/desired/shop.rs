//! What every shop has, whatever its engine: the `storefront` Service (port 80, the route's
//! backend), the files volume (WordPress' files, Medusa's uploads), and the names of Jobs whose
//! pod template cannot change (a hash of their inputs).

use k8s_openapi::api::core::v1::{
    Affinity, PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, PodAffinity,
    PodAffinityTerm, Service, ServicePort, ServiceSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use storefleet_types::names::{Component, child, ports};

use super::{child_meta, rwo_claim_spec, selector, selector_labels};
use crate::validate::ValidatedStore;

/// Name of the files volume inside pods.
pub const FILES_VOLUME: &str = "files";

/// The files volume (ReadWriteOnce: a Job that mounts it runs on the storefront's node).
pub fn build_storefront_volume(store: &ValidatedStore) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: child_meta(store, child::STOREFRONT_DATA, Component::Storefront),
        spec: Some(rwo_claim_spec(store, &store.storefront_size)),
        status: None,
    }
}

/// ClusterIP Service on port 80.
pub fn build_storefront_service(store: &ValidatedStore) -> Service {
    Service {
        metadata: child_meta(store, child::STOREFRONT, Component::Storefront),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(selector_labels(store, Component::Storefront)),
            ports: Some(vec![ServicePort {
                name: Some(ports::HTTP_NAME.into()),
                port: 80,
                target_port: Some(IntOrString::String(ports::HTTP_NAME.into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// Node topology key a pod that mounts the files volume shares with the storefront pod
/// (ReadWriteOnce volume).
pub const HOSTNAME_TOPOLOGY: &str = "kubernetes.io/hostname";

/// Required on the storefront pod's node: a pod that mounts its ReadWriteOnce files volume.
pub fn on_the_storefronts_node(store: &ValidatedStore) -> Affinity {
    Affinity {
        pod_affinity: Some(PodAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                label_selector: Some(selector(store, Component::Storefront)),
                topology_key: HOSTNAME_TOPOLOGY.into(),
                ..PodAffinityTerm::default()
            }]),
            preferred_during_scheduling_ignored_during_execution: None,
        }),
        ..Affinity::default()
    }
}

/// A volume backed by the files PVC.
pub fn files_volume() -> Volume {
    Volume {
        name: FILES_VOLUME.into(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: child::STOREFRONT_DATA.into(),
            read_only: Some(false),
        }),
        ..Volume::default()
    }
}

/// `prefix` + 8 hex digits of a hash of `parts` (in order): the name of a Job whose pod
/// template is immutable, so that a change of any input is a new Job.
pub fn hashed_name(prefix: &str, parts: &[&str]) -> String {
    let mut hasher = Fnv1a::default();
    for part in parts {
        hasher.write(part.as_bytes());
    }
    let h = hasher.finish();
    format!("{prefix}{:08x}", (h ^ (h >> 32)) & 0xffff_ffff)
}

/// FNV-1a, 64 bit: a stable hash for names (not for security).
#[derive(Debug)]
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // Separator, so that ("ab","c") and ("a","bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
