//! Sixteen-bit sequence numbers that wrap around, compared as BEP 29 and libtorrent do: `a` is
//! before `b` when `b - a` (mod 2^16) is less than half the space.

use std::fmt;

/// A uTP sequence or ack number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u16);

impl Seq {
    /// The number `n` after this one (wrapping).
    pub fn plus(self, n: u16) -> Seq {
        Seq(self.0.wrapping_add(n))
    }

    /// The number `n` before this one (wrapping).
    pub fn minus(self, n: u16) -> Seq {
        Seq(self.0.wrapping_sub(n))
    }

    /// How far `self` is after `earlier` (wrapping; meaningful when it is after).
    pub fn since(self, earlier: Seq) -> u16 {
        self.0.wrapping_sub(earlier.0)
    }

    /// Whether `self` comes strictly before `other` in wrap-around order.
    pub fn before(self, other: Seq) -> bool {
        let d = other.0.wrapping_sub(self.0);
        d != 0 && d < 0x8000
    }
}

impl fmt::Debug for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_survives_the_wrap() {
        assert!(Seq(65535).before(Seq(0)));
        assert!(Seq(65000).before(Seq(200)));
        assert!(!Seq(200).before(Seq(65000)));
        assert!(!Seq(7).before(Seq(7)));
        assert_eq!(Seq(65535).plus(2), Seq(1));
        assert_eq!(Seq(1).since(Seq(65535)), 2);
        assert_eq!(Seq(0).minus(1), Seq(65535));
    }
}
