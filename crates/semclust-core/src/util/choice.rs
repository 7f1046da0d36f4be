//! Enums a user picks by name (on the command line, over HTTP, in a request's JSON): each lists
//! its names with a line of help, so that every front end offers and documents the same names
//! without the library depending on any front end's parser.

/// An enum picked by name.
pub trait Choice: Sized + Copy + PartialEq + 'static {
    /// Every value, with its name and what it does (one line).
    const CHOICES: &'static [(Self, &'static str, &'static str)];

    /// The value's name.
    fn name(self) -> &'static str {
        Self::CHOICES
            .iter()
            .find(|c| c.0 == self)
            .map_or("", |c| c.1)
    }

    /// The value named `s` (case and surrounding spaces ignored).
    fn from_name(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::CHOICES
            .iter()
            .find(|c| c.1.eq_ignore_ascii_case(s))
            .map(|c| c.0)
    }

    /// `a, b or c`: the names, for messages.
    fn names() -> String {
        let names: Vec<&str> = Self::CHOICES.iter().map(|c| c.1).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }
}

/// `Display` (the name) and `FromStr` (by [`Choice::from_name`], refusing other names with an
/// error naming `field` and the names it takes) for a [`Choice`].
macro_rules! impl_display_and_from_str {
    ($t:ty, $field:literal) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(<$t as $crate::util::choice::Choice>::name(*self))
            }
        }

        impl std::str::FromStr for $t {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
                <$t as $crate::util::choice::Choice>::from_name(s).ok_or_else(|| {
                    $crate::error::Error::invalid(
                        $field,
                        format!(
                            "'{s}': expected {}",
                            <$t as $crate::util::choice::Choice>::names()
                        ),
                    )
                })
            }
        }
    };
}
pub(crate) use impl_display_and_from_str;

#[cfg(test)]
mod tests {
    use super::Choice;
    use crate::cluster::{MapLayout, Period};
    use crate::search::Mode;
    use crate::store::SearchMethod;

    fn round_trip<T: Choice + std::fmt::Display + std::str::FromStr + std::fmt::Debug>() {
        for (v, name, help) in T::CHOICES {
            assert!(!help.is_empty());
            assert_eq!(v.to_string(), *name);
            assert_eq!(T::from_name(&name.to_uppercase()), Some(*v));
            assert!(name.parse::<T>().is_ok_and(|p| p == *v));
        }
        assert!("nonsense".parse::<T>().is_err());
    }

    #[test]
    fn every_choice_parses_back_from_its_name() {
        round_trip::<Mode>();
        round_trip::<SearchMethod>();
        round_trip::<Period>();
        round_trip::<MapLayout>();
        assert_eq!(SearchMethod::Approximate.to_string(), "ann");
        assert_eq!(Mode::names(), "dense, lexical or hybrid");
        let e = "weekly".parse::<Period>().unwrap_err().to_string();
        assert!(e.contains("auto, month, quarter or year"), "{e}");
    }
}
