//! What the node changes on the host, recorded before it changes anything, and the janitor that
//! undoes it.
//!
//! The janitor is a shell script started in a session of its own (`setsid --wait`) before the
//! first change. It blocks on a pipe from the test; when the pipe closes — the harness dropped,
//! a panic, or the test process killed by a runner's timeout together with its process group —
//! it stops the node's processes by pid (the supervised components, every task in the node's
//! cgroups, containerd's shims, which name the node's socket), unmounts everything under the
//! node's folder and the network namespaces created since the start, removes the node's cgroups,
//! its iptables rules and chains, the bridge and the provisioned volume folders, restores the
//! sysctls the kubelet and kube-proxy change, and removes the folder.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Error;

use super::files::Layout;
use super::sh;

/// The sysctls the node's components change (the kubelet's kernel defaults, kube-proxy's and
/// the bridge's settings), restored at teardown.
pub const SYSCTLS: &[&str] = &[
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.route_localnet",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
];

/// The chains the node's components create (kubelet, kube-proxy, the CNI plugins).
pub const CHAIN_PREFIXES: &[&str] = &["KUBE-", "CNI-"];

/// The iptables tables the node touches.
pub const TABLES: &[&str] = &["filter", "nat", "mangle"];

/// The host as it was before the node started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `name value` of each sysctl in [`SYSCTLS`] that exists here.
    pub sysctls: Vec<(String, String)>,
    /// The network namespaces in /run/netns.
    pub netns: Vec<String>,
    /// `iptables-save` and `ip6tables-save` of [`TABLES`], without counters.
    pub iptables: String,
}

/// The rules of `iptables-save` output, without comments and counters: what a comparison of
/// before and after should look at.
pub fn rules_only(save: &str) -> String {
    save.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            // ":CHAIN POLICY [packets:bytes]" → ":CHAIN POLICY"
            if l.starts_with(':') {
                l.rsplit_once(' ')
                    .map(|(head, tail)| if tail.starts_with('[') { head } else { l })
                    .unwrap_or(l)
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Snapshot {
    /// Reads the host now.
    pub fn take() -> Result<Self, Error> {
        let mut sysctls = Vec::new();
        for name in SYSCTLS {
            let path = Path::new("/proc/sys").join(name.replace('.', "/"));
            if let Ok(value) = std::fs::read_to_string(&path) {
                sysctls.push(((*name).to_string(), value.trim().to_string()));
            }
        }
        let mut netns: Vec<String> = std::fs::read_dir("/run/netns")
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        netns.sort();
        let mut iptables = String::new();
        for save in ["iptables-save", "ip6tables-save"] {
            for table in TABLES {
                iptables.push_str(&rules_only(&sh(save, &["-t", table])?));
                iptables.push('\n');
            }
        }
        Ok(Self {
            sysctls,
            netns,
            iptables,
        })
    }

    /// The chains of [`CHAIN_PREFIXES`] present now: the node refuses to start beside another
    /// Kubernetes node on this host (its teardown would remove that node's chains).
    pub fn foreign_chains(&self) -> Vec<String> {
        self.iptables
            .lines()
            .filter_map(|l| l.strip_prefix(':'))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|chain| CHAIN_PREFIXES.iter().any(|p| chain.starts_with(p)))
            .map(str::to_string)
            .collect()
    }
}

/// The janitor's script for `layout`, restoring `snapshot`. `confinement` is the comment that
/// tags the node's own iptables rules.
pub fn teardown_script(layout: &Layout, snapshot: &Snapshot, confinement: &str) -> String {
    let dir = layout.dir.display();
    let sysctls: String = snapshot
        .sysctls
        .iter()
        .map(|(k, v)| format!("sysctl -q -w '{k}={v}' >/dev/null 2>&1\n"))
        .collect();
    let netns = snapshot.netns.join(" ");
    let prefixes = CHAIN_PREFIXES.join("|");
    let tables = TABLES.join(" ");
    format!(
        r#"#!/bin/sh
# The node's janitor (crates/storefleet-envtest/src/node/host.rs): runs when its stdin closes.
read -r _ 2>/dev/null
set +e
DIR='{dir}'
exec >>"$DIR/teardown.log" 2>&1
echo "teardown: $(date)"
kill_tree() {{ for c in $(pgrep -P "$1"); do kill_tree "$c"; done; kill -KILL "$1" 2>/dev/null; }}
# 1. the supervised components (kubelet first, so nothing restarts the pods)
for name in kubelet kube-proxy kube-scheduler containerd; do
  [ -f "$DIR/pids/$name" ] && kill_tree "$(cat "$DIR/pids/$name")"
done
# 2. every task in the node's cgroups (the pods), then containerd's shims (they name our socket)
for round in 1 2 3 4 5 6 7 8 9 10; do
  tasks=$(find /sys/fs/cgroup/*/'{cgroup}' -name cgroup.procs -exec cat {{}} + 2>/dev/null | sort -u)
  for pid in /proc/[0-9]*; do
    grep -qsF '{socket}' "$pid/cmdline" && tasks="$tasks ${{pid#/proc/}}"
  done
  [ -z "$(echo $tasks)" ] && break
  kill -KILL $tasks 2>/dev/null
  sleep 0.5
done
# 3. mounts under the folder (deepest first) and the network namespaces made since the start
for i in 1 2 3; do
  awk '{{print $5}}' /proc/self/mountinfo | grep "^$DIR/" | sort -r | while read -r m; do umount -l "$m"; done
done
for ns in /run/netns/*; do
  [ -e "$ns" ] || continue
  case " {netns} " in *" ${{ns##*/}} "*) continue ;; esac
  umount -l "$ns" 2>/dev/null; rm -f "$ns"
done
# 4. the cgroups, deepest first
find /sys/fs/cgroup/*/'{cgroup}' -depth -type d -exec rmdir {{}} \; 2>/dev/null
# 5. iptables: the node's confinement rules, then every rule that jumps to and every chain of
#    the node's components (the host had none: checked before the start)
for ipt in iptables ip6tables; do
  for table in {tables}; do
    $ipt-save -t "$table" 2>/dev/null | grep '^-A ' | grep -E -- '-j ({prefixes})|{confinement}' | sed 's/^-A /-D /' \
      | while read -r rule; do eval "$ipt -t $table $rule"; done
    chains=$($ipt-save -t "$table" 2>/dev/null | sed -n -E 's/^:(({prefixes})[^ ]*) .*/\1/p')
    for c in $chains; do $ipt -t "$table" -F "$c"; done
    for c in $chains; do $ipt -t "$table" -X "$c"; done
  done
done
# 6. the bridge, the sysctls
ip link delete '{bridge}' 2>/dev/null
{sysctls}# 7. provisioned volume folders that are still there, then the node's folder (nothing mounted)
[ -f "$DIR/volumes" ] && while read -r v; do case "$v" in /tmp/?*) rm -rf "$v" ;; esac; done <"$DIR/volumes"
# the provisioner's root, made by kube-controller-manager on the first volume (if now empty)
rmdir '{hostpath}' 2>/dev/null
if awk '{{print $5}}' /proc/self/mountinfo | grep -q "^$DIR/"; then
  echo "teardown: mounts remain under $DIR; leaving it"
else
  echo "teardown: done"
  [ -n "$KEEP" ] || rm -rf "$DIR"
fi
"#,
        cgroup = layout.cgroup_root,
        socket = layout.containerd_socket().display(),
        bridge = layout.bridge,
        hostpath = super::HOSTPATH_ROOT,
    )
}

/// The janitor process: [`Janitor::finish`] (or drop) closes its pipe and waits for it.
#[derive(Debug)]
pub struct Janitor {
    child: Child,
    stdin: Option<ChildStdin>,
    log: PathBuf,
}

impl Janitor {
    /// Writes the script into the node's folder and starts it in a session of its own.
    pub fn start(dir: &Path, script: &str) -> Result<Self, Error> {
        let path = dir.join("teardown.sh");
        std::fs::write(&path, script).map_err(|source| Error::Io {
            what: format!("write {}", path.display()),
            source,
        })?;
        let mut command = Command::new("setsid");
        command.arg("--wait").arg("sh").arg(&path);
        if std::env::var_os("STOREFLEET_ENVTEST_KEEP").is_some() {
            command.env("KEEP", "1");
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| Error::Io {
                what: "start the node's janitor (setsid)".into(),
                source,
            })?;
        let stdin = child.stdin.take();
        Ok(Self {
            child,
            stdin,
            log: dir.join("teardown.log"),
        })
    }

    /// Runs the teardown now and waits for it (at most two minutes).
    pub fn finish(&mut self) {
        if self.stdin.take().is_none() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "envtest: the node's teardown did not finish in 120 s (log: {})",
            self.log.display()
        );
    }
}

impl Drop for Janitor {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_comments_are_not_compared() {
        let save = "# Generated by iptables-save\n*filter\n:INPUT ACCEPT [12:345]\n:KUBE-X - [0:0]\n-A INPUT -j KUBE-X\nCOMMIT\n# Completed";
        assert_eq!(
            rules_only(save),
            "*filter\n:INPUT ACCEPT\n:KUBE-X -\n-A INPUT -j KUBE-X\nCOMMIT"
        );
    }

    #[test]
    fn chains_of_another_kubernetes_are_found() {
        let s = Snapshot {
            sysctls: vec![],
            netns: vec![],
            iptables: "*filter\n:INPUT ACCEPT\n:KUBE-FIREWALL -\n:DOCKER -\nCOMMIT\n".into(),
        };
        assert_eq!(s.foreign_chains(), ["KUBE-FIREWALL"]);
    }

    #[test]
    fn the_script_restores_each_sysctl_and_names_the_nodes_own_things() {
        let layout = Layout {
            dir: PathBuf::from("/tmp/storefleet-node-x"),
            bridge: "sfn1".into(),
            cgroup_root: "storefleet-node-x".into(),
            kubelet_port: 1,
            kubelet_healthz_port: 2,
            proxy_healthz_port: 3,
            proxy_metrics_port: 4,
            kubeconfig: PathBuf::from("/k"),
        };
        let snapshot = Snapshot {
            sysctls: vec![("kernel.panic".into(), "0".into())],
            netns: vec!["other".into()],
            iptables: String::new(),
        };
        let script = teardown_script(&layout, &snapshot, "storefleet-node-x");
        assert!(script.contains("sysctl -q -w 'kernel.panic=0'"));
        assert!(script.contains("ip link delete 'sfn1'"));
        assert!(script.contains("/tmp/storefleet-node-x/containerd.sock"));
        assert!(script.contains("case \" other \""));
    }
}
