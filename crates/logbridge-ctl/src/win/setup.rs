//! `install` and `uninstall`: pnputil for the driver store, SetupAPI for the root-enumerated
//! device node (the steps and their order are documented in [`crate::install`]).

use crate::error::CtlError;
use crate::install::{self, PnputilOutcome};
use crate::win::device;
use logbridge_core::identity;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use windows::Win32::Devices::DeviceAndDriverInstallation::{
    DICD_GENERATE_ID, DIF_REGISTERDEVICE, DIF_REMOVE, DIGCF_ALLCLASSES, DiUninstallDevice, HDEVINFO, INSTALLFLAG_FORCE,
    SP_DEVINFO_DATA, SPDRP_HARDWAREID, SetupDiCallClassInstaller, SetupDiCreateDeviceInfoList,
    SetupDiCreateDeviceInfoW, SetupDiDestroyDeviceInfoList, SetupDiEnumDeviceInfo, SetupDiGetClassDevsW,
    SetupDiGetDeviceInstanceIdW, SetupDiGetDevicePropertyW, SetupDiGetDeviceRegistryPropertyW,
    SetupDiSetDeviceRegistryPropertyW, UpdateDriverForPlugAndPlayDevicesW,
};
use windows::Win32::Devices::Properties::{DEVPKEY_Device_DriverInfPath, DEVPROPTYPE};
use windows::Win32::Foundation::{HWND, WIN32_ERROR};
use windows::Win32::System::Registry::{HKEY_LOCAL_MACHINE, RRF_RT_REG_SZ, RegGetValueW};
use windows::Win32::UI::Shell::IsUserAnAdmin;
use windows::core::{BOOL, GUID, HSTRING, PCWSTR};

/// A device information set, destroyed on drop.
struct DevInfoSet(HDEVINFO);

impl Drop for DevInfoSet {
    fn drop(&mut self) {
        // SAFETY: the set is owned here and destroyed exactly once.
        let _ = unsafe { SetupDiDestroyDeviceInfoList(self.0) };
    }
}

fn class_guid() -> GUID {
    let g = identity::DEVICE_CLASS_GUID;
    GUID::from_values(g.data1, g.data2, g.data3, g.data4)
}

fn new_devinfo_data() -> SP_DEVINFO_DATA {
    SP_DEVINFO_DATA { cbSize: u32::try_from(size_of::<SP_DEVINFO_DATA>()).unwrap_or(0), ..Default::default() }
}

/// Refuses unless the prompt is elevated; `reason` says why `command` needs it.
pub fn require_elevation(command: &str, reason: &str) -> Result<(), CtlError> {
    // SAFETY: no arguments; reads the caller's token.
    if unsafe { IsUserAnAdmin() }.as_bool() {
        Ok(())
    } else {
        Err(CtlError::NotReady(install::elevation_error(command, reason)))
    }
}

/// `SystemStartOptions`: the boot options Windows started with.
fn system_start_options() -> Result<String, CtlError> {
    let key = HSTRING::from("SYSTEM\\CurrentControlSet\\Control");
    let value = HSTRING::from("SystemStartOptions");
    let mut buffer = vec![0u16; 1024];
    let mut size = u32::try_from(buffer.len().saturating_mul(2)).unwrap_or(0);
    // SAFETY: `buffer` holds `size` bytes; the strings outlive the call.
    let status = unsafe {
        RegGetValueW(
            HKEY_LOCAL_MACHINE,
            &key,
            &value,
            RRF_RT_REG_SZ,
            None,
            Some(buffer.as_mut_ptr().cast()),
            Some(&mut size),
        )
    };
    if status != WIN32_ERROR(0) {
        return Err(CtlError::Failed(format!(
            "cannot read HKLM\\SYSTEM\\CurrentControlSet\\Control\\SystemStartOptions (Win32 error {})",
            status.0
        )));
    }
    Ok(install::until_nul(&buffer))
}

fn run_pnputil(args: &[&str]) -> Result<PnputilOutcome, CtlError> {
    let shown = args.join(" ");
    let output = std::process::Command::new("pnputil")
        .args(args)
        .output()
        .map_err(|e| CtlError::Failed(format!("cannot run pnputil {shown}: {e}")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    install::pnputil_outcome(&shown, output.status.code(), &text).map_err(CtlError::Failed)
}

/// A LogBridge device node: its instance id and the published INF of its driver (`oemNN.inf`).
#[derive(Clone, Debug)]
struct DeviceNode {
    instance_id: String,
    driver_inf: Option<String>,
}

/// Calls `f` for every root-enumerated device whose hardware IDs include `Root\LogBridge`;
/// returns how many there are.
fn for_each_logbridge_node(
    mut f: impl FnMut(&DevInfoSet, &SP_DEVINFO_DATA, DeviceNode) -> Result<(), CtlError>,
) -> Result<usize, CtlError> {
    let enumerator = HSTRING::from("ROOT");
    // SAFETY: `enumerator` outlives the call; every class, present or not.
    let set = unsafe { SetupDiGetClassDevsW(None, &enumerator, None, DIGCF_ALLCLASSES) }
        .map_err(|e| CtlError::Failed(format!("SetupDiGetClassDevs(ROOT): {}", e.message())))?;
    let set = DevInfoSet(set);
    // Collected first, visited afterwards, so that `f` may remove nodes from the system.
    let mut nodes = Vec::new();
    for index in 0u32.. {
        let mut data = new_devinfo_data();
        // SAFETY: `data` has its cbSize set and outlives the call.
        if unsafe { SetupDiEnumDeviceInfo(set.0, index, &mut data) }.is_err() {
            break; // ERROR_NO_MORE_ITEMS
        }
        let mut ids = vec![0u8; 2048];
        // SAFETY: `ids` is a writable byte buffer; `data` came from this set.
        if unsafe { SetupDiGetDeviceRegistryPropertyW(set.0, &data, SPDRP_HARDWAREID, None, Some(&mut ids), None) }
            .is_err()
        {
            continue;
        }
        if !install::is_logbridge_hardware_id(&install::parse_multi_sz(&install::utf16le_units(&ids))) {
            continue;
        }
        let mut id = vec![0u16; 512];
        // SAFETY: `id` is a writable buffer; `data` came from this set.
        let instance_id = match unsafe { SetupDiGetDeviceInstanceIdW(set.0, &data, Some(&mut id), None) } {
            Ok(()) => install::until_nul(&id),
            Err(_) => String::from("(unknown instance)"),
        };
        let mut inf = vec![0u8; 520];
        let mut property_type = DEVPROPTYPE::default();
        // SAFETY: `inf` and `property_type` are writable and outlive the call.
        let driver_inf = unsafe {
            SetupDiGetDevicePropertyW(
                set.0,
                &data,
                &DEVPKEY_Device_DriverInfPath,
                &mut property_type,
                Some(&mut inf),
                None,
                0,
            )
        }
        .ok()
        .map(|()| install::until_nul(&install::utf16le_units(&inf)))
        .filter(|name| !name.is_empty());
        nodes.push((data, DeviceNode { instance_id, driver_inf }));
    }
    // Last first: removing a node never shifts the ones not yet visited.
    let found = nodes.len();
    for (data, node) in nodes.into_iter().rev() {
        f(&set, &data, node)?;
    }
    Ok(found)
}

/// Creates the root-enumerated device node with hardware ID `Root\LogBridge`.
fn create_device_node() -> Result<(), CtlError> {
    let guid = class_guid();
    // SAFETY: `guid` outlives the call; no parent window.
    let set = unsafe { SetupDiCreateDeviceInfoList(Some(&guid), None) }
        .map_err(|e| CtlError::Failed(format!("SetupDiCreateDeviceInfoList: {}", e.message())))?;
    let set = DevInfoSet(set);
    let mut data = new_devinfo_data();
    let class_name = HSTRING::from(identity::DEVICE_CLASS);
    // SAFETY: the strings, `guid` and `data` outlive the call; DICD_GENERATE_ID makes
    // ROOT\SYSTEM\NNNN from the class name.
    unsafe {
        SetupDiCreateDeviceInfoW(set.0, &class_name, &guid, PCWSTR::null(), None, DICD_GENERATE_ID, Some(&mut data))
    }
    .map_err(|e| CtlError::Failed(format!("SetupDiCreateDeviceInfo: {}", e.message())))?;
    let hardware_ids = install::multi_sz_bytes(&[identity::HARDWARE_ID]);
    // SAFETY: `data` came from this set; the REG_MULTI_SZ bytes outlive the call.
    unsafe { SetupDiSetDeviceRegistryPropertyW(set.0, &mut data, SPDRP_HARDWAREID, Some(&hardware_ids)) }
        .map_err(|e| CtlError::Failed(format!("SetupDiSetDeviceRegistryProperty(HardwareID): {}", e.message())))?;
    // SAFETY: `data` came from this set and outlives the call.
    unsafe { SetupDiCallClassInstaller(DIF_REGISTERDEVICE, set.0, Some(&data)) }
        .map_err(|e| CtlError::Failed(format!("DIF_REGISTERDEVICE: {}", e.message())))?;
    Ok(())
}

/// Removes every LogBridge node created so far when the driver could not be installed on them,
/// so that a failed install leaves no half-made device behind.
fn remove_nodes() {
    let _ = for_each_logbridge_node(|set, data, _| {
        // SAFETY: `data` came from `set`, which is alive for the call.
        let _ = unsafe { SetupDiCallClassInstaller(DIF_REMOVE, set.0, Some(data)) };
        Ok(())
    });
}

/// `install [--inf PATH]`. Returns the lines to print.
pub fn install(inf: Option<&Path>) -> Result<Vec<String>, CtlError> {
    if !install::test_signing_enabled(&system_start_options()?) {
        return Err(CtlError::NotReady(install::TEST_SIGNING_HELP.to_owned()));
    }
    let exe_dir = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf));
    let cwd = std::env::current_dir().ok();
    let inf: PathBuf = install::resolve_inf(inf, exe_dir.as_deref(), cwd.as_deref()).map_err(CtlError::BadInput)?;
    let inf = std::fs::canonicalize(&inf).unwrap_or(inf);
    let inf_text = inf.display().to_string();
    let inf_text = inf_text.strip_prefix(r"\\?\").unwrap_or(&inf_text).to_owned();
    let mut lines = Vec::new();

    let added = run_pnputil(&["/add-driver", &inf_text])?;
    lines.push(format!("driver package added to the driver store: {inf_text}"));

    let existing = for_each_logbridge_node(|_, _, _| Ok(()))?;
    if existing == 0 {
        create_device_node()?;
        lines.push(format!("device node created: hardware ID {}", identity::HARDWARE_ID));
    } else {
        lines.push(format!("device node already present ({existing}); updating its driver"));
    }
    let hardware_id = HSTRING::from(identity::HARDWARE_ID);
    let inf_wide = HSTRING::from(inf_text.as_str());
    let mut reboot = BOOL(0);
    // SAFETY: the strings and `reboot` outlive the call; no parent window.
    let updated = unsafe {
        UpdateDriverForPlugAndPlayDevicesW(None, &hardware_id, &inf_wide, INSTALLFLAG_FORCE, Some(&mut reboot))
    };
    if let Err(e) = updated {
        if existing == 0 {
            remove_nodes();
        }
        // The raw HRESULT: the trust failures are not 0x8007xxxx codes (install::signature_help).
        return Err(CtlError::Failed(install::update_driver_error(e.code().0, &e.message())));
    }
    for_each_logbridge_node(|_, _, node| {
        lines.push(format!("device {} uses {}", node.instance_id, node.driver_inf.as_deref().unwrap_or("(no driver)")));
        Ok(())
    })?;
    if reboot.as_bool() || added == PnputilOutcome::RebootRequired {
        lines.push("a reboot is required to finish the installation".to_owned());
        return Ok(lines);
    }
    // The interface appears once the driver has started.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let paths = device::interface_paths()?;
        if let Some(path) = paths.first() {
            lines.push(format!("device ready: {path}"));
            break;
        }
        if Instant::now() >= deadline {
            lines.push(
                "the driver is installed, but the device interface did not appear within 10 s: \
                 check the device in Device Manager (System devices) for a problem code"
                    .to_owned(),
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(lines)
}

/// Published INFs in `%WINDIR%\INF` that are LogBridge packages.
fn published_logbridge_infs() -> Vec<String> {
    let windir = std::env::var_os("WINDIR").map_or_else(|| PathBuf::from(r"C:\Windows"), PathBuf::from);
    let Ok(entries) = std::fs::read_dir(windir.join("INF")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let lower = name.to_ascii_lowercase();
            let published = lower.starts_with("oem") && lower.ends_with(".inf");
            (published && std::fs::read(entry.path()).is_ok_and(|bytes| install::inf_is_logbridge(&bytes)))
                .then_some(name)
        })
        .collect();
    names.sort();
    names
}

/// `uninstall`. Returns the lines to print.
pub fn uninstall() -> Result<Vec<String>, CtlError> {
    let mut lines = Vec::new();
    let mut infs: Vec<String> = Vec::new();
    let mut reboot = false;
    for_each_logbridge_node(|set, data, node| {
        let mut needs_reboot = BOOL(0);
        // SAFETY: `data` came from `set`, alive for the call; no parent window.
        unsafe { DiUninstallDevice(HWND::default(), set.0, data, 0, Some(&mut needs_reboot)) }
            .map_err(|e| CtlError::Failed(format!("DiUninstallDevice({}): {}", node.instance_id, e.message())))?;
        reboot |= needs_reboot.as_bool();
        lines.push(format!("device {} removed", node.instance_id));
        infs.extend(node.driver_inf);
        Ok(())
    })?;
    infs.extend(published_logbridge_infs());
    infs.sort();
    infs.dedup();
    for inf in &infs {
        if run_pnputil(&["/delete-driver", inf, "/uninstall"])? == PnputilOutcome::RebootRequired {
            reboot = true;
        }
        lines.push(format!("driver package {inf} deleted from the driver store"));
    }
    if lines.is_empty() {
        lines.push("LogBridge is not installed: no device and no driver package; nothing to do".to_owned());
    }
    if reboot {
        lines.push("a reboot is required to finish the removal".to_owned());
    }
    Ok(lines)
}
