//! Event-number arithmetic: event kinds and the person/auction ids they imply.
//!
//! All ids here are "base 0" (before adding `FIRST_PERSON_ID` / `FIRST_AUCTION_ID`).

use super::config::{AUCTION_PROPORTION, PERSON_PROPORTION, TOTAL_PROPORTION};
use super::model::EventKind;
use super::rng::EventRng;

/// Hot sellers are the first person of each batch of this many people.
pub(crate) const HOT_SELLER_RATIO: u64 = 100;
/// Hot bidders are the second person of each batch of this many people.
pub(crate) const HOT_BIDDER_RATIO: u64 = 100;
/// Hot auctions are the first auction of each batch of this many auctions.
pub(crate) const HOT_AUCTION_RATIO: u64 = 100;
/// How many not-yet-generated person ids a random seller/bidder may reference (as in
/// Nexmark, so that person and auction/bid events appear slightly out of order).
pub(crate) const PERSON_ID_LEAD: u64 = 10;

/// Kind of global event number `n`, from `n % TOTAL_PROPORTION`.
#[inline]
pub(crate) fn kind_of(n: u64) -> EventKind {
    let offset = n % TOTAL_PROPORTION;
    if offset < PERSON_PROPORTION {
        EventKind::Person
    } else if offset < PERSON_PROPORTION + AUCTION_PROPORTION {
        EventKind::Auction
    } else {
        EventKind::Bid
    }
}

/// Id of the latest person generated at or before event `n` (its own id if `n` is a person).
#[inline]
pub(crate) fn last_person(n: u64) -> u64 {
    let epoch = n / TOTAL_PROPORTION;
    let offset = n % TOTAL_PROPORTION;
    // During the epoch's auctions and bids, the last person is the epoch's last one.
    let offset = if offset < PERSON_PROPORTION {
        offset
    } else {
        PERSON_PROPORTION - 1
    };
    epoch * PERSON_PROPORTION + offset
}

/// Id of the latest auction generated at or before event `n` (its own id if `n` is an
/// auction). Only meaningful once an auction exists, i.e. `n >= 1`; returns 0 for `n == 0`.
#[inline]
pub(crate) fn last_auction(n: u64) -> u64 {
    let epoch = n / TOTAL_PROPORTION;
    let offset = n % TOTAL_PROPORTION;
    if offset < PERSON_PROPORTION {
        // A person opens the epoch: the last auction is the previous epoch's last one.
        (epoch * AUCTION_PROPORTION).saturating_sub(1)
    } else if offset < PERSON_PROPORTION + AUCTION_PROPORTION {
        epoch * AUCTION_PROPORTION + (offset - PERSON_PROPORTION)
    } else {
        epoch * AUCTION_PROPORTION + (AUCTION_PROPORTION - 1)
    }
}

/// A random person among the `num_active_people` most recent ones, plus up to
/// [`PERSON_ID_LEAD`] people not generated yet.
#[inline]
pub(crate) fn random_person(n: u64, num_active_people: u64, rng: &mut EventRng) -> u64 {
    let num_people = last_person(n) + 1;
    let active = num_people.min(num_active_people);
    num_people - active + rng.below(active.saturating_add(PERSON_ID_LEAD))
}

/// A random auction among the `num_in_flight` + 1 most recent ones.
///
/// Unlike the Java generator (which adds a lead of 10 future auction ids), this never
/// references an auction that has not been generated yet.
#[inline]
pub(crate) fn random_auction(n: u64, num_in_flight: u64, rng: &mut EventRng) -> u64 {
    let max = last_auction(n);
    let min = max.saturating_sub(num_in_flight);
    min + rng.below(max - min + 1)
}

/// The hot seller for event `n`: the first person of the latest batch of
/// [`HOT_SELLER_RATIO`] people.
#[inline]
pub(crate) fn hot_seller(n: u64) -> u64 {
    last_person(n) / HOT_SELLER_RATIO * HOT_SELLER_RATIO
}

/// The hot bidder for event `n`: the second person of the latest batch of
/// [`HOT_BIDDER_RATIO`] people (so hot bidders and hot sellers differ).
#[inline]
pub(crate) fn hot_bidder(n: u64) -> u64 {
    last_person(n) / HOT_BIDDER_RATIO * HOT_BIDDER_RATIO + 1
}

/// The hot auction for event `n`: the first auction of the latest batch of
/// [`HOT_AUCTION_RATIO`] auctions.
#[inline]
pub(crate) fn hot_auction(n: u64) -> u64 {
    last_auction(n) / HOT_AUCTION_RATIO * HOT_AUCTION_RATIO
}
