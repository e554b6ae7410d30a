//! `logbridge-ctl`: the companion app of the LogBridge driver.
//!
//! * `simulate` runs the driver's write path on any host in the checked kernel model and shows what
//!   the driver would produce ([`simulate`]).
//! * `decode` turns the driver's binary forms (Event Log packets and binary data, WMI event items,
//!   ring-log dumps) into JSON, on any host ([`decode`]).
//! * `install`, `uninstall`, `write`, `tail`, `wmi`, `events`, `stats`, `clear`, `stress` and
//!   `verify` talk to the driver and need Windows ([`windows_commands`]).
//!
//! The crate is a library (every module is portable and tested on any host, but for `win`,
//! compiled only on Windows) and a thin binary (`main.rs`).
//!
//! Errors are one line on stderr, `logbridge-ctl: <message>`, and the exit status says what kind of
//! failure it was ([`error`]). The program never panics on its input.

pub mod decode;
pub mod driver_status;
pub mod error;
pub mod eventlog;
pub mod hex;
pub mod install;
pub mod simulate;
pub mod stress;
pub mod tail;
pub mod verify;
#[cfg(windows)]
mod win;
pub mod windows_commands;
pub mod wmi_event;

pub use error::{CtlError, ExitStatus, Outcome};

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;

/// The command line.
#[derive(Parser, Debug)]
#[command(
    name = "logbridge-ctl",
    version,
    about = "Companion app of the LogBridge driver: simulate its write path, decode its binary \
             formats, and (on Windows) drive, tail and verify the device",
    after_help = error::EXIT_STATUS_HELP
)]
pub struct Cli {
    /// Print JSON instead of tables (`decode` always prints JSON)
    #[arg(long, global = true, display_order = 100)]
    pub json: bool,
    /// Open this device path instead of finding the device by its interface (Windows commands)
    #[arg(long, global = true, value_name = "PATH", display_order = 101)]
    pub device: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the driver's write path in the checked kernel model and show what it produces
    Simulate(simulate::SimulateArgs),
    /// Decode the driver's binary formats to JSON
    #[command(subcommand, after_help = decode::INPUT_HELP)]
    Decode(decode::DecodeCommand),
    /// The commands that talk to the driver.
    #[command(flatten)]
    Windows(windows_commands::WindowsCommand),
}

/// Runs the parsed command, writing its report to `out`.
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<Outcome, CtlError> {
    match &cli.command {
        Command::Simulate(args) => simulate::run(args, cli.json, out),
        Command::Decode(command) => decode::run(command, out),
        Command::Windows(command) => windows_commands::run(command, cli.device.as_deref(), cli.json, out),
    }
}

/// Prints a note on stderr (`logbridge-ctl: note: ...`) without stopping the command. A stderr
/// that cannot be written is not an error.
pub fn report_note(note: &str) {
    let _ = writeln!(std::io::stderr().lock(), "logbridge-ctl: note: {note}");
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn windows_commands_need_windows_here() {
        let cli = Cli::try_parse_from(["logbridge-ctl", "--device", r"\\.\LogBridge", "tail", "--follow"]).unwrap();
        let result = run(&cli, &mut Vec::new());
        if cfg!(windows) {
            // The path does not exist: the open fails and says so.
            assert!(matches!(result, Err(CtlError::NotReady(ref m)) if m.contains("LogBridge")));
        } else {
            assert!(matches!(result, Err(CtlError::NeedsWindows("tail"))));
        }
    }

    #[test]
    fn a_missing_input_file_is_bad_input() {
        let cli = Cli::try_parse_from(["logbridge-ctl", "decode", "ring", "/nonexistent/ring.bin"]).unwrap();
        let result = run(&cli, &mut Vec::new());
        assert!(matches!(result, Err(CtlError::BadInput(ref m)) if m.contains("/nonexistent/ring.bin")));
    }
}
