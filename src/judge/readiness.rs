//! Whether a token may be revoked: the last question before revoking it in Harness, which
//! makes every delegate still on it self-destruct at once. The answer fails closed. It is
//! "held" when any delegate of the inputs holds the token, or the token stands anywhere in
//! them (the byte sweep, in any key or none, and under base64 and gzip layers of a live
//! stream); "cannot tell" when anything that might hold it was not judged (a file that did
//! not parse, a repository that could not be read, a token kept in a store rekey cannot
//! read, a Secret or ConfigMap a container reads that the stream does not hold, a store
//! outside the stream a delegate reads) or when the inputs hold no delegate at all (a
//! Secret or ConfigMap alone is none: nothing proves the token is gone); and "ready" only
//! on evidence: at least one delegate read, none on the token.
//!
//! This is the model; `cli::check` gathers the inputs and `report::readiness` words it.

use crate::find::formats::live::Live;
use crate::find::layers::Hidden;
use crate::find::scan::Scan;
use crate::find::stdin;
use crate::judge::inventory::{Delegate, Inventory};
use crate::model::position::LineIndex;
use crate::model::token::Fingerprint;
use std::collections::HashSet;

/// A live stream read from standard input, with what rekey found in it beyond its sites.
pub struct Stream<'a> {
    pub bytes: &'a [u8],
    pub live: &'a Live,
    pub hidden: &'a Hidden,
}

/// Everything `--ready-to-revoke` read.
pub struct Evidence<'a> {
    pub inventory: &'a Inventory,
    /// Each input's scan, with its repository label: its sites and its token-shaped strings.
    pub scans: Vec<(Option<&'a str>, &'a Scan)>,
    pub stream: Option<Stream<'a>>,
    /// Inputs that could not be read, with why.
    pub failed: Vec<String>,
}

/// The token where no delegate row shows it: the byte sweep's finds.
#[derive(Debug, PartialEq, Eq)]
pub struct Sighting {
    /// `path:line:column`, under the repository's label.
    pub place: String,
    /// The live object it sits in (`Secret harness/delegate-token`).
    pub object: Option<String>,
    /// Found under base64 (and gzip or zlib) layers, not as written.
    pub layered: bool,
}

/// Something that might hold the token but was not judged.
#[derive(Debug, PartialEq, Eq)]
pub struct Unproven {
    pub subject: String,
    /// Why it was not judged, and what to add or fix.
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ready,
    Held,
    CannotTell,
}

pub struct Readiness<'a> {
    pub holders: Vec<&'a Delegate>,
    pub sightings: Vec<Sighting>,
    pub unproven: Vec<Unproven>,
    /// No delegate was read at all.
    pub no_delegate: bool,
    /// What Harness said of the token's delegates (`--harness-token`), when asked.
    pub harness: Option<Verdict>,
}

impl Readiness<'_> {
    /// The verdict on the inputs and Harness together. Harness asked but not read (or
    /// naming another token) is "cannot tell" whatever the inputs say: the question was
    /// not the one asked. Otherwise the token seen anywhere is "held".
    pub fn verdict(&self) -> Verdict {
        match (self.inputs_verdict(), self.harness) {
            (_, Some(Verdict::CannotTell)) => Verdict::CannotTell,
            (Verdict::Held, _) | (_, Some(Verdict::Held)) => Verdict::Held,
            (Verdict::CannotTell, _) => Verdict::CannotTell,
            _ => Verdict::Ready,
        }
    }

    /// The verdict on the inputs alone.
    pub fn inputs_verdict(&self) -> Verdict {
        if !self.holders.is_empty() || !self.sightings.is_empty() {
            Verdict::Held
        } else if !self.unproven.is_empty() || self.no_delegate {
            Verdict::CannotTell
        } else {
            Verdict::Ready
        }
    }
}

/// Judges whether `fingerprint` may be revoked on this evidence.
pub fn judge<'a>(fingerprint: &Fingerprint, evidence: &Evidence<'a>) -> Readiness<'a> {
    let inventory = evidence.inventory;
    let holders: Vec<&Delegate> = inventory
        .delegates
        .iter()
        .filter(|d| d.holds(fingerprint))
        .collect();
    let mut unproven: Vec<Unproven> = inventory
        .unjudged
        .iter()
        .map(|unjudged| Unproven {
            subject: labelled(unjudged.repository.as_deref(), &unjudged.path),
            reason: unjudged.reason.clone(),
        })
        .collect();
    unproven.extend(evidence.failed.iter().map(|message| Unproven {
        subject: "an input".to_owned(),
        reason: message.clone(),
    }));
    let live = evidence.stream.as_ref().map(|stream| stream.live);
    for delegate in inventory.delegates.iter().filter(|d| !d.holds(fingerprint)) {
        unproven.extend(elsewhere(delegate, live.is_some()));
    }
    if let Some(stream) = &evidence.stream {
        unproven.extend(stream.live.missing.iter().map(|missing| Unproven {
            subject: missing.reader.clone(),
            reason: format!(
                "reads {} {}, which the input does not hold: add `{}` to the kubectl get",
                missing.kind,
                missing.name,
                missing.kind.to_ascii_lowercase()
            ),
        }));
        unproven.extend(stored_outside(stream.live, inventory));
        unproven.extend(stream.live.blind.iter().map(|reader| Unproven {
            subject: reader.clone(),
            reason: "runs the delegate image but shows no token (no env named for it, no envFrom, secrets, env file, mount or token on its command line), so it reads one from somewhere the input does not show: give its manifest or task definition instead".to_owned(),
        }));
        if stream.hidden.over_limit {
            unproven.push(Unproven {
                subject: stdin::DISPLAY.to_owned(),
                reason: "its gzip layers inflate past what rekey opens: ask about fewer objects at a time".to_owned(),
            });
        }
    }
    // A Secret or ConfigMap row says who holds a token, not that a delegate was read.
    let delegates_read = inventory
        .delegates
        .iter()
        .any(|d| !matches!(d.id.kind.as_str(), "Secret" | "ConfigMap"))
        || live.is_some_and(|live| live.delegates > 0);
    let mut sightings = sightings(fingerprint, evidence);
    if holders.is_empty() {
        // Sites no delegate row was given (a Secret too widely shared to attribute).
        sightings.extend(unattributed(fingerprint, &evidence.scans));
    }
    Readiness {
        holders,
        sightings,
        unproven,
        no_delegate: !delegates_read,
        harness: None,
    }
}

/// Where a delegate's token lives outside the inputs. In a live stream, a Secret that is
/// not among the inputs is said by the stream's own reading, with what to add.
fn elsewhere(delegate: &Delegate, live: bool) -> impl Iterator<Item = Unproven> + '_ {
    let from_stream = live && delegate.files.iter().all(|f| f == stdin::DISPLAY);
    delegate
        .elsewhere
        .iter()
        .filter(move |place| !(from_stream && place.starts_with("Secret ")))
        .map(|place| Unproven {
            subject: delegate_name(delegate),
            reason: format!("its token lives in {place}, which rekey cannot read: look at the value there yourself (it must not be this token)"),
        })
}

/// The stores outside a live stream its delegates read (an ARN under any secret name, an
/// environment file, a CSI volume), but those a delegate row already says it lives in:
/// each place is said once.
fn stored_outside<'l>(
    live: &'l Live,
    inventory: &'l Inventory,
) -> impl Iterator<Item = Unproven> + 'l {
    let said: HashSet<&str> = inventory
        .delegates
        .iter()
        .flat_map(|d| d.elsewhere.iter().map(String::as_str))
        .collect();
    live.external
        .iter()
        .filter(move |external| !said.contains(external.place.as_str()))
        .map(|external| Unproven {
            subject: external.reader.clone(),
            reason: format!("its token may be in {}, which rekey cannot read: look at the value there yourself (it must not be this token)", external.place),
        })
}

fn delegate_name(delegate: &Delegate) -> String {
    let id = &delegate.id;
    let name = format!(
        "{} {}",
        id.kind,
        labelled(id.repository.as_deref(), &id.name)
    );
    match &id.detail {
        Some(detail) => format!("{name} ({detail})"),
        None => name,
    }
}

fn labelled(repository: Option<&str>, path: &str) -> String {
    match repository {
        Some(repository) => format!("{repository}/{path}"),
        None => path.to_owned(),
    }
}

/// The byte sweep's finds of `fingerprint`, and a live stream's layers that hold it.
fn sightings(fingerprint: &Fingerprint, evidence: &Evidence) -> Vec<Sighting> {
    let stream = evidence.stream.as_ref();
    let object_at = |repository: Option<&str>, display: &str, offset: usize| {
        let stream = stream.filter(|_| repository.is_none() && display == stdin::DISPLAY)?;
        stream.live.object_at(offset).map(str::to_owned)
    };
    let strays = evidence
        .scans
        .iter()
        .flat_map(|(label, scan)| scan.strays.iter().map(move |stray| (label, stray)));
    let mut sightings: Vec<Sighting> = strays
        .filter(|(_, stray)| stray.fingerprint == *fingerprint)
        .map(|(repository, stray)| Sighting {
            place: format!(
                "{}:{}:{}",
                labelled(*repository, &stray.display),
                stray.line,
                stray.column
            ),
            object: object_at(*repository, &stray.display, stray.span.start),
            layered: false,
        })
        .collect();
    if let Some(stream) = stream {
        let lines = LineIndex::new(stream.bytes);
        for (span, _) in stream.hidden.found.iter().filter(|(_, f)| f == fingerprint) {
            let (line, column) = lines.line_col(stream.bytes, span.start);
            sightings.push(Sighting {
                place: format!("{}:{line}:{column}", stdin::DISPLAY),
                object: stream.live.object_at(span.start).map(str::to_owned),
                layered: true,
            });
        }
    }
    sightings
}

/// Every site that holds `fingerprint`, where it stands.
fn unattributed(fingerprint: &Fingerprint, scans: &[(Option<&str>, &Scan)]) -> Vec<Sighting> {
    let mut sightings = Vec::new();
    for (label, scan) in scans {
        for (file, site) in scan.sites() {
            if site.value.is_token() && site.value.fingerprint() == Some(fingerprint) {
                let (line, column) = file.line_col(site.value_span.start);
                sightings.push(Sighting {
                    place: format!("{}:{line}:{column}", labelled(*label, &file.display)),
                    object: None,
                    layered: false,
                });
            }
        }
    }
    sightings
}
