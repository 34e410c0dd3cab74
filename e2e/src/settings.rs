//! What the suite is asked to do, from environment variables.

use std::path::PathBuf;

/// A group of tests with the same needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Needs an apiserver with controller-manager (pods need not run).
    ControlPlane,
    /// Needs running pods, an ingress controller serving the default IngressClass and the internet.
    Workloads,
    /// Creates `STOREFLEET_E2E_SCALE` stores at once.
    Scale,
}

/// Settings of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `STOREFLEET_E2E_IN_CLUSTER=1`: the operator is the one installed by the chart.
    pub in_cluster: bool,
    /// `STOREFLEET_E2E_WORKLOADS=1`.
    pub workloads: bool,
    /// `STOREFLEET_E2E_SCALE=N`.
    pub scale: Option<usize>,
    /// `STOREFLEET_OPERATOR_BIN`: the operator binary to run locally.
    pub operator_bin: PathBuf,
    /// `STOREFLEET_E2E_METRICS_PORT`: where the local operator serves /metrics.
    pub metrics_port: u16,
    /// `STOREFLEET_E2E_INGRESS`: address of the ingress controller (workloads tier).
    pub ingress_address: String,
    /// `STOREFLEET_E2E_READY_TIMEOUT`: seconds to wait for a store to be Ready (workloads).
    pub ready_timeout_secs: u64,
    /// `STOREFLEET_E2E_MEDUSA_IMAGE`: the Medusa image the cluster can pull (e.g. make demo's
    /// `localhost/storefleet/storefleet-medusa:dev`), given to the local operator.
    pub medusa_image: Option<String>,
}

fn flag(value: Option<String>) -> bool {
    matches!(value.as_deref(), Some("1" | "true" | "yes"))
}

impl Settings {
    /// From the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// From any lookup (tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        Self {
            in_cluster: flag(get("STOREFLEET_E2E_IN_CLUSTER")),
            workloads: flag(get("STOREFLEET_E2E_WORKLOADS")),
            scale: get("STOREFLEET_E2E_SCALE")
                .and_then(|n| n.parse().ok())
                .filter(|n| *n > 0),
            operator_bin: get("STOREFLEET_OPERATOR_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| repo.join("target/debug/storefleet-operator")),
            metrics_port: get("STOREFLEET_E2E_METRICS_PORT")
                .and_then(|p| p.parse().ok())
                .unwrap_or(18080),
            ingress_address: get("STOREFLEET_E2E_INGRESS").unwrap_or_else(|| "127.0.0.1:80".into()),
            ready_timeout_secs: get("STOREFLEET_E2E_READY_TIMEOUT")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1200),
            medusa_image: get("STOREFLEET_E2E_MEDUSA_IMAGE").filter(|i| !i.is_empty()),
        }
    }

    /// Whether a tier runs; the reason when it does not.
    pub fn enabled(&self, tier: Tier) -> Result<(), String> {
        match tier {
            Tier::ControlPlane => Ok(()),
            Tier::Workloads if self.workloads => Ok(()),
            Tier::Workloads => Err("workloads tier: set STOREFLEET_E2E_WORKLOADS=1 (kind with an ingress controller and internet)".into()),
            Tier::Scale if self.scale.is_some() => Ok(()),
            Tier::Scale => Err("scale scenario: set STOREFLEET_E2E_SCALE=N".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_run_the_control_plane_tier_only() {
        let s = Settings::from_lookup(|_| None);
        assert!(!s.in_cluster && !s.workloads && s.scale.is_none());
        assert!(s.enabled(Tier::ControlPlane).is_ok());
        assert!(
            s.enabled(Tier::Workloads)
                .expect_err("off")
                .contains("STOREFLEET_E2E_WORKLOADS=1")
        );
        assert!(
            s.enabled(Tier::Scale)
                .expect_err("off")
                .contains("STOREFLEET_E2E_SCALE")
        );
        assert!(s.operator_bin.ends_with("target/debug/storefleet-operator"));
    }

    #[test]
    fn tiers_from_env() {
        let s = Settings::from_lookup(|k| match k {
            "STOREFLEET_E2E_WORKLOADS" => Some("1".into()),
            "STOREFLEET_E2E_SCALE" => Some("25".into()),
            "STOREFLEET_E2E_IN_CLUSTER" => Some("true".into()),
            _ => None,
        });
        assert!(s.workloads && s.in_cluster);
        assert_eq!(s.scale, Some(25));
        assert!(
            Settings::from_lookup(|k| (k == "STOREFLEET_E2E_SCALE").then(|| "0".into()))
                .scale
                .is_none()
        );
    }
}
