//! The Nexmark queries eddy supports, as published in the nexmark/nexmark
//! repository's Flink SQL, on the built-in generator (fixed seed and event
//! count). Each result is checked against the same computation done directly on
//! the generator's events; each query also runs with checkpoints, is stopped
//! with a savepoint, restored at another parallelism and finished, with the same
//! final result as the uninterrupted run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use eddy_connectors::nexmark::{Auction, Bid, Event, NexmarkConfig, NexmarkGenerator, Person};
use eddy_core::Config;
use eddy_sql::exec::changelog::RowKind;
use eddy_sql::{Output, Session};

const EVENTS: u64 = 20_000;

/// The side input of q13: key `k` has the value `v<k>`, for keys below 10 000.
fn side_input() -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("nexmark-side-input.csv");
    if !path.exists() {
        let text: String = (0..10_000).map(|k| format!("{k},v{k}\n")).collect();
        let partial = path.with_extension(format!("{}.tmp", std::process::id()));
        std::fs::write(&partial, text).unwrap();
        std::fs::rename(&partial, &path).unwrap();
    }
    path
}

fn ddl(events: u64, extra: &str) -> String {
    include_str!("nexmark/ddl.sql")
        .replace("${EVENTS}", &events.to_string())
        .replace("${EXTRA}", extra)
        + include_str!("nexmark/views.sql")
        + &include_str!("nexmark/side_input.sql")
            .replace("${SIDE_INPUT}", &side_input().display().to_string())
        + "CREATE VIEW B AS SELECT *, PROCTIME() as p_time FROM bid;"
        // The auctions as a versioned table, for event-time temporal joins.
        + &format!(
            "CREATE TABLE auction_versions (id BIGINT, seller BIGINT, `dateTime` TIMESTAMP(3),
              PRIMARY KEY (id) NOT ENFORCED, WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND)
             WITH ('connector' = 'nexmark', 'events.kind' = 'auction', 'first-event.rate' = '10000',
              'next-event.rate' = '10000', 'events.num' = '{events}'{extra});"
        )
}

fn session(events: u64) -> Session {
    let mut s = Session::new(Config::new());
    s.execute_script(&ddl(events, ""), |_| {}).unwrap();
    s
}

fn events() -> Vec<Event> {
    let generator = NexmarkGenerator::new(
        NexmarkConfig::new()
            .with_first_event_rate(10_000)
            .with_max_events(Some(EVENTS)),
    );
    (0..EVENTS).map(|n| generator.event_at(n)).collect()
}

fn bids() -> Vec<Bid> {
    events()
        .into_iter()
        .filter_map(|e| match e {
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
const Q3: &str = include_str!("nexmark/q3.sql");
const Q4: &str = include_str!("nexmark/q4.sql");
const Q5: &str = include_str!("nexmark/q5.sql");
const Q7: &str = include_str!("nexmark/q7.sql");
const Q8: &str = include_str!("nexmark/q8.sql");
const Q20: &str = include_str!("nexmark/q20.sql");
const Q9: &str = include_str!("nexmark/q9.sql");
const Q18: &str = include_str!("nexmark/q18.sql");
const Q19: &str = include_str!("nexmark/q19.sql");
const Q11: &str = include_str!("nexmark/q11.sql");
const Q12: &str = include_str!("nexmark/q12.sql");
const Q13: &str = include_str!("nexmark/q13.sql");
const Q12_TOTALS: &str = concat!(
    "SELECT bidder, SUM(bid_count) FROM (",
    include_str!("nexmark/q12.sql"),
    ") GROUP BY bidder"
);

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

/// The events split by kind.
fn split(events: Vec<Event>) -> (Vec<Person>, Vec<Auction>, Vec<Bid>) {
    let (mut people, mut auctions, mut bids) = (Vec::new(), Vec::new(), Vec::new());
    for e in events {
        match e {
            Event::Person(p) => people.push(p),
            Event::Auction(a) => auctions.push(a),
            Event::Bid(b) => bids.push(b),
        }
    }
    (people, auctions, bids)
}

/// The start of the `size`-wide window, sliding by `slide`, that each
/// timestamp falls into (all of them for a hopping window).
fn window_starts(t: i64, size: i64, slide: i64) -> Vec<i64> {
    let last = t - t.rem_euclid(slide);
    (0..)
        .map(|k| last - k * slide)
        .take_while(|s| *s > t - size)
        .collect()
}

#[test]
fn join_queries_q3_q4_q5_q7_q8_q20() {
    let (people, auctions, bids) = split(events());
    let mut s = session(EVENTS);
    // q3: sellers in OR, ID or CA of auctions in category 10.
    let by_id: BTreeMap<i64, &Person> = people.iter().map(|p| (p.id, p)).collect();
    let expected = sorted(
        auctions
            .iter()
            .filter(|a| a.category == 10)
            .filter_map(|a| {
                let p = by_id.get(&a.seller)?;
                ["OR", "ID", "CA"]
                    .contains(&p.state.as_str())
                    .then(|| format!("{}|{}|{}|{}", p.name, p.city, p.state, a.id))
            })
            .collect(),
    );
    assert!(!expected.is_empty());
    assert_eq!(query(&mut s, Q3), expected, "q3");
    // q4: the average winning price per category.
    let mut finals: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for a in &auctions {
        let winning = bids
            .iter()
            .filter(|b| b.auction == a.id && a.date_time <= b.date_time && b.date_time <= a.expires)
            .map(|b| b.price)
            .max();
        if let Some(price) = winning {
            finals.entry(a.category).or_default().push(price);
        }
    }
    let expected = sorted(
        finals
            .iter()
            .map(|(c, f)| format!("{c}|{}", f.iter().sum::<i64>() / f.len() as i64))
            .collect(),
    );
    assert!(!expected.is_empty());
    assert_eq!(query(&mut s, Q4), expected, "q4");
    // q5: the auctions with the most bids per 10 s window, sliding by 2 s.
    let mut counts: BTreeMap<i64, BTreeMap<i64, i64>> = BTreeMap::new();
    for b in &bids {
        for start in window_starts(b.date_time, 10_000, 2_000) {
            *counts
                .entry(start)
                .or_default()
                .entry(b.auction)
                .or_default() += 1;
        }
    }
    let expected = sorted(
        counts
            .values()
            .flat_map(|per_auction| {
                let max = per_auction.values().copied().max().unwrap_or(0);
                per_auction
                    .iter()
                    .filter(move |(_, n)| **n >= max)
                    .map(|(a, n)| format!("{a}|{n}"))
            })
            .collect(),
    );
    assert_eq!(query(&mut s, Q5), expected, "q5");
    // q7: the bids at the highest price of each 10 s window, within it.
    let mut max_price: BTreeMap<i64, i64> = BTreeMap::new();
    for b in &bids {
        let start = b.date_time - b.date_time.rem_euclid(10_000);
        let m = max_price.entry(start).or_insert(b.price);
        *m = (*m).max(b.price);
    }
    let expected = sorted(
        max_price
            .iter()
            .flat_map(|(start, m)| {
                bids.iter()
                    .filter(move |b| {
                        b.price == *m && *start <= b.date_time && b.date_time <= start + 10_000
                    })
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
            })
            .collect(),
    );
    assert!(!expected.is_empty());
    assert_eq!(query(&mut s, Q7), expected, "q7");
    // q8: people who created an auction in the 10 s window they joined in.
    let window = |t: i64| t - t.rem_euclid(10_000);
    let joined: BTreeSet<(i64, String, i64)> = people
        .iter()
        .map(|p| (p.id, p.name.clone(), window(p.date_time)))
        .collect();
    let selling: BTreeSet<(i64, i64)> = auctions
        .iter()
        .map(|a| (a.seller, window(a.date_time)))
        .collect();
    let expected = sorted(
        joined
            .iter()
            .filter(|(id, _, w)| selling.contains(&(*id, *w)))
            .map(|(id, name, w)| format!("{id}|{name}|{}", ts(*w)))
            .collect(),
    );
    assert!(!expected.is_empty());
    assert_eq!(query(&mut s, Q8), expected, "q8");
    // q20: bids with their auction, for auctions in category 10.
    let by_auction: BTreeMap<i64, &Auction> = auctions.iter().map(|a| (a.id, a)).collect();
    let expected = sorted(
        bids.iter()
            .filter_map(|b| {
                let a = by_auction.get(&b.auction).filter(|a| a.category == 10)?;
                Some(format!(
                    "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
                    b.auction,
                    b.bidder,
                    b.price,
                    b.channel,
                    b.url,
                    ts(b.date_time),
                    b.extra,
                    a.item_name,
                    a.description,
                    a.initial_bid,
                    a.reserve,
                    ts(a.date_time),
                    ts(a.expires),
                    a.seller,
                    a.category,
                    a.extra
                ))
            })
            .collect(),
    );
    assert!(!expected.is_empty());
    assert_eq!(query(&mut s, Q20), expected, "q20");
}

#[test]
fn session_query_q11() {
    let bids = bids();
    let mut s = session(EVENTS);
    let mut times: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for b in &bids {
        times.entry(b.bidder).or_default().push(b.date_time);
    }
    let mut expected = Vec::new();
    for (bidder, mut ts) in times {
        ts.sort_unstable();
        let (mut start, mut end, mut count) = (ts[0], ts[0] + 10_000, 0);
        for t in ts {
            if t > end {
                expected.push(format!(
                    "{bidder}|{count}|{}|{}",
                    self::ts(start),
                    self::ts(end)
                ));
                (start, count) = (t, 0);
            }
            end = end.max(t + 10_000);
            count += 1;
        }
        expected.push(format!(
            "{bidder}|{count}|{}|{}",
            self::ts(start),
            self::ts(end)
        ));
    }
    assert_eq!(query(&mut s, Q11), sorted(expected), "q11");
}

/// q12 windows processing time, so only the shape of its result is fixed:
/// 10 s windows on 10 s boundaries whose counts add up to each bidder's bids.
#[test]
fn processing_time_query_q12() {
    let bids = bids();
    let mut s = session(EVENTS);
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for b in &bids {
        *expected.entry(b.bidder.to_string()).or_default() += 1;
    }
    let mut actual: BTreeMap<String, i64> = BTreeMap::new();
    let parse = |t: &str| {
        chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.3f")
            .unwrap()
            .and_utc()
            .timestamp_millis()
    };
    for row in query(&mut s, Q12) {
        let cells: Vec<&str> = row.split('|').collect();
        let (start, end) = (parse(cells[2]), parse(cells[3]));
        assert_eq!(end - start, 10_000, "{row}");
        assert_eq!(start % 10_000, 0, "{row}");
        *actual.entry(cells[0].to_string()).or_default() += cells[1].parse::<i64>().unwrap();
    }
    assert_eq!(actual, expected, "q12");
}

#[test]
fn lookup_query_q13() {
    let bids = bids();
    let mut s = session(EVENTS);
    let expected = sorted(
        bids.iter()
            .map(|b| {
                format!(
                    "{}|{}|{}|{}|v{}",
                    b.auction,
                    b.bidder,
                    b.price,
                    ts(b.date_time),
                    b.auction % 10_000
                )
            })
            .collect(),
    );
    assert_eq!(query(&mut s, Q13), expected, "q13");
}

/// The generator as flat tables of one kind of event ('events.kind').
#[test]
fn flat_tables_of_one_kind() {
    let (people, auctions, bids) = split(events());
    let mut s = session(EVENTS);
    let with = |kind: &str| {
        format!("WITH ('connector' = 'nexmark', 'events.kind' = '{kind}', 'first-event.rate' = '10000', 'events.num' = '{EVENTS}')")
    };
    s.execute_sql(&format!(
        "CREATE TABLE flat_bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR, WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND) {}",
        with("bid")
    ))
    .unwrap();
    let expected = sorted(bids.iter().map(bid_line).collect());
    assert_eq!(query(&mut s, "SELECT * FROM flat_bid"), expected, "bids");
    // Any subset of the fields, in any order.
    s.execute_sql(&format!(
        "CREATE TABLE flat_person (state VARCHAR, id BIGINT, name VARCHAR) {}",
        with("person")
    ))
    .unwrap();
    let expected = sorted(
        people
            .iter()
            .map(|p| format!("{}|{}|{}", p.state, p.id, p.name))
            .collect(),
    );
    assert_eq!(
        query(&mut s, "SELECT * FROM flat_person"),
        expected,
        "people"
    );
    s.execute_sql(&format!(
        "CREATE TABLE flat_auction (id BIGINT, seller BIGINT, expires TIMESTAMP(3)) {}",
        with("auction")
    ))
    .unwrap();
    let expected = sorted(
        auctions
            .iter()
            .map(|a| format!("{}|{}|{}", a.id, a.seller, ts(a.expires)))
            .collect(),
    );
    assert_eq!(
        query(&mut s, "SELECT * FROM flat_auction"),
        expected,
        "auctions"
    );
    s.execute_sql(&format!(
        "CREATE TABLE wrong (price BIGINT, colour VARCHAR) {}",
        with("bid")
    ))
    .unwrap();
    let e = s
        .execute_sql("SELECT * FROM wrong")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("table wrong: a nexmark bid has no field 'colour' (it has auction, bidder, price, channel, url, dateTime, extra)"),
        "{e}"
    );
}

fn bid_line(b: &Bid) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}|{}",
        b.auction,
        b.bidder,
        b.price,
        b.channel,
        b.url,
        ts(b.date_time),
        b.extra
    )
}

#[test]
fn rank_queries_q9_q18_q19() {
    let (_, auctions, bids) = split(events());
    let mut s = session(EVENTS);
    // q9: each auction's winning bid (highest price, then earliest).
    let expected = sorted(
        auctions
            .iter()
            .filter_map(|a| {
                let mut best: Option<&Bid> = None;
                for b in bids.iter().filter(|b| {
                    b.auction == a.id && a.date_time <= b.date_time && b.date_time <= a.expires
                }) {
                    let better =
                        best.is_none_or(|w| (b.price, -b.date_time) > (w.price, -w.date_time));
                    if better {
                        best = Some(b);
                    }
                }
                let b = best?;
                Some(format!(
                    "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
                    a.id,
                    a.item_name,
                    a.description,
                    a.initial_bid,
                    a.reserve,
                    ts(a.date_time),
                    ts(a.expires),
                    a.seller,
                    a.category,
                    a.extra,
                    b.auction,
                    b.bidder,
                    b.price,
                    ts(b.date_time),
                    b.extra
                ))
            })
            .collect(),
    );
    assert!(!expected.is_empty());
    assert_eq!(query(&mut s, Q9), expected, "q9");
    // q18: each bidder's last bid per auction (a later bid of equal time wins).
    let mut last: BTreeMap<(i64, i64), &Bid> = BTreeMap::new();
    for b in &bids {
        let kept = last.entry((b.bidder, b.auction)).or_insert(b);
        if b.date_time >= kept.date_time {
            *kept = b;
        }
    }
    let expected = sorted(last.values().map(|b| bid_line(b)).collect());
    assert_eq!(query(&mut s, Q18), expected, "q18");
    // q19: the ten highest bids per auction, ties in arrival order.
    let mut per_auction: BTreeMap<i64, Vec<&Bid>> = BTreeMap::new();
    for b in &bids {
        per_auction.entry(b.auction).or_default().push(b);
    }
    let expected = sorted(
        per_auction
            .values_mut()
            .flat_map(|list| {
                list.sort_by_key(|b| std::cmp::Reverse(b.price));
                list.iter()
                    .take(10)
                    .enumerate()
                    .map(|(k, b)| format!("{}|{}", bid_line(b), k + 1))
                    .collect::<Vec<_>>()
            })
            .collect(),
    );
    assert_eq!(query(&mut s, Q19), expected, "q19");
}

fn sink_ddl(name: &str, columns: &str, dir: &std::path::Path) -> String {
    format!(
        "CREATE TABLE {name} ({columns}) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'debezium-json')",
        dir.display()
    )
}

/// The listed `|`-separated columns of each row (all of them for `None`), sorted.
fn project(rows: Vec<String>, columns: Option<&[usize]>) -> Vec<String> {
    let Some(columns) = columns else {
        return rows;
    };
    sorted(
        rows.iter()
            .map(|r| {
                let cells: Vec<&str> = r.split('|').collect();
                columns
                    .iter()
                    .map(|&c| cells.get(c).copied().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect(),
    )
}

fn read_back(s: &mut Session, name: &str) -> Vec<String> {
    query(s, &format!("SELECT * FROM {name}"))
}

#[test]
fn every_query_survives_stop_with_savepoint_and_rescale() {
    // Rows of equal sort key (time or price) from parallel source subtasks reach
    // a Top-N or deduplication in no fixed order, so for those queries only
    // the columns that do not depend on it are compared (the listed ones).
    let cases: Vec<(&str, &str, &str, Option<&[usize]>)> = vec![
        ("q0", "auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), extra VARCHAR", Q0, None),
        ("q1", "auction BIGINT, bidder BIGINT, price DECIMAL(23, 3), `dateTime` TIMESTAMP(3), extra VARCHAR", Q1, None),
        ("q2", "auction BIGINT, price BIGINT", Q2, None),
        ("q14", "auction BIGINT, bidder BIGINT, price DECIMAL(23, 3), bidTimeType VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR, c_counts BIGINT", Q14, None),
        ("q15", "`day` VARCHAR, total_bids BIGINT, rank1_bids BIGINT, rank2_bids BIGINT, rank3_bids BIGINT, total_bidders BIGINT, rank1_bidders BIGINT, rank2_bidders BIGINT, rank3_bidders BIGINT, total_auctions BIGINT, rank1_auctions BIGINT, rank2_auctions BIGINT, rank3_auctions BIGINT", Q15, None),
        ("q16", "channel VARCHAR, `day` VARCHAR, `minute` VARCHAR, total_bids BIGINT, rank1_bids BIGINT, rank2_bids BIGINT, rank3_bids BIGINT, total_bidders BIGINT, rank1_bidders BIGINT, rank2_bidders BIGINT, rank3_bidders BIGINT, total_auctions BIGINT, rank1_auctions BIGINT, rank2_auctions BIGINT, rank3_auctions BIGINT", Q16, None),
        ("q17", "auction BIGINT, `day` VARCHAR, total_bids BIGINT, rank1_bids BIGINT, rank2_bids BIGINT, rank3_bids BIGINT, min_price BIGINT, max_price BIGINT, avg_price BIGINT, sum_price BIGINT", Q17, None),
        ("q21", "auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, channel_id VARCHAR", Q21, None),
        ("q22", "auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, dir1 VARCHAR, dir2 VARCHAR, dir3 VARCHAR", Q22, None),
        ("q3", "name VARCHAR, city VARCHAR, state VARCHAR, id BIGINT", Q3, None),
        ("q4", "id BIGINT, final BIGINT", Q4, None),
        ("q5", "auction BIGINT, num BIGINT", Q5, None),
        ("q7", "auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), extra VARCHAR", Q7, None),
        ("q8", "id BIGINT, name VARCHAR, stime TIMESTAMP(3)", Q8, None),
        ("q20", "auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, bid_dateTime TIMESTAMP(3), bid_extra VARCHAR, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, auction_dateTime TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, auction_extra VARCHAR", Q20, None),
        ("q11", "bidder BIGINT, bid_count BIGINT, starttime TIMESTAMP(3), endtime TIMESTAMP(3)", Q11, None),
        // q12's windows depend on the clock; each bidder's bids add up the same.
        ("q12", "bidder BIGINT, bids BIGINT", Q12_TOTALS, None),
        ("q13", "auction BIGINT, bidder BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), `value` VARCHAR", Q13, None),
        ("q9", "id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, `dateTime` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR, auction BIGINT, bidder BIGINT, price BIGINT, bid_dateTime TIMESTAMP(3), bid_extra VARCHAR", Q9, Some(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13])),
        ("q18", "auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR", Q18, Some(&[0, 1, 5])),
        ("q19", "auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, `dateTime` TIMESTAMP(3), extra VARCHAR, rank_number BIGINT", Q19, Some(&[0, 2, 7])),
        (
            "over",
            "auction BIGINT, price BIGINT, recent BIGINT",
            "SELECT auction, price, SUM(price) OVER (PARTITION BY auction ORDER BY `dateTime` RANGE BETWEEN INTERVAL '2' SECOND PRECEDING AND CURRENT ROW) FROM bid",
            None,
        ),
        (
            "interval join",
            "auction BIGINT, price BIGINT, seller BIGINT",
            "SELECT B.auction, B.price, A.seller FROM bid B JOIN auction A ON B.auction = A.id AND B.`dateTime` BETWEEN A.`dateTime` AND A.`dateTime` + INTERVAL '2' SECOND",
            None,
        ),
        (
            "temporal join",
            "auction BIGINT, price BIGINT, seller BIGINT",
            "SELECT B.auction, B.price, A.seller FROM bid B JOIN auction_versions FOR SYSTEM_TIME AS OF B.`dateTime` AS A ON B.auction = A.id",
            None,
        ),
        (
            "window top-n",
            "window_start TIMESTAMP(3), auction BIGINT, price BIGINT, rn BIGINT",
            "SELECT * FROM (SELECT window_start, auction, price, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rn FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '1' SECOND))) WHERE rn <= 3",
            Some(&[0, 2, 3]),
        ),
        (
            "window",
            "auction BIGINT, window_start TIMESTAMP(3), num BIGINT",
            "SELECT auction, window_start, COUNT(*) AS num FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end",
            None,
        ),
    ];
    let events = 12_000;
    for (name, columns, select, compared) in cases {
        let read_back = |s: &mut Session, table: &str| project(read_back(s, table), compared);
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
        s.config.set("restart-strategy.type", "none");
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
        s.config.set("restart-strategy.type", "none");
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
        let missing: Vec<&String> = expected.iter().filter(|r| !actual.contains(r)).collect();
        let extra: Vec<&String> = actual.iter().filter(|r| !expected.contains(r)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{name}: rows after restore differ\n  missing: {missing:?}\n  extra: {extra:?}"
        );
    }
}
