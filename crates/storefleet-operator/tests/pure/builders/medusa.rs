//! A Medusa store's own objects: selectors, services, references, policies, Jobs, Redis.

use super::*;

#[test]
fn medusa_selectors_services_and_references_fit_together() {
    let o = objects(&medusa_store());
    let m = medusa(&o);
    let templates = pods(&o);
    // Each workload selects its own pods and no other.
    let selectors = [
        (Component::Database, &m.database.spec.selector),
        (Component::Cache, &m.cache.spec.selector),
        (Component::Storefront, &m.server.spec.selector),
        (Component::Worker, &m.worker.spec.selector),
    ];
    for (component, selector) in selectors {
        for (other, template) in &templates {
            assert_eq!(
                selects(selector, &pod_labels(template)),
                *other == component,
                "{component} selector vs {other} pod"
            );
        }
    }
    // Services point at named ports of the pods they select.
    for service in [&m.database_service, &m.cache_service, &m.service] {
        let spec = service.spec.as_ref().expect("spec");
        let selected: Vec<_> = templates
            .iter()
            .filter(|(_, t)| {
                spec.selector
                    .as_ref()
                    .is_some_and(|s| s.iter().all(|(k, v)| pod_labels(t).get(k) == Some(v)))
            })
            .collect();
        assert_eq!(selected.len(), 1, "{:?}", service.metadata.name);
        let names: Vec<String> = container(&selected[0].1)
            .ports
            .iter()
            .flatten()
            .filter_map(|p| p.name.clone())
            .collect();
        for port in spec.ports.iter().flatten() {
            let Some(IntOrString::String(target)) = &port.target_port else {
                panic!("named target port")
            };
            assert!(names.contains(target), "{target} in {names:?}");
        }
    }
    assert_eq!(
        m.service.metadata.name.as_deref(),
        Some(child::STOREFRONT),
        "the route's backend"
    );
    // Every Secret key a pod reads is one the operator generates, and every $(VAR) in an env
    // value or an argument is defined before it (Kubernetes expands only earlier variables).
    let generated: BTreeSet<(String, String)> = o
        .secrets
        .iter()
        .flat_map(|t| {
            t.values
                .keys()
                .map(|k| (t.name().to_string(), k.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    for (component, template) in &templates {
        let c = container(template);
        let mut defined: BTreeSet<String> = BTreeSet::new();
        let uses = |text: &str| -> Vec<String> {
            text.split("$(")
                .skip(1)
                .filter_map(|rest| rest.split(')').next().map(str::to_string))
                .collect()
        };
        for var in c.env.iter().flatten() {
            if let Some(r) = var
                .value_from
                .as_ref()
                .and_then(|f| f.secret_key_ref.as_ref())
            {
                assert!(
                    generated.contains(&(r.name.clone(), r.key.clone())),
                    "{component}: {}/{}",
                    r.name,
                    r.key
                );
            }
            for used in uses(var.value.as_deref().unwrap_or_default()) {
                assert!(
                    defined.contains(&used),
                    "{component}: $({used}) before it is defined"
                );
            }
            defined.insert(var.name.clone());
        }
        for arg in c.args.iter().flatten().chain(c.command.iter().flatten()) {
            for used in uses(arg) {
                assert!(
                    defined.contains(&used),
                    "{component}: $({used}) is not defined"
                );
            }
        }
    }
}

#[test]
fn medusa_network_policies_allow_exactly_its_flows() {
    let o = objects(&medusa_store());
    let names: BTreeSet<String> = o
        .policies()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    assert!(
        !names.contains(child::NETPOL_INTERNET),
        "no internet egress"
    );
    let by_name = |n: &str| {
        o.policies()
            .find(|p| p.metadata.name.as_deref() == Some(n))
            .and_then(|p| p.spec.clone())
            .unwrap_or_else(|| panic!("policy {n}"))
    };
    let ports =
        |rules: Vec<Option<Vec<k8s_openapi::api::networking::v1::NetworkPolicyPort>>>| -> Vec<i32> {
            rules
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|p| match p.port {
                    Some(IntOrString::Int(n)) => Some(n),
                    _ => None,
                })
                .collect()
        };
    let edge = by_name(child::NETPOL_INGRESS);
    assert_eq!(
        ports(
            edge.ingress
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.ports)
                .collect()
        ),
        vec![names::ports::MEDUSA_HTTP]
    );
    let db = by_name(child::NETPOL_DATABASE_INGRESS);
    assert_eq!(
        ports(
            db.ingress
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.ports)
                .collect()
        ),
        vec![names::ports::POSTGRES]
    );
    let cache = by_name(child::NETPOL_CACHE_INGRESS);
    assert_eq!(
        ports(
            cache
                .ingress
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.ports)
                .collect()
        ),
        vec![names::ports::REDIS]
    );
    let egress = by_name(child::NETPOL_DATABASE_EGRESS);
    assert_eq!(
        ports(
            egress
                .egress
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.ports)
                .collect()
        ),
        vec![names::ports::POSTGRES, names::ports::REDIS]
    );
    // Who may talk to the data services: the four Medusa roles, not the data services themselves.
    let clients = egress.pod_selector.clone().expect("selector");
    for (component, template) in pods(&o) {
        let expected = !matches!(component, Component::Database | Component::Cache);
        assert_eq!(
            selects(&clients, &pod_labels(&template)),
            expected,
            "{component}"
        );
        let admitted = db.ingress.clone().unwrap_or_default()[0]
            .from
            .clone()
            .unwrap_or_default()[0]
            .pod_selector
            .clone()
            .expect("pods");
        assert_eq!(
            selects(&admitted, &pod_labels(&template)),
            expected,
            "{component}"
        );
    }
    // Only the setup Job reaches the server from inside the namespace.
    let setup_out = by_name(child::NETPOL_SETUP_TO_STOREFRONT);
    let setup_in = by_name(child::NETPOL_STOREFRONT_FROM_SETUP);
    for (component, template) in pods(&o) {
        let labels = pod_labels(&template);
        let selector = setup_out.pod_selector.clone().expect("selector");
        assert_eq!(selects(&selector, &labels), component == Component::Setup);
        let target = setup_in.pod_selector.clone().expect("selector");
        assert_eq!(
            selects(&target, &labels),
            component == Component::Storefront
        );
    }
}

#[test]
fn medusa_jobs_are_named_after_their_inputs() {
    let o = objects(&medusa_store());
    let migration = medusa(&o).migration.metadata.name.clone().expect("name");
    let setup = medusa(&o).setup.metadata.name.clone().expect("name");
    assert!(migration.starts_with(child::MIGRATION_JOB_PREFIX));
    assert!(setup.starts_with(child::SETUP_JOB_PREFIX));
    let other_setup = objects(&medusa_store().with_setup(SetupSpec {
        currency: Some("EUR".into()),
        ..SetupSpec::default()
    }));
    assert_eq!(
        medusa(&other_setup).migration.metadata.name.as_deref(),
        Some(migration.as_str()),
        "a setup change does not migrate again"
    );
    assert_ne!(
        medusa(&other_setup).setup.metadata.name.as_deref(),
        Some(setup.as_str())
    );
    let mut upgraded = medusa_store();
    upgraded.spec.versions = Some(storefleet_types::VersionsSpec {
        medusa: Some("0.2.0".into()),
        ..Default::default()
    });
    let upgraded = objects(&upgraded);
    assert_ne!(
        medusa(&upgraded).migration.metadata.name.as_deref(),
        Some(migration.as_str()),
        "a new image migrates again"
    );
    // The migration comes before the server and the worker in apply order.
    let order: Vec<String> = upgraded
        .children()
        .iter()
        .filter(|c| matches!(c, Child::MigrationJob(_) | Child::Deployment(_)))
        .map(|c| c.metadata().name.clone().unwrap_or_default())
        .collect();
    assert!(
        order[0].starts_with(child::MIGRATION_JOB_PREFIX),
        "{order:?}"
    );
    assert_eq!(&order[1..], [child::STOREFRONT, child::WORKER]);
}

#[test]
fn medusa_redis_persists_and_is_bounded() {
    for plan in [Plan::Small, Plan::Large] {
        let o = objects(&medusa_store().with_plan(plan));
        let cache = &medusa(&o).cache;
        let args = container(&cache.spec.template).args.clone().expect("args");
        let after = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .cloned()
                .unwrap_or_else(|| panic!("{flag} in {args:?}"))
        };
        assert_eq!(after("--appendonly"), "yes");
        assert_eq!(after("--maxmemory-policy"), "noeviction");
        // Three quarters of the container's memory limit.
        let limit = container(&cache.spec.template)
            .resources
            .clone()
            .and_then(|r| r.limits)
            .expect("limits")["memory"]
            .clone();
        let limit = q(&limit.0).to_bytes_i128().expect("bytes");
        assert_eq!(
            after("--maxmemory"),
            (limit * 3 / 4).to_string(),
            "{plan:?}"
        );
        // On its own claim, mounted where Redis writes.
        let templates = cache.spec.volume_claim_templates.clone().expect("claim");
        assert_eq!(templates.len(), 1);
        let name = templates[0].metadata.name.clone().expect("name");
        assert!(
            container(&cache.spec.template)
                .volume_mounts
                .iter()
                .flatten()
                .any(|m| m.name == name && m.mount_path == after("--dir"))
        );
    }
}
