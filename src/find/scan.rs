//! The scan stage of the pipeline: source files in, sites and per-file errors out. Every
//! command starts here; the same `scan_file` serves the working tree and, later, git blobs.
//!
//! Files stream through: each is read, parsed and judged on a worker thread, and what the
//! run keeps of it is its sites, the positions its reports show and its digest, never its
//! bytes (a rotation reads a file again to verify, show and write its edits). What a run
//! keeps still grows with the sites and the token-shaped strings it finds: [`Budget`]
//! bounds that, so that no input (many files full of sites, checksum lists) takes rekey
//! past a few hundred MiB. A run past the budget judges nothing. It says so in one
//! `unchecked-file` entry for the whole input (`check` fails, `rotate` refuses, `scan`
//! errs) rather than in whichever files happened to be read last, so the answer never
//! depends on timing.

use crate::find::formats::Format;
use crate::find::ignore_rules::{Ignore, Ignored};
use crate::find::sweep::{self, Stray};
use crate::find::walk::{self, Skipped, SourceFile, Sweep, WalkOptions};
use crate::model::fs::{display_path, FileDigest};
use crate::model::position::{line_col, Positions};
use crate::model::secrets;
use crate::model::site::{SecretLoad, Site, Span};
use crate::model::token::Fingerprint;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// A file that holds at least one site: its sites, the positions its reports show, and its
/// digest, but not its bytes. A run holds every such file until it ends, and a tree can
/// hold tens of thousands: whoever needs the bytes again (a rotation verifying, showing and
/// writing its edits) reads the file again and checks it against the digest.
pub struct ScannedFile {
    pub path: PathBuf,
    pub display: String,
    pub format: Format,
    pub sites: Vec<Site>,
    /// The Secrets its workloads load whole: moved into [`Scan::loads`] when collected.
    pub loads: Vec<SecretLoad>,
    /// What the file held when it was scanned.
    pub digest: FileDigest,
    /// The git blob it was read from (a commit's tree, the index), to read it again by.
    pub blob: Option<git2::Oid>,
    /// The positions of every offset a report asks about (see [`ScannedFile::line_col`]),
    /// worked out on the worker thread that parsed the file, while its bytes were there.
    positions: Positions,
}

impl ScannedFile {
    pub fn new(
        path: PathBuf,
        display: String,
        format: Format,
        bytes: &[u8],
        mut sites: Vec<Site>,
    ) -> Self {
        // A scanner's vector grows by doubling; a rotation keeps every file's sites until
        // it is done, and most files hold one.
        sites.shrink_to_fit();
        let positions = Positions::new(bytes, sites.iter().flat_map(reported_offsets));
        ScannedFile {
            path,
            display,
            format,
            sites,
            loads: Vec::new(),
            digest: FileDigest::of(bytes),
            blob: None,
            positions,
        }
    }

    /// The 1-based line and column of a byte offset in this file: a site's location, the
    /// start or end of its key or value, or its location plus its key's or value's length
    /// (where a finding's highlight ends). Those are the only offsets kept.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        self.positions.line_col(offset)
    }
}

/// The offsets of a site whose positions reports show (see [`ScannedFile::line_col`]).
fn reported_offsets(site: &Site) -> [usize; 6] {
    [
        site.location,
        site.location + site.value_span.len(),
        site.location + site.key_span.len(),
        site.key_span.start,
        site.key_span.end,
        site.value_span.start,
    ]
}

/// A file that holds a key name but could not be read as its format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    pub display: String,
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some((line, column)) => write!(f, "{}:{line}:{column}: {}", self.display, self.message),
            None => write!(f, "{}: {}", self.display, self.message),
        }
    }
}

/// What scanning one candidate file gave. Boxed: a walk moves tens of thousands of these
/// between threads and sorts them, and a scan keeps the files where they were made.
pub type Outcome = Result<Option<Box<ScannedFile>>, Box<FileError>>;

#[derive(Default)]
pub struct Scan {
    // Each file stays where its worker thread made it: the list moves pointers, not files.
    #[allow(clippy::vec_box)]
    pub files: Vec<Box<ScannedFile>>,
    pub errors: Vec<FileError>,
    /// Files that could hold a site but could not be judged (see `walk::Skipped`).
    pub skipped: Vec<Skipped>,
    /// How many files were looked at, whether or not they hold a site.
    pub files_seen: usize,
    /// The inputs past what a run holds (see [`Budget`]): nothing under them was judged,
    /// and `skipped` lists each too.
    pub over_budget: Vec<String>,
    /// rekey's own temp files left by an interrupted run (path to open, path to show).
    pub leftovers: Vec<(PathBuf, String)>,
    /// Token-shaped strings outside every site: in comments, prose, unknown keys, files no
    /// scanner reads (those inside a site are left out as each file is scanned).
    pub strays: Vec<Stray>,
    /// Whether every file was swept for `strays`: without it, an empty list says nothing
    /// about what a file holds.
    pub swept: bool,
    /// The Secrets workloads load whole (`envFrom`), from every file, with or without a
    /// site, each with the file it is in (as shown): a Secret's readers may sit in
    /// another file.
    pub loads: Vec<(String, SecretLoad)>,
    /// What the working tree's ignore rules left out (`--no-ignore` walks it too).
    pub ignored: Ignored,
}

impl Scan {
    pub fn sites(&self) -> impl Iterator<Item = (&ScannedFile, &Site)> {
        self.files
            .iter()
            .flat_map(|file| file.sites.iter().map(move |site| (&**file, site)))
    }

    /// The files that hold a token of `tokens`, at a site or anywhere in their bytes (a
    /// stray), each with the ones it holds, by path as shown.
    pub fn files_holding(
        &self,
        tokens: &BTreeSet<Fingerprint>,
    ) -> BTreeMap<String, BTreeSet<Fingerprint>> {
        let mut held: BTreeMap<String, BTreeSet<Fingerprint>> = BTreeMap::new();
        let sites = self.sites().filter_map(|(file, site)| {
            let fingerprint = site.value.fingerprint().filter(|_| site.value.is_token())?;
            Some((file.display.as_str(), fingerprint))
        });
        let strays = self
            .strays
            .iter()
            .map(|stray| (&*stray.display, &stray.fingerprint));
        for (path, fingerprint) in sites.chain(strays) {
            if tokens.contains(fingerprint) {
                held.entry(path.to_owned())
                    .or_default()
                    .insert(fingerprint.clone());
            }
        }
        held
    }
}

/// Scans the working tree below `roots`, passing over the files `exclude` names (and those
/// the ignore rules name, unless `ignore` includes them), and sweeping every file for
/// token-shaped strings when `sweeping` says so.
pub fn scan_paths(
    roots: &[PathBuf],
    cwd: &Path,
    exclude: &(dyn Fn(&Path) -> bool + Sync),
    sweeping: Sweep,
    ignore: Ignore,
) -> Scan {
    let budget = Budget::default();
    let scan = |file: SourceFile<'_>, strays: &mut Vec<Stray>| budget.scan_file(file, strays);
    let keep = |strays: &mut Vec<Stray>| budget.keep_strays(strays);
    let shown: Vec<String> = roots.iter().map(|root| display_path(root, cwd)).collect();
    let walked = walk::walk(
        roots,
        cwd,
        exclude,
        &scan,
        &keep,
        WalkOptions {
            sweep: sweeping,
            ignore,
        },
        |outcome| match outcome {
            Ok(Some(file)) => &file.display,
            Ok(None) => "",
            Err(error) => &error.display,
        },
    );
    let mut scan = Scan::collect(walked.files, walked.skipped);
    scan.files_seen = walked.seen;
    scan.leftovers = walked.leftovers;
    scan.strays = walked.strays;
    scan.swept = sweeping == Sweep::On;
    scan.ignored = walked.ignored;
    budget.settle(&mut scan, &shown.join(", "));
    scan
}

impl Scan {
    /// Gathers per-file outcomes (in the order given) and skips into one scan.
    pub fn collect(outcomes: Vec<Outcome>, skipped: Vec<Skipped>) -> Scan {
        let mut scan = Scan::default();
        // Held until the run ends: no slack of the vector's growth beside them.
        scan.files
            .reserve_exact(outcomes.iter().filter(|o| matches!(o, Ok(Some(_)))).count());
        for outcome in outcomes {
            match outcome {
                Ok(Some(mut file)) => {
                    let display = &file.display;
                    let loads = file.loads.drain(..).map(|load| (display.clone(), load));
                    scan.loads.extend(loads);
                    if !file.sites.is_empty() {
                        scan.files.push(file);
                    }
                }
                Ok(None) => {}
                Err(error) => scan.errors.push(*error),
            }
        }
        scan.skipped = skipped;
        scan
    }
}

/// A file's site value spans, for telling whether a span overlaps one that holds a given
/// token in a binary search however many sites the file holds.
struct SiteSpans<'a> {
    /// Each span with the token its site holds (`None`: not a token), sorted by start.
    spans: Vec<(&'a Span, Option<&'a Fingerprint>)>,
    /// The furthest end among the spans up to each index.
    furthest_end: Vec<usize>,
}

impl<'a> SiteSpans<'a> {
    fn new(file: &'a ScannedFile) -> SiteSpans<'a> {
        let mut spans: Vec<(&Span, Option<&Fingerprint>)> = file
            .sites
            .iter()
            .map(|site| {
                let token = site.value.fingerprint().filter(|_| site.value.is_token());
                (&site.value_span, token)
            })
            .collect();
        spans.sort_by_key(|(span, _)| span.start);
        let mut furthest = 0;
        let furthest_end = spans
            .iter()
            .map(|(span, _)| {
                furthest = furthest.max(span.end);
                furthest
            })
            .collect();
        SiteSpans {
            spans,
            furthest_end,
        }
    }

    /// Some site that holds `fingerprint` starts before `span` ends and ends after it
    /// starts: the stray is that site's value. A stray inside a site whose value is not
    /// that token (a quoted `"token"` read as one string, a command line) is kept.
    fn holds(&self, span: &Span, fingerprint: &Fingerprint) -> bool {
        let starting_before_end = self.spans.partition_point(|(s, _)| s.start < span.end);
        (0..starting_before_end)
            .rev()
            .take_while(|&i| self.furthest_end[i] > span.start)
            .any(|i| {
                let (site, token) = self.spans[i];
                site.end > span.start && token == Some(fingerprint)
            })
    }
}

/// The memory one scan may hold: the files with sites (without their bytes), their sites,
/// and the token-shaped strings the sweep keeps for judging.
pub struct Budget {
    held: AtomicUsize,
    exceeded: AtomicBool,
    /// Files of a MiB or more are parsed one at a time: a parse tree can take ten times
    /// the file, and there may be as many parsing threads as cores.
    large_parse: Mutex<()>,
}

impl Budget {
    /// How much a scan may hold: 250,000 sites, or 100,000 files with a site each, or
    /// 500,000 token-shaped strings outside sites, or a mix. Real repositories hold far
    /// less (a 100,000-file monorepo: 8,000 sites); 68,000 files with 97,000 sites
    /// between them take three quarters. File contents are not held, so they do not count.
    pub const LIMIT: usize = 64 << 20;
    /// What one site costs across the run: the site, its kept positions, its edit and its
    /// report.
    const SITE_COST: usize = 256;
    /// What a file with sites costs besides its sites: its paths, digest, kept positions
    /// and plan.
    const FILE_COST: usize = 384;
    /// What one stray costs (the stray and its finding): the budget holds
    /// [`sweep::MAX_STRAYS`] of them.
    const STRAY_COST: usize = Self::LIMIT / sweep::MAX_STRAYS;
    const LARGE_FILE: usize = 1 << 20;

    /// [`scan_file`], charged to the budget: past it the file is an error. `strays` are the
    /// token-shaped strings the sweep found in the file: those inside its sites are dropped
    /// here (the sites are judged as sites); [`Budget::keep_strays`] charges the rest.
    pub fn scan_file(&self, file: SourceFile<'_>, strays: &mut Vec<Stray>) -> Outcome {
        // Charged before parsing, one site per key name, so that a file past the budget is
        // refused without building its parse tree.
        let expected = file.key_names;
        let cost = Self::FILE_COST + expected * Self::SITE_COST;
        if !self.charge(cost) {
            strays.clear();
            return Ok(None);
        }
        let _one_at_a_time = (file.bytes.len() >= Self::LARGE_FILE)
            .then(|| self.large_parse.lock().unwrap_or_else(|e| e.into_inner()));
        let scanned = scan_file(file);
        match &scanned {
            Ok(Some(scanned)) if !scanned.sites.is_empty() => {
                if !strays.is_empty() {
                    let sites = SiteSpans::new(scanned);
                    strays.retain(|stray| !sites.holds(&stray.span, &stray.fingerprint));
                }
                // Rarely more sites than key names (an alias, an embedded document).
                let more = scanned.sites.len().saturating_sub(expected);
                self.charge(more * Self::SITE_COST);
            }
            // Nothing is held (a file read for its Secret links keeps only those): the
            // charge is given back.
            Ok(_) | Err(_) => {
                self.held.fetch_sub(cost, Ordering::Relaxed);
            }
        }
        scanned.map(|file| file.map(Box::new)).map_err(Box::new)
    }

    /// Charges the strays of one file (those outside its sites); past the budget they are
    /// dropped, and the run judges nothing (see [`Budget::settle`]).
    pub fn keep_strays(&self, strays: &mut Vec<Stray>) {
        if !self.charge(strays.len() * Self::STRAY_COST) {
            strays.clear();
        }
    }

    /// Adds `cost` to what the run holds: whether it is still within the budget. Past it,
    /// the run is over budget for good.
    fn charge(&self, cost: usize) -> bool {
        let within = self.held.fetch_add(cost, Ordering::Relaxed) + cost <= Self::LIMIT;
        if !within {
            self.exceeded.store(true, Ordering::Relaxed);
        }
        within
    }

    /// Once the run is read: past the budget, what was held depends on which files the
    /// threads read first, so none of it is judged. `input` (the paths given, as shown)
    /// becomes one unchecked entry, and the scan is marked over budget.
    pub fn settle(&self, scan: &mut Scan, input: &str) {
        if !self.exceeded.load(Ordering::Relaxed) {
            return;
        }
        let input = if input.is_empty() { "." } else { input };
        scan.files.clear();
        scan.errors.clear();
        scan.strays.clear();
        scan.over_budget.push(input.to_owned());
        scan.skipped.insert(
            0,
            Skipped {
                display: input.to_owned(),
                reason: Self::over_budget_reason(),
            },
        );
    }

    /// Why an input past the budget was not judged.
    pub fn over_budget_reason() -> String {
        format!(
            "its delegate-token sites and token-shaped strings are more than the {} MiB rekey holds in one run, so nothing here was judged: give rekey fewer paths at a time, or exclude checksum lists and generated files in .rekey.toml [scan] exclude",
            Self::LIMIT >> 20
        )
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            held: AtomicUsize::new(0),
            exceeded: AtomicBool::new(false),
            large_parse: Mutex::new(()),
        }
    }
}

/// What [`sites_of`] reads of a file.
type Parsed = (Format, Vec<Site>, Vec<SecretLoad>);

/// Parses one candidate file. `Ok(None)`: not a format rekey reads, or no site in it.
pub fn scan_file(file: SourceFile<'_>) -> Result<Option<ScannedFile>, FileError> {
    let Some((format, sites, loads)) = sites_of(&file)? else {
        return Ok(None);
    };
    let mut scanned = ScannedFile::new(file.path, file.display, format, &file.bytes, sites);
    scanned.loads = loads;
    Ok(Some(scanned))
}

/// The format, sites and Secret loads of one candidate file, without what a run keeps
/// beside them (its digest and positions): for the walk of history, which keeps only the
/// tokens it finds.
pub fn sites_of(file: &SourceFile<'_>) -> Result<Option<Parsed>, FileError> {
    let Ok(text) = std::str::from_utf8(&file.bytes) else {
        if Format::detect(&file.path, "").is_none() {
            return Ok(None);
        }
        return Err(FileError {
            display: file.display.clone(),
            position: None,
            message: "holds a delegate-token key but is not valid UTF-8: re-save it as UTF-8"
                .to_owned(),
        });
    };
    let Some(format) = Format::detect(&file.path, text) else {
        return Ok(None);
    };
    // A file without a key name was read for the Secrets it loads alone.
    let links_only = file.key_names == 0;
    match format.scan_with_loads(text) {
        Ok((sites, loads)) if sites.is_empty() && loads.is_empty() => Ok(None),
        Err(_) if links_only => Ok(None),
        Ok((mut sites, loads)) => {
            // Held until the run ends: a file of 150,000 sites should not keep the slack
            // of the vector's growth too.
            sites.shrink_to_fit();
            // Every token value read is masked in all output from here on.
            for site in sites.iter().filter(|site| site.value.is_token()) {
                secrets::remember(&text[site.value_span.clone()]);
            }
            Ok(Some((format, sites, loads)))
        }
        Err(error) => Err(FileError {
            position: Some(line_col(&file.bytes, error.offset)),
            display: file.display.clone(),
            message: format!(
                "cannot parse this {} file: {}; fix the syntax, then run rekey again",
                format.name().to_uppercase(),
                error.message
            ),
        }),
    }
}
