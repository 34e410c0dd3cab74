//! A real Kubernetes control plane for tests: etcd, kube-apiserver and kube-controller-manager
//! from `KUBEBUILDER_ASSETS` (the envtest convention), on free loopback ports, in a temporary
//! folder, with keys and certificates made per run.
//!
//! ```text
//!   test ──admin token──► kube-apiserver ◄── kube-controller-manager (GC, namespaces, Deployments,
//!    │                      │   ▲  audit log        StatefulSets, Jobs, quotas, ServiceAccounts)
//!    │                      ▼   │
//!    │                     etcd └── Kubelet stand-in (kubelet.rs): binds pods to one Node and
//!    │                                reports them Ready / Job pods Succeeded or Failed
//!    └─ chart.rs: render the Helm chart, apply its RBAC, act as its ServiceAccount
//! ```
//!
//! [`ControlPlane::start`] returns `None` and prints one `skipped:` line when the assets are not
//! there (a user's machine); when they are there, any failure to start is a test failure. Every
//! process is stopped when the [`ControlPlane`] is dropped, on panic too, and even when the test
//! process is killed (see `process.rs`).

pub mod audit;
pub mod browser;
pub mod chart;
pub mod kubelet;
pub mod node;
pub mod object_store;
pub mod pki;
pub mod ports;
pub mod process;
mod tempdir;
mod wait;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

pub use kubelet::{JobPods, Kubelet};
pub use node::RealNode;
use process::Supervised;
pub use tempdir::TempDir;
pub use wait::eventually;
use wait::{wait_for_etcd, wait_for_readyz};

/// The variable that names the folder with `etcd`, `kube-apiserver`, `kube-controller-manager`.
pub const ASSETS_VAR: &str = "KUBEBUILDER_ASSETS";

/// Why the control plane could not be started or used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// Key or certificate generation failed.
    #[error("certificates: {0}")]
    Pki(String),
    /// A component did not become ready.
    #[error("{component} did not become ready: {detail}")]
    NotReady {
        /// etcd, kube-apiserver, kube-controller-manager.
        component: String,
        /// The last lines of its log, or what was seen.
        detail: String,
    },
    /// A Kubernetes call failed.
    #[error("{what}: {source}")]
    Kube {
        /// What was done.
        what: String,
        /// Why it failed.
        #[source]
        source: kube::Error,
    },
    /// Rendering or reading a manifest failed.
    #[error("{0}")]
    Manifest(String),
}

/// Installs rustls' ring provider for this process (the workspace links two providers).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The folder with the binaries, if the tier can run here.
pub fn assets() -> Result<PathBuf, String> {
    let dir = std::env::var_os(ASSETS_VAR)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{ASSETS_VAR} is not set"))?;
    let dir = PathBuf::from(dir);
    for bin in ["etcd", "kube-apiserver", "kube-controller-manager"] {
        if !dir.join(bin).is_file() {
            return Err(format!("{ASSETS_VAR}={} has no {bin}", dir.display()));
        }
    }
    Ok(dir)
}

/// A free loopback port for a child process (see [`ports`]).
fn free_port() -> Result<u16, Error> {
    ports::free_port().map_err(|source| Error::Io {
        what: "find a free port".into(),
        source,
    })
}

fn random_token() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)]))
        .collect()
}

/// A kubeconfig for `url` trusting `ca`, authenticating with `token`.
pub fn kubeconfig_yaml(url: &str, ca: &Path, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: envtest\n  cluster:\n    server: {url}\n    certificate-authority: {}\nusers:\n- name: user\n  user:\n    token: {token}\ncontexts:\n- name: envtest\n  context:\n    cluster: envtest\n    user: user\ncurrent-context: envtest\n",
        ca.display()
    )
}

/// A client from a kubeconfig file.
pub async fn client_from(kubeconfig: &Path) -> Result<Client, Error> {
    install_crypto_provider();
    let kc = Kubeconfig::read_from(kubeconfig).map_err(|e| {
        Error::Manifest(format!(
            "cannot read kubeconfig {}: {e}",
            kubeconfig.display()
        ))
    })?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| Error::Manifest(format!("bad kubeconfig {}: {e}", kubeconfig.display())))?;
    Client::try_from(config).map_err(|source| Error::Kube {
        what: "client".into(),
        source,
    })
}

/// What runs the control plane's pods.
#[derive(Debug)]
enum Nodes {
    /// The Kubelet stand-in: pods are reported, not run.
    StandIn(Kubelet),
    /// A real node: containerd, kubelet, kube-proxy, scheduler (`node/`).
    Real(Box<RealNode>),
    /// None (yet, or any more): pods stay Pending.
    Nothing,
}

/// Which kind of node a control plane gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeKind {
    StandIn,
    Real,
}

/// etcd + kube-apiserver + kube-controller-manager, and a Kubelet stand-in or a real node.
pub struct ControlPlane {
    // Field order is drop order: the node, then the controller-manager, the apiserver,
    // etcd, and last the folder.
    nodes: Nodes,
    controller_manager: Supervised,
    apiserver: Supervised,
    etcd: Supervised,
    admin: Client,
    url: String,
    ca: PathBuf,
    admin_kubeconfig: PathBuf,
    audit_log: PathBuf,
    dir: TempDir,
}

impl ControlPlane {
    /// Starts a control plane for `test`, or prints one `skipped:` line and returns None when
    /// the assets are absent. Panics when the assets are there but it cannot start.
    pub async fn start(test: &str) -> Option<Self> {
        match assets() {
            Err(why) => {
                println!(
                    "skipped: {test}: real control-plane tier not available ({why}; see README, \"Test tiers\")"
                );
                None
            }
            Ok(dir) => match Self::start_with(&dir).await {
                Ok(cp) => Some(cp),
                Err(e) => panic!(
                    "{test}: cannot start the control plane from {}: {e}",
                    dir.display()
                ),
            },
        }
    }

    /// Starts a control plane with a real node (`node/`) for `test`, with the stand-ins of
    /// `images` (references) imported, or prints one `skipped:` line and returns None when the
    /// node cannot run here (no root, no containerd, no stand-in of one of the images, no
    /// assets). Panics when it could run but does not start.
    pub async fn start_with_real_node(test: &str, images: &[&str]) -> Option<Self> {
        let (dir, node_assets) = match assets()
            .and_then(|dir| Ok((node::assets(&dir, images)?, dir)))
        {
            Ok((node_assets, dir)) => (dir, node_assets),
            Err(why) => {
                println!(
                    "skipped: {test}: real node tier not available ({why}; see README, \"Test tiers\")"
                );
                return None;
            }
        };
        let mut cp = match Self::start_retrying(&dir, NodeKind::Real).await {
            Ok(cp) => cp,
            Err(e) => panic!("{test}: cannot start the control plane: {e}"),
        };
        match RealNode::start(&node_assets, cp.admin(), &cp.admin_kubeconfig).await {
            Ok(node) => cp.nodes = Nodes::Real(Box::new(node)),
            Err(e) => panic!("{test}: cannot start the real node: {e}"),
        }
        Some(cp)
    }

    /// Starts everything from the binaries in `assets`. A component that lost its port to
    /// another process between choosing and binding it is started again on new ports.
    pub async fn start_with(assets: &Path) -> Result<Self, Error> {
        Self::start_retrying(assets, NodeKind::StandIn).await
    }

    async fn start_retrying(assets: &Path, kind: NodeKind) -> Result<Self, Error> {
        const ATTEMPTS: u32 = 4;
        let mut attempt = 1;
        loop {
            match Self::start_once(assets, kind).await {
                Err(Error::NotReady { component, detail })
                    if attempt < ATTEMPTS && ports::is_address_in_use(&detail) =>
                {
                    eprintln!(
                        "envtest: {component} lost its port to another process; starting again on new ports"
                    );
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn start_once(assets: &Path, kind: NodeKind) -> Result<Self, Error> {
        install_crypto_provider();
        let dir = TempDir::new("envtest")?;
        let root = dir.path().to_path_buf();
        let pki = pki::generate(&root)?;

        let etcd_port = free_port()?;
        let peer_port = free_port()?;
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let mut etcd = Supervised::start(
            "etcd",
            &assets.join("etcd"),
            &[
                format!("--data-dir={}", root.join("etcd").display()),
                format!("--listen-client-urls={etcd_url}"),
                format!("--advertise-client-urls={etcd_url}"),
                format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"),
                "--unsafe-no-fsync=true".into(),
                "--name=envtest".into(),
                "--log-level=warn".into(),
                "--quota-backend-bytes=2147483648".into(),
            ],
            &root.join("etcd.log"),
        )?;
        wait_for_etcd(&mut etcd, etcd_port, Duration::from_secs(30)).await?;

        let token = random_token();
        let tokens = root.join("tokens.csv");
        std::fs::write(
            &tokens,
            format!("{token},envtest-admin,envtest-admin,\"system:masters\"\n"),
        )
        .map_err(|source| Error::Io {
            what: "write tokens.csv".into(),
            source,
        })?;
        let audit_policy = root.join("audit-policy.yaml");
        std::fs::write(
            &audit_policy,
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n",
        )
        .map_err(|source| Error::Io {
            what: "write audit policy".into(),
            source,
        })?;
        let audit_log = root.join("audit.log");
        let api_port = free_port()?;
        let url = format!("https://127.0.0.1:{api_port}");
        let mut apiserver = Supervised::start(
            "kube-apiserver",
            &assets.join("kube-apiserver"),
            &[
                format!("--etcd-servers={etcd_url}"),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                format!("--secure-port={api_port}"),
                format!("--tls-cert-file={}", pki.serving_cert.display()),
                format!("--tls-private-key-file={}", pki.serving_key.display()),
                format!("--client-ca-file={}", pki.ca_cert.display()),
                format!("--token-auth-file={}", tokens.display()),
                format!(
                    "--service-account-key-file={}",
                    pki.service_account_public_key.display()
                ),
                format!(
                    "--service-account-signing-key-file={}",
                    pki.service_account_key.display()
                ),
                "--service-account-issuer=https://kubernetes.default.svc".into(),
                "--authorization-mode=RBAC".into(),
                "--service-cluster-ip-range=10.96.0.0/16".into(),
                "--allow-privileged=true".into(),
                // What OpenShift and hardened clusters enable: setting an ownerReference with
                // blockOwnerDeletion needs `update` on the owner's finalizers.
                "--enable-admission-plugins=OwnerReferencesPermissionEnforcement".into(),
                format!("--audit-policy-file={}", audit_policy.display()),
                format!("--audit-log-path={}", audit_log.display()),
                "--audit-log-mode=blocking".into(),
                // Never rotated (the default rotates at 100 MB, which a 1,000-store bench
                // passes): the tests and benches read the whole log.
                "--audit-log-maxsize=1000000".into(),
                "--v=0".into(),
            ],
            &root.join("kube-apiserver.log"),
        )?;
        let admin_kubeconfig = root.join("admin.kubeconfig");
        std::fs::write(
            &admin_kubeconfig,
            kubeconfig_yaml(&url, &pki.ca_cert, &token),
        )
        .map_err(|source| Error::Io {
            what: "write admin kubeconfig".into(),
            source,
        })?;
        let admin = client_from(&admin_kubeconfig).await?;
        wait_for_readyz(&admin, &mut apiserver, Duration::from_secs(90)).await?;

        let mut controller_manager_args = vec![
            format!("--kubeconfig={}", admin_kubeconfig.display()),
            format!(
                "--service-account-private-key-file={}",
                pki.service_account_key.display()
            ),
            format!("--root-ca-file={}", pki.ca_cert.display()),
            "--leader-elect=false".into(),
            "--secure-port=0".into(),
            "--use-service-account-credentials=false".into(),
            // The stand-in sends no kubelet heartbeats: the node lifecycle controller would
            // mark its Node NotReady and evict its pods. A real kubelet needs it (it lifts
            // the `not-ready` taint the kubelet registers with).
            match kind {
                NodeKind::StandIn => {
                    "--controllers=*,-node-lifecycle-controller,-node-ipam-controller"
                }
                NodeKind::Real => "--controllers=*,-node-ipam-controller",
            }
            .into(),
            "--concurrent-gc-syncs=10".into(),
            "--v=0".into(),
        ];
        // The controller-manager's own client limit (default 20 requests/s, burst 30, as in a
        // real cluster): the provisioning bench raises it to show what is the operator's.
        if let Some(qps) = std::env::var("STOREFLEET_ENVTEST_KCM_QPS")
            .ok()
            .and_then(|q| q.parse::<u32>().ok())
        {
            controller_manager_args.push(format!("--kube-api-qps={qps}"));
            controller_manager_args.push(format!("--kube-api-burst={}", qps.saturating_mul(2)));
        }
        if kind == NodeKind::Real {
            // The real node's default StorageClass provisions hostPath volumes.
            controller_manager_args.push("--enable-hostpath-provisioner=true".into());
        }
        let controller_manager = Supervised::start(
            "kube-controller-manager",
            &assets.join("kube-controller-manager"),
            &controller_manager_args,
            &root.join("kube-controller-manager.log"),
        )?;
        // The real node is started by the caller once the control plane runs.
        let nodes = match kind {
            NodeKind::StandIn => Nodes::StandIn(Kubelet::start(admin.clone()).await?),
            NodeKind::Real => Nodes::Nothing,
        };
        let mut cp = Self {
            nodes,
            controller_manager,
            apiserver,
            etcd,
            admin,
            url,
            ca: pki.ca_cert.clone(),
            admin_kubeconfig,
            audit_log,
            dir,
        };
        cp.wait_for_controller_manager(Duration::from_secs(60))
            .await?;
        Ok(cp)
    }

    /// The ServiceAccount controller makes `default` in every namespace: a sign of life.
    async fn wait_for_controller_manager(&mut self, timeout: Duration) -> Result<(), Error> {
        let api: Api<ServiceAccount> = Api::namespaced(self.admin.clone(), "default");
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(_)) = api.get_opt("default").await {
                return Ok(());
            }
            if self.controller_manager.exited() || Instant::now() > deadline {
                return Err(Error::NotReady {
                    component: "kube-controller-manager".into(),
                    detail: self.controller_manager.log_tail(20),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A client with cluster-admin rights (system:masters).
    pub fn admin(&self) -> Client {
        self.admin.clone()
    }

    /// The kubeconfig file of the admin client (for kubectl or a child process).
    pub fn admin_kubeconfig(&self) -> &Path {
        &self.admin_kubeconfig
    }

    /// The apiserver URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The Kubelet stand-in. Panics on a control plane with a real node (its pods really run;
    /// nothing is stood in).
    pub fn kubelet(&self) -> &Kubelet {
        match &self.nodes {
            Nodes::StandIn(kubelet) => kubelet,
            Nodes::Real(_) | Nodes::Nothing => {
                panic!("this control plane was started for a real node: it has no stand-in")
            }
        }
    }

    /// The real node, when the control plane was started with one.
    pub fn real_node(&self) -> Option<&RealNode> {
        match &self.nodes {
            Nodes::Real(node) => Some(node),
            Nodes::StandIn(_) | Nodes::Nothing => None,
        }
    }

    /// Stops the real node now and restores the host (what dropping the control plane does
    /// first); the control plane keeps running. Nothing happens without a real node.
    pub fn stop_real_node(&mut self) {
        if let Nodes::Real(_) = self.nodes {
            self.nodes = Nodes::Nothing;
        }
    }

    /// A folder for the test's own files, removed with the control plane.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The audit log written so far.
    pub fn audit_log(&self) -> &Path {
        &self.audit_log
    }

    /// A kubeconfig (written under [`Self::dir`]) and a client acting as the ServiceAccount
    /// `namespace/name`, with a token from the TokenRequest API.
    pub async fn service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<(PathBuf, Client), Error> {
        use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
        let api: Api<ServiceAccount> = Api::namespaced(self.admin.clone(), namespace);
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                audiences: Some(vec!["https://kubernetes.default.svc".into()]),
                expiration_seconds: Some(3600),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        };
        let issued = api
            .create_token_request(name, &Default::default(), &request)
            .await
            .map_err(|source| Error::Kube {
                what: format!("token for ServiceAccount {namespace}/{name}"),
                source,
            })?;
        let token = issued.status.and_then(|s| s.token).unwrap_or_default();
        let path = self.dir().join(format!("{namespace}-{name}.kubeconfig"));
        std::fs::write(&path, kubeconfig_yaml(&self.url, &self.ca, &token)).map_err(|source| {
            Error::Io {
                what: format!("write {}", path.display()),
                source,
            }
        })?;
        let client = client_from(&path).await?;
        Ok((path, client))
    }

    /// Last lines of a component's log (etcd, kube-apiserver, kube-controller-manager).
    pub fn log_tail(&self, component: &str, lines: usize) -> String {
        match component {
            "etcd" => self.etcd.log_tail(lines),
            "kube-apiserver" => self.apiserver.log_tail(lines),
            _ => self.controller_manager.log_tail(lines),
        }
    }
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("url", &self.url)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}
