//! The commands that talk to the LogBridge driver, and so need Windows.
//!
//! | Command | What it does and shows |
//! |---|---|
//! | `install [--inf PATH]` | installs the driver package (`logbridge.inf`) and creates the device |
//! | `uninstall` | removes the device and the driver package |
//! | `write (TEXT... \| --file F \| --stdin) [--lines]` | writes to the device; shows each write's sequence number and size |
//! | `tail [--follow [--from-start]]` | reads the ring log with `IOCTL_LOGBRIDGE_READ_LOG`: every retained record, or with `--follow` the new ones as they arrive; one line per record, and the records lost to overwrite or clear |
//! | `wmi [--follow]` | receives `LogBridge_WriteEvent` WMI events; one line per event |
//! | `events [--since TIME] [--max N]` | reads LogBridge's entries from the System event log, decoding each entry's binary data |
//! | `stats` | the driver's counters (`IOCTL_LOGBRIDGE_GET_STATS`) |
//! | `clear` | empties the ring log (`IOCTL_LOGBRIDGE_CLEAR_LOG`) |
//! | `stress --writes N --size B --threads T [--rate R]` | many concurrent writes; shows throughput and the counters' deltas |
//! | `verify [--writes N]` | writes, then checks that every write shows up in the ring log, as a WMI event and in the Event Log; one PASS/FAIL line per check |
//!
//! The device is found by its interface class (`GUID_DEVINTERFACE_LOGBRIDGE`) unless the global
//! `--device PATH` names it. The global `--json` switches their output to JSON lines.
//!
//! On other hosts each of them reports that it needs Windows and exits with status 4. On Windows
//! they run in `win` (the only module that calls Win32); everything they decide without a Win32
//! call is in the portable modules: [`crate::tail`], [`crate::eventlog`], [`crate::wmi_event`],
//! [`crate::stress`], [`crate::verify`] and [`crate::install`].

use crate::error::{CtlError, Outcome};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

/// The Windows-only commands.
#[derive(Subcommand, Debug, Clone)]
pub enum WindowsCommand {
    /// Install the driver package and create the LogBridge device [Windows]
    Install(InstallArgs),
    /// Remove the LogBridge device and driver package [Windows]
    Uninstall,
    /// Write to the device: each write becomes an Event Log entry, a WMI event and a ring record [Windows]
    Write(WriteArgs),
    /// Show the ring log's records, oldest first [Windows]
    Tail(TailArgs),
    /// Show LogBridge_WriteEvent WMI events [Windows]
    Wmi(WmiArgs),
    /// Show LogBridge's entries in the System event log [Windows]
    Events(EventsArgs),
    /// Show the driver's counters [Windows]
    Stats,
    /// Empty the ring log [Windows]
    Clear,
    /// Hammer the device with concurrent writes and report throughput and counters [Windows]
    Stress(StressArgs),
    /// Write, then check every write in the ring log, WMI and the Event Log; PASS/FAIL per check [Windows]
    Verify(VerifyArgs),
}

impl WindowsCommand {
    /// The command's name on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            WindowsCommand::Install(_) => "install",
            WindowsCommand::Uninstall => "uninstall",
            WindowsCommand::Write(_) => "write",
            WindowsCommand::Tail(_) => "tail",
            WindowsCommand::Wmi(_) => "wmi",
            WindowsCommand::Events(_) => "events",
            WindowsCommand::Stats => "stats",
            WindowsCommand::Clear => "clear",
            WindowsCommand::Stress(_) => "stress",
            WindowsCommand::Verify(_) => "verify",
        }
    }

    /// Why the command needs an elevated prompt, if it checks for one before doing anything (exit
    /// status 6 without it). The commands that only open the device need no check of their own:
    /// the device admits only SYSTEM and Administrators, and the open says so.
    pub fn elevation_reason(&self) -> Option<&'static str> {
        match self {
            WindowsCommand::Install(_) | WindowsCommand::Uninstall => {
                Some("it adds or removes a driver package and a device node")
            }
            WindowsCommand::Wmi(_) => Some(WMI_ELEVATION_REASON),
            WindowsCommand::Verify(_) => Some(
                "it opens the device and subscribes to LogBridge's WMI events, which \
                 only Administrators and SYSTEM may receive",
            ),
            WindowsCommand::Write(_)
            | WindowsCommand::Tail(_)
            | WindowsCommand::Events(_)
            | WindowsCommand::Stats
            | WindowsCommand::Clear
            | WindowsCommand::Stress(_) => None,
        }
    }
}

/// Why `wmi` needs elevation: Windows gives a driver's WMI GUIDs a default security that lets only
/// Administrators and SYSTEM receive their events, and the INF sets no other.
pub const WMI_ELEVATION_REASON: &str = "LogBridge's WMI events are delivered only to Administrators and SYSTEM: \
     Windows secures a driver's WMI GUIDs so by default";

/// Arguments of `install`.
#[derive(Args, Debug, Clone)]
pub struct InstallArgs {
    /// The driver package's INF [default: logbridge.inf next to logbridge-ctl.exe]
    #[arg(long, value_name = "PATH")]
    pub inf: Option<PathBuf>,
}

/// Arguments of `write`.
#[derive(Args, Debug, Clone)]
pub struct WriteArgs {
    /// What to write.
    #[command(flatten)]
    pub source: WriteSource,
    /// One write per line of the input instead of one write for all of it (with TEXT..., one write per TEXT)
    #[arg(long)]
    pub lines: bool,
}

/// Where `write` gets its bytes (exactly one).
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct WriteSource {
    /// Text to write; several TEXTs are joined with single spaces, like echo
    #[arg(value_name = "TEXT")]
    pub text: Vec<String>,
    /// Write the bytes of file F
    #[arg(long, value_name = "F")]
    pub file: Option<PathBuf>,
    /// Write what arrives on standard input
    #[arg(long)]
    pub stdin: bool,
}

/// Arguments of `tail`.
#[derive(Args, Debug, Clone)]
pub struct TailArgs {
    /// Keep waiting for new records (the read pends until a write arrives); stop with Ctrl+C
    #[arg(long)]
    pub follow: bool,
    /// With --follow: print the retained records first instead of starting at the end of the log
    #[arg(long, requires = "follow")]
    pub from_start: bool,
}

/// Arguments of `wmi`.
#[derive(Args, Debug, Clone)]
pub struct WmiArgs {
    /// Keep waiting for new events; stop with Ctrl+C
    #[arg(long)]
    pub follow: bool,
}

/// Arguments of `events`.
#[derive(Args, Debug, Clone)]
pub struct EventsArgs {
    /// Only entries at or after TIME: an RFC 3339 time (2025-01-31T12:00:00Z) or an age (90s, 10m, 2h, 1d)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// At most N entries, newest last
    #[arg(long, value_name = "N")]
    pub max: Option<u32>,
}

/// Arguments of `stress`.
#[derive(Args, Debug, Clone)]
pub struct StressArgs {
    /// Total number of writes
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub writes: u64,
    /// Size of each write in bytes
    #[arg(long, value_name = "B")]
    pub size: usize,
    /// Writer threads
    #[arg(long, value_name = "T", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub threads: usize,
    /// Writes per second across all threads [default: as fast as possible]
    #[arg(long, value_name = "R", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: Option<u32>,
}

/// Arguments of `verify`.
#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    /// Number of writes to check (at most 10000)
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub writes: u64,
    /// How long to wait for the Event Log and WMI to deliver, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,
}

/// Runs a Windows-only command against the device (`device` overrides the interface lookup).
#[cfg(not(windows))]
pub fn run(
    command: &WindowsCommand,
    device: Option<&Path>,
    json: bool,
    out: &mut dyn std::io::Write,
) -> Result<Outcome, CtlError> {
    let _ = (device, json, out);
    Err(CtlError::NeedsWindows(command.name()))
}

/// Runs a Windows-only command against the device (`device` overrides the interface lookup).
#[cfg(windows)]
pub fn run(
    command: &WindowsCommand,
    device: Option<&Path>,
    json: bool,
    out: &mut dyn std::io::Write,
) -> Result<Outcome, CtlError> {
    crate::win::run(command, device, json, out)
}

/// The writes `write` makes: one for all TEXTs (joined with single spaces, like echo) or one per
/// TEXT with `--lines`; a file's or stdin's bytes as one write, or one per line with `--lines`
/// (a line ends at `\n`, and a `\r` before it is dropped; the empty piece after a final newline
/// is not a write, empty lines inside are zero-length writes). `read_stdin` is called only for
/// `--stdin`. A file that cannot be read is bad input.
pub fn payloads_of(
    args: &WriteArgs,
    read_stdin: impl FnOnce() -> std::io::Result<Vec<u8>>,
) -> Result<Vec<Vec<u8>>, CtlError> {
    let source = &args.source;
    let bytes = if let Some(path) = &source.file {
        crate::decode::read_file(path)?
    } else if source.stdin {
        read_stdin().map_err(|e| CtlError::BadInput(format!("cannot read standard input: {e}")))?
    } else if args.lines {
        return Ok(source.text.iter().map(|t| t.clone().into_bytes()).collect());
    } else {
        return Ok(vec![source.text.join(" ").into_bytes()]);
    };
    if !args.lines {
        return Ok(vec![bytes]);
    }
    let mut lines: Vec<Vec<u8>> =
        bytes.split(|&b| b == b'\n').map(|line| line.strip_suffix(b"\r").unwrap_or(line).to_vec()).collect();
    if bytes.ends_with(b"\n") || bytes.is_empty() {
        lines.pop();
    }
    Ok(lines)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Cli;
    use clap::Parser;

    fn write_args(argv: &[&str]) -> WriteArgs {
        let mut full = vec!["logbridge-ctl", "write"];
        full.extend_from_slice(argv);
        match Cli::try_parse_from(full).unwrap().command {
            crate::Command::Windows(WindowsCommand::Write(args)) => args,
            other => panic!("{other:?}"),
        }
    }

    fn no_stdin() -> std::io::Result<Vec<u8>> {
        panic!("stdin must not be read")
    }

    #[test]
    fn text_is_one_write_or_one_per_text() {
        assert_eq!(payloads_of(&write_args(&["hello", "world"]), no_stdin).unwrap(), [b"hello world".to_vec()]);
        assert_eq!(
            payloads_of(&write_args(&["--lines", "a", "b c"]), no_stdin).unwrap(),
            [b"a".to_vec(), b"b c".to_vec()]
        );
    }

    #[test]
    fn stdin_and_files_split_into_lines() {
        let args = write_args(&["--stdin", "--lines"]);
        let got = payloads_of(&args, || Ok(b"one\r\ntwo\n\nfour\n".to_vec())).unwrap();
        assert_eq!(got, [b"one".to_vec(), b"two".to_vec(), Vec::new(), b"four".to_vec()]);
        let got = payloads_of(&args, || Ok(b"no newline".to_vec())).unwrap();
        assert_eq!(got, [b"no newline".to_vec()]);
        assert!(payloads_of(&args, || Ok(Vec::new())).unwrap().is_empty());
        let whole = payloads_of(&write_args(&["--stdin"]), || Ok(b"a\nb\n".to_vec())).unwrap();
        assert_eq!(whole, [b"a\nb\n".to_vec()]);
        let err = payloads_of(&write_args(&["--stdin"]), || Err(std::io::Error::other("closed"))).unwrap_err();
        assert!(matches!(err, CtlError::BadInput(ref m) if m.contains("closed")));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.bin");
        std::fs::write(&path, [0u8, 1, 2, b'\n', 3]).unwrap();
        let file = path.to_str().unwrap();
        assert_eq!(payloads_of(&write_args(&["--file", file]), no_stdin).unwrap(), [vec![0u8, 1, 2, b'\n', 3]]);
        assert_eq!(
            payloads_of(&write_args(&["--file", file, "--lines"]), no_stdin).unwrap(),
            [vec![0u8, 1, 2], vec![3]]
        );
        let missing = dir.path().join("missing");
        let err = payloads_of(&write_args(&["--file", missing.to_str().unwrap()]), no_stdin).unwrap_err();
        assert!(matches!(err, CtlError::BadInput(_)));
    }

    #[test]
    fn wmi_and_verify_check_elevation_first() {
        let command = |argv: &[&str]| match Cli::try_parse_from(argv).unwrap().command {
            crate::Command::Windows(command) => command,
            other => panic!("{other:?}"),
        };
        for argv in [
            &["logbridge-ctl", "wmi"][..],
            &["logbridge-ctl", "wmi", "--follow"],
            &["logbridge-ctl", "verify"],
            &["logbridge-ctl", "install"],
            &["logbridge-ctl", "uninstall"],
        ] {
            assert!(command(argv).elevation_reason().is_some(), "{argv:?}");
        }
        assert!(command(&["logbridge-ctl", "wmi"]).elevation_reason().unwrap().contains("WMI"));
        assert!(command(&["logbridge-ctl", "verify"]).elevation_reason().unwrap().contains("WMI"));
        assert_eq!(command(&["logbridge-ctl", "stats"]).elevation_reason(), None);
        let message = crate::install::elevation_error("wmi", WMI_ELEVATION_REASON);
        assert!(message.starts_with("wmi needs an elevated prompt") && message.contains("Administrators"), "{message}");
        assert_eq!(crate::CtlError::NotReady(message).exit_status().code(), 6);
    }

    #[test]
    fn argument_ranges_are_enforced_by_the_parser() {
        for bad in [
            &["logbridge-ctl", "stress", "--writes", "0", "--size", "1", "--threads", "1"][..],
            &["logbridge-ctl", "stress", "--writes", "1", "--size", "1", "--threads", "0"],
            &["logbridge-ctl", "stress", "--writes", "1", "--size", "1", "--threads", "1", "--rate", "0"],
            &["logbridge-ctl", "verify", "--writes", "0"],
            &["logbridge-ctl", "verify", "--writes", "10001"],
            &["logbridge-ctl", "tail", "--from-start"],
            &["logbridge-ctl", "write"],
            &["logbridge-ctl", "write", "x", "--stdin"],
        ] {
            let err = Cli::try_parse_from(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
        assert!(Cli::try_parse_from(["logbridge-ctl", "tail", "--follow", "--from-start"]).is_ok());
        assert!(Cli::try_parse_from(["logbridge-ctl", "write", "--lines", "--stdin"]).is_ok());
    }
}
