//! o200k_base's pre-tokenizer for ASCII text, written out by hand.
//!
//! The pattern (in [`super::bpe`]) is matched by a backtracking regex engine, which costs about
//! 3,000 instructions per piece; most text a benchmark counts is ASCII, where the pattern's
//! Unicode classes collapse to byte classes and its backtracking to a few scans. [`ascii_piece`]
//! gives the end of the piece starting at a position exactly as the regex would, or `None` when
//! deciding would mean looking at a non-ASCII byte, and the caller asks the regex instead. The
//! tests compare the two on random text.
//!
//! The alternatives, in the order the regex tries them, with what each becomes on ASCII
//! (`P` = not `\r`, `\n`, a letter or a digit; `Q` = not whitespace, a letter or a digit):
//! 1. `P? upper* lower+ contraction?` — an optional `P`, capitals, then at least one lowercase
//!    letter (only `Lm`/`Lo`/`M` are in both letter classes, and none is ASCII, so backtracking
//!    never changes the answer);
//! 2. `P? upper+ lower* contraction?` — reached only when no lowercase letter follows;
//! 3. up to three digits;
//! 4. an optional space, a run of `Q`, then any `\r`, `\n` and `/`;
//! 5. whitespace up to and including its last line break;
//! 6. whitespace not followed by a non-space: the run, less its last character unless the
//!    text ends there;
//! 7. whitespace.

/// What the pattern sees in an ASCII byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Upper,
    Lower,
    Digit,
    /// `\r` or `\n`.
    LineBreak,
    /// Other whitespace: space, tab, vertical tab, form feed.
    Space,
    /// Anything else ASCII: punctuation, symbols, control characters.
    Other,
    /// A byte of a non-ASCII character: the caller must ask the regex.
    NonAscii,
    /// Past the end of the text.
    End,
}

fn class(text: &[u8], at: usize) -> Class {
    match text.get(at) {
        None => Class::End,
        Some(b'A'..=b'Z') => Class::Upper,
        Some(b'a'..=b'z') => Class::Lower,
        Some(b'0'..=b'9') => Class::Digit,
        Some(b'\r' | b'\n') => Class::LineBreak,
        Some(b'\t' | 0x0B | 0x0C | b' ') => Class::Space,
        Some(0x80..) => Class::NonAscii,
        Some(_) => Class::Other,
    }
}

/// The first position at or after `from` whose class is not `keep`.
fn run_end(text: &[u8], from: usize, keep: impl Fn(Class) -> bool) -> usize {
    let mut at = from;
    while keep(class(text, at)) {
        at += 1;
    }
    at
}

/// The end of the piece starting at `start` (which must be a piece boundary), or `None` when a
/// non-ASCII byte would decide it.
pub fn ascii_piece(text: &[u8], start: usize) -> Option<usize> {
    let first = class(text, start);
    match first {
        Class::NonAscii | Class::End => None,
        // A letter always starts a word; `None` (ask the regex) is the safe answer regardless.
        Class::Upper | Class::Lower => word(text, start, first).flatten(),
        Class::Digit => {
            let end = run_end(text, start, |c| c == Class::Digit).min(start + 3);
            if end < start + 3 && class(text, end) == Class::NonAscii {
                return None;
            }
            Some(end)
        }
        Class::Space | Class::Other => match word(text, start, first)? {
            Some(end) => Some(end),
            None => match punctuation(text, start)? {
                Some(end) => Some(end),
                None => whitespace(text, start),
            },
        },
        Class::LineBreak => whitespace(text, start),
    }
}

/// Alternatives 1 and 2. `Some(None)` when neither matches.
fn word(text: &[u8], start: usize, first: Class) -> Option<Option<usize>> {
    let letters = if matches!(first, Class::Space | Class::Other) {
        start + 1
    } else {
        start
    };
    let capitals_end = run_end(text, letters, |c| c == Class::Upper);
    match class(text, capitals_end) {
        Class::NonAscii => None,
        Class::Lower => {
            let end = run_end(text, capitals_end, |c| c == Class::Lower);
            if class(text, end) == Class::NonAscii {
                return None;
            }
            contraction(text, end).map(Some)
        }
        _ if capitals_end > letters => contraction(text, capitals_end).map(Some),
        _ => Some(None),
    }
}

/// Where an optional `'s`, `'t`, `'re`, `'ve`, `'m`, `'ll` or `'d` (any case) after `at` ends.
fn contraction(text: &[u8], at: usize) -> Option<usize> {
    if text.get(at) != Some(&b'\'') {
        return Some(at);
    }
    let next = |i: usize| match class(text, i) {
        Class::NonAscii => None,
        _ => Some(text.get(i).map(u8::to_ascii_lowercase)),
    };
    Some(match next(at + 1)? {
        Some(b's' | b't' | b'm' | b'd') => at + 2,
        Some(first @ (b'r' | b'v' | b'l')) => {
            let second = if first == b'l' { b'l' } else { b'e' };
            if next(at + 2)? == Some(second) {
                at + 3
            } else {
                at
            }
        }
        _ => at,
    })
}

/// Alternative 4. `Some(None)` when it does not match.
fn punctuation(text: &[u8], start: usize) -> Option<Option<usize>> {
    let run_start = if text[start] == b' ' {
        start + 1
    } else {
        start
    };
    match class(text, run_start) {
        Class::NonAscii => None,
        Class::Other => {
            let end = run_end(text, run_start, |c| c == Class::Other);
            if class(text, end) == Class::NonAscii {
                return None;
            }
            let mut end = end;
            while matches!(text.get(end), Some(b'\r' | b'\n' | b'/')) {
                end += 1;
            }
            Some(Some(end))
        }
        _ => Some(None),
    }
}

/// Alternatives 5 to 7, for a piece starting with whitespace.
fn whitespace(text: &[u8], start: usize) -> Option<usize> {
    let end = run_end(text, start, |c| {
        matches!(c, Class::Space | Class::LineBreak)
    });
    match class(text, end) {
        Class::NonAscii => return None,
        _ if end == start => return None,
        _ => {}
    }
    if let Some(last_break) = (start..end)
        .rev()
        .find(|&i| class(text, i) == Class::LineBreak)
    {
        return Some(last_break + 1);
    }
    if end == text.len() || end - start == 1 {
        return Some(end);
    }
    Some(end - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn regex() -> &'static fancy_regex::Regex {
        static RE: std::sync::OnceLock<fancy_regex::Regex> = std::sync::OnceLock::new();
        RE.get_or_init(|| fancy_regex::Regex::new(super::super::bpe::PATTERN).unwrap())
    }

    /// Every piece the hand-written matcher decides is the regex's piece at that position.
    fn agrees(text: &str) -> Result<(), TestCaseError> {
        let mut start = 0;
        for found in regex().find_iter(text) {
            let found = found.unwrap();
            prop_assert_eq!(found.start(), start, "pieces cover the text");
            if let Some(end) = ascii_piece(text.as_bytes(), start) {
                prop_assert_eq!(end, found.end(), "piece at {} of {:?}", start, text);
            }
            start = found.end();
        }
        prop_assert_eq!(start, text.len());
        Ok(())
    }

    #[test]
    fn hand_picked_ascii_cases() {
        for text in [
            "Hello world",
            "HELLO world",
            "don't DON'T they're WE'VE I'm you'll He'd it's",
            "'s 'S 're 'rE 'll 'Ll 'x",
            "x'",
            "x'r",
            "x'l",
            "12345 1 22 333 4444",
            "  \n  x",
            "a\r\n\r\nb",
            "\t!!",
            " !!/\n\nx",
            "a  ",
            "a \t",
            "   ",
            "\n",
            " \n ",
            "!Hello",
            " HELLO",
            "ABCdef",
            "x\x0b\x0cy",
            "\x01\x02abc",
            "...//\r\r",
            "a1b2",
            "a.b,c",
        ] {
            agrees(text).unwrap();
            let mut at = 0;
            while at < text.len() {
                at = ascii_piece(text.as_bytes(), at).expect("ASCII text is decided");
            }
        }
    }

    #[test]
    fn non_ascii_next_to_a_decision_is_left_to_the_regex() {
        for (text, start) in [
            ("café", 0),
            ("x\u{a0}y", 1),
            ("1\u{661}", 0),
            ("it'ſ", 0),
            ("!é", 0),
        ] {
            assert_eq!(ascii_piece(text.as_bytes(), start), None, "{text:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_hand_matcher_agrees_with_the_regex_on_ascii(
            text in "[a-cA-CsStTrReEvVlLmMdD0-9 '\t\r\n\x0b\x0c!./,\x01-]{0,40}"
        ) {
            agrees(&text)?;
        }

        #[test]
        fn the_hand_matcher_agrees_with_the_regex_on_mixed_text(
            text in "([a-zA-Z0-9 '\t\r\n!./]|[\u{a0}\u{85}\u{2028}\u{17f}\u{e9}\u{c9}\u{661}\u{300}\u{2000}\u{1f642}\u{65e5}\u{2c6}])*"
        ) {
            agrees(&text)?;
        }
    }
}
