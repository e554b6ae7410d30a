//! `logbridge-ctl`: the companion app of the LogBridge driver.
//!
//! * `simulate` runs the driver's write path on any host in the checked kernel model and shows what
//!   the driver would produce ([`simulate`]).
//! * `decode` turns the driver's binary forms (Event Log packets and binary data, WMI event items,
//!   ring-log dumps) into JSON, on any host ([`decode`]).
//! * `install`, `uninstall`, `write`, `tail`, `wmi`, `events`, `stats`, `clear`, `stress` and
//!   `verify` talk to the driver and need Windows ([`windows_commands`]).
//!
//! Errors are one line on stderr, `logbridge-ctl: <message>`, and the exit status says what kind of
//! failure it was ([`error`]). The program never panics on its input.

mod decode;
mod error;
mod hex;
mod simulate;
mod windows_commands;

pub use error::{CtlError, ExitStatus, Outcome};

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

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
        Command::Windows(command) => windows_commands::run(command, cli.device.as_deref(), cli.json),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors to stderr with status 2.
            // A failure to print them changes nothing.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(ExitStatus::Usage.code()));
        }
    };
    // Not `stdout().lock()`: a command that prints from other threads (simulate) must not block
    // on a lock this thread holds for the whole run. Each buffered flush locks briefly.
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let result = run(&cli, &mut out).and_then(|outcome| {
        out.flush()?;
        Ok(outcome)
    });
    match result {
        Ok(Outcome::Ok) => ExitStatus::Success.into(),
        Ok(Outcome::ChecksFailed(message)) => {
            report(&format!("logbridge-ctl: {message}"));
            ExitStatus::CheckFailed.into()
        }
        // The reader of stdout went away (`| head`): stop quietly.
        Err(e) if e.is_broken_pipe() => ExitStatus::Success.into(),
        Err(e) => {
            // Whatever was printed before the error is still delivered.
            let _ = out.flush();
            report(&e.report_line());
            e.exit_status().into()
        }
    }
}

/// Prints one line on stderr. Unlike `eprintln!`, a stderr that cannot be written is not a panic.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
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
            assert!(matches!(result, Err(CtlError::NotImplemented("tail"))));
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
