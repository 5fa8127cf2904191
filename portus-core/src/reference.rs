//! The distribution reference grammar for what a registry sends: repository names, tags and
//! digests (github.com/distribution/reference, github.com/opencontainers/go-digest).
//!
//! ```text
//! name      := path-component [ '/' path-component ]*      ; at most 255 characters
//! component := [a-z0-9]+ ( ( '.' | '_' | '__' | '-'+ ) [a-z0-9]+ )*
//! tag       := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest    := algorithm ':' encoded
//! algorithm := [a-z0-9]+ ( [.+_-] [a-z0-9]+ )*
//! encoded   := [a-zA-Z0-9=_-]+
//! ```
//!
//! A registry never sends anything else: these checks keep what an attacker holding the
//! notification secret (or a broken registry) sends out of the catalog. Repository names are
//! the path of a reference, without a registry host: that is what the registry routes, lists
//! and notifies, and what portus maps to namespaces. Digests are held to the registered
//! algorithms' exact encodings (`sha256`: 64, `sha384`: 96, `sha512`: 128 lower-case hex
//! digits, as go-digest's `Validate`); other algorithms are refused, since no registry
//! produces them.

use crate::scope::validate_path_component;

/// Longest repository name the registry accepts (distribution's `NameTotalLengthMax`).
pub const MAX_REPOSITORY_NAME_LEN: usize = 255;

/// Longest tag the registry accepts.
pub const MAX_TAG_LEN: usize = 128;

/// The digest algorithms a registry produces, with the length of their hex encoding.
pub const DIGEST_ALGORITHMS: [(&str, usize); 3] = [("sha256", 64), ("sha384", 96), ("sha512", 128)];

/// Why a repository name, tag or digest was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The repository name does not follow the name grammar.
    #[error("invalid repository name {name}: {reason}")]
    Repository {
        /// The refused name, quoted and shortened for messages.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The tag does not follow the tag grammar.
    #[error("invalid tag {tag}: {reason}")]
    Tag {
        /// The refused tag, quoted and shortened for messages.
        tag: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The digest does not follow the digest grammar or uses an unknown algorithm.
    #[error("invalid digest {digest}: {reason}")]
    Digest {
        /// The refused digest, quoted and shortened for messages.
        digest: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Quotes untrusted input for an error message: escaped, and cut after 80 characters (a
/// refused value may be megabytes of anything).
fn shown(input: &str) -> String {
    const SHOWN: usize = 80;
    let mut quoted: String = input.chars().take(SHOWN).collect::<String>().escape_debug().collect();
    if input.chars().nth(SHOWN).is_some() {
        quoted.push_str("...");
    }
    format!("'{quoted}'")
}

/// Checks a repository name: `/`-separated path components, at most 255 characters.
pub fn validate_repository_name(name: &str) -> Result<(), ReferenceError> {
    let refuse = |reason: String| ReferenceError::Repository {
        name: shown(name),
        reason,
    };
    if name.is_empty() {
        return Err(refuse("name is empty".into()));
    }
    if name.len() > MAX_REPOSITORY_NAME_LEN {
        return Err(refuse(format!("longer than {MAX_REPOSITORY_NAME_LEN} characters")));
    }
    name.split('/').try_for_each(validate_path_component).map_err(refuse)
}

/// Checks a tag: a word character, then up to 127 word characters, `.` or `-`.
pub fn validate_tag(tag: &str) -> Result<(), ReferenceError> {
    let refuse = |reason: String| ReferenceError::Tag {
        tag: shown(tag),
        reason,
    };
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let Some(&first) = tag.as_bytes().first() else {
        return Err(refuse("tag is empty".into()));
    };
    if tag.len() > MAX_TAG_LEN {
        return Err(refuse(format!("longer than {MAX_TAG_LEN} characters")));
    }
    if !word(first) {
        return Err(refuse("must start with a letter, digit or '_'".into()));
    }
    if !tag.bytes().all(|b| word(b) || b == b'.' || b == b'-') {
        return Err(refuse("may only contain letters, digits, '_', '.' and '-'".into()));
    }
    Ok(())
}

/// Checks a digest: `algorithm:encoded` with a registered algorithm and its exact encoding.
pub fn validate_digest(digest: &str) -> Result<(), ReferenceError> {
    let refuse = |reason: String| ReferenceError::Digest {
        digest: shown(digest),
        reason,
    };
    let Some((algorithm, encoded)) = digest.split_once(':') else {
        return Err(refuse("must have the form algorithm:encoded".into()));
    };
    if !is_algorithm(algorithm) {
        return Err(refuse(
            "the algorithm must be lower-case letters and digits with single '.', '+', '_' or '-' separators".into(),
        ));
    }
    if encoded.is_empty()
        || !encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
    {
        return Err(refuse(
            "the encoded part must be letters, digits, '=', '_' or '-'".into(),
        ));
    }
    let Some(&(_, hex_len)) = DIGEST_ALGORITHMS.iter().find(|(name, _)| *name == algorithm) else {
        return Err(refuse(format!(
            "unsupported algorithm (a registry uses {})",
            DIGEST_ALGORITHMS.map(|(name, _)| name).join(", ")
        )));
    };
    if encoded.len() != hex_len
        || !encoded
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(refuse(format!(
            "a {algorithm} digest is {hex_len} lower-case hex digits"
        )));
    }
    Ok(())
}

/// `[a-z0-9]+([.+_-][a-z0-9]+)*`
fn is_algorithm(algorithm: &str) -> bool {
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    algorithm
        .split(['.', '+', '_', '-'])
        .all(|part| !part.is_empty() && part.as_bytes().iter().all(alnum))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256: &str = "sha256:fc6a51919cfeb2e6763f62b6d9e8815acbf7cd2e476ea353743570610737b752";

    #[test]
    fn accepts_what_a_registry_sends() {
        for name in [
            "app",
            "alice/app",
            "my.team/app",
            "a/b/c/d",
            "a_b/c__d/e---f/g.h",
            "0/9",
            &format!("{}/{}", "a".repeat(127), "b".repeat(127)),
        ] {
            assert_eq!(validate_repository_name(name), Ok(()), "{name}");
        }
        for tag in [
            "latest",
            "1.0",
            "v1.2.3-rc.1",
            "_x",
            "A",
            "sha256-abc.sig",
            &"t".repeat(128),
        ] {
            assert_eq!(validate_tag(tag), Ok(()), "{tag}");
        }
        let sha384 = format!("sha384:{}", "0".repeat(96));
        let sha512 = format!("sha512:{}", "ab".repeat(64));
        for digest in [SHA256, &sha384, &sha512] {
            assert_eq!(validate_digest(digest), Ok(()), "{digest}");
        }
    }

    #[test]
    fn refuses_the_examples_of_issue_19_with_a_reason() {
        let names = [
            ("devs//app", "empty path component"),
            ("ghost2/../devs/app", "must start and end"),
            ("UPPER", "must start and end"),
            ("devs/App", "must start and end"),
            ("/app", "empty path component"),
            ("app/", "empty path component"),
            ("", "name is empty"),
            ("a___b", "invalid characters"),
            ("a b", "invalid characters"),
            ("localhost:5000/app", "invalid characters"),
            ("devs/app\n", "must start and end"),
        ];
        for (name, reason) in names {
            let err = validate_repository_name(name).unwrap_err().to_string();
            assert!(err.contains(reason), "{name:?}: {err}");
        }
        let long = format!("{}/{}", "a".repeat(128), "b".repeat(127));
        assert!(
            validate_repository_name(&long)
                .unwrap_err()
                .to_string()
                .contains("longer than 255")
        );

        let tags = [
            ("with space", "may only contain"),
            (".hidden", "must start with"),
            ("-x", "must start with"),
            ("", "tag is empty"),
            ("a/b", "may only contain"),
            ("a:b", "may only contain"),
            ("é", "must start with"),
        ];
        for (tag, reason) in tags {
            let err = validate_tag(tag).unwrap_err().to_string();
            assert!(err.contains(reason), "{tag:?}: {err}");
        }
        let err = validate_tag(&"t".repeat(300)).unwrap_err().to_string();
        assert!(err.contains("longer than 128") && err.contains("..."), "{err}");
        assert!(validate_tag(&"t".repeat(129)).is_err());

        let digests = [
            ("sha256:nothex", "64 lower-case hex"),
            ("md5:abc", "unsupported algorithm"),
            ("sha256", "algorithm:encoded"),
            ("", "algorithm:encoded"),
            ("sha256:", "encoded part"),
            (":abc", "algorithm must"),
            ("SHA256:abc", "algorithm must"),
            ("sha256:a1", "64 lower-case hex"),
            (&SHA256.to_uppercase().replace("SHA256", "sha256"), "64 lower-case hex"),
            (&format!("{SHA256}0"), "64 lower-case hex"),
            ("sha256:ab cd", "encoded part"),
            ("sha512:abc", "128 lower-case hex"),
        ];
        for (digest, reason) in digests {
            let err = validate_digest(digest).unwrap_err().to_string();
            assert!(err.contains(reason), "{digest:?}: {err}");
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        /// The grammar written as regular expressions, independently of the code above.
        fn oracle() -> [regex::Regex; 3] {
            let component = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
            [
                regex::Regex::new(&format!("^{component}(?:/{component})*$")).unwrap(),
                regex::Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").unwrap(),
                regex::Regex::new("^(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$").unwrap(),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2048))]

            #[test]
            fn arbitrary_strings_never_panic(input in any::<String>()) {
                let _ = validate_repository_name(&input);
                let _ = validate_tag(&input);
                let _ = validate_digest(&input);
            }

            /// Over an alphabet where every rule matters, the checks agree with the grammar.
            #[test]
            fn the_checks_agree_with_the_grammar(input in "[a-fA-Z0-9/._:=+ -]{0,140}|(sha256|sha512|md5):[a-f0-9A]{0,130}") {
                let [name, tag, digest] = oracle();
                prop_assert_eq!(
                    validate_repository_name(&input).is_ok(),
                    name.is_match(&input) && input.len() <= MAX_REPOSITORY_NAME_LEN,
                    "name {:?}", input
                );
                prop_assert_eq!(validate_tag(&input).is_ok(), tag.is_match(&input), "tag {:?}", input);
                prop_assert_eq!(validate_digest(&input).is_ok(), digest.is_match(&input), "digest {:?}", input);
            }

            /// Whatever the grammar generates is accepted, and a `name:tag@digest` reference
            /// built from accepted parts splits back into the same parts.
            #[test]
            fn accepted_references_round_trip(
                name in "[a-z0-9]{1,10}((\\.|_|__|-{1,3})[a-z0-9]{1,10}){0,2}(/[a-z0-9]{1,10}([._-][a-z0-9]{1,10}){0,2}){0,4}",
                tag in "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
                hex in "[a-f0-9]{64}",
            ) {
                let digest = format!("sha256:{hex}");
                prop_assert_eq!(validate_repository_name(&name), Ok(()));
                prop_assert_eq!(validate_tag(&tag), Ok(()));
                prop_assert_eq!(validate_digest(&digest), Ok(()));
                let reference = format!("{name}:{tag}@{digest}");
                let (named, back_digest) = reference.split_once('@').unwrap();
                let (back_name, back_tag) = named.rsplit_once(':').unwrap();
                prop_assert_eq!((back_name, back_tag, back_digest), (name.as_str(), tag.as_str(), digest.as_str()));
            }
        }
    }
}
