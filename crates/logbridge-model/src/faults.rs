//! Fault injection: which DDI call fails, and how.
//!
//! A [`FaultPlan`] is a list of [`FaultRule`]s. Each rule names a DDI, when it fires (the Nth call,
//! every call from the Nth on, every call, or at random with a probability and the plan's seed) and,
//! for `IoWMIWriteEvent`, which status it returns. The textual form used by `logbridge-ctl simulate
//! --fail` is `DDI:WHEN[:STATUS]`:
//!
//! | DDI | fails as |
//! |---|---|
//! | `alloc-entry` | `IoAllocateErrorLogEntry` returns NULL |
//! | `nonpaged` | `ExAllocatePool2(POOL_FLAG_NON_PAGED)` returns NULL |
//! | `wmi` | `IoWMIWriteEvent` returns STATUS (default `STATUS_INSUFFICIENT_RESOURCES`; also `unsuccessful`, `buffer_overflow`) |
//!
//! The KMDF model (`logbridge-kmdf`, `simulate --kmdf`) also fails the WDF routines the driver
//! calls: `wdf-driver-create`, `wdf-device-create`, `wdf-mof-name`, `wdf-wmi-provider`,
//! `wdf-wmi-instance`, `wdf-queue-create`, `wdf-spinlock-create`, `wdf-waitlock-create`,
//! `wdf-interface`, `wdf-open-key` (`insufficient_resources`, `access_denied`), `wdf-query-ulong`,
//! `wdf-forward` (`wdf_busy`, `invalid_device_state`), `wdf-retrieve-next` and
//! `wdf-retrieve-by-file` (`wdf_paused`), `wdf-input-buffer` and `wdf-output-buffer`
//! (`insufficient_resources`).
//!
//! WHEN is `N` (the Nth call, counting from 1), `N+` (the Nth call and every later one), `every`, or
//! `random=P` (each call with probability P, 0 < P <= 1). Example: `wmi:3:buffer_overflow`.

use logbridge_core::NtStatus;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fmt;

macro_rules! ddis {
    ($($(#[$doc:meta])* $variant:ident = $routine:literal, $spec:literal, [$($status:expr),*], $default:expr;)*) => {
        /// A DDI the model can fail: the three of the write path (the checked kernel of this crate),
        /// and the WDF routines the KMDF model (crate `logbridge-kmdf`) can fail.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Ddi {
            $($(#[$doc])* $variant,)*
        }

        impl Ddi {
            /// All fault sites.
            pub const ALL: [Ddi; [$(Ddi::$variant),*].len()] = [$(Ddi::$variant),*];

            /// The routine's name.
            pub fn routine(self) -> &'static str {
                match self {
                    $(Ddi::$variant => $routine,)*
                }
            }

            /// The spelling in a fault spec.
            pub fn spec_name(self) -> &'static str {
                match self {
                    $(Ddi::$variant => $spec,)*
                }
            }

            /// The ways this DDI can fail: `None` for an allocator returning NULL, else a status.
            pub fn failure_statuses(self) -> &'static [Option<NtStatus>] {
                match self {
                    $(Ddi::$variant => &[$($status),*],)*
                }
            }

            /// The failure of a spec that names no status.
            fn default_failure(self) -> Option<NtStatus> {
                match self {
                    $(Ddi::$variant => $default,)*
                }
            }
        }
    };
}

const NULL: Option<NtStatus> = None;
const RESOURCES: Option<NtStatus> = Some(NtStatus::INSUFFICIENT_RESOURCES);

ddis! {
    /// `IoAllocateErrorLogEntry`.
    AllocateErrorLogEntry = "IoAllocateErrorLogEntry", "alloc-entry", [NULL], NULL;
    /// `ExAllocatePool2(POOL_FLAG_NON_PAGED, ..)`.
    AllocateNonPaged = "ExAllocatePool2", "nonpaged", [NULL], NULL;
    /// `IoWMIWriteEvent`.
    WmiWriteEvent = "IoWMIWriteEvent", "wmi",
        [Some(NtStatus::UNSUCCESSFUL), Some(NtStatus::BUFFER_OVERFLOW), RESOURCES], RESOURCES;
    /// `WdfDriverCreate`.
    WdfDriverCreate = "WdfDriverCreate", "wdf-driver-create", [RESOURCES], RESOURCES;
    /// `WdfDeviceCreate`.
    WdfDeviceCreate = "WdfDeviceCreate", "wdf-device-create", [RESOURCES], RESOURCES;
    /// `WdfDeviceAssignMofResourceName`.
    WdfDeviceAssignMofResourceName = "WdfDeviceAssignMofResourceName", "wdf-mof-name", [RESOURCES], RESOURCES;
    /// `WdfWmiProviderCreate`.
    WdfWmiProviderCreate = "WdfWmiProviderCreate", "wdf-wmi-provider", [RESOURCES], RESOURCES;
    /// `WdfWmiInstanceCreate`.
    WdfWmiInstanceCreate = "WdfWmiInstanceCreate", "wdf-wmi-instance", [RESOURCES], RESOURCES;
    /// `WdfIoQueueCreate`.
    WdfIoQueueCreate = "WdfIoQueueCreate", "wdf-queue-create", [RESOURCES], RESOURCES;
    /// `WdfSpinLockCreate`.
    WdfSpinLockCreate = "WdfSpinLockCreate", "wdf-spinlock-create", [RESOURCES], RESOURCES;
    /// `WdfWaitLockCreate`.
    WdfWaitLockCreate = "WdfWaitLockCreate", "wdf-waitlock-create", [RESOURCES], RESOURCES;
    /// `WdfDeviceCreateDeviceInterface`.
    WdfDeviceCreateDeviceInterface = "WdfDeviceCreateDeviceInterface", "wdf-interface", [RESOURCES], RESOURCES;
    /// `WdfDriverOpenParametersRegistryKey` and `WdfDriverOpenPersistentStateRegistryKey`.
    WdfDriverOpenRegistryKey = "WdfDriverOpen*RegistryKey", "wdf-open-key",
        [RESOURCES, Some(NtStatus::ACCESS_DENIED)], RESOURCES;
    /// `WdfRegistryQueryULong`.
    WdfRegistryQueryULong = "WdfRegistryQueryULong", "wdf-query-ulong", [RESOURCES], RESOURCES;
    /// `WdfRequestForwardToIoQueue`.
    WdfRequestForwardToIoQueue = "WdfRequestForwardToIoQueue", "wdf-forward",
        [Some(NtStatus::WDF_BUSY), Some(NtStatus::INVALID_DEVICE_STATE)], Some(NtStatus::WDF_BUSY);
    /// `WdfIoQueueRetrieveNextRequest`.
    WdfIoQueueRetrieveNextRequest = "WdfIoQueueRetrieveNextRequest", "wdf-retrieve-next",
        [Some(NtStatus::WDF_PAUSED)], Some(NtStatus::WDF_PAUSED);
    /// `WdfIoQueueRetrieveRequestByFileObject`.
    WdfIoQueueRetrieveRequestByFileObject = "WdfIoQueueRetrieveRequestByFileObject", "wdf-retrieve-by-file",
        [Some(NtStatus::WDF_PAUSED)], Some(NtStatus::WDF_PAUSED);
    /// `WdfRequestRetrieveInputBuffer`.
    WdfRequestRetrieveInputBuffer = "WdfRequestRetrieveInputBuffer", "wdf-input-buffer", [RESOURCES], RESOURCES;
    /// `WdfRequestRetrieveOutputBuffer` (for METHOD_OUT_DIRECT, mapping the caller's pages can fail).
    WdfRequestRetrieveOutputBuffer = "WdfRequestRetrieveOutputBuffer", "wdf-output-buffer", [RESOURCES], RESOURCES;
}

/// When a rule fires.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trigger {
    /// Only the Nth call (1-based).
    Nth(u64),
    /// The Nth call and every later one.
    From(u64),
    /// Every call.
    Every,
    /// Each call with this probability.
    Random(f64),
}

/// One fault.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultRule {
    /// The DDI.
    pub ddi: Ddi,
    /// When.
    pub trigger: Trigger,
    /// The status for IoWMIWriteEvent (ignored for allocators).
    pub status: Option<NtStatus>,
}

impl fmt::Display for FaultRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.ddi.spec_name())?;
        match self.trigger {
            Trigger::Nth(n) => write!(f, "{n}")?,
            Trigger::From(n) => write!(f, "{n}+")?,
            Trigger::Every => write!(f, "every")?,
            Trigger::Random(p) => write!(f, "random={p}")?,
        }
        if let Some(status) = self.status {
            let name = status.name().unwrap_or("?").trim_start_matches("STATUS_").to_ascii_lowercase();
            write!(f, ":{name}")?;
        }
        Ok(())
    }
}

impl FaultRule {
    /// Parses `DDI:WHEN[:STATUS]`.
    pub fn parse(spec: &str) -> Result<FaultRule, String> {
        let mut parts = spec.split(':');
        let ddi_name = parts.next().unwrap_or_default();
        let ddi = Ddi::ALL.into_iter().find(|d| d.spec_name() == ddi_name).ok_or_else(|| {
            let names: Vec<&str> = Ddi::ALL.iter().map(|d| d.spec_name()).collect();
            format!("unknown DDI `{ddi_name}` in fault `{spec}` (use {})", names.join(", "))
        })?;
        let when = parts.next().ok_or_else(|| format!("fault `{spec}` needs a WHEN: N, N+, every or random=P"))?;
        let trigger = if when == "every" {
            Trigger::Every
        } else if let Some(p) = when.strip_prefix("random=") {
            let p: f64 = p.parse().map_err(|_| format!("bad probability `{p}` in fault `{spec}`"))?;
            if !(p > 0.0 && p <= 1.0) {
                return Err(format!("probability {p} in fault `{spec}` must be in (0, 1]"));
            }
            Trigger::Random(p)
        } else if let Some(n) = when.strip_suffix('+') {
            Trigger::From(parse_call_number(n, spec)?)
        } else {
            Trigger::Nth(parse_call_number(when, spec)?)
        };
        let takes_status = ddi.failure_statuses().iter().any(Option::is_some);
        let status = match parts.next() {
            None => ddi.default_failure(),
            Some(_) if !takes_status => {
                return Err(format!("fault `{spec}`: {} fails by returning NULL and takes no status", ddi.routine()));
            }
            Some(name) => {
                let status =
                    NtStatus::from_name(name).ok_or_else(|| format!("unknown status `{name}` in fault `{spec}`"))?;
                if !ddi.failure_statuses().contains(&Some(status)) {
                    let names: Vec<String> = ddi
                        .failure_statuses()
                        .iter()
                        .flatten()
                        .map(|s| s.name().unwrap_or("?").trim_start_matches("STATUS_").to_ascii_lowercase())
                        .collect();
                    return Err(format!("{} does not return {status}; use {}", ddi.routine(), names.join(", ")));
                }
                Some(status)
            }
        };
        if parts.next().is_some() {
            return Err(format!("fault `{spec}` has too many `:` parts"));
        }
        Ok(FaultRule { ddi, trigger, status })
    }
}

fn parse_call_number(text: &str, spec: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("bad call number `{text}` in fault `{spec}` (calls count from 1)")),
    }
}

/// The faults of one run.
#[derive(Debug)]
pub struct FaultPlan {
    rules: Vec<FaultRule>,
    rng: StdRng,
}

impl Default for FaultPlan {
    fn default() -> Self {
        FaultPlan::new(Vec::new(), 0)
    }
}

impl FaultPlan {
    /// A plan with these rules; `seed` drives the random ones.
    pub fn new(rules: Vec<FaultRule>, seed: u64) -> Self {
        FaultPlan { rules, rng: StdRng::seed_from_u64(seed) }
    }

    /// The rules.
    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// Decides call number `call` (1-based) of `ddi`: `Some(status)` to fail it (`None` inside means NULL).
    pub fn decide(&mut self, ddi: Ddi, call: u64) -> Option<Option<NtStatus>> {
        for rule in self.rules.iter().filter(|r| r.ddi == ddi) {
            let fire = match rule.trigger {
                Trigger::Nth(n) => call == n,
                Trigger::From(n) => call >= n,
                Trigger::Every => true,
                Trigger::Random(p) => self.rng.random_bool(p),
            };
            if fire {
                return Some(rule.status);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_back() {
        for spec in ["wmi:3:buffer_overflow", "alloc-entry:every", "nonpaged:2+", "wmi:random=0.5:unsuccessful"] {
            assert_eq!(FaultRule::parse(spec).unwrap().to_string(), spec);
        }
        assert_eq!(FaultRule::parse("wmi:1").unwrap().status, Some(NtStatus::INSUFFICIENT_RESOURCES));
        for bad in [
            "disk:1",
            "wmi",
            "wmi:0",
            "wmi:x",
            "wmi:1:access_denied",
            "alloc-entry:1:unsuccessful",
            "wmi:random=2",
            "wmi:1:unsuccessful:9",
        ] {
            assert!(FaultRule::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn triggers_fire_on_the_right_calls() {
        let mut plan =
            FaultPlan::new(vec![FaultRule::parse("wmi:2").unwrap(), FaultRule::parse("nonpaged:3+").unwrap()], 1);
        let wmi: Vec<bool> = (1..=4).map(|c| plan.decide(Ddi::WmiWriteEvent, c).is_some()).collect();
        assert_eq!(wmi, [false, true, false, false]);
        let pool: Vec<bool> = (1..=5).map(|c| plan.decide(Ddi::AllocateNonPaged, c).is_some()).collect();
        assert_eq!(pool, [false, false, true, true, true]);
        assert_eq!(plan.decide(Ddi::AllocateErrorLogEntry, 1), None);
        // Random faults are reproducible from the seed.
        let draw = |seed| {
            let mut p = FaultPlan::new(vec![FaultRule::parse("alloc-entry:random=0.5").unwrap()], seed);
            (1..=64).map(|c| p.decide(Ddi::AllocateErrorLogEntry, c).is_some()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        assert!(draw(7).iter().any(|f| *f) && draw(7).iter().any(|f| !*f));
    }
}
