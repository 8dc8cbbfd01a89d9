//! Generator configuration and the fixed Nexmark constants.

use serde::{Deserialize, Serialize};

/// Id of the first person generated.
pub const FIRST_PERSON_ID: i64 = 1000;
/// Id of the first auction generated.
pub const FIRST_AUCTION_ID: i64 = 1000;
/// Smallest auction category.
pub const FIRST_CATEGORY_ID: i64 = 10;
/// Number of auction categories (`FIRST_CATEGORY_ID..FIRST_CATEGORY_ID + NUM_CATEGORIES`).
pub const NUM_CATEGORIES: u64 = 5;

/// Persons per [`TOTAL_PROPORTION`] events.
pub const PERSON_PROPORTION: u64 = 1;
/// Auctions per [`TOTAL_PROPORTION`] events.
pub const AUCTION_PROPORTION: u64 = 3;
/// Bids per [`TOTAL_PROPORTION`] events.
pub const BID_PROPORTION: u64 = 46;
/// Length of one person/auction/bid cycle: event `n` is a person if `n % 50 == 0`, an
/// auction if `n % 50` is in `1..=3`, and a bid otherwise.
pub const TOTAL_PROPORTION: u64 = PERSON_PROPORTION + AUCTION_PROPORTION + BID_PROPORTION;

/// Default event time of event 0: 2015-07-15T00:00:00Z, the fixed base time of Beam's
/// Nexmark suite. A fixed constant (rather than the wall clock, which the Java generator
/// uses) keeps the output reproducible across runs.
pub const DEFAULT_BASE_TIME_MS: i64 = 1_436_918_400_000;

/// Configuration of a [`NexmarkGenerator`](super::NexmarkGenerator).
///
/// The event mix (1 person : 3 auctions : 46 bids) is fixed; see [`TOTAL_PROPORTION`].
/// All rates are in event time: event `n` gets timestamp
/// `base_time_ms + floor(n * 1000 / first_event_rate)`, i.e. the inter-event delay is
/// `1_000_000 / first_event_rate` microseconds, independent of how the stream is split.
///
/// Deserialising fills missing fields from [`NexmarkConfig::default`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NexmarkConfig {
    /// Seed of all random choices (default 0).
    pub seed: u64,
    /// Events per second of event time, over the whole stream (all splits together).
    /// Default 10 000; a value of 0 is treated as 1.
    pub first_event_rate: u64,
    /// Total number of events (over all splits); `None` means unbounded (default).
    pub max_events: Option<u64>,
    /// Event time of event 0, in ms since the Unix epoch (default [`DEFAULT_BASE_TIME_MS`]).
    pub base_time_ms: i64,
    /// Number of recent people that auctions and bids pick from when not choosing a hot
    /// seller/bidder (default 1000).
    pub num_active_people: u64,
    /// Number of recent auctions that bids pick from when not choosing a hot auction; also
    /// sets the average auction length (default 100).
    pub num_in_flight_auctions: u64,
    /// A bid goes to a hot auction with probability `1 - 1/hot_auction_ratio` (default 2).
    pub hot_auction_ratio: u32,
    /// A bid comes from a hot bidder with probability `1 - 1/hot_bidders_ratio` (default 4).
    pub hot_bidders_ratio: u32,
    /// An auction is by a hot seller with probability `1 - 1/hot_sellers_ratio` (default 4).
    pub hot_sellers_ratio: u32,
    /// Average size in bytes of a person; `extra` pads records up to it (default 200).
    pub avg_person_byte_size: usize,
    /// Average size in bytes of an auction; `extra` pads records up to it (default 500).
    pub avg_auction_byte_size: usize,
    /// Average size in bytes of a bid; `extra` pads records up to it (default 100).
    pub avg_bid_byte_size: usize,
}

impl Default for NexmarkConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            first_event_rate: 10_000,
            max_events: None,
            base_time_ms: DEFAULT_BASE_TIME_MS,
            num_active_people: 1000,
            num_in_flight_auctions: 100,
            hot_auction_ratio: 2,
            hot_bidders_ratio: 4,
            hot_sellers_ratio: 4,
            avg_person_byte_size: 200,
            avg_auction_byte_size: 500,
            avg_bid_byte_size: 100,
        }
    }
}

impl NexmarkConfig {
    /// The default configuration (same as [`Default::default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`seed`](Self::seed).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets [`first_event_rate`](Self::first_event_rate) (events per second of event time).
    pub fn with_first_event_rate(mut self, events_per_second: u64) -> Self {
        self.first_event_rate = events_per_second;
        self
    }

    /// Sets [`max_events`](Self::max_events); `None` for an unbounded stream.
    pub fn with_max_events(mut self, max_events: Option<u64>) -> Self {
        self.max_events = max_events;
        self
    }

    /// Sets [`base_time_ms`](Self::base_time_ms).
    pub fn with_base_time_ms(mut self, base_time_ms: i64) -> Self {
        self.base_time_ms = base_time_ms;
        self
    }

    /// Sets [`num_active_people`](Self::num_active_people).
    pub fn with_num_active_people(mut self, n: u64) -> Self {
        self.num_active_people = n;
        self
    }

    /// Sets [`num_in_flight_auctions`](Self::num_in_flight_auctions).
    pub fn with_num_in_flight_auctions(mut self, n: u64) -> Self {
        self.num_in_flight_auctions = n;
        self
    }

    /// Sets [`hot_auction_ratio`](Self::hot_auction_ratio).
    pub fn with_hot_auction_ratio(mut self, ratio: u32) -> Self {
        self.hot_auction_ratio = ratio;
        self
    }

    /// Sets [`hot_bidders_ratio`](Self::hot_bidders_ratio).
    pub fn with_hot_bidders_ratio(mut self, ratio: u32) -> Self {
        self.hot_bidders_ratio = ratio;
        self
    }

    /// Sets [`hot_sellers_ratio`](Self::hot_sellers_ratio).
    pub fn with_hot_sellers_ratio(mut self, ratio: u32) -> Self {
        self.hot_sellers_ratio = ratio;
        self
    }

    /// Sets [`avg_person_byte_size`](Self::avg_person_byte_size).
    pub fn with_avg_person_byte_size(mut self, bytes: usize) -> Self {
        self.avg_person_byte_size = bytes;
        self
    }

    /// Sets [`avg_auction_byte_size`](Self::avg_auction_byte_size).
    pub fn with_avg_auction_byte_size(mut self, bytes: usize) -> Self {
        self.avg_auction_byte_size = bytes;
        self
    }

    /// Sets [`avg_bid_byte_size`](Self::avg_bid_byte_size).
    pub fn with_avg_bid_byte_size(mut self, bytes: usize) -> Self {
        self.avg_bid_byte_size = bytes;
        self
    }

    /// The inter-event delay in event time, `1_000_000 / first_event_rate` microseconds.
    pub fn inter_event_delay_us(&self) -> f64 {
        1_000_000.0 / self.rate() as f64
    }

    /// Event time (ms since the Unix epoch) of global event number `event_number`:
    /// `base_time_ms + floor(event_number * 1000 / first_event_rate)`, saturating.
    pub fn timestamp_for_event(&self, event_number: u64) -> i64 {
        let rate = self.rate();
        let whole_seconds = event_number / rate;
        let rem = event_number % rate;
        // rem < rate, so rem * 1000 only overflows u64 for absurd rates; fall back to u128.
        let frac_ms = match rem.checked_mul(1000) {
            Some(x) => x / rate,
            None => (u128::from(rem) * 1000 / u128::from(rate)) as u64,
        };
        let offset_ms = whole_seconds.saturating_mul(1000).saturating_add(frac_ms);
        let offset_ms = i64::try_from(offset_ms).unwrap_or(i64::MAX);
        self.base_time_ms.saturating_add(offset_ms)
    }

    /// [`first_event_rate`](Self::first_event_rate), with 0 treated as 1.
    fn rate(&self) -> u64 {
        self.first_event_rate.max(1)
    }
}
