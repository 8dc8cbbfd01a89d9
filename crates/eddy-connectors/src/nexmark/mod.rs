//! Deterministic [Nexmark](https://github.com/nexmark/nexmark) event generator.
//!
//! Produces the Nexmark auction-site stream — [`Person`]s, [`Auction`]s and [`Bid`]s in the
//! fixed ratio 1 : 3 : 46 — following the semantics of the Java `NexmarkGenerator`
//! (Apache Beam / nexmark-flink):
//!
//! * event `n` is a person if `n % 50 == 0`, an auction if `n % 50` is in `1..=3`, a bid
//!   otherwise; person and auction ids are consecutive and derived from `n`
//!   (starting at [`FIRST_PERSON_ID`] / [`FIRST_AUCTION_ID`]);
//! * auctions are mostly sold by hot sellers, bids mostly go to hot auctions and come from
//!   hot bidders (see the `hot_*_ratio` fields of [`NexmarkConfig`]);
//! * timestamps are event time derived from `n` and the configured rate, never the wall
//!   clock.
//!
//! Every random choice for event `n` comes from a SplitMix64 generator seeded with
//! `hash(seed, n)`, so the stream is fully reproducible, can be split across parallel
//! subtasks ([`NexmarkGenerator::new_split`]) and resumed from a checkpointed position
//! ([`NexmarkGenerator::seek`]) with identical results.
//!
//! Differences from the Java generator: the base time defaults to a fixed instant
//! ([`DEFAULT_BASE_TIME_MS`]) instead of the wall clock; bids never reference an auction
//! that has not been generated yet (Java allows a lead of 10 auction ids); the random
//! values themselves differ (different PRNG); out-of-order event groups and rate shapes
//! are not supported.
//!
//! ```ignore
//! let config = NexmarkConfig::default().with_seed(7).with_max_events(Some(1_000));
//! let events: Vec<Event> = NexmarkGenerator::new(config).collect();
//! ```

mod config;
mod events;
mod generator;
mod ids;
mod model;
mod rng;
mod text;

#[cfg(test)]
mod tests;

pub use config::{
    NexmarkConfig, AUCTION_PROPORTION, BID_PROPORTION, DEFAULT_BASE_TIME_MS, FIRST_AUCTION_ID,
    FIRST_CATEGORY_ID, FIRST_PERSON_ID, NUM_CATEGORIES, PERSON_PROPORTION, TOTAL_PROPORTION,
};
pub use generator::NexmarkGenerator;
pub use model::{Auction, Bid, Event, EventKind, Person};
