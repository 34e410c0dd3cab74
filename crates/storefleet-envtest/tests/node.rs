//! The real node on the real control plane: a restricted pod runs from a stand-in image, a Job
//! reaches it through its Service by name (kube-proxy, the harness's DNS), a name outside the
//! cluster does not resolve and an address outside the machine is not reached; and stopping the
//! node leaves no process, mount, cgroup, bridge, iptables rule or sysctl change behind.

use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, LogParams, PostParams};
use serde_json::json;
use storefleet_envtest::ControlPlane;
use storefleet_envtest::node::host::Snapshot;

const NS: &str = "node-test";
/// The stand-in of the WP-CLI image: busybox `httpd` and PHP's HTTP and socket functions, uid 33.
const IMAGE: &str = "docker.io/library/wordpress:cli-2.12.0-php8.3";

fn restricted(command: &str) -> serde_json::Value {
    json!({
        "automountServiceAccountToken": false,
        "enableServiceLinks": false,
        "restartPolicy": "Never",
        "securityContext": {"runAsNonRoot": true, "runAsUser": 33, "runAsGroup": 33,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "c", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", command],
            "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                                "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]
        }],
        "volumes": [{"name": "tmp", "emptyDir": {}}]
    })
}

async fn job_outcome(jobs: &Api<Job>, pods: &Api<Pod>, name: &str) -> (bool, String) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let job = jobs.get(name).await.expect("job");
        let status = job.status.unwrap_or_default();
        let done = status.succeeded.unwrap_or(0) > 0;
        if done || status.failed.unwrap_or(0) > 0 {
            let pod = pods
                .list(&kube::api::ListParams::default().labels(&format!("job-name={name}")))
                .await
                .expect("pods")
                .items
                .into_iter()
                .next()
                .expect("the job's pod");
            let log = pods
                .logs(
                    &pod.metadata.name.unwrap_or_default(),
                    &LogParams::default(),
                )
                .await
                .unwrap_or_else(|e| format!("(no log: {e})"));
            return (done, log);
        }
        assert!(Instant::now() < deadline, "job {name} did not finish");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn job(name: &str, command: &str) -> Job {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {"spec": restricted(command)}}
    }))
    .expect("job")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_run_reach_services_by_name_stay_confined_and_the_host_is_restored() {
    let Some(mut cp) = ControlPlane::start_with_real_node(
        "pods_run_reach_services_by_name_stay_confined_and_the_host_is_restored",
        &[IMAGE],
    )
    .await
    else {
        return;
    };
    println!(
        "node tier: stand-in images built from Debian packages with the official start-up files, not the official images"
    );
    let node = cp.real_node().expect("a real node");
    let before = node.snapshot().clone();
    let bridge = node.bridge().to_string();
    let cgroup = node.cgroup_root().to_string();
    let dir = node.dir().to_path_buf();
    cp.ensure_namespace(NS).await.expect("namespace");
    let client = cp.admin();

    // A restricted web server (busybox httpd) behind a Service.
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let mut web_spec = restricted(
        "mkdir -p /tmp/www && echo served-by-a-real-pod > /tmp/www/index.html && exec busybox httpd -f -p 8080 -h /tmp/www",
    );
    web_spec["containers"][0]["readinessProbe"] =
        json!({"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1});
    let web: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": web_spec
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &web)
        .await
        .expect("web pod");
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}
    }))
    .expect("service");
    Api::<Service>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &service)
        .await
        .expect("service");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let pod = pods.get("web").await.expect("pod");
        let status = pod.status.clone();
        let ready = pod
            .status
            .and_then(|s| s.conditions)
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the web pod did not become ready: {status:?}\nkubelet:\n{}",
            cp.real_node()
                .map(|n| n.log_tail("kubelet", 30))
                .unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The host reaches the Service (its range is routed onto the bridge, where kube-proxy's rules
    // translate it). kube-proxy programs a Service a moment after its endpoint is ready: until
    // then the address is routed onto the bridge untranslated and nothing answers ("No route to
    // host", seen once in CI), so the host waits for the rules before any pod is asked to use them.
    let service = Api::<Service>::namespaced(client.clone(), NS)
        .get("web")
        .await
        .expect("service");
    let ip = service.spec.and_then(|s| s.cluster_ip).expect("cluster IP");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = std::process::Command::new("curl")
            .args(["-sS", "-m", "5", &format!("http://{ip}/")])
            .output()
            .expect("curl");
        if String::from_utf8_lossy(&out.stdout).trim() == "served-by-a-real-pod" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the host never reached the Service at {ip}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    jobs.create(
        &PostParams::default(),
        &job(
            "reach",
            "php -r 'echo file_get_contents(\"http://web/\"), file_get_contents(\"http://web.node-test.svc.cluster.local/\");'",
        ),
    )
    .await
    .expect("job");
    let (ok, log) = job_outcome(&jobs, &pods, "reach").await;
    assert!(ok, "a pod reaches a Service by its name: {log}");
    assert_eq!(log.matches("served-by-a-real-pod").count(), 2, "{log}");

    // Nothing outside the cluster: no name resolves, no address outside the machine is reached.
    jobs.create(
        &PostParams::default(),
        &job(
            "outside",
            "php -r '
               if (gethostbyname(\"deb.debian.org\") !== \"deb.debian.org\") { echo \"resolved\"; exit(1); }
               if (@fsockopen(\"192.0.2.1\", 80, $errno, $error, 5)) { echo \"reached\"; exit(1); }
               echo \"confined\";'",
        ),
    )
    .await
    .expect("job");
    let (ok, log) = job_outcome(&jobs, &pods, "outside").await;
    assert!(ok && log.contains("confined"), "nothing leaves: {log}");

    // Stopping the node restores the host.
    cp.stop_real_node();
    let after = Snapshot::take().expect("snapshot");
    assert_eq!(after.sysctls, before.sysctls, "sysctls restored");
    assert_eq!(after.netns, before.netns, "no network namespace left");
    assert_eq!(after.iptables, before.iptables, "iptables as before");
    let links = std::process::Command::new("ip")
        .args(["link", "show", &bridge])
        .output()
        .expect("ip");
    assert!(!links.status.success(), "the bridge {bridge} is gone");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(
        !mounts.contains(&dir.display().to_string()),
        "no mount under {}",
        dir.display()
    );
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup")
        .expect("cgroups")
        .flatten()
    {
        assert!(
            !hierarchy.path().join(&cgroup).exists(),
            "cgroup {cgroup} removed from {}",
            hierarchy.path().display()
        );
    }
    let leftover: Vec<String> = std::fs::read_dir("/proc")
        .expect("proc")
        .flatten()
        .filter_map(|p| std::fs::read(p.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&dir.display().to_string()))
        .collect();
    assert!(
        leftover.is_empty(),
        "processes of the node remain: {leftover:?}"
    );
    assert!(!dir.exists(), "the node's folder is removed");
}
