//! Reading what tools print: kubectl tables, Prometheus text, /proc status.

use std::collections::BTreeMap;

/// Parses a `kubectl get` table (columns separated by two or more spaces) into rows of
/// header → value.
pub fn parse_table(output: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = output.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return vec![];
    };
    // Column starts: where a header word begins after 2+ spaces (or at 0).
    let bytes = header.as_bytes();
    let mut starts = vec![0usize];
    for i in 1..bytes.len() {
        if bytes[i] != b' ' && bytes[i - 1] == b' ' && i >= 2 && bytes[i - 2] == b' ' {
            starts.push(i);
        }
    }
    let names: Vec<String> = starts
        .iter()
        .enumerate()
        .map(|(n, &s)| {
            let end = starts.get(n + 1).copied().unwrap_or(header.len());
            header[s..end].trim().to_string()
        })
        .collect();
    lines
        .map(|line| {
            names
                .iter()
                .enumerate()
                .map(|(n, name)| {
                    let s = starts[n].min(line.len());
                    let end = starts
                        .get(n + 1)
                        .copied()
                        .unwrap_or(line.len())
                        .min(line.len());
                    let value = if n + 1 == names.len() {
                        &line[s..]
                    } else {
                        &line[s..end]
                    };
                    (name.clone(), value.trim().to_string())
                })
                .collect()
        })
        .collect()
}

/// Sum of every sample of a metric family in Prometheus text (`name` or `name{...}`).
pub fn metric_sum(text: &str, name: &str) -> Option<f64> {
    let mut found = false;
    let mut sum = 0.0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let family = key.split('{').next().unwrap_or_default();
        if family == name
            && let Ok(v) = value.parse::<f64>()
        {
            found = true;
            sum += v;
        }
    }
    found.then_some(sum)
}

/// Peak resident memory (`VmHWM`) in bytes from a `/proc/<pid>/status` text.
pub fn peak_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Formats rows as an aligned text table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(headers.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_get_stores() {
        let out = "\
NAME          ENGINE        PLAN    READY   STATUS                              URL                              AGE
e2e-abc123    woocommerce   small   False   Waiting for database (0/1 ready)    http://e2e-abc123.shop.local     20s
e2e-def456    woocommerce   large   True    Store is ready                      http://e2e-def456.shop.local     5m
";
        let rows = parse_table(out);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["NAME"], "e2e-abc123");
        assert_eq!(rows[0]["STATUS"], "Waiting for database (0/1 ready)");
        assert_eq!(rows[0]["URL"], "http://e2e-abc123.shop.local");
        assert_eq!(rows[1]["READY"], "True");
        assert_eq!(rows[1]["AGE"], "5m");
        assert_eq!(
            rows[1].keys().cloned().collect::<Vec<_>>(),
            ["AGE", "ENGINE", "NAME", "PLAN", "READY", "STATUS", "URL"]
        );
        assert!(parse_table("").is_empty());
    }

    #[test]
    fn empty_cells_stay_empty() {
        let out = "NAME    READY   URL\nfresh                   \n";
        let rows = parse_table(out);
        assert_eq!(rows[0]["NAME"], "fresh");
        assert_eq!(rows[0]["READY"], "");
        assert_eq!(rows[0]["URL"], "");
    }

    #[test]
    fn prometheus_sums() {
        let text = "# HELP x\nstorefleet_api_requests_total{verb=\"get\"} 10\nstorefleet_api_requests_total{verb=\"apply\"} 5\nstorefleet_api_requests_created 1\nother 3\n";
        assert_eq!(
            metric_sum(text, "storefleet_api_requests_total"),
            Some(15.0)
        );
        assert_eq!(metric_sum(text, "missing"), None);
    }

    #[test]
    fn proc_status() {
        assert_eq!(
            peak_rss_bytes("Name:\tx\nVmHWM:\t   20480 kB\nVmRSS:\t 1 kB\n"),
            Some(20_971_520)
        );
        assert_eq!(peak_rss_bytes("Name: x\n"), None);
    }

    #[test]
    fn aligned_table() {
        let t = table(&["stores", "seconds"], &[vec!["10".into(), "12.5".into()]]);
        assert_eq!(t, "stores  seconds\n10      12.5");
    }
}
