//! Response buffers going round: the record processors hand a processed record's buffers back,
//! and the next request reads its response into them.
//!
//! Without this, every request allocated its payload and event buffers on a worker thread and
//! a processor thread freed them: two allocations per request, and memory given back to the
//! workers' allocator arenas from another thread, which fragments them. With buffers going
//! round, a run at a steady rate allocates response buffers only while it starts (peak RSS
//! at concurrency 64 about 1 MiB lower over a million requests, docs/performance.md).

use super::RawRecord;
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Buffer pairs kept for reuse at most.
const KEPT_PAIRS: usize = 512;

/// Bytes of buffers kept for reuse at most.
const KEPT_BYTES: usize = 1 << 20;

/// The largest pair kept: a long reply's buffers are freed rather than kept for the next
/// short one.
const LARGEST_KEPT_PAIR: usize = KEPT_BYTES / 16;

/// One record's response buffers, emptied.
type Pair = (Vec<u8>, Vec<(u64, u32)>);

/// Emptied response buffers waiting for the next request, at most [`KEPT_PAIRS`] pairs and
/// [`KEPT_BYTES`] bytes of capacity. Any thread may give and take, without a lock.
#[derive(Debug)]
pub struct ResponseBuffers {
    free: ArrayQueue<Pair>,
    /// Capacity bytes of the pairs in `free`.
    bytes: AtomicUsize,
}

impl Default for ResponseBuffers {
    fn default() -> Self {
        Self {
            free: ArrayQueue::new(KEPT_PAIRS),
            bytes: AtomicUsize::new(0),
        }
    }
}

/// The bytes a pair holds.
fn capacity(pair: &Pair) -> usize {
    pair.0.capacity() + pair.1.capacity() * std::mem::size_of::<(u64, u32)>()
}

impl ResponseBuffers {
    /// Gives `rec` a kept pair of empty buffers for its response, when there is one (it keeps
    /// its own otherwise). Buffers it already has are freed.
    pub fn lend(&self, rec: &mut RawRecord) {
        if let Some(pair) = self.free.pop() {
            self.bytes.fetch_sub(capacity(&pair), Ordering::Relaxed);
            (rec.payload, rec.events) = pair;
        }
    }

    /// Takes back a processed record's buffers, emptied, unless that would keep more than
    /// the limits allow (they are freed then).
    pub fn give_back(&self, rec: RawRecord) {
        let mut pair = (rec.payload, rec.events);
        let bytes = capacity(&pair);
        if bytes == 0 || bytes > LARGEST_KEPT_PAIR {
            return;
        }
        // Count first, so concurrent givers cannot together pass the limit.
        if self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes > KEPT_BYTES {
            self.bytes.fetch_sub(bytes, Ordering::Relaxed);
            return;
        }
        pair.0.clear();
        pair.1.clear();
        if self.free.push(pair).is_err() {
            self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        }
    }

    /// Capacity bytes kept now.
    pub fn kept_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::PhaseKind;

    fn record(payload: usize, events: usize) -> RawRecord {
        let mut rec = RawRecord::new(PhaseKind::Profiling, 0, Default::default(), 0);
        rec.payload = vec![7; payload];
        rec.events = vec![(1, 2); events];
        rec
    }

    #[test]
    fn a_given_back_pair_is_lent_again_empty_with_its_capacity() {
        let buffers = ResponseBuffers::default();
        let given = record(1000, 11);
        let (payload_ptr, capacity) = (given.payload.as_ptr(), given.payload.capacity());
        buffers.give_back(given);
        assert_eq!(buffers.kept_bytes(), capacity + 11 * 16);
        let mut next = RawRecord::new(PhaseKind::Profiling, 1, Default::default(), 0);
        buffers.lend(&mut next);
        assert!(next.payload.is_empty() && next.events.is_empty());
        assert_eq!(next.payload.as_ptr(), payload_ptr);
        assert_eq!(next.events.capacity(), 11);
        assert_eq!(buffers.kept_bytes(), 0);
        // Nothing kept: the record keeps what it has.
        let mut again = record(5, 0);
        buffers.lend(&mut again);
        assert_eq!(again.payload.len(), 5);
    }

    #[test]
    fn what_is_kept_stays_within_its_limits() {
        let buffers = ResponseBuffers::default();
        // A long reply's buffers are not kept.
        buffers.give_back(record(KEPT_BYTES, 0));
        assert_eq!(buffers.kept_bytes(), 0);
        // Nor more than the byte limit.
        for _ in 0..64 {
            buffers.give_back(record(KEPT_BYTES / 32, 0));
        }
        assert!(buffers.kept_bytes() <= KEPT_BYTES);
        assert_eq!(buffers.free.len(), 32);
        // Nor more than the pair limit.
        let buffers = ResponseBuffers::default();
        for _ in 0..KEPT_PAIRS + 10 {
            buffers.give_back(record(8, 1));
        }
        assert_eq!(buffers.free.len(), KEPT_PAIRS);
        assert_eq!(buffers.kept_bytes(), KEPT_PAIRS * (8 + 16));
    }
}
