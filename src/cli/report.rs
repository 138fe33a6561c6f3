//! `uptimeping report`: what each check's results add up to, read from the
//! daemon's rollups: uptime over the last day, week and month (or one span),
//! coverage, SLO attainment and budget, latency percentiles, incidents, downtime.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::client::{Client, ConnectArgs, Span, block_on};
use super::output::{self, green, millis, percent, red, span, table, yellow};
use super::{OutputFormat, exit};
use crate::model::{CheckReport, LatencySummary, LocationReport, Report, SloReport};
use crate::spec::Duration;

/// The windows the report shows side by side when it is not given one: the
/// uptimes people quote (a day, a week, a month). The last one is also the span
/// of every other column.
pub const DEFAULT_WINDOWS: [(&str, Duration); 3] = [
    ("24h", Duration::from_secs(24 * 3600)),
    ("7d", Duration::from_secs(7 * 86_400)),
    ("30d", Duration::from_secs(30 * 86_400)),
];

const EXAMPLES: &str = "\
Examples:
  uptimeping report                # every check: uptime 24h/7d/30d, SLO, p50/p95/p99, downtime
  uptimeping report --check payments-api --window 90d -o json
  uptimeping report --window 30d -o csv > june.csv
  uptimeping report --from 2026-06-01T00:00:00Z --to 2026-07-01T00:00:00Z

Without --window, --from or --to the table shows uptime over 24h, 7d and 30d and
the other columns over 30d; `-o json` and `-o yaml` then print the three reports
as a list. With any of them, one span: `--to` defaults to now (or to `--from` plus
`--window`), `--from` to `--to` minus the window (24h unless given).

Uptime is up time over known (up + down) time; coverage is the share of the span
whose state is known. A `-` is unknown: nothing was known of the check then.";

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Yaml,
    /// A header row and one row per check (RFC 4180), numbers unformatted
    Csv,
}

/// Uptime, SLO, latency and incidents of the daemon's checks over a span
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The span: 1h, 24h, 7d, 30d, 90d or any duration [default: 24h, 7d and 30d side by side]
    #[arg(long, value_name = "DURATION", value_parser = window)]
    window: Option<Duration>,
    /// Start of the span, RFC 3339 (2026-06-01T00:00:00Z)
    #[arg(long, value_name = "TIME", value_parser = time)]
    from: Option<DateTime<Utc>>,
    /// End of the span, RFC 3339 [default: now]
    #[arg(long, value_name = "TIME", value_parser = time)]
    to: Option<DateTime<Utc>>,
    /// Only this check. Repeatable
    #[arg(long = "check", value_name = "NAME", add = clap_complete::engine::ArgValueCompleter::new(super::complete_live::checks))]
    checks: Vec<String>,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value_t = ReportFormat::Table)]
    output: ReportFormat,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// A `--window`: a duration longer than nothing.
pub fn window(s: &str) -> Result<Duration, String> {
    let d: Duration = s.parse()?;
    if d.get().is_zero() {
        return Err("a window must be longer than nothing, e.g. 24h or 7d".into());
    }
    Ok(d)
}

/// A `--from` or `--to`: an RFC 3339 time.
pub fn time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("`{s}` is not an RFC 3339 time ({e}); give one like 2026-06-01T00:00:00Z")
        })
}

impl Args {
    pub fn run(self) -> anyhow::Result<u8> {
        anyhow::ensure!(
            !(self.window.is_some() && self.from.is_some() && self.to.is_some()),
            "give at most two of --window, --from and --to: the third follows from them"
        );
        let client = Client::from_args(&self.connect)?;
        let reports = block_on(self.fetch(&client))??;
        self.print(&reports)?;
        Ok(exit::OK)
    }

    /// One report per window, labelled: the given span, or [`DEFAULT_WINDOWS`].
    async fn fetch(&self, client: &Client) -> anyhow::Result<Vec<(String, Report)>> {
        let max = crate::daemon::api::report::MAX_NAMED_CHECKS;
        if self.checks.len() > max {
            anyhow::bail!(
                "a report names at most {max} checks with --check ({} given); leave --check out for every check",
                self.checks.len()
            );
        }
        let given = Span {
            window: self.window,
            from: self.from,
            to: self.to,
        };
        if given != Span::default() {
            return Ok(vec![(
                String::new(),
                client.report(&self.checks, &given).await?,
            )]);
        }
        let mut out = Vec::new();
        for (label, w) in DEFAULT_WINDOWS {
            let s = Span {
                window: Some(w),
                ..Span::default()
            };
            out.push((label.to_string(), client.report(&self.checks, &s).await?));
        }
        Ok(out)
    }

    fn print(&self, reports: &[(String, Report)]) -> anyhow::Result<()> {
        let docs: Vec<&Report> = reports.iter().map(|(_, r)| r).collect();
        let format = match self.output {
            ReportFormat::Table => OutputFormat::Table,
            ReportFormat::Json => OutputFormat::Json,
            ReportFormat::Yaml => OutputFormat::Yaml,
            ReportFormat::Csv => {
                let (header, rows) = csv_rows(reports);
                let header: Vec<&str> = header.iter().map(String::as_str).collect();
                let text = output::csv(&header, &rows);
                std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes())?;
                return Ok(());
            }
        };
        match docs.as_slice() {
            [one] => output::show(format, one, || report_table(reports)),
            many => output::show(format, &many, || report_table(reports)),
        }
    }
}

/// A row of the table or CSV: a check's own figures, or one location's of it.
struct Row<'a> {
    check: &'a CheckReport,
    location: Option<&'a LocationReport>,
    /// Uptime in every report, in order.
    uptimes: Vec<Option<f64>>,
}

/// Each check of the last (longest) report, then each of its locations, with
/// uptime in every report.
fn rows(reports: &[(String, Report)]) -> Vec<Row<'_>> {
    let by_window: Vec<HashMap<&str, &CheckReport>> = reports
        .iter()
        .map(|(_, r)| r.checks.iter().map(|c| (c.check.as_str(), c)).collect())
        .collect();
    let mut out = Vec::new();
    for (c, uptimes) in checks(reports) {
        out.push(Row {
            check: c,
            location: None,
            uptimes,
        });
        for l in &c.locations {
            let uptimes = by_window
                .iter()
                .map(|m| {
                    m.get(c.check.as_str())
                        .and_then(|c| c.locations.iter().find(|x| x.location == l.location))
                        .and_then(|x| x.uptime)
                })
                .collect();
            out.push(Row {
                check: c,
                location: Some(l),
                uptimes,
            });
        }
    }
    out
}

/// Each check of the last (longest) report with its uptime in every report.
fn checks(reports: &[(String, Report)]) -> Vec<(&CheckReport, Vec<Option<f64>>)> {
    let Some((_, main)) = reports.last() else {
        return Vec::new();
    };
    let by_window: Vec<HashMap<&str, &CheckReport>> = reports
        .iter()
        .map(|(_, r)| r.checks.iter().map(|c| (c.check.as_str(), c)).collect())
        .collect();
    main.checks
        .iter()
        .map(|c| {
            let uptimes = by_window
                .iter()
                .map(|m| m.get(c.check.as_str()).and_then(|c| c.uptime))
                .collect();
            (c, uptimes)
        })
        .collect()
}

/// Headers of the uptime columns, and the suffix of the others (the span they
/// are over, when several are shown).
fn uptime_headers(reports: &[(String, Report)], sep: &str, upper: bool) -> (Vec<String>, String) {
    if reports.len() == 1 {
        return (vec!["uptime".into()], String::new());
    }
    let label = |l: &str| if upper { l.to_uppercase() } else { l.into() };
    let headers = reports
        .iter()
        .map(|(l, _)| format!("uptime{sep}{}", label(l)))
        .collect();
    let last = reports.last().map(|(l, _)| label(l)).unwrap_or_default();
    (headers, format!("{sep}{last}"))
}

fn report_table(reports: &[(String, Report)]) -> String {
    let rows = rows(reports);
    if rows.is_empty() {
        return "No checks.\n".into();
    }
    let (uptimes, suffix) = uptime_headers(reports, " ", true);
    let mut header: Vec<String> = vec!["NAME".into()];
    header.extend(uptimes.iter().map(|h| h.to_uppercase()));
    header.push(format!("COVERAGE{suffix}"));
    header.push("SLO".into());
    for h in ["P50", "P95", "P99", "INCIDENTS", "DOWNTIME"] {
        header.push(format!("{h}{suffix}"));
    }
    let rows = rows
        .into_iter()
        .map(
            |Row {
                 check: c,
                 location,
                 uptimes,
             }| {
                let mut row = vec![match location {
                    // Under its check, as the check's runs from there.
                    Some(l) => format!("  @{}", l.location),
                    None => c.check.clone(),
                }];
                row.extend(uptimes.into_iter().map(percent));
                let (coverage, latency, down) = match location {
                    Some(l) => (
                        l.coverage,
                        l.latency.as_ref(),
                        l.uptime.map(|_| l.down_seconds),
                    ),
                    None => (
                        c.coverage,
                        c.latency.as_ref(),
                        c.uptime.map(|_| c.down_seconds),
                    ),
                };
                row.push(percent(Some(coverage)));
                row.push(match location {
                    Some(_) => "-".into(),
                    None => slo_text(c.slo.as_ref()),
                });
                row.push(millis(latency.map(|l| l.p50)));
                row.push(millis(latency.map(|l| l.p95)));
                row.push(millis(latency.map(|l| l.p99)));
                row.push(match location {
                    Some(_) => "-".into(),
                    None => c.incidents.to_string(),
                });
                row.push(span(down));
                row
            },
        )
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    table(&header, rows)
}

/// `99.95%/99.9% met, 62.5% left`: attainment over objective, the status, and
/// the error budget left; `-` for a check without an SLO.
fn slo_text(slo: Option<&SloReport>) -> String {
    let Some(s) = slo else {
        return "-".into();
    };
    let status = match s.status.as_str() {
        "met" => green("met"),
        "breached" => red("breached"),
        other => other.to_string(),
    };
    let burning = if s.burning {
        format!(" {}", yellow("burning"))
    } else {
        String::new()
    };
    // The objective as written (up to four decimals), never cut.
    format!(
        "{}/{}% {status}, {} left{burning}",
        percent(s.attainment),
        s.objective,
        percent(s.budget_left_percent)
    )
}

/// The CSV's header and rows: raw numbers, unknown values empty.
fn csv_rows(reports: &[(String, Report)]) -> (Vec<String>, Vec<Vec<String>>) {
    let (uptimes, _) = uptime_headers(reports, "_", false);
    let mut header: Vec<String> = ["check", "type", "from", "to"].map(String::from).to_vec();
    header.extend(uptimes);
    header.extend(
        [
            "coverage",
            "up_seconds",
            "down_seconds",
            "maintenance_seconds",
            "unknown_seconds",
            "runs",
            "failed_runs",
            "latency_p50_ms",
            "latency_p90_ms",
            "latency_p95_ms",
            "latency_p99_ms",
            "incidents",
            "mttr_seconds",
            "slo_objective",
            "slo_window",
            "slo_attainment",
            "slo_budget_left_percent",
            "slo_status",
            "location",
        ]
        .map(String::from),
    );
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let at = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let rows = rows(reports)
        .into_iter()
        .map(
            |Row {
                 check: c,
                 location,
                 uptimes,
             }| {
                let mut row = vec![
                    c.check.clone(),
                    c.check_type.clone(),
                    at(&c.from),
                    at(&c.to),
                ];
                row.extend(uptimes.into_iter().map(num));
                // Coverage, time, runs and latency: what a check and each of
                // its locations have alike.
                let figures = |times: [f64; 5], runs: [u64; 2], l: Option<&LatencySummary>| {
                    let mut out: Vec<String> = times.iter().map(|t| num(Some(*t))).collect();
                    out.extend(runs.iter().map(u64::to_string));
                    out.extend(
                        [
                            l.map(|l| l.p50),
                            l.map(|l| l.p90),
                            l.map(|l| l.p95),
                            l.map(|l| l.p99),
                        ]
                        .map(num),
                    );
                    out
                };
                match location {
                    // A location's row: its own figures, and nothing of what only
                    // the check has (incidents, its SLO).
                    Some(x) => {
                        row.extend(figures(
                            [
                                x.coverage,
                                x.up_seconds,
                                x.down_seconds,
                                x.maintenance_seconds,
                                x.unknown_seconds,
                            ],
                            [x.runs, x.failed_runs],
                            x.latency.as_ref(),
                        ));
                        row.extend(std::iter::repeat_n(String::new(), 7));
                        row.push(x.location.clone());
                    }
                    None => {
                        let s = c.slo.as_ref();
                        row.extend(figures(
                            [
                                c.coverage,
                                c.up_seconds,
                                c.down_seconds,
                                c.maintenance_seconds,
                                c.unknown_seconds,
                            ],
                            [c.runs, c.failed_runs],
                            c.latency.as_ref(),
                        ));
                        row.extend([
                            c.incidents.to_string(),
                            num(c.mttr_seconds),
                            num(s.map(|s| s.objective)),
                            s.map(|s| s.window.clone()).unwrap_or_default(),
                            num(s.and_then(|s| s.attainment)),
                            num(s.and_then(|s| s.budget_left_percent)),
                            s.map(|s| s.status.clone()).unwrap_or_default(),
                            String::new(),
                        ]);
                    }
                }
                row
            },
        )
        .collect();
    (header, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, uptime: Option<f64>) -> CheckReport {
        CheckReport {
            check: name.into(),
            check_type: "http".into(),
            from: DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default(),
            to: DateTime::from_timestamp(1_780_003_600, 0).unwrap_or_default(),
            uptime,
            coverage: if uptime.is_some() { 50.0 } else { 0.0 },
            up_seconds: 1800.0,
            down_seconds: 0.0,
            maintenance_seconds: 0.0,
            unknown_seconds: 1800.0,
            runs: 60,
            failed_runs: 0,
            latency: uptime.map(|_| LatencySummary {
                min: 1.0,
                mean: 2.0,
                max: 9.0,
                p50: 2.0,
                p90: 4.0,
                p95: 5.0,
                p99: 8.6,
            }),
            slo: None,
            incidents: 0,
            mttr_seconds: None,
            locations: Vec::new(),
        }
    }

    fn place(location: &str, uptime: Option<f64>) -> LocationReport {
        let c = check("x", uptime);
        LocationReport {
            location: location.into(),
            uptime,
            coverage: c.coverage,
            up_seconds: c.up_seconds,
            down_seconds: 90.0,
            maintenance_seconds: 0.0,
            unknown_seconds: c.unknown_seconds,
            runs: 30,
            failed_runs: 3,
            latency: c.latency,
        }
    }

    #[test]
    fn each_location_of_a_check_gets_a_row_under_it_in_the_table_and_the_csv() {
        let mut api = check("api", Some(100.0));
        api.locations = vec![place("eu-west", Some(95.0)), place("us-east", None)];
        let reports = vec![
            (
                "24h".to_string(),
                report(vec![api.clone(), check("web", Some(99.0))]),
            ),
            (
                "30d".to_string(),
                report(vec![api, check("web", Some(99.0))]),
            ),
        ];
        let text = report_table(&reports);
        let names: Vec<&str> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(names, ["api", "@eu-west", "@us-east", "web"], "{text}");
        let eu: Vec<&str> = text
            .lines()
            .nth(2)
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        assert_eq!(
            eu,
            [
                "@eu-west", "95%", "95%", "50%", "-", "2ms", "5ms", "9ms", "-", "1m30s"
            ],
            "{text}"
        );
        let (header, rows) = csv_rows(&reports);
        assert_eq!(header.last().map(String::as_str), Some("location"));
        let located: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r[0].as_str(), r[r.len() - 1].as_str()))
            .collect();
        assert_eq!(
            located,
            [
                ("api", ""),
                ("api", "eu-west"),
                ("api", "us-east"),
                ("web", "")
            ]
        );
        assert!(rows.iter().all(|r| r.len() == header.len()));
        let runs = header
            .iter()
            .position(|h| h == "failed_runs")
            .unwrap_or_default();
        assert_eq!(rows[1][runs], "3", "a location's own failed runs");
    }

    fn report(checks: Vec<CheckReport>) -> Report {
        Report {
            from: DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default(),
            to: DateTime::from_timestamp(1_780_003_600, 0).unwrap_or_default(),
            checks,
        }
    }

    #[test]
    fn unknown_uptime_latency_and_downtime_print_a_dash_never_100_percent() {
        let reports = vec![(
            String::new(),
            report(vec![check("known", Some(100.0)), check("never-ran", None)]),
        )];
        let text = report_table(&reports);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let never: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            never,
            ["never-ran", "-", "0%", "-", "-", "-", "-", "0", "-"],
            "{text}"
        );
        let known: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            known,
            ["known", "100%", "50%", "-", "2ms", "5ms", "9ms", "0", "0s"],
            "{text}"
        );
    }

    #[test]
    fn several_windows_show_one_uptime_column_each_and_the_rest_over_the_last() {
        let reports = vec![
            ("24h".to_string(), report(vec![check("a", Some(99.5))])),
            ("7d".to_string(), report(vec![check("a", None)])),
            ("30d".to_string(), report(vec![check("a", Some(98.0))])),
        ];
        let text = report_table(&reports);
        let header = text.lines().next().unwrap_or_default();
        for h in [
            "UPTIME 24H",
            "UPTIME 7D",
            "UPTIME 30D",
            "COVERAGE 30D",
            "P95 30D",
        ] {
            assert!(header.contains(h), "{h}: {text}");
        }
        let row: Vec<&str> = text
            .lines()
            .nth(1)
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        assert_eq!(&row[..4], ["a", "99.5%", "-", "98%"], "{text}");
        let (header, rows) = csv_rows(&reports);
        assert_eq!(&header[4..7], ["uptime_24h", "uptime_7d", "uptime_30d"]);
        assert_eq!(&rows[0][4..7], ["99.5", "", "98"]);
        assert_eq!(rows[0].len(), header.len());
    }

    #[test]
    fn the_slo_cell_says_attainment_objective_status_and_budget() {
        let slo = SloReport {
            objective: 99.9,
            window: "30d".into(),
            attainment: Some(99.95),
            budget_seconds: 2592.0,
            budget_left_seconds: 1296.0,
            budget_left_percent: Some(50.0),
            burn_rate_1h: Some(0.0),
            status: "met".into(),
            burning: false,
        };
        let plain = |s: String| anstream::adapter::strip_str(&s).to_string();
        assert_eq!(plain(slo_text(Some(&slo))), "99.95%/99.9% met, 50% left");
        let unknown = SloReport {
            attainment: None,
            budget_left_percent: None,
            status: "unknown".into(),
            ..slo
        };
        assert_eq!(plain(slo_text(Some(&unknown))), "-/99.9% unknown, - left");
        assert_eq!(slo_text(None), "-");
    }

    #[test]
    fn a_window_is_a_duration_longer_than_nothing_and_times_are_rfc_3339() {
        assert_eq!(window("90d").map(|d| d.to_string()), Ok("90d".into()));
        assert!(window("0s").is_err());
        assert!(window("soon").is_err());
        assert!(time("2026-06-01T00:00:00Z").is_ok());
        let e = time("2026-06-01").expect_err("a date alone");
        assert!(e.contains("2026-06-01T00:00:00Z"), "{e}");
    }
}
