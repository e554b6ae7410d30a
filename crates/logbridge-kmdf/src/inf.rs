//! What installing the package sets up, read from the package's own INF source
//! (`inf/logbridge.inx`): the device node's security and characteristics (its `.HW` `AddReg`) and
//! the service's `Parameters` values (`FLG_ADDREG_TYPE_DWORD` lines). PnP and the registry of the
//! model start from exactly what `pnputil /add-driver` would apply.

/// The INF source, as packaged.
pub const INX: &str = include_str!("../../../inf/logbridge.inx");

/// What the INF applies.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct InfSettings {
    /// `HKR,,Security,,"SDDL"` of the device node.
    pub device_security: Option<String>,
    /// `HKR,,DeviceCharacteristics,0x00010001,VALUE`.
    pub device_characteristics: u32,
    /// `HKR,Parameters,NAME,0x00010001|0x00010003,VALUE`: the service's `Parameters` values.
    pub parameters: Vec<(String, u32)>,
}

fn parse_number(text: &str) -> Option<u32> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The line without its comment: a `;` outside double quotes starts one.
fn without_comment(line: &str) -> &str {
    let mut quoted = false;
    for (index, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => return &line[..index],
            _ => {}
        }
    }
    line
}

/// Reads the `HKR` lines of an INF.
pub fn read(inf: &str) -> InfSettings {
    let mut settings = InfSettings::default();
    for line in inf.lines() {
        let line = without_comment(line).trim();
        let Some(rest) = line.strip_prefix("HKR,") else { continue };
        let fields: Vec<&str> = rest.splitn(4, ',').map(str::trim).collect();
        let [subkey, name, flags, value] = fields.as_slice() else { continue };
        let dword = parse_number(flags).is_some_and(|f| f & 0xFFFF_0000 == 0x0001_0000);
        match (*subkey, *name) {
            ("", "Security") => settings.device_security = Some(value.trim_matches('"').to_string()),
            ("", "DeviceCharacteristics") if dword => {
                settings.device_characteristics = parse_number(value).unwrap_or(0);
            }
            ("Parameters", name) if dword => {
                if let Some(value) = parse_number(value) {
                    settings.parameters.push((name.to_string(), value));
                }
            }
            _ => {}
        }
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_inf_secures_the_device_and_sets_the_parameters() {
        let settings = read(INX);
        assert_eq!(settings.device_security.as_deref(), Some("D:P(A;;GA;;;SY)(A;;GA;;;BA)"));
        assert_eq!(settings.device_characteristics & crate::security::FILE_DEVICE_SECURE_OPEN, 0x100);
        let names: Vec<&str> = settings.parameters.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["RingLogSize", "EventLogBurst", "EventLogRatePerSecond", "MaxWriteSize"]);
    }
}
