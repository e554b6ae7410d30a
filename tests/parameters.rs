//! The registry `Parameters` of the device: resolution, defaults, ranges, the wrong-type case, the
//! ring allocation fallback, and the Event Log entry that reports a defaulted value, rendered
//! with the driver's own message table.

// Test code may panic, index and cast freely.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    missing_docs
)]

use logbridge_core::device::{self, Parameter, ParameterDefaulted, RegistryValue, Settings};
use logbridge_core::errorlog::ERROR_LOG_MAXIMUM_SIZE;
use logbridge_core::messages;
use logbridge_model::event_viewer::EventViewer;
use logbridge_model::kernel::KernelOptions;
use logbridge_model::{FaultRule, ModelKernel};
use proptest::prelude::*;

fn settings_from(values: &[(Parameter, RegistryValue)]) -> Settings {
    Settings::resolve(|p| values.iter().find(|(q, _)| *q == p).map_or(RegistryValue::Missing, |(_, v)| *v))
}

#[test]
fn an_empty_parameters_key_gives_the_documented_defaults_silently() {
    let settings = Settings::resolve(|_| RegistryValue::Missing);
    assert_eq!(settings.ring_log_size, 1 << 20);
    assert_eq!(settings.config.rate_limit.burst, 100);
    assert_eq!(settings.config.rate_limit.per_second, 20);
    assert_eq!(settings.config.max_write_size, 64 * 1024);
    assert_eq!(settings.config.error_log_maximum_size, ERROR_LOG_MAXIMUM_SIZE);
    assert_eq!(settings.defaulted, [None; 4]);
}

#[test]
fn values_in_range_are_used_and_each_bad_one_is_reported_once() {
    let settings = settings_from(&[
        (Parameter::RingLogSize, RegistryValue::Dword(256 * 1024)),
        (Parameter::EventLogBurst, RegistryValue::Dword(10_001)),
        (Parameter::EventLogRatePerSecond, RegistryValue::NotADword),
        (Parameter::MaxWriteSize, RegistryValue::Dword(0)),
    ]);
    assert_eq!(settings.ring_log_size, 256 * 1024);
    assert_eq!(settings.config.rate_limit.burst, 100);
    assert_eq!(settings.config.rate_limit.per_second, 20);
    assert_eq!(settings.config.max_write_size, 64 * 1024);
    assert_eq!(
        settings.defaulted,
        [
            None,
            Some(ParameterDefaulted {
                parameter: Parameter::EventLogBurst,
                found: RegistryValue::Dword(10_001),
                used: 100
            }),
            Some(ParameterDefaulted {
                parameter: Parameter::EventLogRatePerSecond,
                found: RegistryValue::NotADword,
                used: 20
            }),
            Some(ParameterDefaulted {
                parameter: Parameter::MaxWriteSize,
                found: RegistryValue::Dword(0),
                used: 65536
            }),
        ]
    );
}

proptest! {
    /// Whatever the registry holds, every setting ends inside its range, and a value is reported
    /// exactly when it was present and not used.
    #[test]
    fn any_registry_contents_resolve_inside_the_ranges(
        raw in proptest::collection::vec(prop_oneof![
            Just(RegistryValue::Missing),
            Just(RegistryValue::NotADword),
            any::<u32>().prop_map(RegistryValue::Dword),
            (0u32..100_000).prop_map(RegistryValue::Dword),
        ], 4)
    ) {
        let settings = Settings::resolve(|p| raw[Parameter::ALL.iter().position(|q| *q == p).unwrap()]);
        let used = [
            settings.ring_log_size as u32,
            settings.config.rate_limit.burst,
            settings.config.rate_limit.per_second,
            settings.config.max_write_size as u32,
        ];
        for ((parameter, value), (found, report)) in
            Parameter::ALL.iter().zip(used).zip(raw.iter().zip(settings.defaulted))
        {
            let (low, high) = parameter.range();
            prop_assert!(value >= low && value <= high, "{parameter:?} = {value}");
            let accepted = matches!(found, RegistryValue::Dword(v) if *v == value);
            match found {
                RegistryValue::Missing => prop_assert!(report.is_none() && value == parameter.default_value()),
                _ if accepted => prop_assert!(report.is_none()),
                _ => prop_assert_eq!(report, Some(ParameterDefaulted { parameter: *parameter, found: *found, used: value })),
            }
        }
    }
}

#[test]
fn the_ring_is_allocated_at_a_power_of_two_and_falls_back_by_halves() {
    let sizes = |bytes: u32| {
        settings_from(&[(Parameter::RingLogSize, RegistryValue::Dword(bytes))])
            .ring_allocation_sizes()
            .collect::<Vec<_>>()
    };
    assert_eq!(sizes(1 << 20), [1 << 20, 1 << 19, 1 << 18, 1 << 17, 1 << 16]);
    // 1.5 MiB is a 1 MiB ring: the ring would use no more, so no more is allocated.
    assert_eq!(sizes(3 << 19)[0], 1 << 20);
    assert_eq!(sizes(64 * 1024), [64 * 1024]);
    assert_eq!(sizes(64 << 20).len(), 11);
    assert!(sizes(64 << 20).windows(2).all(|w| w[1] * 2 == w[0]));
}

#[test]
fn a_defaulted_parameter_is_logged_with_the_message_table_text() {
    let kernel = ModelKernel::new(KernelOptions::default());
    let cases = [
        ParameterDefaulted { parameter: Parameter::MaxWriteSize, found: RegistryValue::Dword(0), used: 65536 },
        ParameterDefaulted { parameter: Parameter::EventLogBurst, found: RegistryValue::NotADword, used: 100 },
    ];
    for case in &cases {
        assert!(device::log_parameter_defaulted(&kernel, case, ERROR_LOG_MAXIMUM_SIZE));
    }
    let viewer = EventViewer::new("").unwrap();
    let events: Vec<_> = kernel.written_entries().iter().map(|e| viewer.render(&e.packet).unwrap()).collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event_id, messages::event_id(messages::LOGBRIDGE_PARAMETER_DEFAULTED.id));
    assert_eq!(events[0].level_name, "Warning");
    assert_eq!(
        events[0].message,
        "LogBridge ignored the registry value MaxWriteSize under the LogBridge service's Parameters key: the value 0 is \
         invalid, so the default 65536 is used."
    );
    assert!(events[1].message.contains("EventLogBurst"), "{}", events[1].message);
    assert!(events[1].message.contains("the value (not a REG_DWORD) is invalid"), "{}", events[1].message);
    // The binary data carries the found and used values after the 40-byte header.
    assert_eq!(&events[0].binary_data[40..48], &[0, 0, 0, 0, 0x00, 0x00, 0x01, 0x00]);
    kernel.assert_clean();
}

#[test]
fn a_null_entry_for_the_defaulted_parameter_is_survived() {
    let kernel = ModelKernel::new(KernelOptions {
        faults: vec![FaultRule::parse("alloc-entry:1").unwrap()],
        ..KernelOptions::default()
    });
    let case = ParameterDefaulted { parameter: Parameter::RingLogSize, found: RegistryValue::Dword(1), used: 1 << 20 };
    assert!(!device::log_parameter_defaulted(&kernel, &case, ERROR_LOG_MAXIMUM_SIZE));
    assert!(kernel.written_entries().is_empty());
    assert!(device::log_parameter_defaulted(&kernel, &case, ERROR_LOG_MAXIMUM_SIZE));
    assert_eq!(kernel.written_entries().len(), 1);
    kernel.assert_clean();
}
