//! "Did you mean ...?": the one place that picks a plausible correction
//! for a mistyped name (schemes, parameters, activations, presets,
//! settings, tensor names in a checkpoint).
//!
//! The distance is `strsim`'s optimal string alignment (Levenshtein plus
//! adjacent swaps, so `kaiming_nromal` is one edit away).

/// The candidate closest to `input`, if it is a plausible typo: within
/// about a third of the longer word in edits, or an unambiguous prefix of
/// at least three characters. Compared as typed and lower-cased, so that
/// `ReLU` finds `relu` while `Layers.0` still finds `Layers.0.weight`.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lower = input.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = strsim::osa_distance(input, c).min(strsim::osa_distance(&lower, c));
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let (d, c) = best?;
    let limit = (c.chars().count().max(input.chars().count()) / 3).max(1);
    let prefix = input.chars().count() >= 3 && (c.starts_with(input) || c.starts_with(&lower));
    (d <= limit || prefix).then(|| c.to_string())
}

/// `" (did you mean \"x\"?)"`, or nothing: the suffix every message uses.
pub fn did_you_mean(suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean {s:?}?)"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_prefixes_and_case() {
        let names = ["kaiming_normal", "kaiming_uniform", "xavier_normal", "orthogonal"];
        assert_eq!(closest("kaiming_nromal", names).as_deref(), Some("kaiming_normal"));
        assert_eq!(closest("orthogonl", names).as_deref(), Some("orthogonal"));
        assert_eq!(closest("Orthogonal", names).as_deref(), Some("orthogonal"));
        assert_eq!(closest("xavier", names).as_deref(), Some("xavier_normal"));
        assert_eq!(closest("zzzzzz", names), None);
        let tensors = ["layers.0.weight", "layers.0.bias", "head.weight"];
        assert_eq!(closest("layer.0.weight", tensors).as_deref(), Some("layers.0.weight"));
        assert_eq!(closest("head.wieght", tensors).as_deref(), Some("head.weight"));
        assert_eq!(closest("embeddings", tensors), None);
        assert_eq!(did_you_mean(Some("relu")), " (did you mean \"relu\"?)");
        assert_eq!(did_you_mean(None), "");
    }
}
