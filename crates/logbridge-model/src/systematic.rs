//! Systematic fault injection, in the spirit of Driver Verifier's systematic low-resources
//! simulation: run a scenario once to count the calls of each faultable DDI, then run it again once
//! per call site and failure status, failing exactly that call, and check the contract every time.

use crate::device::{DeviceOptions, ModelDevice};
use crate::faults::{Ddi, FaultRule, Trigger};
use crate::kernel::{KernelOptions, ModelKernel};
use logbridge_core::NtStatus;

/// One call to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultSite {
    /// The DDI.
    pub ddi: Ddi,
    /// Which call (1-based).
    pub call: u64,
    /// The status (IoWMIWriteEvent) or `None` for NULL.
    pub status: Option<NtStatus>,
}

impl std::fmt::Display for FaultSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rule = FaultRule { ddi: self.ddi, trigger: Trigger::Nth(self.call), status: self.status };
        write!(f, "{rule}")
    }
}

/// What a systematic run found.
#[derive(Debug, Default)]
pub struct SystematicReport {
    /// Runs made (the baseline included).
    pub runs: usize,
    /// Every site that was failed.
    pub sites: Vec<FaultSite>,
    /// Sites whose run broke a rule or the scenario's own checks.
    pub failures: Vec<(Option<FaultSite>, String)>,
}

/// Runs `scenario` with no fault, then once per fault site. `scenario` gets a fresh device (or,
/// when the site fails device creation, the status creation failed with) and returns its own
/// check failures as `Err`.
pub fn run<S>(kernel_options: &KernelOptions, device_options: &DeviceOptions, scenario: S) -> SystematicReport
where
    S: Fn(Result<&ModelDevice, NtStatus>) -> Result<(), String>,
{
    let mut report = SystematicReport::default();
    let baseline = run_once(kernel_options, device_options, None, &scenario, &mut report);
    for ddi in Ddi::ALL {
        let calls = baseline.calls().get(&ddi).copied().unwrap_or(0);
        for call in 1..=calls {
            for status in ddi.failure_statuses() {
                let site = FaultSite { ddi, call, status: *status };
                report.sites.push(site);
                run_once(kernel_options, device_options, Some(site), &scenario, &mut report);
            }
        }
    }
    report
}

fn run_once<S>(
    kernel_options: &KernelOptions,
    device_options: &DeviceOptions,
    site: Option<FaultSite>,
    scenario: &S,
    report: &mut SystematicReport,
) -> ModelKernel
where
    S: Fn(Result<&ModelDevice, NtStatus>) -> Result<(), String>,
{
    let mut options = kernel_options.clone();
    if let Some(site) = site {
        options.faults = vec![FaultRule { ddi: site.ddi, trigger: Trigger::Nth(site.call), status: site.status }];
    }
    let kernel = ModelKernel::new(options);
    report.runs += 1;
    let result = match ModelDevice::create(kernel.clone(), device_options.clone()) {
        Ok(device) => {
            let result = scenario(Ok(&device));
            device.teardown();
            result
        }
        Err(status) => {
            kernel.check_leaks();
            scenario(Err(status))
        }
    };
    if let Err(message) = result {
        report.failures.push((site, message));
    }
    for violation in kernel.violations() {
        report.failures.push((site, violation.to_string()));
    }
    kernel
}
