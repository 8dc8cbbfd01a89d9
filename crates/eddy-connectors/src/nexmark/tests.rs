//! Unit tests of the Nexmark generator.

use super::*;

fn bounded(max_events: u64) -> NexmarkConfig {
    NexmarkConfig::default().with_max_events(Some(max_events))
}

fn kinds(events: &[Event]) -> [usize; 3] {
    let mut counts = [0; 3];
    for e in events {
        counts[e.kind() as usize] += 1;
    }
    counts
}

/// Runs a generator to completion, pairing each event with its global event number.
fn numbered(mut generator: NexmarkGenerator) -> Vec<(u64, Event)> {
    let mut out = Vec::new();
    loop {
        let n = generator.next_event_number();
        match generator.next() {
            Some(e) => out.push((n, e)),
            None => return out,
        }
    }
}

#[test]
fn proportions_are_exactly_1_3_46() {
    let events: Vec<Event> = NexmarkGenerator::new(bounded(50_000)).collect();
    assert_eq!(events.len(), 50_000);
    assert_eq!(kinds(&events), [1_000, 3_000, 46_000]);
    for (n, e) in events.iter().enumerate() {
        let expected = match n % 50 {
            0 => EventKind::Person,
            1..=3 => EventKind::Auction,
            _ => EventKind::Bid,
        };
        assert_eq!(e.kind(), expected, "event {n}");
    }
}

#[test]
fn same_seed_same_events_different_seed_different_events() {
    let a: Vec<Event> = NexmarkGenerator::new(bounded(5_000).with_seed(42)).collect();
    let b: Vec<Event> = NexmarkGenerator::new(bounded(5_000).with_seed(42)).collect();
    assert_eq!(a, b);
    let c: Vec<Event> = NexmarkGenerator::new(bounded(5_000).with_seed(43)).collect();
    assert_eq!(a.len(), c.len());
    let differing = a.iter().zip(&c).filter(|(x, y)| x != y).count();
    assert!(differing > 4_900, "only {differing} events differ");
    // The seed changes random fields, never the structure.
    for (x, y) in a.iter().zip(&c) {
        assert_eq!(x.kind(), y.kind());
        assert_eq!(x.timestamp(), y.timestamp());
    }
}

#[test]
fn default_seed_is_zero_and_default_rate_is_10k() {
    let config = NexmarkConfig::default();
    assert_eq!(config.seed, 0);
    assert_eq!(config.first_event_rate, 10_000);
    assert_eq!(config.max_events, None);
    assert_eq!(config.inter_event_delay_us(), 100.0);
    assert_eq!(config.timestamp_for_event(0), DEFAULT_BASE_TIME_MS);
    assert_eq!(
        config.timestamp_for_event(10_000),
        DEFAULT_BASE_TIME_MS + 1_000
    );
}

#[test]
fn splits_together_equal_the_single_generator() {
    let config = bounded(10_001).with_seed(9);
    let single: Vec<(u64, Event)> = numbered(NexmarkGenerator::new(config.clone()));
    assert_eq!(single.len(), 10_001);
    for num_splits in [2, 3] {
        let mut merged: Vec<(u64, Event)> = NexmarkGenerator::splits(&config, num_splits)
            .into_iter()
            .enumerate()
            .flat_map(|(i, split)| {
                let events = numbered(split);
                for (n, _) in &events {
                    assert_eq!(*n % num_splits as u64, i as u64);
                }
                events
            })
            .collect();
        assert_eq!(merged.len(), single.len());
        merged.sort_by_key(|(n, _)| *n);
        assert_eq!(merged, single, "{num_splits} splits");
    }
}

#[test]
fn split_size_hint_is_exact() {
    let config = bounded(10);
    let sizes: Vec<usize> = NexmarkGenerator::splits(&config, 3)
        .iter()
        .map(|g| g.size_hint().0)
        .collect();
    assert_eq!(sizes, [4, 3, 3]);
    let mut g = NexmarkGenerator::new_split(config, 1, 3);
    assert_eq!(g.by_ref().count(), 3);
    assert_eq!(g.size_hint(), (0, Some(0)));
    assert!(g.next().is_none());
    assert_eq!(
        NexmarkGenerator::new(NexmarkConfig::default())
            .size_hint()
            .1,
        None
    );
}

#[test]
fn seek_and_resume_give_identical_continuation() {
    let config = bounded(5_000).with_seed(3);
    let mut original = NexmarkGenerator::new(config.clone());
    for _ in 0..1_234 {
        original.next();
    }
    let position = original.next_event_number();
    assert_eq!(position, 1_234);
    let resumed: Vec<Event> =
        NexmarkGenerator::from_position(config.clone(), 0, 1, position).collect();
    let rest: Vec<Event> = original.collect();
    assert_eq!(resumed.len(), 5_000 - 1_234);
    assert_eq!(resumed, rest);

    // Seeking backwards replays.
    let mut g = NexmarkGenerator::new(config.clone());
    let first: Vec<Event> = g.by_ref().take(100).collect();
    g.seek(0);
    let again: Vec<Event> = g.take(100).collect();
    assert_eq!(first, again);

    // Splits resume at their own next event.
    let mut split = NexmarkGenerator::new_split(config.clone(), 2, 3);
    split.by_ref().take(77).for_each(drop);
    let position = split.next_event_number();
    assert_eq!(position % 3, 2);
    let resumed: Vec<Event> = NexmarkGenerator::from_position(config.clone(), 2, 3, position)
        .take(500)
        .collect();
    assert_eq!(resumed, split.take(500).collect::<Vec<_>>());

    // A position not on the split's stride moves to the split's next event.
    let mut split = NexmarkGenerator::new_split(config, 1, 3);
    split.seek(5);
    assert_eq!(split.next_event_number(), 7);
    split.seek(7);
    assert_eq!(split.next_event_number(), 7);
}

#[test]
fn event_at_matches_iteration() {
    let config = bounded(300).with_seed(11);
    let generator = NexmarkGenerator::new_split(config.clone(), 1, 2);
    for (n, e) in numbered(NexmarkGenerator::new(config)) {
        assert_eq!(generator.event_at(n), e);
    }
}

#[test]
fn timestamps_are_monotonic_and_follow_the_rate() {
    let config = bounded(20_000)
        .with_first_event_rate(1_000)
        .with_base_time_ms(5_000);
    let events: Vec<Event> = NexmarkGenerator::new(config.clone()).collect();
    assert_eq!(events[0].timestamp(), 5_000);
    assert_eq!(events[1_000].timestamp() - events[0].timestamp(), 1_000);
    assert_eq!(events[1].timestamp() - events[0].timestamp(), 1);
    for pair in events.windows(2) {
        assert!(pair[0].timestamp() <= pair[1].timestamp());
    }
    for split in NexmarkGenerator::splits(&config, 3) {
        let ts: Vec<i64> = split.map(|e| e.timestamp()).collect();
        assert!(ts.windows(2).all(|w| w[0] <= w[1]));
    }

    // Fractional inter-event delays: rate 3/s → 333.33 ms apart.
    let slow = NexmarkConfig::default()
        .with_first_event_rate(3)
        .with_base_time_ms(0);
    let ts: Vec<i64> = (0..7).map(|n| slow.timestamp_for_event(n)).collect();
    assert_eq!(ts, [0, 333, 666, 1_000, 1_333, 1_666, 2_000]);

    let generator = NexmarkGenerator::new(config);
    assert_eq!(generator.next_timestamp(), Some(5_000));
}

#[test]
fn person_and_auction_ids_are_consecutive() {
    let events: Vec<Event> = NexmarkGenerator::new(bounded(20_000)).collect();
    let persons: Vec<i64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Person(p) => Some(p.id),
            _ => None,
        })
        .collect();
    let expected: Vec<i64> = (FIRST_PERSON_ID..FIRST_PERSON_ID + 400).collect();
    assert_eq!(persons, expected);
    let auctions: Vec<i64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Auction(a) => Some(a.id),
            _ => None,
        })
        .collect();
    let expected: Vec<i64> = (FIRST_AUCTION_ID..FIRST_AUCTION_ID + 1_200).collect();
    assert_eq!(auctions, expected);
}

#[test]
fn bids_reference_already_generated_auctions() {
    let mut latest_auction = None;
    let mut hot = 0;
    let mut bids = 0;
    for event in NexmarkGenerator::new(bounded(100_000).with_seed(5)) {
        match event {
            Event::Auction(a) => latest_auction = Some(a.id),
            Event::Bid(b) => {
                let latest = latest_auction.expect("an auction precedes every bid");
                assert!(
                    b.auction >= FIRST_AUCTION_ID && b.auction <= latest,
                    "{b:?}"
                );
                assert!(b.bidder >= FIRST_PERSON_ID, "{b:?}");
                bids += 1;
                if (b.auction - FIRST_AUCTION_ID) % 100 == 0 {
                    hot += 1;
                }
            }
            Event::Person(_) => {}
        }
    }
    // hot_auction_ratio = 2: about half the bids go to hot auctions.
    let hot_share = f64::from(hot) / f64::from(bids);
    assert!((0.45..0.6).contains(&hot_share), "hot share {hot_share}");
}

#[test]
fn field_values_are_plausible() {
    let config = bounded(50_000).with_seed(1);
    let mut bid_extra = 0usize;
    let mut bids = 0usize;
    for event in NexmarkGenerator::new(config) {
        match event {
            Event::Person(p) => {
                assert_eq!(p.credit_card.len(), 19, "{p:?}");
                assert!(p.email_address.ends_with(".com") && p.email_address.contains('@'));
                assert!(p.name.contains(' '));
                assert!(!p.city.is_empty() && p.state.len() == 2);
                assert!(p.extra.len() <= 200);
            }
            Event::Auction(a) => {
                assert!(a.expires > a.date_time, "{a:?}");
                assert!(a.reserve >= a.initial_bid && a.initial_bid >= 100);
                assert!((FIRST_CATEGORY_ID..FIRST_CATEGORY_ID + 5).contains(&a.category));
                assert!(a.seller >= FIRST_PERSON_ID);
                assert!(a.item_name.len() < 20 && a.description.len() < 100);
            }
            Event::Bid(b) => {
                assert!((100..=100_000_000).contains(&b.price), "{b:?}");
                assert!(!b.channel.is_empty());
                assert!(b.url.starts_with("https://www.nexmark.com/"), "{b:?}");
                // avg 100 bytes, 32 of them fixed: padding 54..=81 bytes.
                assert!((54..=81).contains(&b.extra.len()), "{b:?}");
                assert!(b.extra.bytes().all(|c| c.is_ascii_lowercase()));
                bid_extra += b.extra.len();
                bids += 1;
            }
        }
    }
    let avg = bid_extra as f64 / bids as f64;
    assert!((66.0..70.0).contains(&avg), "average bid padding {avg}");
}

#[test]
fn channel_urls_depend_only_on_the_channel() {
    let mut urls = std::collections::HashMap::new();
    for seed in [0, 1] {
        for event in NexmarkGenerator::new(bounded(20_000).with_seed(seed)) {
            if let Event::Bid(b) = event {
                let hot = ["Google", "Facebook", "Baidu", "Apple"].contains(&b.channel.as_str());
                let numbered = b
                    .channel
                    .strip_prefix("channel-")
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_some_and(|n| n < 10_000);
                assert!(hot || numbered, "{b:?}");
                assert!(b.url.ends_with("item.htm?query=1") || b.url.contains("&channel_id="));
                assert_eq!(
                    urls.entry(b.channel.clone())
                        .or_insert_with(|| b.url.clone()),
                    &b.url
                );
            }
        }
    }
    assert!(urls.len() > 4_000, "{} channels", urls.len());
}

#[test]
fn small_average_sizes_mean_no_padding() {
    let config = bounded(100)
        .with_avg_bid_byte_size(0)
        .with_avg_person_byte_size(0)
        .with_avg_auction_byte_size(0);
    for e in NexmarkGenerator::new(config) {
        let extra = match &e {
            Event::Person(p) => &p.extra,
            Event::Auction(a) => &a.extra,
            Event::Bid(b) => &b.extra,
        };
        assert!(extra.is_empty());
    }
}

#[test]
fn degenerate_config_values_do_not_panic() {
    let config = bounded(2_000)
        .with_first_event_rate(0)
        .with_hot_auction_ratio(0)
        .with_hot_bidders_ratio(0)
        .with_hot_sellers_ratio(1)
        .with_num_active_people(0)
        .with_num_in_flight_auctions(0);
    assert_eq!(NexmarkGenerator::new(config).count(), 2_000);
    let far = NexmarkConfig::default().with_first_event_rate(1);
    assert_eq!(far.timestamp_for_event(u64::MAX), i64::MAX);
    let mut g = NexmarkGenerator::new_split(NexmarkConfig::default(), 1, 2);
    g.seek(u64::MAX);
    assert!(g.next().is_none());
}

#[test]
fn model_types_are_serde() {
    fn assert_serde<T: serde::Serialize + serde::de::DeserializeOwned>() {}
    assert_serde::<Event>();
    assert_serde::<Person>();
    assert_serde::<Auction>();
    assert_serde::<Bid>();
    assert_serde::<NexmarkConfig>();
}
