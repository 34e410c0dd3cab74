//! The pure tier: no cluster, no network, always runs. What the operator builds for a Store
//! (`builders/`: wiring, security, routing, medusa), the committed renders and CRD
//! (`generated`), the GitOps integrations (Argo CD's health check, the alert rules: `gitops`),
//! the WooCommerce setup script against a fake WP-CLI (`setup_script`) and the crate's shape
//! (`structure`).

#[path = "../common/argocd.rs"]
mod argocd;
mod builders;
mod generated;
mod gitops;
mod setup_script;
mod structure;
