//! The Harness side of "ready to revoke": which delegates on a token are still alive. A
//! group or a delegate that is actively connected, or sent a heartbeat in the last ten
//! minutes, may still be on the token: revoking it now would make Harness send that
//! delegate a self-destruct.

use super::api::{Delegate, Group};

/// A heartbeat younger than this counts as alive.
pub const RECENT_MS: i64 = 10 * 60 * 1000;

/// A delegate (or group) still on the token, and why it counts as alive.
pub struct Alive {
    /// `group G` or `delegate H of group G`.
    pub what: String,
    pub connected: bool,
    /// Epoch milliseconds.
    pub last_heartbeat: Option<i64>,
}

/// Every group and delegate in `groups` that is connected or has a recent heartbeat, as of
/// `now` (epoch milliseconds).
pub fn alive(groups: &[Group], now: i64) -> Vec<Alive> {
    let mut found = Vec::new();
    for group in groups {
        if is_alive(&group.group, now) {
            found.push(entry(format!("group {}", group.group.name), &group.group));
        }
        for instance in &group.instances {
            if is_alive(instance, now) {
                let what = format!("delegate {} of group {}", instance.name, group.group.name);
                found.push(entry(what, instance));
            }
        }
    }
    found
}

fn is_alive(delegate: &Delegate, now: i64) -> bool {
    delegate.connected
        || delegate
            .last_heartbeat
            .is_some_and(|beat| now.saturating_sub(beat) < RECENT_MS)
}

fn entry(what: String, delegate: &Delegate) -> Alive {
    Alive {
        what,
        connected: delegate.connected,
        last_heartbeat: delegate.last_heartbeat,
    }
}

/// The current time in epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

/// Epoch milliseconds as an RFC 3339 UTC time (`2024-05-01T12:00:00Z`).
pub fn rfc3339(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_milliseconds_read_as_utc_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_714_564_800_000), "2024-05-01T12:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn connected_or_recent_counts_as_alive() {
        let now = 100 * RECENT_MS;
        let group = |connected, beat| Group {
            group: Delegate {
                name: "g".into(),
                connected,
                last_heartbeat: Some(beat),
            },
            instances: vec![],
        };
        assert_eq!(alive(&[group(true, 0)], now).len(), 1);
        assert_eq!(alive(&[group(false, now - RECENT_MS + 1)], now).len(), 1);
        assert!(alive(&[group(false, now - RECENT_MS)], now).is_empty());
    }
}
