//! A drill's objects (`desired/backup/drill.rs`): its own namespace, closed but for DNS and the
//! object store, the shop's own containers as sidecars on scratch volumes, the shop's Secrets by
//! name with values of the drill's own, and no admin login.

use super::*;
use k8s_openapi::api::core::v1::Volume;
use storefleet_operator::desired::backup::drill::{build_drill, drill_namespace};

fn backed_up(store: Store) -> (ValidatedStore, StoreObjects) {
    let mut config = config();
    config.backup = Some(
        serde_saphyr::from_str(
            "s3: {endpoint: \"http://10.0.0.9:3900\", bucket: b}\ncredentialsSecret: s3\nkeySecret: key\negressCidrs: [10.0.0.9/32]\n",
        )
        .expect("backup config"),
    );
    let validated = validate(&store, &config).expect("valid");
    let objects = desired::build(&validated);
    (validated, objects)
}

fn drill_of(
    store: Store,
) -> (
    ValidatedStore,
    storefleet_operator::desired::backup::drill::DrillObjects,
) {
    let (validated, objects) = backed_up(store);
    let backup = validated.backup.clone().expect("backups");
    let parts = desired::backup_parts(&validated);
    let drill = build_drill(
        &validated,
        &objects,
        &backup,
        &parts,
        "drill-1",
        Some("now"),
    );
    (validated, drill)
}

#[test]
fn a_drill_runs_the_shops_own_containers_in_a_closed_namespace_of_its_own() {
    for (store, sidecars, check_image) in [
        (Store::test(), vec!["mariadb", "wordpress"], "wordpress:cli"),
        (
            medusa_store(),
            vec!["postgres", "redis", "medusa"],
            "storefleet-medusa",
        ),
    ] {
        let (validated, drill) = drill_of(store);
        let ns = drill_namespace(&validated.name);
        assert_eq!(drill.namespace.metadata.name.as_deref(), Some(ns.as_str()));
        assert!(ns.len() <= 63 && ns.starts_with("storefleet-drill-"));
        let labels = drill.namespace.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels.get(keys::STORE), Some(&validated.name));
        assert_eq!(
            labels
                .get("pod-security.kubernetes.io/enforce")
                .map(String::as_str),
            Some("restricted")
        );
        // Everything in it, and only there; owned by the Store (it goes with it).
        let metas = [
            &drill.policy.metadata,
            &drill.service.metadata,
            &drill.job.metadata,
        ];
        for meta in metas
            .into_iter()
            .chain(drill.config_maps.iter().map(|c| &c.metadata))
        {
            assert_eq!(meta.namespace.as_deref(), Some(ns.as_str()));
            assert_eq!(meta.owner_references.as_ref().map(Vec::len), Some(1));
        }
        // The shop's Secrets by name, generated anew; never the admin login.
        let secrets: Vec<&str> = drill.secrets.iter().map(|t| t.name()).collect();
        assert!(secrets.contains(&child::DATABASE_SECRET), "{secrets:?}");
        assert!(!secrets.contains(&child::ADMIN_SECRET), "{secrets:?}");
        for template in &drill.secrets {
            assert_eq!(template.metadata.namespace.as_deref(), Some(ns.as_str()));
        }
        // One pod: restic, the data services as sidecars, the load, the storefront as a
        // sidecar, the check; the shop's names for its services are the pod itself.
        let pod = drill
            .job
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.clone())
            .expect("pod");
        let init = pod.init_containers.clone().unwrap_or_default();
        let restartable: Vec<&str> = init
            .iter()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"))
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(restartable, sidecars);
        assert_eq!(init[0].name, "restic");
        assert!(init.iter().any(|c| c.name == "load"));
        let check = &pod.containers[0];
        assert_eq!(check.name, "check");
        assert!(
            check
                .image
                .as_deref()
                .is_some_and(|i| i.contains(check_image)),
            "{:?}",
            check.image
        );
        let aliases = pod.host_aliases.clone().unwrap_or_default();
        assert_eq!(aliases[0].ip, "127.0.0.1");
        assert!(
            aliases[0]
                .hostnames
                .iter()
                .flatten()
                .any(|h| h == child::DATABASE)
        );
        // No claim of the shop's: scratch volumes only.
        let volumes: &[Volume] = pod.volumes.as_deref().unwrap_or_default();
        assert!(
            volumes.iter().all(|v| v.persistent_volume_claim.is_none()),
            "{volumes:?}"
        );
        for c in init.iter().chain(&pod.containers) {
            for m in c.volume_mounts.iter().flatten() {
                assert!(
                    volumes.iter().any(|v| v.name == m.name),
                    "{}: mount {} has a volume",
                    c.name,
                    m.name
                );
            }
            assert_eq!(
                c.termination_message_policy.as_deref(),
                Some("FallbackToLogsOnError"),
                "{}: a failing container's words become the drill's reason",
                c.name
            );
            let security = c.security_context.as_ref().expect("security");
            assert_eq!(
                security.allow_privilege_escalation,
                Some(false),
                "{}",
                c.name
            );
        }
        assert_eq!(pod.automount_service_account_token, Some(false));
        // The Service the check goes through selects this pod.
        let selector = drill
            .service
            .spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .unwrap_or_default();
        let pod_labels = drill
            .job
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        assert!(selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)));
        // Closed: in-namespace traffic, DNS, the object store on its port; no way in from
        // outside the namespace.
        let policy = drill.policy.spec.as_ref().expect("policy");
        let ingress = policy.ingress.clone().unwrap_or_default();
        assert_eq!(ingress.len(), 1);
        assert!(
            ingress[0]
                .from
                .iter()
                .flatten()
                .all(|p| p.namespace_selector.is_none())
        );
        let egress = policy.egress.clone().unwrap_or_default();
        let blocks: Vec<String> = egress
            .iter()
            .flat_map(|r| r.to.iter().flatten())
            .filter_map(|p| p.ip_block.as_ref().map(|b| b.cidr.clone()))
            .collect();
        assert_eq!(blocks, ["10.0.0.9/32"]);
        // The value of drill-now it answers.
        assert_eq!(
            drill
                .job
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(names::DRILL_ASKED_ANNOTATION))
                .map(String::as_str),
            Some("now")
        );
    }
}
