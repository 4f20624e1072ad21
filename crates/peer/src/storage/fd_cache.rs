//! The bounded cache of open data files behind [`FileStorage`](super::FileStorage), which one
//! storage owns alone or many share ([`FileCache`]): `bt launch-many` keeps its open files
//! under one cap over all torrents.
//!
//! The cap counts descriptors, not cache entries: a descriptor evicted while another thread
//! still reads through it stays counted until that read ends, and an open waits for it. So the
//! process never holds more data files open than the cap.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// A file of one storage: (storage id, file index).
pub(super) type Key = (u64, usize);

/// Open data files shared by any number of [`FileStorage`](super::FileStorage)s, at most
/// `capacity` at once, least recently used closed first. Clones share the cache.
///
/// ```
/// use torrentkit_peer::storage::FileCache;
/// let cache = FileCache::new(16);
/// assert_eq!((cache.capacity(), cache.open_files()), (16, 0));
/// ```
#[derive(Debug, Clone)]
pub struct FileCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    capacity: usize,
    entries: Mutex<Entries>,
    counter: Arc<Counter>,
    next_owner: AtomicU64,
}

/// Descriptors alive, cached or in use; decremented when the last handle drops.
#[derive(Debug, Default)]
struct Counter {
    open: AtomicUsize,
    gate: Mutex<()>,
    freed: Condvar,
}

#[derive(Debug, Default)]
pub(super) struct Entries {
    clock: u64,
    slots: HashMap<Key, Slot>,
    /// Files written through a descriptor that has since been closed, not yet synced.
    pub(super) unsynced: HashSet<Key>,
    opens: u64,
}

#[derive(Debug)]
struct Slot {
    file: Arc<OpenFile>,
    writable: bool,
    dirty: bool,
    used: u64,
}

/// An open data file; its descriptor counts against the cap until the last handle drops.
#[derive(Debug)]
pub(super) struct OpenFile {
    // Fields drop in order: the descriptor is closed before its reservation is given back,
    // so a waiting open never overlaps it.
    file: File,
    _reservation: Reservation,
}

impl Deref for OpenFile {
    type Target = File;
    fn deref(&self) -> &File {
        &self.file
    }
}

/// The right to one descriptor, taken before `open(2)`; given back when dropped (after the
/// descriptor it was filled with is closed, or at once if the open failed).
#[derive(Debug)]
pub(super) struct Reservation {
    counter: Arc<Counter>,
}

impl Reservation {
    /// Wraps the descriptor opened under this reservation.
    pub(super) fn fill(self, file: File) -> Arc<OpenFile> {
        Arc::new(OpenFile {
            file,
            _reservation: self,
        })
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.counter.open.fetch_sub(1, Ordering::AcqRel);
        let _gate = self
            .counter
            .gate
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.counter.freed.notify_all();
    }
}

impl FileCache {
    /// A cache of at most `capacity` open files (at least 1).
    pub fn new(capacity: usize) -> Self {
        FileCache {
            inner: Arc::new(Inner {
                capacity: capacity.max(1),
                entries: Mutex::new(Entries::default()),
                counter: Arc::new(Counter::default()),
                next_owner: AtomicU64::new(0),
            }),
        }
    }

    /// The most files open at once.
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// Data files open now, cached or in use, over every storage of this cache.
    pub fn open_files(&self) -> usize {
        self.inner.counter.open.load(Ordering::Acquire)
    }

    /// A new storage's id within this cache.
    pub(super) fn new_owner(&self) -> u64 {
        self.inner.next_owner.fetch_add(1, Ordering::Relaxed)
    }

    pub(super) fn entries(&self) -> MutexGuard<'_, Entries> {
        self.inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached descriptor of `key`, if it is cached (and writable when `write`).
    pub(super) fn get(&self, key: Key, write: bool) -> Option<Arc<OpenFile>> {
        let mut e = self.entries();
        e.clock += 1;
        let clock = e.clock;
        let slot = e.slots.get_mut(&key)?;
        if write && !slot.writable {
            return None;
        }
        slot.used = clock;
        slot.dirty |= write;
        Some(slot.file.clone())
    }

    /// Waits until a descriptor may be opened, closing the least recently used cached ones.
    pub(super) fn reserve(&self) -> Reservation {
        let counter = &self.inner.counter;
        loop {
            let evicted = {
                let mut e = self.entries();
                let open = counter.open.load(Ordering::Acquire);
                if open < self.inner.capacity {
                    counter.open.fetch_add(1, Ordering::AcqRel);
                    return Reservation {
                        counter: counter.clone(),
                    };
                }
                e.evict_oldest()
            };
            // Dropped outside the lock: the descriptor closes here unless a reader holds it.
            let evicted_any = evicted.is_some();
            drop(evicted);
            if !evicted_any || counter.open.load(Ordering::Acquire) >= self.inner.capacity {
                // Every descriptor is in use by another thread: wait for one to be dropped.
                let gate = counter.gate.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = counter
                    .freed
                    .wait_timeout(gate, Duration::from_millis(20))
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
    }

    /// Caches a freshly opened descriptor.
    pub(super) fn insert(&self, key: Key, file: Arc<OpenFile>, writable: bool) {
        let replaced = {
            let mut e = self.entries();
            e.clock += 1;
            e.opens += 1;
            let used = e.clock;
            let previous = e.slots.insert(
                key,
                Slot {
                    file,
                    writable,
                    dirty: writable,
                    used,
                },
            );
            if previous.as_ref().is_some_and(|s| s.dirty) {
                e.unsynced.insert(key);
            }
            previous
        };
        drop(replaced);
    }

    /// Takes the dirty descriptors of `owner` (marking them clean) and the keys of its files
    /// written through since-closed descriptors.
    pub(super) fn take_dirty(&self, owner: u64) -> (Vec<(usize, Arc<OpenFile>)>, Vec<usize>) {
        let mut e = self.entries();
        let unsynced: Vec<usize> = e
            .unsynced
            .iter()
            .filter(|k| k.0 == owner)
            .map(|k| k.1)
            .collect();
        e.unsynced.retain(|k| k.0 != owner);
        let dirty = e
            .slots
            .iter_mut()
            .filter(|(k, s)| k.0 == owner && s.dirty)
            .map(|(k, s)| {
                s.dirty = false;
                (k.1, s.file.clone())
            })
            .collect();
        (dirty, unsynced)
    }

    /// Cached descriptors of `owner`.
    pub(super) fn cached(&self, owner: u64) -> usize {
        self.entries().slots.keys().filter(|k| k.0 == owner).count()
    }

    /// Opens so far over the whole cache (cache misses).
    pub(super) fn total_opens(&self) -> u64 {
        self.entries().opens
    }

    /// Forgets every descriptor of `owner` (a storage being dropped).
    pub(super) fn remove_owner(&self, owner: u64) {
        let removed: Vec<Slot> = {
            let mut e = self.entries();
            e.unsynced.retain(|k| k.0 != owner);
            let keys: Vec<Key> = e.slots.keys().filter(|k| k.0 == owner).copied().collect();
            keys.iter().filter_map(|k| e.slots.remove(k)).collect()
        };
        drop(removed);
    }
}

impl Entries {
    /// Removes the least recently used slot; a dirty one is remembered for the next flush.
    fn evict_oldest(&mut self) -> Option<Slot> {
        let key = *self.slots.iter().min_by_key(|(_, s)| s.used)?.0;
        let slot = self.slots.remove(&key)?;
        if slot.dirty {
            // Its data sits in the page cache; the owner's flush reopens the file to sync it
            // rather than paying an fsync per eviction here.
            self.unsynced.insert(key);
        }
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_counts_descriptors_still_in_use_after_eviction() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(2);
        let open = |name: &str| {
            let r = cache.reserve();
            r.fill(File::create(dir.path().join(name)).unwrap())
        };
        let a = open("a");
        cache.insert((0, 0), a.clone(), true);
        let b = open("b");
        cache.insert((0, 1), b.clone(), true);
        assert_eq!(cache.open_files(), 2);
        // Both are held by "readers": evicting them from the cache does not free their
        // descriptors, so the next open must wait until a reader lets go.
        let waiter = {
            let cache = cache.clone();
            let path = dir.path().join("c");
            std::thread::spawn(move || {
                let r = cache.reserve();
                let c = r.fill(File::create(path).unwrap());
                cache.insert((1, 0), c, false);
                cache.open_files()
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !waiter.is_finished(),
            "opened a third file while two were in use"
        );
        assert!(cache.open_files() <= 2);
        drop(a);
        assert_eq!(waiter.join().unwrap(), 2);
        drop(b);
        let (dirty, unsynced) = cache.take_dirty(0);
        assert_eq!(
            dirty.len() + unsynced.len(),
            2,
            "both written files await a sync"
        );
        drop(dirty);
        cache.remove_owner(0);
        cache.remove_owner(1);
        assert_eq!(cache.open_files(), 0);
    }
}
