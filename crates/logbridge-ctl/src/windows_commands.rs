//! The commands that talk to the LogBridge driver, and so need Windows.
//!
//! | Command | What it does and shows |
//! |---|---|
//! | `install [--inf PATH]` | installs the driver package (`logbridge.inf`) and creates the device |
//! | `uninstall` | removes the device and the driver package |
//! | `write (TEXT... \| --file F \| --stdin) [--lines]` | writes to the device; shows each write's sequence number and size |
//! | `tail [--follow] [--from-start]` | reads the ring log with `IOCTL_LOGBRIDGE_READ_LOG`; one line per record, and the records lost to overwrite or clear |
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
//! they are not implemented yet (exit status 5); the argument structs are final and portable.

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
}

/// Arguments of `install`.
#[derive(Args, Debug, Clone)]
#[allow(dead_code, reason = "read by the Windows implementation")]
pub struct InstallArgs {
    /// The driver package's INF [default: logbridge.inf next to logbridge-ctl.exe]
    #[arg(long, value_name = "PATH")]
    pub inf: Option<PathBuf>,
}

/// Arguments of `write`.
#[derive(Args, Debug, Clone)]
#[allow(dead_code, reason = "read by the Windows implementation")]
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
#[allow(dead_code, reason = "read by the Windows implementation")]
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
#[allow(dead_code, reason = "read by the Windows implementation")]
pub struct TailArgs {
    /// Keep waiting for new records (the read pends until a write arrives); stop with Ctrl+C
    #[arg(long)]
    pub follow: bool,
    /// Start at the oldest retained record instead of the end of the log
    #[arg(long)]
    pub from_start: bool,
}

/// Arguments of `wmi`.
#[derive(Args, Debug, Clone)]
#[allow(dead_code, reason = "read by the Windows implementation")]
pub struct WmiArgs {
    /// Keep waiting for new events; stop with Ctrl+C
    #[arg(long)]
    pub follow: bool,
}

/// Arguments of `events`.
#[derive(Args, Debug, Clone)]
#[allow(dead_code, reason = "read by the Windows implementation")]
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
#[allow(dead_code, reason = "read by the Windows implementation")]
pub struct StressArgs {
    /// Total number of writes
    #[arg(long, value_name = "N")]
    pub writes: u64,
    /// Size of each write in bytes
    #[arg(long, value_name = "B")]
    pub size: usize,
    /// Writer threads
    #[arg(long, value_name = "T", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub threads: usize,
    /// Writes per second across all threads [default: as fast as possible]
    #[arg(long, value_name = "R")]
    pub rate: Option<u32>,
}

/// Arguments of `verify`.
#[derive(Args, Debug, Clone)]
#[allow(dead_code, reason = "read by the Windows implementation")]
pub struct VerifyArgs {
    /// Number of writes to check
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub writes: u64,
}

/// Runs a Windows-only command against the device (`device` overrides the interface lookup).
#[cfg(not(windows))]
pub fn run(command: &WindowsCommand, device: Option<&Path>, json: bool) -> Result<Outcome, CtlError> {
    let _ = (device, json);
    Err(CtlError::NeedsWindows(command.name()))
}

/// Runs a Windows-only command against the device (`device` overrides the interface lookup).
#[cfg(windows)]
pub fn run(command: &WindowsCommand, device: Option<&Path>, json: bool) -> Result<Outcome, CtlError> {
    let _ = (device, json);
    Err(CtlError::NotImplemented(command.name()))
}
