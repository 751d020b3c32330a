//! The `rekey` binary: everything lives in the library; this only hands over the exit code
//! and picks the allocator.

// mimalloc: parsing thousands of small manifests is mostly small allocations, and glibc's
// allocator took a fifth of a scan's time in them (see benches/README.md, Performance).
// Built without transparent huge pages, which would add megabytes of resident memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rekey::cli::main()
}
