//! `logbridge-ctl simulate`: runs LogBridge's write path on this host, in the checked kernel model
//! (`logbridge-model`), and shows what the driver would produce for each write: the Event Log
//! packet, the WMI event item and the ring-log record, with the model's contract checks.
//!
//! Human-readable tables by default, JSON with the global `--json`. A contract violation found by
//! the model is a failed check (exit status 1).
//!
//! The run itself (writers, a following reader, the WMI subscriber, the Event Log, cross-checks) is
//! `logbridge_model::simulation`; this module turns its report into tables or JSON.
//!
//! With `--kmdf` the same run goes through the driver's own code (`src/`, built for this host by
//! `logbridge-driver-host`) on the KMDF, I/O-manager and kernel model of `logbridge-kmdf`
//! (`logbridge_kmdf::simulation`): every write is a `WriteFile`, every read a `DeviceIoControl`,
//! and the report adds every WDF and kernel routine the driver called, with its count, and the
//! KMDF verifier's result.

use crate::error::{CtlError, Outcome};
use clap::Args;
use logbridge_core::ratelimit::RateLimit;
use logbridge_core::time::FileTime;
use logbridge_model::FaultRule;
use logbridge_model::simulation::{self, Payload, SimulationParams, SimulationReport};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `simulate`.
#[derive(Args, Debug, Clone)]
pub struct SimulateArgs {
    /// Number of writes to simulate
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub writes: u64,
    /// Size of each write in bytes (generated payload)
    #[arg(long, value_name = "BYTES", conflicts_with = "payload")]
    pub size: Option<usize>,
    /// The text every write carries
    #[arg(long, value_name = "TEXT")]
    pub payload: Option<String>,
    /// Writer threads
    #[arg(long, value_name = "T", default_value_t = 1,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub threads: usize,
    /// Ring-log size in bytes
    #[arg(long, value_name = "BYTES", default_value_t = logbridge_core::ring::DEFAULT_CAPACITY)]
    pub ring_size: usize,
    /// Inject a failure into the model (repeatable): DDI:WHEN[:STATUS] with DDI alloc-entry,
    /// nonpaged or wmi (and, with --kmdf, a WDF routine: wdf-forward, wdf-retrieve-next,
    /// wdf-queue-create, wdf-device-create, ...); WHEN N, N+, every or random=P; STATUS one the
    /// routine returns. Examples: wmi:3:buffer_overflow, wdf-forward:1:wdf_busy
    #[arg(long = "fail", value_name = "SPEC")]
    pub fail: Vec<String>,
    /// Seed of the model's random choices (thread interleaving, injected faults)
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Write a dump of the ring log's buffer to FILE at the end (decode it with `decode ring`)
    #[arg(long, value_name = "FILE")]
    pub dump_ring: Option<PathBuf>,
    /// Simulate no WMI consumer (events are not enabled)
    #[arg(long)]
    pub wmi_disabled: bool,
    /// Event-log rate limit: burst (tokens when the bucket is full)
    #[arg(long, value_name = "N")]
    pub burst: Option<u32>,
    /// Event-log rate limit: refill rate, entries per second
    #[arg(long, value_name = "N")]
    pub rate: Option<u32>,
    /// Run through the driver's own code (src/) on the KMDF, I/O manager and kernel model, and
    /// report every WDF and kernel routine it called and the KMDF verifier's result
    #[arg(long)]
    pub kmdf: bool,
}

/// Runs the simulation and prints its report (tables, or JSON with `json`) to `out`.
pub fn run(args: &SimulateArgs, json: bool, out: &mut dyn Write) -> Result<Outcome, CtlError> {
    let params = params_of(args)?;
    if args.kmdf {
        return run_kmdf(args, &params, json, out);
    }
    if let Some(rule) = params.faults.iter().find(|rule| is_wdf(rule.ddi)) {
        return Err(CtlError::BadInput(format!(
            "--fail {rule}: {} is a WDF routine, which only the --kmdf run calls",
            rule.ddi.routine()
        )));
    }
    let report = simulation::run(&params).map_err(CtlError::BadInput)?;
    if let Some(path) = &args.dump_ring {
        std::fs::write(path, &report.ring_dump)
            .map_err(|e| CtlError::Io(std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))))?;
    }
    if json {
        let value = report_json(&params, &report);
        serde_json::to_writer_pretty(&mut *out, &value).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        print_tables(&params, args, &report, "the checked kernel model", out)?;
        writeln!(out, "\nResult: {}", if report.passed() { "PASS" } else { "FAIL" })?;
    }
    if report.passed() {
        Ok(Outcome::Ok)
    } else {
        Ok(Outcome::ChecksFailed(format!(
            "simulate: {} contract violation(s), {} mismatch(es)",
            report.violations.len(),
            report.mismatches.len()
        )))
    }
}

/// Is `ddi` a WDF routine (only the KMDF model calls those)?
fn is_wdf(ddi: logbridge_model::Ddi) -> bool {
    ddi.routine().starts_with("Wdf")
}

/// `simulate --kmdf`: the same run through the driver's own code.
fn run_kmdf(
    args: &SimulateArgs,
    params: &SimulationParams,
    json: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CtlError> {
    if args.dump_ring.is_some() {
        return Err(CtlError::BadInput(
            "--dump-ring is not available with --kmdf: the ring lives in the driver's own pool allocation".into(),
        ));
    }
    let report =
        logbridge_kmdf::simulation::run(params, logbridge_kmdf::driver_entry!()).map_err(CtlError::BadInput)?;
    if json {
        let mut value = report_json(params, &report.base);
        let routines: serde_json::Map<String, serde_json::Value> =
            report.routine_calls.iter().map(|(name, n)| ((*name).to_owned(), json!(n))).collect();
        let violations: Vec<_> = report
            .kmdf_violations
            .iter()
            .map(|v| json!({"rule": format!("{:?}", v.rule), "text": v.rule.text(), "source": v.rule.source(), "detail": v.detail}))
            .collect();
        if let Some(object) = value.as_object_mut() {
            object.insert(
                "kmdf".into(),
                json!({"routines": routines, "violations": violations, "boot_failed": report.base.device_add_failed.map(|s| s.to_string())}),
            );
            object.insert("passed".into(), json!(report.passed()));
        }
        serde_json::to_writer_pretty(&mut *out, &value).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        print_tables(params, args, &report.base, "the driver's own code (src/) on the KMDF model", out)?;
        writeln!(out, "\nWDF and kernel routines the driver called")?;
        for (name, calls) in &report.routine_calls {
            writeln!(out, "  {name:<42} {calls:>8}")?;
        }
        if report.kmdf_violations.is_empty() {
            writeln!(out, "  KMDF verifier: no violation")?;
        } else {
            writeln!(out, "  KMDF verifier: {} violation(s)", report.kmdf_violations.len())?;
            for v in &report.kmdf_violations {
                writeln!(out, "    - {v}")?;
            }
        }
        writeln!(out, "\nResult: {}", if report.passed() { "PASS" } else { "FAIL" })?;
    }
    if report.passed() {
        Ok(Outcome::Ok)
    } else {
        Ok(Outcome::ChecksFailed(format!(
            "simulate --kmdf: {} KMDF violation(s), {} kernel violation(s), {} mismatch(es)",
            report.kmdf_violations.len(),
            report.base.violations.len(),
            report.base.mismatches.len()
        )))
    }
}

/// Turns the arguments into simulation parameters; a bad fault spec or a zero count is bad input.
pub fn params_of(args: &SimulateArgs) -> Result<SimulationParams, CtlError> {
    let faults = args
        .fail
        .iter()
        .map(|spec| FaultRule::parse(spec))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CtlError::BadInput)?;
    let payload = match (&args.payload, args.size) {
        (Some(text), _) => Payload::Text(text.clone()),
        (None, Some(size)) => Payload::Size(size),
        (None, None) => Payload::Default,
    };
    let defaults = RateLimit::default();
    let rate_limit =
        RateLimit { burst: args.burst.unwrap_or(defaults.burst), per_second: args.rate.unwrap_or(defaults.per_second) };
    if args.ring_size < logbridge_core::ring::MIN_CAPACITY {
        return Err(CtlError::BadInput(format!(
            "--ring-size {} is below the minimum of {} bytes",
            args.ring_size,
            logbridge_core::ring::MIN_CAPACITY
        )));
    }
    Ok(SimulationParams {
        writes: args.writes,
        payload,
        threads: u32::try_from(args.threads).unwrap_or(u32::MAX),
        ring_size: args.ring_size,
        faults,
        seed: args.seed.unwrap_or(0),
        wmi_enabled: !args.wmi_disabled,
        rate_limit,
        ..SimulationParams::default()
    })
}

fn rfc3339(time: FileTime) -> String {
    let (secs, nanos) = time.to_unix();
    let Ok(secs) = u64::try_from(secs) else { return format!("{} (before 1970)", time.0) };
    let system = std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos);
    humantime::format_rfc3339_micros(system).to_string()
}

fn preview(bytes: &[u8], width: usize) -> String {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => text.to_owned(),
        _ => format!("hex:{}", hex::encode(bytes)),
    };
    if text.chars().count() > width {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        text
    }
}

/// Rows shown per table before "… and N more".
const ROWS: usize = 10;

fn print_rows<T>(out: &mut dyn Write, rows: &[T], mut line: impl FnMut(&T) -> String) -> std::io::Result<()> {
    for row in rows.iter().take(ROWS) {
        writeln!(out, "  {}", line(row))?;
    }
    if rows.len() > ROWS {
        writeln!(out, "  … and {} more (all of them with --json)", rows.len() - ROWS)?;
    }
    Ok(())
}

fn print_tables(
    params: &SimulationParams,
    args: &SimulateArgs,
    report: &SimulationReport,
    running_on: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let payload = match &params.payload {
        Payload::Default => "a short text".to_owned(),
        Payload::Text(text) => format!("{} bytes of text", text.len()),
        Payload::Size(size) => format!("{size} bytes"),
    };
    writeln!(
        out,
        "LogBridge write path in {running_on}: {} write(s) of {payload} on {} thread(s), ring {} bytes, \
         event log burst {} at {}/s, WMI {}",
        params.writes,
        params.threads,
        params.ring_size,
        params.rate_limit.burst,
        params.rate_limit.per_second,
        if params.wmi_enabled { "enabled" } else { "disabled (no consumer)" }
    )?;
    let faults: Vec<String> = params.faults.iter().map(ToString::to_string).collect();
    writeln!(out, "Injected faults: {}", if faults.is_empty() { "none".to_owned() } else { faults.join(", ") })?;
    if let Some(status) = report.device_add_failed {
        writeln!(out, "\nEvtDriverDeviceAdd failed with {status}: the device was not created and nothing leaked.")?;
    } else {
        let statuses: Vec<String> = report.write_statuses.iter().map(|(s, n)| format!("{n} × {s}")).collect();
        writeln!(out, "Write completions: {}", statuses.join(", "))?;

        writeln!(
            out,
            "\nEvent Viewer — Windows Logs > System, Source LogBridge: {} entr{}",
            report.events.len(),
            if report.events.len() == 1 { "y" } else { "ies" }
        )?;
        writeln!(out, "  {:<11} {:>8} {:>10}  Message", "Level", "Event ID", "Seq")?;
        print_rows(out, &report.events, |e| {
            format!(
                "{:<11} {:>8} {:>10}  {}",
                e.level_name,
                e.event_id,
                e.sequence_number,
                e.message.replace("\r\n", " ")
            )
        })?;

        writeln!(out, "\nWMI subscriber — root\\wmi, LogBridge_WriteEvent: {} event(s)", report.wmi_events.len())?;
        writeln!(out, "  {:>10} {:>6} {:>7} {:>7} {:>5}  Payload", "Seq", "PID", "Total", "Carried", "Item")?;
        print_rows(out, &report.wmi_events, |e| {
            format!(
                "{:>10} {:>6} {:>7} {:>7} {:>5}  {}",
                e.sequence,
                e.process_id,
                e.total_length,
                e.payload.len(),
                e.item_size,
                preview(&e.payload, 48)
            )
        })?;

        writeln!(
            out,
            "\nRing-log reader — READ_LOG on its own handle: {} record(s), {} lost, {} read(s) completed, {} parked until data arrived",
            report.reader_records.len(),
            report.reader_lost_records,
            report.reader_reads,
            report.reader_pended
        )?;
        writeln!(out, "  {:>10} {:<27} {:>6} {:>7}  Payload", "Seq", "Time (UTC)", "PID", "Length")?;
        print_rows(out, &report.reader_records, |r| {
            format!(
                "{:>10} {:<27} {:>6} {:>7}  {}",
                r.sequence,
                rfc3339(r.timestamp),
                r.process_id,
                r.payload.len(),
                preview(&r.payload, 48)
            )
        })?;

        writeln!(out, "\nDriver statistics (IOCTL_LOGBRIDGE_GET_STATS)")?;
        for chunk in report.stats.fields().chunks(3) {
            let cells: Vec<String> = chunk.iter().map(|(name, value)| format!("{name:<24}{value:>12}")).collect();
            writeln!(out, "  {}", cells.join("   "))?;
        }
    }
    writeln!(out, "\nChecked kernel")?;
    for (ddi, calls) in &report.calls {
        let injected = report.faults_injected.get(ddi).copied().unwrap_or(0);
        writeln!(out, "  {:<38} {calls:>8} call(s), {injected} failed by injection", ddi.routine())?;
    }
    writeln!(out, "  nonpaged pool: peak {} bytes, {} allocation(s)", report.pool_peak, report.pool_allocations)?;
    if let Some(path) = &args.dump_ring {
        writeln!(
            out,
            "  ring dump: {} bytes written to {} (decode it with `logbridge-ctl decode ring`)",
            report.ring_dump.len(),
            path.display()
        )?;
    }
    if report.violations.is_empty() {
        writeln!(out, "  contract violations: none")?;
    } else {
        writeln!(out, "  contract violations: {}", report.violations.len())?;
        for v in &report.violations {
            writeln!(out, "    - {v}")?;
        }
    }
    for m in &report.mismatches {
        writeln!(out, "  mismatch: {m}")?;
    }
    Ok(())
}

fn report_json(params: &SimulationParams, report: &SimulationReport) -> serde_json::Value {
    let events: Vec<_> = report
        .events
        .iter()
        .map(|e| {
            json!({
                "event_id": e.event_id, "qualifiers": e.qualifiers, "level": e.level, "level_name": e.level_name,
                "sequence_number": e.sequence_number, "message": e.message, "strings": e.strings,
                "binary_data": hex::encode(&e.binary_data),
            })
        })
        .collect();
    let wmi_events: Vec<_> = report
        .wmi_events
        .iter()
        .map(|e| {
            json!({
                "sequence": e.sequence, "timestamp": e.timestamp.0, "process_id": e.process_id,
                "total_length": e.total_length, "payload": hex::encode(&e.payload), "item_size": e.item_size,
            })
        })
        .collect();
    let records: Vec<_> = report
        .reader_records
        .iter()
        .map(|r| json!({"sequence": r.sequence, "timestamp": r.timestamp.0, "pid": r.process_id, "length": r.payload.len(), "payload": hex::encode(&r.payload)}))
        .collect();
    let stats: serde_json::Map<String, serde_json::Value> =
        report.stats.fields().iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
    let calls: serde_json::Map<String, serde_json::Value> = report
        .calls
        .iter()
        .map(|(ddi, n)| {
            (
                ddi.routine().to_owned(),
                json!({"calls": n, "faults_injected": report.faults_injected.get(ddi).copied().unwrap_or(0)}),
            )
        })
        .collect();
    let violations: Vec<_> = report
        .violations
        .iter()
        .map(|v| json!({"rule": format!("{:?}", v.rule), "text": v.rule.text(), "detail": v.detail}))
        .collect();
    json!({
        "params": {
            "writes": params.writes, "threads": params.threads, "ring_size": params.ring_size,
            "burst": params.rate_limit.burst, "rate_per_second": params.rate_limit.per_second,
            "wmi_enabled": params.wmi_enabled, "seed": params.seed,
            "faults": params.faults.iter().map(ToString::to_string).collect::<Vec<_>>(),
        },
        "device_add_failed": report.device_add_failed.map(|s| s.to_string()),
        "write_statuses": report.write_statuses,
        "event_log": events,
        "wmi_events": wmi_events,
        "reader": {"records": records, "lost_records": report.reader_lost_records, "reads": report.reader_reads, "pended": report.reader_pended},
        "stats": stats,
        "kernel": {"ddis": calls, "pool_peak": report.pool_peak, "pool_allocations": report.pool_allocations},
        "violations": violations,
        "mismatches": report.mismatches,
        "passed": report.passed(),
    })
}
