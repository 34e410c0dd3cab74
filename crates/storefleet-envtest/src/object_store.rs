//! A real S3-compatible object store on loopback: one Garage node (`STOREFLEET_GARAGE`, the
//! binary unpacked by `hack/test-assets.sh` from `../shared/fixtures/object-store/`), with one
//! bucket and one key allowed to read and write it. Stopped (and its folder removed) on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::process::Supervised;
use crate::{Error, TempDir, ports};

/// The variable naming the Garage binary.
pub const GARAGE_VAR: &str = "STOREFLEET_GARAGE";
/// The region Garage answers for.
pub const REGION: &str = "garage";

/// The Garage binary, or why the object store cannot run here.
pub fn garage() -> Result<PathBuf, String> {
    let path = std::env::var_os(GARAGE_VAR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| format!("{GARAGE_VAR} is not set"))?;
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{GARAGE_VAR}={} is not a file", path.display()))
    }
}

/// One Garage node with a bucket and a key.
#[derive(Debug)]
pub struct ObjectStore {
    dir: TempDir,
    binary: PathBuf,
    port: u16,
    address: String,
    bucket: String,
    access_key: String,
    secret_key: String,
    server: Supervised,
}

impl ObjectStore {
    /// Starts a node on loopback, lays it out, and makes `bucket` with a key that may read and
    /// write it.
    pub fn start(binary: &Path, bucket: &str) -> Result<Self, Error> {
        Self::start_on(binary, bucket, "127.0.0.1", None)
    }

    /// [`ObjectStore::start`] with its S3 API on `address` (e.g. the node tier's bridge, which
    /// pods reach) and port `s3_port` (a free one if None); RPC and admin stay on loopback.
    pub fn start_on(
        binary: &Path,
        bucket: &str,
        address: &str,
        s3_port: Option<u16>,
    ) -> Result<Self, Error> {
        let dir = TempDir::new("garage")?;
        let root = dir.path();
        let port_of = |what: &str| {
            ports::free_port().map_err(|source| Error::Io {
                what: format!("find a free port for Garage's {what}"),
                source,
            })
        };
        let s3 = match s3_port {
            Some(port) => port,
            None => port_of("S3 API")?,
        };
        let (rpc, admin) = (port_of("RPC")?, port_of("admin API")?);
        let secret: String = (0..32)
            .map(|_| format!("{:02x}", rand::rng().random::<u8>()))
            .collect();
        let config = format!(
            "metadata_dir = \"{meta}\"\ndata_dir = \"{data}\"\ndb_engine = \"sqlite\"\n\
             replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
             rpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{secret}\"\n\
             [s3_api]\ns3_region = \"{REGION}\"\napi_bind_addr = \"{address}:{s3}\"\n\
             root_domain = \".s3.garage.localhost\"\n\
             [admin]\napi_bind_addr = \"127.0.0.1:{admin}\"\n",
            meta = root.join("meta").display(),
            data = root.join("data").display(),
        );
        let config_path = root.join("garage.toml");
        std::fs::write(&config_path, config).map_err(|source| Error::Io {
            what: format!("write {}", config_path.display()),
            source,
        })?;
        let server = Supervised::start(
            "garage",
            binary,
            &[
                "-c".into(),
                config_path.display().to_string(),
                "server".into(),
            ],
            &root.join("garage.log"),
        )?;
        let mut store = Self {
            binary: binary.to_path_buf(),
            port: s3,
            address: address.to_string(),
            bucket: bucket.to_string(),
            access_key: String::new(),
            secret_key: String::new(),
            server,
            dir,
        };
        store.lay_out()?;
        Ok(store)
    }

    /// One node in the layout, the bucket, the key.
    fn lay_out(&mut self) -> Result<(), Error> {
        let deadline = Instant::now() + Duration::from_secs(30);
        // `node id` reads the node's key from its metadata folder, which the server writes at
        // start; `layout assign` is the first call over RPC, which the server answers only once
        // it listens (later on a busy machine): both are retried until the deadline.
        let until_ready = |args: &[&str]| loop {
            match self.garage(args) {
                Ok(out) => break Ok(out),
                Err(e) if Instant::now() > deadline => break Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        let id = until_ready(&["node", "id", "-q"])?
            .split('@')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        until_ready(&["layout", "assign", "-z", "dc1", "-c", "1G", &id])?;
        self.garage(&["layout", "apply", "--version", "1"])?;
        let bucket = self.bucket.clone();
        self.garage(&["bucket", "create", &bucket])?;
        let key = self.garage(&["key", "create", "storefleet-test"])?;
        let field = |name: &str| {
            key.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .ok_or_else(|| Error::NotReady {
                    component: "garage".into(),
                    detail: format!("`key create` printed no {name}"),
                })
        };
        self.access_key = field("Key ID:")?;
        self.secret_key = field("Secret key:")?;
        self.garage(&[
            "bucket",
            "allow",
            "--read",
            "--write",
            "--owner",
            &bucket,
            "--key",
            "storefleet-test",
        ])?;
        Ok(())
    }

    /// A bucket `bucket` and a key `name` granted it alone (read and write): a store's own key
    /// (`backup.storeCredentials`). The key's id and secret.
    pub fn bucket_with_key(&self, bucket: &str, name: &str) -> Result<(String, String), Error> {
        self.garage(&["bucket", "create", bucket])?;
        let key = self.garage(&["key", "create", name])?;
        let field = |label: &str| {
            key.lines()
                .find_map(|l| l.strip_prefix(label))
                .map(|v| v.trim().to_string())
                .ok_or_else(|| Error::NotReady {
                    component: "garage".into(),
                    detail: format!("`key create` printed no {label}"),
                })
        };
        let (id, secret) = (field("Key ID:")?, field("Secret key:")?);
        self.garage(&[
            "bucket", "allow", "--read", "--write", bucket, "--key", name,
        ])?;
        Ok((id, secret))
    }

    /// Runs `garage <args>` against this node; its stdout.
    fn garage(&self, args: &[&str]) -> Result<String, Error> {
        let out = Command::new(&self.binary)
            .arg("-c")
            .arg(self.dir.path().join("garage.toml"))
            .args(args)
            .output()
            .map_err(|source| Error::Io {
                what: format!("run garage {}", args.join(" ")),
                source,
            })?;
        if !out.status.success() {
            return Err(Error::NotReady {
                component: "garage".into(),
                detail: format!(
                    "garage {}: {}{}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr),
                    self.server.log_tail(10)
                ),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The S3 endpoint, e.g. `http://127.0.0.1:13900` (path-style addressing).
    pub fn endpoint(&self) -> String {
        format!("http://{}:{}", self.address, self.port)
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key's id (`AWS_ACCESS_KEY_ID`).
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The key's secret (`AWS_SECRET_ACCESS_KEY`).
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The files holding the objects' data blocks (to corrupt one in a test).
    pub fn data_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(&self.dir.path().join("data"), &mut files);
        files.sort();
        files
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        self.server.log_tail(lines)
    }
}
