//! "Did you mean": the known name closest to an unknown one, by edit
//! distance (a transposition of two neighbours counts as one edit, as in
//! `tagret` for `target`).

/// The candidate closest to `name`, if it is close enough: at most one
/// edit for a name of up to 5 characters, a third of its length beyond;
/// none for names of one or two characters (any other short name is one
/// edit away, so a guess would be noise). Ties go to the first in sorted
/// order, so that the suggestion does not depend on the order (a hash
/// map's) the candidates come in. Empty names (the compiler's own
/// variables) are never suggested.
pub(crate) fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if name.chars().count() < 3 {
        return None;
    }
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name && !c.is_empty())
        .filter_map(|c| distance(name, c).filter(|&d| d <= limit).map(|d| (d, c)))
        .min()
        .map(|(_, c)| c)
}

/// `"; did you mean `NAME`?"` for the closest candidate, or nothing.
pub(crate) fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(name, candidates).map_or_else(String::new, |c| format!("; did you mean `{c}`?"))
}

/// Optimal string alignment distance between `a` and `b`, or `None` when
/// their lengths alone differ by more than a few (no suggestion then).
fn distance(a: &str, b: &str) -> Option<usize> {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 3 || a.len().max(b.len()) > 64 {
        return None;
    }
    // rows[i][j]: distance between a[..i] and b[..j].
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    rows[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    Some(rows[a.len()][b.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested_and_far_ones_not() {
        assert_eq!(closest("tagret", ["target", "actual"]), Some("target"));
        assert_eq!(closest("actul", ["target", "actual"]), Some("actual"));
        assert_eq!(closest("x", ["y", "xs"]), None);
        assert_eq!(closest("cnt", ["", "cnts"]), Some("cnts"));
        assert_eq!(closest("speed", ["target", "actual"]), None);
        assert_eq!(closest("a", ["a"]), None);
        // Ties: the first in sorted order, whatever the order given.
        assert_eq!(closest("abc", ["abd", "abb"]), Some("abb"));
        assert_eq!(closest("abc", ["abb", "abd"]), Some("abb"));
        assert_eq!(did_you_mean("cnt", ["count", "cnts"]), "; did you mean `cnts`?");
        assert_eq!(did_you_mean("zzz", ["count"]), "");
    }
}
