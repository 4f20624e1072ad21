//! The lexical layer: integers and byte strings, parsed with nom's streaming combinators.
//!
//! Both the value-tree decoder and the serde deserializer call these. Each function takes the
//! whole input and the offset of the token, so errors carry absolute byte offsets, and returns the
//! token with the offset just past it. Streaming combinators make "the input ran out" a distinct
//! outcome ([`ErrorKind::UnexpectedEnd`]), which is what lets callers decode from sockets.

use nom::character::streaming::char;
use nom::combinator::opt;
use nom::Parser;

use crate::error::{Error, ErrorKind, Result};

type NomError<'a> = nom::error::Error<&'a [u8]>;

/// Where a nom failure happened, as an absolute offset, given the slice nom was handed at `base`.
fn failure_offset(input_len: usize, remaining: &[u8]) -> usize {
    input_len - remaining.len()
}

fn unexpected_end(needed: nom::Needed, offset: usize) -> Error {
    let needed = match needed {
        nom::Needed::Size(n) => Some(n.get()),
        nom::Needed::Unknown => None,
    };
    Error::at(ErrorKind::UnexpectedEnd { needed }, offset)
}

/// A nom streaming parser for a run of ASCII digits, read in one pass: returns the value (`None`
/// when it overflows `u64`) and the number of digits. Like nom's own streaming parsers, it reports
/// `Incomplete` when the input ends inside the run, since more digits may follow.
fn unsigned(input: &[u8]) -> nom::IResult<&[u8], (Option<u64>, usize), NomError<'_>> {
    let mut value: Option<u64> = Some(0);
    for (i, &b) in input.iter().enumerate() {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            if i == 0 {
                return Err(nom::Err::Error(NomError::new(
                    input,
                    nom::error::ErrorKind::Digit,
                )));
            }
            return Ok((&input[i..], (value, i)));
        }
        value = value.and_then(|v| v.checked_mul(10)?.checked_add(u64::from(digit)));
    }
    Err(nom::Err::Incomplete(nom::Needed::new(1)))
}

/// Parses `i<digits>e` at `start` (where `input[start] == b'i'`).
/// Returns the integer and the offset just past the `e`.
#[inline(always)]
pub(crate) fn integer(input: &[u8], start: usize) -> Result<(i64, usize)> {
    match integer_fast(input, start) {
        Some(done) => Ok(done),
        None => integer_exact(input, start),
    }
}

/// The common case, small enough to inline into callers in other crates (the serde deserializer
/// is compiled where it is used): a well-formed integer of at most 18 digits. Anything else, and
/// every error, goes to [`integer_exact`], which says precisely what is wrong.
#[inline(always)]
fn integer_fast(input: &[u8], start: usize) -> Option<(i64, usize)> {
    let mut i = start + 1;
    let negative = *input.get(i)? == b'-';
    i += usize::from(negative);
    let first = input.get(i)?.wrapping_sub(b'0');
    if first == 0 {
        return (!negative && *input.get(i + 1)? == b'e').then_some((0, i + 2));
    }
    if first > 9 {
        return None;
    }
    let digits_start = i;
    let mut magnitude = u64::from(first);
    i += 1;
    loop {
        let digit = input.get(i)?.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        if i - digits_start >= 18 {
            return None;
        }
        magnitude = magnitude * 10 + u64::from(digit);
        i += 1;
    }
    if input[i] != b'e' {
        return None;
    }
    // At most 18 digits, so the magnitude fits in i64 either way.
    let value = magnitude as i64;
    Some((if negative { -value } else { value }, i + 1))
}

/// The exact parser behind [`integer`]: nom combinators, every error with its offset.
#[cold]
fn integer_exact(input: &[u8], start: usize) -> Result<(i64, usize)> {
    debug_assert_eq!(input.get(start), Some(&b'i'));
    let body = &input[start + 1..];
    let (after_sign, minus) = opt(char::<_, NomError<'_>>('-'))
        .parse(body)
        .map_err(|e| nom_failure(e, input, start))?;
    let (after_digits, (magnitude, digit_count)) = match unsigned(after_sign) {
        Ok(ok) => ok,
        Err(nom::Err::Incomplete(needed)) => {
            // The input ends inside the digits; if what is here can never become valid, say so
            // now rather than asking a socket reader to wait for bytes that cannot help.
            return Err(doomed_integer(after_sign, minus.is_some(), start)
                .unwrap_or_else(|| unexpected_end(needed, input.len())));
        }
        Err(_) => {
            return Err(match after_sign.first() {
                Some(b'e') => Error::at(ErrorKind::EmptyInteger, start),
                Some(&found) => Error::at(
                    ErrorKind::UnexpectedByte {
                        found,
                        expected: "a digit",
                    },
                    failure_offset(input.len(), after_sign),
                ),
                None => unexpected_end(nom::Needed::new(1), input.len()),
            })
        }
    };
    if digit_count > 1 && after_sign[0] == b'0' {
        return Err(Error::at(ErrorKind::LeadingZero, start));
    }
    if minus.is_some() && magnitude == Some(0) {
        return Err(Error::at(ErrorKind::NegativeZero, start));
    }
    let value = match (magnitude, minus.is_some()) {
        (Some(m), false) => i64::try_from(m).ok(),
        // i64::MIN has no positive counterpart, so negate through i128.
        (Some(m), true) => i64::try_from(-i128::from(m)).ok(),
        (None, _) => None,
    }
    .ok_or_else(|| Error::at(ErrorKind::IntegerOverflow, start))?;
    // `unsigned` stopped at a non-digit (it reports Incomplete at the end of input), so one byte is here.
    let end_at = failure_offset(input.len(), after_digits);
    match after_digits[0] {
        b'e' => Ok((value, end_at + 1)),
        found => Err(Error::at(
            ErrorKind::UnexpectedByte {
                found,
                expected: "`e` ending the integer",
            },
            end_at,
        )),
    }
}

/// The error that an integer whose digits run to the end of the input is bound to have, whatever
/// follows: a leading zero, negative zero, or already more than `i64` holds.
fn doomed_integer(digits: &[u8], minus: bool, start: usize) -> Option<Error> {
    let kind = if digits.len() > 1 && digits[0] == b'0' {
        ErrorKind::LeadingZero
    } else if minus && digits == b"0" {
        ErrorKind::NegativeZero
    } else if digits_value(digits).is_none_or(|m| m > if minus { 1 << 63 } else { i64::MAX as u64 })
    {
        ErrorKind::IntegerOverflow
    } else {
        return None;
    };
    Some(Error::at(kind, start))
}

/// Like [`doomed_integer`], for a byte-string length prefix.
fn doomed_length(digits: &[u8], start: usize) -> Option<Error> {
    let kind = if digits.len() > 1 && digits[0] == b'0' {
        ErrorKind::LengthLeadingZero
    } else if digits_value(digits).is_none_or(|l| usize::try_from(l).is_err()) {
        ErrorKind::LengthOverflow
    } else {
        return None;
    };
    Some(Error::at(kind, start))
}

/// The value of a run of ASCII digits, `None` when it overflows `u64`.
fn digits_value(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?
            .checked_add(u64::from(d.wrapping_sub(b'0')))
    })
}

/// Parses `<length>:<bytes>` at `start` (where `input[start]` is a digit).
/// Returns the borrowed bytes and the offset just past them.
#[inline(always)]
pub(crate) fn byte_string(input: &[u8], start: usize) -> Result<(&[u8], usize)> {
    match byte_string_fast(input, start) {
        Some(done) => Ok(done),
        None => byte_string_exact(input, start),
    }
}

/// The common case of [`byte_string`], inlinable: a canonical length of at most 18 digits whose
/// bytes are all present. Anything else goes to [`byte_string_exact`].
#[inline(always)]
fn byte_string_fast(input: &[u8], start: usize) -> Option<(&[u8], usize)> {
    let first = input.get(start)?.wrapping_sub(b'0');
    if first > 9 {
        return None;
    }
    let mut length = usize::from(first);
    let mut i = start + 1;
    loop {
        let digit = input.get(i)?.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        if first == 0 || i - start >= 18 {
            return None;
        }
        length = length * 10 + usize::from(digit);
        i += 1;
    }
    if input[i] != b':' {
        return None;
    }
    let data = i + 1;
    let end = data.checked_add(length)?;
    Some((input.get(data..end)?, end))
}

/// The exact parser behind [`byte_string`], every error with its offset.
#[cold]
fn byte_string_exact(input: &[u8], start: usize) -> Result<(&[u8], usize)> {
    let (data_at, length) = string_header(input, start)?;
    let available = input.len() - data_at;
    if length > available as u64 {
        return Err(Error::at(
            ErrorKind::StringPastEnd { length, available },
            start,
        ));
    }
    let end = data_at + length as usize;
    Ok((&input[data_at..end], end))
}

/// Parses the `<length>:` header of a byte string; returns the offset of the data and its length.
#[inline]
fn string_header(input: &[u8], start: usize) -> Result<(usize, u64)> {
    let (after_digits, (length, digit_count)) = unsigned(&input[start..]).map_err(|e| {
        doomed_length(&input[start..], start).unwrap_or_else(|| nom_failure(e, input, start))
    })?;
    if digit_count > 1 && input[start] == b'0' {
        return Err(Error::at(ErrorKind::LengthLeadingZero, start));
    }
    let length = length
        .filter(|&l| usize::try_from(l).is_ok())
        .ok_or_else(|| Error::at(ErrorKind::LengthOverflow, start))?;
    // `unsigned` stopped at a non-digit, so one byte is here.
    if after_digits[0] != b':' {
        return Err(Error::at(
            ErrorKind::UnexpectedByte {
                found: after_digits[0],
                expected: "`:` after a byte string length",
            },
            failure_offset(input.len(), after_digits),
        ));
    }
    Ok((failure_offset(input.len(), after_digits) + 1, length))
}

/// Maps a nom failure on `input[start..]` (or a suffix of it) to our error.
fn nom_failure(e: nom::Err<NomError<'_>>, input: &[u8], start: usize) -> Error {
    match e {
        nom::Err::Incomplete(needed) => unexpected_end(needed, input.len()),
        nom::Err::Error(inner) | nom::Err::Failure(inner) => {
            let at = failure_offset(input.len(), inner.input).max(start);
            match input.get(at) {
                Some(&found) => Error::at(
                    ErrorKind::UnexpectedByte {
                        found,
                        expected: "a digit",
                    },
                    at,
                ),
                None => unexpected_end(nom::Needed::new(1), at),
            }
        }
    }
}

/// Skips one complete value starting at `start` without building anything; returns the offset
/// just past it. Nesting is bounded by `max_depth` and dictionary keys are checked as in decoding.
pub(crate) fn skip_value(
    input: &[u8],
    start: usize,
    depth: usize,
    opts: &crate::DecodeOptions,
) -> Result<usize> {
    match input.get(start) {
        None => Err(unexpected_end(nom::Needed::new(1), start)),
        Some(b'i') => integer(input, start).map(|(_, end)| end),
        Some(b'0'..=b'9') => byte_string(input, start).map(|(_, end)| end),
        Some(b'l') => {
            let depth = enter(depth, opts, start)?;
            let mut pos = start + 1;
            loop {
                match input.get(pos) {
                    Some(b'e') => return Ok(pos + 1),
                    _ => pos = skip_value(input, pos, depth, opts)?,
                }
            }
        }
        Some(b'd') => {
            let depth = enter(depth, opts, start)?;
            let mut keys = KeyOrderCheck::default();
            let mut pos = start + 1;
            loop {
                match input.get(pos) {
                    Some(b'e') => return keys.finish(pos + 1),
                    _ => {
                        let (key, after_key) = dict_key(input, pos)?;
                        keys.push(key, pos, opts)?;
                        pos = skip_value(input, after_key, depth, opts)?;
                    }
                }
            }
        }
        Some(&found) => Err(Error::at(
            ErrorKind::UnexpectedByte {
                found,
                expected: "a value",
            },
            start,
        )),
    }
}

/// Checks one more level of nesting against the limit; returns the new depth.
#[inline]
pub(crate) fn enter(depth: usize, opts: &crate::DecodeOptions, at: usize) -> Result<usize> {
    if depth >= opts.max_depth {
        Err(Error::at(
            ErrorKind::DepthLimit {
                limit: opts.max_depth,
            },
            at,
        ))
    } else {
        Ok(depth + 1)
    }
}

/// Parses a dictionary key at `pos`: it must be a byte string.
#[inline(always)]
pub(crate) fn dict_key(input: &[u8], pos: usize) -> Result<(&[u8], usize)> {
    match input.get(pos) {
        Some(b'0'..=b'9') => byte_string(input, pos),
        Some(_) => Err(Error::at(ErrorKind::NonStringKey, pos)),
        None => Err(unexpected_end(nom::Needed::new(1), pos)),
    }
}

/// The end-of-input error for a peek at `pos` that found nothing.
#[cold]
pub(crate) fn end_at(pos: usize) -> Error {
    unexpected_end(nom::Needed::new(1), pos)
}

/// True when `key` sorts strictly after `previous` as raw bytes. Keys usually differ in their first
/// byte, which decides without a call to `memcmp`.
#[inline(always)]
fn follows(previous: &[u8], key: &[u8]) -> bool {
    match (previous.first(), key.first()) {
        (Some(p), Some(k)) if p != k => k > p,
        _ => key > previous,
    }
}

/// Tracks the keys of one dictionary: strict mode demands strictly increasing keys; lenient mode
/// accepts any order but still rejects duplicates (checked once at the end, only if order broke).
#[derive(Default)]
pub(crate) struct KeyOrderCheck<'a> {
    previous: Option<&'a [u8]>,
    /// Every key with its offset, kept only once the order has broken in lenient mode.
    unsorted: Option<Vec<(&'a [u8], usize)>>,
    seen: Vec<(&'a [u8], usize)>,
}

impl<'a> KeyOrderCheck<'a> {
    /// Records the next key, checking its order.
    #[inline]
    pub(crate) fn push(
        &mut self,
        key: &'a [u8],
        at: usize,
        opts: &crate::DecodeOptions,
    ) -> Result<()> {
        // The common case: strict mode, keys in increasing order.
        if !opts.lenient && self.previous.is_none_or(|previous| follows(previous, key)) {
            self.previous = Some(key);
            return Ok(());
        }
        self.push_checked(key, at, opts)
    }

    #[cold]
    fn push_checked(
        &mut self,
        key: &'a [u8],
        at: usize,
        opts: &crate::DecodeOptions,
    ) -> Result<()> {
        if let Some(previous) = self.previous {
            if key <= previous && self.unsorted.is_none() {
                if key == previous {
                    return Err(Error::at(ErrorKind::DuplicateKey { key: key.to_vec() }, at));
                }
                if !opts.lenient {
                    return Err(Error::at(ErrorKind::UnsortedKey { key: key.to_vec() }, at));
                }
                self.unsorted = Some(std::mem::take(&mut self.seen));
            }
        }
        match &mut self.unsorted {
            Some(all) => all.push((key, at)),
            // Remember keys cheaply until the order breaks: only then are they all needed.
            None if opts.lenient => self.seen.push((key, at)),
            None => {}
        }
        self.previous = Some(key);
        Ok(())
    }

    /// Finishes the dictionary, reporting a duplicate key if the lenient path saw one.
    #[inline]
    pub(crate) fn finish(self, end: usize) -> Result<usize> {
        match self.unsorted {
            None => Ok(end),
            Some(all) => Self::finish_unsorted(all, end),
        }
    }

    #[cold]
    fn finish_unsorted(mut all: Vec<(&'a [u8], usize)>, end: usize) -> Result<usize> {
        {
            all.sort_unstable_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
            if let Some(pair) = all.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(Error::at(
                    ErrorKind::DuplicateKey {
                        key: pair[1].0.to_vec(),
                    },
                    pair[1].1,
                ));
            }
        }
        Ok(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_across_the_whole_i64_range() {
        assert_eq!(integer(b"i0e", 0).unwrap(), (0, 3));
        assert_eq!(integer(b"i-9223372036854775808e", 0).unwrap().0, i64::MIN);
        assert_eq!(integer(b"i9223372036854775807e", 0).unwrap().0, i64::MAX);
        assert_eq!(
            integer(b"i9223372036854775808e", 0).unwrap_err().kind(),
            &ErrorKind::IntegerOverflow
        );
    }

    #[test]
    fn byte_string_borrows_its_bytes() {
        let input = b"xx4:spam";
        let (bytes, end) = byte_string(input, 2).unwrap();
        assert_eq!(bytes, b"spam");
        assert_eq!(end, 8);
        assert!(std::ptr::eq(bytes.as_ptr(), input[4..].as_ptr()));
    }

    #[test]
    fn truncated_length_prefix_is_incomplete() {
        assert!(byte_string(b"12", 0).unwrap_err().is_incomplete());
        assert!(byte_string(b"3:ab", 0).unwrap_err().is_incomplete());
    }
}
