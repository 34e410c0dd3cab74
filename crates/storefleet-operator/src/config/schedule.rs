//! Cron schedules: what Kubernetes accepts ([`is_cron`]), when one fires next ([`next_fire`]),
//! and a fleet's schedules spread over the period they name ([`spread`]): `H` in the minute or
//! hour field stands for a value of the store's own (Jenkins' notation), so that 1,000 stores
//! on `H/5 * * * *` run their CronJobs in five groups of about 200, not 1,000 Jobs and pods at
//! the same second.

/// `schedule` with every `H` of its minute and hour fields replaced by a value derived from
/// `seed` (the store's name: stable across restarts, operator versions and machines):
///
/// - `H`: one minute (0-59) or hour (0-23);
/// - `H/n`: every n minutes or hours, from an offset below n (`H/5` may be `3-59/5`).
///
/// Other schedules come back unchanged; an `H` elsewhere stays and [`is_cron`] refuses it.
pub fn spread(schedule: &str, seed: &str) -> String {
    if !schedule.contains('H') {
        return schedule.to_string();
    }
    let hash = stable_hash(seed);
    let mut fields: Vec<String> = schedule.split_whitespace().map(str::to_string).collect();
    // The minute from the whole hash, the hour from its high half (independent choices).
    for (index, (value, last)) in [(hash, 59u64), (hash >> 32, 23)].into_iter().enumerate() {
        if let Some(field) = fields.get_mut(index) {
            *field = spread_field(field, value, last);
        }
    }
    fields.join(" ")
}

/// One field: `H` → `value mod (last+1)`; `H/n` → `value mod n` to `last`, every n.
fn spread_field(field: &str, value: u64, last: u64) -> String {
    if field == "H" {
        return (value % (last + 1)).to_string();
    }
    match field.strip_prefix("H/").map(str::parse::<u64>) {
        Some(Ok(step)) if (1..=last).contains(&step) => {
            format!("{}-{last}/{step}", value % step)
        }
        _ => field.to_string(),
    }
}

/// Whether `schedule` is one the operator takes for a fleet: a cron schedule ([`is_cron`]) once
/// its `H`s are spread.
pub fn is_schedule(schedule: &str) -> bool {
    is_cron(&spread(schedule, ""))
}

/// SHA-256 of `seed`, its first 64 bits: unlike `DefaultHasher`, the same on every Rust version,
/// so an operator upgrade moves no store's schedule.
fn stable_hash(seed: &str) -> u64 {
    let digest = ring::digest::digest(&ring::digest::SHA256, seed.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_be_bytes(first)
}

/// The first time after `after` that the cron `schedule` fires (UTC); None when croner cannot
/// read it or it never fires again.
pub fn next_fire(
    schedule: &str,
    after: k8s_openapi::jiff::Timestamp,
) -> Option<k8s_openapi::jiff::Timestamp> {
    use k8s_openapi::jiff::tz::TimeZone;
    let cron = croner::parser::CronParser::new().parse(schedule).ok()?;
    let civil = after.to_zoned(TimeZone::UTC).datetime();
    let next = cron.find_next_occurrence(&civil, false).ok()?;
    next.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}

/// Whether `schedule` is a five-field cron expression Kubernetes accepts (numbers, `*`, ranges,
/// lists, steps, and names of months and days), or one of the `@` macros.
pub fn is_cron(schedule: &str) -> bool {
    // The operator works out drill times itself: croner must read it too.
    if croner::parser::CronParser::new().parse(schedule).is_err() {
        return false;
    }
    if matches!(
        schedule,
        "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly"
    ) {
        return true;
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    fields.len() == 5
        && fields.iter().all(|f| {
            f.split(',').all(|part| {
                let (range, step) = part.split_once('/').unwrap_or((part, "1"));
                let step_ok = !step.is_empty() && step.chars().all(|c| c.is_ascii_digit());
                let range_ok = range == "*"
                    || range.split('-').count() <= 2
                        && range
                            .split('-')
                            .all(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric()));
                step_ok && range_ok
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_schedules() {
        for good in [
            "0 3 * * *",
            "*/15 * * * *",
            "0 2 * * mon-fri",
            "5 4 1,15 * *",
            "@daily",
        ] {
            assert!(is_cron(good), "{good}");
        }
        for bad in [
            "",
            "0 3 * *",
            "0 3 * * * *",
            "every day",
            "0 3 * * $(rm)",
            "*/ * * * *",
        ] {
            assert!(!is_cron(bad), "{bad}");
        }
    }

    #[test]
    fn h_spreads_a_fleet_over_the_period_and_keeps_each_store_in_its_place() {
        // The same store, the same schedule, wherever and whenever it is worked out.
        assert_eq!(
            spread("H/5 * * * *", "alice"),
            spread("H/5 * * * *", "alice")
        );
        // SHA-256("alice") begins 2bd806c97f0e00af: minutes from that number (mod 5: 2, mod
        // 60: 47), hours from its high half 0x2bd806c9 (mod 24: 1, mod 6: 1).
        assert_eq!(spread("H/5 * * * *", "alice"), "2-59/5 * * * *");
        assert_eq!(spread("H H * * *", "alice"), "47 1 * * *");
        assert_eq!(spread("H 3 * * *", "alice"), "47 3 * * *");
        assert_eq!(spread("0 H/6 * * *", "alice"), "0 1-23/6 * * *");
        // What holds no H is left alone, and an H elsewhere stays for is_cron to refuse.
        assert_eq!(spread("*/5 * * * *", "alice"), "*/5 * * * *");
        assert_eq!(spread("@daily", "alice"), "@daily");
        assert!(!is_cron(&spread("0 3 H * *", "alice")));
        assert!(!is_cron(&spread("H/0 * * * *", "alice")));
        assert!(!is_cron(&spread("H/60 * * * *", "alice")));
        // 1,000 stores on H/5: five groups, none far from 200.
        let mut groups = [0u32; 5];
        for i in 0..1000 {
            let minute = spread("H/5 * * * *", &format!("shop-{i:04}"));
            let offset: usize = minute
                .split('-')
                .next()
                .and_then(|m| m.parse().ok())
                .expect("an offset");
            assert!(is_cron(&minute), "{minute}");
            groups[offset] += 1;
        }
        assert!(
            groups.iter().all(|&g| (150..=250).contains(&g)),
            "{groups:?}"
        );
    }
}
