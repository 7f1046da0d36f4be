//! The language of a text (whatlang's trigram detector) and the stop words of a language (the
//! stopwords-iso lists of the `stop-words` crate, 58 languages). Key terms use them so that a
//! theme of German or Spanish passages is not labelled `der · und` or `los · que`.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

/// whatlang's languages (ISO 639-3) and their ISO 639-1 codes, which the stop-word lists, the
/// `lang` metadata of documents and HTML's `lang` attribute use.
const ISO_639_1: &[(&str, &str)] = &[
    ("afr", "af"),
    ("aka", "ak"),
    ("amh", "am"),
    ("ara", "ar"),
    ("aze", "az"),
    ("bel", "be"),
    ("ben", "bn"),
    ("bul", "bg"),
    ("cat", "ca"),
    ("ces", "cs"),
    ("cmn", "zh"),
    ("cym", "cy"),
    ("dan", "da"),
    ("deu", "de"),
    ("ell", "el"),
    ("eng", "en"),
    ("epo", "eo"),
    ("est", "et"),
    ("fin", "fi"),
    ("fra", "fr"),
    ("guj", "gu"),
    ("heb", "he"),
    ("hin", "hi"),
    ("hrv", "hr"),
    ("hun", "hu"),
    ("hye", "hy"),
    ("ind", "id"),
    ("ita", "it"),
    ("jav", "jv"),
    ("jpn", "ja"),
    ("kan", "kn"),
    ("kat", "ka"),
    ("khm", "km"),
    ("kor", "ko"),
    ("lat", "la"),
    ("lav", "lv"),
    ("lit", "lt"),
    ("mal", "ml"),
    ("mar", "mr"),
    ("mkd", "mk"),
    ("mya", "my"),
    ("nep", "ne"),
    ("nld", "nl"),
    ("nob", "no"),
    ("ori", "or"),
    ("pan", "pa"),
    ("pes", "fa"),
    ("pol", "pl"),
    ("por", "pt"),
    ("ron", "ro"),
    ("rus", "ru"),
    ("sin", "si"),
    ("slk", "sk"),
    ("slv", "sl"),
    ("sna", "sn"),
    ("spa", "es"),
    ("srp", "sr"),
    ("swe", "sv"),
    ("tam", "ta"),
    ("tel", "te"),
    ("tgl", "tl"),
    ("tha", "th"),
    ("tuk", "tk"),
    ("tur", "tr"),
    ("ukr", "uk"),
    ("urd", "ur"),
    ("uzb", "uz"),
    ("vie", "vi"),
    ("yid", "yi"),
    ("zul", "zu"),
];

/// Below this many letters a guess is mostly noise (a heading, a command line).
const MIN_LETTERS: usize = 20;

/// The ISO 639-1 code of the language `text` is written in, when the detector is confident
/// enough to say.
pub fn detect(text: &str) -> Option<&'static str> {
    if text.chars().filter(|c| c.is_alphabetic()).count() < MIN_LETTERS {
        return None;
    }
    let info = whatlang::detect(text)?;
    // whatlang's `is_reliable` wants a wide margin between the first two guesses, which
    // related languages (es/pt, da/no) rarely give on a paragraph; a plain confidence floor
    // keeps those paragraphs while dropping guesses on code and lists of names.
    if info.confidence() < 0.3 {
        return None;
    }
    let code = info.lang().code();
    ISO_639_1
        .iter()
        .find(|(three, _)| *three == code)
        .map(|(_, two)| *two)
}

/// whatlang's best guess at the language of a short text (a question), however unsure: a few
/// words rarely reach [`detect`]'s floor. ISO 639-1; `None` when there is no letter to go on
/// or the guess is a language without a code here.
pub fn guess(text: &str) -> Option<&'static str> {
    let info = whatlang::detect(text)?;
    let code = info.lang().code();
    ISO_639_1
        .iter()
        .find(|(three, _)| *three == code)
        .map(|(_, two)| *two)
}

/// The stop words of a language (lower case; each word with `'` also spelt with `’`); empty
/// for a language the lists do not cover.
pub fn stop_words(code: &str) -> &'static HashSet<String> {
    static CACHE: OnceLock<Mutex<HashMap<String, &'static HashSet<String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    map.entry(code.to_string()).or_insert_with(|| {
        let mut set = HashSet::new();
        for w in stop_words::lookup(code).unwrap_or(&[]) {
            let w = w.to_lowercase();
            set.insert(w.replace('\'', "’"));
            set.insert(w);
        }
        // Leaked once per language (at most 58 sets, for the life of the process): callers
        // keep a plain reference instead of locking on every word.
        Box::leak(Box::new(set))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Paragraphs of Debian Reference's preface, as upstream's translators wrote them.
    #[test]
    fn real_paragraphs_are_recognised_in_their_language() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/real/debian-reference"
        );
        for (lang, file) in [("de", "pr01.de.txt"), ("es", "pr01.es.txt")] {
            let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
            let paragraphs: Vec<&str> = text
                .split("\n\n")
                .filter(|p| p.split_whitespace().count() >= 12)
                .collect();
            assert!(paragraphs.len() >= 10, "{file}: {}", paragraphs.len());
            let right = paragraphs
                .iter()
                .filter(|p| detect(p) == Some(lang))
                .count();
            assert!(
                right * 10 >= paragraphs.len() * 9,
                "{file}: {right}/{}",
                paragraphs.len()
            );
        }
        assert_eq!(detect("ls -la"), None);
    }

    #[test]
    fn stop_words_cover_the_languages_of_the_lists() {
        assert!(stop_words("de").contains("und"));
        assert!(stop_words("es").contains("los"));
        assert!(stop_words("fr").contains("aujourd’hui"));
        assert!(stop_words("xx").is_empty());
    }
}
