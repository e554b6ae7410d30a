//! The driver image's resources, shared by `build.rs` (which compiles them on Windows) and the
//! host tests in `tests/windows_artifacts.rs` (which compile the same script with GNU windres, run
//! GNU windmc on the same message file and read its header with the same parser).
//!
//! `inf/logbridge-resources.rc` is the resource script. It includes:
//! * `logbridge.rc`, written by the message compiler from `inf/logbridge.mc`: the
//!   `MESSAGETABLE` (resource type 11, id 1) whose texts Event Viewer shows for our error-log
//!   entries (the registered `EventMessageFile` points at logbridge.sys);
//! * `logbridge.bmf`, the binary MOF compiled from `inf/logbridge.mof`, as the `MOFDATA`
//!   resource named `LogBridgeWmi` that `WdfDeviceAssignMofResourceName` registers with WMI;
//! * `logbridge-version.h`, generated here: the `VERSIONINFO` numbers from the crate version.
//!
//! The files are found through the include path and the current directory, both of which are
//! the build's output directory.
//!
//! The tools' command lines are here too, so that a test can hold them to what Microsoft asks:
//! `mofcomp -WMI` ("a driver must either use the WMI switch or run Wmimofck to validate the MOF"),
//! and `mc -c`, whose header `build.rs` reads back ([`header_message_ids`]) and compares with
//! `logbridge_core::messages` ([`check_message_ids`]): the build fails if the message compiler
//! gave the messages other ids than the driver logs (the customer bit is where mc.exe's and
//! windmc's documentation differ).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

/// The resource script, relative to the package root.
pub const RESOURCE_SCRIPT: &str = "inf/logbridge-resources.rc";
/// The message-table source.
pub const MESSAGE_TEXT: &str = "inf/logbridge.mc";
/// The MOF source.
pub const MOF_SOURCE: &str = "inf/logbridge.mof";
/// The binary MOF's file name (in the output directory).
pub const BINARY_MOF: &str = "logbridge.bmf";
/// The version header's file name (in the output directory).
pub const VERSION_HEADER: &str = "logbridge-version.h";
/// The header the message compiler writes from [`MESSAGE_TEXT`] (in the output directory).
pub const MESSAGE_HEADER: &str = "logbridge.h";
/// The C type of the message ids (`MessageIdTypedef` in the message file).
pub const MESSAGE_ID_TYPEDEF: &str = "NTSTATUS";

/// The message compiler's arguments: `-c` sets the customer bit in every id, `-U` writes the
/// texts as UTF-16, `-h`/`-r` put the header, the `.rc` and the `.bin` into `out_dir`.
pub fn mc_args(out_dir: &Path, message_text: &Path) -> Vec<OsString> {
    vec!["-c".into(), "-U".into(), "-h".into(), out_dir.into(), "-r".into(), out_dir.into(), message_text.into()]
}

/// mofcomp's arguments: `-WMI` validates the MOF for a WMI provider (Microsoft: a driver must
/// use the WMI switch or run Wmimofck), `-B:` writes the binary MOF instead of loading it.
pub fn mofcomp_args(binary_mof: &Path, mof_source: &Path) -> Vec<OsString> {
    let mut binary = OsString::from("-B:");
    binary.push(binary_mof);
    vec!["-WMI".into(), binary, mof_source.into()]
}

/// The message ids a message-compiler header defines, by symbolic name: every
/// `#define NAME ((NTSTATUS)0x60040001L)` (mc.exe) or `#define NAME (NTSTATUS) 0x60040001` (GNU
/// windmc) line, with [`MESSAGE_ID_TYPEDEF`] as the cast. Other defines (severities, facilities,
/// include guards) are skipped. Err for an id that does not parse, a name defined twice, or none.
pub fn header_message_ids(header: &str) -> Result<BTreeMap<String, u32>, String> {
    let cast = format!("({MESSAGE_ID_TYPEDEF})");
    let mut ids = BTreeMap::new();
    for line in header.lines() {
        let Some(rest) = line.trim_start().strip_prefix("#define") else { continue };
        let mut words = rest.split_whitespace();
        let Some(name) = words.next() else { continue };
        let value: String = words.collect();
        let Some((_, number)) = value.split_once(cast.as_str()) else { continue };
        let number = number.trim_end_matches(')').trim_end_matches(['L', 'l', 'U', 'u']);
        let parsed = match number.strip_prefix("0x").or_else(|| number.strip_prefix("0X")) {
            Some(hex) => u32::from_str_radix(hex, 16),
            None => number.parse(),
        }
        .map_err(|e| format!("{MESSAGE_HEADER}: cannot read the id of {name} from {:?}: {e}", line.trim()))?;
        if ids.insert(name.to_owned(), parsed).is_some() {
            return Err(format!("{MESSAGE_HEADER}: {name} is defined twice"));
        }
    }
    if ids.is_empty() {
        return Err(format!("{MESSAGE_HEADER} defines no ({MESSAGE_ID_TYPEDEF}) message id"));
    }
    Ok(ids)
}

/// Compares the ids of the message compiler's header with the ids the driver logs (`expected`:
/// symbolic name and id, from `logbridge_core::messages::MESSAGES`). Err names every difference;
/// an id that differs only by the customer bit (0x20000000) says so.
pub fn check_message_ids(header: &str, expected: &[(&str, u32)]) -> Result<(), String> {
    const CUSTOMER_BIT: u32 = 0x2000_0000;
    let found = header_message_ids(header)?;
    let mut problems = Vec::new();
    for &(name, id) in expected {
        match found.get(name) {
            None => problems.push(format!("{name} is missing")),
            Some(&got) if got == id => {}
            Some(&got) => {
                let hint = if got ^ id == CUSTOMER_BIT { " (they differ in the customer bit, 0x20000000)" } else { "" };
                problems.push(format!("{name} is 0x{got:08X}, the driver logs 0x{id:08X}{hint}"));
            }
        }
    }
    for name in found.keys().filter(|name| !expected.iter().any(|(e, _)| e == name)) {
        problems.push(format!("{name} is not a message of logbridge_core::messages"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the message compiler's {MESSAGE_HEADER} does not match crates/logbridge-core/src/messages.rs: {}",
            problems.join("; ")
        ))
    }
}

/// The version header for crate version `version` (`major.minor.patch`, pre-release ignored).
pub fn version_header(version: &str) -> Result<String, String> {
    let core = version.split(['-', '+']).next().unwrap_or(version);
    let parts: Vec<u16> = core
        .split('.')
        .map(|part| part.parse::<u16>().map_err(|e| format!("version {version:?}: {part:?}: {e}")))
        .collect::<Result<_, _>>()?;
    let [major, minor, patch] = parts[..] else {
        return Err(format!("version {version:?} is not major.minor.patch"));
    };
    Ok(format!(
        "// Generated by build.rs from the crate version; do not edit.\n\
         #define LOGBRIDGE_VERSION {major},{minor},{patch},0\n\
         #define LOGBRIDGE_VERSION_STR \"{major}.{minor}.{patch}.0\"\n"
    ))
}
