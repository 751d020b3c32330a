//! One small helper: map a slice on a few scoped threads, keeping the order. Verifying
//! rewrites is CPU work and staging temp files waits on `fsync`, so both spread over
//! threads; neither needs a thread pool crate.

/// `f` applied to every item, on at most `threads` threads, results in the items' order.
pub fn map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let f = &f;
                scope.spawn(move || part.iter().map(f).collect::<Vec<R>>())
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a worker thread panicked"))
            .collect()
    })
}

/// The number of cores, for CPU-bound work.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[cfg(test)]
mod tests {
    #[test]
    fn order_is_kept_for_any_thread_count() {
        let items: Vec<usize> = (0..103).collect();
        for threads in [0, 1, 2, 7, 200] {
            let doubled = super::map(&items, threads, |i| i * 2);
            assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
        assert!(super::map(&[] as &[u8], 4, |b| *b).is_empty());
    }
}
