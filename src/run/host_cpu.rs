//! The whole host's CPU time, from `/proc/stat`, so a run can tell when aiperf and the server
//! share cores that were all busy: then the server ran with less CPU than it would have alone.

/// The host's CPU time so far, in the kernel's clock ticks (only ratios are used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostTicks {
    /// Ticks some task ran (user, nice, system, irq, softirq, steal: time a virtual CPU was
    /// taken away counts as busy, it was not there to run anything).
    pub busy: u64,
    /// All ticks, idle and iowait included.
    pub total: u64,
    /// The host's cores (`cpuN` lines).
    pub cores: u64,
}

impl HostTicks {
    /// The host now; `None` where `/proc/stat` is missing or unreadable (not Linux).
    pub fn now() -> Option<HostTicks> {
        parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// Busy share of the host's cores between `earlier` and `self` (`None` if no tick passed).
    pub fn busy_since(&self, earlier: &HostTicks) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let busy = self.busy.checked_sub(earlier.busy)?;
        (total > 0).then(|| (busy as f64 / total as f64).clamp(0.0, 1.0))
    }
}

/// Reads `/proc/stat`'s text: the `cpu` line's fields and the number of `cpuN` lines.
pub fn parse(text: &str) -> Option<HostTicks> {
    let mut lines = text.lines();
    let first = lines.next()?;
    let mut fields = first.split_ascii_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    // user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is
    // already inside user and nice.
    let ticks: Vec<u64> = fields
        .take(8)
        .map(|f| f.parse::<u64>().ok())
        .collect::<Option<_>>()?;
    if ticks.len() < 4 {
        return None;
    }
    let total = ticks.iter().try_fold(0u64, |sum, &t| sum.checked_add(t))?;
    let idle = ticks[3].checked_add(ticks.get(4).copied().unwrap_or(0))?;
    let cores = lines
        .take_while(|l| l.starts_with("cpu"))
        .filter(|l| l[3..].starts_with(|c: char| c.is_ascii_digit()))
        .count() as u64;
    Some(HostTicks {
        busy: total.checked_sub(idle)?,
        total,
        cores: cores.max(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STAT: &str = "cpu  2387727 0 311509 7083512 16548 0 55871 597 0 0\n\
                        cpu0 1148410 0 148012 3599288 3588 0 27743 301 0 0\n\
                        cpu1 1239317 0 163496 3484224 12959 0 28127 296 0 0\n\
                        intr 1 2 3\nctxt 42\n";

    #[test]
    fn reads_the_cpu_line_and_counts_the_cores() {
        let t = parse(STAT).unwrap();
        assert_eq!(t.total, 2387727 + 311509 + 7083512 + 16548 + 55871 + 597);
        assert_eq!(t.busy, 2387727 + 311509 + 55871 + 597);
        assert_eq!(t.cores, 2);
    }

    #[test]
    fn busy_share_between_two_readings() {
        let a = HostTicks {
            busy: 100,
            total: 400,
            cores: 2,
        };
        let b = HostTicks {
            busy: 290,
            total: 600,
            cores: 2,
        };
        assert_eq!(b.busy_since(&a), Some(0.95));
        assert_eq!(a.busy_since(&a), None, "no tick passed");
        assert_eq!(a.busy_since(&b), None, "counters went back");
    }

    #[test]
    fn refuses_what_is_not_proc_stat() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("intr 1 2\n"), None);
        assert_eq!(parse("cpu 1 2 x 4\n"), None);
        assert_eq!(parse("cpu 1 2\n"), None);
    }

    proptest! {
        #[test]
        fn never_panics_and_busy_never_exceeds_total(text in "(cpu[0-9]? [0-9 ]{0,40}\n){0,4}.{0,20}") {
            if let Some(t) = parse(&text) {
                prop_assert!(t.busy <= t.total);
                prop_assert!(t.cores >= 1);
            }
        }
    }
}
