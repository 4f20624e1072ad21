//! A criterion [`Measurement`] of the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`).
//!
//! The machines these benchmarks run on are shared (two cores, other builds running): wall-clock
//! time then counts every moment the benchmark waited for a core, and which crate happened to be
//! measured during a busy spell decides the comparison. CPU time charged to the thread counts only
//! the work done (user and kernel, page faults included), so crates measured minutes apart still
//! compare. On an idle machine the two clocks agree for this single-threaded work.

use std::time::Duration;

use cpu_time::ThreadTime;
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::Throughput;

/// CPU time consumed by the calling thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadCpuTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = ThreadTime;
    type Value = Duration;

    fn start(&self) -> ThreadTime {
        ThreadTime::now()
    }

    fn end(&self, started: ThreadTime) -> Duration {
        started.elapsed()
    }

    fn add(&self, v1: &Duration, v2: &Duration) -> Duration {
        *v1 + *v2
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &NanosFormatter
    }
}

/// Formats nanoseconds and byte throughputs as criterion's wall-clock formatter does, so reports
/// read the same (values are nanoseconds in `estimates.json` either way).
struct NanosFormatter;

impl ValueFormatter for NanosFormatter {
    fn scale_values(&self, typical_ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical_ns < 1e3 {
            (1.0, "ns")
        } else if typical_ns < 1e6 {
            (1e-3, "µs")
        } else if typical_ns < 1e9 {
            (1e-6, "ms")
        } else {
            (1e-9, "s")
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }

    fn scale_throughputs(
        &self,
        typical_ns: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let (amount, base, units) = match *throughput {
            Throughput::Bytes(n) | Throughput::ElementsAndBytes { bytes: n, .. } => {
                (n as f64, 1024.0, ["  B/s", "KiB/s", "MiB/s", "GiB/s"])
            }
            Throughput::BytesDecimal(n) => (n as f64, 1000.0, ["  B/s", "KB/s", "MB/s", "GB/s"]),
            Throughput::Bits(n) => (n as f64, 1000.0, ["  b/s", "Kb/s", "Mb/s", "Gb/s"]),
            Throughput::Elements(n) => (
                n as f64,
                1000.0,
                [" elem/s", "Kelem/s", "Melem/s", "Gelem/s"],
            ),
        };
        let typical_per_second = amount * 1e9 / typical_ns;
        let mut scale = 0;
        while scale < 3 && typical_per_second >= base * f64::powi(base, scale) {
            scale += 1;
        }
        let denominator = f64::powi(base, scale);
        values
            .iter_mut()
            .for_each(|v| *v = amount * 1e9 / *v / denominator);
        units[scale as usize]
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}
