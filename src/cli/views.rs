//! What the resource commands print: the objects both backends return (their `--json` form,
//! the same whether they come from the local store or a server), and their tables.
//!
//! Field names follow the REST API's JSON, so the server's answers deserialize into them as they
//! are; tags keep the shape `portus tag list --json` always had (`manifest.digest`).

use chrono::{DateTime, SecondsFormat, Utc};
use portus_core::model::{ExternalIdentity, Role, Visibility};
use serde::{Deserialize, Serialize};

use super::table::{Table, details};

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UserView {
    pub(crate) id: i64,
    pub(crate) username: String,
    pub(crate) email: Option<String>,
    pub(crate) admin: bool,
    pub(crate) enabled: bool,
    pub(crate) locked: bool,
    /// The personal namespace's id.
    pub(crate) namespace_id: Option<i64>,
    pub(crate) created_at: DateTime<Utc>,
}

/// An application token (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TokenView {
    pub(crate) id: i64,
    /// The token's name (Portus calls it the application).
    pub(crate) application: String,
    pub(crate) created_at: DateTime<Utc>,
    /// When it stops working.
    #[serde(default)]
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// The repositories and actions it is limited to; none: its owner's rights.
    #[serde(default)]
    pub(crate) scopes: Option<Vec<String>>,
    /// When it last signed in.
    #[serde(default)]
    pub(crate) last_used_at: Option<DateTime<Utc>>,
}

impl TokenView {
    /// The view of a stored token.
    pub(crate) fn of(token: &portus_core::model::AppToken) -> TokenView {
        TokenView {
            id: token.id.0,
            application: token.label.clone(),
            created_at: token.created_at,
            expires_at: token.limits.expires_at,
            scopes: token.limits.scope.as_ref().map(portus_core::model::TokenScope::rules),
            last_used_at: token.last_used_at,
        }
    }
}

/// A team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TeamView {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
}

/// A team's member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MemberView {
    pub(crate) user_id: i64,
    pub(crate) username: String,
    pub(crate) role: Role,
}

/// A team with its members, as `team show --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct TeamWithMembers {
    #[serde(flatten)]
    pub(crate) team: TeamView,
    pub(crate) members: Vec<MemberView>,
}

/// A namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NamespaceView {
    pub(crate) id: i64,
    /// `(global)` for the global namespace, as the API names it.
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) team_id: Option<i64>,
    /// The owning team's name, when the caller may see that team (never a personal team).
    #[serde(default)]
    pub(crate) team: Option<String>,
    pub(crate) visibility: Visibility,
    pub(crate) global: bool,
    pub(crate) personal: bool,
}

/// A repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RepositoryView {
    pub(crate) id: i64,
    /// Full name (`alice/app`).
    pub(crate) name: String,
    pub(crate) namespace_id: i64,
    /// Markdown, as its owners describe it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    pub(crate) stars: u64,
    pub(crate) tags_count: usize,
    pub(crate) created_at: DateTime<Utc>,
}

/// What a tag points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ManifestView {
    pub(crate) digest: String,
    pub(crate) media_type: String,
    pub(crate) size: Option<u64>,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TagView {
    pub(crate) id: i64,
    pub(crate) repository: String,
    pub(crate) name: String,
    pub(crate) manifest: ManifestView,
    pub(crate) pushed_by: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// The global namespace's name, as the REST API shows it (it has none in the registry).
pub(crate) const GLOBAL_NAMESPACE: &str = "(global)";

/// Pretty JSON of anything the commands print.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("views serialize")
}

fn time(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn yes_no(flag: bool) -> String {
    if flag { "yes" } else { "no" }.to_owned()
}

fn or_dash(text: Option<&str>) -> String {
    text.unwrap_or("-").to_owned()
}

/// A size in bytes as people read it (1024-based, one decimal).
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `user list`.
pub(crate) fn users_table(users: &[UserView]) -> String {
    let mut table = Table::new(&["ID", "USERNAME", "EMAIL", "ADMIN", "ENABLED", "LOCKED", "CREATED"]);
    for u in users {
        table.row(vec![
            u.id.to_string(),
            u.username.clone(),
            or_dash(u.email.as_deref()),
            yes_no(u.admin),
            yes_no(u.enabled),
            yes_no(u.locked),
            time(&u.created_at),
        ]);
    }
    table.render()
}

/// `user show`.
pub(crate) fn user_details(u: &UserView) -> String {
    details(&[
        ("id", u.id.to_string()),
        ("username", u.username.clone()),
        ("email", or_dash(u.email.as_deref())),
        ("admin", yes_no(u.admin)),
        ("enabled", yes_no(u.enabled)),
        ("locked", yes_no(u.locked)),
        ("created", time(&u.created_at)),
    ])
}

/// `token list`.
pub(crate) fn tokens_table(tokens: &[TokenView]) -> String {
    let mut table = Table::new(&["ID", "NAME", "CREATED", "EXPIRES", "SCOPE", "LAST USED"]);
    for t in tokens {
        table.row(vec![
            t.id.to_string(),
            t.application.clone(),
            time(&t.created_at),
            t.expires_at.as_ref().map(time).unwrap_or_else(|| "never".into()),
            t.scopes
                .as_ref()
                .map(|s| s.join(" "))
                .unwrap_or_else(|| "owner's rights".into()),
            t.last_used_at.as_ref().map(time).unwrap_or_else(|| "-".into()),
        ]);
    }
    table.render()
}

/// `user identities`.
pub(crate) fn identities_table(identities: &[ExternalIdentity]) -> String {
    let mut table = Table::new(&["PROVIDER", "ISSUER", "SUBJECT"]);
    for i in identities {
        table.row(vec![
            i.provider.clone(),
            or_dash(Some(&i.issuer).filter(|s| !s.is_empty()).map(String::as_str)),
            i.subject.clone(),
        ]);
    }
    table.render()
}

/// `user identities --json`: `[{"provider", "issuer", "subject"}]`.
pub(crate) fn identities_json(identities: &[ExternalIdentity]) -> String {
    let list: Vec<serde_json::Value> = identities
        .iter()
        .map(|i| serde_json::json!({"provider": i.provider, "issuer": i.issuer, "subject": i.subject}))
        .collect();
    json(&list)
}

/// `team list`.
pub(crate) fn teams_table(teams: &[TeamView]) -> String {
    let mut table = Table::new(&["ID", "NAME", "DESCRIPTION"]);
    for t in teams {
        table.row(vec![
            t.id.to_string(),
            t.name.clone(),
            or_dash(t.description.as_deref()),
        ]);
    }
    table.render()
}

/// `team member list`.
pub(crate) fn members_table(members: &[MemberView]) -> String {
    let mut table = Table::new(&["USER", "ROLE"]);
    for m in members {
        table.row(vec![m.username.clone(), m.role.to_string()]);
    }
    table.render()
}

/// `team show`: the team, then its members.
pub(crate) fn team_details(team: &TeamWithMembers) -> String {
    let mut text = details(&[
        ("id", team.team.id.to_string()),
        ("name", team.team.name.clone()),
        ("description", or_dash(team.team.description.as_deref())),
        ("members", team.members.len().to_string()),
    ]);
    text.push('\n');
    text.push_str(&members_table(&team.members));
    text
}

fn team_of(n: &NamespaceView) -> String {
    match (&n.team, n.team_id) {
        (Some(name), _) => name.clone(),
        // A personal namespace's team is its user's hidden team: not a team one manages.
        (None, _) if n.personal => "(personal)".to_owned(),
        (None, Some(id)) => format!("#{id}"),
        (None, None) => "-".to_owned(),
    }
}

/// `namespace list`.
pub(crate) fn namespaces_table(namespaces: &[NamespaceView]) -> String {
    let mut table = Table::new(&["ID", "NAME", "TEAM", "VISIBILITY", "DESCRIPTION"]);
    for n in namespaces {
        table.row(vec![
            n.id.to_string(),
            n.name.clone(),
            team_of(n),
            n.visibility.to_string(),
            or_dash(n.description.as_deref()),
        ]);
    }
    table.render()
}

/// `namespace show`.
pub(crate) fn namespace_details(n: &NamespaceView) -> String {
    let kind = if n.global {
        "global"
    } else if n.personal {
        "personal"
    } else {
        "team"
    };
    details(&[
        ("id", n.id.to_string()),
        ("name", n.name.clone()),
        ("team", team_of(n)),
        ("visibility", n.visibility.to_string()),
        ("kind", kind.to_owned()),
        ("description", or_dash(n.description.as_deref())),
    ])
}

/// `repository list`.
pub(crate) fn repositories_table(repositories: &[RepositoryView]) -> String {
    let mut table = Table::new(&["ID", "NAME", "TAGS", "STARS", "CREATED"]);
    for r in repositories {
        table.row(vec![
            r.id.to_string(),
            r.name.clone(),
            r.tags_count.to_string(),
            r.stars.to_string(),
            time(&r.created_at),
        ]);
    }
    table.render()
}

/// `repository show`.
pub(crate) fn repository_details(r: &RepositoryView) -> String {
    details(&[
        ("id", r.id.to_string()),
        ("name", r.name.clone()),
        ("description", or_dash(r.description.as_deref())),
        ("tags", r.tags_count.to_string()),
        ("stars", r.stars.to_string()),
        ("created", time(&r.created_at)),
    ])
}

/// `tag list`.
pub(crate) fn tags_table(tags: &[TagView]) -> String {
    let mut table = Table::new(&["REPOSITORY", "TAG", "DIGEST", "SIZE", "PUSHED BY", "UPDATED"]);
    for t in tags {
        table.row(vec![
            t.repository.clone(),
            t.name.clone(),
            t.manifest.digest.clone(),
            t.manifest.size.map(human_size).unwrap_or_else(|| "-".into()),
            or_dash(t.pushed_by.as_deref()),
            time(&t.updated_at),
        ]);
    }
    table.render()
}

/// `tag show`.
pub(crate) fn tag_details(t: &TagView) -> String {
    details(&[
        ("id", t.id.to_string()),
        ("repository", t.repository.clone()),
        ("tag", t.name.clone()),
        ("digest", t.manifest.digest.clone()),
        ("media type", t.manifest.media_type.clone()),
        ("size", t.manifest.size.map(human_size).unwrap_or_else(|| "-".into())),
        ("pushed by", or_dash(t.pushed_by.as_deref())),
        ("created", time(&t.created_at)),
        ("updated", time(&t.updated_at)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn alice() -> UserView {
        UserView {
            id: 1,
            username: "alice".into(),
            email: Some("alice@example.org".into()),
            admin: true,
            enabled: true,
            locked: false,
            namespace_id: Some(2),
            created_at: at("2026-11-24T10:00:00.123456Z"),
        }
    }

    fn tag(name: &str, size: Option<u64>) -> TagView {
        TagView {
            id: 7,
            repository: "alice/app".into(),
            name: name.into(),
            manifest: ManifestView {
                digest: "sha256:abc".into(),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                size,
            },
            pushed_by: None,
            created_at: at("2026-11-24T10:00:00Z"),
            updated_at: at("2026-11-25T11:30:00Z"),
        }
    }

    #[test]
    fn users_are_a_table_with_flags_as_words_and_times_to_the_second() {
        let bob = UserView {
            id: 12,
            username: "bob".into(),
            email: None,
            admin: false,
            enabled: false,
            locked: true,
            namespace_id: None,
            created_at: at("2026-11-24T10:05:00Z"),
        };
        assert_eq!(
            users_table(&[alice(), bob]),
            "ID  USERNAME  EMAIL              ADMIN  ENABLED  LOCKED  CREATED\n\
             1   alice     alice@example.org  yes    yes      no      2026-11-24T10:00:00Z\n\
             12  bob       -                  no     no       yes     2026-11-24T10:05:00Z\n"
        );
    }

    #[test]
    fn a_user_shows_as_aligned_keys() {
        let text = user_details(&alice());
        assert!(text.starts_with("id:       1\nusername: alice\n"), "{text}");
        assert!(text.contains("email:    alice@example.org\n"), "{text}");
        assert!(text.ends_with("created:  2026-11-24T10:00:00Z\n"), "{text}");
    }

    #[test]
    fn user_json_has_the_api_field_names_and_reads_back() {
        let value: serde_json::Value = serde_json::from_str(&json(&alice())).unwrap();
        assert_eq!(value["username"], "alice");
        assert_eq!(value["namespace_id"], 2);
        // An API answer (with fields the CLI does not show) reads as a view.
        let answer = serde_json::json!({"id": 1, "username": "alice", "email": null, "admin": false,
            "enabled": true, "locked": false, "namespace_id": 2, "created_at": "2026-11-24T10:00:00Z",
            "display_name": "Alice"});
        let user: UserView = serde_json::from_value(answer).unwrap();
        assert_eq!(user.email, None);
    }

    #[test]
    fn teams_members_and_tokens_are_tables() {
        let devs = TeamView {
            id: 3,
            name: "devs".into(),
            description: Some("Developers".into()),
        };
        assert_eq!(
            teams_table(std::slice::from_ref(&devs)),
            "ID  NAME  DESCRIPTION\n3   devs  Developers\n"
        );
        let members = vec![MemberView {
            user_id: 1,
            username: "alice".into(),
            role: Role::Owner,
        }];
        assert_eq!(members_table(&members), "USER   ROLE\nalice  owner\n");
        let shown = team_details(&TeamWithMembers { team: devs, members });
        assert!(shown.starts_with("id:          3\nname:        devs\n"), "{shown}");
        assert!(
            shown.ends_with("members:     1\n\nUSER   ROLE\nalice  owner\n"),
            "{shown}"
        );
        let token = TokenView {
            id: 4,
            application: "ci".into(),
            created_at: at("2026-11-24T10:00:00Z"),
            expires_at: Some(at("2026-12-24T10:00:00Z")),
            scopes: Some(vec!["devs/*:pull".into()]),
            last_used_at: None,
        };
        let laptop = TokenView {
            id: 5,
            application: "laptop".into(),
            expires_at: None,
            scopes: None,
            ..token.clone()
        };
        assert_eq!(
            tokens_table(&[token, laptop]),
            "ID  NAME    CREATED               EXPIRES               SCOPE           LAST USED\n\
             4   ci      2026-11-24T10:00:00Z  2026-12-24T10:00:00Z  devs/*:pull     -\n\
             5   laptop  2026-11-24T10:00:00Z  never                 owner's rights  -\n"
        );
    }

    #[test]
    fn team_json_is_the_team_with_its_members() {
        let team = TeamWithMembers {
            team: TeamView {
                id: 3,
                name: "devs".into(),
                description: None,
            },
            members: vec![],
        };
        let value: serde_json::Value = serde_json::from_str(&json(&team)).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"id": 3, "name": "devs", "description": null, "members": []})
        );
    }

    fn web_view() -> NamespaceView {
        NamespaceView {
            id: 5,
            name: "web".into(),
            description: None,
            team_id: Some(3),
            team: Some("devs".into()),
            visibility: Visibility::Public,
            global: false,
            personal: false,
        }
    }

    #[test]
    fn namespaces_name_their_team_or_its_id() {
        let web = web_view();
        let global = NamespaceView {
            id: 1,
            name: "(global)".into(),
            team_id: None,
            team: None,
            global: true,
            visibility: Visibility::Protected,
            ..web.clone()
        };
        let unseen = NamespaceView {
            id: 6,
            name: "ops".into(),
            team: None,
            team_id: Some(9),
            visibility: Visibility::Private,
            description: Some("Operations".into()),
            ..web.clone()
        };
        assert_eq!(
            namespaces_table(&[global.clone(), web, unseen]),
            "ID  NAME      TEAM  VISIBILITY  DESCRIPTION\n\
             1   (global)  -     protected   -\n\
             5   web       devs  public      -\n\
             6   ops       #9    private     Operations\n"
        );
        assert!(namespace_details(&global).contains("kind:        global\n"));
        // A personal namespace's hidden team is never shown as a team one manages.
        let personal = NamespaceView {
            id: 2,
            name: "alice".into(),
            team: None,
            team_id: Some(4),
            personal: true,
            ..web_view()
        };
        assert!(namespaces_table(&[personal]).contains("2   alice  (personal)  public"));
    }

    #[test]
    fn repositories_are_a_table_and_show_their_description_when_known() {
        let app = RepositoryView {
            id: 8,
            name: "alice/app".into(),
            namespace_id: 2,
            description: None,
            stars: 1,
            tags_count: 2,
            created_at: at("2026-11-24T10:00:00Z"),
        };
        assert_eq!(
            repositories_table(std::slice::from_ref(&app)),
            "ID  NAME       TAGS  STARS  CREATED\n8   alice/app  2     1      2026-11-24T10:00:00Z\n"
        );
        assert!(repository_details(&app).contains("description: -\n"));
        // No description key in JSON unless a server sent one.
        assert!(!json(&app).contains("description"));
    }

    #[test]
    fn tags_keep_the_json_shape_tag_list_always_had() {
        let value: serde_json::Value = serde_json::from_str(&json(&tag("1.0", Some(2048)))).unwrap();
        assert_eq!(value["manifest"]["digest"], "sha256:abc");
        assert_eq!(value["repository"], "alice/app");
        assert_eq!(value["name"], "1.0");
        // The store's own serialization reads as a view (same field names).
        let record = portus_core::model::TagRecord {
            id: portus_core::model::TagId(7),
            repository: "alice/app".into(),
            name: "1.0".into(),
            manifest: portus_core::model::ManifestRecord {
                digest: "sha256:abc".into(),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                size: Some(2048),
            },
            pushed_by: None,
            created_at: at("2026-11-24T10:00:00Z"),
            updated_at: at("2026-11-25T11:30:00Z"),
            image_id: None,
            image_size: None,
            pulled_at: None,
            artifact: None,
            signed: false,
            pull_count: 0,
            platform_sizes: Vec::new(),
        };
        let view: TagView = serde_json::from_value(serde_json::to_value(&record).unwrap()).unwrap();
        assert_eq!(view, tag("1.0", Some(2048)));
    }

    #[test]
    fn tags_are_a_table_with_human_sizes() {
        assert_eq!(
            tags_table(&[tag("1.0", Some(2048)), tag("latest", None)]),
            "REPOSITORY  TAG     DIGEST      SIZE     PUSHED BY  UPDATED\n\
             alice/app   1.0     sha256:abc  2.0 KiB  -          2026-11-25T11:30:00Z\n\
             alice/app   latest  sha256:abc  -        -          2026-11-25T11:30:00Z\n"
        );
        assert!(tag_details(&tag("1.0", None)).contains("media type: application/vnd.oci.image.manifest.v1+json\n"));
    }

    #[test]
    fn sizes_read_as_people_count_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(human_size(u64::MAX), "16777216.0 TiB");
    }
}
