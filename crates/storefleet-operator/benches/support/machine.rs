//! Where a bench's time went: CPU seconds per process of the control plane, the machine's busy
//! and idle time, and the apiserver's requests by user (from its audit log).

use std::collections::BTreeMap;
use std::path::Path;

/// CPU seconds (user + system) of one process, from `/proc/<pid>/stat` (clock ticks of 10 ms).
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// CPU seconds so far of the control plane's processes (those whose command line names `dir`),
/// by program, and of this process (the in-process operator, the bench's client and fake kubelet).
pub fn cpu_by_process(dir: &Path) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let dir = dir.to_string_lossy().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !cmdline.contains(&dir) {
            continue;
        }
        let program = cmdline
            .split_whitespace()
            .next()
            .and_then(|p| p.rsplit('/').next())
            .unwrap_or("?")
            .to_string();
        if let Some(cpu) = cpu_seconds(&pid) {
            *out.entry(program).or_insert(0.0) += cpu;
        }
    }
    if let Some(cpu) = cpu_seconds("self") {
        out.insert("bench process (operator, client)".into(), cpu);
    }
    out
}

/// The machine's CPU time so far from `/proc/stat`: (busy, idle, steal) in clock ticks.
pub fn machine_cpu() -> (u64, u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let at = |i: usize| fields.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    let idle = at(3) + at(4);
    let steal = at(7);
    let busy = at(0) + at(1) + at(2) + at(5) + at(6);
    (busy, idle, steal)
}

pub fn machine_use(before: (u64, u64, u64), after: (u64, u64, u64)) -> String {
    let busy = after.0 - before.0;
    let idle = after.1 - before.1;
    let steal = after.2 - before.2;
    let total = (busy + idle + steal).max(1) as f64;
    format!(
        "      machine: {:.0}% busy, {:.0}% idle, {:.0}% stolen\n",
        100.0 * busy as f64 / total,
        100.0 * idle as f64 / total,
        100.0 * steal as f64 / total
    )
}

/// Completed requests in the audit log, by user (the top five).
pub fn requests_by_user(cp: &storefleet_envtest::ControlPlane) -> String {
    let mut by_user = BTreeMap::<String, usize>::new();
    for r in cp.audited().unwrap_or_default() {
        *by_user.entry(r.user).or_default() += 1;
    }
    let mut users: Vec<_> = by_user.into_iter().collect();
    users.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    users
        .iter()
        .take(5)
        .map(|(u, n)| format!("      {n:>6} requests  {u}\n"))
        .collect()
}

pub fn cpu_use(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> String {
    after
        .iter()
        .map(|(program, cpu)| {
            let used = cpu - before.get(program).copied().unwrap_or(0.0);
            format!("      CPU {used:>6.1} s  {program}\n")
        })
        .collect()
}
