//! The Harness side of "ready to revoke": which delegates on a token are still alive. A
//! group or a delegate that is actively connected, or sent a heartbeat in the last ten
//! minutes, may still be on the token: revoking it now would make Harness send that
//! delegate a self-destruct. A delegate whose state rekey cannot read (no state, or a
//! heartbeat that is no plausible time) makes the answer "cannot tell".

use super::api::{unreadable, Delegate, Group};
use crate::error::Error;

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

/// The earliest heartbeat read as a time (2015-01-01): an earlier one is in seconds, or
/// no time at all.
const EARLIEST_MS: i64 = 1_420_070_400_000;

/// How far ahead of this machine's clock a heartbeat may be (clocks drift); further is no
/// time rekey can read. A heartbeat ahead counts as one sent now.
const AHEAD_MS: i64 = 24 * 60 * 60 * 1000;

/// Every group and delegate in `groups` (on token `token`) that is connected or has a
/// recent heartbeat, as of `now` (epoch milliseconds). One that Harness shows neither
/// state nor heartbeat of, or a heartbeat that is no plausible time, is an error: rekey
/// cannot tell, and "cannot tell" must never read as "not alive".
pub fn alive(token: &str, groups: &[Group], now: i64) -> Result<Vec<Alive>, Error> {
    let mut found = Vec::new();
    for group in groups {
        let what = format!("group {}", group.group.name);
        if is_alive(token, &what, &group.group, now)? {
            found.push(entry(what, &group.group));
        }
        for instance in &group.instances {
            let what = format!("delegate {} of group {}", instance.name, group.group.name);
            if is_alive(token, &what, instance, now)? {
                found.push(entry(what, instance));
            }
        }
    }
    Ok(found)
}

fn is_alive(token: &str, what: &str, delegate: &Delegate, now: i64) -> Result<bool, Error> {
    if delegate.connected.is_none() && delegate.last_heartbeat.is_none() {
        let problem = "Harness shows neither activelyConnected nor a heartbeat";
        return Err(unreadable(token, what, problem));
    }
    if let Some(beat) = delegate.last_heartbeat {
        if !(EARLIEST_MS..=now.saturating_add(AHEAD_MS)).contains(&beat) {
            let problem = format!(
                "{} is not a time from 2015 to tomorrow in epoch milliseconds",
                delegate.heartbeat_field
            );
            return Err(unreadable(token, what, &problem));
        }
    }
    Ok(delegate.connected == Some(true)
        || delegate
            .last_heartbeat
            .is_some_and(|beat| now.saturating_sub(beat) < RECENT_MS))
}

fn entry(what: String, delegate: &Delegate) -> Alive {
    Alive {
        what,
        connected: delegate.connected == Some(true),
        last_heartbeat: delegate.last_heartbeat,
    }
}

/// The current time in epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

/// The last millisecond of 9999-12-31: the latest time RFC 3339 writes.
const LAST_MS: i64 = 253_402_300_799_999;

/// Epoch milliseconds as an RFC 3339 UTC time (`2024-05-01T12:00:00Z`); `None` before
/// 1970 or after 9999, which Harness never means and RFC 3339 cannot write.
pub fn rfc3339(ms: i64) -> Option<String> {
    if !(0..=LAST_MS).contains(&ms) {
        return None;
    }
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
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_milliseconds_read_as_utc_times() {
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_714_564_800_000).unwrap(), "2024-05-01T12:00:00Z");
        assert_eq!(rfc3339(951_782_400_000).unwrap(), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(LAST_MS).unwrap(), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(LAST_MS + 1), None);
        assert_eq!(rfc3339(-1), None);
    }

    #[test]
    fn connected_or_recent_counts_as_alive() {
        let now = 1_714_564_800_000;
        let group = |connected, beat| Group {
            group: Delegate {
                name: "g".into(),
                connected: Some(connected),
                last_heartbeat: Some(beat),
                heartbeat_field: "lastHeartBeat",
            },
            instances: vec![],
        };
        let alive = |group| alive("t", &[group], now).unwrap();
        assert_eq!(alive(group(true, now - 100 * RECENT_MS)).len(), 1);
        assert_eq!(alive(group(false, now - RECENT_MS + 1)).len(), 1);
        assert!(alive(group(false, now - RECENT_MS)).is_empty());
    }
}
