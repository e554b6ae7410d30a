//! The decisions of `install`, `uninstall` and device discovery that need no Win32 call.
//!
//! `install` (elevated) does what `devcon install` does, in this order:
//! 1. refuse without elevation, and without test signing (`bcdedit /set testsigning on`, shown in
//!    `HKLM\SYSTEM\CurrentControlSet\Control\SystemStartOptions` as `TESTSIGNING`) since the package
//!    is test-signed;
//! 2. `pnputil /add-driver logbridge.inf`: the package goes into the driver store (published as
//!    `oemNN.inf`); adding it again is not an error;
//! 3. if no device with hardware ID `Root\LogBridge` exists: `SetupDiCreateDeviceInfoList` (class
//!    System), `SetupDiCreateDeviceInfoW` (`DICD_GENERATE_ID`), the hardware ID as a REG_MULTI_SZ,
//!    `SetupDiCallClassInstaller(DIF_REGISTERDEVICE)`: a root-enumerated device node;
//! 4. `UpdateDriverForPlugAndPlayDevicesW(Root\LogBridge, inf)`: the node gets the driver and starts;
//! 5. wait until the device interface appears, and report it.
//!
//! Running it twice leaves one device with the newest package. `uninstall` removes every
//! `Root\LogBridge` node (`DiUninstallDevice`) and then every driver-store package of LogBridge
//! (`pnputil /delete-driver oemNN.inf /uninstall`); with nothing installed it says so and succeeds.

use std::path::{Path, PathBuf};

/// `ERROR_SUCCESS_REBOOT_REQUIRED`: pnputil succeeded, and a reboot finishes the job.
pub const ERROR_SUCCESS_REBOOT_REQUIRED: i32 = 3010;
/// `ERROR_ACCESS_DENIED`.
pub const ERROR_ACCESS_DENIED: u32 = 5;
/// `ERROR_FILE_NOT_FOUND`.
pub const ERROR_FILE_NOT_FOUND: u32 = 2;
/// `ERROR_INSUFFICIENT_BUFFER` (`STATUS_BUFFER_TOO_SMALL` as Win32 reports it).
pub const ERROR_INSUFFICIENT_BUFFER: u32 = 122;
/// `ERROR_OPERATION_ABORTED` (an I/O cancelled by `CancelIoEx`).
pub const ERROR_OPERATION_ABORTED: u32 = 995;
/// `ERROR_IO_PENDING`.
pub const ERROR_IO_PENDING: u32 = 997;
/// `ERROR_NO_MORE_ITEMS`.
pub const ERROR_NO_MORE_ITEMS: u32 = 259;
/// `ERROR_REVISION_MISMATCH` (`STATUS_REVISION_MISMATCH`).
pub const ERROR_REVISION_MISMATCH: u32 = 1306;
/// `ERROR_INVALID_FUNCTION` (`STATUS_INVALID_DEVICE_REQUEST`: an IOCTL this driver does not know).
pub const ERROR_INVALID_FUNCTION: u32 = 1;
/// `TRUST_E_NOSIGNATURE`: no signature was found (an HRESULT of its own, not `0x8007xxxx`).
pub const TRUST_E_NOSIGNATURE: u32 = 0x800B_0100;
/// `TRUST_E_SUBJECT_NOT_TRUSTED`: the subject is not trusted for the action.
pub const TRUST_E_SUBJECT_NOT_TRUSTED: u32 = 0x800B_0004;
/// `TRUST_E_EXPLICIT_DISTRUST`: the certificate is explicitly distrusted.
pub const TRUST_E_EXPLICIT_DISTRUST: u32 = 0x800B_0111;
/// `TRUST_E_BAD_DIGEST`: the file does not match its signature (changed after signing).
pub const TRUST_E_BAD_DIGEST: u32 = 0x8009_6010;
/// `CERT_E_UNTRUSTEDROOT`: the chain ends in a root certificate that is not trusted.
pub const CERT_E_UNTRUSTEDROOT: u32 = 0x800B_0109;
/// `CERT_E_CHAINING`: no chain to a trusted root could be built.
pub const CERT_E_CHAINING: u32 = 0x800B_010A;
/// `CERT_E_UNTRUSTEDTESTROOT`: the root is a test root and the policy does not trust test roots.
pub const CERT_E_UNTRUSTEDTESTROOT: u32 = 0x800B_010D;
/// `CERT_E_EXPIRED`: a certificate of the chain has expired.
pub const CERT_E_EXPIRED: u32 = 0x800B_0101;
/// `ERROR_NO_CATALOG_FOR_OEM_INF` (SetupAPI): the INF has no catalog, or a catalog that does not
/// cover it ("The third-party INF does not contain digital signature information").
pub const ERROR_NO_CATALOG_FOR_OEM_INF: u32 = 0xE000_022F;
/// `ERROR_AUTHENTICODE_TRUST_NOT_ESTABLISHED` (SetupAPI): the publisher is not yet trusted.
pub const ERROR_AUTHENTICODE_TRUST_NOT_ESTABLISHED: u32 = 0xE000_0242;
/// `ERROR_AUTHENTICODE_PUBLISHER_NOT_TRUSTED` (SetupAPI): the user declined to trust the publisher.
pub const ERROR_AUTHENTICODE_PUBLISHER_NOT_TRUSTED: u32 = 0xE000_0243;
/// `ERROR_AUTHENTICODE_DISALLOWED` (SetupAPI): the publisher's certificate is disallowed.
pub const ERROR_AUTHENTICODE_DISALLOWED: u32 = 0xE000_0240;
/// `ERROR_NO_SUCH_DEVINST`: the device node is gone (device removed while the app ran).
pub const ERROR_NO_SUCH_DEVINST: u32 = 0xE000_020B;

/// How to turn test signing on, shown when it is off.
pub const TEST_SIGNING_HELP: &str = "test signing is off, so Windows will not load the test-signed LogBridge \
     driver: run `bcdedit /set testsigning on` in an elevated prompt (Secure Boot must be off in the VM's \
     firmware settings), reboot, and run install again";

/// What to do when Windows does not trust the test certificate the package is signed with.
pub const IMPORT_CERTIFICATE_HELP: &str = "Windows does not trust the package's signature: import the test \
     certificate into both stores, from the package directory in an elevated PowerShell: `Import-Certificate \
     -FilePath .\\WDRLocalTestCert.cer -CertStoreLocation Cert:\\LocalMachine\\Root` and the same with \
     `Cert:\\LocalMachine\\TrustedPublisher` (README, Try it on a test-signed VM, step 2)";

/// What to do when the package carries no valid signature at all.
pub const SIGNED_PACKAGE_HELP: &str = "the package is not signed, or was changed after signing: install \
     the logbridge.inf of the signed package directory (logbridge_package, with logbridge.cat) that \
     `cargo make` produced, not target\\<profile>\\logbridge.inf, and import its test certificate \
     (README, Try it on a test-signed VM, step 2)";

/// Why an install step failed on the package's signature, from the code it failed with: the raw
/// HRESULT or SetupAPI code (`UpdateDriverForPlugAndPlayDevicesW`'s error, pnputil's exit code
/// read as unsigned). These trust codes are HRESULTs of their own (`0x800Bxxxx`, `0x8009xxxx`) or
/// SetupAPI codes (`0xE000xxxx`): [`win32_code_of`] does not reduce them, so they are matched
/// whole. `None` for any other code.
pub fn signature_help(code: u32) -> Option<&'static str> {
    match code {
        CERT_E_UNTRUSTEDROOT
        | CERT_E_CHAINING
        | CERT_E_UNTRUSTEDTESTROOT
        | CERT_E_EXPIRED
        | TRUST_E_SUBJECT_NOT_TRUSTED
        | TRUST_E_EXPLICIT_DISTRUST
        | ERROR_AUTHENTICODE_TRUST_NOT_ESTABLISHED
        | ERROR_AUTHENTICODE_PUBLISHER_NOT_TRUSTED
        | ERROR_AUTHENTICODE_DISALLOWED => Some(IMPORT_CERTIFICATE_HELP),
        TRUST_E_NOSIGNATURE | TRUST_E_BAD_DIGEST | ERROR_NO_CATALOG_FOR_OEM_INF => Some(SIGNED_PACKAGE_HELP),
        _ => None,
    }
}

/// The same from pnputil's output when its exit code says nothing known: the text Windows prints
/// for those codes (English).
fn signature_help_from_text(output: &str) -> Option<&'static str> {
    let text = output.to_ascii_lowercase();
    let untrusted = ["not trusted", "trust provider", "root certificate", "publisher", "trust relationship"];
    if untrusted.iter().any(|needle| text.contains(needle)) {
        Some(IMPORT_CERTIFICATE_HELP)
    } else if text.contains("digital signature") || (text.contains("hash") && text.contains("catalog")) {
        Some(SIGNED_PACKAGE_HELP)
    } else {
        None
    }
}

/// What an elevated prompt is, shown when the app is not elevated.
pub const ELEVATION_HELP: &str =
    "needs an elevated prompt: right-click the terminal, choose Run as administrator, and run it again";

/// The message for `command` run without elevation; `reason` says why it needs it.
pub fn elevation_error(command: &str, reason: &str) -> String {
    format!("{command} {ELEVATION_HELP} ({reason})")
}

/// True if `SystemStartOptions` (the boot options Windows started with, such as
/// `" NOEXECUTE=OPTIN  TESTSIGNING  NOVGA"`) has test signing on.
pub fn test_signing_enabled(system_start_options: &str) -> bool {
    system_start_options
        .split(|c: char| c.is_whitespace() || c == '/')
        .any(|word| word.eq_ignore_ascii_case("TESTSIGNING"))
}

/// The INF to install: `--inf PATH` if given, else `logbridge.inf` next to `logbridge-ctl.exe`
/// (the package layout), else in the current directory. Err with the places looked at.
pub fn resolve_inf(
    explicit: Option<&Path>,
    exe_dir: Option<&Path>,
    current_dir: Option<&Path>,
) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(format!("--inf {}: no such file", path.display()))
        };
    }
    let candidates: Vec<PathBuf> =
        [exe_dir, current_dir].into_iter().flatten().map(|dir| dir.join(logbridge_core::identity::INF_NAME)).collect();
    candidates.iter().find(|path| path.is_file()).cloned().ok_or_else(|| {
        let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        format!(
            "no {} found (looked at {}); pass --inf PATH to the package's INF",
            logbridge_core::identity::INF_NAME,
            if looked.is_empty() { "nothing".to_owned() } else { looked.join(", ") }
        )
    })
}

/// What pnputil's exit code means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PnputilOutcome {
    /// Done.
    Done,
    /// Done; a reboot finishes it.
    RebootRequired,
}

/// Interprets `pnputil`'s exit code; on failure the message carries pnputil's own output, and for
/// a signature Windows does not accept ([`signature_help`], by exit code or by pnputil's text)
/// what to do about it.
pub fn pnputil_outcome(args: &str, code: Option<i32>, output: &str) -> Result<PnputilOutcome, String> {
    let output = output.trim();
    match code {
        Some(0) => Ok(PnputilOutcome::Done),
        Some(ERROR_SUCCESS_REBOOT_REQUIRED) => Ok(PnputilOutcome::RebootRequired),
        Some(code) => {
            let help = signature_help(code.cast_unsigned()).or_else(|| signature_help_from_text(output));
            let hint = help.map(|help| format!("; {help}")).unwrap_or_default();
            Err(format!("pnputil {args} failed with exit code {code} (0x{:08X}): {output}{hint}", code.cast_unsigned()))
        }
        None => Err(format!("pnputil {args} was stopped before it finished")),
    }
}

/// The message for a failed `UpdateDriverForPlugAndPlayDevicesW` (its raw HRESULT and Windows'
/// text), with [`signature_help`] when the signature is the problem.
pub fn update_driver_error(hresult: i32, system_message: &str) -> String {
    let code = hresult.cast_unsigned();
    let hint = signature_help(code).map(|help| format!("; {help}")).unwrap_or_default();
    format!("UpdateDriverForPlugAndPlayDevices failed: {} (0x{code:08X}){hint}", system_message.trim())
}

/// UTF-16LE bytes (a registry or device property buffer) as code units; an odd last byte is dropped.
pub fn utf16le_units(bytes: &[u8]) -> Vec<u16> {
    bytes.chunks_exact(2).filter_map(|pair| <[u8; 2]>::try_from(pair).ok()).map(u16::from_le_bytes).collect()
}

/// The string a Win32 call wrote into a UTF-16 buffer: everything before the first NUL (all of it
/// if there is none); unpaired surrogates become U+FFFD.
pub fn until_nul(units: &[u16]) -> String {
    let end = units.iter().position(|&unit| unit == 0).unwrap_or(units.len());
    String::from_utf16_lossy(units.get(..end).unwrap_or(&[]))
}

/// The strings of a REG_MULTI_SZ / CM multi-string buffer (UTF-16, each NUL-terminated, an empty
/// string ends it). A missing final terminator ends the list too.
pub fn parse_multi_sz(units: &[u16]) -> Vec<String> {
    units.split(|&unit| unit == 0).take_while(|s| !s.is_empty()).map(String::from_utf16_lossy).collect()
}

/// A REG_MULTI_SZ holding `strings`, as UTF-16LE bytes (for `SPDRP_HARDWAREID`).
pub fn multi_sz_bytes(strings: &[&str]) -> Vec<u8> {
    let mut units: Vec<u16> = Vec::new();
    for s in strings {
        units.extend(s.encode_utf16());
        units.push(0);
    }
    units.push(0);
    units.iter().flat_map(|u| u.to_le_bytes()).collect()
}

/// True if a hardware-ID list names LogBridge's device (IDs compare case-insensitively).
pub fn is_logbridge_hardware_id(ids: &[String]) -> bool {
    ids.iter().any(|id| id.eq_ignore_ascii_case(logbridge_core::identity::HARDWARE_ID))
}

/// True if an INF file (UTF-16LE with a BOM, or 8-bit text) is a LogBridge package: it installs
/// the `Root\LogBridge` device with `logbridge.sys`. `uninstall` uses this to find the published
/// `oemNN.inf` copies in `%WINDIR%\INF` when no device is left to ask.
pub fn inf_is_logbridge(bytes: &[u8]) -> bool {
    let text = match bytes {
        [0xFF, 0xFE, rest @ ..] => String::from_utf16_lossy(&utf16le_units(rest)),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    };
    let lower = text.to_ascii_lowercase();
    let hardware_id = logbridge_core::identity::HARDWARE_ID.to_ascii_lowercase();
    let binary = logbridge_core::identity::DRIVER_BINARY.to_ascii_lowercase();
    lower.lines().any(|line| {
        let code = line.split(';').next().unwrap_or("");
        code.contains(&hardware_id)
    }) && lower.lines().any(|line| {
        let code = line.split(';').next().unwrap_or("");
        code.contains("servicebinary") && code.contains(&binary)
    })
}

/// Picks the device among the interface paths `CM_Get_Device_Interface_ListW` returned.
/// Err with what to do when there is none; the first of several (they are equivalent root
/// devices; `--device` picks another).
pub fn choose_device(paths: &[String]) -> Result<(String, Option<String>), String> {
    match paths {
        [] => Err("no LogBridge device is present: install it with `logbridge-ctl install` in an elevated \
                   prompt, or check Device Manager (System devices) for a LogBridge device with a problem"
            .to_owned()),
        [only] => Ok((only.clone(), None)),
        [first, rest @ ..] => Ok((
            first.clone(),
            Some(format!("{} more LogBridge devices are present; using {first} (pick one with --device)", rest.len())),
        )),
    }
}

/// The Win32 error code inside an `HRESULT` as the `windows` crate reports Win32 failures:
/// `HRESULT_FROM_WIN32` (`0x8007xxxx`) gives the low 16 bits; a SetupAPI code (`0xE000xxxx`,
/// kept as is) gives itself; any other HRESULT has none.
pub fn win32_code_of(hresult: i32) -> Option<u32> {
    let value = hresult.cast_unsigned();
    if value & 0xFFFF_0000 == 0x8007_0000 {
        Some(value & 0xFFFF)
    } else if value & 0xE000_0000 == 0xE000_0000 {
        Some(value)
    } else {
        None
    }
}

/// The message for a Win32 error from opening the device.
pub fn open_error(path: &str, code: u32, system_message: &str) -> String {
    match code {
        ERROR_ACCESS_DENIED => format!(
            "cannot open {path}: access denied; the LogBridge device admits only SYSTEM and Administrators \
             ({}), so run from an elevated prompt",
            logbridge_core::identity::DEVICE_SDDL
        ),
        ERROR_FILE_NOT_FOUND => {
            format!("cannot open {path}: no such device (it was removed, or the path is not a LogBridge device)")
        }
        _ => format!("cannot open {path}: {} (Win32 error {code})", system_message.trim()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn test_signing_is_read_from_the_boot_options() {
        assert!(test_signing_enabled(" NOEXECUTE=OPTIN  TESTSIGNING  NOVGA"));
        assert!(test_signing_enabled("testsigning"));
        assert!(test_signing_enabled("/NOEXECUTE=OPTIN /TESTSIGNING"));
        assert!(!test_signing_enabled(" NOEXECUTE=OPTIN  NOVGA"));
        assert!(!test_signing_enabled("NOTESTSIGNING"));
        assert!(!test_signing_enabled(""));
    }

    #[test]
    fn the_inf_is_found_next_to_the_exe_first() {
        let exe = tempfile::tempdir().unwrap();
        let cwd = tempfile::tempdir().unwrap();
        assert!(resolve_inf(None, Some(exe.path()), Some(cwd.path())).unwrap_err().contains("--inf"));
        std::fs::write(cwd.path().join("logbridge.inf"), "x").unwrap();
        assert_eq!(resolve_inf(None, Some(exe.path()), Some(cwd.path())).unwrap(), cwd.path().join("logbridge.inf"));
        std::fs::write(exe.path().join("logbridge.inf"), "x").unwrap();
        assert_eq!(resolve_inf(None, Some(exe.path()), Some(cwd.path())).unwrap(), exe.path().join("logbridge.inf"));
        let other = cwd.path().join("other.inf");
        assert!(resolve_inf(Some(&other), Some(exe.path()), None).unwrap_err().contains("no such file"));
        std::fs::write(&other, "x").unwrap();
        assert_eq!(resolve_inf(Some(&other), Some(exe.path()), None).unwrap(), other);
    }

    #[test]
    fn pnputil_codes() {
        assert_eq!(pnputil_outcome("/add-driver x.inf", Some(0), ""), Ok(PnputilOutcome::Done));
        assert_eq!(pnputil_outcome("/add-driver x.inf", Some(3010), ""), Ok(PnputilOutcome::RebootRequired));
        let err = pnputil_outcome(
            "/add-driver x.inf",
            Some(-536870353),
            "  Failed to add driver package: The third-party INF does not contain digital signature information.\r\n",
        )
        .unwrap_err();
        assert!(err.contains("-536870353") && err.contains("digital signature"), "{err}");
        assert!(err.contains("0xE000022F") && err.ends_with(SIGNED_PACKAGE_HELP), "{err}");
        assert!(pnputil_outcome("x", None, "").is_err());
    }

    #[test]
    fn signature_failures_say_what_to_do_on_both_paths() {
        // The codes are whole HRESULTs, which win32_code_of does not reduce: they must be matched raw.
        for code in [TRUST_E_NOSIGNATURE, CERT_E_UNTRUSTEDROOT, CERT_E_CHAINING, TRUST_E_SUBJECT_NOT_TRUSTED] {
            assert_eq!(win32_code_of(code.cast_signed()), None, "0x{code:08X}");
            assert!(signature_help(code).is_some(), "0x{code:08X}");
        }
        assert_eq!(signature_help(CERT_E_UNTRUSTEDROOT), Some(IMPORT_CERTIFICATE_HELP));
        assert_eq!(signature_help(ERROR_AUTHENTICODE_TRUST_NOT_ESTABLISHED), Some(IMPORT_CERTIFICATE_HELP));
        assert_eq!(signature_help(TRUST_E_NOSIGNATURE), Some(SIGNED_PACKAGE_HELP));
        assert_eq!(signature_help(ERROR_NO_CATALOG_FOR_OEM_INF), Some(SIGNED_PACKAGE_HELP));
        assert_eq!(signature_help(0x8007_0005), None);
        assert!(IMPORT_CERTIFICATE_HELP.contains("Cert:\\LocalMachine\\Root"));
        assert!(IMPORT_CERTIFICATE_HELP.contains("TrustedPublisher"));

        // SetupAPI path: the raw HRESULT of UpdateDriverForPlugAndPlayDevicesW.
        let message = update_driver_error(
            CERT_E_UNTRUSTEDROOT.cast_signed(),
            "A certificate chain processed, but terminated in a root certificate which is not trusted by the trust provider.\r\n",
        );
        assert!(message.contains("(0x800B0109); Windows does not trust the package's signature"), "{message}");
        assert!(!update_driver_error(0x8007_0005_u32.cast_signed(), "Access is denied.").contains("certificate"));

        // pnputil path: its exit code is the same HRESULT; the text helps when the code is unknown.
        let err = pnputil_outcome(
            "/add-driver x.inf",
            Some(CERT_E_UNTRUSTEDROOT.cast_signed()),
            "Failed to add driver package.",
        )
        .unwrap_err();
        assert!(err.contains("0x800B0109") && err.contains("Import-Certificate"), "{err}");
        let err = pnputil_outcome(
            "/add-driver x.inf",
            Some(1),
            "Failed to add driver package: The publisher of an Authenticode(tm) signed catalog has not yet been established as trusted.",
        )
        .unwrap_err();
        assert!(err.contains("Import-Certificate"), "{err}");
        let err = pnputil_outcome("/add-driver x.inf", Some(5), "Access is denied.").unwrap_err();
        assert!(!err.contains("certificate"), "{err}");
    }

    #[test]
    fn multi_strings_round_trip() {
        let bytes = multi_sz_bytes(&[logbridge_core::identity::HARDWARE_ID, "Other"]);
        let units = utf16le_units(&bytes);
        assert_eq!(units.iter().filter(|&&u| u == 0).count(), 3);
        assert_eq!(parse_multi_sz(&units), ["Root\\LogBridge", "Other"]);
        assert!(parse_multi_sz(&[0, 0]).is_empty());
        assert_eq!(parse_multi_sz(&[0x41, 0x42]), ["AB"]);
        assert!(is_logbridge_hardware_id(&["ROOT\\LOGBRIDGE".to_owned()]));
        assert_eq!(utf16le_units(&[0x41, 0, 0x42, 0, 0x43]), [0x41, 0x42]);
        assert_eq!(until_nul(&[0x41, 0x42, 0, 0x43]), "AB");
        assert_eq!(until_nul(&[0x41, 0xD800]), "A\u{FFFD}");
        assert_eq!(until_nul(&[]), "");
        assert!(!is_logbridge_hardware_id(&["Root\\LogBridge2".to_owned()]));
    }

    #[test]
    fn the_real_inf_is_recognised_in_both_encodings() {
        let inx = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../inf/logbridge.inx")).unwrap();
        assert!(inf_is_logbridge(&inx));
        let text = String::from_utf8(inx.clone()).unwrap();
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert!(inf_is_logbridge(&utf16));
        // Another driver's INF, and one that names LogBridge only in a comment, are not.
        let other = text.replace("Root\\LogBridge", "Root\\Echo");
        assert!(!inf_is_logbridge(other.as_bytes()));
        assert!(!inf_is_logbridge(b"; Root\\LogBridge logbridge.sys\r\n[Version]\r\nServiceBinary = x.sys\r\n"));
    }

    #[test]
    fn device_choice() {
        assert!(choose_device(&[]).unwrap_err().contains("logbridge-ctl install"));
        assert_eq!(choose_device(&["a".into()]).unwrap(), ("a".to_owned(), None));
        let (path, note) = choose_device(&["a".into(), "b".into()]).unwrap();
        assert_eq!(path, "a");
        assert!(note.unwrap().contains("1 more"));
    }

    #[test]
    fn win32_codes_come_out_of_hresults() {
        assert_eq!(win32_code_of(0x8007_0005_u32.cast_signed()), Some(ERROR_ACCESS_DENIED));
        assert_eq!(win32_code_of(0x8007_007A_u32.cast_signed()), Some(ERROR_INSUFFICIENT_BUFFER));
        assert_eq!(win32_code_of(0x8007_03E3_u32.cast_signed()), Some(ERROR_OPERATION_ABORTED));
        assert_eq!(win32_code_of(ERROR_NO_SUCH_DEVINST.cast_signed()), Some(ERROR_NO_SUCH_DEVINST));
        assert_eq!(win32_code_of(0x8000_4005_u32.cast_signed()), None); // E_FAIL
        assert_eq!(win32_code_of(0), None);
    }

    #[test]
    fn open_errors_say_what_to_do() {
        assert!(open_error("\\\\?\\x", ERROR_ACCESS_DENIED, "Access is denied.").contains("elevated"));
        assert!(open_error("p", ERROR_FILE_NOT_FOUND, "").contains("removed"));
        assert_eq!(
            open_error("p", 31, "A device attached to the system is not functioning.\r\n"),
            "cannot open p: A device attached to the system is not functioning. (Win32 error 31)"
        );
    }
}
