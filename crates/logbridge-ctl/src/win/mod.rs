//! The commands that talk to the driver, on Windows: the only module of the app that calls Win32.
//!
//! | File | Win32 |
//! |---|---|
//! | `device.rs` | `CM_Get_Device_Interface_ListW`, `CreateFileW`, `WriteFile`, `DeviceIoControl` (overlapped: `GetOverlappedResult`, `CancelIoEx`) |
//! | `events.rs` | `EvtQuery`, `EvtNext`, `EvtRender`, `EvtOpenPublisherMetadata`, `EvtFormatMessage` |
//! | `subscription.rs` | WMI over COM through the `wmi` crate (`ExecNotificationQuery` in root\wmi) |
//! | `setup.rs` | `pnputil`, SetupAPI (`SetupDiCreateDeviceInfoW`, `DIF_REGISTERDEVICE`, `UpdateDriverForPlugAndPlayDevicesW`, `DiUninstallDevice`), `IsUserAnAdmin`, `RegGetValueW` |
//!
//! Everything these commands decide is in the portable modules, which are tested on every host.

mod device;
mod events;
mod setup;
mod subscription;

use crate::decode::write_line as json_line;
use crate::driver_status::Request;
use crate::error::{CtlError, Outcome};
use crate::eventlog;
use crate::stress::{self, LatencyRecorder, StressReport};
use crate::tail::{ReadLogSession, ReplyStatus, TailEvent, TailRecord, TailTotals};
use crate::verify::{self, CollectedEntry};
use crate::windows_commands::{self as args, WindowsCommand};
use crate::wmi_event::WmiMessage;
use device::{Device, win32_code};
use logbridge_core::ioctl;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Runs one command.
pub fn run(
    command: &WindowsCommand,
    device: Option<&Path>,
    json: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CtlError> {
    // install, uninstall, wmi and verify say at once that they need an elevated prompt.
    if let Some(reason) = command.elevation_reason() {
        setup::require_elevation(command.name(), reason)?;
    }
    match command {
        WindowsCommand::Install(a) => print_lines(out, &setup::install(a.inf.as_deref())?),
        WindowsCommand::Uninstall => print_lines(out, &setup::uninstall()?),
        WindowsCommand::Write(a) => write(a, device, json, out),
        WindowsCommand::Tail(a) => tail(a, device, json, out),
        WindowsCommand::Wmi(a) => watch_wmi(a, json, out),
        WindowsCommand::Events(a) => events(a, json, out),
        WindowsCommand::Stats => stats(device, json, out),
        WindowsCommand::Clear => {
            Device::open(device, false)?.clear()?;
            writeln!(out, "ring log cleared")?;
            Ok(Outcome::Ok)
        }
        WindowsCommand::Stress(a) => stress(a, device, json, out),
        WindowsCommand::Verify(a) => verify(a, device, json, out),
    }
}

fn print_lines(out: &mut dyn Write, lines: &[String]) -> Result<Outcome, CtlError> {
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(Outcome::Ok)
}

/// Reads every record the handle's cursor has not passed yet, without waiting. The first request
/// uses `first_mode`. Returns the records and how many the reader was told it lost.
fn drain_ring(device: &Device, first_mode: u32) -> Result<(Vec<TailRecord>, u64), CtlError> {
    let mut session = ReadLogSession::with_mode(false, first_mode);
    let mut records = Vec::new();
    let mut lost = 0u64;
    while !session.finished() {
        for event in read_once(device, &mut session)? {
            match event {
                TailEvent::Record(record) => records.push(record),
                TailEvent::Lost { records: n, .. } => lost = lost.saturating_add(n),
                TailEvent::Corrupt { .. } => {}
            }
        }
    }
    Ok((records, lost))
}

/// Positions a handle's cursor at the end of the log (a `READ_MODE_END` read that returns nothing).
fn cursor_to_end(device: &Device) -> Result<(), CtlError> {
    let mut session = ReadLogSession::with_mode(false, ioctl::READ_MODE_END);
    read_once(device, &mut session).map(|_| ())
}

/// One `READ_LOG` of `session`: the events to show. A read cancelled by Ctrl+C is an error; the
/// caller, which knows Ctrl+C was pressed, ends cleanly instead.
fn read_once(device: &Device, session: &mut ReadLogSession) -> Result<Vec<TailEvent>, CtlError> {
    let request = session.request_bytes();
    let mut buffer = vec![0u8; session.buffer_size()];
    let status = match device.ioctl(ioctl::IOCTL_LOGBRIDGE_READ_LOG, &request, &mut buffer) {
        Ok(returned) => ReplyStatus::Success { returned },
        Err(e) if win32_code(&e) == Some(crate::install::ERROR_INSUFFICIENT_BUFFER) => ReplyStatus::BufferTooSmall,
        Err(e) => return Err(device.request_error(Request::ReadLog, &e)),
    };
    session.on_reply(&buffer, status).map_err(CtlError::Failed)
}

fn write(a: &args::WriteArgs, device: Option<&Path>, json: bool, out: &mut dyn Write) -> Result<Outcome, CtlError> {
    let payloads = args::payloads_of(a, || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes).map(|_| bytes)
    })?;
    let device = Device::open(device, false)?;
    cursor_to_end(&device)?;
    for (index, payload) in payloads.iter().enumerate() {
        device.write(payload).map_err(|e| device.request_error(Request::Write { index, len: payload.len() }, &e))?;
    }
    let (records, _) = drain_ring(&device, ioctl::READ_MODE_CONTINUE)?;
    let sequences = crate::tail::match_writes(&payloads, std::process::id(), &records);
    for (payload, sequence) in payloads.iter().zip(&sequences) {
        if json {
            json_line(out, &serde_json::json!({"bytes": payload.len(), "sequence": sequence}))?;
        } else {
            match sequence {
                Some(s) => writeln!(out, "sequence {s}: {} bytes", payload.len())?,
                None => {
                    writeln!(out, "sequence unknown (overwritten before it was read back): {} bytes", payload.len())?
                }
            }
        }
    }
    Ok(Outcome::Ok)
}

fn tail(a: &args::TailArgs, device: Option<&Path>, json: bool, out: &mut dyn Write) -> Result<Outcome, CtlError> {
    let mut device = Device::open(device, a.follow)?;
    let stop = Arc::new(AtomicBool::new(false));
    if a.follow {
        device::cancel_on_ctrl_c(&mut device, Arc::clone(&stop))?;
    }
    let mut session = ReadLogSession::new(a.follow, a.from_start);
    let mut totals = TailTotals::default();
    let result = loop {
        if session.finished() || stop.load(Ordering::SeqCst) {
            break Ok(());
        }
        let events = match read_once(&device, &mut session) {
            Ok(events) => events,
            // Ctrl+C cancelled the pending read: a clean end.
            Err(_) if stop.load(Ordering::SeqCst) => break Ok(()),
            Err(e) => break Err(e),
        };
        totals.add(&events);
        for event in &events {
            if json {
                json_line(out, &event.to_json())?;
            } else {
                writeln!(out, "{}", event.to_line())?;
            }
        }
        out.flush()?;
    };
    device::forget_ctrl_c_target();
    result?;
    if json {
        json_line(out, &serde_json::json!({"summary": totals}))?;
    }
    Ok(Outcome::Ok)
}

fn watch_wmi(a: &args::WmiArgs, json: bool, out: &mut dyn Write) -> Result<Outcome, CtlError> {
    let receiver = subscription::subscribe();
    subscription::wait_subscribed(&receiver, Duration::from_secs(30))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| CtlError::Failed(format!("cannot install the Ctrl+C handler: {e}")))?;
    if !json {
        writeln!(
            out,
            "waiting for LogBridge_WriteEvent in root\\wmi{}",
            if a.follow { " (Ctrl+C stops)" } else { "" }
        )?;
        out.flush()?;
    }
    while !stop.load(Ordering::SeqCst) {
        match receiver.recv_timeout(Duration::from_millis(200)) {
            Ok(WmiMessage::Event(Ok(event))) => {
                if json {
                    json_line(out, &event.to_json())?;
                } else {
                    writeln!(out, "{}", event.to_line())?;
                }
                out.flush()?;
                if !a.follow {
                    break;
                }
            }
            Ok(WmiMessage::Event(Err(reason))) => crate::report_note(&format!("an event did not decode: {reason}")),
            Ok(WmiMessage::Failed(message)) => return Err(CtlError::Failed(message)),
            Ok(WmiMessage::Subscribed) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(CtlError::Failed("the WMI subscription ended".to_owned()));
            }
        }
    }
    Ok(Outcome::Ok)
}

fn events(a: &args::EventsArgs, json: bool, out: &mut dyn Write) -> Result<Outcome, CtlError> {
    let since = match &a.since {
        Some(text) => Some(eventlog::parse_since(text, SystemTime::now()).map_err(CtlError::BadInput)?),
        None => None,
    };
    let events = events::query(since, a.max)?;
    for event in &events {
        if json {
            json_line(out, &eventlog::event_json(&event.record, &event.entry, event.message.as_deref()))?;
        } else {
            writeln!(out, "{}", eventlog::format_event_line(&event.record, &event.entry, event.message.as_deref()))?;
        }
    }
    if events.is_empty() && !json {
        writeln!(out, "no LogBridge entries in the System log{}", if since.is_some() { " since then" } else { "" })?;
    }
    Ok(Outcome::Ok)
}

fn stats(device: Option<&Path>, json: bool, out: &mut dyn Write) -> Result<Outcome, CtlError> {
    let stats = Device::open(device, false)?.stats()?;
    if json {
        let map: serde_json::Map<String, serde_json::Value> =
            stats.fields().iter().map(|(name, value)| ((*name).to_owned(), serde_json::Value::from(*value))).collect();
        json_line(out, &serde_json::Value::Object(map))?;
    } else {
        for (name, value) in stats.fields() {
            writeln!(out, "{name:<24} {value}")?;
        }
    }
    Ok(Outcome::Ok)
}

fn stress(a: &args::StressArgs, device: Option<&Path>, json: bool, out: &mut dyn Write) -> Result<Outcome, CtlError> {
    // One handle per thread: synchronous I/O on one handle is serialised by the I/O manager.
    let handles: Vec<Device> = (0..a.threads).map(|_| Device::open(device, false)).collect::<Result<_, _>>()?;
    let control = handles.first().ok_or_else(|| CtlError::BadInput("--threads must be at least 1".to_owned()))?;
    let before = control.stats()?;
    let progress = if json { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(a.writes) };
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} writes  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let payload = vec![b'x'; a.size];
    let started = Instant::now();
    let results: Vec<(LatencyRecorder, u64, u64, Option<String>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = handles
            .iter()
            .enumerate()
            .map(|(index, handle)| {
                let progress = progress.clone();
                let payload = &payload;
                scope.spawn(move || {
                    let mut latency = LatencyRecorder::new();
                    let (mut ok, mut failed, mut first_error) = (0u64, 0u64, None);
                    for k in 0..stress::share_of(a.writes, a.threads, index) {
                        let due = started + stress::pace_offset(a.rate, a.threads, index, k);
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        let t0 = Instant::now();
                        match handle.write(payload) {
                            Ok(_) => {
                                latency.record(t0.elapsed());
                                ok = ok.saturating_add(1);
                            }
                            Err(e) => {
                                failed = failed.saturating_add(1);
                                first_error.get_or_insert_with(|| {
                                    let index = usize::try_from(k).unwrap_or(usize::MAX);
                                    handle.request_error(Request::Write { index, len: payload.len() }, &e).to_string()
                                });
                            }
                        }
                        progress.inc(1);
                    }
                    (latency, ok, failed, first_error)
                })
            })
            .collect();
        workers.into_iter().filter_map(|w| w.join().ok()).collect()
    });
    let elapsed = started.elapsed();
    progress.finish_and_clear();
    let after = control.stats()?;
    let mut latency = LatencyRecorder::new();
    let (mut ok, mut failed, mut first_error) = (0u64, 0u64, None);
    for (recorder, o, f, e) in &results {
        latency.merge(recorder);
        ok = ok.saturating_add(*o);
        failed = failed.saturating_add(*f);
        if first_error.is_none() {
            first_error.clone_from(e);
        }
    }
    let report = StressReport::new(a, ok, failed, first_error, elapsed, &latency, &before, &after);
    if json {
        json_line(out, &report)?;
    } else {
        write!(out, "{}", report.to_text())?;
    }
    Ok(Outcome::Ok)
}

fn verify(a: &args::VerifyArgs, device: Option<&Path>, json: bool, out: &mut dyn Write) -> Result<Outcome, CtlError> {
    let pid = std::process::id();
    let started_at = SystemTime::now();
    let unix_micros = started_at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_micros());
    let run_id = verify::run_id(unix_micros, pid);
    let payloads = verify::payloads(&run_id, a.writes);
    let note = |out: &mut dyn Write, text: &str| -> Result<(), CtlError> {
        if !json {
            writeln!(out, "{text}")?;
            out.flush()?;
        }
        Ok(())
    };

    // The device first (a missing device or a non-elevated prompt is the likeliest problem), then
    // WMI: events of writes made before the subscription is registered are not delivered.
    let device = Device::open(device, false)?;
    let receiver = subscription::subscribe();
    subscription::wait_subscribed(&receiver, Duration::from_secs(30))?;
    // The first consumer makes WMI send IRP_MN_ENABLE_EVENTS to the driver; give it a moment.
    std::thread::sleep(Duration::from_secs(1));

    cursor_to_end(&device)?;
    let before = device.stats()?;
    note(out, &format!("verify run {run_id}: {} writes to {}", payloads.len(), device.path()))?;
    for (index, payload) in payloads.iter().enumerate() {
        device.write(payload).map_err(|e| device.request_error(Request::Write { index, len: payload.len() }, &e))?;
    }
    let (records, lost) = drain_ring(&device, ioctl::READ_MODE_CONTINUE)?;
    let (ring, sequences) = verify::check_ring(&payloads, pid, &records, lost);

    // The Event Log and WMI deliver asynchronously: collect until everything passes or time runs out.
    // Writes suppressed by the rate limit are reported by a summary entry, which the driver logs
    // with the next write that gets a token: one extra write (not checked) brings it out.
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    // Event Log times have a granularity; look a little before the start.
    let since = started_at.checked_sub(Duration::from_secs(2)).unwrap_or(started_at);
    let mut wmi_events = Vec::new();
    let mut wmi_problem = None;
    let mut last_flush: Option<Instant> = None;
    note(out, &format!("waiting up to {} s for the Event Log and WMI", a.timeout))?;
    let reports = loop {
        while let Ok(message) = receiver.try_recv() {
            match message {
                WmiMessage::Event(Ok(event)) => wmi_events.push(event),
                WmiMessage::Event(Err(reason)) => wmi_problem = Some(reason),
                WmiMessage::Failed(reason) => wmi_problem = Some(reason),
                WmiMessage::Subscribed => {}
            }
        }
        let after = device.stats()?;
        let entries: Vec<CollectedEntry> = events::query(Some(since), None)?
            .into_iter()
            .map(|e| CollectedEntry { record: e.record, entry: e.entry, message: e.message })
            .collect();
        let wmi_disabled = after.wmi_disabled.saturating_sub(before.wmi_disabled);
        let mut wmi = verify::check_wmi(&payloads, &sequences, pid, &wmi_events, wmi_disabled);
        if let Some(reason) = &wmi_problem {
            wmi.problems.push(reason.clone());
        }
        let eventlog = verify::check_eventlog(&payloads, &sequences, pid, &entries, &after);
        let reports = vec![ring.clone(), wmi, eventlog];
        if verify::all_passed(&reports) || Instant::now() >= deadline {
            break reports;
        }
        if after.eventlog_unreported > 0 && last_flush.is_none_or(|t| t.elapsed() >= Duration::from_secs(2)) {
            let flush = format!("{} {run_id} summary", verify::PAYLOAD_PREFIX);
            let _ = device.write(flush.as_bytes());
            last_flush = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    if json {
        json_line(out, &serde_json::json!({"run": run_id, "writes": payloads.len(), "channels": reports}))?;
    } else {
        write!(out, "{}", verify::render_table(&reports))?;
    }
    Ok(verify::outcome(&reports))
}
