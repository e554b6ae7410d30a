//! The checked kernel: [`ModelKernel`] implements [`Kernel`] and checks each DDI's contract.
//!
//! State that a real kernel keeps per thread (the IRQL, whether this thread holds the ring lock)
//! is thread-local here, so concurrent writers in tests behave like concurrent threads in a driver.

use crate::faults::{Ddi, FaultPlan};
use logbridge_core::device::{LogLock, LogState};
use logbridge_core::errorlog::{self, EntrySize};
use logbridge_core::kernel::{
    APC_LEVEL, DISPATCH_LEVEL, Irql, Kernel, PASSIVE_LEVEL, PendingReadServer, WmiWriteFailure,
};
use logbridge_core::record::Crc32c;
use logbridge_core::time::FileTime;
use logbridge_core::{NtStatus, messages, wmi};
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

thread_local! {
    static IRQL: Cell<Irql> = const { Cell::new(PASSIVE_LEVEL) };
    static RING_LOCK_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// The modelled IRQL of this thread.
pub fn current_irql() -> Irql {
    IRQL.with(Cell::get)
}

/// Sets this thread's modelled IRQL and returns the previous one (`KeRaiseIrql` / `KeLowerIrql`
/// across calls: the KMDF model's WDFSPINLOCK raises in `WdfSpinLockAcquire` and restores in
/// `WdfSpinLockRelease`).
pub fn set_irql(level: Irql) -> Irql {
    IRQL.with(|irql| irql.replace(level))
}

/// Raises this thread's modelled IRQL for a scope (`KeRaiseIrql` / `KeLowerIrql`).
#[derive(Debug)]
pub struct IrqlGuard {
    previous: Irql,
}

impl IrqlGuard {
    /// Sets the IRQL to `level` until the guard is dropped.
    pub fn raise(level: Irql) -> IrqlGuard {
        let previous = IRQL.with(|irql| irql.replace(level));
        IrqlGuard { previous }
    }
}

impl Drop for IrqlGuard {
    fn drop(&mut self) {
        IRQL.with(|irql| irql.set(self.previous));
    }
}

fn ring_lock_held() -> bool {
    RING_LOCK_DEPTH.with(Cell::get) > 0
}

/// Marks this thread as holding (`true`) or releasing (`false`) a spin lock that guards the ring:
/// the KMDF model (`logbridge-kmdf`) calls it from `WdfSpinLockAcquire` / `WdfSpinLockRelease`, so
/// the "no DDI under the ring lock" rule applies to the driver's own WDFSPINLOCK.
pub fn note_ring_lock(held: bool) {
    RING_LOCK_DEPTH
        .with(|depth| depth.set(if held { depth.get().saturating_add(1) } else { depth.get().saturating_sub(1) }));
}

/// A rule of a DDI contract. The text is the rule as Microsoft's documentation states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// IoAllocateErrorLogEntry at IRQL <= DISPATCH_LEVEL.
    AllocateErrorLogEntryIrql,
    /// IoWriteErrorLogEntry at IRQL <= DISPATCH_LEVEL.
    WriteErrorLogEntryIrql,
    /// IoWMIWriteEvent at IRQL <= APC_LEVEL.
    WmiWriteEventIrql,
    /// ExAllocatePool2 (nonpaged) at IRQL <= DISPATCH_LEVEL.
    AllocatePoolIrql,
    /// The ring spin lock is acquired at IRQL <= DISPATCH_LEVEL.
    SpinLockIrql,
    /// No DDI is called while the ring lock is held.
    DdiUnderRingLock,
    /// An entry is written at most once.
    EntryWrittenTwice,
    /// An entry is never freed after it was written.
    EntryFreedAfterWrite,
    /// An entry is freed at most once.
    EntryFreedTwice,
    /// Every entry is written or freed.
    EntryLeaked,
    /// A written entry is a well-formed IO_ERROR_LOG_PACKET.
    EntryMalformed,
    /// No uninitialised byte of an entry reaches the Event Log.
    EntryNotZeroed,
    /// The event item given to IoWMIWriteEvent comes from nonpaged pool.
    WmiItemNotNonPaged,
    /// The event item is a well-formed WNODE_SINGLE_INSTANCE event item.
    WmiItemMalformed,
    /// Events are sent only while enabled.
    WmiEventNotEnabled,
    /// A nonpaged buffer is freed at most once.
    BufferFreedTwice,
    /// Every nonpaged buffer is freed (by the driver, or by WMI after a successful IoWMIWriteEvent).
    BufferLeaked,
    /// A request is completed exactly once.
    RequestCompletedTwice,
    /// Every request is completed by teardown.
    RequestNeverCompleted,
}

impl Rule {
    /// The rule as the documentation states it.
    pub fn text(self) -> &'static str {
        match self {
            Rule::AllocateErrorLogEntryIrql => "IoAllocateErrorLogEntry must be called at IRQL <= DISPATCH_LEVEL",
            Rule::WriteErrorLogEntryIrql => "IoWriteErrorLogEntry must be called at IRQL <= DISPATCH_LEVEL",
            Rule::WmiWriteEventIrql => "IoWMIWriteEvent must be called at IRQL <= APC_LEVEL",
            Rule::AllocatePoolIrql => "ExAllocatePool2 for nonpaged memory must be called at IRQL <= DISPATCH_LEVEL",
            Rule::SpinLockIrql => "WdfSpinLockAcquire must be called at IRQL <= DISPATCH_LEVEL",
            Rule::DdiUnderRingLock => {
                "the caller must release any spin lock before calling (no DDI under the ring lock)"
            }
            Rule::EntryWrittenTwice => "an error-log entry is written once: IoWriteErrorLogEntry frees it",
            Rule::EntryFreedAfterWrite => "never call IoFreeErrorLogEntry on an entry after IoWriteErrorLogEntry",
            Rule::EntryFreedTwice => "an error-log entry is freed at most once",
            Rule::EntryLeaked => "an allocated error-log entry must be written or freed",
            Rule::EntryMalformed => {
                "an entry is sizeof(IO_ERROR_LOG_PACKET) + DumpData + strings, DumpDataSize a multiple of 4, \
                 strings NUL-terminated and counted"
            }
            Rule::EntryNotZeroed => {
                "bytes of an entry that the packet does not use must be zero, not left uninitialised"
            }
            Rule::WmiItemNotNonPaged => "the WNODE_EVENT_ITEM buffer must be allocated from nonpaged pool",
            Rule::WmiItemMalformed => {
                "the event item must be a valid WNODE with BufferSize, flags and data block consistent"
            }
            Rule::WmiEventNotEnabled => "send only events that a consumer has enabled (IRP_MN_ENABLE_EVENTS)",
            Rule::BufferFreedTwice => "a pool buffer is freed at most once",
            Rule::BufferLeaked => {
                "free the WNODE yourself when IoWMIWriteEvent fails; all pool memory is freed by unload"
            }
            Rule::RequestCompletedTwice => "a request is completed exactly once (DoubleCompletion)",
            Rule::RequestNeverCompleted => "every request presented to the driver is completed (RequestCompleted)",
        }
    }
}

/// A broken rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which rule.
    pub rule: Rule,
    /// What happened.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {} ({})", self.rule, self.rule.text(), self.detail)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EntryState {
    Allocated,
    Written,
    Freed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BufferState {
    Allocated,
    OwnedByWmi,
    Freed,
}

/// A written error-log entry, as the I/O manager received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenEntry {
    /// The packet bytes (the planned entry size, without the kernel's rounding).
    pub packet: Vec<u8>,
    /// The entry size it was allocated with.
    pub entry_size: usize,
}

/// Settings of the model kernel.
#[derive(Clone, Debug)]
pub struct KernelOptions {
    /// `ERROR_LOG_MAXIMUM_SIZE` of the modelled target (240 x64/ARM64, 152 x86).
    pub error_log_maximum_size: usize,
    /// The largest event item IoWMIWriteEvent accepts (documented guideline 1 KiB) before it
    /// returns STATUS_BUFFER_OVERFLOW.
    pub wmi_max_event_size: usize,
    /// Whether a WMI consumer has enabled the event.
    pub wmi_enabled: bool,
    /// IoWMIDeviceObjectToProviderId of the device.
    pub provider_id: u32,
    /// System time at start.
    pub start_time: FileTime,
    /// The faults to inject.
    pub faults: Vec<crate::FaultRule>,
    /// Seed of random faults.
    pub seed: u64,
    /// The CRC-32C engine the driver chose at device add (by default the one this processor
    /// runs fastest; tests set each engine in turn).
    pub crc32c: Crc32c,
}

impl Default for KernelOptions {
    fn default() -> Self {
        KernelOptions {
            error_log_maximum_size: errorlog::ERROR_LOG_MAXIMUM_SIZE,
            wmi_max_event_size: wmi::MAX_EVENT_ITEM_SIZE,
            wmi_enabled: true,
            provider_id: 0x4C42_0001,
            // 2026-11-21T00:00:00Z
            start_time: FileTime::from_unix(1_795_219_200, 0).unwrap_or_default(),
            faults: Vec::new(),
            seed: 0,
            crc32c: Crc32c::detected(),
        }
    }
}

#[derive(Debug, Default)]
struct Ledger {
    next_id: u64,
    entries: HashMap<u64, EntryState>,
    buffers: HashMap<u64, (BufferState, usize)>,
    written: Vec<WrittenEntry>,
    wmi_events: Vec<Vec<u8>>,
    violations: Vec<Violation>,
    calls: BTreeMap<Ddi, u64>,
    faults_injected: BTreeMap<Ddi, u64>,
    null_for_bad_size: u64,
    pool_bytes_outstanding: usize,
    pool_bytes_peak: usize,
    pool_allocations: u64,
}

#[derive(Debug)]
struct Shared {
    options: KernelOptions,
    ledger: Mutex<Ledger>,
    faults: Mutex<FaultPlan>,
    wmi_enabled: AtomicBool,
    clock: AtomicU64,
}

impl Shared {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // A test that panicked while holding the ledger must not hide the original failure.
        self.ledger.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn violate(&self, rule: Rule, detail: impl Into<String>) {
        self.ledger().violations.push(Violation { rule, detail: detail.into() });
    }

    /// Common entry checks of every DDI: IRQL limit and no ring lock held.
    fn enter(&self, routine: &str, max_irql: Irql, irql_rule: Rule) {
        let irql = current_irql();
        if irql > max_irql {
            self.violate(irql_rule, format!("{routine} called at IRQL {irql}"));
        }
        if ring_lock_held() {
            self.violate(Rule::DdiUnderRingLock, format!("{routine} called with the ring lock held"));
        }
    }

    /// Counts a call of a faultable DDI and asks the plan whether it fails.
    fn fault(&self, ddi: Ddi) -> Option<Option<NtStatus>> {
        let call = {
            let mut ledger = self.ledger();
            let count = ledger.calls.entry(ddi).or_insert(0);
            *count += 1;
            *count
        };
        let decision = self.faults.lock().unwrap_or_else(|p| p.into_inner()).decide(ddi, call);
        if decision.is_some() {
            *self.ledger().faults_injected.entry(ddi).or_insert(0) += 1;
        }
        decision
    }

    fn free_entry(&self, id: u64) {
        let mut ledger = self.ledger();
        let state = ledger.entries.get(&id).copied();
        match state {
            Some(EntryState::Allocated) => {
                ledger.entries.insert(id, EntryState::Freed);
            }
            Some(EntryState::Written) => {
                ledger.violations.push(Violation { rule: Rule::EntryFreedAfterWrite, detail: format!("entry #{id}") });
            }
            Some(EntryState::Freed) | None => {
                ledger.violations.push(Violation { rule: Rule::EntryFreedTwice, detail: format!("entry #{id}") });
            }
        }
    }

    fn free_buffer(&self, id: u64) {
        let mut ledger = self.ledger();
        match ledger.buffers.get(&id).copied() {
            Some((BufferState::Allocated, size)) => {
                ledger.buffers.insert(id, (BufferState::Freed, size));
                ledger.pool_bytes_outstanding = ledger.pool_bytes_outstanding.saturating_sub(size);
            }
            Some((BufferState::OwnedByWmi, _)) => ledger.violations.push(Violation {
                rule: Rule::BufferFreedTwice,
                detail: format!("buffer #{id} was freed by the driver after IoWMIWriteEvent succeeded (WMI frees it)"),
            }),
            Some((BufferState::Freed, _)) | None => {
                ledger.violations.push(Violation { rule: Rule::BufferFreedTwice, detail: format!("buffer #{id}") })
            }
        }
    }
}

/// An entry handed out by the model's `IoAllocateErrorLogEntry`. Dropping it unwritten frees it.
#[derive(Debug)]
pub struct ModelErrorLogEntry {
    id: u64,
    bytes: Vec<u8>,
    entry_size: usize,
    armed: bool,
    shared: Arc<Shared>,
}

impl ModelErrorLogEntry {
    /// The model's id of this entry.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl AsMut<[u8]> for ModelErrorLogEntry {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

impl Drop for ModelErrorLogEntry {
    fn drop(&mut self) {
        if self.armed {
            // IoFreeErrorLogEntry: checks ownership like the kernel would.
            let irql = current_irql();
            if irql > DISPATCH_LEVEL {
                self.shared.violate(Rule::AllocateErrorLogEntryIrql, format!("IoFreeErrorLogEntry at IRQL {irql}"));
            }
            self.shared.free_entry(self.id);
        }
    }
}

/// A nonpaged buffer from the model's `ExAllocatePool2`. Dropping it frees it.
#[derive(Debug)]
pub struct ModelNonPagedBuffer {
    id: u64,
    bytes: Vec<u8>,
    armed: bool,
    shared: Arc<Shared>,
}

impl AsMut<[u8]> for ModelNonPagedBuffer {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

impl AsRef<[u8]> for ModelNonPagedBuffer {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for ModelNonPagedBuffer {
    fn drop(&mut self) {
        if self.armed {
            self.shared.free_buffer(self.id);
        }
    }
}

/// The checked kernel. Cheap to clone (shared state).
#[derive(Clone, Debug)]
pub struct ModelKernel {
    shared: Arc<Shared>,
    pending: Arc<crate::device::PendingQueue>,
}

impl ModelKernel {
    /// A kernel with these options.
    pub fn new(options: KernelOptions) -> ModelKernel {
        let faults = FaultPlan::new(options.faults.clone(), options.seed);
        let enabled = options.wmi_enabled;
        ModelKernel {
            shared: Arc::new(Shared {
                options,
                ledger: Mutex::new(Ledger::default()),
                faults: Mutex::new(faults),
                wmi_enabled: AtomicBool::new(enabled),
                clock: AtomicU64::new(0),
            }),
            pending: Arc::new(crate::device::PendingQueue::default()),
        }
    }

    /// The options.
    pub fn options(&self) -> &KernelOptions {
        &self.shared.options
    }

    pub(crate) fn pending(&self) -> &crate::device::PendingQueue {
        &self.pending
    }

    /// Advances both clocks by `ticks` (100 ns units).
    pub fn advance(&self, ticks: u64) {
        self.shared.clock.fetch_add(ticks, Ordering::Relaxed);
    }

    /// A WMI consumer enables or disables the event (IRP_MN_ENABLE_EVENTS / DISABLE_EVENTS).
    pub fn set_wmi_enabled(&self, enabled: bool) {
        self.shared.wmi_enabled.store(enabled, Ordering::Relaxed);
    }

    /// Counts a call of a faultable DDI and asks the fault plan whether it fails: `Some(None)` for
    /// NULL, `Some(Some(status))` for a status (the KMDF model's WDF routines use this too).
    pub fn decide_fault(&self, ddi: Ddi) -> Option<Option<NtStatus>> {
        self.shared.fault(ddi)
    }

    /// Records a violation found outside a DDI (the device harness uses this).
    pub fn violate(&self, rule: Rule, detail: impl Into<String>) {
        self.shared.violate(rule, detail);
    }

    /// Every violation so far.
    pub fn violations(&self) -> Vec<Violation> {
        self.shared.ledger().violations.clone()
    }

    /// Panics with every violation, each naming its rule, if there is any.
    #[track_caller]
    pub fn assert_clean(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "{} contract violation(s):\n{}",
            violations.len(),
            violations.iter().map(|v| format!("  - {v}")).collect::<Vec<_>>().join("\n")
        );
    }

    /// The entries written so far, in order.
    pub fn written_entries(&self) -> Vec<WrittenEntry> {
        self.shared.ledger().written.clone()
    }

    /// The event items IoWMIWriteEvent accepted, in order (what a subscriber receives).
    pub fn wmi_events(&self) -> Vec<Vec<u8>> {
        self.shared.ledger().wmi_events.clone()
    }

    /// Calls made so far to each faultable DDI.
    pub fn calls(&self) -> BTreeMap<Ddi, u64> {
        self.shared.ledger().calls.clone()
    }

    /// Faults injected so far per DDI.
    pub fn faults_injected(&self) -> BTreeMap<Ddi, u64> {
        self.shared.ledger().faults_injected.clone()
    }

    /// How many times IoAllocateErrorLogEntry returned NULL because of the size (not a fault).
    pub fn nulls_for_bad_size(&self) -> u64 {
        self.shared.ledger().null_for_bad_size
    }

    /// Nonpaged bytes outstanding now, at the peak, and the number of nonpaged allocations.
    pub fn pool_usage(&self) -> (usize, usize, u64) {
        let ledger = self.shared.ledger();
        (ledger.pool_bytes_outstanding, ledger.pool_bytes_peak, ledger.pool_allocations)
    }

    /// Leak checks: every entry written or freed, every buffer freed or owned by WMI.
    /// Call when the device is gone.
    pub fn check_leaks(&self) {
        let mut ledger = self.shared.ledger();
        let mut found = Vec::new();
        for (id, state) in &ledger.entries {
            if *state == EntryState::Allocated {
                found.push(Violation {
                    rule: Rule::EntryLeaked,
                    detail: format!("entry #{id} neither written nor freed"),
                });
            }
        }
        for (id, (state, size)) in &ledger.buffers {
            if *state == BufferState::Allocated {
                found.push(Violation {
                    rule: Rule::BufferLeaked,
                    detail: format!("buffer #{id} of {size} bytes not freed"),
                });
            }
        }
        found.sort_by(|a, b| a.detail.cmp(&b.detail));
        ledger.violations.extend(found);
    }

    /// The model's raw `IoFreeErrorLogEntry(id)`, for tests that prove the checker catches misuse.
    pub fn raw_free_entry(&self, id: u64) {
        self.shared.free_entry(id);
    }

    fn check_written_entry(&self, id: u64, entry: &[u8], entry_size: usize) {
        let max = self.shared.options.error_log_maximum_size;
        let packet = entry.get(..entry_size).unwrap_or(entry);
        let parsed = match errorlog::parse_packet(packet) {
            Ok(parsed) => parsed,
            Err(e) => {
                self.shared.violate(Rule::EntryMalformed, format!("entry #{id}: {e}"));
                return;
            }
        };
        let h = parsed.header;
        let mut problems = Vec::new();
        if entry_size > max || entry_size < errorlog::PACKET_SIZE {
            problems.push(format!("entry size {entry_size} outside 48..={max}"));
        }
        if h.dump_data_size % 4 != 0 {
            problems.push(format!("DumpDataSize {} is not a multiple of 4", h.dump_data_size));
        }
        match messages::find(h.error_code) {
            Some(message) if message.insertion_strings == h.number_of_strings => {}
            Some(message) => problems.push(format!(
                "{} takes {} insertion strings, the packet has {}",
                message.symbolic_name, message.insertion_strings, h.number_of_strings
            )),
            None => problems.push(format!("ErrorCode 0x{:08X} is not in the message table", h.error_code)),
        }
        if h.number_of_strings > 0
            && usize::from(h.string_offset) < errorlog::PACKET_SIZE + usize::from(h.dump_data_size)
        {
            problems.push(format!("StringOffset {} overlaps the packet or DumpData", h.string_offset));
        }
        if !problems.is_empty() {
            self.shared.violate(Rule::EntryMalformed, format!("entry #{id}: {}", problems.join("; ")));
        }
        // Unused bytes: the gap between DumpData and the strings, and everything after the last
        // string up to the end of the (rounded) allocation.
        let dump_end = errorlog::DUMP_DATA_OFFSET + usize::from(h.dump_data_size);
        let strings_start = if h.number_of_strings == 0 { dump_end } else { usize::from(h.string_offset) };
        let strings_len: usize = parsed.strings().map(|s| s.as_bytes().len() + 2).sum();
        let used_end = strings_start + strings_len;
        let gap = entry.get(dump_end..strings_start.max(dump_end)).unwrap_or(&[]);
        let tail = entry.get(used_end.max(dump_end)..).unwrap_or(&[]);
        if gap.iter().chain(tail).any(|b| *b != 0) {
            self.shared
                .violate(Rule::EntryNotZeroed, format!("entry #{id} has non-zero bytes outside DumpData and strings"));
        }
    }
}

/// The fill the model's allocator leaves in fresh memory, as pool memory is not zeroed.
pub const UNINITIALISED_FILL: u8 = 0xCD;

impl Kernel for ModelKernel {
    type ErrorLogEntry = ModelErrorLogEntry;
    type NonPagedBuffer = ModelNonPagedBuffer;

    fn irql(&self) -> Irql {
        current_irql()
    }

    fn system_time(&self) -> FileTime {
        FileTime(self.shared.options.start_time.0.saturating_add(self.shared.clock.load(Ordering::Relaxed)))
    }

    fn interrupt_time(&self) -> u64 {
        self.shared.clock.load(Ordering::Relaxed)
    }

    fn crc32c(&self) -> Crc32c {
        self.shared.options.crc32c
    }

    fn allocate_error_log_entry(&self, size: EntrySize) -> Option<ModelErrorLogEntry> {
        self.shared.enter("IoAllocateErrorLogEntry", DISPATCH_LEVEL, Rule::AllocateErrorLogEntryIrql);
        let fault = self.shared.fault(Ddi::AllocateErrorLogEntry);
        let bytes = size.bytes();
        if bytes < errorlog::PACKET_SIZE || bytes > self.shared.options.error_log_maximum_size {
            // The kernel's own check (WRK iosubs.c): NULL, not a crash.
            self.shared.ledger().null_for_bad_size += 1;
            return None;
        }
        if fault.is_some() {
            return None;
        }
        let mut ledger = self.shared.ledger();
        ledger.next_id += 1;
        let id = ledger.next_id;
        ledger.entries.insert(id, EntryState::Allocated);
        drop(ledger);
        // The kernel rounds the entry up to the pointer size; the model does not zero it.
        let rounded = (bytes + 7) & !7;
        Some(ModelErrorLogEntry {
            id,
            bytes: vec![UNINITIALISED_FILL; rounded],
            entry_size: bytes,
            armed: true,
            shared: Arc::clone(&self.shared),
        })
    }

    fn write_error_log_entry(&self, mut entry: ModelErrorLogEntry) {
        self.shared.enter("IoWriteErrorLogEntry", DISPATCH_LEVEL, Rule::WriteErrorLogEntryIrql);
        entry.armed = false;
        let id = entry.id;
        let state = self.shared.ledger().entries.get(&id).copied();
        match state {
            Some(EntryState::Allocated) => {}
            Some(EntryState::Written) => {
                self.shared.violate(Rule::EntryWrittenTwice, format!("entry #{id}"));
                return;
            }
            Some(EntryState::Freed) | None => {
                self.shared.violate(Rule::EntryWrittenTwice, format!("entry #{id} was freed before it was written"));
                return;
            }
        }
        self.check_written_entry(id, &entry.bytes, entry.entry_size);
        let mut ledger = self.shared.ledger();
        ledger.entries.insert(id, EntryState::Written);
        let packet = entry.bytes.get(..entry.entry_size).unwrap_or(&entry.bytes).to_vec();
        ledger.written.push(WrittenEntry { packet, entry_size: entry.entry_size });
    }

    fn allocate_nonpaged(&self, size: usize) -> Option<ModelNonPagedBuffer> {
        self.shared.enter("ExAllocatePool2", DISPATCH_LEVEL, Rule::AllocatePoolIrql);
        if self.shared.fault(Ddi::AllocateNonPaged).is_some() {
            return None;
        }
        let mut ledger = self.shared.ledger();
        ledger.next_id += 1;
        let id = ledger.next_id;
        ledger.buffers.insert(id, (BufferState::Allocated, size));
        ledger.pool_bytes_outstanding += size;
        ledger.pool_bytes_peak = ledger.pool_bytes_peak.max(ledger.pool_bytes_outstanding);
        ledger.pool_allocations += 1;
        drop(ledger);
        // ExAllocatePool2 zeroes; the model fills to catch code that relies on anything else.
        Some(ModelNonPagedBuffer {
            id,
            bytes: vec![UNINITIALISED_FILL; size],
            armed: true,
            shared: Arc::clone(&self.shared),
        })
    }

    fn wmi_events_enabled(&self) -> bool {
        self.shared.wmi_enabled.load(Ordering::Relaxed)
    }

    fn wmi_provider_id(&self) -> u32 {
        self.shared.options.provider_id
    }

    fn wmi_write_event(&self, item: ModelNonPagedBuffer) -> Result<(), WmiWriteFailure<ModelNonPagedBuffer>> {
        self.shared.enter("IoWMIWriteEvent", APC_LEVEL, Rule::WmiWriteEventIrql);
        let id = item.id;
        match self.shared.ledger().buffers.get(&id).copied() {
            Some((BufferState::Allocated, _)) => {}
            other => self.shared.violate(
                Rule::WmiItemNotNonPaged,
                format!("buffer #{id} is not a live nonpaged allocation ({other:?})"),
            ),
        }
        if !self.wmi_events_enabled() {
            self.shared.violate(Rule::WmiEventNotEnabled, format!("event item in buffer #{id}"));
        }
        let size = match wmi::parse_wnode(&item.bytes) {
            Ok(parsed) => {
                if parsed.header.flags & wmi::WNODE_FLAG_TRACED_GUID != 0
                    || parsed.header.flags & wmi::WNODE_FLAG_EVENT_ITEM == 0
                {
                    self.shared.violate(Rule::WmiItemMalformed, format!("flags 0x{:08X}", parsed.header.flags));
                }
                if parsed.header.provider_id != self.shared.options.provider_id {
                    self.shared
                        .violate(Rule::WmiItemMalformed, format!("ProviderId 0x{:08X}", parsed.header.provider_id));
                }
                if let Some(Err(e)) = parsed.write_event() {
                    self.shared.violate(Rule::WmiItemMalformed, format!("buffer #{id}: {e}"));
                }
                item.bytes.len()
            }
            Err(e) => {
                self.shared.violate(Rule::WmiItemMalformed, format!("buffer #{id}: {e}"));
                item.bytes.len()
            }
        };
        let failure =
            self.shared.fault(Ddi::WmiWriteEvent).map(|status| status.unwrap_or(NtStatus::INSUFFICIENT_RESOURCES));
        let failure = failure.or((size > self.shared.options.wmi_max_event_size).then_some(NtStatus::BUFFER_OVERFLOW));
        if let Some(status) = failure {
            // Not freed by WMI: the item goes back to the caller, who must free it.
            return Err(WmiWriteFailure { status, item });
        }
        let mut item = item;
        item.armed = false;
        let mut ledger = self.shared.ledger();
        ledger.buffers.insert(id, (BufferState::OwnedByWmi, size));
        ledger.pool_bytes_outstanding = ledger.pool_bytes_outstanding.saturating_sub(size);
        ledger.wmi_events.push(std::mem::take(&mut item.bytes));
        Ok(())
    }

    fn complete_pending_reads(&self, server: &dyn PendingReadServer) {
        if ring_lock_held() {
            self.shared.violate(Rule::DdiUnderRingLock, "pending reads completed with the ring lock held");
        }
        self.pending.drain(self, server);
    }
}

/// The ring lock: a mutex that models a WDFSPINLOCK (raises the thread to DISPATCH_LEVEL while held).
#[derive(Debug)]
pub struct ModelLogLock {
    state: Mutex<LogState<ModelNonPagedBuffer>>,
    kernel: ModelKernel,
}

impl ModelLogLock {
    /// Wraps the log state.
    pub fn new(state: LogState<ModelNonPagedBuffer>, kernel: ModelKernel) -> Self {
        ModelLogLock { state: Mutex::new(state), kernel }
    }
}

impl ModelLogLock {
    /// The last `capacity` bytes of the ring's stream as a crash-dump reader would find them
    /// (see `RingLog::copy_recent`).
    pub fn dump(&self) -> Vec<u8> {
        self.with_lock(|state| {
            let mut out = vec![0u8; state.ring.capacity()];
            let copied = state.ring.copy_recent(&mut out).0;
            out.truncate(copied);
            out
        })
    }
}

impl LogLock for ModelLogLock {
    type Storage = ModelNonPagedBuffer;

    fn with_lock<R>(&self, f: impl FnOnce(&mut LogState<ModelNonPagedBuffer>) -> R) -> R {
        let irql = current_irql();
        if irql > DISPATCH_LEVEL {
            self.kernel.violate(Rule::SpinLockIrql, format!("ring lock acquired at IRQL {irql}"));
        }
        let _irql = IrqlGuard::raise(irql.max(DISPATCH_LEVEL));
        RING_LOCK_DEPTH.with(|d| d.set(d.get() + 1));
        struct Release;
        impl Drop for Release {
            fn drop(&mut self) {
                RING_LOCK_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
            }
        }
        let _release = Release;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_crc_engine_makes_records_the_decoder_accepts() {
        use crate::{DeviceOptions, ModelDevice};
        use logbridge_core::ioctl;
        use logbridge_core::record::{Crc32cKind, RecordDecoder};
        let engines: Vec<Crc32c> = Crc32cKind::ALL.into_iter().filter_map(Crc32c::with_kind).collect();
        assert_eq!(KernelOptions::default().crc32c, Crc32c::detected());
        for engine in engines {
            let kernel = ModelKernel::new(KernelOptions { crc32c: engine, ..KernelOptions::default() });
            assert_eq!(kernel.crc32c(), engine);
            let device = ModelDevice::create(kernel, DeviceOptions::default()).unwrap();
            let handle = device.open(ioctl::FILE_READ_ACCESS | ioctl::FILE_WRITE_ACCESS);
            let data: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
            let lens = [0usize, 1, 63, 64, 255, 1024, 4095, 4096, 5000];
            for len in lens {
                assert!(device.write(handle, &data[..len], 7).status.is_success());
            }
            let dump = device.bridge().log().with_lock(|state| {
                let mut out = vec![0u8; state.ring.capacity()];
                let (n, _) = state.ring.copy_recent(&mut out);
                out.truncate(n);
                out
            });
            let mut decoder = RecordDecoder::new(&dump);
            let found: Vec<usize> = decoder.by_ref().map(|r| r.payload.len()).collect();
            assert_eq!(found, lens, "{:?}", engine.kind());
            assert_eq!(decoder.totals().corrupt, 0);
            device.teardown().assert_clean();
        }
    }
}
