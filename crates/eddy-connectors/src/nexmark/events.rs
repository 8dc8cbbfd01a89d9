//! Building one event from its global event number: a pure function of `(config, n)`.

use super::config::{
    NexmarkConfig, AUCTION_PROPORTION, FIRST_AUCTION_ID, FIRST_CATEGORY_ID, FIRST_PERSON_ID,
    NUM_CATEGORIES, TOTAL_PROPORTION,
};
use super::ids;
use super::model::{Auction, Bid, Event, EventKind, Person};
use super::rng::EventRng;
use super::text::{self, Word, US_CITIES, US_STATES};

/// Size charged for each fixed-width (numeric or timestamp) field when padding records.
const FIXED_FIELD_SIZE: usize = 8;

/// Generates global event number `n`. `key` is [`seed_key`](super::rng::seed_key) of
/// `config.seed`.
pub(crate) fn event(config: &NexmarkConfig, key: u64, n: u64) -> Event {
    let mut rng = EventRng::new(key, n);
    let timestamp = config.timestamp_for_event(n);
    match ids::kind_of(n) {
        EventKind::Person => Event::Person(person(config, n, timestamp, &mut rng)),
        EventKind::Auction => Event::Auction(auction(config, n, timestamp, &mut rng)),
        EventKind::Bid => Event::Bid(bid(config, n, timestamp, &mut rng)),
    }
}

/// The person of event `n`; ids are consecutive over person events.
fn person(config: &NexmarkConfig, n: u64, timestamp: i64, rng: &mut EventRng) -> Person {
    let name = text::person_name(rng);
    let email_address = text::email(rng);
    let credit_card = text::credit_card(rng);
    let city = US_CITIES[rng.index(US_CITIES.len())];
    let state = US_STATES[rng.index(US_STATES.len())];
    let size = FIXED_FIELD_SIZE
        + name.len()
        + email_address.len()
        + credit_card.len()
        + city.len()
        + state.len();
    let extra = text::extra(rng, size, config.avg_person_byte_size);
    Person {
        id: ids::last_person(n) as i64 + FIRST_PERSON_ID,
        name,
        email_address,
        credit_card,
        city: city.to_owned(),
        state: state.to_owned(),
        date_time: timestamp,
        extra,
    }
}

/// The auction of event `n`; ids are consecutive over auction events.
fn auction(config: &NexmarkConfig, n: u64, timestamp: i64, rng: &mut EventRng) -> Auction {
    let seller = if rng.hot(config.hot_sellers_ratio) {
        ids::hot_seller(n)
    } else {
        ids::random_person(n, config.num_active_people, rng)
    };
    let category = FIRST_CATEGORY_ID + rng.below(NUM_CATEGORIES) as i64;
    let initial_bid = text::price(rng);
    let expires = timestamp.saturating_add(auction_length_ms(config, n, timestamp, rng));
    let item_name = Word::random(rng, 20, b' ').into_string();
    let description = Word::random(rng, 100, b' ').into_string();
    let reserve = initial_bid + text::price(rng);
    let size = FIXED_FIELD_SIZE + item_name.len() + description.len() + 5 * FIXED_FIELD_SIZE;
    let extra = text::extra(rng, size, config.avg_auction_byte_size);
    Auction {
        id: ids::last_auction(n) as i64 + FIRST_AUCTION_ID,
        item_name,
        description,
        initial_bid,
        reserve,
        date_time: timestamp,
        expires,
        seller: seller as i64 + FIRST_PERSON_ID,
        category,
        extra,
    }
}

/// Auction length: uniform in `1..=2 * horizon`, where the horizon is the event time until
/// `num_in_flight_auctions` more auctions have been opened (so that on average about that
/// many auctions are open at any time).
fn auction_length_ms(config: &NexmarkConfig, n: u64, timestamp: i64, rng: &mut EventRng) -> i64 {
    let events_ahead = config
        .num_in_flight_auctions
        .saturating_mul(TOTAL_PROPORTION)
        / AUCTION_PROPORTION;
    let horizon_ms = config
        .timestamp_for_event(n.saturating_add(events_ahead))
        .saturating_sub(timestamp);
    let span = u64::try_from(horizon_ms.saturating_mul(2))
        .unwrap_or(0)
        .max(1);
    1 + rng.below(span) as i64
}

/// The bid of event `n`. Allocates exactly three strings (channel, url, extra).
fn bid(config: &NexmarkConfig, n: u64, timestamp: i64, rng: &mut EventRng) -> Bid {
    let auction = if rng.hot(config.hot_auction_ratio) {
        ids::hot_auction(n)
    } else {
        ids::random_auction(n, config.num_in_flight_auctions, rng)
    };
    let bidder = if rng.hot(config.hot_bidders_ratio) {
        ids::hot_bidder(n)
    } else {
        ids::random_person(n, config.num_active_people, rng)
    };
    let price = text::price(rng);
    let (channel, url) = text::channel(rng);
    let extra = text::extra(rng, 4 * FIXED_FIELD_SIZE, config.avg_bid_byte_size);
    Bid {
        auction: auction as i64 + FIRST_AUCTION_ID,
        bidder: bidder as i64 + FIRST_PERSON_ID,
        price,
        channel: channel.to_owned(),
        url: url.to_owned(),
        date_time: timestamp,
        extra,
    }
}
