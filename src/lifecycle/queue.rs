//! Queue sampling for the Little's law check: `GET /queues/status` once a
//! second for the whole run, summing the queue size over rooms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::Operation;
use crate::client::{ApiClient, ApiRequest};

/// What the sampler saw: samples taken and the sum of their sizes.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct QueueSamples {
    pub count: u64,
    pub sum: f64,
}

impl QueueSamples {
    /// The time-averaged total queue size (0 without samples).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }
}

/// A sampler running in the background until [`QueueSampler::stop`].
#[derive(Debug)]
pub struct QueueSampler {
    stop: CancellationToken,
    task: JoinHandle<QueueSamples>,
}

impl QueueSampler {
    /// Starts sampling through `client`.
    pub fn start(client: Arc<ApiClient>) -> QueueSampler {
        let stop = CancellationToken::new();
        let task = tokio::spawn(sample_queues(client, stop.clone()));
        QueueSampler { stop, task }
    }

    /// Stops sampling and returns the samples (`None` if the task failed).
    pub async fn stop(self) -> Option<QueueSamples> {
        self.stop.cancel();
        self.task.await.ok()
    }
}

/// Samples the total queue size (sum over rooms) once a second until stopped.
async fn sample_queues(client: Arc<ApiClient>, stop: CancellationToken) -> QueueSamples {
    let mut samples = QueueSamples::default();
    let queues_path = &Operation::GetQueuesStatus.path_with(&[]);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return samples,
        }
        let started = Instant::now();
        let request = ApiRequest::secret(Operation::GetQueuesStatus, queues_path, None);
        let answer = tokio::select! {
            r = client.send(request) => r,
            () = stop.cancelled() => return samples,
        };
        let Ok(response) = answer else { continue };
        let Ok(body) = serde_json::from_slice::<Value>(&response.body) else {
            continue;
        };
        let size: f64 = body
            .get("queues")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|q| q.get("size").and_then(Value::as_f64))
            .sum();
        if response.status == 200 && started.elapsed() < Duration::from_secs(1) {
            samples.count += 1;
            samples.sum += size;
        }
    }
}
