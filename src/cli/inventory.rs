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
    /// The policy file that judges the tokens (default: .rekey.toml found upwards).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
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
    match args.format {
        InventoryFormat::Text => {
            report::to_stdout(&inventory_report::text(&inventory, Style::for_stdout()))
        }
        InventoryFormat::Json => {
            let names = harness::token_names(cwd, args.config.as_deref(), &args.connection)
                .unwrap_or_else(|error| {
                    report::note(&format!("Harness token names are not shown: {error}"));
                    HarnessNames::new()
                });
            report::json_to_stdout(&inventory_report::json_record(&inventory, &names));
        }
        InventoryFormat::Markdown => report::to_stdout(&inventory_report::markdown(&inventory)),
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
