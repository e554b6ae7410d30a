//! What each KMDF callback does, in safe code over the wrappers and the core.

use crate::kernel::{DeviceLog, WindowsKernel};
use crate::wrappers::device::{DeviceInit, Driver, FileObject, parameter_name};
use crate::wrappers::pool::NonPagedBuffer;
use crate::wrappers::request::Request;
use crate::wrappers::sync::SpinLocked;
use logbridge_core::NtStatus;
use logbridge_core::device::{self as core_device, LogBridge, LogState, RegistryValue, Settings, WriteRequest};
use logbridge_core::guid::GUID_DEVINTERFACE_LOGBRIDGE;
use logbridge_core::ioctl;
use logbridge_core::kernel::{Completion, ReadCompletion};

/// Everything one LogBridge device holds, in its WDF device context.
pub struct DeviceState {
    /// The write path, the IOCTL handlers and the ring log (`logbridge-core`).
    pub bridge: LogBridge<DeviceLog>,
    /// The kernel routines and the parked reads.
    pub kernel: WindowsKernel,
}

/// EvtDriverDeviceAdd: creates and fully initialises the device, then opens it to I/O.
///
/// Order matters: the state is installed in the device context *before* the default queue
/// exists, so no I/O callback can see a device without its state; the interface comes last, so
/// `logbridge-ctl` cannot find a device that cannot serve it. On failure KMDF deletes the device,
/// and its destroy callback frees whatever state was installed.
pub fn device_add(driver: Driver, init: DeviceInit) -> NtStatus {
    match try_device_add(driver, init) {
        Ok(()) => NtStatus::SUCCESS,
        Err(status) => status,
    }
}

fn try_device_add(driver: Driver, init: DeviceInit) -> Result<(), NtStatus> {
    let device = init.create()?;
    let settings = read_settings(driver);
    let kernel = WindowsKernel::create(device)?;
    let storage =
        settings.ring_allocation_sizes().find_map(NonPagedBuffer::allocate).ok_or(NtStatus::INSUFFICIENT_RESOURCES)?;
    let state = LogState::new(storage, settings.config.rate_limit).map_err(|_| NtStatus::INSUFFICIENT_RESOURCES)?;
    let log = SpinLocked::create(&device, state)?;
    let bridge = LogBridge::new(settings.config, log);
    for defaulted in settings.defaulted.iter().flatten() {
        // Best effort, like every entry: a NULL entry is survived.
        let _ = core_device::log_parameter_defaulted(&kernel, defaulted, settings.config.error_log_maximum_size);
    }
    device.install_state(DeviceState { bridge, kernel })?;
    device.create_default_queue()?;
    device.create_interface(GUID_DEVINTERFACE_LOGBRIDGE)
}

/// The registry parameters, each read once: an administrator's override in the driver's
/// persistent state key first, else the INF's value in `Parameters` (which Microsoft's
/// driver-isolation guidance makes read-only at run time), else the default.
fn read_settings(driver: Driver) -> Settings {
    let overrides = driver.open_overrides();
    let parameters = driver.open_parameters();
    Settings::resolve(|parameter| {
        let name = parameter_name(parameter);
        let overridden = overrides.as_ref().map_or(RegistryValue::Missing, |key| key.query_u32(name));
        match (overridden, &parameters) {
            (RegistryValue::Missing, Some(key)) => key.query_u32(name),
            (value, _) => value,
        }
    })
}

/// EvtIoWrite: one record, one Event Log entry (rate limited), one WMI event.
pub fn write(state: Option<&DeviceState>, mut request: Request, length: usize) {
    let Some(state) = state else {
        return request.complete(Completion::failure(NtStatus::INVALID_DEVICE_STATE));
    };
    // Refused by its size before its buffer is touched.
    if let Some(refused) = state.bridge.refuse_by_length(length) {
        return request.complete(refused);
    }
    let process_id = request.requestor_process_id();
    let completion = match request.write_payload(length) {
        Ok(payload) => state.bridge.write(&state.kernel, WriteRequest { payload, process_id }),
        Err(status) => Completion::failure(status),
    };
    request.complete(completion);
}

/// EvtIoDeviceControl: READ_LOG (may park), GET_STATS, CLEAR_LOG; anything else is refused
/// without touching its buffers.
pub fn device_control(
    state: Option<&DeviceState>,
    mut request: Request,
    code: u32,
    input_length: usize,
    output_length: usize,
) {
    let Some(state) = state else {
        return request.complete(Completion::failure(NtStatus::INVALID_DEVICE_STATE));
    };
    let Some(buffers) = ioctl::buffers_of(code) else {
        return request.complete(Completion::failure(NtStatus::INVALID_DEVICE_REQUEST));
    };
    let Some(cursor) = request.file_object().and_then(FileObject::cursor) else {
        return request.complete(Completion::failure(NtStatus::INVALID_DEVICE_STATE));
    };
    let outcome = match request.ioctl_data(code, buffers, input_length, output_length) {
        Ok(data) => state.bridge.device_control(code, cursor, data.input, data.output),
        Err(status) => ReadCompletion::Complete(Completion::failure(status)),
    };
    match outcome {
        ReadCompletion::Complete(completion) => request.complete(completion),
        ReadCompletion::Pending => state.kernel.reads().park(request, &state.bridge),
    }
}

/// EvtDeviceFileCreate: the new handle's cursor starts at the end of the log.
pub fn file_create(state: Option<&DeviceState>, request: Request, file: Option<FileObject>) {
    let cursor = file.and_then(FileObject::cursor);
    let completion = match (state, cursor) {
        (Some(state), Some(cursor)) => {
            // `open_cursor` reads the end under the log lock. No request can use this handle
            // before its create completes, so storing into its context needs no lock of its own.
            cursor.store(state.bridge.open_cursor().load());
            Completion::success(0)
        }
        _ => Completion::failure(NtStatus::INVALID_DEVICE_STATE),
    };
    request.complete(completion);
}

/// EvtFileCleanup: the handle's parked reads are cancelled, and no later one is parked.
pub fn file_cleanup(state: Option<&DeviceState>, file: FileObject) {
    if let Some(state) = state {
        state.kernel.reads().cancel_for_file(file);
    }
}
