//! `rekey completions` and `rekey man`: shell completion scripts and manual pages, generated
//! from the same clap definitions that parse the command line, so they never drift from it.

use super::exit::{fail, EXIT_OK};
use crate::report;
use clap::Args;
use clap_complete::Shell;
use std::path::PathBuf;

#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Args)]
pub struct ManArgs {
    /// Write rekey.1 and one rekey-COMMAND.1 page per command into this directory instead
    /// of printing rekey.1.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

/// `command`: the whole command line's definition.
pub fn completions(args: CompletionsArgs, mut command: clap::Command) -> u8 {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "rekey", &mut script);
    // Generated scripts are ASCII; lossless in practice, and printing goes through report.
    report::to_stdout(&String::from_utf8_lossy(&script));
    EXIT_OK
}

pub fn man(args: ManArgs, command: clap::Command) -> u8 {
    let mut command = command.disable_help_subcommand(true);
    command.build();
    match args.out_dir {
        Some(dir) => {
            let mut pages = vec![command.clone()];
            pages.extend(command.get_subcommands().cloned());
            for page in pages {
                let name = format!("{}.1", page.get_display_name().unwrap_or(page.get_name()));
                if let Err(error) = std::fs::write(dir.join(&name), render(page)) {
                    return fail(format!(
                        "--out-dir {}: cannot write {name}: {error}",
                        dir.display()
                    ));
                }
            }
            EXIT_OK
        }
        None => {
            report::to_stdout(&String::from_utf8_lossy(&render(command)));
            EXIT_OK
        }
    }
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
