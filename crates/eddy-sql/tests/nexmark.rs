//! The Nexmark queries eddy supports, as published in the nexmark/nexmark
//! repository's Flink SQL, on the built-in generator (fixed seed and event
//! count). Each result is checked against the same computation done directly on
//! the generator's events; each query also runs with checkpoints, is stopped
//! with a savepoint, restored at another parallelism and finished, with the same
//! final result as the uninterrupted run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use eddy_connectors::nexmark::{Bid, Event, NexmarkConfig, NexmarkGenerator};
use eddy_core::Config;
use eddy_sql::exec::changelog::RowKind;
use eddy_sql::{Output, Session};

const EVENTS: u64 = 20_000;

fn ddl(events: u64, extra: &str) -> String {
    include_str!("nexmark/ddl.sql")
        .replace("${EVENTS}", &events.to_string())
        .replace("${EXTRA}", extra)
        + include_str!("nexmark/views.sql")
}

fn session(events: u64) -> Session {
    let mut s = Session::new(Config::new());
    s.execute_script(&ddl(events, ""), |_| {}).unwrap();
    s
}

fn bids() -> Vec<Bid> {
    let generator = NexmarkGenerator::new(
        NexmarkConfig::new()
            .with_first_event_rate(10_000)
            .with_max_events(Some(EVENTS)),
    );
    (0..EVENTS)
        .filter_map(|n| match generator.event_at(n) {
            Event::Bid(b) => Some(b),
            _ => None,
        })
        .collect()
}

fn ts(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}

fn day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .naive_utc()
        .format("%Y-%m-%d")
        .to_string()
}

fn euro(price: i64) -> String {
    let v = price as i128 * 908;
    format!("{}.{:03}", v / 1000, v % 1000)
}

/// Runs a query; returns its final rows (the changelog applied), sorted.
fn query(s: &mut Session, sql: &str) -> Vec<String> {
    let Output::Rows { rows, .. } = s.execute_sql(sql).unwrap() else {
        panic!("no rows")
    };
    final_rows(rows.into_iter())
}

fn final_rows(rows: impl Iterator<Item = (RowKind, Vec<Option<String>>)>) -> Vec<String> {
    let mut state: BTreeMap<String, i64> = BTreeMap::new();
    for (kind, cells) in rows {
        let line = cells
            .iter()
            .map(|c| c.clone().unwrap_or_else(|| "NULL".into()))
            .collect::<Vec<_>>()
            .join("|");
        *state.entry(line).or_default() += if kind.is_addition() { 1 } else { -1 };
    }
    let mut out = Vec::new();
    for (line, n) in state {
        assert!(n >= 0, "more retractions than rows for {line}");
        for _ in 0..n {
            out.push(line.clone());
        }
    }
    out
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

const Q0: &str = include_str!("nexmark/q0.sql");
const Q1: &str = include_str!("nexmark/q1.sql");
const Q2: &str = include_str!("nexmark/q2.sql");
const Q14: &str = include_str!("nexmark/q14.sql");
const Q15: &str = include_str!("nexmark/q15.sql");
const Q16: &str = include_str!("nexmark/q16.sql");
const Q17: &str = include_str!("nexmark/q17.sql");
const Q21: &str = include_str!("nexmark/q21.sql");
const Q22: &str = include_str!("nexmark/q22.sql");

fn rank(price: i64) -> usize {
    if price < 10_000 {
        0
    } else if price < 1_000_000 {
        1
    } else {
        2
    }
}

#[test]
fn stateless_queries_q0_q1_q2_q14_q21_q22() {
    let bids = bids();
    assert!(bids.len() > 15_000);
    let mut s = session(EVENTS);
    let expected = sorted(
        bids.iter()
            .map(|b| {
                format!(
                    "{}|{}|{}|{}|{}",
                    b.auction,
                    b.bidder,
                    b.price,
                    ts(b.date_time),
                    b.extra
                )
            })
            .collect(),
    );
    assert_eq!(query(&mut s, Q0), expected, "q0");
    let expected = sorted(
        bids.iter()
            .map(|b| {
                format!(
                    "{}|{}|{}|{}|{}",
                    b.auction,
                    b.bidder,
                    euro(b.price),
                    ts(b.date_time),
                    b.extra
                )
            })
            .collect(),
    );
    assert_eq!(query(&mut s, Q1), expected, "q1");
    let expected = sorted(
        bids.iter()
            .filter(|b| b.auction % 123 == 0)
            .map(|b| format!("{}|{}", b.auction, b.price))
            .collect(),
    );
    assert!(!expected.is_empty());
    assert_eq!(query(&mut s, Q2), expected, "q2");
    let expected = sorted(
        bids.iter()
            .filter(|b| b.price * 908 > 1_000_000_000 && b.price * 908 < 50_000_000_000)
            .map(|b| {
                let hour = chrono::Timelike::hour(
                    &chrono::DateTime::from_timestamp_millis(b.date_time)
                        .unwrap()
                        .naive_utc(),
                );
                let kind = if (8..=18).contains(&hour) {
                    "dayTime"
                } else if hour <= 6 || hour >= 20 {
                    "nightTime"
                } else {
                    "otherTime"
                };
                let c = b.extra.chars().filter(|c| *c == 'c').count();
                format!(
                    "{}|{}|{}|{kind}|{}|{}|{c}",
                    b.auction,
                    b.bidder,
                    euro(b.price),
                    ts(b.date_time),
                    b.extra
                )
            })
            .collect(),
    );
    assert!(!expected.is_empty());
    assert_eq!(query(&mut s, Q14), expected, "q14");
    let re = regex::Regex::new("(&|^)channel_id=([^&]*)").unwrap();
    let expected = sorted(
        bids.iter()
            .filter_map(|b| {
                let extracted = re
                    .captures(&b.url)
                    .and_then(|c| c.get(2))
                    .map(|m| m.as_str().to_string());
                let id = match b.channel.to_lowercase().as_str() {
                    "apple" => Some("0".to_string()),
                    "google" => Some("1".to_string()),
                    "facebook" => Some("2".to_string()),
                    "baidu" => Some("3".to_string()),
                    _ => extracted.clone(),
                };
                let keep = extracted.is_some()
                    || ["apple", "google", "facebook", "baidu"]
                        .contains(&b.channel.to_lowercase().as_str());
                keep.then(|| {
                    format!(
                        "{}|{}|{}|{}|{}",
                        b.auction,
                        b.bidder,
                        b.price,
                        b.channel,
                        id.unwrap_or_else(|| "NULL".into())
                    )
                })
            })
            .collect(),
    );
    assert_eq!(query(&mut s, Q21), expected, "q21");
    let expected = sorted(
        bids.iter()
            .map(|b| {
                let parts: Vec<&str> = b.url.split('/').collect();
                let dir = |k: usize| parts.get(k).map_or("NULL".to_string(), |p| p.to_string());
                format!(
                    "{}|{}|{}|{}|{}|{}|{}",
                    b.auction,
                    b.bidder,
                    b.price,
                    b.channel,
                    dir(3),
                    dir(4),
                    dir(5)
                )
            })
            .collect(),
    );
    assert_eq!(query(&mut s, Q22), expected, "q22");
}

#[test]
fn aggregate_queries_q15_q16_q17() {
    let bids = bids();
    let mut s = session(EVENTS);
    // q17: per auction and day.
    let mut groups: BTreeMap<(i64, String), Vec<i64>> = BTreeMap::new();
    for b in &bids {
        groups
            .entry((b.auction, day(b.date_time)))
            .or_default()
            .push(b.price);
    }
    let expected = sorted(
        groups
            .iter()
            .map(|((auction, d), prices)| {
                let mut ranks = [0; 3];
                prices.iter().for_each(|p| ranks[rank(*p)] += 1);
                let sum: i64 = prices.iter().sum();
                format!(
                    "{auction}|{d}|{}|{}|{}|{}|{}|{}|{}|{sum}",
                    prices.len(),
                    ranks[0],
                    ranks[1],
                    ranks[2],
                    prices.iter().min().unwrap(),
                    prices.iter().max().unwrap(),
                    sum / prices.len() as i64
                )
            })
            .collect(),
    );
    assert_eq!(query(&mut s, Q17), expected, "q17");
    // q15 and q16: distinct bidders and auctions by price rank.
    let stats = |bids: &[&Bid]| -> String {
        let mut counts = [0usize; 3];
        let mut bidders: [BTreeSet<i64>; 3] = Default::default();
        let mut auctions: [BTreeSet<i64>; 3] = Default::default();
        for b in bids {
            let r = rank(b.price);
            counts[r] += 1;
            bidders[r].insert(b.bidder);
            auctions[r].insert(b.auction);
        }
        let all_bidders: BTreeSet<i64> = bids.iter().map(|b| b.bidder).collect();
        let all_auctions: BTreeSet<i64> = bids.iter().map(|b| b.auction).collect();
        format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
            bids.len(),
            counts[0],
            counts[1],
            counts[2],
            all_bidders.len(),
            bidders[0].len(),
            bidders[1].len(),
            bidders[2].len(),
            all_auctions.len(),
            auctions[0].len(),
            auctions[1].len(),
            auctions[2].len()
        )
    };
    let mut by_day: BTreeMap<String, Vec<&Bid>> = BTreeMap::new();
    for b in &bids {
        by_day.entry(day(b.date_time)).or_default().push(b);
    }
    let expected = sorted(
        by_day
            .iter()
            .map(|(d, bs)| format!("{d}|{}", stats(bs)))
            .collect(),
    );
    assert_eq!(query(&mut s, Q15), expected, "q15");
    let mut by_channel: BTreeMap<(String, String), Vec<&Bid>> = BTreeMap::new();
    for b in &bids {
        by_channel
            .entry((b.channel.clone(), day(b.date_time)))
            .or_default()
            .push(b);
    }
    let expected = sorted(
        by_channel
            .iter()
            .map(|((c, d), bs)| {
                let minute = bs
                    .iter()
                    .map(|b| {
                        chrono::DateTime::from_timestamp_millis(b.date_time)
                            .unwrap()
                            .naive_utc()
                            .format("%H:%M")
                            .to_string()
                    })
                    .max()
                    .unwrap();
                format!("{c}|{d}|{minute}|{}", stats(bs))
            })
            .collect(),
    );
    assert_eq!(query(&mut s, Q16), expected, "q16");
}

fn sink_ddl(name: &str, columns: &str, dir: &std::path::Path) -> String {
    format!(
        "CREATE TABLE {name} ({columns}) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'debezium-json')",
        dir.display()
    )
}

fn read_back(s: &mut Session, name: &str) -> Vec<String> {
    query(s, &format!("SELECT * FROM {name}"))
}

#[test]
fn every_query_survives_stop_with_savepoint_and_rescale() {
    let cases: Vec<(&str, &str, &str)> = vec![
        ("q0", "auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), extra VARCHAR", Q0),
        ("q1", "auction BIGINT, bidder BIGINT, price DECIMAL(23, 3), `dateTime` TIMESTAMP(3), extra VARCHAR", Q1),
        ("q2", "auction BIGINT, price BIGINT", Q2),
        ("q14", "auction BIGINT, bidder BIGINT, price DECIMAL(23, 3), bidTimeType VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR, c_counts BIGINT", Q14),
        ("q15", "`day` VARCHAR, total_bids BIGINT, rank1_bids BIGINT, rank2_bids BIGINT, rank3_bids BIGINT, total_bidders BIGINT, rank1_bidders BIGINT, rank2_bidders BIGINT, rank3_bidders BIGINT, total_auctions BIGINT, rank1_auctions BIGINT, rank2_auctions BIGINT, rank3_auctions BIGINT", Q15),
        ("q16", "channel VARCHAR, `day` VARCHAR, `minute` VARCHAR, total_bids BIGINT, rank1_bids BIGINT, rank2_bids BIGINT, rank3_bids BIGINT, total_bidders BIGINT, rank1_bidders BIGINT, rank2_bidders BIGINT, rank3_bidders BIGINT, total_auctions BIGINT, rank1_auctions BIGINT, rank2_auctions BIGINT, rank3_auctions BIGINT", Q16),
        ("q17", "auction BIGINT, `day` VARCHAR, total_bids BIGINT, rank1_bids BIGINT, rank2_bids BIGINT, rank3_bids BIGINT, min_price BIGINT, max_price BIGINT, avg_price BIGINT, sum_price BIGINT", Q17),
        ("q21", "auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, channel_id VARCHAR", Q21),
        ("q22", "auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, dir1 VARCHAR, dir2 VARCHAR, dir3 VARCHAR", Q22),
        (
            "window",
            "auction BIGINT, window_start TIMESTAMP(3), num BIGINT",
            "SELECT auction, window_start, COUNT(*) AS num FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end",
        ),
    ];
    let events = 12_000;
    for (name, columns, select) in cases {
        let tmp = tempfile::tempdir().unwrap();
        // The uninterrupted run, at parallelism 1.
        let mut s = session(events);
        s.execute_sql(&sink_ddl("out", columns, &tmp.path().join("a")))
            .unwrap();
        s.execute_sql(&format!("INSERT INTO out {select}")).unwrap();
        let expected = read_back(&mut s, "out");
        assert!(!expected.is_empty(), "{name}");
        // The same job, throttled and checkpointing, stopped with a savepoint...
        let mut s = Session::new(Config::new());
        s.execute_script(&ddl(events, ", 'rows-per-second' = '15000'"), |_| {})
            .unwrap();
        s.config.set("execution.checkpointing.interval", "100 ms");
        s.config.set(
            "execution.checkpointing.dir",
            tmp.path().join("ck").display().to_string(),
        );
        s.execute_sql(&sink_ddl("out", columns, &tmp.path().join("b")))
            .unwrap();
        let client = s.submit(&format!("INSERT INTO out {select}")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(350));
        let savepoint = client
            .stop_with_savepoint(tmp.path().join("sp"), false)
            .unwrap();
        let mut r = session(events);
        r.execute_sql(&sink_ddl("out", columns, &tmp.path().join("b")))
            .unwrap();
        let partial = read_back(&mut r, "out");
        assert_ne!(
            partial, expected,
            "{name}: the job was stopped after its end"
        );
        // ... then restored at parallelism 2 and finished.
        let mut s = session(events);
        s.config.set("parallelism.default", "2");
        s.config.set("execution.checkpointing.interval", "100 ms");
        s.config.set(
            "execution.checkpointing.dir",
            tmp.path().join("ck2").display().to_string(),
        );
        s.config.set(
            "execution.state-recovery.path",
            savepoint.display().to_string(),
        );
        s.execute_sql(&sink_ddl("out", columns, &tmp.path().join("b")))
            .unwrap();
        s.execute_sql(&format!("INSERT INTO out {select}")).unwrap();
        let mut s = session(events);
        s.execute_sql(&sink_ddl("out", columns, &tmp.path().join("b")))
            .unwrap();
        let actual = read_back(&mut s, "out");
        assert_eq!(
            actual.len(),
            expected.len(),
            "{name}: row count after restore"
        );
        assert_eq!(actual, expected, "{name}: rows after restore");
    }
}
