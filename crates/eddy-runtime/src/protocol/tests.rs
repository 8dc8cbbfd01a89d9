//! Every message of the protocol survives JSON and postcard unchanged.

use std::collections::BTreeMap;

use eddy_core::{CheckpointId, ExecutionAttemptId, JobId, KeyGroupRange, VertexId};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::*;

fn attempt() -> ExecutionAttemptId {
    ExecutionAttemptId::new(VertexId(3), 1, 2)
}

fn handles(subtask: u32) -> OperatorSubtaskHandles {
    OperatorSubtaskHandles {
        uid: "window-reduce-4".into(),
        subtask,
        parallelism: 2,
        max_parallelism: 128,
        key_groups: KeyGroupRange::new(64 * subtask, 64 * subtask + 63),
        handles: vec![
            StateHandle {
                location: format!("chk-7/window-reduce-4-{subtask}.state"),
                size: 254_784,
                crc32: 0xdead_beef,
            },
            StateHandle {
                location: "s3://bucket/shared/000042.sst".into(),
                size: u64::MAX,
                crc32: 0,
            },
        ],
        has_keyed_state: true,
        has_operator_state: subtask == 0,
    }
}

fn to_task_executor(job_id: JobId) -> Vec<ToTaskExecutor> {
    let deploy = |restore| {
        ToTaskExecutor::DeployTask(TaskDeploymentDescriptor {
            job_id,
            attempt: attempt(),
            vertex_uid: "window-reduce-4".into(),
            vertex_name: "Window(Tumble 10 s) → reduce".into(),
            parallelism: 2,
            max_parallelism: 128,
            operator: OperatorDescriptor(vec![0, 1, 2, 255]),
            inputs: vec![
                ChannelId {
                    edge: 0,
                    producer: 0,
                    consumer: 1,
                },
                ChannelId {
                    edge: 0,
                    producer: 1,
                    consumer: 1,
                },
            ],
            outputs: vec![ChannelId {
                edge: 2,
                producer: 1,
                consumer: 0,
            }],
            remote_inputs: vec![(
                ChannelId {
                    edge: 0,
                    producer: 0,
                    consumer: 1,
                },
                "127.0.0.1:40123".to_string(),
            )],
            restore,
        })
    };
    let mut messages = vec![
        deploy(None),
        deploy(Some(TaskRestore {
            checkpoint_id: CheckpointId(7),
            operators: vec!["window-reduce-4".into(), "source".into()],
            state: vec![handles(0), handles(1)],
        })),
    ];
    for kind in [
        CheckpointKind::Checkpoint,
        CheckpointKind::Savepoint,
        CheckpointKind::StopWithSavepoint { drain: true },
    ] {
        messages.push(ToTaskExecutor::TriggerCheckpoint(TriggerCheckpoint {
            job_id,
            attempt: attempt(),
            checkpoint_id: CheckpointId(8),
            timestamp: 1_700_000_000_000,
            kind,
            is_final: kind == CheckpointKind::Checkpoint,
            target: (kind != CheckpointKind::Checkpoint).then(|| "/sp/savepoint-x-8".into()),
        }));
    }
    messages.extend([
        ToTaskExecutor::CheckpointComplete(CheckpointComplete {
            job_id,
            attempt: attempt(),
            checkpoint_id: CheckpointId(8),
        }),
        ToTaskExecutor::CheckpointAborted(CheckpointAborted {
            job_id,
            attempt: attempt(),
            checkpoint_id: CheckpointId(9),
            reason: "checkpoint 9 expired after 10 min".into(),
        }),
        ToTaskExecutor::CancelTask(CancelTask {
            job_id,
            attempt: attempt(),
        }),
    ]);
    messages
}

fn to_job_master(job_id: JobId) -> Vec<ToJobMaster> {
    let cause = FailureCause::from_error(&eddy_core::Error::io(
        "/tmp/chk-9/x.state",
        std::io::Error::other("disk full"),
    ));
    let mut messages: Vec<ToJobMaster> = [
        ExecutionState::Created,
        ExecutionState::Deploying,
        ExecutionState::Initializing,
        ExecutionState::Running,
        ExecutionState::Finished,
        ExecutionState::Canceling,
        ExecutionState::Canceled,
    ]
    .into_iter()
    .map(|state| {
        ToJobMaster::TaskState(TaskExecutionState {
            job_id,
            attempt: attempt(),
            state,
            failure: None,
        })
    })
    .collect();
    let job_values = BTreeMap::from([("lastCheckpointSyncDurationMicros".to_string(), u64::MAX)]);
    let operators = vec![OperatorSample {
        uid: "map-3".into(),
        name: "Map".into(),
        subtask: 1,
        metric: "numRecordsIn".into(),
        value: 1234,
    }];
    messages.extend([
        ToJobMaster::TaskState(TaskExecutionState {
            job_id,
            attempt: attempt(),
            state: ExecutionState::Failed,
            failure: Some(cause.clone()),
        }),
        ToJobMaster::AcknowledgeCheckpoint(CheckpointAck {
            job_id,
            attempt: attempt(),
            checkpoint_id: CheckpointId(8),
            state: vec![handles(1)],
            sync_duration_ms: 3,
            async_duration_ms: 120,
            alignment_duration_ms: 7,
            start_delay_ms: 2,
        }),
        ToJobMaster::AcknowledgeCheckpoint(CheckpointAck {
            job_id,
            attempt: attempt(),
            checkpoint_id: CheckpointId(8),
            state: Vec::new(),
            sync_duration_ms: 0,
            async_duration_ms: 0,
            alignment_duration_ms: 0,
            start_delay_ms: 0,
        }),
        ToJobMaster::DeclineCheckpoint(CheckpointDecline {
            job_id,
            attempt: attempt(),
            checkpoint_id: CheckpointId(9),
            cause,
        }),
        ToJobMaster::Metrics(MetricsSnapshot {
            job_id,
            reporter: "127.0.0.1:40111-a1b2c3".into(),
            timestamp: 1_700_000_000_123,
            job: job_values,
            operators,
            gauges: vec![GaugeSample {
                uid: "map-3".into(),
                name: "Map".into(),
                subtask: 1,
                metric: "currentInputWatermark".into(),
                value: i64::MIN,
            }],
        }),
        ToJobMaster::Metrics(MetricsSnapshot {
            job_id,
            reporter: String::new(),
            timestamp: 0,
            job: BTreeMap::new(),
            operators: Vec::new(),
            gauges: Vec::new(),
        }),
        ToJobMaster::InputEnded(TaskInputEnded {
            job_id,
            attempt: attempt(),
        }),
    ]);
    messages
}

fn round_trips<M>(message: &M)
where
    M: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_string(message).unwrap();
    let back: M = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, message, "{json}");

    let bytes = encode_message(message).unwrap();
    assert_eq!(&decode_message::<M>(&bytes).unwrap(), message);
    // Cut anywhere, the message is an error, not a panic or a wrong message.
    for cut in 0..bytes.len() {
        assert!(decode_message::<M>(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(decode_message::<M>(&longer).is_err());
}

#[test]
fn every_message_to_a_task_executor_round_trips() {
    let messages = to_task_executor(JobId::generate());
    assert_eq!(messages.len(), 8);
    for message in &messages {
        round_trips(message);
    }
}

#[test]
fn every_message_to_the_job_master_round_trips() {
    let messages = to_job_master(JobId::generate());
    assert_eq!(messages.len(), 14);
    for message in &messages {
        round_trips(message);
    }
}

#[test]
fn json_uses_flinks_state_names() {
    let json = serde_json::to_string(&ExecutionState::Canceling).unwrap();
    assert_eq!(json, "\"CANCELING\"");
    let state = ToJobMaster::TaskState(TaskExecutionState {
        job_id: JobId::generate(),
        attempt: attempt(),
        state: ExecutionState::Running,
        failure: None,
    });
    assert!(serde_json::to_string(&state)
        .unwrap()
        .contains("\"RUNNING\""));
}

#[test]
fn a_failure_cause_keeps_the_chain() {
    let err = eddy_core::Error::io("/x", std::io::Error::other("disk full"));
    let cause = FailureCause::from_error(&err);
    assert_eq!(cause.chain, ["disk full"]);
    assert_eq!(
        cause.to_string(),
        "I/O error on /x: disk full\n  caused by: disk full"
    );
}

#[test]
fn random_bytes_are_errors_or_messages_never_panics() {
    let mut x = 0x853c_49e6_748f_ea9bu64;
    for _ in 0..5_000 {
        let len = (x % 96) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = decode_message::<ToTaskExecutor>(&bytes);
        let _ = decode_message::<ToJobMaster>(&bytes);
    }
}
