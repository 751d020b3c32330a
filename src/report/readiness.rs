//! `check --ready-to-revoke` in words: the delegates that hold the token (the inventory's
//! table), every other place it stands, everything that might hold it but was not judged
//! with what to add or fix, and a last line that says ready, not ready or cannot tell.

use crate::judge::readiness::{Readiness, Verdict};
use crate::model::token::Fingerprint;
use crate::report::scan::plural;
use crate::report::{inventory, Style};

/// The places a token stands, and those not judged, that are listed one by one; a count
/// says the rest (a stream may read hundreds of thousands of Secrets it does not hold).
const SHOWN: usize = 20;

pub fn text(readiness: &Readiness, fingerprint: &Fingerprint, style: Style) -> String {
    let mut out = String::new();
    if !readiness.holders.is_empty() {
        out.push_str(&inventory::table(&readiness.holders, style));
        out.push('\n');
    }
    for sighting in readiness.sightings.iter().take(SHOWN) {
        let layered = if sighting.layered {
            ", under base64 (and gzip or zlib)"
        } else {
            ""
        };
        let object = sighting
            .object
            .as_ref()
            .map_or_else(String::new, |object| format!(" (in {object})"));
        out.push_str(&format!(
            "{}: holds the token{layered}{object}\n",
            sighting.place
        ));
    }
    if let Some(more) = beyond_shown(readiness.sightings.len()) {
        let noun = if more == 1 { "place" } else { "places" };
        out.push_str(&format!("… and {more} more {noun}\n"));
    }
    for unproven in readiness.unproven.iter().take(SHOWN) {
        out.push_str(&format!(
            "not judged (it may hold the token): {}: {}\n",
            unproven.subject, unproven.reason
        ));
    }
    if let Some(more) = beyond_shown(readiness.unproven.len()) {
        out.push_str(&format!("… and {more} more not judged\n"));
    }
    out.push_str(&last_line(readiness, fingerprint));
    out
}

/// How many of `count` entries are not listed one by one, if any.
fn beyond_shown(count: usize) -> Option<usize> {
    count.checked_sub(SHOWN).filter(|&more| more > 0)
}

fn last_line(readiness: &Readiness, fingerprint: &Fingerprint) -> String {
    let holders = readiness.holders.len();
    let places = readiness.sightings.len();
    match (readiness.inputs_verdict(), readiness.verdict()) {
        (Verdict::Held, Verdict::CannotTell) => {
            return format!("rekey check: not ready to revoke {fingerprint}, and Harness could not tell (above)\n")
        }
        (Verdict::Ready | Verdict::CannotTell, Verdict::Held) => {
            return format!("rekey check: not ready to revoke {fingerprint}: Harness shows a delegate on it (above)\n")
        }
        (Verdict::Ready, Verdict::CannotTell) => {
            return format!("rekey check: cannot tell whether {fingerprint} is ready to revoke: Harness could not tell (above)\n")
        }
        _ => {}
    }
    match readiness.inputs_verdict() {
        Verdict::Ready => format!(
            "rekey check: ready to revoke {fingerprint}: no delegate in the inputs holds it\n"
        ),
        Verdict::Held if holders > 0 => format!(
            "rekey check: not ready to revoke {fingerprint}: {} still {} it{}; rotate them first (`rekey rotate --only {fingerprint} --new-token-env NEW_TOKEN`)\n",
            plural(holders, "delegate"),
            if holders == 1 { "holds" } else { "hold" },
            if places > 0 {
                format!(", and it stands in {} more", plural(places, "place"))
            } else {
                String::new()
            }
        ),
        Verdict::Held => format!(
            "rekey check: not ready to revoke {fingerprint}: it still stands in {}; rotate or remove it there first\n",
            plural(places, "place")
        ),
        Verdict::CannotTell if readiness.unproven.is_empty() => format!(
            "rekey check: cannot tell whether {fingerprint} is ready to revoke: the input holds no delegate: nothing proves the token is gone; give the delegates' manifests or their live objects (`kubectl get deploy,sts,ds,secret,configmap -A -o yaml`)\n"
        ),
        Verdict::CannotTell => format!(
            "rekey check: cannot tell whether {fingerprint} is ready to revoke: it may be in {} rekey could not judge; add or fix what is said above and ask again\n",
            plural(readiness.unproven.len(), "place"),
        ),
    }
}
