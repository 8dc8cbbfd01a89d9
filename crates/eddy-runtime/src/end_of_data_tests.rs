//! The end of data through a chain, a record writer and the next task's gate:
//! what an operator emits at its end reaches the operators after it, chained
//! or across a channel, before their event time ends, and the final `+inf`
//! watermark never travels on its own.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use eddy_core::time::SystemClock;
use eddy_core::{
    Config, Element, Records, Result, StreamRecord, Timestamp, WatermarkStatus, MAX_WATERMARK,
};

use crate::chain::ChainNode;
use crate::channel::{channel, Receiver};
use crate::input::{InputEvent, InputGate};
use crate::operator::{Counters, Operator, OperatorContext, RunContext};
use crate::output::{Emitter, Output, SideOutputs};
use crate::partitioner::ForwardPartitioner;
use crate::writer::{RecordWriter, WriterMetrics};

fn context(name: &str) -> OperatorContext {
    OperatorContext {
        name: name.into(),
        uid: name.into(),
        subtask: 0,
        parallelism: 1,
        max_parallelism: 128,
        clock: Arc::new(SystemClock),
        config: Arc::new(Config::default()),
        counters: Counters::default(),
        restored: None,
        checkpointing: false,
        run: RunContext::default(),
        restored_part: Default::default(),
    }
}

/// Holds back what it reads and emits it all at its end of input (a bounded
/// buffer such as a mini-batch), forwarding watermarks.
struct EmitsAtEnd {
    held: Records<String>,
}

impl Operator for EmitsAtEnd {
    type In = Records<String>;
    type Out = Records<String>;

    fn process_batch(&mut self, batch: Self::In, _: &mut Emitter<'_, Self::Out>) -> Result<()> {
        self.held.extend(batch);
        Ok(())
    }

    fn end_input(&mut self, out: &mut Emitter<'_, Self::Out>) -> Result<()> {
        out.collect(std::mem::take(&mut self.held))
    }
}

/// Logs what reaches it, as an event-time operator sees it, and forwards it.
struct Log {
    events: Arc<Mutex<Vec<String>>>,
}

impl Log {
    fn push(&self, event: String) {
        self.events.lock().unwrap().push(event);
    }
}

impl Operator for Log {
    type In = Records<String>;
    type Out = Records<String>;

    fn process_batch(&mut self, batch: Self::In, out: &mut Emitter<'_, Self::Out>) -> Result<()> {
        for record in &batch {
            self.push(record.value.clone());
        }
        out.collect(batch)
    }

    fn process_watermark(
        &mut self,
        watermark: Timestamp,
        out: &mut Emitter<'_, Self::Out>,
    ) -> Result<()> {
        self.push(if watermark == MAX_WATERMARK {
            "w+inf".into()
        } else {
            format!("w{watermark}")
        });
        out.emit_watermark(watermark)
    }

    fn end_input(&mut self, _: &mut Emitter<'_, Self::Out>) -> Result<()> {
        self.push("end".into());
        Ok(())
    }
}

fn records(values: &[&str]) -> Records<String> {
    values
        .iter()
        .map(|v| StreamRecord::new(v.to_string()))
        .collect()
}

/// Everything a channel holds now, as text.
fn drain(rx: &Receiver<Element<Records<String>>>) -> Vec<String> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut seen = Vec::new();
    while let Poll::Ready(Some(element)) = rx.poll_recv(&mut cx) {
        seen.push(match element {
            Element::Batch(b) => b
                .iter()
                .map(|r| r.value.clone())
                .collect::<Vec<_>>()
                .join(","),
            Element::Watermark(w) => format!("w{w}"),
            Element::Status(s) => format!("{s:?}"),
            Element::Barrier(b) => format!("barrier {}", b.checkpoint_id),
            Element::EndOfData => "end of data".into(),
            Element::EndOfPartition => "end of partition".into(),
        });
    }
    seen
}

fn flush(chain: &mut dyn Output<Records<String>>) {
    chain.flush_buffers();
    let mut cx = Context::from_waker(Waker::noop());
    assert!(chain.poll_flush(&mut cx).is_ready());
}

#[test]
fn an_operators_end_output_reaches_the_next_operator_and_task_before_the_final_watermark() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = channel(64);
    let writer = RecordWriter::new(
        vec![tx],
        Box::new(ForwardPartitioner),
        1024,
        WriterMetrics::default(),
    );
    let log = ChainNode::new(
        Log {
            events: events.clone(),
        },
        Box::new(writer),
        SideOutputs::default(),
        context("log"),
    );
    let mut chain = ChainNode::new(
        EmitsAtEnd { held: Vec::new() },
        Box::new(log),
        SideOutputs::default(),
        context("buffer"),
    );
    chain.open().unwrap();
    chain.collect(records(&["a", "b"])).unwrap();
    chain.emit_watermark(5).unwrap();
    // A `+inf` watermark handed down before the end is held for it.
    chain.emit_watermark(MAX_WATERMARK).unwrap();
    flush(&mut chain);
    assert_eq!(*events.lock().unwrap(), ["w5"]);
    assert_eq!(drain(&rx), ["w5"]);

    chain.end_of_data().unwrap();
    chain.end_of_data().unwrap(); // once only
    chain.close().unwrap();
    flush(&mut chain);
    assert_eq!(*events.lock().unwrap(), ["w5", "a", "b", "w+inf", "end"]);
    assert_eq!(drain(&rx), ["a,b", "end of data", "end of partition"]);
}

#[test]
fn the_gate_ends_an_input_when_its_last_channel_ends_its_data() {
    let (tx_a, rx_a) = channel(16);
    let (tx_b, rx_b) = channel(16);
    let (tx_c, rx_c) = channel(16);
    let mut gate: InputGate<Records<String>> = InputGate::with_inputs(vec![
        vec![Box::new(rx_a), Box::new(rx_b)],
        vec![Box::new(rx_c)],
    ]);
    let mut cx = Context::from_waker(Waker::noop());
    let mut next = || match gate.poll_next(&mut cx) {
        Poll::Ready(event) => Some(match event {
            InputEvent::Batch(b) => format!("batch {}", b.len()),
            InputEvent::Watermark(i, w) => format!("input {i} w{w}"),
            InputEvent::Status(i, s) => format!("input {i} {s:?}"),
            InputEvent::Barrier(b) => format!("barrier {}", b.checkpoint_id),
            InputEvent::EndOfData(i) => format!("input {i} end of data"),
            InputEvent::End => "end".into(),
            InputEvent::Disconnected => "disconnected".into(),
        }),
        Poll::Pending => None,
    };

    tx_a.force_send(Element::Watermark(10));
    tx_b.force_send(Element::Watermark(4));
    tx_c.force_send(Element::Status(WatermarkStatus::Idle));
    assert_eq!(next().as_deref(), Some("input 0 w4"));
    assert_eq!(next().as_deref(), Some("input 1 Idle"));
    // Channel b ends its data: input 0 goes on with channel a alone.
    tx_b.force_send(Element::EndOfData);
    assert_eq!(next().as_deref(), Some("input 0 w10"));
    tx_a.force_send(Element::Batch(records(&["x"])));
    tx_a.force_send(Element::EndOfData);
    assert_eq!(next().as_deref(), Some("batch 1"));
    // The last channel's end: the input's end of data, never a `+inf` watermark.
    assert_eq!(next().as_deref(), Some("input 0 end of data"));
    assert_eq!(next(), None);
    // Input 1 has not ended, so the end of partition of input 0 ends nothing yet.
    tx_a.force_send(Element::EndOfPartition);
    tx_b.force_send(Element::EndOfPartition);
    assert_eq!(next(), None);
    // A channel that ends its partition without its data ends both.
    tx_c.force_send(Element::EndOfPartition);
    assert_eq!(next().as_deref(), Some("input 1 end of data"));
    assert_eq!(next().as_deref(), Some("end"));
}

#[test]
fn a_chain_without_an_end_output_sends_only_the_end_of_data() {
    let (tx, rx) = channel(8);
    let mut writer: RecordWriter<Records<String>> = RecordWriter::new(
        vec![tx],
        Box::new(ForwardPartitioner),
        16,
        WriterMetrics::default(),
    );
    writer.emit_watermark(MAX_WATERMARK).unwrap();
    writer.close().unwrap();
    flush(&mut writer);
    assert_eq!(drain(&rx), ["end of data", "end of partition"]);
}
