//! What confines a store: Pod Security, restricted pods with probes, resources within the limit
//! range and the quota, network policies that allow exactly the named flows, the API's access.

use super::*;

#[test]
fn namespace_enforces_pod_security() {
    let ns = objects(&Store::test()).namespace;
    let labels = ns.metadata.labels.expect("labels");
    assert_eq!(ns.metadata.name.as_deref(), Some("store-alice"));
    assert_eq!(labels["pod-security.kubernetes.io/enforce"], "restricted");
    assert_eq!(labels["pod-security.kubernetes.io/warn"], "restricted");
    assert_eq!(labels["pod-security.kubernetes.io/audit"], "restricted");
}

#[test]
fn pods_meet_the_restricted_pod_security_standard_and_have_probes() {
    for store in both_engines() {
        let o = objects(&store);
        let found: Vec<Component> = pods(&o).into_iter().map(|(c, _)| c).collect();
        assert!(found.len() >= 3, "{found:?}");
        restricted_with_probes(&o);
    }
    let o = objects(&Store::test());
    let sf = container(&woo(&o).storefront.deployment.spec.template);
    let readiness = sf
        .readiness_probe
        .as_ref()
        .and_then(|p| p.http_get.as_ref())
        .expect("http readiness");
    assert_eq!(
        readiness.path.as_deref(),
        Some("/wp-login.php"),
        "ready means PHP + database answer"
    );
    let db = container(&woo(&o).database.stateful_set.spec.template);
    let cmd = db
        .readiness_probe
        .as_ref()
        .and_then(|p| p.exec.as_ref())
        .and_then(|e| e.command.clone())
        .expect("exec");
    assert!(cmd.contains(&"--innodb_initialized".to_string()));
}

/// Every pod of `o` meets `restricted`; every long-running one has all three probes.
fn restricted_with_probes(o: &StoreObjects) {
    for (component, template) in pods(o) {
        let pod = spec(&template);
        let psc = pod.security_context.as_ref().expect("pod security context");
        assert_eq!(psc.run_as_non_root, Some(true), "{component}");
        assert!(psc.run_as_user.is_some_and(|u| u > 0), "{component}");
        assert_eq!(
            psc.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
            Some("RuntimeDefault"),
            "{component}"
        );
        for sysctl in psc.sysctls.iter().flatten() {
            assert_eq!(
                sysctl.name, "net.ipv4.ip_unprivileged_port_start",
                "only safe sysctls"
            );
        }
        assert_eq!(
            pod.automount_service_account_token,
            Some(false),
            "{component}"
        );
        let c = container(&template);
        let sc = c
            .security_context
            .as_ref()
            .expect("container security context");
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{component}");
        assert_eq!(
            sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
            Some(vec!["ALL".to_string()]),
            "{component}"
        );
        assert!(
            sc.capabilities.as_ref().is_some_and(|c| c.add.is_none()),
            "{component}"
        );
        assert!(sc.privileged.is_none_or(|p| !p), "{component}");
        if !matches!(component, Component::Setup | Component::Migration) {
            assert!(c.readiness_probe.is_some(), "{component} readiness");
            assert!(c.liveness_probe.is_some(), "{component} liveness");
            assert!(c.startup_probe.is_some(), "{component} startup");
        }
    }
}

#[test]
fn resources_fit_the_limit_range_and_the_quota_for_every_plan() {
    for (plan, store) in [Plan::Small, Plan::Medium, Plan::Large]
        .into_iter()
        .flat_map(|plan| both_engines().map(|s| (plan, s.with_plan(plan))))
    {
        let o = objects(&store);
        let hard = o
            .quota
            .spec
            .as_ref()
            .and_then(|s| s.hard.clone())
            .expect("hard");
        let max = o.limit_range.spec.as_ref().expect("spec").limits[0]
            .max
            .clone()
            .expect("max");
        let mut sums: BTreeMap<String, ParsedQuantity> = BTreeMap::new();
        for (component, template) in pods(&o) {
            let r = container(&template).resources.clone().expect("resources");
            let (req, lim) = (r.requests.expect("requests"), r.limits.expect("limits"));
            for res in ["cpu", "memory", "ephemeral-storage"] {
                assert!(
                    q(&req[res].0) <= q(&lim[res].0),
                    "{plan:?} {component} {res}: request above limit"
                );
                assert!(
                    q(&lim[res].0) <= q(&max[res].0),
                    "{plan:?} {component} {res}: limit above LimitRange max"
                );
                *sums.entry(format!("requests.{res}")).or_default() += q(&req[res].0);
                *sums.entry(format!("limits.{res}")).or_default() += q(&lim[res].0);
            }
        }
        // Every emptyDir is bounded, within what one container may write.
        for (component, template) in pods(&o) {
            for volume in spec(&template).volumes.iter().flatten() {
                if let Some(dir) = &volume.empty_dir {
                    let limit = dir.size_limit.as_ref().unwrap_or_else(|| {
                        panic!("{plan:?} {component}: emptyDir {} unbounded", volume.name)
                    });
                    assert!(
                        q(&limit.0) <= q(&max["ephemeral-storage"].0),
                        "{plan:?} {component}: emptyDir {} above the LimitRange max",
                        volume.name
                    );
                }
            }
        }
        for key in ["requests.ephemeral-storage", "limits.ephemeral-storage"] {
            assert!(sums.contains_key(key), "{plan:?}: {key} summed");
        }
        for (key, sum) in sums {
            assert!(
                sum <= q(&hard[&key].0),
                "{plan:?}: pods need {sum} of {key}, quota is {}",
                hard[&key].0
            );
        }
        // Volumes: each under the PVC max, together under the storage quota.
        let pvc_max = o.limit_range.spec.as_ref().expect("spec").limits[1]
            .max
            .clone()
            .expect("max")["storage"]
            .clone();
        let claims: Vec<_> = o
            .children()
            .iter()
            .flat_map(|c| match c {
                Child::PersistentVolumeClaim(p) => vec![(*p).clone()],
                Child::StatefulSet(s) => s.spec.volume_claim_templates.clone().unwrap_or_default(),
                _ => Vec::new(),
            })
            .map(|claim| {
                claim
                    .spec
                    .and_then(|s| s.resources)
                    .and_then(|r| r.requests)
                    .expect("requests")["storage"]
                    .clone()
            })
            .collect();
        // Database and files, and for Medusa Redis's append-only file.
        let expected = if matches!(store.spec.engine, storefleet_types::Engine::Medusa) {
            3
        } else {
            2
        };
        assert_eq!(claims.len(), expected, "{plan:?}: the store's volumes");
        let mut total = ParsedQuantity::default();
        for claim in &claims {
            assert!(q(&claim.0) <= q(&pvc_max.0), "{plan:?}");
            total += q(&claim.0);
        }
        assert!(total <= q(&hard["requests.storage"].0), "{plan:?}");
        assert_eq!(hard["services.loadbalancers"].0, "0");
        assert_eq!(hard["services.nodeports"].0, "0");
    }
}

#[test]
fn network_policies_allow_exactly_the_named_flows() {
    let o = objects(&Store::test());
    let by_name = |n: &str| {
        o.policies()
            .find(|p| p.metadata.name.as_deref() == Some(n))
            .expect(n)
            .clone()
    };
    let all = pods(&o);
    let labels_of = |c: Component| pod_labels(&all.iter().find(|(x, _)| *x == c).expect("pod").1);
    let (db, sf, setup) = (
        labels_of(Component::Database),
        labels_of(Component::Storefront),
        labels_of(Component::Setup),
    );

    let deny = by_name(child::NETPOL_DEFAULT_DENY).spec.expect("spec");
    for l in [&db, &sf, &setup] {
        assert!(selects(deny.pod_selector.as_ref().expect("selector"), l));
    }
    assert_eq!(
        deny.policy_types,
        Some(vec!["Ingress".into(), "Egress".into()])
    );
    assert!(deny.ingress.is_none() && deny.egress.is_none());

    let ingress = by_name(child::NETPOL_INGRESS).spec.expect("spec");
    let sel = ingress.pod_selector.as_ref().expect("selector");
    assert!(selects(sel, &sf) && !selects(sel, &db) && !selects(sel, &setup));
    let from = &ingress.ingress.as_ref().expect("rules")[0];
    let ns_sel = from.from.as_ref().expect("from")[0]
        .namespace_selector
        .clone()
        .expect("namespace selector");
    assert_eq!(
        ns_sel.match_labels.expect("labels")["kubernetes.io/metadata.name"],
        "ingress-nginx"
    );
    assert_eq!(
        from.ports.as_ref().expect("ports")[0].port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(80))
    );

    let db_in = by_name(child::NETPOL_DATABASE_INGRESS).spec.expect("spec");
    assert!(selects(db_in.pod_selector.as_ref().expect("selector"), &db));
    assert!(!selects(
        db_in.pod_selector.as_ref().expect("selector"),
        &sf
    ));
    let peer = db_in.ingress.as_ref().expect("rules")[0]
        .from
        .as_ref()
        .expect("from")[0]
        .pod_selector
        .clone()
        .expect("pods");
    assert!(selects(&peer, &sf) && selects(&peer, &setup) && !selects(&peer, &db));

    let db_out = by_name(child::NETPOL_DATABASE_EGRESS).spec.expect("spec");
    let sel = db_out.pod_selector.as_ref().expect("selector");
    assert!(selects(sel, &sf) && selects(sel, &setup) && !selects(sel, &db));
    let peer = db_out.egress.as_ref().expect("rules")[0]
        .to
        .as_ref()
        .expect("to")[0]
        .pod_selector
        .clone()
        .expect("pods");
    assert!(selects(&peer, &db) && !selects(&peer, &sf));

    let net = by_name(child::NETPOL_INTERNET).spec.expect("spec");
    let sel = net.pod_selector.as_ref().expect("selector");
    assert!(
        selects(sel, &sf) && selects(sel, &setup) && !selects(sel, &db),
        "the database never reaches the internet"
    );
    let rule = &net.egress.as_ref().expect("rules")[0];
    let blocks: Vec<_> = rule
        .to
        .as_ref()
        .expect("to")
        .iter()
        .filter_map(|p| p.ip_block.clone())
        .collect();
    let v4 = blocks
        .iter()
        .find(|b| b.cidr == "0.0.0.0/0")
        .expect("ipv4 block");
    for private in [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
    ] {
        assert!(
            v4.except.iter().flatten().any(|e| e == private),
            "{private} excluded"
        );
    }
    let v6 = blocks
        .iter()
        .find(|b| b.cidr == "::/0")
        .expect("ipv6 block");
    assert!(
        v6.except.iter().flatten().all(|e| e.contains(':')),
        "only IPv6 ranges in the IPv6 block"
    );
    let ports: Vec<_> = rule
        .ports
        .iter()
        .flatten()
        .filter_map(|p| p.port.clone())
        .collect();
    assert_eq!(ports.len(), 2);

    let dns = by_name(child::NETPOL_DNS).spec.expect("spec");
    assert!(selects(dns.pod_selector.as_ref().expect("selector"), &db));
    assert!(
        dns.egress.as_ref().expect("rules")[0]
            .ports
            .iter()
            .flatten()
            .all(|p| p.port
                == Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(53)))
    );
    // The cluster's DNS pods, and NodeLocal DNSCache (host network, no pod to select).
    let peers = dns.egress.as_ref().expect("rules")[0]
        .to
        .clone()
        .expect("peers");
    assert!(peers.iter().any(|p| p.namespace_selector.is_some()));
    assert!(
        peers
            .iter()
            .filter_map(|p| p.ip_block.as_ref())
            .any(|b| b.cidr == "169.254.20.10/32"),
        "{peers:?}"
    );
}

#[test]
fn the_api_may_read_the_admin_login_of_each_store_and_nothing_else() {
    for store in both_engines() {
        let o = objects(&store);
        let access = o.api_access.as_ref().expect("configured");
        let rules = access.role.rules.clone().expect("rules");
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].api_groups.as_deref(), Some(&[String::new()][..]));
        assert_eq!(
            rules[0].resources.as_deref(),
            Some(&["secrets".to_string()][..])
        );
        assert_eq!(
            rules[0].resource_names.as_deref(),
            Some(&[child::ADMIN_SECRET.to_string()][..])
        );
        assert_eq!(rules[0].verbs, ["get"]);
        let subjects = access.binding.subjects.clone().expect("subjects");
        assert_eq!(subjects.len(), 1);
        assert_eq!(subjects[0].kind, "ServiceAccount");
        assert_eq!(subjects[0].name, "storefleet-api");
        assert_eq!(subjects[0].namespace.as_deref(), Some("storefleet-system"));
        assert_eq!(
            access.binding.role_ref.name,
            access.role.metadata.name.clone().expect("name")
        );
        // Before any pod runs.
        let kinds: Vec<storefleet_operator::desired::wave::Wave> = o
            .children()
            .iter()
            .filter(|c| matches!(c, Child::Role(_) | Child::RoleBinding(_)))
            .map(|c| c.wave())
            .collect();
        use storefleet_operator::desired::wave::Wave;
        assert_eq!(kinds, [Wave::Foundation, Wave::Foundation]);
    }
    // Without the API's ServiceAccount in the config, nobody is granted anything.
    let plain = storefleet_operator::desired::build(
        &storefleet_operator::validate::validate(&Store::test(), &OperatorConfig::default())
            .expect("valid"),
    );
    assert!(plain.api_access.is_none());
}
