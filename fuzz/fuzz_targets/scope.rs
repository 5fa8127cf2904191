//! The `scope` parameter of a token request: any text is an error or scopes that print back
//! to text parsing to the same scopes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portus_core::scope::{MAX_NAME_LEN, Scope, parse_scopes};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = text.parse::<Scope>();
    let Ok(scopes) = parse_scopes(text) else {
        return;
    };
    for scope in scopes {
        assert!(scope.name.len() <= MAX_NAME_LEN, "{scope:?}");
        assert!(!scope.actions.is_empty(), "{scope:?}");
        let printed = scope.to_string();
        let reparsed: Scope = printed
            .parse()
            .unwrap_or_else(|e| panic!("{printed:?} does not parse: {e}"));
        assert_eq!(reparsed, scope, "{printed:?}");
    }
});
