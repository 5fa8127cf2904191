//! Support for `scripts/bench-token.sh` (not an embedding example):
//!
//! - `token_load seed DB_FILE` fills a SQLite store (or, given a `postgres://` URL, a
//!   PostgreSQL one) with a realistic population: 10,000 users, 1,000 teams of 10 members,
//!   10,000 namespaces (10 per team), all sharing one bcrypt hash of the password
//!   `load-password` (cost 10).
//! - `token_load sign-rate KEY_PEM SECONDS` signs tokens with that key (same claims as the
//!   server) for SECONDS on all cores and prints the raw signing rate, the ceiling for the
//!   token endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use portus::auth::password::hash_password;
use portus::auth::{SigningKey, TokenIssuer};
use portus::core::access::GrantedAccess;
use portus::core::model::{NewNamespace, NewUser, Role, Visibility};
use portus::core::prelude::*;
use portus::core::store::SqliteStore;
use portus::core::traits::Secret;

const USERS: usize = 10_000;
const TEAMS: usize = 1_000;
const NAMESPACES_PER_TEAM: usize = 10;
const MEMBERS_PER_TEAM: usize = 10;

async fn seed(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let store: Box<dyn PolicyStore> = if path.starts_with("postgres://") {
        Box::new(portus::core::store::PostgresStore::connect(path, 4).await?)
    } else {
        Box::new(SqliteStore::open(std::path::Path::new(path)).await?)
    };
    let hash = hash_password(&Secret::new("load-password"), 10).await?;
    let mut users = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let user = store
            .create_user(NewUser {
                username: format!("user{i:05}"),
                email: None,
                admin: false,
                password_hash: Some(hash.clone()),
                bot: false,
            })
            .await?;
        users.push(user.id);
    }
    for t in 0..TEAMS {
        let team = store
            .create_team(&format!("team{t:04}"), users[t * MEMBERS_PER_TEAM], None)
            .await?;
        for m in 1..MEMBERS_PER_TEAM {
            let role = if m < 4 { Role::Contributor } else { Role::Viewer };
            store
                .set_team_member(team.id, users[t * MEMBERS_PER_TEAM + m], role)
                .await?;
        }
        for n in 0..NAMESPACES_PER_TEAM {
            let visibility = [Visibility::Private, Visibility::Protected, Visibility::Public][n % 3];
            store
                .create_namespace(NewNamespace {
                    name: format!("ns{t:04}-{n}"),
                    team_id: team.id,
                    visibility,
                    description: None,
                })
                .await?;
        }
    }
    println!(
        "seeded {USERS} users, {TEAMS} teams, {} namespaces",
        TEAMS * NAMESPACES_PER_TEAM
    );
    Ok(())
}

fn sign_rate(key_path: &str, seconds: u64) -> Result<(), Box<dyn std::error::Error>> {
    let key = SigningKey::from_pem_file(std::path::Path::new(key_path))?;
    let issuer = Arc::new(TokenIssuer::new(key, "portus", Duration::from_secs(900), false)?);
    let access = vec![GrantedAccess {
        resource_type: "repository".into(),
        name: "ns0000-0/app".into(),
        actions: vec!["pull".into(), "push".into()],
    }];
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..std::thread::available_parallelism().map_or(1, |n| n.get()))
        .map(|_| {
            let (issuer, count, access) = (issuer.clone(), count.clone(), access.clone());
            std::thread::spawn(move || {
                while Instant::now() < deadline {
                    issuer
                        .issue("user00010", "registry.load", &access)
                        .expect("signing works");
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("signing thread");
    }
    println!("{:.0}", count.load(Ordering::Relaxed) as f64 / seconds as f64);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["seed", path] => seed(path).await,
        ["sign-rate", key, seconds] => sign_rate(key, seconds.parse()?),
        _ => Err("usage: token_load seed DB_FILE|POSTGRES_URL | token_load sign-rate KEY_PEM SECONDS".into()),
    }
}
