//! `logbridge-ctl simulate --kmdf`: the same run through the driver's own code on the KMDF model.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use assert_cmd::Command;
use serde_json::Value;

fn simulate(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_logbridge-ctl")).arg("simulate").args(args).output().unwrap();
    (output.status.code(), String::from_utf8(output.stdout).unwrap(), String::from_utf8(output.stderr).unwrap())
}

#[test]
fn kmdf_runs_the_drivers_own_code_and_lists_every_routine() {
    let (code, stdout, stderr) = simulate(&["--kmdf", "--writes", "25", "--threads", "2"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("the driver's own code (src/) on the KMDF model"), "{stdout}");
    assert!(stdout.contains("WDF and kernel routines the driver called"));
    for routine in ["WdfDriverCreate", "WdfDeviceCreate", "WdfRequestCompleteWithInformation", "IoWMIWriteEvent"] {
        assert!(stdout.lines().any(|l| l.trim_start().starts_with(routine)), "{routine} missing:\n{stdout}");
    }
    assert!(stdout.contains("KMDF verifier: no violation") && stdout.trim_end().ends_with("Result: PASS"));
}

#[test]
fn kmdf_json_counts_routines_and_agrees_with_the_writes() {
    let (code, stdout, _) = simulate(&["--json", "--kmdf", "--writes", "12"]);
    assert_eq!(code, Some(0));
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["passed"], Value::Bool(true));
    assert_eq!(report["write_statuses"]["STATUS_SUCCESS"], 12);
    assert_eq!(report["kmdf"]["routines"]["WdfRequestGetRequestorProcessId"], 12);
    assert_eq!(report["kmdf"]["violations"].as_array().unwrap().len(), 0);
    assert_eq!(report["reader"]["records"].as_array().unwrap().len(), 12);
}

#[test]
fn fail_reaches_wdf_routines_with_kmdf_only() {
    let (code, stdout, stderr) = simulate(&["--kmdf", "--writes", "5", "--fail", "wdf-input-buffer:2"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 × STATUS_INSUFFICIENT_RESOURCES"), "{stdout}");
    let (code, _, stderr) = simulate(&["--kmdf", "--fail", "wdf-device-create:1"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = simulate(&["--fail", "wdf-forward:1"]);
    assert_eq!(code, Some(3), "a WDF fault without --kmdf is bad input");
    assert!(stderr.contains("only the --kmdf run calls"), "{stderr}");
}
