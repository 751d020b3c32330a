//! `rekey completions` and `rekey man`: shell completion scripts and manual pages, generated
//! from the same clap definitions that parse the command line, so they never drift from it.

use super::exit::{fail, EXIT_OK};
use crate::report;
use clap::Args;
use clap_complete::Shell;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
    /// Write the script into this directory (created if missing) under the name the shell
    /// looks for (bash: rekey, zsh: _rekey, fish: rekey.fish, powershell: _rekey.ps1,
    /// elvish: rekey.elv) instead of printing it.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct ManArgs {
    /// Write rekey.1 and one rekey-COMMAND.1 page per command into this directory (created
    /// if missing) instead of printing rekey.1.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

/// `command`: the whole command line's definition.
pub fn completions(args: CompletionsArgs, mut command: clap::Command) -> u8 {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "rekey", &mut script);
    match args.out_dir {
        Some(dir) => write_files(&dir, [(script_name(args.shell).to_owned(), script)]),
        None => {
            // Generated scripts are ASCII; lossless in practice, and printing goes
            // through report.
            report::to_stdout(&String::from_utf8_lossy(&script));
            EXIT_OK
        }
    }
}

/// The file name each shell's completion loader looks for: bash-completion loads
/// `completions/<command>` on first use, zsh's compinit the `_<command>` functions on
/// `$fpath`, fish `completions/<command>.fish`.
fn script_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "rekey",
        Shell::Zsh => "_rekey",
        Shell::Fish => "rekey.fish",
        Shell::PowerShell => "_rekey.ps1",
        Shell::Elvish => "rekey.elv",
        _ => "rekey.completion",
    }
}

pub fn man(args: ManArgs, command: clap::Command) -> u8 {
    let mut command = command.disable_help_subcommand(true);
    command.build();
    match args.out_dir {
        Some(dir) => {
            let mut pages = vec![command.clone()];
            pages.extend(command.get_subcommands().cloned());
            let files = pages.into_iter().map(|page| {
                let name = format!("{}.1", page.get_display_name().unwrap_or(page.get_name()));
                (name, render(page))
            });
            write_files(&dir, files)
        }
        None => {
            report::to_stdout(&String::from_utf8_lossy(&render(command)));
            EXIT_OK
        }
    }
}

/// Writes each `(name, bytes)` into `dir`, made first (with its parents) so that an
/// install line works on a fresh home directory.
fn write_files(dir: &Path, files: impl IntoIterator<Item = (String, Vec<u8>)>) -> u8 {
    if let Err(error) = std::fs::create_dir_all(dir) {
        return fail(format!(
            "--out-dir {}: cannot create the directory: {error}",
            dir.display()
        ));
    }
    for (name, bytes) in files {
        if let Err(error) = std::fs::write(dir.join(&name), bytes) {
            return fail(format!(
                "--out-dir {}: cannot write {name}: {error}",
                dir.display()
            ));
        }
    }
    EXIT_OK
}

/// One manual page: clap_mangen's sections, then the `--help` epilogue (examples and exit
/// status) as unfilled text, so example lines keep their layout.
fn render(command: clap::Command) -> Vec<u8> {
    let epilogue = command.get_after_help().map(|text| text.to_string());
    let man = clap_mangen::Man::new(command.clone());
    let mut page = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = man.render_title(&mut page);
    let _ = man.render_name_section(&mut page);
    let _ = man.render_synopsis_section(&mut page);
    let _ = man.render_description_section(&mut page);
    let _ = man.render_options_section(&mut page);
    if command.has_subcommands() {
        let _ = man.render_subcommands_section(&mut page);
    }
    if let Some(epilogue) = epilogue {
        page.extend_from_slice(b".SH \"EXAMPLES AND EXIT STATUS\"\n.nf\n");
        for line in epilogue.lines() {
            page.extend_from_slice(roff_line(line).as_bytes());
            page.push(b'\n');
        }
        page.extend_from_slice(b".fi\n");
    }
    if command.get_version().is_some() {
        let _ = man.render_version_section(&mut page);
    }
    page
}

/// A line of literal text for roff: backslashes escaped, a leading `.` or `'` (a request)
/// and a leading space guarded.
fn roff_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}
