//! `rekey inventory`: which delegates hold which tokens, across working trees, streams on
//! standard input and repositories. Exit 0 when every input was read, 2 otherwise.

use super::exit::{fail, EXIT_ERROR, EXIT_OK};
use super::harness::{self, ConnectArgs};
use super::inputs::{self, SourceArgs};
use crate::find::walk::Sweep;
use crate::report::inventory::HarnessNames;
use crate::report::{self, inventory as inventory_report, Style};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct InventoryArgs {
    /// Files or directories to read, `-` for a stream on standard input (default: the
    /// current directory, unless --repo names repositories).
    paths: Vec<PathBuf>,
    #[command(flatten)]
    sources: SourceArgs,
    #[arg(long, value_name = "FILE", help = super::help::config("The policy file that judges each token"))]
    config: Option<PathBuf>,
    /// How to print the delegates: text for people, json for machines
    /// (`rekey.inventory/v1`), markdown for a pull request or a CI step summary.
    #[arg(long, value_enum, default_value_t = InventoryFormat::Text)]
    format: InventoryFormat,
    /// With --format json and an account in the Harness settings, each token's Harness
    /// name is looked up with this key.
    #[command(flatten)]
    connection: ConnectArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum InventoryFormat {
    Text,
    Json,
    Markdown,
}

pub fn run(args: InventoryArgs, cwd: &Path) -> u8 {
    let gathering = match inputs::gather(
        &args.paths,
        &args.sources,
        args.config.as_deref(),
        cwd,
        |_| Sweep::Off,
    ) {
        Ok(gathering) => gathering,
        Err(message) => return fail(&message),
    };
    let inventory = gathering.inventory();
    let policy = gathering.policy_shown();
    match args.format {
        InventoryFormat::Text => report::to_stdout(&inventory_report::text(
            &inventory,
            &policy,
            Style::for_stdout(),
        )),
        InventoryFormat::Json => {
            let names = harness::token_names(cwd, args.config.as_deref(), &args.connection)
                .unwrap_or_else(|error| {
                    report::note(&format!("Harness token names are not shown: {error}"));
                    HarnessNames::new()
                });
            let policy = gathering.policy_named();
            let record = inventory_report::json_record(&inventory, &names, policy.as_deref());
            report::json_to_stdout(&record);
        }
        InventoryFormat::Markdown => {
            report::to_stdout(&inventory_report::markdown(&inventory, &policy))
        }
    }
    if let Some(line) = crate::report::scan::ignored_line(gathering.ignored()) {
        report::note(&format!("not read: {line}"));
    }
    for message in &gathering.failed {
        report::error(message);
    }
    if gathering.failed.is_empty() && inventory.unjudged.is_empty() {
        EXIT_OK
    } else {
        EXIT_ERROR
    }
}
