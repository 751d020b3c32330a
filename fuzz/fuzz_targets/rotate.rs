//! Fuzzes the rotate property (see `rekey::rotate::property`): the first byte picks the file name,
//! and so the scanner; the rest is the file. Run with `cargo +nightly fuzz run rotate`.

#![no_main]

use libfuzzer_sys::fuzz_target;


fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let names = rekey::rotate::property::FILE_NAMES;
    let name = names[usize::from(selector) % names.len()];
    if let Err(broken) = rekey::rotate::property::check(name, bytes) {
        panic!("{name}: {broken}");
    }
});
