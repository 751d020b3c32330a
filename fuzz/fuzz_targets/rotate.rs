//! Fuzzes the rotate property (see `rekey::property`): the first byte picks the file name,
//! and so the scanner; the rest is the file. Run with `cargo +nightly fuzz run rotate`.

#![no_main]

use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 11] = [
    "x.yaml",
    "x.json",
    "x.toml",
    "x.tf",
    "x.tfstate",
    "x.sh",
    ".env",
    "Dockerfile",
    "x.service",
    "templates/x.yaml",
    "config-watcher.yml",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let name = NAMES[usize::from(selector) % NAMES.len()];
    if let Err(broken) = rekey::property::check(name, bytes) {
        panic!("{name}: {broken}");
    }
});
