//! A parser of the message text (`.mc`) format that `mc.exe` and GNU `windmc` compile, and a
//! `FormatMessage`-style renderer of its texts.
//!
//! The model uses it to show what Event Viewer would display for an error-log packet, and the tests
//! use it to check `inf/logbridge.mc` against `logbridge_core::messages`.
//!
//! # Supported syntax (the documented `mc.exe` format)
//! * Comment lines starting with `;` (outside message text); `;` also ends a keyword line.
//! * `keyword = value` statements, several per line allowed, keywords in any case. Header keywords:
//!   `MessageIdTypedef`, `SeverityNames`, `FacilityNames`, `LanguageNames`, `OutputBase`. A list
//!   value `( name=number[:symbol] ... )` may span lines.
//! * Message definitions: `MessageId=[number|+number]`, then optional `Severity=`, `Facility=`,
//!   `SymbolicName=`, `OutputBase=`, then one or more `Language=name` blocks of text lines, each
//!   ended by a line holding a single `.`.
//! * Numbers in C syntax: `0x` hex, leading-`0` octal, or decimal.
//! * As `mc.exe` documents: a `MessageId` without a value is the previous id *of the same facility*
//!   plus one (`+n`: plus n); `Severity` and `Facility` default to the values of the previous
//!   message (initially `Success` and `Application`); the built-in names are `Success=0`,
//!   `Informational=1`, `Warning=2`, `Error=3`, `System=0x0FF`, `Application=0xFFF` and
//!   `English=1:MSG00001`, and the header adds to or overrides them. (GNU windmc 2.40 differs for
//!   files that rely on these defaults: it numbers ids across facilities and resets the severity
//!   and facility of each message; `inf/logbridge.mc` spells every value out.)
//!
//! Ids are built the way `mc -c` builds them: the customer bit is always set.
//!
//! # Message text
//! [`McMessage::text`] is the text of the first `Language` block as the message table stores it
//! (what `mc.exe` writes into the `.bin`): every source line followed by `"\r\n"`, except that a
//! message whose last line ends in `%0` gets no line break after it. Insert and escape sequences
//! are kept literally; [`MessageFile::format`] expands them.

use logbridge_core::messages::{CUSTOMER_BIT, Severity};
use std::collections::HashMap;

/// One message of a message file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct McMessage {
    /// `SymbolicName` (empty if the message has none).
    pub symbolic_name: String,
    /// The `MessageId` value: the low 16 bits of the full id (the Event ID).
    pub message_id: u16,
    /// `Severity`.
    pub severity: Severity,
    /// The facility code (12 bits).
    pub facility: u16,
    /// The text of the first language, as stored in the message table (see the module docs).
    pub text: String,
}

impl McMessage {
    /// Full 32-bit id as `mc -c` builds it (customer bit set).
    pub fn full_id(&self) -> u32 {
        ((self.severity as u32) << 30)
            | CUSTOMER_BIT
            | ((u32::from(self.facility) & 0x0FFF) << 16)
            | u32::from(self.message_id)
    }
}

/// A parsed message file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageFile {
    /// The messages, in file order.
    pub messages: Vec<McMessage>,
}

/// The embedded LogBridge message file (`inf/logbridge.mc`).
pub const LOGBRIDGE_MC: &str = include_str!("../../../inf/logbridge.mc");

impl MessageFile {
    /// Parses the text of a `.mc` file. The error message names the line number.
    pub fn parse(source: &str) -> Result<MessageFile, String> {
        Parser::new(source).run()
    }

    /// The message with this full 32-bit id (customer bit included).
    pub fn find(&self, full_id: u32) -> Option<&McMessage> {
        self.messages.iter().find(|m| m.full_id() == full_id)
    }

    /// FormatMessage-style rendering: %1..%99 replaced by inserts[n-1] (missing → left as "%n"),
    /// %% → %, %n → "\r\n", %r → "\r", %t → tab, %0 ends the message without a trailing newline,
    /// %. → ".", %! → "!", %space → space; each text line keeps its line break as "\r\n" (mc.exe
    /// behaviour) except when the message ends in %0.
    ///
    /// An insert may carry a printf-style format, `%n!fmt!`; the inserts here are strings, so the
    /// format is dropped and the string inserted as it is. `%` before any other character yields
    /// that character; a `%` at the very end stays.
    pub fn format(&self, full_id: u32, inserts: &[&str]) -> Option<String> {
        self.find(full_id).map(|m| render(&m.text, inserts))
    }
}

/// Expands the insert and escape sequences of a stored message text.
fn render(text: &str, inserts: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(&(at, next)) = chars.peek() else {
            out.push('%');
            break;
        };
        match next {
            '0' => return out,
            '1'..='9' => {
                chars.next();
                let mut number = next.to_digit(10).unwrap_or(0);
                let mut end = at + next.len_utf8();
                if let Some(&(at2, d)) = chars.peek()
                    && let Some(digit) = d.to_digit(10)
                {
                    chars.next();
                    number = number * 10 + digit;
                    end = at2 + d.len_utf8();
                }
                // An optional printf-style format, `!fmt!`, closed on the same line.
                let mut spec_end = end;
                let rest = &text[end..];
                if let Some(spec) = rest.strip_prefix('!') {
                    let line = spec.split(['\r', '\n']).next().unwrap_or("");
                    if let Some(close) = line.find('!') {
                        spec_end = end + 1 + close + 1;
                        while chars.peek().is_some_and(|&(i, _)| i < spec_end) {
                            chars.next();
                        }
                    }
                }
                match usize::try_from(number).ok().and_then(|n| n.checked_sub(1)).and_then(|i| inserts.get(i)) {
                    Some(insert) => out.push_str(insert),
                    None => {
                        out.push('%');
                        out.push_str(&text[at..spec_end]);
                    }
                }
            }
            'n' => {
                chars.next();
                out.push_str("\r\n");
            }
            'r' => {
                chars.next();
                out.push('\r');
            }
            't' => {
                chars.next();
                out.push('\t');
            }
            other => {
                // %%, %., %!, %space and any other character: the character itself.
                chars.next();
                out.push(other);
            }
        }
    }
    out
}

/// True if the line's last escape sequence is `%0` (so `%%0` does not count).
fn ends_with_terminator(line: &str) -> bool {
    let mut chars = line.chars();
    let mut last_was_terminator = false;
    while let Some(c) = chars.next() {
        last_was_terminator = false;
        if c == '%' && chars.next() == Some('0') {
            last_was_terminator = true;
        }
    }
    last_was_terminator
}

/// Parses a C integer constant: `0x` hex, leading-`0` octal, decimal.
fn parse_number(text: &str) -> Option<u32> {
    let text = text.trim();
    let (digits, radix) = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        (hex, 16)
    } else if let Some(octal) = text.strip_prefix('0').filter(|rest| !rest.is_empty()) {
        (octal, 8)
    } else {
        (text, 10)
    };
    // from_str_radix accepts a leading '+': allow digits only.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// How a `MessageId` statement gives its value.
#[derive(Clone, Copy, Debug)]
enum IdSpec {
    /// `MessageId=`: previous of the facility + 1.
    Next,
    /// `MessageId=+n`.
    Plus(u32),
    /// `MessageId=n`.
    Absolute(u32),
}

/// A message being defined.
#[derive(Debug)]
struct Pending {
    line: usize,
    id: IdSpec,
    /// The resolved `MessageId`, once the first `Language` block is reached.
    message_id: Option<u16>,
    symbolic_name: String,
    text: Option<String>,
    languages: Vec<String>,
}

/// A keyword's value: a plain token (possibly empty) or a parenthesised list.
enum Value {
    Token(String),
    List(String),
}

struct Parser<'a> {
    lines: Vec<&'a str>,
    /// Index of the next line to read.
    next: usize,
    /// name → severity value.
    severities: HashMap<String, u32>,
    /// name → facility code.
    facilities: HashMap<String, u16>,
    /// name → language id.
    languages: HashMap<String, u16>,
    /// The severity and facility in force (mc: "the value last specified").
    severity: Severity,
    facility: u16,
    /// Last id per facility.
    last_id: HashMap<u16, u16>,
    pending: Option<Pending>,
    messages: Vec<(usize, McMessage)>,
}

impl<'a> Parser<'a> {
    fn new(source: &'a str) -> Parser<'a> {
        let severities = [("Success", 0), ("Informational", 1), ("Warning", 2), ("Error", 3)]
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        let facilities =
            [("System", 0x0FF), ("Application", 0xFFF)].into_iter().map(|(n, v)| (n.to_string(), v)).collect();
        let languages = [("English".to_string(), 1)].into_iter().collect();
        Parser {
            lines: source.lines().map(|l| l.strip_suffix('\r').unwrap_or(l)).collect(),
            next: 0,
            severities,
            facilities,
            languages,
            severity: Severity::Success,
            facility: 0xFFF,
            last_id: HashMap::new(),
            pending: None,
            messages: Vec::new(),
        }
    }

    fn run(mut self) -> Result<MessageFile, String> {
        while let Some(&line) = self.lines.get(self.next) {
            let line_no = self.next + 1;
            self.next += 1;
            self.statements(line, line_no)?;
        }
        self.finish_pending()?;
        let mut seen_ids: HashMap<u32, usize> = HashMap::new();
        let mut seen_names: HashMap<&str, usize> = HashMap::new();
        for (line, message) in &self.messages {
            if let Some(first) = seen_ids.insert(message.full_id(), *line) {
                return Err(format!(
                    "line {line}: duplicate message id 0x{:08X} ({}), first defined at line {first}",
                    message.full_id(),
                    message.symbolic_name
                ));
            }
            if !message.symbolic_name.is_empty()
                && let Some(first) = seen_names.insert(&message.symbolic_name, *line)
            {
                return Err(format!(
                    "line {line}: duplicate SymbolicName {}, first defined at line {first}",
                    message.symbolic_name
                ));
            }
        }
        Ok(MessageFile { messages: self.messages.into_iter().map(|(_, m)| m).collect() })
    }

    /// Parses the `keyword=value` statements of one line (and of the lines a list spans).
    fn statements(&mut self, line: &'a str, line_no: usize) -> Result<(), String> {
        let mut rest = line;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() || rest.starts_with(';') {
                return Ok(());
            }
            let key_len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            let (key, after) = rest.split_at(key_len);
            if key.is_empty() {
                return Err(format!("line {line_no}: expected a keyword, found {:?}", rest));
            }
            let Some(after) = after.trim_start().strip_prefix('=') else {
                return Err(format!("line {line_no}: expected '=' after {key}"));
            };
            let after = after.trim_start();
            let value;
            if let Some(list) = after.strip_prefix('(') {
                let (contents, remainder) = self.list(list, line_no)?;
                value = Value::List(contents);
                rest = remainder;
            } else {
                let end = after.find(|c: char| c.is_whitespace() || c == ';').unwrap_or(after.len());
                value = Value::Token(after[..end].to_string());
                rest = &after[end..];
            }
            let is_language = key.eq_ignore_ascii_case("Language");
            self.keyword(key, value, line_no)?;
            if is_language {
                let trailing = rest.trim();
                if !trailing.is_empty() {
                    return Err(format!(
                        "line {line_no}: unexpected {trailing:?} after Language=; the text starts on the next line"
                    ));
                }
                return self.text(line_no);
            }
        }
    }

    /// Collects a parenthesised list that starts in `first` (after the `(`) and may continue on the
    /// following lines. Returns the contents and what follows the `)` on its line.
    fn list(&mut self, first: &'a str, line_no: usize) -> Result<(String, &'a str), String> {
        let mut contents = String::new();
        let mut current = first;
        loop {
            if let Some(close) = current.find(')') {
                contents.push_str(&current[..close]);
                return Ok((contents, &current[close + 1..]));
            }
            let part = current.split(';').next().unwrap_or("");
            contents.push_str(part);
            contents.push(' ');
            let Some(&line) = self.lines.get(self.next) else {
                return Err(format!("line {line_no}: the list opened here has no closing ')'"));
            };
            self.next += 1;
            current = line;
        }
    }

    fn keyword(&mut self, key: &str, value: Value, line_no: usize) -> Result<(), String> {
        let lower = key.to_ascii_lowercase();
        match (lower.as_str(), value) {
            ("messageidtypedef", Value::Token(t)) => {
                if !t.is_empty() && !is_identifier(&t) {
                    return Err(format!("line {line_no}: MessageIdTypedef {t:?} is not a C identifier"));
                }
            }
            ("outputbase", Value::Token(t)) => match parse_number(&t) {
                Some(10 | 16) => {}
                _ => {
                    return Err(format!("line {line_no}: OutputBase must be 10 or 16, not {t:?}"));
                }
            },
            ("severitynames", Value::List(list)) => {
                for (name, number, _) in name_list(&list, line_no, "SeverityNames")? {
                    if number > 3 {
                        return Err(format!("line {line_no}: severity {name}=0x{number:X} does not fit in 2 bits"));
                    }
                    self.severities.insert(name, number);
                }
            }
            ("facilitynames", Value::List(list)) => {
                for (name, number, _) in name_list(&list, line_no, "FacilityNames")? {
                    let code = u16::try_from(number).ok().filter(|&c| c <= 0x0FFF).ok_or_else(|| {
                        format!("line {line_no}: facility {name}=0x{number:X} does not fit in 12 bits")
                    })?;
                    self.facilities.insert(name, code);
                }
            }
            ("languagenames", Value::List(list)) => {
                for (name, number, file) in name_list(&list, line_no, "LanguageNames")? {
                    if file.is_none() {
                        return Err(format!("line {line_no}: language {name} needs a file name (name=number:file)"));
                    }
                    let id = u16::try_from(number)
                        .map_err(|_| format!("line {line_no}: language id 0x{number:X} of {name} is too large"))?;
                    self.languages.insert(name, id);
                }
            }
            ("messageid", Value::Token(t)) => {
                self.finish_pending()?;
                let id = if t.is_empty() {
                    IdSpec::Next
                } else if let Some(plus) = t.strip_prefix('+') {
                    IdSpec::Plus(parse_number(plus).ok_or_else(|| format!("line {line_no}: bad MessageId {t:?}"))?)
                } else {
                    IdSpec::Absolute(parse_number(&t).ok_or_else(|| format!("line {line_no}: bad MessageId {t:?}"))?)
                };
                self.pending = Some(Pending {
                    line: line_no,
                    id,
                    message_id: None,
                    symbolic_name: String::new(),
                    text: None,
                    languages: Vec::new(),
                });
            }
            ("severity", Value::Token(t)) => {
                self.definition(key, line_no)?;
                let value =
                    *self.severities.get(&t).ok_or_else(|| format!("line {line_no}: unknown severity {t:?}"))?;
                self.severity = Severity::of(value << 30);
            }
            ("facility", Value::Token(t)) => {
                self.definition(key, line_no)?;
                self.facility =
                    *self.facilities.get(&t).ok_or_else(|| format!("line {line_no}: unknown facility {t:?}"))?;
            }
            ("symbolicname", Value::Token(t)) => {
                let pending = self.definition(key, line_no)?;
                if !is_identifier(&t) {
                    return Err(format!("line {line_no}: SymbolicName {t:?} is not a C identifier"));
                }
                pending.symbolic_name = t;
            }
            ("language", Value::Token(t)) => {
                if !self.languages.contains_key(&t) {
                    return Err(format!("line {line_no}: unknown language {t:?} (not in LanguageNames)"));
                }
                let facility = self.facility;
                let Some(pending) = self.pending.as_mut() else {
                    return Err(format!("line {line_no}: Language= outside a message definition (MessageId= first)"));
                };
                if pending.languages.contains(&t) {
                    return Err(format!("line {line_no}: the message has a second {t} text"));
                }
                pending.languages.push(t);
                if pending.message_id.is_none() {
                    // The id is resolved once the facility is known.
                    let previous = u32::from(self.last_id.get(&facility).copied().unwrap_or(0));
                    let id = match pending.id {
                        IdSpec::Next => previous.checked_add(1),
                        IdSpec::Plus(n) => previous.checked_add(n),
                        IdSpec::Absolute(n) => Some(n),
                    };
                    let id = id
                        .and_then(|id| u16::try_from(id).ok())
                        .ok_or_else(|| format!("line {}: MessageId does not fit in 16 bits", pending.line))?;
                    pending.message_id = Some(id);
                    self.last_id.insert(facility, id);
                }
            }
            (
                "messageidtypedef" | "outputbase" | "messageid" | "severity" | "facility" | "symbolicname" | "language",
                Value::List(_),
            ) => {
                return Err(format!("line {line_no}: {key} takes a single value, not a list"));
            }
            ("severitynames" | "facilitynames" | "languagenames", Value::Token(_)) => {
                return Err(format!("line {line_no}: {key} takes a list: {key}=(name=number ...)"));
            }
            _ => return Err(format!("line {line_no}: unknown keyword {key}")),
        }
        Ok(())
    }

    /// The message being defined, for a keyword that is only valid inside a definition.
    fn definition(&mut self, key: &str, line_no: usize) -> Result<&mut Pending, String> {
        match self.pending.as_mut() {
            Some(pending) if pending.languages.is_empty() => Ok(pending),
            Some(_) => {
                Err(format!("line {line_no}: {key}= after the message text; start a new message with MessageId="))
            }
            None => Err(format!("line {line_no}: {key}= outside a message definition (MessageId= first)")),
        }
    }

    /// Reads text lines after `Language=` (on line `line_no`) up to the lone `.`.
    fn text(&mut self, line_no: usize) -> Result<(), String> {
        let mut lines: Vec<&str> = Vec::new();
        loop {
            let Some(&line) = self.lines.get(self.next) else {
                return Err(format!(
                    "line {line_no}: the message text that starts after this line has no terminating line with a single '.'"
                ));
            };
            self.next += 1;
            if line.trim_end() == "." {
                break;
            }
            lines.push(line);
        }
        let mut text = String::new();
        for (index, line) in lines.iter().enumerate() {
            text.push_str(line);
            let last = index + 1 == lines.len();
            if !(last && ends_with_terminator(line)) {
                text.push_str("\r\n");
            }
        }
        if let Some(pending) = self.pending.as_mut()
            && pending.text.is_none()
        {
            pending.text = Some(text);
        }
        Ok(())
    }

    /// Ends the message being defined: it must have a text.
    fn finish_pending(&mut self) -> Result<(), String> {
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        let (Some(text), Some(message_id)) = (pending.text, pending.message_id) else {
            return Err(format!("line {}: the message has no Language= text", pending.line));
        };
        self.messages.push((
            pending.line,
            McMessage {
                symbolic_name: pending.symbolic_name,
                message_id,
                severity: self.severity,
                facility: self.facility,
                text,
            },
        ));
        Ok(())
    }
}

/// Parses `name=number[:symbol-or-file] ...` of a `*Names` list.
fn name_list(list: &str, line_no: usize, keyword: &str) -> Result<Vec<(String, u32, Option<String>)>, String> {
    let mut out = Vec::new();
    for item in list.split_whitespace() {
        let (name, rest) = item
            .split_once('=')
            .ok_or_else(|| format!("line {line_no}: {keyword} entry {item:?} is not name=number[:name]"))?;
        let (number, extra) = match rest.split_once(':') {
            Some((number, extra)) => (number, Some(extra.to_string())),
            None => (rest, None),
        };
        if !is_identifier(name) {
            return Err(format!("line {line_no}: {keyword} name {name:?} is not an identifier"));
        }
        let number =
            parse_number(number).ok_or_else(|| format!("line {line_no}: {keyword} entry {item:?} has a bad number"))?;
        if extra.as_deref().is_some_and(|e| e.is_empty()) {
            return Err(format!("line {line_no}: {keyword} entry {item:?} has an empty name after ':'"));
        }
        out.push((name.to_string(), number, extra));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_core::messages::MESSAGES;

    const HEADER: &str = "MessageIdTypedef=NTSTATUS\n\
        SeverityNames=(Success=0x0:STATUS_SEVERITY_SUCCESS\n    Informational=0x1:STATUS_SEVERITY_INFORMATIONAL\n    Warning=0x2:STATUS_SEVERITY_WARNING\n    Error=0x3:STATUS_SEVERITY_ERROR\n)\n\
        FacilityNames=(System=0x0 Io=0x4:FACILITY_IO_ERROR_CODE)\n\
        LanguageNames=(English=0x409:MSG00409)\n";

    fn parse(body: &str) -> Result<MessageFile, String> {
        MessageFile::parse(&format!("{HEADER}{body}"))
    }

    #[test]
    fn the_logbridge_file_parses_and_matches_the_core_table() {
        let file = MessageFile::parse(LOGBRIDGE_MC).unwrap();
        assert_eq!(file.messages.len(), MESSAGES.len());
        for (m, core) in file.messages.iter().zip(MESSAGES) {
            assert_eq!(m.symbolic_name, core.symbolic_name);
            assert_eq!(m.full_id(), core.id);
            assert_eq!(m.severity, core.severity());
            assert_eq!(m.facility, 4);
            assert!(m.text.ends_with("\r\n"));
            assert!(file.find(core.id).is_some());
        }
        let write = file.format(MESSAGES[0].id, &["", "7", "12", "4321", "hello"]).unwrap();
        assert_eq!(write, "LogBridge record 7: 12 bytes written by process 4321. Preview: hello\r\n");
    }

    #[test]
    fn ids_severities_and_facilities_are_combined_like_mc_c() {
        let file = parse(
            "; a comment\n\
             MessageId=0x0001\nSeverity=Error\nFacility=Io\nSymbolicName=A\nLanguage=English\nfirst\n.\n\
             MessageId=2 Severity=Informational Facility=Io SymbolicName=B\nLanguage=English\nsecond\n.\n",
        )
        .unwrap();
        assert_eq!(file.messages[0].full_id(), 0xE004_0001);
        assert_eq!(file.messages[1].full_id(), 0x6004_0002);
        assert_eq!(file.messages[1].severity, Severity::Informational);
        assert_eq!(file.find(0xE004_0001).map(|m| m.symbolic_name.as_str()), Some("A"));
        assert!(file.find(0xC004_0001).is_none(), "the customer bit is part of the id");
        assert!(file.find(0x0000_0001).is_none());
    }

    #[test]
    fn missing_ids_continue_per_facility_and_severity_and_facility_carry_over() {
        let file = parse(
            "MessageId=\nSeverity=Warning\nFacility=Io\nSymbolicName=A\nLanguage=English\na\n.\n\
             MessageId=\nSymbolicName=B\nLanguage=English\nb\n.\n\
             MessageId=0x10\nFacility=System\nSymbolicName=C\nLanguage=English\nc\n.\n\
             MessageId=\nFacility=Io\nSymbolicName=D\nLanguage=English\nd\n.\n\
             MessageId=+5\nSeverity=Error\nSymbolicName=E\nLanguage=English\ne\n.\n\
             MessageId=010\nFacility=System\nSymbolicName=F\nLanguage=English\nf\n.\n\
             MessageId=65535\nSymbolicName=G\nLanguage=English\ng\n.\n",
        )
        .unwrap();
        let ids: Vec<(&str, u16, u16, Severity)> =
            file.messages.iter().map(|m| (m.symbolic_name.as_str(), m.message_id, m.facility, m.severity)).collect();
        assert_eq!(
            ids,
            [
                ("A", 1, 4, Severity::Warning),
                ("B", 2, 4, Severity::Warning),
                ("C", 0x10, 0, Severity::Warning),
                ("D", 3, 4, Severity::Warning),
                ("E", 8, 4, Severity::Error),
                ("F", 8, 0, Severity::Error), // 010 is octal (C syntax)
                ("G", 0xFFFF, 0, Severity::Error),
            ]
        );
    }

    #[test]
    fn built_in_names_apply_without_a_header() {
        let file = MessageFile::parse("MessageId=5\nSymbolicName=X\nLanguage=English\nx\n.\n").unwrap();
        let m = &file.messages[0];
        assert_eq!((m.severity, m.facility, m.message_id), (Severity::Success, 0xFFF, 5));
        assert_eq!(m.full_id(), 0x2FFF_0005);
        let file =
            MessageFile::parse("MessageId=5\nSeverity=Error\nFacility=System\nLanguage=English\nx\n.\n").unwrap();
        assert_eq!(file.messages[0].full_id(), 0xE0FF_0005);
        assert_eq!(file.messages[0].symbolic_name, "");
    }

    #[test]
    fn text_lines_end_in_crlf_and_other_languages_are_checked_but_not_kept() {
        let file = parse(
            "LanguageNames=(German=0x407:MSG00407)\r\n\
             MessageId=1\r\nSeverity=Warning\r\nFacility=Io\r\nSymbolicName=A\r\n\
             Language=English\r\nline one %2\r\n  indented; not a comment\r\n.notaterminator\r\n.\r\n\
             Language=German\r\nZeile %2\r\n.  \r\n",
        )
        .unwrap();
        assert_eq!(file.messages[0].text, "line one %2\r\n  indented; not a comment\r\n.notaterminator\r\n");
        let file = parse("MessageId=1\nSeverity=Warning\nFacility=Io\nLanguage=English\nno break%0\n.\n").unwrap();
        assert_eq!(file.messages[0].text, "no break%0");
        let file = parse("MessageId=1\nSeverity=Warning\nFacility=Io\nLanguage=English\n100%%0\n.\n").unwrap();
        assert_eq!(file.messages[0].text, "100%%0\r\n", "%%0 is a percent sign and a zero");
    }

    #[test]
    fn format_expands_inserts_and_escapes_like_format_message() {
        let file = parse(
            "MessageId=1\nSeverity=Informational\nFacility=Io\nSymbolicName=A\nLanguage=English\n\
             dev=%1 a=%2 b=%3!s! c=%11 missing=%4 pct=100%% nl=%n cr=%r tab=%t dot=%. bang=%! sp=% end\n\
             second line\n.\n\
             MessageId=2\nSymbolicName=B\nLanguage=English\nstop here%0 not shown\n.\n\
             MessageId=3\nSymbolicName=C\nLanguage=English\nkeep %12!u! and %5!x\n.\n",
        )
        .unwrap();
        let inserts: Vec<String> = (1..=11).map(|n| format!("<{n}>")).collect();
        let inserts: Vec<&str> = inserts.iter().map(String::as_str).collect();
        let mut few = inserts[..3].to_vec();
        few[0] = "";
        assert_eq!(
            file.format(0x6004_0001, &few).unwrap(),
            "dev= a=<2> b=<3> c=%11 missing=%4 pct=100% nl=\r\n cr=\r tab=\t dot=. bang=! sp= end\r\nsecond line\r\n"
        );
        assert_eq!(file.format(0x6004_0001, &inserts).unwrap().split(' ').nth(3), Some("c=<11>"));
        assert_eq!(file.format(0x6004_0002, &[]).unwrap(), "stop here");
        assert_eq!(file.format(0x6004_0003, &[]).unwrap(), "keep %12!u! and %5!x\r\n");
        assert_eq!(file.format(0x6004_0003, &inserts).unwrap(), "keep %12!u! and <5>!x\r\n");
        assert_eq!(file.format(0x6004_0004, &[]), None);
    }

    #[test]
    fn malformed_files_are_refused_with_a_line_number() {
        let cases: &[(&str, &str)] = &[
            (
                "MessageId=1\nSeverity=Fatal\nFacility=Io\nLanguage=English\nx\n.\n",
                "line 3: unknown severity \"Fatal\"",
            ),
            ("MessageId=1\nFacility=Disk\nLanguage=English\nx\n.\n", "line 3: unknown facility"),
            ("MessageId=1\nSeverity=Error\nFacility=Io\nLanguage=English\nunterminated\n", "line 5: the message text"),
            (
                "MessageId=1\nSeverity=Error\nFacility=Io\nSymbolicName=A\nLanguage=English\nx\n.\n\
                 MessageId=0x1\nSymbolicName=B\nLanguage=English\ny\n.\n",
                "line 9: duplicate message id 0xE0040001 (B), first defined at line 2",
            ),
            (
                "MessageId=1\nFacility=Io\nSymbolicName=A\nLanguage=English\nx\n.\nMessageId=2\nSymbolicName=A\nLanguage=English\ny\n.\n",
                "line 8: duplicate SymbolicName A",
            ),
            ("MessageId=1\nLanguage=French\nx\n.\n", "line 3: unknown language"),
            (
                "MessageId=1\nSymbolicName=A\nMessageId=2\nLanguage=English\nx\n.\n",
                "line 2: the message has no Language= text",
            ),
            ("MessageId=1\nSymbolicName=A\n", "line 2: the message has no Language= text"),
            ("MessageId=1\nLanguage=English\nx\n.\n", ""), // valid: checks the harness
            ("MessageId=0x10000\nLanguage=English\nx\n.\n", "line 2: MessageId does not fit in 16 bits"),
            ("MessageId=12z\n", "line 2: bad MessageId"),
            ("Severity=Error\n", "line 2: Severity= outside a message definition"),
            ("Language=English\nx\n.\n", "line 2: Language= outside a message definition"),
            ("MessageId=1\nLanguage=English\nx\n.\nSeverity=Error\n", "line 6: Severity= after the message text"),
            ("Frobnicate=1\n", "line 2: unknown keyword Frobnicate"),
            ("just some words\n", "line 2: expected '=' after just"),
            ("SeverityNames=(Fatal=0x4)\n", "line 2: severity Fatal=0x4 does not fit in 2 bits"),
            ("FacilityNames=(Big=0x1000)\n", "line 2: facility Big=0x1000 does not fit in 12 bits"),
            ("FacilityNames=(Io=0x4\n", "line 2: the list opened here has no closing ')'"),
            ("LanguageNames=(French=0x40C)\n", "line 2: language French needs a file name"),
            ("SeverityNames=Error\n", "line 2: SeverityNames takes a list"),
            ("MessageId=(1)\n", "line 2: MessageId takes a single value"),
            ("OutputBase=8\n", "line 2: OutputBase must be 10 or 16"),
            ("MessageId=1\nLanguage=English trailing\nx\n.\n", "line 3: unexpected"),
            (
                "MessageId=1\nLanguage=English\nx\n.\nLanguage=English\ny\n.\n",
                "line 6: the message has a second English text",
            ),
            ("MessageId=1\nSymbolicName=not-an-identifier\nLanguage=English\nx\n.\n", "line 3: SymbolicName"),
        ];
        for (body, expected) in cases {
            match MessageFile::parse(&format!("FacilityNames=(System=0x0 Io=0x4:FACILITY_IO_ERROR_CODE)\n{body}")) {
                Ok(_) => assert!(expected.is_empty(), "accepted {body:?}; expected {expected:?}"),
                Err(error) => {
                    assert!(
                        !expected.is_empty() && error.starts_with(expected),
                        "{body:?}: got {error:?}, expected {expected:?}"
                    )
                }
            }
        }
    }

    #[test]
    fn numbers_use_c_syntax() {
        assert_eq!(parse_number("0x1F"), Some(31));
        assert_eq!(parse_number("0X1f"), Some(31));
        assert_eq!(parse_number("017"), Some(15));
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("42"), Some(42));
        assert_eq!(parse_number("08"), None);
        assert_eq!(parse_number("-1"), None);
        assert_eq!(parse_number("+1"), None);
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number("0x+1"), None);
        assert_eq!(parse_number("0xFFFFFFFF"), Some(u32::MAX));
        assert_eq!(parse_number("0x100000000"), None);
    }
}
