//! Loopback ports for child processes (etcd, kube-apiserver, PHP, PostgreSQL, Redis, …).
//!
//! A port handed to a child has to be released before the child binds it, and in that window
//! someone else may take it. Port 0 is the worst choice: the kernel hands it out of the
//! ephemeral range, where every outgoing connection of every parallel test also takes its
//! source port. So ports are drawn at random from below (or above) the ephemeral range, checked
//! by binding them, and callers that start a child retry with a new port when the child still
//! reports `address already in use` ([`is_address_in_use`]).

use std::net::TcpListener;

use rand::Rng;

/// Where the kernel's ephemeral ports are (Linux; the IANA range elsewhere).
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| parse_range(&text))
        .unwrap_or((49152, 65535))
}

fn parse_range(text: &str) -> Option<(u16, u16)> {
    let mut parts = text.split_whitespace().map(str::parse::<u16>);
    let low = parts.next()?.ok()?;
    let high = parts.next()?.ok()?;
    (low <= high).then_some((low, high))
}

/// The widest range of unprivileged ports outside `ephemeral`, if one of useful size exists.
fn outside(ephemeral: (u16, u16)) -> Option<(u16, u16)> {
    const LOWEST: u16 = 10_000;
    const USEFUL: u16 = 1_000;
    let below = (LOWEST, ephemeral.0.saturating_sub(1));
    let above = (ephemeral.1.saturating_add(1), u16::MAX);
    [below, above]
        .into_iter()
        .filter(|(low, high)| high > low && high - low >= USEFUL)
        .max_by_key(|(low, high)| high - low)
}

/// A loopback port that is free now, outside the ephemeral range when there is one.
pub fn free_port() -> std::io::Result<u16> {
    if let Some((low, high)) = outside(ephemeral_range()) {
        let mut rng = rand::rng();
        for _ in 0..64 {
            let port = rng.random_range(low..=high);
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return Ok(port);
            }
        }
    }
    TcpListener::bind("127.0.0.1:0")?
        .local_addr()
        .map(|addr| addr.port())
}

/// Whether a child's log says it lost its port to someone else.
pub fn is_address_in_use(log: &str) -> bool {
    let log = log.to_ascii_lowercase();
    log.contains("address already in use") || log.contains("eaddrinuse")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_come_from_outside_the_ephemeral_range() {
        assert_eq!(parse_range("32768\t60999\n"), Some((32768, 60999)));
        assert_eq!(parse_range("nonsense"), None);
        assert_eq!(parse_range("60999 32768"), None);
        assert_eq!(outside((32768, 60999)), Some((10_000, 32767)));
        assert_eq!(outside((10_500, 40_000)), Some((40_001, 65535)));
        assert_eq!(outside((1024, 65535)), None);
    }

    #[test]
    fn a_free_port_can_be_bound() {
        let port = free_port().expect("a free port");
        let (low, high) = ephemeral_range();
        if outside((low, high)).is_some() {
            assert!(!(low..=high).contains(&port), "{port} is in {low}-{high}");
        }
        TcpListener::bind(("127.0.0.1", port)).expect("bind the port");
    }

    #[test]
    fn lost_ports_are_recognised() {
        assert!(is_address_in_use(
            "start etcd: listen tcp 127.0.0.1:40907: bind: address already in use"
        ));
        assert!(is_address_in_use("Error: listen EADDRINUSE: address"));
        assert!(!is_address_in_use("connection refused"));
    }
}
