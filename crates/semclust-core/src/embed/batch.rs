//! Windows and batches. A window is what the model sees in one row: special tokens around at
//! most `max - specials` content tokens. Long texts get several overlapping windows (a quarter of
//! a window of overlap, so every token is seen with context on both sides somewhere). Batches
//! are formed over windows sorted by length, longest first, so padding stays small.

use super::LongTextPolicy;

pub(crate) struct Window {
    /// Index of the text this window belongs to.
    pub text: usize,
    pub ids: Vec<u32>,
}

pub(crate) fn windows(
    content: &[Vec<u32>],
    bos: &[u32],
    eos: &[u32],
    max: usize,
    policy: LongTextPolicy,
) -> Vec<Window> {
    let room = max.saturating_sub(bos.len() + eos.len()).max(1);
    let stride = (room - room / 4).max(1);
    let wrap = |text: usize, part: &[u32]| {
        let mut ids = Vec::with_capacity(part.len() + bos.len() + eos.len());
        ids.extend_from_slice(bos);
        ids.extend_from_slice(part);
        ids.extend_from_slice(eos);
        Window { text, ids }
    };
    let mut out = Vec::with_capacity(content.len());
    for (text, ids) in content.iter().enumerate() {
        if ids.len() <= room || policy == LongTextPolicy::Truncate {
            out.push(wrap(text, &ids[..ids.len().min(room)]));
            continue;
        }
        let mut start = 0;
        loop {
            let end = (start + room).min(ids.len());
            out.push(wrap(text, &ids[start..end]));
            if end == ids.len() {
                break;
            }
            start += stride;
        }
    }
    out
}

/// Window indices grouped into batches of at most `size`, longest windows first.
pub(crate) fn batches(windows: &[Window], size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(windows[i].ids.len()));
    order.chunks(size.max(1)).map(|c| c.to_vec()).collect()
}

/// Row-major ids and attention mask for one batch, padded to its longest window.
pub(crate) fn pad(windows: &[Window], batch: &[usize], pad_id: u32) -> (Vec<u32>, Vec<u32>) {
    let len = batch
        .iter()
        .map(|&i| windows[i].ids.len())
        .max()
        .unwrap_or(0);
    let mut ids = Vec::with_capacity(batch.len() * len);
    let mut mask = Vec::with_capacity(batch.len() * len);
    for &i in batch {
        let w = &windows[i].ids;
        ids.extend_from_slice(w);
        ids.extend(std::iter::repeat_n(pad_id, len - w.len()));
        mask.extend(std::iter::repeat_n(1u32, w.len()));
        mask.extend(std::iter::repeat_n(0u32, len - w.len()));
    }
    (ids, mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_window_with_specials() {
        let w = windows(&[vec![5, 6, 7]], &[0], &[2], 8, LongTextPolicy::Window);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].ids, vec![0, 5, 6, 7, 2]);
    }

    #[test]
    fn long_text_windows_overlap_and_cover_everything() {
        let ids: Vec<u32> = (10..30).collect(); // 20 content tokens, room 8, stride 6
        let w = windows(
            std::slice::from_ref(&ids),
            &[0],
            &[2],
            10,
            LongTextPolicy::Window,
        );
        assert!(w
            .iter()
            .all(|x| x.ids.len() <= 10 && x.ids[0] == 0 && *x.ids.last().unwrap() == 2));
        let starts: Vec<u32> = w.iter().map(|x| x.ids[1]).collect();
        assert_eq!(starts, vec![10, 16, 22]);
        let mut seen: Vec<u32> = w
            .iter()
            .flat_map(|x| x.ids[1..x.ids.len() - 1].to_vec())
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, ids);
    }

    #[test]
    fn truncate_keeps_the_head() {
        let ids: Vec<u32> = (10..30).collect();
        let w = windows(&[ids], &[0], &[2], 10, LongTextPolicy::Truncate);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].ids, vec![0, 10, 11, 12, 13, 14, 15, 16, 17, 2]);
    }

    #[test]
    fn batches_sort_by_length_and_pad() {
        let w = windows(
            &[vec![1], vec![1, 2, 3], vec![1, 2]],
            &[0],
            &[2],
            16,
            LongTextPolicy::Window,
        );
        let b = batches(&w, 2);
        assert_eq!(b, vec![vec![1, 2], vec![0]]);
        let (ids, mask) = pad(&w, &b[0], 9);
        assert_eq!(ids, vec![0, 1, 2, 3, 2, 0, 1, 2, 2, 9]);
        assert_eq!(mask, vec![1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    }
}
