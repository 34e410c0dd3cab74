//! The objects fit together: labels and owners, apply order and waves, selectors that select
//! their pods, ports and references that resolve, Secrets, the setup Job, the volumes.

use super::*;

#[test]
fn every_object_is_labelled_owned_and_placed() {
    let o = objects(&Store::test());
    let children = o.children();
    assert_eq!(
        children.len(),
        26,
        "namespace, quota, limits, 8 policies, 3 secrets, the API's Role and RoleBinding, 8 workload objects, the cron and probe CronJobs"
    );
    for child in &children {
        let meta = child.metadata().clone();
        let name = meta.name.clone().expect("named");
        let labels = meta.labels.clone().expect("labelled");
        assert_eq!(
            labels.get(keys::MANAGED_BY).map(String::as_str),
            Some(keys::MANAGED_BY_VALUE),
            "{name}"
        );
        assert_eq!(
            labels.get(keys::PART_OF).map(String::as_str),
            Some(keys::PART_OF_VALUE),
            "{name}"
        );
        assert_eq!(
            labels.get(keys::INSTANCE).map(String::as_str),
            Some("alice"),
            "{name}"
        );
        assert_eq!(
            labels.get(keys::STORE).map(String::as_str),
            Some("alice"),
            "{name}"
        );
        assert!(labels.contains_key(keys::COMPONENT), "{name}");
        let owners = meta.owner_references.clone().expect("owned");
        assert_eq!(owners.len(), 1, "{name}");
        assert_eq!(owners[0].uid, TEST_UID);
        assert_eq!(owners[0].kind, names::KIND);
        assert_eq!(owners[0].api_version, names::API_VERSION);
        assert_eq!(owners[0].controller, Some(true));
        match child {
            Child::Namespace(_) => assert_eq!(meta.namespace, None),
            _ => assert_eq!(meta.namespace.as_deref(), Some("store-alice"), "{name}"),
        }
    }
    // Pods carry the same labels as their owners.
    for (component, template) in pods(&o) {
        let labels = pod_labels(&template);
        assert_eq!(
            labels.get(keys::COMPONENT).map(String::as_str),
            Some(component.as_str())
        );
        assert_eq!(
            labels.get(keys::MANAGED_BY).map(String::as_str),
            Some(keys::MANAGED_BY_VALUE)
        );
    }
}

#[test]
fn retain_leaves_every_object_unowned() {
    let o = objects(&Store::test().with_deletion_policy(storefleet_types::DeletionPolicy::Retain));
    for child in o.children() {
        assert_eq!(
            child.metadata().owner_references,
            None,
            "{:?}",
            child.metadata().name
        );
        assert!(
            child
                .metadata()
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(keys::STORE))
        );
    }
}

#[test]
fn apply_order_puts_isolation_first_and_exposure_after_setup() {
    let o = objects(&Store::test());
    let kinds: Vec<&str> = o
        .children()
        .iter()
        .map(|c| match c {
            Child::Namespace(_) => "Namespace",
            Child::ResourceQuota(_) => "ResourceQuota",
            Child::LimitRange(_) => "LimitRange",
            Child::NetworkPolicy(_) => "NetworkPolicy",
            Child::EdgePolicy(_) => "EdgePolicy",
            Child::GeneratedSecret(_) => "Secret",
            Child::Service(_) => "Service",
            Child::Role(_) => "Role",
            Child::RoleBinding(_) => "RoleBinding",
            Child::StatefulSet(_) => "StatefulSet",
            Child::PersistentVolumeClaim(_) => "PersistentVolumeClaim",
            Child::Deployment(_) => "Deployment",
            Child::Ingress(_) => "Ingress",
            Child::HttpRoute(_) => "HTTPRoute",
            Child::ConfigMap(_) => "ConfigMap",
            Child::SetupJob(_) | Child::MigrationJob(_) | Child::RestoreJob(_) => "Job",
            Child::BackupCronJob(_) | Child::CronJob(_) => "CronJob",
            Child::BackupSecret(_) => "Secret",
        })
        .collect();
    assert_eq!(&kinds[..3], ["Namespace", "ResourceQuota", "LimitRange"]);
    // Nothing opens the shop to the edge (nor runs its scheduled work) before the setup Job has
    // installed it with our admin.
    assert_eq!(
        kinds[kinds.len() - 5..],
        ["Job", "CronJob", "CronJob", "EdgePolicy", "Ingress"]
    );
    let first_secret = kinds.iter().position(|k| *k == "Secret").expect("secrets");
    let first_workload = kinds
        .iter()
        .position(|k| *k == "StatefulSet")
        .expect("statefulset");
    let last_policy = kinds
        .iter()
        .rposition(|k| *k == "NetworkPolicy")
        .expect("policies");
    assert!(last_policy < first_secret && first_secret < first_workload);
}

#[test]
fn workload_selectors_select_their_own_pods_only() {
    let o = objects(&Store::test());
    let all = pods(&o);
    let check = |selector: &LabelSelector, component: Component, what: &str| {
        for (c, t) in &all {
            assert_eq!(
                selects(selector, &pod_labels(t)),
                *c == component,
                "{what} vs {c} pod"
            );
        }
    };
    check(
        &woo(&o).database.stateful_set.spec.selector,
        Component::Database,
        "statefulset selector",
    );
    check(
        &woo(&o).storefront.deployment.spec.selector,
        Component::Storefront,
        "deployment selector",
    );
    let svc_selector = |s: &k8s_openapi::api::core::v1::Service| LabelSelector {
        match_labels: s.spec.as_ref().and_then(|s| s.selector.clone()),
        match_expressions: None,
    };
    check(
        &svc_selector(&woo(&o).database.service),
        Component::Database,
        "database service",
    );
    check(
        &svc_selector(&woo(&o).storefront.service),
        Component::Storefront,
        "storefront service",
    );
    // The setup Job runs next to the storefront pod (ReadWriteOnce volume).
    let affinity = spec(&woo(&o).setup.job.spec.as_ref().expect("job").template)
        .affinity
        .as_ref()
        .and_then(|a| a.pod_affinity.as_ref())
        .and_then(|p| {
            p.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .expect("required pod affinity");
    assert_eq!(affinity[0].topology_key, "kubernetes.io/hostname");
    check(
        affinity[0].label_selector.as_ref().expect("selector"),
        Component::Storefront,
        "job affinity",
    );
}

#[test]
fn services_and_ingress_point_at_named_ports_that_exist() {
    let o = objects(&Store::test());
    let port_names = |t: &PodTemplateSpec| -> Vec<String> {
        container(t)
            .ports
            .iter()
            .flatten()
            .filter_map(|p| p.name.clone())
            .collect()
    };
    let db_ports = port_names(&woo(&o).database.stateful_set.spec.template);
    let sf_ports = port_names(&woo(&o).storefront.deployment.spec.template);
    for (svc, ports) in [
        (&woo(&o).database.service, &db_ports),
        (&woo(&o).storefront.service, &sf_ports),
    ] {
        for p in svc
            .spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .expect("ports")
        {
            let target = match p.target_port.expect("target") {
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s,
                other => panic!("numeric target port {other:?}"),
            };
            assert!(ports.contains(&target), "{target} not in {ports:?}");
        }
    }
    assert_eq!(
        woo(&o)
            .database
            .service
            .spec
            .as_ref()
            .and_then(|s| s.cluster_ip.clone())
            .as_deref(),
        Some("None")
    );
    assert_eq!(
        woo(&o).database.stateful_set.spec.service_name.as_deref(),
        Some(child::DATABASE)
    );
    let rules = ingress_of(&o)
        .spec
        .as_ref()
        .and_then(|s| s.rules.clone())
        .expect("rules");
    let backend = rules[0].http.as_ref().expect("http").paths[0]
        .backend
        .service
        .clone()
        .expect("service backend");
    assert_eq!(backend.name, child::STOREFRONT);
    let svc_port_names: Vec<String> = woo(&o)
        .storefront
        .service
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .expect("ports")
        .into_iter()
        .filter_map(|p| p.name)
        .collect();
    assert!(svc_port_names.contains(&backend.port.and_then(|p| p.name).expect("named port")));
}

#[test]
fn every_secret_and_config_reference_resolves() {
    let o = objects(&Store::test());
    let secrets: BTreeMap<String, Vec<String>> = o
        .secrets
        .iter()
        .map(|t| (t.name().to_string(), t.values.keys().cloned().collect()))
        .collect();
    let mut refs = 0;
    for (component, template) in pods(&o) {
        for var in container(&template).env.iter().flatten() {
            if let Some(r) = var
                .value_from
                .as_ref()
                .and_then(|v| v.secret_key_ref.as_ref())
            {
                refs += 1;
                let keys = secrets.get(&r.name).unwrap_or_else(|| {
                    panic!("{component}: {} names missing Secret {}", var.name, r.name)
                });
                assert!(
                    keys.contains(&r.key),
                    "{component}: {} names missing key {}/{}",
                    var.name,
                    r.name,
                    r.key
                );
            }
        }
        for volume in spec(&template).volumes.iter().flatten() {
            if let Some(cm) = &volume.config_map {
                assert_eq!(
                    cm.name,
                    woo(&o).setup.script.metadata.name.clone().expect("name")
                );
            }
            if let Some(pvc) = &volume.persistent_volume_claim {
                assert_eq!(
                    Some(&pvc.claim_name),
                    woo(&o).storefront.volume.metadata.name.as_ref()
                );
            }
        }
        let volumes: Vec<String> = spec(&template)
            .volumes
            .iter()
            .flatten()
            .map(|v| v.name.clone())
            .collect();
        let claims: Vec<String> = woo(&o)
            .database
            .stateful_set
            .spec
            .volume_claim_templates
            .iter()
            .flatten()
            .filter_map(|c| c.metadata.name.clone())
            .collect();
        for m in container(&template).volume_mounts.iter().flatten() {
            assert!(
                volumes.contains(&m.name) || claims.contains(&m.name),
                "{component}: mount {} has no volume",
                m.name
            );
        }
    }
    assert!(
        refs >= 20,
        "database, storefront and setup read their credentials from Secrets ({refs})"
    );
}

#[test]
fn secrets_are_templates_materialized_once() {
    let o = objects(&Store::test());
    let names: Vec<&str> = o.secrets.iter().map(|t| t.name()).collect();
    assert_eq!(
        names,
        [
            child::DATABASE_SECRET,
            child::ADMIN_SECRET,
            child::SALTS_SECRET
        ]
    );
    let admin = &o.secrets[1];
    assert_eq!(
        admin.values["email"],
        Value::Fixed("alice@example.com".into())
    );
    assert_eq!(admin.values["password"], Value::Generated(PASSWORD_LEN));

    let a = admin.materialize(&mut Csprng);
    let b = admin.materialize(&mut Csprng);
    let pw = |s: &k8s_openapi::api::core::v1::Secret| {
        s.string_data.as_ref().expect("data")["password"].clone()
    };
    assert_eq!(pw(&a).len(), PASSWORD_LEN);
    assert!(pw(&a).chars().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(
        pw(&a),
        pw(&b),
        "fresh randomness each time a Secret is created"
    );
    let p = admin.materialize(&mut Placeholder);
    assert_eq!(pw(&p), storefleet_operator::desired::secrets::PLACEHOLDER);
    // Building again yields equal templates: nothing random is ever part of the desired state.
    assert_eq!(objects(&Store::test()).secrets, o.secrets);
}

#[test]
fn setup_job_is_bounded_and_named_after_its_inputs() {
    let o = objects(&Store::test());
    let job = woo(&o).setup.job.clone();
    let spec = job.spec.as_ref().expect("spec");
    assert_eq!(spec.backoff_limit, Some(3));
    assert_eq!(spec.active_deadline_seconds, Some(1200));
    assert_eq!(
        spec.template
            .spec
            .as_ref()
            .expect("pod")
            .restart_policy
            .as_deref(),
        Some("Never")
    );
    let name = job.metadata.name.clone().expect("name");
    assert!(
        name.starts_with(child::SETUP_JOB_PREFIX)
            && name.len() == child::SETUP_JOB_PREFIX.len() + 8,
        "{name}"
    );

    let same = woo(&objects(&Store::test().with_plan(Plan::Medium)))
        .setup
        .job
        .metadata
        .name
        .clone();
    assert_eq!(
        same.as_deref(),
        Some(name.as_str()),
        "a plan change does not re-run the setup"
    );
    let changed_setup = SetupSpec {
        currency: Some("EUR".into()),
        ..SetupSpec::default()
    };
    let other = woo(&objects(&Store::test().with_setup(changed_setup)))
        .setup
        .job
        .metadata
        .name
        .clone();
    assert_ne!(
        other.as_deref(),
        Some(name.as_str()),
        "a setup change is a new Job"
    );
    let renamed = woo(&objects(&Store::test().with_display_name("Alice's Shop")))
        .setup
        .job
        .metadata
        .name
        .clone();
    assert_ne!(renamed.as_deref(), Some(name.as_str()));

    let env: BTreeMap<String, String> = container(&spec.template)
        .env
        .iter()
        .flatten()
        .filter_map(|e| e.value.clone().map(|v| (e.name.clone(), v)))
        .collect();
    assert_eq!(env["STORE_URL"], "http://alice.shop.local");
    assert_eq!(env["PAYMENT_METHODS"], "cod");
    assert_eq!(env["CURRENCY"], "USD");
    assert_eq!(env["SAMPLE_PRODUCTS"], "3");
    assert!(
        !env.contains_key("ADMIN_PASSWORD"),
        "passwords only by Secret reference"
    );
    let script = &woo(&o).setup.script.data.as_ref().expect("data")["setup.sh"];
    assert!(script.contains("wp plugin is-active woocommerce"));
}

#[test]
fn storefront_and_database_volumes() {
    let o = objects(&Store::test().with_sizes("1Gi", "1500Mi"));
    let sf = woo(&o).storefront.volume.spec.clone().expect("spec");
    assert_eq!(sf.access_modes, Some(vec!["ReadWriteOnce".to_string()]));
    assert_eq!(
        sf.resources.and_then(|r| r.requests).expect("requests")["storage"].0,
        "1500Mi"
    );
    let claim = woo(&o)
        .database
        .stateful_set
        .spec
        .volume_claim_templates
        .clone()
        .expect("claims")[0]
        .clone();
    assert_eq!(
        claim
            .spec
            .and_then(|s| s.resources)
            .and_then(|r| r.requests)
            .expect("requests")["storage"]
            .0,
        "1Gi"
    );
    let strategy = woo(&o)
        .storefront
        .deployment
        .spec
        .strategy
        .clone()
        .and_then(|s| s.type_);
    assert_eq!(
        strategy.as_deref(),
        Some("Recreate"),
        "never two pods on a ReadWriteOnce volume"
    );
    let config = OperatorConfig {
        storage_class_name: Some("fast".into()),
        ..OperatorConfig::default()
    };
    let v = validate(&Store::test(), &config).expect("valid");
    assert_eq!(
        woo(&desired::build(&v))
            .storefront
            .volume
            .clone()
            .spec
            .and_then(|s| s.storage_class_name)
            .as_deref(),
        Some("fast")
    );
}

/// WordPress core comes from the storefront's image: every pod that runs WordPress has its
/// docroot in an emptyDir and the files volume's `wp-content` folder mounted in it; the WP-CLI
/// pods get their core from the storefront's image through its entrypoint, with the
/// storefront's environment and no other Secret.
#[test]
fn wordpress_core_comes_from_the_image_and_the_volume_holds_wp_content_only() {
    use k8s_openapi::api::core::v1::PodSpec;
    use storefleet_operator::desired::woocommerce::storefront::{
        CONTENT, CONTENT_DIR, DOCROOT, DOCROOT_DIR, DOCROOT_ROOT, FILES_ROOT,
    };
    let o = objects(&Store::test());
    let w = woo(&o);
    let image = w
        .storefront
        .deployment
        .spec
        .template
        .spec
        .as_ref()
        .expect("pod")
        .containers[0]
        .image
        .clone();
    let mounts =
        |c: &k8s_openapi::api::core::v1::Container| -> Vec<(String, String, Option<String>)> {
            c.volume_mounts
                .iter()
                .flatten()
                .map(|m| (m.name.clone(), m.mount_path.clone(), m.sub_path.clone()))
                .collect()
        };
    let docroot = (
        "docroot".to_string(),
        DOCROOT.to_string(),
        Some(DOCROOT_DIR.to_string()),
    );
    let content = (
        "files".to_string(),
        CONTENT.to_string(),
        Some(CONTENT_DIR.to_string()),
    );
    let check = |what: &str, pod: &PodSpec, wp_cli: bool| {
        let volumes = pod.volumes.as_ref().expect("volumes");
        let scratch = volumes
            .iter()
            .find(|v| v.name == "docroot")
            .expect("docroot");
        assert!(
            scratch.empty_dir.is_some(),
            "{what}: the docroot is an emptyDir"
        );
        let main = &pod.containers[0];
        let main_mounts = mounts(main);
        assert!(main_mounts.contains(&docroot), "{what}: {main_mounts:?}");
        assert!(main_mounts.contains(&content), "{what}: {main_mounts:?}");
        assert!(
            !main_mounts
                .iter()
                .any(|(n, _, sub)| n == "files" && sub.is_none()),
            "{what}: the whole volume is never the docroot"
        );
        let inits = pod.init_containers.as_ref().expect("init containers");
        // First: the docroot and wp-content on the volume made as www-data (the docroot is
        // www-data's own folder), before any mount of wp-content.
        let first = &inits[0];
        assert_eq!(first.image, image, "{what}");
        assert_eq!(
            mounts(first),
            [
                ("docroot".to_string(), DOCROOT_ROOT.to_string(), None),
                ("files".to_string(), FILES_ROOT.to_string(), None)
            ],
            "{what}"
        );
        let script = first.command.as_ref().expect("command").join(" ");
        assert!(
            script.contains(&format!(
                "mkdir -p {DOCROOT_ROOT}/{DOCROOT_DIR} {FILES_ROOT}/{CONTENT_DIR}"
            )),
            "{script}"
        );
        if !wp_cli {
            assert_eq!(
                inits.len(),
                1,
                "{what}: the image's entrypoint does the rest"
            );
            return;
        }
        // Then the storefront image's entrypoint lays out the docroot.
        let core = &inits[1];
        assert_eq!(core.image, image, "{what}");
        let script = core.command.as_ref().expect("command").join(" ");
        assert!(
            script.contains("docker-entrypoint.sh apache2 -v"),
            "{script}"
        );
        assert_eq!(mounts(core), [docroot.clone(), content.clone()], "{what}");
        let names: Vec<&str> = core.env.iter().flatten().map(|e| e.name.as_str()).collect();
        assert!(names.contains(&"WORDPRESS_DB_PASSWORD"), "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("WORDPRESS_") || *n == "WP_ENVIRONMENT_TYPE"),
            "{what}: only the storefront's environment: {names:?}"
        );
    };
    check(
        "storefront",
        w.storefront
            .deployment
            .spec
            .template
            .spec
            .as_ref()
            .expect("pod"),
        false,
    );
    let setup = w
        .setup
        .job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref());
    check("setup", setup.expect("pod"), true);
    let cron = w
        .cron
        .spec
        .job_template
        .spec
        .as_ref()
        .and_then(|j| j.template.spec.as_ref());
    check("cron", cron.expect("pod"), true);

    // Another WordPress image is another setup Job (it runs the new core's database updates).
    let mut newer = Store::test();
    newer.spec.versions = Some(storefleet_types::VersionsSpec {
        wordpress: Some("7.0.4-php8.3-apache".into()),
        ..Default::default()
    });
    let newer = objects(&newer);
    assert_ne!(
        woo(&newer).setup.job.metadata.name,
        w.setup.job.metadata.name
    );
}

#[test]
fn waves_follow_the_apply_order_and_no_pod_runs_before_its_guards() {
    use storefleet_operator::desired::wave::Wave;
    for store in [Store::test(), medusa_store()] {
        let o = objects(&store);
        let children = o.children();
        let waves: Vec<Wave> = children.iter().map(|c| c.wave()).collect();
        assert!(
            waves.windows(2).all(|w| w[0] <= w[1]),
            "the documented order is a valid order of the waves: {waves:?}"
        );
        assert_eq!(waves.first(), Some(&Wave::Namespace));
        assert_eq!(waves.iter().filter(|w| **w == Wave::Namespace).count(), 1);
        // Everything that runs a pod comes after every guard: quota, limits, policies, Secrets.
        for child in &children {
            let runs_pods = matches!(
                child,
                Child::StatefulSet(_)
                    | Child::Deployment(_)
                    | Child::SetupJob(_)
                    | Child::MigrationJob(_)
            );
            assert_eq!(
                child.wave().runs_pods(),
                runs_pods,
                "{:?}",
                child.metadata().name
            );
            let guard = matches!(
                child,
                Child::ResourceQuota(_)
                    | Child::LimitRange(_)
                    | Child::NetworkPolicy(_)
                    | Child::GeneratedSecret(_)
            );
            if guard {
                assert!(!child.wave().runs_pods() && child.wave() > Wave::Namespace);
            }
        }
        // The databases before the migration, the migration before the Deployments.
        let wave_of = |pred: fn(&Child<'_>) -> bool| -> Vec<Wave> {
            children
                .iter()
                .filter(|c| pred(c))
                .map(|c| c.wave())
                .collect()
        };
        let data = wave_of(|c| matches!(c, Child::StatefulSet(_)));
        let deployments = wave_of(|c| matches!(c, Child::Deployment(_)));
        assert!(data.iter().all(|d| deployments.iter().all(|s| d < s)));
        for m in wave_of(|c| matches!(c, Child::MigrationJob(_))) {
            assert!(data.iter().all(|d| *d < m) && deployments.iter().all(|s| m < *s));
        }
        // The route and the edge policies come after the setup Job, in their own wave.
        let setup = wave_of(|c| matches!(c, Child::SetupJob(_)));
        let exposure = wave_of(|c| {
            matches!(
                c,
                Child::EdgePolicy(_) | Child::Ingress(_) | Child::HttpRoute(_)
            )
        });
        assert!(!exposure.is_empty());
        assert!(
            exposure
                .iter()
                .all(|e| *e == Wave::Exposure && setup.iter().all(|s| s < e))
        );
        assert_eq!(waves.last(), Some(&Wave::Exposure));
        // Claims after the quota and limit range that admit their size.
        let quota = wave_of(|c| matches!(c, Child::ResourceQuota(_) | Child::LimitRange(_)));
        let claims = wave_of(|c| matches!(c, Child::PersistentVolumeClaim(_)));
        assert!(!claims.is_empty());
        assert!(claims.iter().all(|c| quota.iter().all(|q| q < c)));
        assert_eq!(Wave::ALL.len(), 8);
    }
}

#[test]
fn wordpress_cron_runs_from_its_cron_job_and_never_in_a_visitors_request() {
    let o = objects(&Store::test());
    let woo = match &o.app {
        AppObjects::Woocommerce(w) => w,
        AppObjects::Medusa(_) => panic!("a WooCommerce store"),
    };
    let storefront = container(&woo.storefront.deployment.spec.template);
    let extra = storefront
        .env
        .iter()
        .flatten()
        .find(|v| v.name == "WORDPRESS_CONFIG_EXTRA")
        .and_then(|v| v.value.clone())
        .unwrap_or_default();
    assert!(
        extra.contains("define('DISABLE_WP_CRON', true);"),
        "{extra}"
    );
    let cron = &woo.cron;
    assert_eq!(cron.metadata.name.as_deref(), Some(child::CRON));
    // The default, H/5: every 5 minutes from a minute of the store's own.
    assert_eq!(
        cron.spec.schedule,
        storefleet_operator::config::spread("H/5 * * * *", "alice")
    );
    assert!(
        cron.spec.schedule.ends_with("-59/5 * * * *"),
        "{}",
        cron.spec.schedule
    );
    assert_eq!(cron.spec.concurrency_policy.as_deref(), Some("Forbid"));
    let job = cron.spec.job_template.spec.as_ref().expect("job");
    let deadline = job.active_deadline_seconds.expect("a deadline");
    assert!(
        deadline < 300,
        "a run ends before the next is due: {deadline}"
    );
    let pod = job.template.spec.as_ref().expect("pod");
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(
        pod.security_context.as_ref().and_then(|s| s.run_as_user),
        Some(33)
    );
    assert!(pod.affinity.is_some(), "on the storefront's node");
    let c = &pod.containers[0];
    // The store's own settings: the same database and salts as the storefront.
    for var in [
        "WORDPRESS_DB_HOST",
        "WORDPRESS_DB_PASSWORD",
        "WORDPRESS_AUTH_KEY",
    ] {
        assert!(
            c.env.iter().flatten().any(|v| v.name == var),
            "{var} in the cron container"
        );
    }
    let command = c.command.clone().unwrap_or_default().join(" ");
    assert!(
        command.contains("wp cron event run --due-now") && command.contains("action-scheduler run"),
        "{command}"
    );
    // The database lets it in (it is one of the store's WordPress pods).
    let labels = job
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let ingress = o
        .network_policies
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some(child::NETPOL_DATABASE_INGRESS))
        .expect("database ingress");
    let admitted = serde_json::to_string(&ingress.spec).expect("json");
    assert!(
        admitted.contains(&format!("\"{}\"", labels[keys::COMPONENT])),
        "{admitted}"
    );
    // Medusa has no WordPress cron (its only CronJob is the checkout probe).
    let medusa = objects(&medusa_store());
    let cron_jobs: Vec<_> = medusa
        .children()
        .iter()
        .filter_map(|c| match c {
            Child::CronJob(c) => c.metadata.name.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(cron_jobs, [child::PROBE]);
}
