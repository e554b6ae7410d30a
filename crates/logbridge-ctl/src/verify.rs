//! The checks of `logbridge-ctl verify`: did every write reach all three channels?
//!
//! `verify --writes N` (on Windows) subscribes to the WMI event, opens a reader at the end of the
//! ring log, reads the driver's counters, writes N payloads that no other run can produce
//! ([`payloads`]), and then collects what each channel delivered, waiting up to `--timeout` for
//! the Event Log and WMI (both deliver asynchronously; the Event Log can lag seconds). This module
//! decides, from what was collected, whether each channel passed:
//!
//! | Channel | Passes when |
//! |---|---|
//! | ring log | every write has a record of this process with exactly its bytes, in write order ([`check_ring`]) |
//! | WMI | every write has a `LogBridge_WriteEvent` with its record's sequence number, this process id, its total length and a payload that is a prefix of its bytes ([`check_wmi`]) |
//! | Event Log | every write either has a `LOGBRIDGE_WRITE` entry (Event ID 1) with its sequence number (the packet's low 32 bits and the %2 text), this process id, its first bytes as DumpData and its sequence number in the rendered message; or is accounted for by the rate limit: the suppressed totals of `LOGBRIDGE_ENTRIES_SUPPRESSED` summaries (Event ID 2) plus the writes the driver has not reported yet (`eventlog_unreported`) cover every missing one ([`check_eventlog`]) |
//!
//! The report is one PASS/FAIL row per channel ([`render_table`]); any FAIL makes the exit
//! status 1.

use crate::error::Outcome;
use crate::eventlog::{EventRecord, LogBridgeEntry};
use crate::tail::{self, TailRecord};
use crate::wmi_event::WmiWriteEvent;
use logbridge_core::errorlog::truncate_sequence;
use logbridge_core::ioctl::Stats;
use serde::Serialize;
use std::fmt::Write as _;

/// The prefix of every verify payload.
pub const PAYLOAD_PREFIX: &str = "logbridge-verify";

/// The longest payload verify writes: longer than a WMI event carries (so the prefix rule is
/// exercised) and within the driver's default MaxWriteSize.
pub const LONG_PAYLOAD: usize = 2000;

/// How many problems a report lists before it says "and N more".
pub const MAX_LISTED_PROBLEMS: usize = 5;

/// A run id no other run shares: the start time in microseconds and the process id.
pub fn run_id(unix_micros: u128, process_id: u32) -> String {
    format!("{unix_micros:x}-{process_id}")
}

/// The N payloads of run `run_id`: `logbridge-verify <run> <i>/<n>` and filler. Sizes vary so
/// that the checks cover short writes (whole in the Event Log preview), writes longer than the
/// Event Log's DumpData, and (every seventh) writes longer than a WMI event carries.
pub fn payloads(run_id: &str, n: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut text = format!("{PAYLOAD_PREFIX} {run_id} {i}/{n}");
            let target = if i % 7 == 6 { LONG_PAYLOAD } else { usize::try_from(i % 5).unwrap_or(0) * 40 };
            let filler = b" abcdefghijklmnopqrstuvwxyz0123456789";
            let mut k = 0usize;
            while text.len() < target {
                text.push(char::from(filler.get(k % filler.len()).copied().unwrap_or(b'x')));
                k = k.saturating_add(1);
            }
            text.into_bytes()
        })
        .collect()
}

/// One channel's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelReport {
    /// "ring log", "WMI" or "Event Log".
    pub channel: &'static str,
    /// PASS or FAIL.
    pub passed: bool,
    /// Writes checked.
    pub expected: u64,
    /// Writes this channel delivered correctly.
    pub found: u64,
    /// One line on how the verdict was reached.
    pub detail: String,
    /// What went wrong, write by write (at most [`MAX_LISTED_PROBLEMS`], then a count).
    pub problems: Vec<String>,
}

fn report(
    channel: &'static str,
    expected: u64,
    found: u64,
    passed: bool,
    detail: String,
    problems: Vec<String>,
) -> ChannelReport {
    let mut listed: Vec<String> = problems.iter().take(MAX_LISTED_PROBLEMS).cloned().collect();
    if problems.len() > MAX_LISTED_PROBLEMS {
        listed.push(format!("and {} more", problems.len().saturating_sub(MAX_LISTED_PROBLEMS)));
    }
    ChannelReport { channel, passed, expected, found, detail, problems: listed }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The ring-log check, and the sequence number of each write's record (`None` when it has none).
/// `lost` is what the reader was told it missed (records overwritten before it read them).
pub fn check_ring(
    payloads: &[Vec<u8>],
    process_id: u32,
    records: &[TailRecord],
    lost: u64,
) -> (ChannelReport, Vec<Option<u64>>) {
    let sequences = tail::match_writes(payloads, process_id, records);
    let mut problems = Vec::new();
    for (i, sequence) in sequences.iter().enumerate() {
        if sequence.is_none() {
            problems.push(format!("write {i}: no record with its bytes"));
        }
    }
    let found: Vec<u64> = sequences.iter().flatten().copied().collect();
    if found.windows(2).any(|w| matches!(w, [a, b] if a >= b)) {
        problems.push("records are not in write order".to_owned());
    }
    let detail = if lost > 0 {
        format!(
            "{} of {} writes read back byte-exact; the reader lost {lost} records to overwrite",
            found.len(),
            payloads.len()
        )
    } else {
        format!("{} of {} writes read back byte-exact", found.len(), payloads.len())
    };
    let passed = problems.is_empty();
    (report("ring log", count(payloads.len()), count(found.len()), passed, detail, problems), sequences)
}

/// The WMI check. `wmi_disabled` is the driver's count of writes in the run that found no
/// enabled consumer (it explains missing events when the subscription came up late).
pub fn check_wmi(
    payloads: &[Vec<u8>],
    sequences: &[Option<u64>],
    process_id: u32,
    events: &[WmiWriteEvent],
    wmi_disabled: u64,
) -> ChannelReport {
    let mut problems = Vec::new();
    let mut found = 0usize;
    for (i, (payload, sequence)) in payloads.iter().zip(sequences).enumerate() {
        let Some(sequence) = sequence else {
            problems.push(format!("write {i}: no ring record, so no sequence number to look for"));
            continue;
        };
        match events.iter().find(|e| e.sequence == *sequence) {
            None => problems.push(format!("write {i} (sequence {sequence}): no event")),
            Some(event) if event.process_id != process_id => problems.push(format!(
                "write {i} (sequence {sequence}): event says process {}, not {process_id}",
                event.process_id
            )),
            Some(event) if !event.matches_write(payload) => problems.push(format!(
                "write {i} (sequence {sequence}): event payload ({} of {} bytes) is not a prefix of the {} written",
                event.payload.len(),
                event.total_length,
                payload.len()
            )),
            Some(_) => found = found.saturating_add(1),
        }
    }
    let mut detail =
        format!("{found} of {} writes have their event ({} events received)", payloads.len(), events.len());
    if wmi_disabled > 0 {
        let _ = write!(detail, "; the driver saw no enabled consumer for {wmi_disabled} writes");
    }
    let passed = problems.is_empty();
    report("WMI", count(payloads.len()), count(found), passed, detail, problems)
}

/// One Event Log entry as `verify` collected it.
#[derive(Clone, Debug)]
pub struct CollectedEntry {
    /// The rendered event.
    pub record: EventRecord,
    /// What it says.
    pub entry: Result<LogBridgeEntry, String>,
    /// The message text EvtFormatMessage rendered, if it could.
    pub message: Option<String>,
}

/// True if `dump` (an entry's DumpData) is the first bytes of `payload`, padded with zeros to a
/// multiple of 4 bytes as the driver pads it.
pub fn dump_matches(dump: &[u8], payload: &[u8]) -> bool {
    let shared = dump.len().min(payload.len());
    let padded_limit = payload.len().saturating_add(3) & !3;
    dump.get(..shared) == payload.get(..shared)
        && dump.get(shared..).is_some_and(|rest| rest.iter().all(|&b| b == 0))
        && dump.len() <= padded_limit
}

/// The Event Log check. `entries` are LogBridge's entries logged since the run started; `after`
/// are the driver's counters once the run is over (its `eventlog_unreported` are suppressed
/// writes that no summary reported yet).
pub fn check_eventlog(
    payloads: &[Vec<u8>],
    sequences: &[Option<u64>],
    process_id: u32,
    entries: &[CollectedEntry],
    after: &Stats,
) -> ChannelReport {
    let mut problems = Vec::new();
    let mut found = 0usize;
    let mut missing = 0u64;
    for (i, (payload, sequence)) in payloads.iter().zip(sequences).enumerate() {
        let Some(sequence) = *sequence else {
            problems.push(format!("write {i}: no ring record, so no sequence number to look for"));
            continue;
        };
        let low = truncate_sequence(sequence);
        let candidate = entries.iter().find(|c| match &c.entry {
            Ok(LogBridgeEntry::Write { sequence_low, process_id: pid, sequence: text, .. }) => {
                *sequence_low == low && *pid == process_id && text.is_none_or(|s| s == sequence)
            }
            _ => false,
        });
        let Some(collected) = candidate else {
            missing = missing.saturating_add(1);
            continue;
        };
        let Ok(LogBridgeEntry::Write { dump, length, final_status, .. }) = &collected.entry else {
            continue;
        };
        let mut wrong = Vec::new();
        if collected.record.event_id != 1 || collected.record.level != 4 {
            wrong.push(format!(
                "Event ID {} level {} (expected 1, Information)",
                collected.record.event_id, collected.record.level
            ));
        }
        if !dump_matches(dump, payload) {
            wrong.push("binary data is not the write's first bytes".to_owned());
        }
        if length.is_some_and(|l| Some(l) != u64::try_from(payload.len()).ok()) {
            wrong.push(format!("says {} bytes, not {}", length.unwrap_or(0), payload.len()));
        }
        if *final_status != 0 {
            wrong.push(format!("final status {final_status:#010x}, not STATUS_SUCCESS"));
        }
        match &collected.message {
            Some(message) if !message.contains(&sequence.to_string()) => {
                wrong.push("the rendered message does not name its sequence number".to_owned());
            }
            None => wrong.push("the message text could not be rendered (is EventMessageFile registered?)".to_owned()),
            Some(_) => {}
        }
        if wrong.is_empty() {
            found = found.saturating_add(1);
        } else {
            problems.push(format!(
                "write {i} (sequence {sequence}), record #{}: {}",
                collected.record.record_id,
                wrong.join("; ")
            ));
        }
    }
    let summarized: u64 = entries
        .iter()
        .filter_map(|c| match &c.entry {
            Ok(LogBridgeEntry::Suppressed { total, .. }) => Some(*total),
            _ => None,
        })
        .fold(0u64, u64::saturating_add);
    let accounted = summarized.saturating_add(after.eventlog_unreported);
    if missing > accounted {
        problems.push(format!(
            "{missing} writes have no entry, but summaries report only {summarized} suppressed and the driver \
             holds {} unreported",
            after.eventlog_unreported
        ));
    }
    let detail = format!(
        "{found} of {} writes have their entry; {missing} suppressed by the rate limit, accounted for by \
         {summarized} in summaries and {} not yet reported",
        payloads.len(),
        after.eventlog_unreported
    );
    let passed = problems.is_empty();
    report("Event Log", count(payloads.len()), count(found), passed, detail, problems)
}

/// The PASS/FAIL table.
pub fn render_table(reports: &[ChannelReport]) -> String {
    let mut text = format!("{:<10} {:<6} {:>9}  {}\n", "channel", "result", "writes", "detail");
    for r in reports {
        let verdict = if r.passed { "PASS" } else { "FAIL" };
        let _ = writeln!(
            text,
            "{:<10} {:<6} {:>9}  {}",
            r.channel,
            verdict,
            format!("{}/{}", r.found, r.expected),
            r.detail
        );
        for problem in &r.problems {
            let _ = writeln!(text, "{:<10} {:<6} {:>9}    - {problem}", "", "", "");
        }
    }
    text
}

/// The command's outcome: `ChecksFailed` naming the failed channels, or `Ok`.
pub fn outcome(reports: &[ChannelReport]) -> Outcome {
    let failed: Vec<&str> = reports.iter().filter(|r| !r.passed).map(|r| r.channel).collect();
    if failed.is_empty() {
        Outcome::Ok
    } else {
        Outcome::ChecksFailed(format!(
            "verify failed for {} of {} channels: {}",
            failed.len(),
            reports.len(),
            failed.join(", ")
        ))
    }
}

/// True when every channel passed (the collection loop stops waiting then).
pub fn all_passed(reports: &[ChannelReport]) -> bool {
    reports.iter().all(|r| r.passed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::eventlog;
    use crate::tail::{ReadLogSession, TailEvent};
    use logbridge_core::device::Config;
    use logbridge_core::ratelimit::RateLimit;
    use logbridge_core::{NtStatus, ioctl};
    use logbridge_model::event_viewer::EventViewer;
    use logbridge_model::kernel::KernelOptions;
    use logbridge_model::{DeviceOptions, ModelDevice, ModelKernel};

    const PID: u32 = 5120;

    /// What the three channels delivered for one run of the real write path in the checked model.
    struct Run {
        payloads: Vec<Vec<u8>>,
        records: Vec<TailRecord>,
        lost: u64,
        wmi: Vec<WmiWriteEvent>,
        entries: Vec<CollectedEntry>,
        after: Stats,
    }

    impl Run {
        fn reports(&self) -> Vec<ChannelReport> {
            let (ring, sequences) = check_ring(&self.payloads, PID, &self.records, self.lost);
            let wmi = check_wmi(&self.payloads, &sequences, PID, &self.wmi, 0);
            let eventlog = check_eventlog(&self.payloads, &sequences, PID, &self.entries, &self.after);
            vec![ring, wmi, eventlog]
        }
    }

    /// Runs `verify`'s writes through the driver's write path (ModelDevice: the core's LogBridge
    /// over the checked kernel) and collects what each channel delivers, the way the Windows layer
    /// does: the ring through READ_LOG, WMI events as WMI decodes them, Event Log entries as Event
    /// Viewer renders them (parsed by the same eventlog module `events` uses).
    fn run(n: u64, burst: u32, flush: bool, wmi_enabled: bool) -> Run {
        let kernel = ModelKernel::new(KernelOptions { wmi_enabled, ..KernelOptions::default() });
        let options = DeviceOptions {
            config: Config { rate_limit: RateLimit { burst, per_second: 20 }, ..Config::default() },
            ..DeviceOptions::default()
        };
        let device = ModelDevice::create(kernel.clone(), options).unwrap();
        let reader = device.open(1);
        let writer = device.open(3);
        let payloads = payloads(&run_id(1_795_219_200_000_000, PID), n);
        for payload in &payloads {
            assert_eq!(device.write(writer, payload, PID).status, NtStatus::SUCCESS);
        }
        if flush {
            kernel.advance(10_000_000);
            assert_eq!(device.write(writer, b"flush", PID).status, NtStatus::SUCCESS);
        }
        let mut session = ReadLogSession::with_mode(false, ioctl::READ_MODE_CONTINUE);
        let (mut records, mut lost) = (Vec::new(), 0);
        for event in crate::tail::tests::run(&device, reader, &mut session, 1000) {
            match event {
                TailEvent::Record(r) => records.push(r),
                TailEvent::Lost { records: n, .. } => lost += n,
                TailEvent::Corrupt { .. } => panic!("corrupt ring reply"),
            }
        }
        assert!(session.finished(), "the reader did not reach the end of the log");
        let wmi = kernel
            .wmi_events()
            .iter()
            .map(|item| {
                let parsed = logbridge_core::wmi::parse_wnode(item).unwrap();
                let event = parsed.write_event().unwrap().unwrap();
                WmiWriteEvent::from_core("Root\\LogBridge\\0000_0", &event)
            })
            .collect();
        let viewer = EventViewer::new("").unwrap();
        let entries = kernel
            .written_entries()
            .iter()
            .enumerate()
            .map(|(i, written)| {
                let rendered = viewer.render(&written.packet).unwrap();
                let mut strings = vec![String::new()];
                strings.extend(rendered.strings.iter().cloned());
                let record = EventRecord {
                    provider: "LogBridge".to_owned(),
                    event_id: rendered.event_id,
                    qualifiers: rendered.qualifiers,
                    level: rendered.level,
                    record_id: 1000 + i as u64,
                    time_created: "2026-11-21T00:00:00.0000000Z".to_owned(),
                    computer: "TESTVM".to_owned(),
                    strings,
                    binary: rendered.binary_data.clone(),
                };
                let entry = eventlog::classify(&record);
                CollectedEntry { record, entry, message: Some(rendered.message) }
            })
            .collect();
        let after = device.bridge().stats();
        kernel.assert_clean();
        Run { payloads, records, lost, wmi, entries, after }
    }

    #[test]
    fn every_channel_passes_for_a_healthy_driver() {
        let run = run(21, 100, false, true);
        let reports = run.reports();
        for r in &reports {
            assert!(r.passed, "{r:?}");
            assert_eq!((r.expected, r.found), (21, 21), "{r:?}");
            assert!(r.problems.is_empty());
        }
        assert_eq!(outcome(&reports), Outcome::Ok);
        let table = render_table(&reports);
        assert_eq!(table.matches("PASS").count(), 3, "{table}");
        assert!(table.contains("21/21"), "{table}");
    }

    #[test]
    fn writes_over_the_rate_limit_are_accounted_for_by_the_summary() {
        // Burst 4: writes 4..10 get no entry of their own; the flush write brings the summary.
        let run = run(10, 4, true, true);
        assert_eq!(run.after.eventlog_unreported, 0);
        let summaries: Vec<_> =
            run.entries.iter().filter(|c| matches!(c.entry, Ok(eventlog::LogBridgeEntry::Suppressed { .. }))).collect();
        assert_eq!(summaries.len(), 1);
        let reports = run.reports();
        let eventlog = &reports[2];
        assert!(eventlog.passed, "{eventlog:?}");
        assert_eq!(eventlog.found, 4);
        assert!(
            eventlog.detail.contains("6 suppressed") && eventlog.detail.contains("6 in summaries"),
            "{}",
            eventlog.detail
        );

        // Without the summary in the log, the same gap is a failure.
        let mut broken = run;
        broken.entries.retain(|c| !matches!(c.entry, Ok(eventlog::LogBridgeEntry::Suppressed { .. })));
        let eventlog = &broken.reports()[2];
        assert!(!eventlog.passed);
        assert!(eventlog.problems[0].contains("6 writes have no entry"), "{:?}", eventlog.problems);
    }

    #[test]
    fn suppressed_writes_not_yet_summarised_are_accounted_for_by_the_driver_counter() {
        let run = run(10, 4, false, true);
        assert_eq!(run.after.eventlog_unreported, 6);
        let eventlog = &run.reports()[2];
        assert!(eventlog.passed, "{eventlog:?}");
        assert!(eventlog.detail.contains("6 not yet reported"), "{}", eventlog.detail);
    }

    #[test]
    fn a_record_that_differs_fails_the_ring_and_leaves_the_others_unchecked() {
        let mut run = run(5, 100, false, true);
        let record = run.records.iter_mut().find(|r| r.payload == run.payloads[2]).unwrap();
        record.payload[0] ^= 1;
        let reports = run.reports();
        assert!(!reports[0].passed);
        assert_eq!(reports[0].found, 4);
        assert_eq!(reports[0].problems, ["write 2: no record with its bytes"]);
        for r in &reports[1..] {
            assert!(!r.passed);
            assert!(r.problems[0].contains("write 2: no ring record"), "{:?}", r.problems);
        }
        assert!(matches!(outcome(&reports), Outcome::ChecksFailed(m) if m.contains("3 of 3")));
    }

    #[test]
    fn wmi_failures_name_the_write() {
        let mut run = run(8, 100, false, true);
        let missing = run.wmi.remove(3).sequence;
        run.wmi[0].payload[0] ^= 0xFF;
        run.wmi[1].process_id = 1;
        let wmi = &run.reports()[1];
        assert!(!wmi.passed);
        assert_eq!(wmi.found, 5);
        let problems = wmi.problems.join("\n");
        assert!(problems.contains(&format!("write 3 (sequence {missing}): no event")), "{problems}");
        assert!(problems.contains("is not a prefix"), "{problems}");
        assert!(problems.contains("process 1, not 5120"), "{problems}");

        // No consumer enabled: nothing fired, and the detail says why.
        let disabled = run_disabled();
        assert!(!disabled.passed);
        assert_eq!(disabled.found, 0);
        assert!(disabled.detail.contains("no enabled consumer for 4 writes"), "{}", disabled.detail);
    }

    fn run_disabled() -> ChannelReport {
        let run = run(4, 100, false, false);
        assert!(run.wmi.is_empty());
        let (_, sequences) = check_ring(&run.payloads, PID, &run.records, run.lost);
        check_wmi(&run.payloads, &sequences, PID, &run.wmi, run.after.wmi_disabled)
    }

    #[test]
    fn event_log_entries_are_checked_field_by_field() {
        let mut run = run(3, 100, false, true);
        run.entries[0].message = None;
        run.entries[1].message = Some("LogBridge record 999999: nothing".to_owned());
        if let Ok(eventlog::LogBridgeEntry::Write { dump, .. }) = &mut run.entries[2].entry {
            dump[0] ^= 1;
        }
        let eventlog = &run.reports()[2];
        assert!(!eventlog.passed);
        assert_eq!(eventlog.found, 0);
        let problems = eventlog.problems.join("\n");
        assert!(problems.contains("could not be rendered"), "{problems}");
        assert!(problems.contains("does not name its sequence number"), "{problems}");
        assert!(problems.contains("binary data is not the write's first bytes"), "{problems}");
    }

    #[test]
    fn payloads_are_unique_and_cover_the_size_classes() {
        let a = payloads("run-a", 14);
        let b = payloads("run-b", 14);
        assert_eq!(a.len(), 14);
        let mut all: Vec<&Vec<u8>> = a.iter().chain(&b).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 28, "payloads repeat within or across runs");
        assert!(a.iter().all(|p| p.starts_with(b"logbridge-verify run-a ")));
        assert!(a.iter().any(|p| p.len() > logbridge_core::wmi::MAX_EVENT_PAYLOAD));
        let dump_limit =
            logbridge_core::errorlog::default_max_dump_bytes(logbridge_core::errorlog::ERROR_LOG_MAXIMUM_SIZE);
        assert!(a.iter().any(|p| p.len() > dump_limit));
        assert!(a.iter().all(|p| p.len() <= LONG_PAYLOAD));
        assert_ne!(run_id(1, 2), run_id(1, 3));
        assert_ne!(run_id(1, 2), run_id(2, 2));
    }

    #[test]
    fn dump_matching() {
        assert!(dump_matches(b"abcd", b"abcdef"));
        assert!(dump_matches(b"ab\0\0", b"ab"));
        assert!(dump_matches(b"", b"ab"));
        assert!(!dump_matches(b"abce", b"abcdef"));
        assert!(!dump_matches(b"ab\0x", b"ab"));
        assert!(!dump_matches(b"ab\0\0\0\0\0\0", b"ab"));
    }

    #[test]
    fn long_problem_lists_are_cut() {
        let r = report("WMI", 10, 0, false, String::new(), (0..9).map(|i| format!("p{i}")).collect());
        assert_eq!(r.problems.len(), MAX_LISTED_PROBLEMS + 1);
        assert_eq!(r.problems.last().unwrap(), "and 4 more");
        let table = render_table(&[r]);
        assert!(table.contains("FAIL") && table.contains("- p0") && table.contains("- and 4 more"), "{table}");
    }
}
