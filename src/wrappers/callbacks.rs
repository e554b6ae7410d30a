//! `DriverEntry` and the KMDF callbacks: each turns raw handles into the wrapper types and calls
//! the safe handler in [`crate::driver`].

use super::device::{Device, DeviceInit, Driver, FileObject};
use super::request::Request;
use super::struct_size;
use crate::driver;
use logbridge_core::identity::POOL_TAG;
use wdk_sys::{
    NTSTATUS, PCUNICODE_STRING, PDRIVER_OBJECT, PWDFDEVICE_INIT, ULONG, WDF_DRIVER_CONFIG, WDF_NO_HANDLE,
    WDF_NO_OBJECT_ATTRIBUTES, WDFDEVICE, WDFDRIVER, WDFFILEOBJECT, WDFOBJECT, WDFQUEUE, WDFREQUEST,
    call_unsafe_wdf_function_binding,
};

/// `DriverEntry`, called by KMDF's `FxDriverEntry` stub after it bound the driver to the
/// framework. It only creates the WDFDRIVER; everything else happens per device.
///
/// # Safety
/// Called once by the system with its driver object and registry path.
#[unsafe(export_name = "DriverEntry")]
pub unsafe extern "system" fn driver_entry(driver: PDRIVER_OBJECT, registry_path: PCUNICODE_STRING) -> NTSTATUS {
    let mut config = WDF_DRIVER_CONFIG {
        Size: struct_size!(WDF_DRIVER_CONFIG),
        EvtDriverDeviceAdd: Some(evt_driver_device_add),
        // No EvtDriverUnload: every device frees its own state in its destroy callback, and the
        // driver holds nothing else.
        EvtDriverUnload: None,
        // KMDF tags the allocations it makes for the driver with this ('LgBr', as the driver's own).
        DriverPoolTag: POOL_TAG,
        ..WDF_DRIVER_CONFIG::default()
    };
    // SAFETY: PASSIVE_LEVEL in DriverEntry with the system's driver object and registry path;
    // the config is initialised as WDF_DRIVER_CONFIG_INIT does; no attributes; no handle wanted.
    unsafe {
        call_unsafe_wdf_function_binding!(
            WdfDriverCreate,
            driver,
            registry_path,
            WDF_NO_OBJECT_ATTRIBUTES,
            &mut config,
            WDF_NO_HANDLE.cast::<WDFDRIVER>()
        )
    }
}

/// EvtDriverDeviceAdd (PASSIVE_LEVEL): PnP found the `Root\LogBridge` device node.
extern "C" fn evt_driver_device_add(driver: WDFDRIVER, device_init: PWDFDEVICE_INIT) -> NTSTATUS {
    driver::device_add(Driver::from_raw(driver), DeviceInit::from_raw(device_init)).0
}

/// EvtDestroyCallback of the device: frees the device state.
pub(super) extern "C" fn evt_device_destroy(object: WDFOBJECT) {
    Device::destroy_state(object);
}

/// EvtDeviceFileCreate (PASSIVE_LEVEL): a handle is being opened.
pub(super) extern "C" fn evt_device_file_create(device: WDFDEVICE, request: WDFREQUEST, file: WDFFILEOBJECT) {
    // SAFETY: KMDF presents the create request to this callback, which must complete it.
    let request = unsafe { Request::from_raw(request) };
    driver::file_create(Device::from_raw(device).state(), request, FileObject::from_raw(file));
}

/// EvtFileCleanup (PASSIVE_LEVEL): the last handle to a file object was closed.
pub(super) extern "C" fn evt_file_cleanup(file: WDFFILEOBJECT) {
    let Some(file) = FileObject::from_raw(file) else {
        return;
    };
    driver::file_cleanup(Device::of_file(file).state(), file);
}

/// EvtIoWrite of the default queue (PASSIVE_LEVEL: the queue's execution level).
pub(super) extern "C" fn evt_io_write(queue: WDFQUEUE, request: WDFREQUEST, length: usize) {
    // SAFETY: KMDF presents the request to this callback; the driver owns it until completion.
    let request = unsafe { Request::from_raw(request) };
    driver::write(Device::of_queue(queue).state(), request, length);
}

/// EvtIoDeviceControl of the default queue (PASSIVE_LEVEL).
pub(super) extern "C" fn evt_io_device_control(
    queue: WDFQUEUE,
    request: WDFREQUEST,
    output_length: usize,
    input_length: usize,
    code: ULONG,
) {
    // SAFETY: KMDF presents the request to this callback; the driver owns it until completion.
    let request = unsafe { Request::from_raw(request) };
    driver::device_control(Device::of_queue(queue).state(), request, code, input_length, output_length);
}
