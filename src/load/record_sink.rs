//! Where finished records go: one bounded queue per record processor.
//!
//! Records are dealt round-robin, so each processor sees about the same share; when the chosen
//! queue is full the next one with room takes the record, and only when every queue is full
//! does the request task wait. A queue is bounded by the bytes its records hold, not by their
//! number, so memory stays flat whatever the responses' length: a slow processor slows the
//! client (the run's headroom counts the records that waited for room), it never loses a record.
//!
//! The way back goes through the sink too: processors give a processed record's buffers back
//! ([`ResponseBuffers`]) and the next request is lent them.

use super::RawRecord;
use super::buffers::ResponseBuffers;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender, WeakUnboundedSender};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// A record waiting for its processor. It holds its share of the queue's room (its
/// [`RawRecord::footprint`]) until the processor takes it out with [`Queued::into_record`].
#[derive(Debug)]
pub struct Queued {
    record: RawRecord,
    _room: OwnedSemaphorePermit,
}

impl Queued {
    /// The record; its room in the queue is given back.
    pub fn into_record(self) -> RawRecord {
        self.record
    }
}

/// The receiving side of one processor's queue.
pub type RecordQueue = UnboundedReceiver<Queued>;

/// One processor's queue: the channel, and its room in bytes.
#[derive(Debug)]
struct Lane {
    tx: UnboundedSender<Queued>,
    room: Arc<Semaphore>,
}

/// The sending side, shared by every request of a run.
#[derive(Debug)]
pub struct RecordSink {
    lanes: Vec<Lane>,
    /// Bytes each queue may hold.
    bytes_per_queue: usize,
    next: AtomicUsize,
    buffers: Arc<ResponseBuffers>,
    waits: Arc<WaitCounters>,
}

/// Records that found no queue with room, and how long they waited for it, in all.
#[derive(Debug, Default)]
struct WaitCounters {
    records: AtomicU64,
    nanos: AtomicU64,
}

/// How often a request waited for room in the record queues (since the sink was made): the
/// load engine was held back by the processors. Counts only grow, so two readings subtract.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueWaits {
    /// Records whose request waited.
    pub records: u64,
    /// Their waits added up.
    pub waited: Duration,
}

impl std::ops::Sub for QueueWaits {
    type Output = QueueWaits;

    fn sub(self, earlier: QueueWaits) -> QueueWaits {
        QueueWaits {
            records: self.records.saturating_sub(earlier.records),
            waited: self.waited.saturating_sub(earlier.waited),
        }
    }
}

/// Reads how full the queues are without keeping them open.
#[derive(Debug, Clone)]
pub struct QueueGauge {
    lanes: Vec<(WeakUnboundedSender<Queued>, Arc<Semaphore>)>,
    bytes_per_queue: usize,
    waits: Arc<WaitCounters>,
}

impl RecordSink {
    /// `shards` queues (at least one) that hold up to `bytes_per_queue` bytes of records each
    /// (at least 1 byte, at most `u32::MAX` and what a semaphore can count; a record larger
    /// than that waits for an empty queue and then takes it whole), and their receivers.
    pub fn new(shards: usize, bytes_per_queue: usize) -> (Self, Vec<RecordQueue>) {
        let most = (u32::MAX as usize).min(Semaphore::MAX_PERMITS);
        let bytes_per_queue = bytes_per_queue.clamp(1, most);
        let (lanes, receivers) = (0..shards.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                let room = Arc::new(Semaphore::new(bytes_per_queue));
                (Lane { tx, room }, rx)
            })
            .unzip();
        let sink = Self {
            lanes,
            bytes_per_queue,
            next: AtomicUsize::new(0),
            buffers: Arc::default(),
            waits: Arc::default(),
        };
        (sink, receivers)
    }

    /// Hands a record to a processor, waiting only when no queue has room for it (a wait is
    /// counted, see [`QueueGauge::waits`]). Returns without effect once the processors are gone
    /// (the run is being torn down).
    pub async fn send(&self, rec: RawRecord) {
        let n = self.lanes.len();
        let first = if n == 1 {
            0
        } else {
            self.next.fetch_add(1, Ordering::Relaxed) % n
        };
        // Within u32 by construction of `bytes_per_queue`.
        let need = rec.footprint().clamp(1, self.bytes_per_queue) as u32;
        for k in 0..n {
            let lane = &self.lanes[(first + k) % n];
            match lane.room.clone().try_acquire_many_owned(need) {
                Ok(room) => return lane.put(rec, room),
                Err(TryAcquireError::NoPermits) => {}
                Err(TryAcquireError::Closed) => return,
            }
        }
        let lane = &self.lanes[first];
        let since = Instant::now();
        let room = lane.room.clone().acquire_many_owned(need).await;
        let waited = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.waits.records.fetch_add(1, Ordering::Relaxed);
        self.waits.nanos.fetch_add(waited, Ordering::Relaxed);
        if let Ok(room) = room {
            lane.put(rec, room);
        }
    }

    /// Gives `rec` response buffers a processor gave back, when there are some.
    pub fn lend_buffers(&self, rec: &mut RawRecord) {
        self.buffers.lend(rec);
    }

    /// Where the processors give processed records' buffers back.
    pub fn buffers(&self) -> Arc<ResponseBuffers> {
        self.buffers.clone()
    }

    /// A gauge of the queues' depth that does not keep them open.
    pub fn gauge(&self) -> QueueGauge {
        QueueGauge {
            lanes: self
                .lanes
                .iter()
                .map(|lane| (lane.tx.downgrade(), lane.room.clone()))
                .collect(),
            bytes_per_queue: self.bytes_per_queue,
            waits: self.waits.clone(),
        }
    }
}

impl Lane {
    fn put(&self, record: RawRecord, room: OwnedSemaphorePermit) {
        // A closed queue means its processor is gone; the record (and its room) is dropped.
        let _ = self.tx.send(Queued {
            record,
            _room: room,
        });
    }
}

impl QueueGauge {
    /// Bytes of records waiting in all queues, and the room they have in total; `None` once
    /// the sink is gone.
    pub fn depth(&self) -> Option<(usize, usize)> {
        let mut waiting = 0;
        for (tx, room) in &self.lanes {
            tx.upgrade()?;
            waiting += self
                .bytes_per_queue
                .saturating_sub(room.available_permits());
        }
        Some((waiting, self.bytes_per_queue * self.lanes.len()))
    }

    /// The waits for room so far (they stay readable after the sink is gone).
    pub fn waits(&self) -> QueueWaits {
        QueueWaits {
            records: self.waits.records.load(Ordering::Relaxed),
            waited: Duration::from_nanos(self.waits.nanos.load(Ordering::Relaxed)),
        }
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

    /// The footprint of a record from [`record`].
    fn size() -> usize {
        record(0).footprint()
    }

    fn drain(rx: &mut RecordQueue) -> Vec<u64> {
        let mut got = Vec::new();
        while let Ok(r) = rx.try_recv() {
            got.push(r.into_record().index);
        }
        got
    }

    #[tokio::test]
    async fn records_are_dealt_round_robin_and_overflow_to_a_free_queue() {
        let (sink, mut receivers) = RecordSink::new(3, 4 * size());
        for i in 0..6 {
            sink.send(record(i)).await;
        }
        assert_eq!(drain(&mut receivers[0]), vec![0, 3]);
        assert_eq!(drain(&mut receivers[1]), vec![1, 4]);
        assert_eq!(drain(&mut receivers[2]), vec![2, 5]);
    }

    #[tokio::test]
    async fn a_full_queue_passes_its_turn_to_one_with_room() {
        let (sink, mut receivers) = RecordSink::new(2, 2 * size());
        for i in 0..4 {
            sink.send(record(i)).await;
        }
        assert_eq!(sink.gauge().depth(), Some((4 * size(), 4 * size())));
        drain(&mut receivers[1]);
        // Both of these fall to queue 1: the first because queue 0 is full.
        sink.send(record(10)).await;
        sink.send(record(11)).await;
        assert_eq!(drain(&mut receivers[1]), vec![10, 11]);
        assert_eq!(drain(&mut receivers[0]), vec![0, 2]);
        assert_eq!(
            sink.gauge().waits(),
            QueueWaits::default(),
            "a queue had room"
        );
    }

    #[tokio::test]
    async fn room_is_counted_in_bytes_and_given_back_when_a_record_is_taken() {
        let (sink, mut receivers) = RecordSink::new(1, 3 * size());
        let mut big = record(1);
        big.payload = vec![0; size()];
        let big_size = big.footprint();
        sink.send(big).await;
        sink.send(record(2)).await;
        assert_eq!(sink.gauge().depth(), Some((big_size + size(), 3 * size())));
        // No room for a third: the sender waits until the processor takes one out.
        let sink = Arc::new(sink);
        let waiting = tokio::spawn({
            let sink = sink.clone();
            async move { sink.send(record(3)).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        assert_eq!(
            sink.gauge().waits().records,
            0,
            "not counted before it has room"
        );
        let first = receivers[0].recv().await.map(Queued::into_record);
        assert_eq!(first.map(|r| r.index), Some(1));
        waiting.await.unwrap();
        assert_eq!(sink.gauge().waits().records, 1);
        assert_eq!(drain(&mut receivers[0]), vec![2, 3]);
        assert_eq!(sink.gauge().depth(), Some((0, 3 * size())));
    }

    #[tokio::test]
    async fn a_record_larger_than_a_queue_waits_for_it_to_empty_and_still_arrives() {
        let (sink, mut receivers) = RecordSink::new(1, 2 * size());
        sink.send(record(1)).await;
        let mut huge = record(2);
        huge.payload = vec![0; 10 * size()];
        let sink = Arc::new(sink);
        let waiting = tokio::spawn({
            let sink = sink.clone();
            async move { sink.send(huge).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        assert_eq!(drain(&mut receivers[0]), vec![1]);
        waiting.await.unwrap();
        assert_eq!(sink.gauge().depth(), Some((2 * size(), 2 * size())));
        assert_eq!(drain(&mut receivers[0]), vec![2]);
    }

    #[tokio::test]
    async fn the_gauge_does_not_keep_queues_open() {
        let (sink, mut receivers) = RecordSink::new(2, 8 * size());
        let gauge = sink.gauge();
        sink.send(record(1)).await;
        assert_eq!(gauge.depth(), Some((size(), 16 * size())));
        drop(sink);
        assert!(gauge.depth().is_none());
        let got = receivers[0].recv().await.map(Queued::into_record);
        assert_eq!(got.map(|r| r.index), Some(1));
        assert!(receivers[0].recv().await.is_none());
    }
}
