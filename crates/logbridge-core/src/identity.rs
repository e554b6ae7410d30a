//! The names that tie the driver, its INF, its resources and the app together.
//!
//! Each appears in more than one artefact: the INF (`inf/logbridge.inx`) names the service, the
//! binary, the hardware ID, the device security and the registry defaults; the resource script
//! names the MOF resource; the driver registers the same names at run time; `logbridge-ctl`
//! installs by hardware ID and reads the Event Log by provider name. Host tests
//! (`tests/package.rs`) check every artefact against these constants.

/// The service (and driver object) name. The I/O manager uses it as the Event Log *source* of
/// every error-log entry, so it is also the key `EventLog\System\LogBridge` that registers the
/// message file, and the `-ProviderName` of `Get-WinEvent`.
pub const SERVICE_NAME: &str = "LogBridge";

/// The driver image, installed to the driver store (`DIRID 13`).
pub const DRIVER_BINARY: &str = "logbridge.sys";

/// The INF, as stamped from `inf/logbridge.inx` into the package.
pub const INF_NAME: &str = "logbridge.inf";

/// The hardware ID of the root-enumerated device node (`devgen /add /bus ROOT /hardwareid ...`).
pub const HARDWARE_ID: &str = "Root\\LogBridge";

/// Security of the device: full access for SYSTEM and the Administrators group, nobody else
/// (`SDDL_DEVOBJ_SYS_ALL_ADM_ALL` of `wdmsec.h`). The INF sets it on the device node, and PnP
/// applies it to the device objects of the stack. The driver's FDO is unnamed ("name device
/// objects only when necessary"), so the only names a handle can be opened by are the PDO's and
/// the device interface's link to it, both guarded by this security.
pub const DEVICE_SDDL: &str = "D:P(A;;GA;;;SY)(A;;GA;;;BA)";

/// `FILE_DEVICE_SECURE_OPEN`: the device's security also applies to opens of names *below* it
/// (`\Device\X\anything`), which would otherwise skip the check.
pub const FILE_DEVICE_SECURE_OPEN: u32 = 0x0000_0100;

/// Name of the `MOFDATA` resource that carries the compiled `inf/logbridge.mof`; the driver
/// registers it with `WdfDeviceAssignMofResourceName`.
pub const MOF_RESOURCE_NAME: &str = "LogBridgeWmi";

/// Pool tag of the driver's allocations: the bytes `LgBr` in memory, shown as `LgBr` by poolmon
/// and `!pool` (C writes it `'rBgL'`).
pub const POOL_TAG: u32 = u32::from_le_bytes(*b"LgBr");

/// Device setup class: `System`. LogBridge is a root-enumerated, software-only kernel device
/// with no hardware behind it; Windows files its own root-enumerated system devices (the
/// composite bus enumerator, UMBus, the system timers) under `System`, which needs no class
/// installer. `SoftwareComponent` is for components that extend another device and
/// `SoftwareDevice` is the class of `SWD\` nodes made by `SwDeviceCreate`; `Sample` is for
/// Microsoft's samples only.
pub const DEVICE_CLASS: &str = "System";

/// The `System` class GUID, `{4d36e97d-e325-11ce-bfc1-08002be10318}`.
pub const DEVICE_CLASS_GUID: crate::Guid = crate::Guid::from_u128(0x4d36e97d_e325_11ce_bfc1_08002be10318);

/// `TypesSupported` of the Event Log source: error, warning and information (1 | 2 | 4).
pub const EVENT_TYPES_SUPPORTED: u32 = 7;

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn the_pool_tag_reads_lgbr_in_memory() {
        assert_eq!(POOL_TAG.to_le_bytes(), *b"LgBr");
        assert_eq!(POOL_TAG, 0x7242_674C);
    }

    #[test]
    fn names_are_ascii_and_consistent() {
        for name in [SERVICE_NAME, DRIVER_BINARY, INF_NAME, HARDWARE_ID, MOF_RESOURCE_NAME, DEVICE_SDDL] {
            assert!(name.is_ascii() && !name.is_empty(), "{name}");
        }
        assert_eq!(DRIVER_BINARY.strip_suffix(".sys"), INF_NAME.strip_suffix(".inf"));
        assert!(HARDWARE_ID.to_ascii_lowercase().starts_with("root\\"));
        assert_eq!(DEVICE_CLASS_GUID.to_string(), "4d36e97d-e325-11ce-bfc1-08002be10318");
    }
}
