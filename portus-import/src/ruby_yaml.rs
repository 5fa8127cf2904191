//! The activity parameters Portus (PublicActivity) stores: a Ruby hash with symbol keys
//! serialized as YAML, one `:key: value` line per entry, e.g.
//! `---\n:namespace_name: devs\n:repo_name: app\n:tag_name: '1.0'\n`.
//!
//! Only flat hashes of scalars occur there; nested values and Ruby object tags are skipped
//! rather than guessed at.

use std::collections::BTreeMap;

/// The scalar entries of a serialized Ruby hash, keys without their leading colon. Anything
/// that is not such a hash gives an empty map.
pub fn parse_parameters(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with(' ') || line.starts_with('-') {
            // A nested value or the document marker: not a top-level scalar entry.
            continue;
        }
        let line = line.strip_prefix(':').unwrap_or(line);
        let Some((key, value)) = line
            .split_once(": ")
            .or_else(|| line.strip_suffix(':').map(|k| (k, "")))
        else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(value) = scalar(value.trim()) {
            out.insert(key.to_owned(), value);
        }
    }
    out
}

/// A YAML scalar: plain, single-quoted (`''` escapes a quote) or double-quoted (common
/// backslash escapes). `None` for values this reader does not take (tags, flows, empty).
fn scalar(value: &str) -> Option<String> {
    if value.is_empty() || value == "~" || value == "null" {
        return None;
    }
    if value.starts_with('!') || value.starts_with('{') || value.starts_with('[') || value.starts_with('&') {
        return None;
    }
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return Some(inner.replace("''", "'"));
    }
    if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        }
        return Some(out);
    }
    // A plain scalar; a ` #` starts a comment.
    let plain = value.split(" #").next().unwrap_or(value).trim_end();
    Some(plain.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portus_parameters() {
        let p = parse_parameters("---\n:namespace_name: devs\n:repo_name: app\n:tag_name: '1.0'\n");
        assert_eq!(p["namespace_name"], "devs");
        assert_eq!(p["repo_name"], "app");
        assert_eq!(p["tag_name"], "1.0");
    }

    #[test]
    fn quoting_nesting_and_garbage() {
        let p = parse_parameters(
            "---\n:old: 1\n:new: \"it's \\\"x\\\"\"\n:q: 'a''b'\n:team: !ruby/object:Team\n  id: 3\n:empty:\n:c: x # note\n",
        );
        assert_eq!(p["old"], "1");
        assert_eq!(p["new"], "it's \"x\"");
        assert_eq!(p["q"], "a'b");
        assert_eq!(p["c"], "x");
        assert!(!p.contains_key("team") && !p.contains_key("id") && !p.contains_key("empty"));
        assert!(parse_parameters("not yaml at all").is_empty());
        assert!(parse_parameters("").is_empty());
    }
}
