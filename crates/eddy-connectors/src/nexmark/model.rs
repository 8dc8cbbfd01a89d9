//! The three Nexmark event types and the [`Event`] union over them.

use serde::{Deserialize, Serialize};

/// A new person registering with the auction site.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Person {
    /// Person id; consecutive, starting at [`FIRST_PERSON_ID`](super::FIRST_PERSON_ID).
    pub id: i64,
    /// Full name, "First Last".
    pub name: String,
    /// E-mail address.
    pub email_address: String,
    /// Credit card number, four space-separated groups of four digits.
    pub credit_card: String,
    /// City of residence.
    pub city: String,
    /// US state of residence (two-letter code).
    pub state: String,
    /// Event time, milliseconds since the Unix epoch.
    pub date_time: i64,
    /// Random padding that brings the record to its configured average size.
    pub extra: String,
}

/// A new auction being opened.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Auction {
    /// Auction id; consecutive, starting at [`FIRST_AUCTION_ID`](super::FIRST_AUCTION_ID).
    pub id: i64,
    /// Name of the item being sold.
    pub item_name: String,
    /// Description of the item.
    pub description: String,
    /// Opening price.
    pub initial_bid: i64,
    /// Reserve price (always at least `initial_bid`).
    pub reserve: i64,
    /// Event time, milliseconds since the Unix epoch.
    pub date_time: i64,
    /// Closing time, milliseconds since the Unix epoch (always after `date_time`).
    pub expires: i64,
    /// Id of the [`Person`] selling the item.
    pub seller: i64,
    /// Item category.
    pub category: i64,
    /// Random padding that brings the record to its configured average size.
    pub extra: String,
}

/// A bid on an auction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Bid {
    /// Id of the [`Auction`] bid on.
    pub auction: i64,
    /// Id of the [`Person`] bidding.
    pub bidder: i64,
    /// Bid price.
    pub price: i64,
    /// Channel through which the bid was placed.
    pub channel: String,
    /// URL of the page the bid was placed on.
    pub url: String,
    /// Event time, milliseconds since the Unix epoch.
    pub date_time: i64,
    /// Random padding that brings the record to its configured average size.
    pub extra: String,
}

/// The kind of a Nexmark event, without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A [`Person`] event.
    Person,
    /// An [`Auction`] event.
    Auction,
    /// A [`Bid`] event.
    Bid,
}

/// One Nexmark event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Event {
    /// A new person.
    Person(Person),
    /// A new auction.
    Auction(Auction),
    /// A new bid.
    Bid(Bid),
}

impl Event {
    /// The event time of this event, in milliseconds since the Unix epoch.
    pub fn timestamp(&self) -> i64 {
        match self {
            Event::Person(p) => p.date_time,
            Event::Auction(a) => a.date_time,
            Event::Bid(b) => b.date_time,
        }
    }

    /// The kind of this event.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Person(_) => EventKind::Person,
            Event::Auction(_) => EventKind::Auction,
            Event::Bid(_) => EventKind::Bid,
        }
    }
}
