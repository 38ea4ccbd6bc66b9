//! Where finished records go: one bounded queue per record processor.
//!
//! Records are dealt round-robin, so each processor sees about the same share; when the chosen
//! queue is full the next one with room takes the record, and only when every queue is full
//! does the request task wait. Bounded queues keep memory flat: a slow processor slows the
//! client (visible as queue depth in the run's headroom), it never loses a record.

use super::RawRecord;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc::{self, Receiver, Sender, WeakSender, error::TrySendError};

/// The sending side, shared by every request of a run.
#[derive(Debug)]
pub struct RecordSink {
    queues: Vec<Sender<RawRecord>>,
    next: AtomicUsize,
}

/// Reads how full the queues are without keeping them open.
#[derive(Debug, Clone)]
pub struct QueueGauge {
    queues: Vec<WeakSender<RawRecord>>,
}

impl RecordSink {
    /// `shards` queues (at least one) of `capacity` records each, and their receivers.
    pub fn new(shards: usize, capacity: usize) -> (Self, Vec<Receiver<RawRecord>>) {
        let (queues, receivers) = (0..shards.max(1)).map(|_| mpsc::channel(capacity)).unzip();
        let sink = Self {
            queues,
            next: AtomicUsize::new(0),
        };
        (sink, receivers)
    }

    /// Hands a record to a processor, waiting only when every queue is full. Returns without
    /// effect once the processors are gone (the run is being torn down).
    pub async fn send(&self, rec: RawRecord) {
        let n = self.queues.len();
        let first = if n == 1 {
            0
        } else {
            self.next.fetch_add(1, Ordering::Relaxed) % n
        };
        let mut rec = rec;
        for k in 0..n {
            match self.queues[(first + k) % n].try_send(rec) {
                Ok(()) => return,
                Err(TrySendError::Full(back)) => rec = back,
                Err(TrySendError::Closed(_)) => return,
            }
        }
        let _ = self.queues[first].send(rec).await;
    }

    /// A gauge of the queues' depth that does not keep them open.
    pub fn gauge(&self) -> QueueGauge {
        QueueGauge {
            queues: self.queues.iter().map(Sender::downgrade).collect(),
        }
    }
}

impl QueueGauge {
    /// Records waiting in all queues, and the room they have in total; `None` once the sink
    /// is gone.
    pub fn depth(&self) -> Option<(usize, usize)> {
        let mut waiting = 0;
        let mut total = 0;
        for queue in &self.queues {
            let queue = queue.upgrade()?;
            waiting += queue.max_capacity() - queue.capacity();
            total += queue.max_capacity();
        }
        Some((waiting, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(index: u64) -> RawRecord {
        RawRecord::new(
            crate::spec::PhaseKind::Profiling,
            index,
            Default::default(),
            0,
        )
    }

    #[tokio::test]
    async fn records_are_dealt_round_robin_and_overflow_to_a_free_queue() {
        let (sink, mut receivers) = RecordSink::new(3, 4);
        for i in 0..6 {
            sink.send(record(i)).await;
        }
        let drain = |rx: &mut Receiver<RawRecord>| {
            let mut got = Vec::new();
            while let Ok(r) = rx.try_recv() {
                got.push(r.index);
            }
            got
        };
        assert_eq!(drain(&mut receivers[0]), vec![0, 3]);
        assert_eq!(drain(&mut receivers[1]), vec![1, 4]);
        assert_eq!(drain(&mut receivers[2]), vec![2, 5]);
    }

    #[tokio::test]
    async fn a_full_queue_passes_its_turn_to_one_with_room() {
        let (sink, mut receivers) = RecordSink::new(2, 2);
        for i in 0..4 {
            sink.send(record(i)).await;
        }
        assert_eq!(sink.gauge().depth(), Some((4, 4)));
        while receivers[1].try_recv().is_ok() {}
        // Both of these fall to queue 1: the first because queue 0 is full.
        sink.send(record(10)).await;
        sink.send(record(11)).await;
        assert_eq!(receivers[1].try_recv().map(|r| r.index), Ok(10));
        assert_eq!(receivers[1].try_recv().map(|r| r.index), Ok(11));
        assert_eq!(receivers[0].try_recv().map(|r| r.index), Ok(0));
    }

    #[tokio::test]
    async fn the_gauge_does_not_keep_queues_open() {
        let (sink, mut receivers) = RecordSink::new(2, 8);
        let gauge = sink.gauge();
        sink.send(record(1)).await;
        assert_eq!(gauge.depth(), Some((1, 16)));
        drop(sink);
        assert!(gauge.depth().is_none());
        assert_eq!(receivers[0].recv().await.map(|r| r.index), Some(1));
        assert!(receivers[0].recv().await.is_none());
    }
}
