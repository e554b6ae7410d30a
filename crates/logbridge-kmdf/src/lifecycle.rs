//! Object deletion and the device's PnP life: DriverEntry → EvtDriverDeviceAdd → start (D0, WMI
//! registration, interfaces) → I/O → query remove / remove → unload.

use crate::machine::*;
use crate::rules::KmdfRule;
use logbridge_core::NtStatus;
use logbridge_core::kernel::PASSIVE_LEVEL;
use std::sync::Arc;
use wdk_sys::*;

/// Deletes object `id` and its children: every EvtCleanupCallback (children first), then every
/// EvtDestroyCallback (children first), then the objects and their contexts. Callbacks run with
/// no model lock held.
pub(crate) fn delete_tree(machine: &Machine, id: ObjectId) {
    let order = machine.state().subtree_post_order(id);
    let callbacks: Vec<(ObjectId, PFN_WDF_OBJECT_CONTEXT_CLEANUP, PFN_WDF_OBJECT_CONTEXT_DESTROY)> = {
        let state = machine.state();
        order.iter().filter_map(|o| state.objects.get(o).map(|object| (*o, object.cleanup, object.destroy))).collect()
    };
    for (object, cleanup, _) in &callbacks {
        if let Some(cleanup) = cleanup {
            // SAFETY: the driver's EvtCleanupCallback for a live object of its own.
            unsafe { cleanup(handle_of(*object)) };
        }
    }
    for (object, _, destroy) in &callbacks {
        if let Some(destroy) = destroy {
            // SAFETY: the driver's EvtDestroyCallback; the object and its context are still alive.
            unsafe { destroy(handle_of(*object)) };
        }
    }
    let mut state = machine.state();
    let parent = state.objects.get(&id).and_then(|o| o.parent);
    if let Some(parent) = parent.and_then(|p| state.objects.get_mut(&p)) {
        parent.children.retain(|child| *child != id);
    }
    for object in order {
        state.objects.remove(&object);
    }
    if state.device == Some(id) {
        state.device = None;
    }
    if state.driver == Some(id) {
        state.driver = None;
    }
}

/// KMDF registers the device's WMI instances when the device starts ("now enable the device
/// interfaces and WMI", pnpstatemachine.cpp); WMI then gives the device its provider id and, if a
/// consumer is waiting, enables the events.
pub(crate) fn register_wmi_if_started(machine: &Machine) {
    let mut state = machine.state();
    let Some(device) = state.device else { return };
    let started = state.device_mut(device).is_some_and(|d| d.pnp == PnpState::Started && d.wmi_provider_id == 0);
    let has_instance = state.objects.values().any(|o| matches!(&o.body, Body::WmiInstance(i) if i.register));
    if !started || !has_instance {
        return;
    }
    let id = machine.kernel.options().provider_id;
    if let Some(d) = state.device_mut(device) {
        d.wmi_provider_id = id;
    }
    let enable = state.wmi_subscribers > 0;
    drop(state);
    set_wmi_events(machine, enable);
}

/// IRP_MN_ENABLE_EVENTS / IRP_MN_DISABLE_EVENTS to the device's providers.
pub(crate) fn set_wmi_events(machine: &Machine, enabled: bool) {
    let mut state = machine.state();
    let registered = state.the_device().is_some_and(|d| d.wmi_provider_id != 0);
    let enabled = enabled && registered;
    for object in state.objects.values_mut() {
        if let Body::WmiProvider(provider) = &mut object.body {
            provider.event_enabled = enabled;
        }
    }
    drop(state);
    machine.kernel.set_wmi_enabled(enabled);
}

/// Closes the file objects whose close was waiting for their last request.
pub(crate) fn run_deferred_closes(machine: &Arc<Machine>) {
    loop {
        let next = machine.state().deferred_closes.pop();
        let Some(file) = next else { break };
        finish_close(machine, file);
    }
}

/// IRP_MJ_CLOSE: EvtFileClose, then the file object goes; a removed device goes with its last
/// handle.
pub(crate) fn finish_close(machine: &Arc<Machine>, file: ObjectId) {
    let (device, close) = {
        let mut state = machine.state();
        let Some(device) = state.file(file).map(|f| f.device) else { return };
        let close = state.device_mut(device).and_then(|d| d.file_config.as_ref().and_then(|c| c.close));
        (device, close)
    };
    if let Some(close) = close {
        // SAFETY: the driver's EvtFileClose for its live file object.
        unsafe { close(handle_of(file)) };
    }
    delete_tree(machine, file);
    let delete_device = {
        let mut state = machine.state();
        match state.device_mut(device) {
            Some(d) => {
                d.open_files = d.open_files.saturating_sub(1);
                d.pnp == PnpState::Removed && d.open_files == 0
            }
            None => false,
        }
    };
    if delete_device {
        delete_tree(machine, device);
    }
}

/// Calls `DriverEntry` as the loader does: PASSIVE_LEVEL, the driver object and the service key.
pub(crate) fn load_driver(machine: &Arc<Machine>) -> NtStatus {
    let path: Vec<u16> = machine.service_key.encode_utf16().collect();
    let bytes = u16::try_from(path.len() * 2).unwrap_or(u16::MAX);
    let registry_path = UNICODE_STRING { Length: bytes, MaximumLength: bytes, Buffer: path.as_ptr().cast_mut() };
    // SAFETY: the driver's DriverEntry with a driver object address and a valid registry path
    // that outlives the call.
    let status = NtStatus(unsafe { (machine.entry)(DRIVER_OBJECT_ADDRESS as PDRIVER_OBJECT, &registry_path) });
    if !status.is_success() {
        // The framework deletes the WDFDRIVER when DriverEntry fails.
        let driver = machine.state().driver;
        if let Some(driver) = driver {
            delete_tree(machine, driver);
        }
    }
    status
}

/// PnP's AddDevice: KMDF makes a WDFDEVICE_INIT and calls EvtDriverDeviceAdd.
pub(crate) fn add_device(machine: &Arc<Machine>) -> NtStatus {
    let (driver, device_add) = {
        let state = machine.state();
        let Some(driver) = state.driver else { return NtStatus::NO_SUCH_DEVICE };
        match state.objects.get(&driver).map(|o| &o.body) {
            Some(Body::Driver { device_add, .. }) => (driver, *device_add),
            _ => return NtStatus::NO_SUCH_DEVICE,
        }
    };
    let Some(device_add) = device_add else {
        machine.violate(KmdfRule::DeviceAdd, "the driver has no EvtDriverDeviceAdd");
        return NtStatus::INVALID_DEVICE_REQUEST;
    };
    machine.state().device_init = Some((DEVICE_INIT_BASE, DeviceInitData::default()));
    let irql = logbridge_model::kernel::current_irql();
    if irql != PASSIVE_LEVEL {
        machine.violate(KmdfRule::Irql, format!("EvtDriverDeviceAdd would run at IRQL {irql}"));
    }
    // SAFETY: the driver's EvtDriverDeviceAdd with its driver and a live WDFDEVICE_INIT.
    let status = NtStatus(unsafe { device_add(handle_of(driver), DEVICE_INIT_BASE as PWDFDEVICE_INIT) });
    let (consumed, device) = {
        let mut state = machine.state();
        let consumed = state.device_init.take().is_some_and(|(_, data)| data.consumed);
        (consumed, state.device)
    };
    if status.is_success() && device.is_none() {
        machine.violate(KmdfRule::DeviceAdd, "EvtDriverDeviceAdd returned success without a device");
    }
    if status.is_success() && !consumed {
        machine.violate(KmdfRule::DeviceAdd, "EvtDriverDeviceAdd returned success with an unconsumed WDFDEVICE_INIT");
    }
    if !status.is_success() {
        // KMDF deletes a device whose add failed; everything the add allocated must go with it.
        if let Some(device) = device {
            delete_tree(machine, device);
        }
        let leaked_pool = machine.state().pool.len();
        let leaked_entries = machine.state().entries.len();
        if leaked_pool > 0 || leaked_entries > 0 {
            machine.kernel.violate(
                logbridge_model::Rule::BufferLeaked,
                format!("after a failed EvtDriverDeviceAdd ({status}): {leaked_pool} pool blocks and {leaked_entries} error-log entries remain"),
            );
        }
    }
    status
}

/// IRP_MN_START_DEVICE and D0: the device starts, KMDF registers WMI and enables the device
/// interfaces, and power-managed queues release what they held.
pub(crate) fn start_device(machine: &Arc<Machine>) -> NtStatus {
    let held: Vec<(ObjectId, ObjectId)> = {
        let mut state = machine.state();
        let Some(device) = state.device else { return NtStatus::NO_SUCH_DEVICE };
        match state.device_mut(device) {
            Some(d) if d.pnp == PnpState::Added => d.pnp = PnpState::Started,
            _ => return NtStatus::INVALID_DEVICE_STATE,
        }
        let queues: Vec<ObjectId> = state
            .objects
            .iter()
            .filter_map(|(id, o)| match &o.body {
                // Power-managed queues that present requests (a manual queue has no callbacks).
                Body::Queue(q)
                    if q.device == device
                        && q.power_managed
                        && (q.evt_write.is_some() || q.evt_device_control.is_some()) =>
                {
                    Some(*id)
                }
                _ => None,
            })
            .collect();
        let mut held = Vec::new();
        for queue in queues {
            if let Some(q) = state.queue(queue) {
                held.extend(q.items.drain(..).map(|request| (queue, request)));
            }
        }
        held
    };
    register_wmi_if_started(machine);
    for (queue, request) in held {
        crate::io_manager::present(machine, queue, request);
    }
    NtStatus::SUCCESS
}

/// IRP_MN_REMOVE_DEVICE (after a surprise removal, or a query-remove that nobody vetoed): WMI
/// deregistration, interfaces disabled, every queue purged (queued requests cancelled), and the
/// device deleted once its last handle is closed.
pub(crate) fn remove_device(machine: &Arc<Machine>) {
    let (device, queued, owned) = {
        let mut state = machine.state();
        let Some(device) = state.device else { return };
        if let Some(d) = state.device_mut(device) {
            if d.pnp == PnpState::Removed {
                return;
            }
            d.pnp = PnpState::Removed;
            d.wmi_provider_id = 0;
        }
        let mut queued = Vec::new();
        let mut owned = Vec::new();
        for object in state.objects.values_mut() {
            match &mut object.body {
                Body::Queue(q) if q.device == device => {
                    q.accepting = false;
                    queued.extend(q.items.iter().copied());
                }
                Body::Request(r) if r.device == device && r.owner == Owner::Driver => owned.push(r.kind),
                _ => {}
            }
        }
        (device, queued, owned)
    };
    set_wmi_events(machine, false);
    for kind in owned {
        machine.violate(KmdfRule::RequestOutstanding, format!("{kind:?} still owned by the driver at remove"));
    }
    for request in queued {
        crate::io_manager::framework_complete(machine, request, NtStatus::CANCELLED, 0);
    }
    run_deferred_closes(machine);
    let open = machine.state().device_mut(device).map_or(0, |d| d.open_files);
    if open == 0 {
        delete_tree(machine, device);
    }
}

/// The driver unloads: EvtDriverUnload, then the WDFDRIVER and everything still parented to it.
/// Every object must be gone afterwards, and every pool block and error-log entry freed.
pub(crate) fn unload(machine: &Arc<Machine>) {
    let driver = machine.state().driver;
    let Some(driver) = driver else { return };
    if machine.state().device.is_some() {
        machine.violate(KmdfRule::RequestOutstanding, "the driver unloads while its device still exists");
    }
    let unload = match machine.state().objects.get(&driver).map(|o| &o.body) {
        Some(Body::Driver { unload, .. }) => *unload,
        _ => None,
    };
    if let Some(unload) = unload {
        // SAFETY: the driver's EvtDriverUnload with its driver handle.
        unsafe { unload(handle_of(driver)) };
    }
    delete_tree(machine, driver);
    let left: Vec<String> = {
        let state = machine.state();
        state.objects.values().map(|o| o.body.kind().to_string()).collect()
    };
    if !left.is_empty() {
        machine.violate(KmdfRule::ObjectLeak, format!("left at unload: {left:?}"));
    }
    machine.kernel.check_leaks();
    let mut state = machine.state();
    state.pool.clear();
    state.entries.clear();
}
