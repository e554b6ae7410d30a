//! [`System`]: one modelled Windows machine with the LogBridge driver package installed, driven
//! the way PnP and user mode drive it.

use crate::inf;
use crate::io_manager;
use crate::lifecycle;
use crate::machine::*;
use crate::rules::{KmdfRule, Violation};
use crate::security::{Caller, DEFAULT_DEVICE_OBJECT_SDDL, FILE_DEVICE_SECURE_OPEN, OpenPath, SecurityDescriptor};
use crate::win32::{self, CallerView};
use logbridge_core::NtStatus;
use logbridge_core::identity::SERVICE_NAME;
use logbridge_core::ioctl::{self, FILE_READ_ACCESS, FILE_WRITE_ACCESS};
use logbridge_model::kernel::{KernelOptions, ModelKernel};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the model waits for a request the driver should complete synchronously before it
/// reports it as never completed.
const SYNCHRONOUS_WAIT: Duration = Duration::from_secs(20);

/// A registry change an administrator made before the device starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryEdit {
    /// Sets a value under the service's `Parameters` key (INF-supplied; read-only at run time on
    /// Windows, but a test may model an INF with other defaults).
    SetParameter(String, RegistryValue),
    /// Deletes a value under `Parameters`.
    DeleteParameter(String),
    /// Deletes the whole `Parameters` key.
    DeleteParametersKey,
    /// Sets a value under the driver's persistent state key (`Services\LogBridge\State`, where
    /// administrators' overrides go).
    SetOverride(String, RegistryValue),
}

/// Settings of a modelled system.
#[derive(Clone, Debug, Default)]
pub struct SystemOptions {
    /// The checked kernel's settings (faults, clock, WMI limits).
    pub kernel: KernelOptions,
    /// Registry changes applied after the INF's.
    pub registry: Vec<RegistryEdit>,
    /// A WMI consumer subscribed before the device starts.
    pub wmi_subscribed: bool,
}

/// An open handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Handle(u64);

/// What a Win32 call returned, as the caller sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoOutcome {
    /// The status the driver (or the framework) completed the request with.
    pub status: NtStatus,
    /// The Information it completed with.
    pub information: u64,
    /// What `WriteFile`/`DeviceIoControl` report.
    pub view: CallerView,
    /// The caller's output buffer afterwards (empty for writes).
    pub output: Vec<u8>,
}

impl IoOutcome {
    /// The Win32 error's name (`ERROR_SUCCESS` for success).
    pub fn error_name(&self) -> &'static str {
        win32::win32_name(self.view.error)
    }
}

/// An overlapped request in flight.
pub struct PendingIo {
    irp: Arc<Irp>,
    machine: Arc<Machine>,
}

impl PendingIo {
    /// Has it completed?
    pub fn is_complete(&self) -> bool {
        lock(&self.irp.status).completion.is_some()
    }

    /// Waits up to `timeout` for completion (`GetOverlappedResult` with a timeout).
    pub fn wait(&self, timeout: Duration) -> Option<IoOutcome> {
        let _entered = enter(&self.machine);
        let completion = self.irp.wait(timeout);
        lifecycle::run_deferred_closes(&self.machine);
        completion.map(|(status, information)| outcome(&self.irp, status, information))
    }
}

fn outcome(irp: &Irp, status: NtStatus, information: u64) -> IoOutcome {
    let buffered_output = match irp.kind {
        RequestKind::DeviceControl { output_length, .. } if irp.method == 0 => output_length,
        _ => 0,
    };
    IoOutcome {
        status,
        information,
        view: win32::caller_view(status, information, buffered_output),
        output: irp.output_after_completion(),
    }
}

/// One modelled machine: the kernel, KMDF, the I/O manager, PnP and the registry, with the
/// LogBridge package installed and its driver linked in.
pub struct System {
    machine: Arc<Machine>,
    handles: Mutex<BTreeMap<Handle, OpenHandle>>,
}

/// What the I/O manager keeps for a handle.
#[derive(Clone, Copy, Debug)]
struct OpenHandle {
    file: ObjectId,
    process_id: u32,
    /// `FILE_READ_ACCESS` / `FILE_WRITE_ACCESS` bits granted.
    access: u32,
}

impl System {
    /// A machine with the package installed (the INF's registry values and device-node security)
    /// and the driver image whose entry point is `entry` (see [`crate::driver_entry!`]). Nothing
    /// is loaded yet.
    pub fn new(options: SystemOptions, entry: DriverEntryFn) -> System {
        wdk_sys::model::install(crate::framework::wdf_function_table(), crate::ntoskrnl::ntoskrnl_table());
        let service_key = format!("\\Registry\\Machine\\System\\CurrentControlSet\\Services\\{SERVICE_NAME}");
        let settings = inf::read(inf::INX);
        let mut registry: BTreeMap<String, BTreeMap<String, RegistryValue>> = BTreeMap::new();
        let parameters_key = format!("{service_key}\\Parameters");
        let state_key = format!("{service_key}\\State");
        registry.insert(service_key.clone(), BTreeMap::new());
        registry.insert(
            parameters_key.clone(),
            settings.parameters.iter().map(|(name, value)| (name.clone(), RegistryValue::Dword(*value))).collect(),
        );
        for edit in &options.registry {
            match edit {
                RegistryEdit::SetParameter(name, value) => {
                    registry.entry(parameters_key.clone()).or_default().insert(name.clone(), value.clone());
                }
                RegistryEdit::DeleteParameter(name) => {
                    if let Some(values) = registry.get_mut(&parameters_key) {
                        values.remove(name);
                    }
                }
                RegistryEdit::DeleteParametersKey => {
                    registry.remove(&parameters_key);
                }
                RegistryEdit::SetOverride(name, value) => {
                    registry.entry(state_key.clone()).or_default().insert(name.clone(), value.clone());
                }
            }
        }
        let kernel = ModelKernel::new(options.kernel.clone());
        let state = State {
            next_id: 0,
            objects: BTreeMap::new(),
            driver: None,
            device: None,
            device_init: None,
            registry,
            pool: BTreeMap::new(),
            entries: BTreeMap::new(),
            next_handle: 0,
            wmi_subscribers: u32::from(options.wmi_subscribed),
            pdo_security: settings.device_security,
            pdo_characteristics: settings.device_characteristics,
            deferred_closes: Vec::new(),
        };
        let machine = Arc::new(Machine {
            kernel,
            state: Mutex::new(state),
            violations: Mutex::new(Vec::new()),
            calls: Mutex::new(BTreeMap::new()),
            before_forward: Mutex::new(None),
            lock_waiters: Default::default(),
            entry,
            service_key,
        });
        System { machine, handles: Mutex::new(BTreeMap::new()) }
    }

    /// Loads the driver (`DriverEntry`), adds the device (`EvtDriverDeviceAdd`) and starts it;
    /// the first failing step's status.
    pub fn boot(&self) -> Result<(), NtStatus> {
        let loaded = self.load_driver();
        if !loaded.is_success() {
            return Err(loaded);
        }
        let added = self.add_device();
        if !added.is_success() {
            return Err(added);
        }
        let started = self.start_device();
        if started.is_success() { Ok(()) } else { Err(started) }
    }

    /// `DriverEntry`.
    pub fn load_driver(&self) -> NtStatus {
        let _entered = enter(&self.machine);
        lifecycle::load_driver(&self.machine)
    }

    /// PnP finds the `Root\LogBridge` node: `EvtDriverDeviceAdd`.
    pub fn add_device(&self) -> NtStatus {
        let _entered = enter(&self.machine);
        lifecycle::add_device(&self.machine)
    }

    /// The device starts (D0).
    pub fn start_device(&self) -> NtStatus {
        let _entered = enter(&self.machine);
        lifecycle::start_device(&self.machine)
    }

    /// Is the device interface present (what `CM_Get_Device_Interface_List` would list)?
    pub fn interface_present(&self) -> bool {
        self.machine.state().the_device().is_some_and(|d| d.pnp == PnpState::Started && !d.interfaces.is_empty())
    }

    /// The FDO's name, if the driver named it.
    pub fn fdo_name(&self) -> Option<String> {
        self.machine.state().the_device().and_then(|d| d.fdo_name.clone())
    }

    /// `CreateFile` on `path` by `caller` in process `process_id`, asking for read and write
    /// access. The I/O manager checks the access against the security of the device object the
    /// name leads to, then KMDF makes a file object and calls EvtDeviceFileCreate.
    pub fn open(&self, caller: Caller, path: OpenPath, process_id: u32) -> Result<Handle, IoOutcome> {
        self.open_with_access(caller, path, process_id, FILE_READ_ACCESS | FILE_WRITE_ACCESS)
    }

    /// `CreateFile` asking for `access` (`FILE_READ_ACCESS` and/or `FILE_WRITE_ACCESS`): the I/O
    /// manager later refuses requests that need access the handle was not granted.
    pub fn open_with_access(
        &self,
        caller: Caller,
        path: OpenPath,
        process_id: u32,
        access: u32,
    ) -> Result<Handle, IoOutcome> {
        let _entered = enter(&self.machine);
        let denied = |status: NtStatus| IoOutcome {
            status,
            information: 0,
            view: win32::caller_view(status, 0, 0),
            output: Vec::new(),
        };
        let (device, file_config) = {
            let mut state = self.machine.state();
            let Some(device) = state.device else { return Err(denied(NtStatus::NO_SUCH_DEVICE)) };
            let pdo_security = state.pdo_security.clone();
            let pdo_characteristics = state.pdo_characteristics;
            let Some(d) = state.device_mut(device) else { return Err(denied(NtStatus::NO_SUCH_DEVICE)) };
            if d.pnp == PnpState::Removed {
                return Err(denied(NtStatus::DELETE_PENDING));
            }
            // PnP applies the INF's device characteristics to every device object of the stack.
            let fdo_characteristics = d.characteristics | pdo_characteristics;
            let (security, characteristics, below) = match path {
                OpenPath::Interface if d.pnp != PnpState::Started || d.interfaces.is_empty() => {
                    return Err(denied(NtStatus::OBJECT_NAME_NOT_FOUND));
                }
                OpenPath::Interface | OpenPath::PdoName => (pdo_security, pdo_characteristics, false),
                OpenPath::BelowPdoName => (pdo_security, pdo_characteristics, true),
                OpenPath::FdoName | OpenPath::BelowFdoName if d.fdo_name.is_none() => {
                    return Err(denied(NtStatus::OBJECT_NAME_NOT_FOUND));
                }
                OpenPath::FdoName => (d.sddl.clone(), fdo_characteristics, false),
                OpenPath::BelowFdoName => (d.sddl.clone(), fdo_characteristics, true),
            };
            // A name below the device is checked only with FILE_DEVICE_SECURE_OPEN.
            let checked = !below || characteristics & FILE_DEVICE_SECURE_OPEN != 0;
            if checked {
                let sddl = security.unwrap_or_else(|| DEFAULT_DEVICE_OBJECT_SDDL.to_string());
                let granted = SecurityDescriptor::parse(&sddl).is_some_and(|sd| sd.grants(caller));
                if !granted {
                    return Err(denied(NtStatus::ACCESS_DENIED));
                }
            }
            if !caller.is_privileged() {
                self.machine.violate(
                    KmdfRule::Security,
                    format!("{caller:?} opened the device by {path:?} (security checked: {checked})"),
                );
            }
            let attributes = d.file_config.as_ref().and_then(|c| c.attributes);
            let create = d.file_config.as_ref().and_then(|c| c.create);
            (device, (attributes, create))
        };
        let (attributes, create) = file_config;
        // KMDF's create path: a file object with the driver's context, then EvtDeviceFileCreate.
        let (file, request, irp) = {
            let mut state = self.machine.state();
            let file =
                state.insert(Some(device), Body::File(FxFile { device, cleaned_up: false, close_pending: false }));
            crate::framework::apply_attributes(&mut state, file, attributes.as_ref());
            let irp = Irp::new(RequestKind::Create, 0, Vec::new(), Vec::new());
            let request = state.insert(
                None,
                Body::Request(FxRequest {
                    irp: Arc::clone(&irp),
                    device,
                    file: Some(file),
                    queue: None,
                    owner: Owner::Driver,
                    kind: RequestKind::Create,
                    process_id,
                }),
            );
            lock(&irp.status).request = Some(request);
            (file, request, irp)
        };
        match create {
            // SAFETY: the driver's EvtDeviceFileCreate with its device, a request it owns and the
            // new file object.
            Some(create) => unsafe { create(handle_of(device), handle_of(request), handle_of(file)) },
            None => io_manager::framework_complete(&self.machine, request, NtStatus::SUCCESS, 0),
        }
        let Some((status, information)) = irp.wait(SYNCHRONOUS_WAIT) else {
            self.machine
                .violate(KmdfRule::RequestOutstanding, "EvtDeviceFileCreate never completed the create request");
            return Err(denied(NtStatus::UNSUCCESSFUL));
        };
        if !status.is_success() {
            lifecycle::delete_tree(&self.machine, file);
            return Err(IoOutcome {
                status,
                information,
                view: win32::caller_view(status, information, 0),
                output: Vec::new(),
            });
        }
        let handle = {
            let mut state = self.machine.state();
            if let Some(d) = state.device_mut(device) {
                d.open_files += 1;
            }
            state.next_handle += 4;
            Handle(state.next_handle)
        };
        lock(&self.handles).insert(handle, OpenHandle { file, process_id, access });
        Ok(handle)
    }

    /// `WriteFile` (synchronous).
    pub fn write(&self, handle: Handle, bytes: &[u8]) -> IoOutcome {
        let pending = self.write_overlapped(handle, bytes);
        self.finish_synchronous(pending)
    }

    /// `WriteFile` (overlapped).
    pub fn write_overlapped(&self, handle: Handle, bytes: &[u8]) -> PendingIo {
        self.send(handle, RequestKind::Write { length: bytes.len() }, bytes, 0)
    }

    /// `DeviceIoControl` (synchronous) with `output_length` bytes of output buffer.
    pub fn device_io_control(&self, handle: Handle, code: u32, input: &[u8], output_length: usize) -> IoOutcome {
        let pending = self.device_io_control_overlapped(handle, code, input, output_length);
        self.finish_synchronous(pending)
    }

    /// `DeviceIoControl` (overlapped).
    pub fn device_io_control_overlapped(
        &self,
        handle: Handle,
        code: u32,
        input: &[u8],
        output_length: usize,
    ) -> PendingIo {
        let kind = RequestKind::DeviceControl { code, input_length: input.len(), output_length };
        self.send(handle, kind, input, output_length)
    }

    fn send(&self, handle: Handle, kind: RequestKind, input: &[u8], output_length: usize) -> PendingIo {
        let _entered = enter(&self.machine);
        let open = lock(&self.handles).get(&handle).copied();
        // The I/O manager checks the handle's granted access before the request reaches the
        // driver: FILE_WRITE_DATA for a write, the access bits of the IOCTL code for a device
        // control.
        let refused = match (open, kind) {
            (None, _) => Some(NtStatus::INVALID_DEVICE_STATE),
            (Some(open), RequestKind::Write { .. }) if open.access & FILE_WRITE_ACCESS == 0 => {
                Some(NtStatus::ACCESS_DENIED)
            }
            (Some(open), RequestKind::DeviceControl { code, .. }) if !ioctl::access_allows(open.access, code) => {
                Some(NtStatus::ACCESS_DENIED)
            }
            _ => None,
        };
        let irp = match (open, refused) {
            (Some(open), None) => {
                io_manager::send(&self.machine, open.file, kind, input, output_length, open.process_id)
            }
            (_, refused) => {
                let irp = Irp::new(kind, 0, Vec::new(), vec![0; output_length]);
                lock(&irp.status).completion = Some((refused.unwrap_or(NtStatus::INVALID_DEVICE_STATE), 0));
                irp
            }
        };
        lifecycle::run_deferred_closes(&self.machine);
        PendingIo { irp, machine: Arc::clone(&self.machine) }
    }

    fn finish_synchronous(&self, pending: PendingIo) -> IoOutcome {
        match pending.wait(SYNCHRONOUS_WAIT) {
            Some(outcome) => outcome,
            None => {
                self.machine.violate(KmdfRule::RequestOutstanding, "a synchronous request never completed");
                IoOutcome {
                    status: NtStatus::PENDING,
                    information: 0,
                    view: win32::caller_view(NtStatus::PENDING, 0, 0),
                    output: Vec::new(),
                }
            }
        }
    }

    /// `CancelIoEx` for an overlapped request.
    pub fn cancel(&self, pending: &PendingIo) {
        let _entered = enter(&self.machine);
        io_manager::cancel(&self.machine, &pending.irp);
        lifecycle::run_deferred_closes(&self.machine);
    }

    /// `CloseHandle`: IRP_MJ_CLEANUP (EvtFileCleanup), then IRP_MJ_CLOSE once no request of the
    /// file object is left.
    pub fn close(&self, handle: Handle) {
        let _entered = enter(&self.machine);
        let Some(OpenHandle { file, .. }) = lock(&self.handles).remove(&handle) else { return };
        let cleanup = {
            let mut state = self.machine.state();
            let device = state.file(file).map(|f| f.device);
            device.and_then(|d| state.device_mut(d)).and_then(|d| d.file_config.as_ref().and_then(|c| c.cleanup))
        };
        if let Some(cleanup) = cleanup {
            // SAFETY: the driver's EvtFileCleanup with its live file object, at PASSIVE_LEVEL.
            unsafe { cleanup(crate::machine::handle_of(file)) };
        }
        let queued = {
            let mut state = self.machine.state();
            if let Some(f) = state.file(file) {
                f.cleaned_up = true;
            }
            state.requests_of_file(file)
        };
        // FxPkgGeneral::OnCleanup, after EvtFileCleanup: FlushAllQueuesByFileObject cancels the
        // handle's requests still waiting in a queue (no EvtIoCanceledOnQueue: STATUS_CANCELLED).
        // Requests the driver owns are its own to complete.
        for (request, owner) in queued {
            if matches!(owner, Owner::Queue(_)) {
                io_manager::framework_complete(&self.machine, request, NtStatus::CANCELLED, 0);
            }
        }
        let left = self.machine.state().requests_of_file(file);
        if left.is_empty() {
            lifecycle::finish_close(&self.machine, file);
        } else if let Some(f) = self.machine.state().file(file) {
            f.close_pending = true;
        }
        lifecycle::run_deferred_closes(&self.machine);
    }

    /// Runs `hook` (once) when the driver next calls `WdfRequestForwardToIoQueue`, before the
    /// forward happens: the way to interleave, say, a handle's cleanup with a request that is
    /// between its dispatch and its parking.
    pub fn before_next_forward(&self, hook: impl FnMut() + Send + 'static) {
        *lock(&self.machine.before_forward) = Some(Box::new(hook));
    }

    /// Waits until `thread` has finished, or is waiting for a spin lock or wait lock (held by the
    /// caller), or `timeout` passed: how a test lets another thread run "as far as it can".
    pub fn wait_until_finished_or_blocked(&self, thread: &std::thread::JoinHandle<()>, timeout: Duration) {
        let start = std::time::Instant::now();
        while !thread.is_finished()
            && self.machine.lock_waiters.load(std::sync::atomic::Ordering::SeqCst) == 0
            && start.elapsed() < timeout
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A WMI consumer subscribes to the event class (IRP_MN_ENABLE_EVENTS once registered).
    pub fn wmi_subscribe(&self) {
        let _entered = enter(&self.machine);
        let subscribers = {
            let mut state = self.machine.state();
            state.wmi_subscribers += 1;
            state.wmi_subscribers
        };
        lifecycle::set_wmi_events(&self.machine, subscribers > 0);
    }

    /// The consumer goes away (IRP_MN_DISABLE_EVENTS when it was the last).
    pub fn wmi_unsubscribe(&self) {
        let _entered = enter(&self.machine);
        let subscribers = {
            let mut state = self.machine.state();
            state.wmi_subscribers = state.wmi_subscribers.saturating_sub(1);
            state.wmi_subscribers
        };
        lifecycle::set_wmi_events(&self.machine, subscribers > 0);
    }

    /// The WMI provider id the device is registered with (0 when it is not).
    pub fn wmi_provider_id(&self) -> u32 {
        self.machine.state().the_device().map_or(0, |d| d.wmi_provider_id)
    }

    /// IRP_MN_QUERY_REMOVE_DEVICE: PnP vetoes it while handles are open (`PNP_VetoOutstandingOpen`).
    pub fn query_remove(&self) -> Result<(), String> {
        let open = self.machine.state().the_device().map_or(0, |d| d.open_files);
        if open > 0 { Err(format!("vetoed: {open} open handle(s) (PNP_VetoOutstandingOpen)")) } else { Ok(()) }
    }

    /// IRP_MN_REMOVE_DEVICE (a surprise removal when handles are open).
    pub fn remove_device(&self) {
        let _entered = enter(&self.machine);
        lifecycle::remove_device(&self.machine);
    }

    /// The driver unloads; leaks are checked.
    pub fn unload(&self) {
        let _entered = enter(&self.machine);
        lifecycle::unload(&self.machine);
    }

    /// Closes every handle, removes the device and unloads the driver.
    pub fn teardown(&self) {
        let handles: Vec<Handle> = lock(&self.handles).keys().copied().collect();
        for handle in handles {
            self.close(handle);
        }
        self.remove_device();
        self.unload();
    }

    /// Every violation so far: KMDF and I/O-manager rules, then kernel rules.
    pub fn violations(&self) -> Vec<Violation> {
        let mut all: Vec<Violation> = lock(&self.machine.violations).iter().cloned().map(Violation::Kmdf).collect();
        all.extend(self.machine.kernel.violations().into_iter().map(Violation::Kernel));
        all
    }

    /// Panics with every violation, if there is any.
    pub fn assert_clean(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "the model found {} violation(s):\n{}",
            violations.len(),
            violations.iter().map(|v| format!("  - {v}")).collect::<Vec<_>>().join("\n")
        );
    }

    /// How often each WDF and kernel routine was called.
    pub fn routine_calls(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.machine.calls).clone()
    }

    /// The checked kernel (Event Log entries written, WMI events, pool usage, faults).
    pub fn kernel(&self) -> &ModelKernel {
        &self.machine.kernel
    }

    /// The `DriverPoolTag` the driver gave `WdfDriverCreate` (KMDF tags its allocations for the
    /// driver with it).
    pub fn driver_pool_tag(&self) -> Option<u32> {
        let state = self.machine.state();
        state.driver.and_then(|d| state.objects.get(&d)).and_then(|o| match &o.body {
            Body::Driver { pool_tag, .. } => Some(*pool_tag),
            _ => None,
        })
    }

    /// The live framework objects, by type (for tests of object lifetime).
    pub fn live_objects(&self) -> BTreeMap<&'static str, usize> {
        let state = self.machine.state();
        let mut counts = BTreeMap::new();
        for object in state.objects.values() {
            *counts.entry(object.body.kind()).or_insert(0) += 1;
        }
        counts
    }
}
