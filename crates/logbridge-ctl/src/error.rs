//! How a command ends: [`Outcome`] when it ran to the end, [`CtlError`] when it could not, and the
//! process exit status ([`ExitStatus`]) each of them maps to.
//!
//! | Status | Meaning | Produced by |
//! |---|---|---|
//! | 0 | success | `Ok(Outcome::Ok)` |
//! | 1 | a check failed | `Ok(Outcome::ChecksFailed(_))`, `Err(CtlError::CheckFailed(_))` |
//! | 2 | usage error | clap, before any command runs |
//! | 3 | bad input | `Err(CtlError::BadInput(_))` |
//! | 4 | the command needs Windows | `Err(CtlError::NeedsWindows(_))` |
//! | 5 | the command failed otherwise | `Err(CtlError::Io(_))`, `Err(CtlError::Failed(_))` |
//! | 6 | the device or the system is not ready for the command | `Err(CtlError::NotReady(_))` |
//!
//! Every error is reported as one line on stderr: `logbridge-ctl: <message>`, except
//! [`CtlError::NeedsWindows`], whose line names the command instead:
//! ``logbridge-ctl <command>: needs Windows (it talks to the LogBridge driver); on this host try `logbridge-ctl simulate` ``.

use std::fmt;
use std::process::ExitCode;

/// The documented exit statuses of `logbridge-ctl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// The command did what was asked.
    Success = 0,
    /// The command ran, but a check failed: a contract violation in `simulate`, a FAIL in `verify`.
    CheckFailed = 1,
    /// The command line was wrong (clap's own status for usage errors).
    Usage = 2,
    /// The input was bad: malformed hex, an unreadable file, bytes that do not decode.
    BadInput = 3,
    /// The command talks to the driver and this host is not Windows.
    NeedsWindows = 4,
    /// The command failed for another reason: an I/O error on output or on a file it writes, or
    /// a Windows call that failed (the message names it).
    Failed = 5,
    /// The device or the system is not ready for the command: no LogBridge device is present, the
    /// prompt is not elevated (the device admits only Administrators), or test signing is off.
    NotReady = 6,
}

impl ExitStatus {
    /// The numeric status.
    pub const fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status.code())
    }
}

/// The exit-status table, as shown at the end of `logbridge-ctl --help`.
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  success
  1  a check failed (a contract violation in `simulate`, a FAIL in `verify`)
  2  usage error (bad command line)
  3  bad input (malformed hex, unreadable or missing file, bytes that do not decode)
  4  the command needs Windows (it talks to the LogBridge driver) and this host is not Windows
  5  the command failed otherwise (an I/O error, a Windows call that failed)
  6  not ready: no LogBridge device, not an elevated prompt, or test signing off (the message says which)";

/// How a command that ran to the end came out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything checked out (or there was nothing to check). Exit status 0.
    Ok,
    /// The command printed its whole report, and some checks in it failed. The message (a one-line
    /// summary such as `3 of 20 checks failed`) goes to stderr; exit status 1.
    ChecksFailed(String),
}

impl Outcome {
    /// The exit status of this outcome.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Outcome::Ok => ExitStatus::Success,
            Outcome::ChecksFailed(_) => ExitStatus::CheckFailed,
        }
    }
}

/// Why a command stopped.
#[derive(Debug)]
pub enum CtlError {
    /// The input is bad: malformed hex, a file that cannot be read, bytes that do not decode.
    /// The message says what and where. Exit status 3.
    BadInput(String),
    /// The named command talks to the driver and this host is not Windows. Exit status 4.
    NeedsWindows(&'static str),
    /// A check failed and the command stopped there (a command that finishes its report returns
    /// [`Outcome::ChecksFailed`] instead). Exit status 1.
    CheckFailed(String),
    /// A Windows call failed; the message names it and says why. Exit status 5.
    Failed(String),
    /// The device or the system is not ready: the message says what to do. Exit status 6.
    NotReady(String),
    /// An I/O error on output or on a file the command writes. Exit status 5.
    /// (An input file that cannot be read is [`CtlError::BadInput`].)
    Io(std::io::Error),
}

impl CtlError {
    /// The exit status of this error.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            CtlError::BadInput(_) => ExitStatus::BadInput,
            CtlError::NeedsWindows(_) => ExitStatus::NeedsWindows,
            CtlError::CheckFailed(_) => ExitStatus::CheckFailed,
            CtlError::Failed(_) | CtlError::Io(_) => ExitStatus::Failed,
            CtlError::NotReady(_) => ExitStatus::NotReady,
        }
    }

    /// The whole line printed on stderr (without the newline).
    pub fn report_line(&self) -> String {
        match self {
            CtlError::NeedsWindows(command) => format!("logbridge-ctl {command}: {self}"),
            _ => format!("logbridge-ctl: {self}"),
        }
    }

    /// True for an error writing to a stdout whose reader has gone away (`| head`): the program
    /// then stops quietly.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CtlError::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl fmt::Display for CtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtlError::BadInput(message)
            | CtlError::CheckFailed(message)
            | CtlError::Failed(message)
            | CtlError::NotReady(message) => f.write_str(message),
            CtlError::NeedsWindows(_) => f.write_str(
                "needs Windows (it talks to the LogBridge driver); on this host try `logbridge-ctl simulate`",
            ),
            CtlError::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for CtlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CtlError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for CtlError {
    fn from(e: std::io::Error) -> CtlError {
        CtlError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_the_documented_statuses() {
        assert_eq!(Outcome::Ok.exit_status().code(), 0);
        assert_eq!(Outcome::ChecksFailed("x".into()).exit_status().code(), 1);
        assert_eq!(CtlError::CheckFailed("x".into()).exit_status().code(), 1);
        assert_eq!(ExitStatus::Usage.code(), 2);
        assert_eq!(CtlError::BadInput("x".into()).exit_status().code(), 3);
        assert_eq!(CtlError::NeedsWindows("tail").exit_status().code(), 4);
        assert_eq!(CtlError::Failed("x".into()).exit_status().code(), 5);
        assert_eq!(CtlError::NotReady("x".into()).exit_status().code(), 6);
        assert_eq!(CtlError::Io(std::io::Error::other("x")).exit_status().code(), 5);
    }

    #[test]
    fn report_lines() {
        assert_eq!(
            CtlError::NeedsWindows("tail").report_line(),
            "logbridge-ctl tail: needs Windows (it talks to the LogBridge driver); on this host try `logbridge-ctl simulate`"
        );
        assert_eq!(CtlError::BadInput("bad hex".into()).report_line(), "logbridge-ctl: bad hex");
        assert_eq!(
            CtlError::NotReady("no LogBridge device is present".into()).report_line(),
            "logbridge-ctl: no LogBridge device is present"
        );
        let pipe = CtlError::Io(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(pipe.is_broken_pipe());
        assert!(!CtlError::BadInput(String::new()).is_broken_pipe());
    }
}
