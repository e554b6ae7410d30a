//! `logbridge-ctl`: the companion app of the LogBridge driver (see the library's documentation).

use clap::Parser;
use logbridge_ctl::{Cli, ExitStatus, Outcome, run};
use std::io::Write;
use std::process::ExitCode;

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
