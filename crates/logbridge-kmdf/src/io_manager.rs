//! The I/O manager and KMDF's request dispatch: how a `CreateFile`, `WriteFile` or
//! `DeviceIoControl` becomes a WDFREQUEST presented to the driver's queue, how a completion
//! becomes what the caller sees, forwarding to and retrieving from manual queues, cancellation
//! and handle cleanup.

use crate::machine::*;
use crate::rules::KmdfRule;
use logbridge_core::NtStatus;
use logbridge_core::kernel::PASSIVE_LEVEL;
use logbridge_model::Ddi;
use std::sync::Arc;
use wdk_sys::*;

const METHOD_BUFFERED: u32 = 0;

/// Completes request `id` as the framework does it (purge, cancellation, no callback): no
/// ownership check.
pub(crate) fn framework_complete(machine: &Machine, id: ObjectId, status: NtStatus, information: u64) {
    let mut state = machine.state();
    let Some(request) = state.request(id) else { return };
    let queue = match request.owner {
        Owner::Queue(queue) => Some(queue),
        Owner::Driver => None,
    };
    if let Some(queue) = queue.and_then(|q| state.queue(q)) {
        queue.items.retain(|item| *item != id);
    }
    finish(state, id, status, information);
}

/// `WdfRequestComplete[WithInformation]` by the driver.
pub(crate) fn complete_request(
    machine: &Machine,
    routine: &str,
    request: WDFREQUEST,
    status: NtStatus,
    information: u64,
) {
    let id = id_of(request);
    let mut state = machine.state();
    let Some(found) = state.request(id) else {
        drop(state);
        machine.violate(
            KmdfRule::RequestCompletedTwice,
            format!("{routine}: request 0x{:X} was already completed (or never existed)", request as usize),
        );
        return;
    };
    if let Owner::Queue(queue) = found.owner {
        drop(state);
        machine.violate(KmdfRule::RequestNotOwned, format!("{routine}: the request is in queue 0x{:X}", queue << 4));
        return;
    }
    let kind = found.kind;
    let mut problems = Vec::new();
    if status == NtStatus::PENDING {
        problems.push((KmdfRule::CompletedPending, format!("{routine} with STATUS_PENDING")));
    }
    let buffer_length = match kind {
        RequestKind::Write { length } => length as u64,
        RequestKind::DeviceControl { output_length, .. } => output_length as u64,
        RequestKind::Create => 0,
    };
    if status.is_success() && information > buffer_length {
        problems.push((
            KmdfRule::InformationTooLarge,
            format!("{kind:?} completed with {status} and Information {information} > buffer length {buffer_length}"),
        ));
    }
    if status.is_error() && information != 0 {
        problems.push((
            KmdfRule::InformationOnError,
            format!("{kind:?} completed with {status} and Information {information}"),
        ));
    }
    if !problems.is_empty() {
        drop(state);
        for (rule, detail) in problems {
            machine.violate(rule, detail);
        }
        state = machine.state();
    }
    finish(state, id, status, information);
}

/// The I/O manager's part of completion: what reaches the caller; the request object goes away.
fn finish(mut state: std::sync::MutexGuard<'_, State>, id: ObjectId, status: NtStatus, information: u64) {
    let Some(object) = state.objects.remove(&id) else { return };
    let Body::Request(request) = object.body else { return };
    let file = request.file;
    let irp = request.irp;
    if let Some(file) = file {
        let close_now = state.file(file).is_some_and(|f| f.close_pending) && state.requests_of_file(file).is_empty();
        if close_now {
            state.deferred_closes.push(file);
        }
    }
    drop(state);
    let status = framework_status_for_irp(status);
    let mut irp_status = lock(&irp.status);
    // IopCompleteRequest: for buffered I/O the system buffer is copied back unless the status is
    // an error; METHOD_OUT_DIRECT output was written straight into the caller's pages.
    if let RequestKind::DeviceControl { output_length, .. } = irp.kind
        && irp.method == METHOD_BUFFERED
        && !status.is_error()
    {
        let (system, system_length) = irp.system_buffer();
        let (user, user_length) = irp.user_output();
        let count =
            usize::try_from(information).unwrap_or(usize::MAX).min(output_length).min(system_length).min(user_length);
        // SAFETY: both buffers belong to this IRP, hold at least `count` bytes, and the driver no
        // longer touches them (the request is completed).
        unsafe { std::ptr::copy_nonoverlapping(system, user, count) };
        irp_status.copied_back = count;
    }
    irp_status.completion = Some((status, information));
    irp_status.request = None;
    irp.completed.notify_all();
}

/// `FxRequest::CompleteInternal` (fxrequest.cpp) turns framework statuses into ones the I/O
/// manager knows before completing the IRP: `STATUS_WDF_PAUSED` and `STATUS_WDF_BUSY` become
/// `STATUS_DEVICE_BUSY`, any other status of the WDF facility `STATUS_INVALID_DEVICE_REQUEST`.
pub(crate) fn framework_status_for_irp(status: NtStatus) -> NtStatus {
    const FACILITY_WDF: u32 = 0x020;
    match status {
        NtStatus::WDF_PAUSED | NtStatus::WDF_BUSY => NtStatus::DEVICE_BUSY,
        other if (other.as_u32() >> 16) & 0xFFF == FACILITY_WDF => NtStatus::INVALID_DEVICE_REQUEST,
        other => other,
    }
}

/// Builds the request for an IRP and queues it on the device's default queue (presenting it,
/// unless the queue holds it while the device is not in D0). Returns the IRP.
pub(crate) fn send(
    machine: &Arc<Machine>,
    file: ObjectId,
    kind: RequestKind,
    input: &[u8],
    output_length: usize,
    process_id: u32,
) -> Arc<Irp> {
    let (method, system_buffer, user_output) = match kind {
        RequestKind::DeviceControl { code, .. } if code & 3 == METHOD_BUFFERED => {
            let mut buffer = vec![0u8; input.len().max(output_length)];
            buffer[..input.len()].copy_from_slice(input);
            (METHOD_BUFFERED, buffer, vec![0u8; output_length])
        }
        RequestKind::DeviceControl { code, .. } => (code & 3, input.to_vec(), vec![0u8; output_length]),
        _ => (METHOD_BUFFERED, input.to_vec(), Vec::new()),
    };
    let irp = Irp::new(kind, method, system_buffer, user_output);
    let mut state = machine.state();
    let Some(device) = state.file(file).map(|f| f.device) else {
        drop(state);
        complete_irp_directly(&irp, NtStatus::INVALID_DEVICE_STATE);
        return irp;
    };
    let (pnp, queue) = match state.device_mut(device) {
        Some(d) => (d.pnp, d.default_queue),
        None => (PnpState::Removed, None),
    };
    let Some(queue) = queue else {
        drop(state);
        complete_irp_directly(&irp, NtStatus::INVALID_DEVICE_REQUEST);
        return irp;
    };
    let id = state.insert(
        None,
        Body::Request(FxRequest {
            irp: Arc::clone(&irp),
            device,
            file: Some(file),
            queue: Some(queue),
            owner: Owner::Queue(queue),
            kind,
            process_id,
        }),
    );
    lock(&irp.status).request = Some(id);
    let (accepting, power_managed) = state.queue(queue).map_or((false, false), |q| (q.accepting, q.power_managed));
    if pnp == PnpState::Removed || !accepting {
        drop(state);
        // A purged queue (the device is being removed) completes new requests itself.
        framework_complete(machine, id, NtStatus::INVALID_DEVICE_STATE, 0);
        return irp;
    }
    if power_managed && pnp != PnpState::Started {
        // A power-managed queue holds requests while the device is not in D0.
        if let Some(q) = state.queue(queue) {
            q.items.push_back(id);
        }
        return irp;
    }
    drop(state);
    present(machine, queue, id);
    irp
}

/// Completes an IRP that never reached the driver.
fn complete_irp_directly(irp: &Irp, status: NtStatus) {
    let mut irp_status = lock(&irp.status);
    irp_status.completion = Some((status, 0));
    irp.completed.notify_all();
}

/// Presents request `id` from `queue` to the driver's callback, on this thread, at PASSIVE_LEVEL
/// (the queue's execution level).
pub(crate) fn present(machine: &Arc<Machine>, queue: ObjectId, id: ObjectId) {
    let mut state = machine.state();
    let Some((evt_write, evt_device_control, allow_zero_length)) =
        state.queue(queue).map(|q| (q.evt_write, q.evt_device_control, q.allow_zero_length))
    else {
        return;
    };
    if let Some(q) = state.queue(queue) {
        q.items.retain(|item| *item != id);
    }
    let Some(request) = state.request(id) else { return };
    request.owner = Owner::Driver;
    request.queue = Some(queue);
    let kind = request.kind;
    drop(state);
    let irql = logbridge_model::kernel::current_irql();
    if irql != PASSIVE_LEVEL {
        machine.violate(KmdfRule::Irql, format!("a PASSIVE_LEVEL queue's callback would run at IRQL {irql}"));
    }
    let queue_handle: WDFQUEUE = handle_of(queue);
    let request_handle: WDFREQUEST = handle_of(id);
    match kind {
        RequestKind::Write { length } => match evt_write {
            _ if length == 0 && !allow_zero_length => framework_complete(machine, id, NtStatus::SUCCESS, 0),
            Some(callback) => {
                // SAFETY: the driver's EvtIoWrite, with a live queue and a request it now owns.
                unsafe { callback(queue_handle, request_handle, length) }
            }
            None => framework_complete(machine, id, NtStatus::INVALID_DEVICE_REQUEST, 0),
        },
        RequestKind::DeviceControl { code, input_length, output_length } => match evt_device_control {
            Some(callback) => {
                // SAFETY: the driver's EvtIoDeviceControl, with a live queue and a request it owns.
                unsafe { callback(queue_handle, request_handle, output_length, input_length, code) }
            }
            None => framework_complete(machine, id, NtStatus::INVALID_DEVICE_REQUEST, 0),
        },
        RequestKind::Create => framework_complete(machine, id, NtStatus::INVALID_DEVICE_REQUEST, 0),
    }
}

/// `WdfRequestForwardToIoQueue`.
pub(crate) fn forward_request(machine: &Machine, request: WDFREQUEST, queue: WDFQUEUE) -> NTSTATUS {
    let id = id_of(request);
    let destination = id_of(queue);
    let mut state = machine.state();
    let Some(found) = state.request(id) else {
        drop(state);
        machine
            .violate(KmdfRule::RequestCompletedTwice, "WdfRequestForwardToIoQueue: the request was already completed");
        return NtStatus::INVALID_DEVICE_REQUEST.0;
    };
    if let Owner::Queue(_) = found.owner {
        drop(state);
        machine.violate(KmdfRule::RequestNotOwned, "WdfRequestForwardToIoQueue: the request is in a queue");
        return NtStatus::INVALID_DEVICE_REQUEST.0;
    }
    let (device, source, file, irp) = (found.device, found.queue, found.file, Arc::clone(&found.irp));
    let Some(target) = state.queue(destination) else {
        drop(state);
        machine.violate(
            KmdfRule::InvalidHandle,
            format!("WdfRequestForwardToIoQueue: 0x{:X} is not a queue", queue as usize),
        );
        return NtStatus::INVALID_PARAMETER.0;
    };
    if target.device != device || source == Some(destination) {
        drop(state);
        machine
            .violate(KmdfRule::ForwardTarget, "WdfRequestForwardToIoQueue to the same queue or another device's queue");
        return NtStatus::INVALID_DEVICE_REQUEST.0;
    }
    let accepting = target.accepting;
    drop(state);
    if let Some(status) = machine.kernel.decide_fault(Ddi::WdfRequestForwardToIoQueue) {
        return status.unwrap_or(NtStatus::WDF_BUSY).0;
    }
    if !accepting {
        // FxIoQueue::QueueRequestFromForward: a queue that is not accepting refuses the request
        // with STATUS_WDF_BUSY; it stays the driver's.
        return NtStatus::WDF_BUSY.0;
    }
    let mut state = machine.state();
    if let Some(target) = state.queue(destination) {
        target.items.push_back(id);
    }
    if let Some(found) = state.request(id) {
        found.owner = Owner::Queue(destination);
        found.queue = Some(destination);
    }
    let cleaned_up = file.and_then(|f| state.file(f)).is_some_and(|f| f.cleaned_up);
    drop(state);
    if cleaned_up {
        machine.violate(
            KmdfRule::RequestAfterCleanup,
            "a request of a handle already cleaned up was parked in a manual queue: nothing completes it",
        );
    }
    // A request whose IRP was cancelled while the driver owned it is cancelled as soon as it
    // enters a queue (the queue's cancel routine runs at once).
    if lock(&irp.status).cancel {
        framework_complete(machine, id, NtStatus::CANCELLED, 0);
    }
    NtStatus::SUCCESS.0
}

/// `CancelIoEx` on an IRP: a request in a manual queue is completed with `STATUS_CANCELLED` by
/// the framework (no EvtIoCanceledOnQueue); one the driver owns is only marked.
pub(crate) fn cancel(machine: &Machine, irp: &Irp) {
    let request = {
        let mut status = lock(&irp.status);
        if status.completion.is_some() {
            return;
        }
        status.cancel = true;
        status.request
    };
    let Some(id) = request else { return };
    let in_queue = matches!(machine.state().request(id).map(|r| r.owner), Some(Owner::Queue(_)));
    if in_queue {
        framework_complete(machine, id, NtStatus::CANCELLED, 0);
    }
}
