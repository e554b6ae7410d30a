//! `logbridge-ctl simulate` end to end: the JSON report agrees with itself and with the options.

// Test code may panic and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use assert_cmd::Command;
use serde_json::Value;

fn simulate(args: &[&str]) -> (i32, Value) {
    let output =
        Command::cargo_bin("logbridge-ctl").unwrap().arg("--json").arg("simulate").args(args).output().unwrap();
    let json: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap(), json)
}

#[test]
fn every_write_reaches_all_three_channels() {
    let (code, report) = simulate(&["--writes", "50", "--threads", "2"]);
    assert_eq!(code, 0);
    assert_eq!(report["passed"], true);
    assert_eq!(report["write_statuses"]["STATUS_SUCCESS"], 50);
    assert_eq!(report["event_log"].as_array().unwrap().len(), 50);
    assert_eq!(report["wmi_events"].as_array().unwrap().len(), 50);
    let records = report["reader"]["records"].as_array().unwrap();
    assert_eq!(records.len(), 50);
    let sequences: Vec<u64> = records.iter().map(|r| r["sequence"].as_u64().unwrap()).collect();
    assert_eq!(sequences, (0..50).collect::<Vec<_>>());
    assert_eq!(report["stats"]["writes"], 50);
    assert_eq!(report["violations"].as_array().unwrap().len(), 0);
    let first = &report["event_log"][0];
    assert_eq!(first["event_id"], 1);
    assert_eq!(first["level_name"], "Information");
}

#[test]
fn injected_wmi_failures_are_counted_and_freed() {
    let (code, report) = simulate(&["--writes", "10", "--fail", "wmi:every:unsuccessful"]);
    assert_eq!(code, 0, "a failing IoWMIWriteEvent is survived: {report}");
    assert_eq!(report["wmi_events"].as_array().unwrap().len(), 0);
    assert_eq!(report["stats"]["wmi_failed"], 10);
    assert_eq!(report["stats"]["wmi_last_failure_status"], 0xC000_0001u32);
    assert_eq!(report["reader"]["records"].as_array().unwrap().len(), 10);
}

#[test]
fn rate_limit_and_summary_show_in_the_event_log() {
    let (code, report) = simulate(&["--writes", "30", "--burst", "10", "--rate", "0", "--size", "8"]);
    assert_eq!(code, 0);
    assert_eq!(report["stats"]["eventlog_written"], 10);
    assert_eq!(report["stats"]["eventlog_rate_limited"], 20);
    assert_eq!(report["stats"]["eventlog_unreported"], 20, "no token came back for a summary");
}

#[test]
fn a_ring_dump_decodes_to_the_retained_records() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("ring.bin");
    let (code, report) = simulate(&["--writes", "300", "--ring-size", "4096", "--dump-ring", dump.to_str().unwrap()]);
    assert_eq!(code, 0);
    let retained = report["stats"]["ring_records"].as_u64().unwrap();
    assert!(retained > 0 && retained < 300);
    let output = Command::cargo_bin("logbridge-ctl").unwrap().args(["decode", "ring"]).arg(&dump).output().unwrap();
    assert!(output.status.success());
    let lines: Vec<Value> = output
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let summary = lines.last().unwrap();
    assert_eq!(summary["records"].as_u64().unwrap(), retained);
    assert_eq!(summary["corrupt"], 0);
    assert_eq!(lines[lines.len() - 2]["sequence"], 299);
}

#[test]
fn bad_options_are_bad_input() {
    let (code, _) = simulate(&["--fail", "wmi:0"]);
    assert_eq!(code, 3);
    let (code, _) = simulate(&["--ring-size", "100"]);
    assert_eq!(code, 3);
    let (code, report) = simulate(&["--fail", "nonpaged:1"]);
    assert_eq!(code, 0, "a failed device add is a clean, expected outcome");
    assert_eq!(report["device_add_failed"], "STATUS_INSUFFICIENT_RESOURCES (0xC000009A)");
}
