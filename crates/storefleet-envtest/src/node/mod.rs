//! A real node for the control plane: containerd, runc and the CNI plugins (Debian), the
//! kubelet, kube-proxy and kube-scheduler (v1.36.2, `KUBEBUILDER_ASSETS`), a DNS for Service
//! names, a default hostPath StorageClass, and the stand-in images of `hack/node-images.sh`, so
//! that a Store's pods really run (`../shared/realnode/README.md` says how this was worked out).
//!
//! ```text
//!  pods ── bridge sfnodeN 10.244.0.1/24 ── host: kube-proxy's Service rules, DNS on :53
//!    │       (no default route; the mangle FORWARD chain drops bridge ⇄ default interface,
//!    │        OUTPUT rejects private ranges on the default interface: nothing leaves)
//!  containerd (own root, state, socket) ◄── kubelet (cgroupfs under /storefleet-node-N) ──► apiserver
//! ```
//!
//! One node at a time on a host (a file lock; nextest's `node` group runs them one by one).
//! Everything it changes on the host is recorded before the first change and undone by the
//! janitor of `host.rs`, pass or fail.

mod dns;
pub mod files;
pub mod host;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, PersistentVolume};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};

use crate::process::Supervised;
use crate::{Error, TempDir, free_port};
use files::Layout;
use host::{Janitor, Snapshot};

/// The variable that names the folders (`:`-separated) of stand-in images (`hack/node-images.sh`).
pub const IMAGES_VAR: &str = "STOREFLEET_NODE_IMAGES";
/// The default StorageClass (the kube-controller-manager's hostPath provisioner).
pub const STORAGE_CLASS: &str = "standard";
/// Where the hostPath provisioner makes its folders.
pub const HOSTPATH_ROOT: &str = "/tmp/hostpath_pv";
/// The lock that keeps nodes on one host one at a time.
const LOCK: &str = "/run/storefleet-envtest-node.lock";

/// What the node needs on this machine.
#[derive(Debug, Clone)]
pub struct NodeAssets {
    /// kubelet, kube-proxy, kube-scheduler.
    pub bin: PathBuf,
    /// The stand-in images to import, as (OCI archive, reference): the sandbox image and the
    /// ones the test asked for.
    pub images: Vec<(PathBuf, String)>,
}

/// Every stand-in image in the folders of `value` (each folder's `refs`: archive → reference).
fn stand_ins(value: &std::ffi::OsStr) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut found = BTreeMap::new();
    for folder in std::env::split_paths(value).filter(|f| !f.as_os_str().is_empty()) {
        let refs = std::fs::read_to_string(folder.join("refs"))
            .map_err(|e| format!("{IMAGES_VAR}: {}/refs: {e}", folder.display()))?;
        for line in refs.lines() {
            if let Some((archive, reference)) = line.split_once(' ') {
                found.insert(reference.trim().to_string(), folder.join(archive.trim()));
            }
        }
    }
    Ok(found)
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// Whether a node can start here with stand-ins of `images` (references, e.g.
/// `docker.io/library/mariadb:11.4.8`), and from what; the reason when it cannot.
pub fn assets(bin: &Path, images: &[&str]) -> Result<NodeAssets, String> {
    if !is_root() {
        return Err("the node needs root (containerd, iptables, mounts)".into());
    }
    for name in ["kubelet", "kube-proxy", "kube-scheduler"] {
        if !bin.join(name).is_file() {
            return Err(format!("{} has no {name}", bin.display()));
        }
    }
    for program in [
        "containerd",
        "containerd-shim-runc-v2",
        "runc",
        "ctr",
        "iptables",
        "iptables-save",
        "ip6tables",
        "ip",
        "setsid",
        "sysctl",
    ] {
        if !on_path(program) {
            return Err(format!("{program} is not installed (make test-deps)"));
        }
    }
    for plugin in ["bridge", "host-local", "portmap", "loopback"] {
        if !Path::new("/usr/lib/cni").join(plugin).is_file() {
            return Err(format!(
                "/usr/lib/cni/{plugin} is missing (containernetworking-plugins; make test-deps)"
            ));
        }
    }
    let folders = std::env::var_os(IMAGES_VAR)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{IMAGES_VAR} is not set (hack/node-images.sh)"))?;
    let found = stand_ins(&folders)?;
    let images = std::iter::once(files::PAUSE_IMAGE)
        .chain(images.iter().copied())
        .map(|reference| {
            found
                .get(reference)
                .map(|archive| (archive.clone(), reference.to_string()))
                .ok_or_else(|| {
                    format!(
                        "no stand-in for {reference} in {IMAGES_VAR}={} (hack/node-images.sh did not build it)",
                        folders.to_string_lossy()
                    )
                })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(NodeAssets {
        bin: bin.to_path_buf(),
        images,
    })
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(io(format!("write {}", path.display())))
}

/// Runs a host command (ip, iptables, sysctl, ctr, ...); its output, or its error output.
fn sh(program: &str, args: &[&str]) -> Result<String, Error> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(io(format!("run {program}")))?;
    if !out.status.success() {
        return Err(Error::Manifest(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The interface of the default route, if the machine has one.
fn default_interface() -> Option<String> {
    let out = sh("ip", &["-4", "route", "show", "default"]).ok()?;
    let mut words = out.split_whitespace();
    words.find(|w| *w == "dev")?;
    words.next().map(str::to_string)
}

/// The confinement of the README (mandatory): nothing from the pod or Service ranges leaves the
/// machine. Each rule carries `tag`, by which the janitor removes it.
fn confinement_rules(bridge: &str, default_if: &str, tag: &str) -> Vec<Vec<String>> {
    let comment = |mut rule: Vec<String>| {
        rule.extend(["-m", "comment", "--comment", tag].map(String::from));
        rule
    };
    let mut rules = vec![
        comment(
            [
                "-t", "mangle", "-I", "FORWARD", "-i", bridge, "-o", default_if, "-j", "DROP",
            ]
            .map(String::from)
            .to_vec(),
        ),
        comment(
            [
                "-t", "mangle", "-I", "FORWARD", "-i", default_if, "-o", bridge, "-j", "DROP",
            ]
            .map(String::from)
            .to_vec(),
        ),
    ];
    for range in ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] {
        rules.push(comment(
            [
                "-I", "OUTPUT", "-o", default_if, "-d", range, "-j", "REJECT",
            ]
            .map(String::from)
            .to_vec(),
        ));
    }
    rules
}

/// A running node. Dropping it stops everything and restores the host.
pub struct RealNode {
    // Drop order: the background tasks, the components, then the janitor, the folder, the lock.
    tasks: Vec<tokio::task::JoinHandle<()>>,
    components: Vec<Supervised>,
    janitor: Janitor,
    snapshot: Snapshot,
    layout: Layout,
    dir: TempDir,
    _lock: File,
}

impl std::fmt::Debug for RealNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealNode")
            .field("dir", &self.dir)
            .field("bridge", &self.layout.bridge)
            .finish_non_exhaustive()
    }
}

impl RealNode {
    /// Starts the node against the control plane whose admin kubeconfig is `kubeconfig`.
    pub async fn start(
        assets: &NodeAssets,
        admin: Client,
        kubeconfig: &Path,
    ) -> Result<Self, Error> {
        let lock = File::create(LOCK).map_err(io(format!("create {LOCK}")))?;
        lock.lock().map_err(io(format!("lock {LOCK}")))?;
        let dir = TempDir::new("node")?;
        let id = std::process::id();
        let layout = Layout {
            dir: dir.path().to_path_buf(),
            bridge: format!("sfnode{}", id % 100_000),
            cgroup_root: format!("storefleet-node-{id}"),
            kubelet_port: free_port()?,
            kubelet_healthz_port: free_port()?,
            proxy_healthz_port: free_port()?,
            proxy_metrics_port: free_port()?,
            kubeconfig: kubeconfig.to_path_buf(),
        };
        let snapshot = Snapshot::take()?;
        let foreign = snapshot.foreign_chains();
        if !foreign.is_empty() {
            return Err(Error::Manifest(format!(
                "this host already has Kubernetes iptables chains ({}): another node runs here",
                foreign.join(", ")
            )));
        }
        let tag = layout.cgroup_root.clone();
        // The janitor first: from here on, whatever happens, the host is restored.
        let janitor = Janitor::start(dir.path(), &host::teardown_script(&layout, &snapshot, &tag))?;
        let mut node = Self {
            tasks: Vec::new(),
            components: Vec::new(),
            janitor,
            snapshot,
            layout,
            dir,
            _lock: lock,
        };
        node.network(&tag)?;
        node.start_containerd().await?;
        node.import_images(assets)?;
        node.start_dns(admin.clone()).await?;
        node.start_kubernetes(assets)?;
        node.wait_ready(&admin, Duration::from_secs(120)).await?;
        node.storage(admin).await?;
        Ok(node)
    }

    /// The bridge with its address, forwarding on it only, and the confinement rules.
    fn network(&mut self, tag: &str) -> Result<(), Error> {
        let l = &self.layout;
        for dir in [
            l.cni_conf_dir(),
            l.cni_ipam_dir(),
            l.pod_logs(),
            l.kubelet_root(),
            l.dir.join("pids"),
        ] {
            std::fs::create_dir_all(&dir).map_err(io(format!("create {}", dir.display())))?;
        }
        if let Some(default_if) = default_interface() {
            for rule in confinement_rules(&l.bridge, &default_if, tag) {
                let args: Vec<&str> = rule.iter().map(String::as_str).collect();
                sh("iptables", &args)?;
            }
        }
        sh("ip", &["link", "add", &l.bridge, "type", "bridge"])?;
        sh(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/24", files::BRIDGE_ADDRESS),
                "dev",
                &l.bridge,
            ],
        )?;
        sh("ip", &["link", "set", &l.bridge, "up"])?;
        // The host's own traffic to Services goes onto the bridge (kube-proxy translates it
        // there), never to the default route; the route goes with the bridge.
        sh(
            "ip",
            &[
                "route",
                "add",
                files::SERVICE_CIDR,
                "dev",
                &l.bridge,
                "src",
                files::BRIDGE_ADDRESS,
            ],
        )?;
        sh(
            "sysctl",
            &[
                "-q",
                "-w",
                &format!("net.ipv4.conf.{}.forwarding=1", l.bridge),
            ],
        )?;
        write(
            &l.cni_conf_dir().join("10-storefleet.conflist"),
            &files::cni_conflist(l),
        )?;
        write(&l.resolv_conf(), "")?;
        Ok(())
    }

    fn supervise(&mut self, name: &str, binary: &Path, args: &[String]) -> Result<(), Error> {
        let log = self.layout.dir.join(format!("{name}.log"));
        let process = Supervised::start(name, binary, args, &log)?;
        write(
            &self.layout.dir.join("pids").join(name),
            &process.pid().to_string(),
        )?;
        self.components.push(process);
        Ok(())
    }

    async fn start_containerd(&mut self) -> Result<(), Error> {
        let config = self.layout.dir.join("containerd.toml");
        write(&config, &files::containerd_toml(&self.layout))?;
        // A stray pull fails here instead of reaching out (the proxy is set for this child only).
        self.supervise(
            "containerd",
            Path::new("/usr/bin/env"),
            &[
                "HTTP_PROXY=http://127.0.0.1:9".into(),
                "HTTPS_PROXY=http://127.0.0.1:9".into(),
                "NO_PROXY=".into(),
                "containerd".into(),
                format!("--config={}", config.display()),
            ],
        )?;
        let socket = self.layout.containerd_socket();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !socket.exists() {
            if Instant::now() > deadline
                || self.components.last_mut().is_some_and(Supervised::exited)
            {
                return Err(self.not_ready("containerd"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    fn not_ready(&self, component: &str) -> Error {
        Error::NotReady {
            component: component.into(),
            detail: self.log_tail(component, 20),
        }
    }

    /// The stand-in images into containerd's `k8s.io` namespace, under their references.
    fn import_images(&mut self, assets: &NodeAssets) -> Result<(), Error> {
        // All at once: each import is mostly waiting on the disk (a 1 GB layer is written
        // twice: the content store, the snapshot).
        let socket = self.layout.containerd_socket().display().to_string();
        let imports = assets
            .images
            .iter()
            .map(|(archive, reference)| {
                Command::new("ctr")
                    .args(["--address", &socket, "-n", "k8s.io", "images", "import"])
                    .arg(archive)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map(|child| (reference, child))
                    .map_err(io("run ctr images import"))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let mut failed = Vec::new();
        for (reference, child) in imports {
            let out = child
                .wait_with_output()
                .map_err(io("wait for ctr images import"))?;
            if !out.status.success() {
                failed.push(format!(
                    "{reference}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::Manifest(format!(
                "ctr images import: {}",
                failed.join("; ")
            )))
        }
    }

    async fn start_dns(&mut self, admin: Client) -> Result<(), Error> {
        let socket = tokio::net::UdpSocket::bind((files::BRIDGE_ADDRESS, 53))
            .await
            .map_err(io(format!("bind DNS on {}:53", files::BRIDGE_ADDRESS)))?;
        self.tasks.push(tokio::spawn(dns::serve(admin, socket)));
        Ok(())
    }

    /// The kubelet's cgroup root, in every cgroup v1 hierarchy (the kubelet wants it to exist;
    /// a new cpuset starts empty and takes its parent's CPUs and memory nodes).
    fn cgroups(&self) -> Result<(), Error> {
        let entries = std::fs::read_dir("/sys/fs/cgroup").map_err(io("read /sys/fs/cgroup"))?;
        for hierarchy in entries.flatten().map(|e| e.path()) {
            if !hierarchy.join("cgroup.procs").is_file() || hierarchy.ends_with("unified") {
                continue;
            }
            let dir = hierarchy.join(&self.layout.cgroup_root);
            std::fs::create_dir_all(&dir).map_err(io(format!("create {}", dir.display())))?;
            for file in ["cpuset.cpus", "cpuset.mems"] {
                if let Ok(value) = std::fs::read_to_string(hierarchy.join(file)) {
                    write(&dir.join(file), value.trim())?;
                }
            }
        }
        Ok(())
    }

    fn start_kubernetes(&mut self, assets: &NodeAssets) -> Result<(), Error> {
        self.cgroups()?;
        let l = self.layout.clone();
        let kubelet_config = l.dir.join("kubelet.yaml");
        write(&kubelet_config, &files::kubelet_config(&l))?;
        self.supervise(
            "kubelet",
            &assets.bin.join("kubelet"),
            &[
                format!("--config={}", kubelet_config.display()),
                format!("--kubeconfig={}", l.kubeconfig.display()),
                format!("--root-dir={}", l.kubelet_root().display()),
                format!("--cert-dir={}", l.dir.join("kubelet-pki").display()),
                format!("--node-ip={}", files::BRIDGE_ADDRESS),
                format!("--hostname-override={}", files::NODE_NAME),
                "--v=1".into(),
            ],
        )?;
        let proxy_config = l.dir.join("kube-proxy.yaml");
        write(&proxy_config, &files::kube_proxy_config(&l))?;
        self.supervise(
            "kube-proxy",
            &assets.bin.join("kube-proxy"),
            &[
                format!("--config={}", proxy_config.display()),
                "--v=1".into(),
            ],
        )?;
        let scheduler_port = free_port()?;
        self.supervise(
            "kube-scheduler",
            &assets.bin.join("kube-scheduler"),
            &[
                format!("--kubeconfig={}", l.kubeconfig.display()),
                format!("--authentication-kubeconfig={}", l.kubeconfig.display()),
                format!("--authorization-kubeconfig={}", l.kubeconfig.display()),
                "--leader-elect=false".into(),
                "--bind-address=127.0.0.1".into(),
                format!("--secure-port={scheduler_port}"),
                "--v=1".into(),
            ],
        )?;
        Ok(())
    }

    async fn wait_ready(&mut self, admin: &Client, timeout: Duration) -> Result<(), Error> {
        let nodes: Api<Node> = Api::all(admin.clone());
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(node)) = nodes.get_opt(files::NODE_NAME).await {
                let ready = node
                    .status
                    .and_then(|s| s.conditions)
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                if ready {
                    return Ok(());
                }
            }
            if let Some(dead) = self.components.iter_mut().position(Supervised::exited) {
                let name = self.components[dead].name().to_string();
                return Err(self.not_ready(&name));
            }
            if Instant::now() > deadline {
                return Err(self.not_ready("kubelet"));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The default StorageClass, and a watch that opens each provisioned folder to every user
    /// (the hostPath provisioner makes them root-only and fsGroup does not apply to hostPath; a
    /// local-path class, as kind's, makes them 0777) and records it for the janitor.
    async fn storage(&mut self, admin: Client) -> Result<(), Error> {
        let class = StorageClass {
            metadata: ObjectMeta {
                name: Some(STORAGE_CLASS.into()),
                annotations: Some(BTreeMap::from([(
                    "storageclass.kubernetes.io/is-default-class".to_string(),
                    "true".to_string(),
                )])),
                ..ObjectMeta::default()
            },
            provisioner: "kubernetes.io/host-path".into(),
            reclaim_policy: Some("Delete".into()),
            volume_binding_mode: Some("Immediate".into()),
            ..StorageClass::default()
        };
        Api::<StorageClass>::all(admin.clone())
            .create(&PostParams::default(), &class)
            .await
            .map_err(|source| Error::Kube {
                what: "create the default StorageClass".into(),
                source,
            })?;
        let record = self.layout.dir.join("volumes");
        let volumes: Api<PersistentVolume> = Api::all(admin);
        self.tasks.push(tokio::spawn(async move {
            let mut events = watcher(volumes, watcher::Config::default())
                .default_backoff()
                .applied_objects()
                .boxed();
            while let Some(Ok(pv)) = events.next().await {
                let Some(path) = pv.spec.and_then(|s| s.host_path).map(|h| h.path) else {
                    continue;
                };
                if !path.starts_with(HOSTPATH_ROOT) {
                    continue;
                }
                use std::io::Write;
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777));
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&record)
                {
                    let _ = writeln!(f, "{path}");
                }
            }
        }));
        Ok(())
    }

    /// The node's folder (logs of every component: `<name>.log`).
    pub fn dir(&self) -> &Path {
        &self.layout.dir
    }

    /// The last lines of a component's log (containerd, kubelet, kube-proxy, kube-scheduler).
    pub fn log_tail(&self, component: &str, lines: usize) -> String {
        self.components
            .iter()
            .find(|c| c.name() == component)
            .map(|c| c.log_tail(lines))
            .unwrap_or_default()
    }

    /// The host as it was before the node started (to compare with after its teardown).
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The bridge's name.
    pub fn bridge(&self) -> &str {
        &self.layout.bridge
    }

    /// The cgroup the pods live under.
    pub fn cgroup_root(&self) -> &str {
        &self.layout.cgroup_root
    }

    /// Runs `ctr` against the node's containerd (e.g. `images ls -q`).
    pub fn ctr(&self, args: &[&str]) -> Result<String, Error> {
        let socket = self.layout.containerd_socket().display().to_string();
        let mut all = vec!["--address", socket.as_str(), "-n", "k8s.io"];
        all.extend_from_slice(args);
        sh("ctr", &all)
    }
}

impl Drop for RealNode {
    fn drop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        // The janitor kills what runs by pid, in order; the guards then find their binaries gone.
        self.janitor.finish();
        self.components.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confinement_drops_both_directions_and_rejects_private_ranges() {
        let rules = confinement_rules("sfnode1", "eth0", "tag");
        let text: Vec<String> = rules.iter().map(|r| r.join(" ")).collect();
        assert!(text.contains(
            &"-t mangle -I FORWARD -i sfnode1 -o eth0 -j DROP -m comment --comment tag".to_string()
        ));
        assert!(text.contains(
            &"-t mangle -I FORWARD -i eth0 -o sfnode1 -j DROP -m comment --comment tag".to_string()
        ));
        for range in ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] {
            assert!(
                text.iter()
                    .any(|t| t.contains(range) && t.contains("REJECT")),
                "{range}"
            );
        }
    }
}
