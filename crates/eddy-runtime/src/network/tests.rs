//! The data exchange over real loopback connections.

use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use eddy_core::{Element, ExecutionAttemptId, JobId, Records, Result, StreamRecord, VertexId};

use super::bridge::{FrameSink, FrameSource};
use super::secure::ClusterSecurity;
use super::{ChannelProvider, DataClient, DataServer, Providers};
use crate::channel::{channel, Receiver, Sender};
use crate::factory::{EdgeFactory, TypedEdge};
use crate::protocol::ChannelId;

type B = Records<u64>;

/// Serves channels from a list of prepared receivers.
struct Prepared {
    edge: TypedEdge<B>,
    waiting: Mutex<Vec<(ChannelId, Receiver<Element<B>>)>>,
}

impl ChannelProvider for Prepared {
    fn frame_source(&self, id: ChannelId) -> Result<Box<dyn FrameSource>> {
        let mut waiting = self.waiting.lock().unwrap();
        let i = waiting
            .iter()
            .position(|(c, _)| *c == id)
            .ok_or_else(|| eddy_core::Error::Other(format!("no channel {id}")))?;
        let (_, rx) = waiting.remove(i);
        self.edge.frame_source(Box::new(rx))
    }
}

fn id(consumer: u32) -> ChannelId {
    ChannelId {
        edge: 0,
        producer: 0,
        consumer,
    }
}

fn consumer() -> ExecutionAttemptId {
    ExecutionAttemptId::new(VertexId(1), 0, 0)
}

/// A local channel whose sender a remote stream fills.
fn remote_input(capacity: usize) -> (Box<dyn FrameSink>, Receiver<Element<B>>) {
    let (tx, rx) = channel::<Element<B>>(capacity);
    let sink = TypedEdge::<B>::new()
        .with_codec()
        .frame_sink(Box::new(tx))
        .unwrap();
    (sink, rx)
}

async fn next(rx: &Receiver<Element<B>>) -> Option<Element<B>> {
    tokio::time::timeout(
        Duration::from_secs(10),
        std::future::poll_fn(|cx| rx.poll_recv(cx)),
    )
    .await
    .expect("an element within 10 s")
}

async fn serve(channels: Vec<(ChannelId, Receiver<Element<B>>)>, job: JobId) -> String {
    let providers = Providers::default();
    providers.insert(
        job,
        1,
        Arc::new(Prepared {
            edge: TypedEdge::<B>::new().with_codec(),
            waiting: Mutex::new(channels),
        }),
    );
    DataServer::bind(
        "127.0.0.1:0",
        providers,
        ClusterSecurity::with_secret("s3cret"),
    )
    .await
    .unwrap()
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_share_a_connection_and_a_slow_one_does_not_block_the_other() {
    let job = JobId::generate();
    let (tx_a, rx_a) = channel::<Element<B>>(64);
    let (tx_b, rx_b) = channel::<Element<B>>(64);
    let address = serve(vec![(id(0), rx_a), (id(1), rx_b)], job).await;
    let client = DataClient::new(job, 1, ClusterSecurity::with_secret("s3cret"));
    let (sink_a, remote_a) = remote_input(2);
    let (sink_b, remote_b) = remote_input(2);
    client.subscribe(address.clone(), consumer(), id(0), 2, sink_a);
    client.subscribe(address, consumer(), id(1), 2, sink_b);

    for i in 0..40u64 {
        tx_a.force_send(Element::Batch(vec![StreamRecord::with_timestamp(
            i, i as i64,
        )]));
        tx_b.force_send(Element::Batch(vec![StreamRecord::new(i)]));
    }
    tx_b.force_send(Element::Watermark(99));
    tx_b.force_send(Element::EndOfPartition);
    drop(tx_b);
    // Nobody reads channel a, yet b's 42 elements all arrive.
    for i in 0..40u64 {
        match next(&remote_b).await {
            Some(Element::Batch(b)) => assert_eq!(b[0].value, i),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        next(&remote_b).await,
        Some(Element::Watermark(99))
    ));
    assert!(matches!(
        next(&remote_b).await,
        Some(Element::EndOfPartition)
    ));
    assert!(
        next(&remote_b).await.is_none(),
        "closed after the producer ended"
    );

    // Channel a holds its consumer's capacity (2) and its credit (2) in
    // flight at most: the rest waits at the producer.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(remote_a.len(), 2);
    assert!(rx_len(&tx_a) >= 40 - 2 - 2 - 1, "{}", rx_len(&tx_a));
    for i in 0..40u64 {
        match next(&remote_a).await {
            Some(Element::Batch(b)) => {
                assert_eq!((b[0].value, b[0].timestamp), (i, Some(i as i64)))
            }
            other => panic!("{other:?}"),
        }
    }
}

/// How many elements wait in the producer's channel (of capacity 64): it is
/// filled up with watermarks, which the consumer reads after the batches.
fn rx_len(tx: &Sender<Element<B>>) -> usize {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut room = 0;
    while tx.poll_send(&mut cx, Element::Watermark(0)).is_ok() {
        room += 1;
    }
    64 - room
}

#[tokio::test]
async fn a_peer_without_the_secret_or_a_missing_channel_closes_the_channel() {
    let job = JobId::generate();
    let (_tx, rx) = channel::<Element<B>>(4);
    let address = serve(vec![(id(0), rx)], job).await;

    let wrong = DataClient::new(job, 1, ClusterSecurity::with_secret("guess"));
    let (sink, remote) = remote_input(2);
    wrong.subscribe(address.clone(), consumer(), id(0), 2, sink);
    assert!(next(&remote).await.is_none());

    // A channel the attempt does not have fails the request.
    let right = DataClient::new(job, 1, ClusterSecurity::with_secret("s3cret"));
    let (sink, remote) = remote_input(2);
    right.subscribe(address, consumer(), id(7), 2, sink);
    assert!(next(&remote).await.is_none());
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(matches!(remote.poll_recv(&mut cx), Poll::Ready(None)));
}
