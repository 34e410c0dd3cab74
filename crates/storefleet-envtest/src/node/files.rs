//! What the node's components read: containerd's config, the CNI conflist, the kubelet's and
//! kube-proxy's configurations. Pure: every path and port comes in through [`Layout`].

use std::path::{Path, PathBuf};

/// The pod network: one bridge, one /24 of pods, the Service range of the control plane.
pub const BRIDGE_ADDRESS: &str = "10.244.0.1";
/// The pods' subnet on the bridge.
pub const POD_SUBNET: &str = "10.244.0.0/24";
/// The pod range kube-proxy and the routes know.
pub const CLUSTER_CIDR: &str = "10.244.0.0/16";
/// The control plane's `--service-cluster-ip-range`.
pub const SERVICE_CIDR: &str = "10.96.0.0/16";
/// The Node's name. `localhost` resolves to 127.0.0.1, where the kubelet listens, without a
/// change to `/etc/hosts` (the apiserver reaches the kubelet by the Hostname address).
pub const NODE_NAME: &str = "localhost";
/// The sandbox (pause) image, built by `hack/node-images.sh`.
pub const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.10";
/// The cluster's DNS domain.
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// Where everything of one node lives.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The node's folder.
    pub dir: PathBuf,
    /// The bridge's name (unique per run, at most 15 characters).
    pub bridge: String,
    /// The cgroup every pod lives under, in each hierarchy (unique per run).
    pub cgroup_root: String,
    /// The kubelet's port on 127.0.0.1.
    pub kubelet_port: u16,
    /// The kubelet's healthz port on 127.0.0.1.
    pub kubelet_healthz_port: u16,
    /// kube-proxy's healthz port on 127.0.0.1.
    pub proxy_healthz_port: u16,
    /// kube-proxy's metrics port on 127.0.0.1.
    pub proxy_metrics_port: u16,
    /// The control plane's admin kubeconfig (every node component uses it: the test apiserver
    /// has no node certificates; the node tier is about workloads, not node authorization).
    pub kubeconfig: PathBuf,
}

impl Layout {
    /// containerd's socket.
    pub fn containerd_socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }

    /// containerd's persistent root (content, snapshots).
    pub fn containerd_root(&self) -> PathBuf {
        self.dir.join("containerd-root")
    }

    /// containerd's state (task bundles, rootfs mounts).
    pub fn containerd_state(&self) -> PathBuf {
        self.dir.join("containerd-state")
    }

    /// runc's state folder for this node's containers.
    pub fn runc_root(&self) -> PathBuf {
        self.dir.join("runc")
    }

    /// The CNI configuration folder.
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.dir.join("cni")
    }

    /// host-local IPAM's leases.
    pub fn cni_ipam_dir(&self) -> PathBuf {
        self.dir.join("cni-ipam")
    }

    /// The kubelet's root folder (pod volumes are mounted under it).
    pub fn kubelet_root(&self) -> PathBuf {
        self.dir.join("kubelet")
    }

    /// The pods' logs.
    pub fn pod_logs(&self) -> PathBuf {
        self.dir.join("pod-logs")
    }

    /// The resolv.conf the kubelet hands to pods with `dnsPolicy: Default`.
    pub fn resolv_conf(&self) -> PathBuf {
        self.dir.join("resolv.conf")
    }
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// containerd 1.6 (`version = 2`): its own root, state and socket; what this VM needs
/// (`restrict_oom_score_adj`: no CAP_SYS_RESOURCE; no AppArmor; cgroupfs), our pause image and
/// CNI folder.
pub fn containerd_toml(l: &Layout) -> String {
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{runc}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"
"#,
        root = p(&l.containerd_root()),
        state = p(&l.containerd_state()),
        socket = p(&l.containerd_socket()),
        pause = PAUSE_IMAGE,
        runc = p(&l.runc_root()),
        cni = p(&l.cni_conf_dir()),
    )
}

/// The bridge CNI: no gateway role (that would turn on the machine-wide `ip_forward`), no
/// masquerade, routes to the pod and Service ranges only (no default route: nothing leaves).
pub fn cni_conflist(l: &Layout) -> String {
    serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "storefleet-node",
        "plugins": [
            {
                "type": "bridge",
                "bridge": l.bridge,
                "isGateway": false,
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "dataDir": p(&l.cni_ipam_dir()),
                    "ranges": [[{"subnet": POD_SUBNET, "gateway": BRIDGE_ADDRESS}]],
                    "routes": [{"dst": CLUSTER_CIDR}, {"dst": SERVICE_CIDR}]
                }
            },
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]
    })
    .to_string()
}

/// The kubelet: cgroup v1 with cgroupfs under a cgroup of its own, loopback only, anonymous +
/// AlwaysAllow (loopback; the test apiserver has no kubelet client certificate), the harness's
/// DNS, eviction thresholds that a shared disk does not trip.
pub fn kubelet_config(l: &Layout) -> String {
    format!(
        r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /{cgroup_root}
failSwapOn: false
address: 127.0.0.1
port: {port}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {healthz}
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
containerRuntimeEndpoint: unix://{socket}
resolvConf: {resolv}
podLogsDir: {logs}
clusterDNS: [{dns}]
clusterDomain: {domain}
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
maxPods: 110
syncFrequency: 10s
fileCheckFrequency: 5s
nodeStatusUpdateFrequency: 5s
"#,
        cgroup_root = l.cgroup_root,
        port = l.kubelet_port,
        healthz = l.kubelet_healthz_port,
        socket = p(&l.containerd_socket()),
        resolv = p(&l.resolv_conf()),
        logs = p(&l.pod_logs()),
        dns = BRIDGE_ADDRESS,
        domain = CLUSTER_DOMAIN,
    )
}

/// kube-proxy in iptables mode: loopback listeners, NodePorts on the bridge address only, the
/// conntrack sysctls left alone, Service traffic masqueraded (replies come back through the host
/// whether or not the bridge passes frames to iptables).
pub fn kube_proxy_config(l: &Layout) -> String {
    format!(
        r#"apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: {kubeconfig}
mode: iptables
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:{healthz}
metricsBindAddress: 127.0.0.1:{metrics}
nodePortAddresses: ["{bridge}/32"]
clusterCIDR: {cluster}
hostnameOverride: {node}
conntrack:
  maxPerCore: 0
  min: 0
iptables:
  masqueradeAll: true
  syncPeriod: 10s
  minSyncPeriod: 0s
"#,
        kubeconfig = p(&l.kubeconfig),
        healthz = l.proxy_healthz_port,
        metrics = l.proxy_metrics_port,
        bridge = BRIDGE_ADDRESS,
        cluster = CLUSTER_CIDR,
        node = NODE_NAME,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            dir: PathBuf::from("/tmp/n"),
            bridge: "sfnode1".into(),
            cgroup_root: "storefleet-node-1".into(),
            kubelet_port: 10,
            kubelet_healthz_port: 11,
            proxy_healthz_port: 12,
            proxy_metrics_port: 13,
            kubeconfig: PathBuf::from("/tmp/admin.kubeconfig"),
        }
    }

    #[test]
    fn pods_get_no_default_route_and_no_gateway_role() {
        let conf: serde_json::Value = serde_json::from_str(&cni_conflist(&layout())).unwrap();
        let bridge = &conf["plugins"][0];
        assert_eq!(bridge["isGateway"], false);
        assert_eq!(bridge["ipMasq"], false);
        let routes: Vec<&str> = bridge["ipam"]["routes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["dst"].as_str().unwrap())
            .collect();
        assert_eq!(routes, [CLUSTER_CIDR, SERVICE_CIDR]);
        assert!(!routes.contains(&"0.0.0.0/0"));
    }

    #[test]
    fn every_path_is_under_the_nodes_folder() {
        let l = layout();
        for text in [containerd_toml(&l), kubelet_config(&l)] {
            for line in text.lines().filter(|l| l.contains("/tmp/")) {
                assert!(
                    line.contains("/tmp/n/"),
                    "outside the node's folder: {line}"
                );
            }
        }
        assert!(kubelet_config(&l).contains("cgroupRoot: /storefleet-node-1\n"));
        assert!(containerd_toml(&l).contains("restrict_oom_score_adj = true"));
    }
}
