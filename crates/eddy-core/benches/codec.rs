//! Encode and decode throughput of the network codecs, each way.
//!
//! `cargo bench -p eddy-core --features arrow --bench codec` prints MB/s (of encoded
//! bytes) and rows/s for typed records (postcard) and for a 1024-row Arrow batch of
//! 8 columns (Arrow IPC), both framed as elements.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::{Int32Builder, ListBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use eddy_core::codec::{decode_element, encode_element, BatchCodec};
use eddy_core::{Element, Records, StreamRecord};
use serde::{Deserialize, Serialize};

const ROWS: usize = 1024;

/// A typical typed record: a Nexmark-like bid.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Bid {
    auction: u64,
    bidder: u64,
    price: u64,
    channel: String,
    url: String,
    date_time: i64,
}

fn typed_batch() -> Records<Bid> {
    (0..ROWS as u64)
        .map(|i| {
            StreamRecord::with_timestamp(
                Bid {
                    auction: 1000 + i % 50,
                    bidder: 2000 + i * 7,
                    price: (i * 7919) % 100_000,
                    channel: ["Google", "Facebook", "Baidu", "Apple"][i as usize % 4].into(),
                    url: format!("https://www.nexmark.com/item.htm?query={i}"),
                    date_time: 1_700_000_000_000 + i as i64,
                },
                1_700_000_000_000 + i as i64,
            )
        })
        .collect()
}

fn arrow_batch() -> RecordBatch {
    let n = ROWS as i64;
    let mut list = ListBuilder::new(Int32Builder::new());
    for i in 0..ROWS as i32 {
        list.append_value([Some(i), Some(i + 1), (i % 3 != 0).then_some(i + 2)]);
    }
    let column = |a: ArrayRef| a;
    RecordBatch::try_from_iter([
        (
            "auction",
            column(Arc::new(Int64Array::from_iter_values(0..n))),
        ),
        (
            "bidder",
            column(Arc::new(Int64Array::from_iter(
                (0..n).map(|i| (i % 5 != 0).then_some(i * 7)),
            ))),
        ),
        (
            "price",
            column(Arc::new(
                Decimal128Array::from_iter_values((0..n).map(|i| i128::from(i) * 101))
                    .with_precision_and_scale(18, 2)
                    .expect("valid precision"),
            )),
        ),
        (
            "ratio",
            column(Arc::new(Float64Array::from_iter_values(
                (0..n).map(|i| i as f64 / 3.0),
            ))),
        ),
        (
            "channel",
            column(Arc::new(StringArray::from_iter_values(
                (0..ROWS).map(|i| ["Google", "Facebook", "Baidu", "Apple"][i % 4]),
            ))),
        ),
        (
            "url",
            column(Arc::new(StringArray::from_iter_values((0..ROWS).map(
                |i| format!("https://www.nexmark.com/item.htm?query={i}"),
            )))),
        ),
        (
            "date_time",
            column(Arc::new(TimestampMillisecondArray::from_iter_values(
                (0..n).map(|i| 1_700_000_000_000 + i),
            ))),
        ),
        ("tags", column(Arc::new(list.finish()))),
    ])
    .expect("columns of equal length")
}

/// Runs `f` for about `budget`, returns iterations per second.
fn rate(budget: Duration, mut f: impl FnMut()) -> f64 {
    // Warm up.
    for _ in 0..20 {
        f();
    }
    let start = Instant::now();
    let mut iterations = 0u64;
    while start.elapsed() < budget {
        for _ in 0..20 {
            f();
        }
        iterations += 20;
    }
    iterations as f64 / start.elapsed().as_secs_f64()
}

fn report<B: BatchCodec>(name: &str, batch: B) {
    let element = Element::Batch(batch);
    let mut frame = Vec::new();
    encode_element(&element, &mut frame).expect("encodes");
    let bytes = frame.len() as f64;
    let budget = Duration::from_millis(1500);
    let mut out = Vec::with_capacity(frame.len());
    let encode = rate(budget, || {
        out.clear();
        encode_element(black_box(&element), &mut out).expect("encodes");
        black_box(&out);
    });
    let decode = rate(budget, || {
        let e: Element<B> = decode_element(black_box(&frame)).expect("decodes");
        black_box(e);
    });
    println!(
        "{name:<34} {:>7.1} B/row   encode {:>8.1} MB/s {:>6.2} M rows/s   decode {:>8.1} MB/s {:>6.2} M rows/s",
        bytes / ROWS as f64,
        encode * bytes / 1e6,
        encode * ROWS as f64 / 1e6,
        decode * bytes / 1e6,
        decode * ROWS as f64 / 1e6,
    );
}

fn main() {
    // `cargo test --benches` runs this too: keep that quick.
    if std::env::args().any(|a| a == "--test") {
        let mut frame = Vec::new();
        encode_element(&Element::Batch(arrow_batch()), &mut frame).expect("encodes");
        decode_element::<RecordBatch>(&frame).expect("decodes");
        return;
    }
    println!("batches of {ROWS} rows, framed as elements");
    report("typed records (postcard, 6 fields)", typed_batch());
    report("Arrow batch (IPC, 8 columns)", arrow_batch());
    let bools = RecordBatch::try_from_iter([(
        "b",
        Arc::new(BooleanArray::from_iter((0..ROWS).map(|i| Some(i % 2 == 0)))) as ArrayRef,
    )])
    .expect("one column");
    report("Arrow batch (IPC, 1 bool column)", bools);
}
