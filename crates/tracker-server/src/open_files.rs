//! The process's open-file limit: raised from the soft to the hard limit at start, as servers do
//! (a service default of 1,024 descriptors is reached by 1,024 connections), and read back so the
//! HTTP side knows when it is near it. Part of the serving shell.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Descriptors kept out of the HTTP connection budget: the listener, UDP sockets, the access log,
/// dfile saves, `.torrent` reads, and the runtime's own.
const RESERVED: u64 = 64;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (unlimited is capped by the kernel's
/// `nr_open`, so it is left as is when refused) and returns the soft limit now in force, or
/// `None` when there is none.
pub(crate) fn raise_to_hard() -> Option<u64> {
    let lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        let raised = Rlimit {
            current: lim.maximum,
            maximum: lim.maximum,
        };
        // Unlimited (`None`) may be refused; then the old soft limit stays, which is fine.
        let _ = setrlimit(Resource::Nofile, raised);
    }
    getrlimit(Resource::Nofile).current
}

/// How many HTTP connections may be open at once under an open-file limit of `limit`.
pub(crate) fn connection_budget(limit: Option<u64>) -> usize {
    match limit {
        Some(n) => usize::try_from(n.saturating_sub(RESERVED.min(n / 4)))
            .unwrap_or(usize::MAX)
            .max(1),
        None => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_leaves_room_for_other_files() {
        assert_eq!(connection_budget(Some(1024)), 960);
        assert_eq!(connection_budget(Some(100)), 75);
        assert_eq!(connection_budget(Some(0)), 1);
        assert_eq!(connection_budget(None), usize::MAX);
    }

    #[test]
    fn raising_keeps_a_limit_at_most_the_hard_one() {
        let hard = getrlimit(Resource::Nofile).maximum;
        let now = raise_to_hard();
        assert!(now.is_some() || hard.is_none());
        if let (Some(now), Some(hard)) = (now, hard) {
            assert!(now <= hard);
        }
    }
}
