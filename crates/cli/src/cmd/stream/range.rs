//! What a `Range` header asks of a file of `len` bytes, parsed and validated by the
//! `http-range-header` crate; only the RFC 9110 choices it leaves to a server are made here.

use std::ops::RangeInclusive;

use http_range_header::{parse_range_header, ParsedRanges, RangeUnsatisfiableError};

/// The answer to give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// No (usable) Range header: `200` with the whole file.
    Full,
    /// `206` with these bytes.
    Partial(RangeInclusive<u64>),
    /// `416` with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// The plan for `header` (the `Range` value, if any) on a file of `len` bytes.
pub(crate) fn plan(header: Option<&str>, len: u64) -> Plan {
    let Some(header) = header else {
        return Plan::Full;
    };
    // A Range header that does not parse is ignored (RFC 9110 14.2: the server MAY ignore it).
    let Ok(parsed) = parse_range_header(header) else {
        return Plan::Full;
    };
    if len == 0 {
        return Plan::Unsatisfiable;
    }
    // Each range alone (the crate refuses overlapping sets as a whole); several are answered
    // as the one range covering them, as RFC 9110 14.3 lets a server coalesce, which every
    // player handles.
    let mut hull: Option<RangeInclusive<u64>> = None;
    for r in parsed.ranges {
        let one = ParsedRanges { ranges: vec![r] };
        let valid = match one.validate(len) {
            Ok(v) => v.into_iter().next().filter(|v| *v.start() < len),
            // A suffix longer than the file means the whole file (RFC 9110 14.1.2).
            Err(RangeUnsatisfiableError::FileSuffixOutOfBounds) => Some(0..=len - 1),
            Err(_) => None,
        };
        if let Some(v) = valid {
            hull = Some(match hull {
                None => v,
                Some(h) => (*h.start()).min(*v.start())..=(*h.end()).max(*v.end()),
            });
        }
    }
    hull.map_or(Plan::Unsatisfiable, Plan::Partial)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_suffixes_and_ranges_past_the_end() {
        assert_eq!(plan(None, 100), Plan::Full);
        assert_eq!(plan(Some("bytes=0-1"), 100), Plan::Partial(0..=1));
        assert_eq!(plan(Some("bytes=90-"), 100), Plan::Partial(90..=99));
        assert_eq!(plan(Some("bytes=-10"), 100), Plan::Partial(90..=99));
        assert_eq!(plan(Some("bytes=-500"), 100), Plan::Partial(0..=99));
        // The end is clamped to the file.
        assert_eq!(plan(Some("bytes=50-1000"), 100), Plan::Partial(50..=99));
        assert_eq!(plan(Some("bytes=100-"), 100), Plan::Unsatisfiable);
        assert_eq!(plan(Some("bytes=200-300"), 100), Plan::Unsatisfiable);
        assert_eq!(plan(Some("bytes=0-1"), 0), Plan::Unsatisfiable);
        assert_eq!(plan(Some("bytes=0-1, 10-20"), 100), Plan::Partial(0..=20));
        assert_eq!(plan(Some("bytes=0-15, 10-20"), 100), Plan::Partial(0..=20));
        // Not a byte range at all: ignored.
        assert_eq!(plan(Some("items=0-1"), 100), Plan::Full);
        assert_eq!(plan(Some("bytes=x-y"), 100), Plan::Full);
    }
}
