//! Table sources: readers producing Arrow batches of a table's physical columns.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use arrow::array::{
    Array, ArrayRef, Int32Array, Int64Builder, RecordBatch, StringArray, StringBuilder,
    StructArray, TimestampMillisecondBuilder,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Fields, SchemaRef, TimeUnit};
use eddy_connectors::nexmark::{Event, NexmarkConfig, NexmarkGenerator};
use eddy_connectors::sources::{IndexedSource, SkippedLines};
use eddy_connectors::{TextFileSource, TextLine};
use eddy_core::{Error, Records, Result};
use eddy_runtime::{OperatorContext, SourceEvent, SourceReader};

use super::lines::LineDecoder;
use crate::error::runtime;
use crate::exec::changelog;

/// Builds the reader of each subtask of a table source.
pub type SourceFactory = Arc<dyn Fn(usize) -> BoxedSource + Send + Sync>;

/// Any table source.
pub struct BoxedSource(pub Box<dyn SourceReader<Out = RecordBatch>>);

impl SourceReader for BoxedSource {
    type Out = RecordBatch;
    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.0.open(ctx)
    }
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<SourceEvent<RecordBatch>>> {
        self.0.poll_next(cx)
    }
    fn close(&mut self) -> Result<()> {
        self.0.close()
    }
    fn splits(&self) -> Option<Vec<String>> {
        self.0.splits()
    }
    fn snapshot_position(&mut self) -> Result<Vec<u8>> {
        self.0.snapshot_position()
    }
    fn snapshot_position_for(&mut self, checkpoint_id: u64) -> Result<Vec<u8>> {
        self.0.snapshot_position_for(checkpoint_id)
    }
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        self.0.notify_checkpoint_complete(checkpoint_id)
    }
    fn restore_positions(&mut self, positions: Vec<Vec<u8>>) -> Result<()> {
        self.0.restore_positions(positions)
    }
}

/// Turns a reader of typed records into a reader of Arrow batches. The inner
/// reader's watermarks are dropped: a table's watermark comes from its DDL.
pub struct ArrowAdapter<S, F> {
    inner: S,
    convert: F,
}

impl<T, S, F> SourceReader for ArrowAdapter<S, F>
where
    T: Clone + Send + 'static,
    S: SourceReader<Out = Records<T>>,
    F: FnMut(Records<T>) -> Result<Option<RecordBatch>> + Send + 'static,
{
    type Out = RecordBatch;
    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        self.inner.open(ctx)
    }
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<SourceEvent<RecordBatch>>> {
        loop {
            return match self.inner.poll_next(cx) {
                Poll::Ready(Ok(SourceEvent::Batch(records))) => {
                    // Before the batch is converted (and remembered with its origins).
                    crate::exec::origin::own_splits(self.inner.splits());
                    let converted = (self.convert)(records);
                    match converted {
                        Ok(Some(batch)) => Poll::Ready(Ok(SourceEvent::Batch(batch))),
                        Ok(None) => continue,
                        Err(e) => Poll::Ready(Err(e)),
                    }
                }
                Poll::Ready(Ok(SourceEvent::Watermark(_))) => continue,
                Poll::Ready(Ok(SourceEvent::Idle)) => Poll::Ready(Ok(SourceEvent::Idle)),
                Poll::Ready(Ok(SourceEvent::End)) => Poll::Ready(Ok(SourceEvent::End)),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            };
        }
    }
    fn close(&mut self) -> Result<()> {
        self.inner.close()
    }
    fn splits(&self) -> Option<Vec<String>> {
        self.inner.splits()
    }
    fn snapshot_position(&mut self) -> Result<Vec<u8>> {
        self.inner.snapshot_position()
    }
    fn snapshot_position_for(&mut self, checkpoint_id: u64) -> Result<Vec<u8>> {
        self.inner.snapshot_position_for(checkpoint_id)
    }
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        self.inner.notify_checkpoint_complete(checkpoint_id)
    }
    fn restore_positions(&mut self, positions: Vec<Vec<u8>>) -> Result<()> {
        self.inner.restore_positions(positions)
    }
}

fn boxed<T, S, F>(inner: S, convert: F) -> BoxedSource
where
    T: Clone + Send + 'static,
    S: SourceReader<Out = Records<T>>,
    F: FnMut(Records<T>) -> Result<Option<RecordBatch>> + Send + 'static,
{
    BoxedSource(Box::new(ArrowAdapter { inner, convert }))
}

// ---------------------------------------------------------------- nexmark

fn person_fields() -> Fields {
    let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
    Fields::from(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("emailAddress", DataType::Utf8, true),
        Field::new("creditCard", DataType::Utf8, true),
        Field::new("city", DataType::Utf8, true),
        Field::new("state", DataType::Utf8, true),
        Field::new("dateTime", ts, true),
        Field::new("extra", DataType::Utf8, true),
    ])
}

fn auction_fields() -> Fields {
    let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
    Fields::from(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("itemName", DataType::Utf8, true),
        Field::new("description", DataType::Utf8, true),
        Field::new("initialBid", DataType::Int64, true),
        Field::new("reserve", DataType::Int64, true),
        Field::new("dateTime", ts.clone(), true),
        Field::new("expires", ts, true),
        Field::new("seller", DataType::Int64, true),
        Field::new("category", DataType::Int64, true),
        Field::new("extra", DataType::Utf8, true),
    ])
}

fn bid_fields() -> Fields {
    let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
    Fields::from(vec![
        Field::new("auction", DataType::Int64, true),
        Field::new("bidder", DataType::Int64, true),
        Field::new("price", DataType::Int64, true),
        Field::new("channel", DataType::Utf8, true),
        Field::new("url", DataType::Utf8, true),
        Field::new("dateTime", ts, true),
        Field::new("extra", DataType::Utf8, true),
    ])
}

/// Column builders of one struct (or flat table) of the Nexmark schema.
enum Col {
    Int(Int64Builder),
    Str(StringBuilder),
    Ts(TimestampMillisecondBuilder),
}

impl Col {
    fn of(t: &DataType) -> Col {
        match t {
            DataType::Int64 => Col::Int(Int64Builder::new()),
            DataType::Timestamp(_, _) => Col::Ts(TimestampMillisecondBuilder::new()),
            _ => Col::Str(StringBuilder::new()),
        }
    }
    fn int(&mut self, v: i64) {
        match self {
            Col::Int(b) => b.append_value(v),
            Col::Ts(b) => b.append_value(v),
            Col::Str(b) => b.append_value(v.to_string()),
        }
    }
    fn str(&mut self, v: &str) {
        if let Col::Str(b) = self {
            b.append_value(v);
        }
    }
    fn null(&mut self) {
        match self {
            Col::Int(b) => b.append_null(),
            Col::Ts(b) => b.append_null(),
            Col::Str(b) => b.append_null(),
        }
    }
    fn finish(&mut self) -> ArrayRef {
        match self {
            Col::Int(b) => Arc::new(b.finish()),
            Col::Ts(b) => Arc::new(b.finish()),
            Col::Str(b) => Arc::new(b.finish()),
        }
    }
}

struct Group {
    fields: Fields,
    cols: Vec<Col>,
    valid: Vec<bool>,
}

impl Group {
    fn new(fields: Fields) -> Group {
        let cols = fields.iter().map(|f| Col::of(f.data_type())).collect();
        Group {
            fields,
            cols,
            valid: Vec::new(),
        }
    }
    fn nulls(&mut self) {
        self.cols.iter_mut().for_each(Col::null);
        self.valid.push(false);
    }
    fn finish_struct(&mut self) -> Result<ArrayRef> {
        let arrays: Vec<ArrayRef> = self.cols.iter_mut().map(Col::finish).collect();
        let nulls = NullBuffer::from(std::mem::take(&mut self.valid));
        Ok(Arc::new(
            StructArray::try_new(self.fields.clone(), arrays, Some(nulls)).map_err(runtime)?,
        ))
    }
}

/// Appends an event's fields to its group (without its validity).
fn push_fields(event: &Event, person: &mut Group, auction: &mut Group, bid: &mut Group) {
    match event {
        Event::Person(p) => {
            let c = &mut person.cols;
            c[0].int(p.id);
            c[1].str(&p.name);
            c[2].str(&p.email_address);
            c[3].str(&p.credit_card);
            c[4].str(&p.city);
            c[5].str(&p.state);
            c[6].int(p.date_time);
            c[7].str(&p.extra);
        }
        Event::Auction(a) => {
            let c = &mut auction.cols;
            c[0].int(a.id);
            c[1].str(&a.item_name);
            c[2].str(&a.description);
            c[3].int(a.initial_bid);
            c[4].int(a.reserve);
            c[5].int(a.date_time);
            c[6].int(a.expires);
            c[7].int(a.seller);
            c[8].int(a.category);
            c[9].str(&a.extra);
        }
        Event::Bid(b) => {
            let c = &mut bid.cols;
            c[0].int(b.auction);
            c[1].int(b.bidder);
            c[2].int(b.price);
            c[3].str(&b.channel);
            c[4].str(&b.url);
            c[5].int(b.date_time);
            c[6].str(&b.extra);
        }
    }
}

/// Appends an event to its group and nulls to the other two (the combined
/// table's ROW columns).
fn push_event(event: &Event, person: &mut Group, auction: &mut Group, bid: &mut Group) {
    push_fields(event, person, auction, bid);
    let (own, others) = match event {
        Event::Person(_) => (&mut *person, [&mut *auction, &mut *bid]),
        Event::Auction(_) => (&mut *auction, [&mut *person, &mut *bid]),
        Event::Bid(_) => (&mut *bid, [&mut *person, &mut *auction]),
    };
    own.valid.push(true);
    for group in others {
        group.nulls();
    }
}

/// The Nexmark generator as a table: `event_type INT, person ROW<...>, auction
/// ROW<...>, bid ROW<...>` (the nexmark benchmark's `datagen` table), or with
/// `'events.kind'` the events of one kind as a flat table.
pub fn nexmark(
    table: &str,
    schema: SchemaRef,
    options: &BTreeMap<String, String>,
) -> crate::SqlResult<SourceFactory> {
    let number = |key: &str| -> crate::SqlResult<Option<u64>> {
        options
            .get(key)
            .map(|v| {
                v.trim().parse::<u64>().map_err(|_| {
                    crate::SqlError::new(format!(
                        "option '{key}' of table {table} must be a whole number, not '{v}'"
                    ))
                })
            })
            .transpose()
    };
    let mut config = NexmarkConfig::new();
    if let Some(rate) = number("first-event.rate")? {
        config = config.with_first_event_rate(rate.max(1));
    }
    if let Some(n) = number("events.num")? {
        config = config.with_max_events((n > 0).then_some(n));
    }
    if let Some(seed) = number("seed")? {
        config = config.with_seed(seed);
    }
    for (key, default) in [
        ("person.proportion", 1),
        ("auction.proportion", 3),
        ("bid.proportion", 46),
    ] {
        if let Some(v) = number(key)? {
            if v != default {
                return Err(crate::SqlError::unsupported(format!(
                    "'{key}' = '{v}': eddy's Nexmark generator uses the standard 1:3:46 mix"
                )));
            }
        }
    }
    // eddy's own option: at most this many events per second (event times
    // follow 'first-event.rate' either way).
    let rate = number("rows-per-second")?.map(|r| r as f64);
    let count = config.max_events;
    let generator = Arc::new(NexmarkGenerator::new(config));
    // 'events.kind': one kind of event as a flat table of its fields.
    if let Some(kind) = options.get("events.kind") {
        return flat_nexmark(table, schema, kind, generator, count, rate);
    }
    for field in schema.fields() {
        if !["event_type", "person", "auction", "bid"].contains(&field.name().as_str()) {
            return Err(crate::SqlError::new(format!(
                "table {table}: the nexmark connector has no column '{}' (it provides event_type, person, auction, bid, or with 'events.kind' the fields of one kind)",
                field.name()
            )));
        }
    }
    Ok(Arc::new(move |_| {
        let generator = generator.clone();
        let schema = schema.clone();
        let inner = IndexedSource::new(Arc::new(move |n| (n, None)), count).with_rate(rate);
        boxed(inner, move |records: Records<u64>| {
            let (mut person, mut auction, mut bid) = (
                Group::new(person_fields()),
                Group::new(auction_fields()),
                Group::new(bid_fields()),
            );
            let mut kinds = Vec::with_capacity(records.len());
            for r in &records {
                let event = generator.event_at(r.value);
                kinds.push(match &event {
                    Event::Person(_) => 0,
                    Event::Auction(_) => 1,
                    Event::Bid(_) => 2,
                });
                push_event(&event, &mut person, &mut auction, &mut bid);
            }
            let mut columns = Vec::with_capacity(schema.fields().len());
            for field in schema.fields() {
                let array: ArrayRef = match field.name().as_str() {
                    "event_type" => Arc::new(Int32Array::from(std::mem::take(&mut kinds))),
                    "person" => person.finish_struct()?,
                    "auction" => auction.finish_struct()?,
                    _ => bid.finish_struct()?,
                };
                columns.push(if array.data_type() == field.data_type() {
                    array
                } else {
                    arrow::compute::cast(&array, field.data_type()).map_err(|e| {
                        Error::Other(format!("nexmark column {}: {e}", field.name()))
                    })?
                });
            }
            let n = records.len();
            Ok(Some(
                changelog::batch(schema.clone(), columns, n).map_err(runtime)?,
            ))
        })
    }))
}

/// The Nexmark events of one kind (`person`, `auction` or `bid`) as a flat
/// table whose columns are fields of that kind, in any order.
fn flat_nexmark(
    table: &str,
    schema: SchemaRef,
    kind: &str,
    generator: Arc<NexmarkGenerator>,
    count: Option<u64>,
    rate: Option<f64>,
) -> crate::SqlResult<SourceFactory> {
    let (code, fields) = match kind.to_ascii_lowercase().as_str() {
        "person" => (0u8, person_fields()),
        "auction" => (1, auction_fields()),
        "bid" => (2, bid_fields()),
        other => {
            return Err(crate::SqlError::new(format!(
                "table {table}: 'events.kind' must be person, auction or bid, not '{other}'"
            )))
        }
    };
    let mut positions = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let Some(at) = fields.iter().position(|f| f.name() == field.name()) else {
            let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
            return Err(crate::SqlError::new(format!(
                "table {table}: a nexmark {kind} has no field '{}' (it has {})",
                field.name(),
                names.join(", ")
            )));
        };
        positions.push(at);
    }
    Ok(Arc::new(move |_| {
        let generator = generator.clone();
        let schema = schema.clone();
        let fields = fields.clone();
        let positions = positions.clone();
        let inner = IndexedSource::new(Arc::new(move |n| (n, None)), count).with_rate(rate);
        boxed(inner, move |records: Records<u64>| {
            let (mut person, mut auction, mut bid) = (
                Group::new(person_fields()),
                Group::new(auction_fields()),
                Group::new(bid_fields()),
            );
            let mut rows = 0;
            for r in &records {
                let event = generator.event_at(r.value);
                let this = match &event {
                    Event::Person(_) => 0,
                    Event::Auction(_) => 1,
                    Event::Bid(_) => 2,
                };
                if this == code {
                    push_fields(&event, &mut person, &mut auction, &mut bid);
                    rows += 1;
                }
            }
            let group = match code {
                0 => &mut person,
                1 => &mut auction,
                _ => &mut bid,
            };
            let built: Vec<ArrayRef> = group.cols.iter_mut().map(Col::finish).collect();
            let mut columns = Vec::with_capacity(positions.len());
            for (field, &at) in schema.fields().iter().zip(&positions) {
                let array = built[at].clone();
                columns.push(if array.data_type() == field.data_type() {
                    array
                } else {
                    arrow::compute::cast(&array, field.data_type()).map_err(|e| {
                        Error::Other(format!("nexmark field {}: {e}", fields[at].name()))
                    })?
                });
            }
            Ok(Some(
                changelog::batch(schema.clone(), columns, rows).map_err(runtime)?,
            ))
        })
    }))
}

// ---------------------------------------------------------------- datagen

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb9fe1a85ec53);
    x ^ (x >> 33)
}

#[derive(Clone, Debug)]
enum FieldGen {
    Sequence { start: i64 },
    Random { min: i64, max: i64, length: usize },
}

/// Flink's `datagen` connector: sequences and random values per field.
pub fn datagen(
    table: &str,
    schema: SchemaRef,
    options: &BTreeMap<String, String>,
) -> crate::SqlResult<(SourceFactory, bool)> {
    let get = |key: String| options.get(&key).cloned();
    let int = |key: String, default: i64| -> crate::SqlResult<i64> {
        match options.get(&key) {
            Some(v) => v.trim().parse::<i64>().map_err(|_| {
                crate::SqlError::new(format!(
                    "option '{key}' of table {table} must be a number, not '{v}'"
                ))
            }),
            None => Ok(default),
        }
    };
    let mut gens = Vec::new();
    let mut rows: Option<u64> = options
        .get("number-of-rows")
        .map(|v| {
            v.trim().parse::<u64>().map_err(|_| {
                crate::SqlError::new(format!(
                    "option 'number-of-rows' of table {table} must be a whole number, not '{v}'"
                ))
            })
        })
        .transpose()?;
    for field in schema.fields() {
        let name = field.name();
        let kind = get(format!("fields.{name}.kind")).unwrap_or_else(|| "random".into());
        let gen = match kind.as_str() {
            "sequence" => {
                let (Some(_), Some(_)) = (
                    get(format!("fields.{name}.start")),
                    get(format!("fields.{name}.end")),
                ) else {
                    return Err(crate::SqlError::new(format!(
                        "table {table}: sequence field '{name}' needs 'fields.{name}.start' and 'fields.{name}.end'"
                    )));
                };
                let start = int(format!("fields.{name}.start"), 0)?;
                let end = int(format!("fields.{name}.end"), 0)?;
                let len = (end - start + 1).max(0) as u64;
                rows = Some(rows.map_or(len, |r| r.min(len)));
                FieldGen::Sequence { start }
            }
            "random" => {
                let (lo, hi) = match field.data_type() {
                    DataType::Int8 => (i8::MIN as i64, i8::MAX as i64),
                    DataType::Int16 => (i16::MIN as i64, i16::MAX as i64),
                    DataType::Int32 => (i32::MIN as i64, i32::MAX as i64),
                    _ => (i64::MIN, i64::MAX),
                };
                FieldGen::Random {
                    min: int(format!("fields.{name}.min"), lo)?,
                    max: int(format!("fields.{name}.max"), hi)?,
                    length: int(format!("fields.{name}.length"), 100)?.max(0) as usize,
                }
            }
            other => {
                return Err(crate::SqlError::new(format!(
                "table {table}: 'fields.{name}.kind' must be 'sequence' or 'random', not '{other}'"
            )))
            }
        };
        gens.push(gen);
    }
    let rate = options
        .get("rows-per-second")
        .and_then(|v| v.trim().parse::<f64>().ok());
    let bounded = rows.is_some();
    let factory = Arc::new(move |_| {
        let gens = gens.clone();
        let schema = schema.clone();
        let inner = IndexedSource::new(Arc::new(move |n| (n, None)), rows).with_rate(rate);
        boxed(inner, move |records: Records<u64>| {
            let mut columns = Vec::with_capacity(gens.len());
            for (k, (gen, field)) in gens.iter().zip(schema.fields()).enumerate() {
                let values: Vec<i64> = records
                    .iter()
                    .map(|r| match gen {
                        FieldGen::Sequence { start } => start + r.value as i64,
                        FieldGen::Random { min, max, .. } => {
                            let span = (*max as i128 - *min as i128 + 1) as u128;
                            let h =
                                mix(r.value.wrapping_mul(31).wrapping_add(k as u64 + 1)) as u128;
                            (*min as i128 + (h % span.max(1)) as i128) as i64
                        }
                    })
                    .collect();
                let array: ArrayRef = match (field.data_type(), gen) {
                    (DataType::Utf8, FieldGen::Random { length, .. }) => {
                        let strings: StringArray = records
                            .iter()
                            .map(|r| {
                                let mut s = String::with_capacity(*length);
                                let mut x = r.value.wrapping_add(k as u64 * 7919);
                                while s.len() < *length {
                                    x = mix(x.wrapping_add(1));
                                    s.push_str(&format!("{x:016x}"));
                                }
                                s.truncate(*length);
                                Some(s)
                            })
                            .collect();
                        Arc::new(strings)
                    }
                    (DataType::Utf8, _) => Arc::new(StringArray::from_iter_values(
                        values.iter().map(|v| v.to_string()),
                    )),
                    (DataType::Boolean, _) => Arc::new(arrow::array::BooleanArray::from_iter(
                        values.iter().map(|v| Some(v & 1 == 1)),
                    )),
                    (DataType::Timestamp(_, _), _) => {
                        let now = eddy_core::time::now_millis();
                        let ts: ArrayRef =
                            Arc::new(arrow::array::TimestampMillisecondArray::from(vec![
                                now;
                                values
                                    .len(
                                    )
                            ]));
                        arrow::compute::cast(&ts, field.data_type()).map_err(runtime)?
                    }
                    (DataType::Float32 | DataType::Float64, FieldGen::Random { min, max, .. }) => {
                        let (min, max) = (*min as f64, *max as f64);
                        let f: ArrayRef = Arc::new(arrow::array::Float64Array::from_iter_values(
                            records.iter().map(|r| {
                                let u = (mix(r.value.wrapping_add(k as u64 * 104729)) >> 11) as f64
                                    / (1u64 << 53) as f64;
                                min + u * (max - min)
                            }),
                        ));
                        arrow::compute::cast(&f, field.data_type()).map_err(runtime)?
                    }
                    (t, _) => {
                        let ints: ArrayRef = Arc::new(arrow::array::Int64Array::from(values));
                        arrow::compute::cast(&ints, t).map_err(runtime)?
                    }
                };
                columns.push(array);
            }
            let n = records.len();
            Ok(Some(
                changelog::batch(schema.clone(), columns, n).map_err(runtime)?,
            ))
        })
    });
    Ok((factory, bounded))
}

// ---------------------------------------------------------------- filesystem

/// The format of a file table.
#[derive(Clone, Debug)]
pub enum FileFormat {
    /// `csv`.
    Csv {
        /// `csv.field-delimiter`.
        delimiter: char,
        /// `csv.quote-character`.
        quote: char,
        /// `csv.ignore-parse-errors`.
        ignore_errors: bool,
        /// `csv.null-literal`.
        null_literal: Option<String>,
        /// `csv.allow-comments`.
        allow_comments: bool,
    },
    /// `json`.
    Json {
        /// `json.ignore-parse-errors`.
        ignore_errors: bool,
    },
    /// `debezium-json` (a changelog).
    DebeziumJson {
        /// `debezium-json.ignore-parse-errors`.
        ignore_errors: bool,
    },
    /// `raw`: the whole line (or record value) is the table's one STRING column.
    Raw,
}

impl FileFormat {
    /// The format a table's options name.
    pub fn from_options(
        table: &str,
        options: &BTreeMap<String, String>,
    ) -> crate::SqlResult<FileFormat> {
        let flag = |key: &str| {
            options
                .get(key)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        };
        let ch = |key: &str, default: char| -> crate::SqlResult<char> {
            match options.get(key) {
                None => Ok(default),
                Some(v) if v == "\\t" => Ok('\t'),
                Some(v) if v.chars().count() == 1 => Ok(v.chars().next().unwrap_or(default)),
                Some(v) => Err(crate::SqlError::new(format!(
                    "option '{key}' of table {table} must be one character, not '{v}'"
                ))),
            }
        };
        match options.get("format").map(String::as_str) {
            Some("csv") => Ok(FileFormat::Csv {
                delimiter: ch("csv.field-delimiter", ',')?,
                quote: ch("csv.quote-character", '"')?,
                ignore_errors: flag("csv.ignore-parse-errors"),
                null_literal: options.get("csv.null-literal").cloned(),
                allow_comments: flag("csv.allow-comments"),
            }),
            Some("json") => Ok(FileFormat::Json {
                ignore_errors: flag("json.ignore-parse-errors"),
            }),
            Some("debezium-json") => Ok(FileFormat::DebeziumJson {
                ignore_errors: flag("debezium-json.ignore-parse-errors"),
            }),
            Some("raw") => Ok(FileFormat::Raw),
            Some(other) => Err(crate::SqlError::unsupported(format!(
                "format '{other}' of table {table} (eddy reads and writes csv, json and debezium-json)"
            ))),
            None => Err(crate::SqlError::new(format!(
                "table {table} needs the option 'format' (csv, json or debezium-json)"
            ))),
        }
    }

    /// Whether rows carry a row kind.
    pub fn is_changelog(&self) -> bool {
        matches!(self, FileFormat::DebeziumJson { .. })
    }

    /// The option that makes the format skip malformed lines, when it is on.
    pub fn ignore_errors_option(&self) -> Option<&'static str> {
        match self {
            FileFormat::Csv {
                ignore_errors: true,
                ..
            } => Some("csv.ignore-parse-errors"),
            FileFormat::Json {
                ignore_errors: true,
            } => Some("json.ignore-parse-errors"),
            FileFormat::DebeziumJson {
                ignore_errors: true,
            } => Some("debezium-json.ignore-parse-errors"),
            _ => None,
        }
    }
}

/// Files of a directory (read recursively) or one file in CSV, JSON or
/// Debezium JSON, decoded line by line by a [`LineDecoder`]. With the format's
/// `ignore-parse-errors`, malformed lines (and lines that are not UTF-8) are
/// skipped, counted in the job counter `<source>.numRecordsInErrors` and
/// reported on stderr when the source ends.
pub fn filesystem(
    table: &str,
    schema: SchemaRef,
    output: SchemaRef,
    path: String,
    format: FileFormat,
) -> SourceFactory {
    let _ = table;
    // One record for the source, so its subtasks print one summary.
    let skipped = format.ignore_errors_option().map(SkippedLines::new);
    Arc::new(move |_| {
        let decoder = LineDecoder::counting_in(
            schema.clone(),
            output.clone(),
            format.clone(),
            skipped.as_ref().map(SkippedLines::for_subtask),
        );
        let mut source = TextFileSource::new(path.clone());
        if let Some(skipped) = decoder.skipped() {
            source = source.with_skipped_lines(skipped.clone());
        }
        boxed(source, move |lines: Records<TextLine>| {
            let lines: Vec<&TextLine> = lines.iter().map(|r| &r.value).collect();
            Ok(decoder
                .decode_with_origins(&lines)?
                .map(|(batch, origins)| {
                    // Operators chained to the source name a failing row's line.
                    crate::exec::origin::remember(&batch, origins);
                    batch
                }))
        })
    })
}

// ---------------------------------------------------------------- registered

use crate::connectors::registry::{LineReader, LineReaderFactory, MetadataValue, SourceLine};

/// A registered connector's reader of lines, as a [`SourceReader`], that
/// reports the records its format skipped when its input ends.
struct LineReaderBox(LineReader, Option<SkippedLines>);

impl SourceReader for LineReaderBox {
    type Out = Records<SourceLine>;
    fn open(&mut self, ctx: &OperatorContext) -> Result<()> {
        if let Some(skipped) = &self.1 {
            skipped.open(ctx);
        }
        self.0.open(ctx)
    }
    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<SourceEvent<Records<SourceLine>>>> {
        let event = self.0.poll_next(cx);
        if let (Poll::Ready(Ok(SourceEvent::End)), Some(skipped)) = (&event, &self.1) {
            skipped.report();
        }
        event
    }
    fn splits(&self) -> Option<Vec<String>> {
        self.0.splits()
    }
    fn close(&mut self) -> Result<()> {
        self.0.close()
    }
    fn snapshot_position(&mut self) -> Result<Vec<u8>> {
        self.0.snapshot_position()
    }
    fn snapshot_position_for(&mut self, checkpoint_id: u64) -> Result<Vec<u8>> {
        self.0.snapshot_position_for(checkpoint_id)
    }
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        self.0.notify_checkpoint_complete(checkpoint_id)
    }
    fn restore_positions(&mut self, positions: Vec<Vec<u8>>) -> Result<()> {
        self.0.restore_positions(positions)
    }
}

/// A registered connector's lines, decoded by the table's format as file
/// lines are (malformed records fail naming where they came from, or are
/// skipped and counted with the format's `ignore-parse-errors`). `metadata`
/// lists the physical columns (by index) that take the records' metadata
/// values, in the order the connector was asked for them; the format decodes
/// the other columns.
pub fn registered(
    schema: SchemaRef,
    output: SchemaRef,
    readers: LineReaderFactory,
    format: FileFormat,
    metadata: Vec<usize>,
) -> SourceFactory {
    let skipped = format.ignore_errors_option().map(SkippedLines::new);
    let value_fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(i, _)| !metadata.contains(i))
        .map(|(_, f)| f.as_ref().clone())
        .collect();
    let value_schema: SchemaRef = Arc::new(arrow::datatypes::Schema::new(value_fields.clone()));
    // The row kind, for a changelog format, follows the physical columns.
    let mut value_output = value_fields;
    value_output.extend(
        output
            .fields()
            .iter()
            .skip(schema.fields().len())
            .map(|f| f.as_ref().clone()),
    );
    let value_output: SchemaRef = Arc::new(arrow::datatypes::Schema::new(value_output));
    let metadata = Arc::new(metadata);
    let physical = schema.fields().len();
    Arc::new(move |i| {
        let handle = skipped.as_ref().map(SkippedLines::for_subtask);
        let decoder = LineDecoder::counting_in(
            value_schema.clone(),
            value_output.clone(),
            format.clone(),
            handle.clone(),
        );
        let metadata = metadata.clone();
        let output = output.clone();
        boxed(
            LineReaderBox(readers(i), handle),
            move |records: Records<SourceLine>| {
                let refs: Vec<&TextLine> = records.iter().map(|r| &r.value.line).collect();
                let Some((batch, origins)) = decoder.decode_with_origins(&refs)? else {
                    return Ok(None);
                };
                let batch = if metadata.is_empty() {
                    batch
                } else {
                    with_metadata(&batch, &origins, &records, &metadata, &output, physical)?
                };
                crate::exec::origin::remember(&batch, origins);
                Ok(Some(batch))
            },
        )
    })
}

/// `batch` (the decoded columns) with the metadata columns put in place.
fn with_metadata(
    batch: &RecordBatch,
    origins: &crate::exec::origin::RowOrigins,
    records: &Records<SourceLine>,
    metadata: &[usize],
    output: &SchemaRef,
    physical: usize,
) -> Result<RecordBatch> {
    // The record each row was decoded from, by where its line came from.
    let by_origin: std::collections::HashMap<(*const u8, u64), &SourceLine> = records
        .iter()
        .map(|r| {
            (
                (r.value.line.path.as_ptr(), r.value.line.line_number),
                &r.value,
            )
        })
        .collect();
    let rows = batch.num_rows();
    let mut decoded = batch.columns().iter().cloned();
    let mut columns = Vec::with_capacity(output.fields().len());
    for (c, field) in output.fields().iter().enumerate().take(physical) {
        let Some(slot) = metadata.iter().position(|m| *m == c) else {
            columns.push(
                decoded
                    .next()
                    .ok_or_else(|| Error::Other("a decoded batch lacks a column".into()))?,
            );
            continue;
        };
        let values = (0..rows).map(|row| {
            let (path, position) = origins.origin(row)?;
            by_origin
                .get(&(path.as_ptr(), position))
                .and_then(|r| r.metadata.get(slot).cloned())
        });
        columns.push(metadata_column(values, field.data_type())?);
    }
    columns.extend(decoded);
    changelog::batch(output.clone(), columns, rows).map_err(runtime)
}

/// A metadata column of `values`, cast to the column's type.
fn metadata_column(
    values: impl Iterator<Item = Option<crate::connectors::registry::MetadataValue>>,
    data_type: &DataType,
) -> Result<ArrayRef> {
    let values: Vec<Option<MetadataValue>> = values.collect();
    if let DataType::Map(entries, _) = data_type {
        return map_column(&values, entries);
    }
    let base: ArrayRef = if values
        .iter()
        .flatten()
        .any(|v| matches!(v, MetadataValue::Text(_)))
    {
        Arc::new(StringArray::from_iter(values.iter().map(|v| match v {
            Some(MetadataValue::Text(t)) => Some(t.clone()),
            _ => None,
        })))
    } else if values
        .iter()
        .flatten()
        .any(|v| matches!(v, MetadataValue::Timestamp(_)))
    {
        Arc::new(arrow::array::TimestampMillisecondArray::from_iter(
            values.iter().map(|v| match v {
                Some(MetadataValue::Timestamp(t)) => Some(*t),
                _ => None,
            }),
        ))
    } else {
        Arc::new(arrow::array::Int64Array::from_iter(values.iter().map(
            |v| match v {
                Some(MetadataValue::Integer(i)) => Some(*i),
                _ => None,
            },
        )))
    };
    let base = match (base.data_type(), data_type) {
        // The millis are the instant: keep them, with the column's zone.
        (
            DataType::Timestamp(TimeUnit::Millisecond, None),
            DataType::Timestamp(TimeUnit::Millisecond, tz),
        ) => {
            let millis = base
                .as_any()
                .downcast_ref::<arrow::array::TimestampMillisecondArray>()
                .cloned()
                .ok_or_else(|| Error::Other("metadata column: not a timestamp".into()))?;
            Arc::new(millis.with_timezone_opt(tz.clone())) as ArrayRef
        }
        _ => arrow::compute::cast(&base, data_type)
            .map_err(|e| Error::Other(format!("metadata column: {e}")))?,
    };
    Ok(base)
}

/// A `MAP<STRING, BYTES>` metadata column (e.g. record headers).
fn map_column(
    values: &[Option<MetadataValue>],
    entries: &arrow::datatypes::FieldRef,
) -> Result<ArrayRef> {
    use arrow::array::{BinaryBuilder, MapBuilder, MapFieldNames};
    let DataType::Struct(fields) = entries.data_type() else {
        return Err(Error::Other("a MAP column without entries".into()));
    };
    let (Some(key), Some(value)) = (fields.first(), fields.get(1)) else {
        return Err(Error::Other("a MAP column without key and value".into()));
    };
    let names = MapFieldNames {
        entry: entries.name().clone(),
        key: key.name().clone(),
        value: value.name().clone(),
    };
    let mut builder = MapBuilder::new(Some(names), StringBuilder::new(), BinaryBuilder::new())
        .with_values_field(value.clone());
    for v in values {
        match v {
            Some(MetadataValue::Map(pairs)) => {
                for (k, v) in pairs {
                    builder.keys().append_value(k);
                    builder.values().append_option(v.as_deref());
                }
                builder
                    .append(true)
                    .map_err(|e| Error::Other(format!("metadata column: {e}")))?;
            }
            _ => builder
                .append(false)
                .map_err(|e| Error::Other(format!("metadata column: {e}")))?,
        }
    }
    let array: ArrayRef = Arc::new(builder.finish());
    if array.data_type() == &DataType::Map(entries.clone(), false) {
        Ok(array)
    } else {
        arrow::compute::cast(&array, &DataType::Map(entries.clone(), false))
            .map_err(|e| Error::Other(format!("metadata column: {e}")))
    }
}
