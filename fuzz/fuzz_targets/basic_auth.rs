//! `Authorization: Basic ...`: any header bytes are refused or give a non-empty user name
//! without ':' that, encoded again, gives the same credentials.
#![no_main]

use data_encoding::BASE64;
use libfuzzer_sys::fuzz_target;
use portus_auth::{Credentials, parse_basic_authorization};

fuzz_target!(|data: &[u8]| {
    let Ok(credentials) = parse_basic_authorization(data) else {
        return;
    };
    let Credentials::Password { username, secret } = credentials else {
        panic!("a header value is never anonymous");
    };
    assert!(!username.is_empty() && !username.contains(':'), "{username:?}");
    let encoded = format!(
        "Basic {}",
        BASE64.encode(format!("{username}:{}", secret.expose()).as_bytes())
    );
    match parse_basic_authorization(encoded.as_bytes()) {
        Ok(Credentials::Password {
            username: again,
            secret: secret_again,
        }) => {
            assert_eq!(again, username);
            assert_eq!(secret_again.expose(), secret.expose());
        }
        other => panic!("{encoded:?} gave {other:?}"),
    }
});
