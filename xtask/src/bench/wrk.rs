//! wrk, the HTTP load generator (Debian's `wrk`): the command the bench runs, and the figures
//! read back from what it prints.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::engine::cmd::Cmd;

/// What one wrk run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    pub requests_per_sec: f64,
    pub p99: Duration,
    /// Requests made (summed, in a median of several runs).
    pub requests: u64,
    /// connect, read, write and timeout errors, summed.
    pub socket_errors: u64,
    /// Answers with a status of 400 or more ("Non-2xx or 3xx responses").
    pub non_2xx: u64,
}

impl Load {
    pub fn errors(&self) -> u64 {
        self.socket_errors + self.non_2xx
    }

    /// The median rate and the median p99 of several runs, and all their errors; `None`
    /// for no run.
    pub fn median(loads: &[Load]) -> Option<Load> {
        if loads.is_empty() {
            return None;
        }
        let middle = |mut values: Vec<f64>| {
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        let p99s = loads.iter().map(|load| load.p99.as_secs_f64()).collect();
        Some(Load {
            requests_per_sec: middle(loads.iter().map(|load| load.requests_per_sec).collect()),
            p99: Duration::from_secs_f64(middle(p99s)),
            requests: loads.iter().map(|load| load.requests).sum(),
            socket_errors: loads.iter().map(|load| load.socket_errors).sum(),
            non_2xx: loads.iter().map(|load| load.non_2xx).sum(),
        })
    }

    /// Reads wrk's `--latency` report. wrk prints "Socket errors" and "Non-2xx or 3xx
    /// responses" only when there are some: absent, they are zero.
    pub fn parse(report: &str) -> Result<Load> {
        let line = |prefix: &str| report.lines().map(str::trim).find_map(|line| line.strip_prefix(prefix));
        let requests_per_sec = line("Requests/sec:")
            .context("wrk printed no Requests/sec")?
            .trim()
            .parse()
            .context("wrk's Requests/sec is not a number")?;
        let p99 = line("99%")
            .context("wrk printed no 99% latency (was it run with --latency?)")
            .and_then(|value| latency(value.trim()))?;
        let requests = report
            .lines()
            .find_map(|line| line.trim().split_once(" requests in "))
            .context("wrk printed no request count")?
            .0
            .parse()
            .context("wrk's request count is not a number")?;
        let socket_errors = match line("Socket errors:") {
            Some(counts) => counts
                .split(',')
                .map(|count| count.split_whitespace().nth(1).and_then(|n| n.parse::<u64>().ok()))
                .sum::<Option<u64>>()
                .context("wrk's Socket errors are not counts")?,
            None => 0,
        };
        let non_2xx = match line("Non-2xx or 3xx responses:") {
            Some(count) => count.trim().parse().context("wrk's Non-2xx count is not a number")?,
            None => 0,
        };
        Ok(Load {
            requests_per_sec,
            p99,
            requests,
            socket_errors,
            non_2xx,
        })
    }
}

/// A latency as wrk prints it: a number and its unit, `812.00us`, `12.34ms`, `1.02s`, `1.50m`.
fn latency(value: &str) -> Result<Duration> {
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .context("a latency without a unit")?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number
        .parse()
        .with_context(|| format!("a latency that is not a number: {value}"))?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => anyhow::bail!("a latency in an unknown unit: {value}"),
    };
    Ok(Duration::from_secs_f64(seconds))
}

/// `wrk -cCONNECTIONS -t2 -dSECONDS --latency`, sending `Host: host` (the name the app is
/// allowed to answer to, not the address it is reached at).
pub fn command(url: &str, host: &str, connections: u32, seconds: u64) -> Cmd {
    Cmd::new(
        "wrk",
        [
            format!("-c{connections}"),
            "-t2".into(),
            format!("-d{seconds}s"),
            "--latency".into(),
            "-H".into(),
            format!("Host: {host}"),
            url.into(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAN: &str = "\
Running 10s test @ http://192.168.192.3:8000/todos
  2 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    25.11ms   18.79ms 170.73ms   85.56%
    Req/Sec   221.24     79.79   474.00     67.00%
  Latency Distribution
     50%   19.80ms
     75%   29.54ms
     90%   47.68ms
     99%  100.19ms
  4441 requests in 10.10s, 1.80MB read
Requests/sec:    439.62
Transfer/sec:    182.89KB
";

    #[test]
    fn a_clean_run_gives_its_rate_its_p99_and_no_errors() {
        let load = Load::parse(CLEAN).unwrap();
        assert_eq!(load.requests_per_sec, 439.62);
        assert_eq!(load.p99, Duration::from_micros(100_190));
        assert_eq!(load.requests, 4441);
        assert_eq!((load.socket_errors, load.non_2xx, load.errors()), (0, 0, 0));
    }

    #[test]
    fn socket_errors_and_non_2xx_answers_are_counted_as_errors() {
        let report = CLEAN.replace(
            "Requests/sec:",
            "  Socket errors: connect 1, read 2, write 0, timeout 4\n  Non-2xx or 3xx responses: 12\nRequests/sec:",
        );
        let load = Load::parse(&report).unwrap();
        assert_eq!((load.socket_errors, load.non_2xx, load.errors()), (7, 12, 19));
    }

    #[test]
    fn several_runs_give_the_median_rate_the_median_p99_and_every_error() {
        let run = |rate: f64, p99_ms: u64, non_2xx: u64| Load {
            requests_per_sec: rate,
            p99: Duration::from_millis(p99_ms),
            requests: 100,
            socket_errors: 1,
            non_2xx,
        };
        let median = Load::median(&[run(900.0, 30, 0), run(500.0, 200, 2), run(1000.0, 40, 0)]).unwrap();
        assert_eq!(median.requests_per_sec, 900.0);
        assert_eq!(median.p99, Duration::from_millis(40));
        assert_eq!((median.requests, median.socket_errors, median.non_2xx), (300, 3, 2));
        assert_eq!(Load::median(&[]), None);
    }

    #[test]
    fn latencies_are_read_in_each_unit_wrk_prints() {
        assert_eq!(latency("812.00us").unwrap(), Duration::from_micros(812));
        assert_eq!(latency("12.34ms").unwrap(), Duration::from_micros(12_340));
        assert_eq!(latency("1.02s").unwrap(), Duration::from_millis(1020));
        assert_eq!(latency("1.50m").unwrap(), Duration::from_secs(90));
        assert!(latency("12.34").is_err());
        assert!(latency("12.34xs").is_err());
    }

    #[test]
    fn a_report_without_latencies_or_a_rate_is_an_error() {
        let no_latency: String = CLEAN
            .lines()
            .filter(|line| !line.contains('%'))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(Load::parse(&no_latency).unwrap_err().to_string().contains("--latency"));
        assert!(Load::parse("unable to connect to 192.168.192.3:8000 Connection refused").is_err());
    }

    #[test]
    fn wrk_is_run_with_the_connections_the_duration_latencies_and_the_host_header() {
        assert_eq!(
            command("http://192.168.192.3:8000/todos", "app", 10, 10).to_string(),
            "wrk -c10 -t2 -d10s --latency -H 'Host: app' http://192.168.192.3:8000/todos"
        );
    }
}
