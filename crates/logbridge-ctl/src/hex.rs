//! Hex text in and out.
//!
//! # The input rule (`decode ... --hex HEX`)
//! * Hex digits `0-9`, `a-f`, `A-F`, two per byte, most significant nibble first.
//! * ASCII whitespace (space, tab, CR, LF, form feed) anywhere is ignored, so `de ad be ef`,
//!   `DEADBEEF` and a multi-line `xxd -p` dump are all accepted. Whitespace may even split a byte.
//! * Anything else is an error naming the character and its position: no `0x` prefix, no `:`,
//!   `-` or `,` separators, no `\x` escapes. Positions count characters from 1, whitespace included.
//! * After whitespace is removed the number of digits must be even.
//! * Empty input (or only whitespace) is zero bytes.
//!
//! Output is lowercase hex with no separators ([`encode`]).

use std::fmt;

/// Why hex text was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HexError {
    /// A character that is neither a hex digit nor whitespace.
    InvalidChar {
        /// The character.
        ch: char,
        /// Its position, counting characters from 1.
        position: usize,
    },
    /// An odd number of hex digits: the last byte is incomplete.
    OddDigits {
        /// How many digits there are.
        digits: usize,
    },
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HexError::InvalidChar { ch, position } => {
                write!(
                    f,
                    "invalid hex: {ch:?} at position {position} is not a hex digit \
                     (only 0-9, a-f, A-F and whitespace are allowed; no 0x prefix, no separators)"
                )
            }
            HexError::OddDigits { digits } => {
                write!(f, "invalid hex: {digits} hex digits is an odd number; the last byte is incomplete")
            }
        }
    }
}

impl std::error::Error for HexError {}

/// Parses hex text by the rule in the module documentation.
pub fn parse(text: &str) -> Result<Vec<u8>, HexError> {
    let mut digits = String::with_capacity(text.len());
    for (index, ch) in text.chars().enumerate() {
        if ch.is_ascii_hexdigit() {
            digits.push(ch);
        } else if !ch.is_ascii_whitespace() {
            return Err(HexError::InvalidChar { ch, position: index.saturating_add(1) });
        }
    }
    if !digits.len().is_multiple_of(2) {
        return Err(HexError::OddDigits { digits: digits.len() });
    }
    // Every character is a hex digit and their number is even, so this cannot fail; map the error
    // anyway rather than trusting that.
    ::hex::decode(&digits).map_err(|_| HexError::OddDigits { digits: digits.len() })
}

/// Lowercase hex, two digits per byte, no separators.
pub fn encode(bytes: &[u8]) -> String {
    ::hex::encode(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn digits_in_either_case() {
        assert_eq!(parse("deadBEEF").unwrap(), [0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(parse("00ff7F").unwrap(), [0x00, 0xff, 0x7f]);
    }

    #[test]
    fn whitespace_anywhere_is_ignored() {
        assert_eq!(parse(" de ad\tbe\nef \r\n").unwrap(), [0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(parse("d e").unwrap(), [0xde]);
        assert_eq!(parse("").unwrap(), Vec::<u8>::new());
        assert_eq!(parse(" \n\t ").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn other_characters_are_named_with_their_position() {
        assert_eq!(parse("0x12"), Err(HexError::InvalidChar { ch: 'x', position: 2 }));
        assert_eq!(parse("de:ad"), Err(HexError::InvalidChar { ch: ':', position: 3 }));
        assert_eq!(parse("de-ad"), Err(HexError::InvalidChar { ch: '-', position: 3 }));
        assert_eq!(parse("de ad,"), Err(HexError::InvalidChar { ch: ',', position: 6 }));
        assert_eq!(parse("zz"), Err(HexError::InvalidChar { ch: 'z', position: 1 }));
        // Positions count characters, not bytes.
        assert_eq!(parse("é0"), Err(HexError::InvalidChar { ch: 'é', position: 1 }));
        assert_eq!(parse("00é"), Err(HexError::InvalidChar { ch: 'é', position: 3 }));
        // Non-ASCII whitespace is not whitespace here.
        assert_eq!(parse("00\u{a0}11"), Err(HexError::InvalidChar { ch: '\u{a0}', position: 3 }));
        // The first bad character is reported, even before an odd count.
        assert_eq!(parse("abc:"), Err(HexError::InvalidChar { ch: ':', position: 4 }));
    }

    #[test]
    fn an_odd_number_of_digits_is_refused() {
        assert_eq!(parse("abc"), Err(HexError::OddDigits { digits: 3 }));
        assert_eq!(parse("a b c"), Err(HexError::OddDigits { digits: 3 }));
        assert_eq!(parse("f"), Err(HexError::OddDigits { digits: 1 }));
    }

    #[test]
    fn messages_name_the_problem() {
        let message = parse("0x00").unwrap_err().to_string();
        assert!(message.contains("'x' at position 2"), "{message}");
        assert!(message.contains("no 0x prefix"), "{message}");
        let message = parse("123").unwrap_err().to_string();
        assert!(message.contains("3 hex digits"), "{message}");
        // Control characters are escaped, not printed raw.
        let message = parse("\u{1b}").unwrap_err().to_string();
        assert!(message.contains("'\\u{1b}'"), "{message}");
    }

    #[test]
    fn encode_is_lowercase_without_separators() {
        assert_eq!(encode(&[0xDE, 0xAD, 0x00, 0x0f]), "dead000f");
        assert_eq!(encode(&[]), "");
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(parse(&encode(&bytes)).unwrap(), bytes.clone());
            prop_assert_eq!(parse(&encode(&bytes).to_uppercase()).unwrap(), bytes);
        }

        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            let _ = parse(&text);
        }
    }
}
