//! End to end: a Portus installation moves over. A Portus 2.5 database (the reference layout,
//! `tests/fixtures/portus/`) is loaded into a real MariaDB and, flavoured for it, a real
//! PostgreSQL; `portus import portus` reads it; then old passwords and the old application
//! token push and pull through Debian's registry with skopeo, disabled and locked users are
//! refused, and a second import changes nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::harness::{
    Creds, Portus, Registry, assert_denied, assert_ok, http_get, oci_layout, require_program, skopeo_copy, status,
};

const SERVICE: &str = "registry.portus-import";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/portus");
/// bob's Portus application token (its bcrypt hash is in the fixture).
pub(crate) const BOB_TOKEN: &str = "Xq7sN2pLk9Rt4VwY1zAb";

/// A Portus database made for one test, on the server `scripts/test.sh` starts.
pub(crate) struct PortusDatabase {
    pub(crate) url: String,
}

/// The parts of a `mysql://USER:PASSWORD@HOST:PORT/NAME` URL, and the `mariadb` client for them.
pub(crate) struct MysqlUrl {
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) host: String,
    pub(crate) port: String,
    pub(crate) database: String,
}

impl MysqlUrl {
    pub(crate) fn parse(url: &str) -> MysqlUrl {
        let rest = url.strip_prefix("mysql://").expect("a mysql:// URL");
        let (credentials, rest) = rest.split_once('@').unwrap();
        let (user, password) = credentials.split_once(':').unwrap();
        let (host_port, database) = rest.split_once('/').unwrap();
        let (host, port) = host_port.split_once(':').unwrap();
        MysqlUrl {
            user: user.to_owned(),
            password: password.to_owned(),
            host: host.to_owned(),
            port: port.to_owned(),
            database: database.to_owned(),
        }
    }

    /// `mariadb` connected to the server, in `database` if given.
    pub(crate) fn client(&self, database: Option<&str>) -> Command {
        let mut command = Command::new("mariadb");
        command.args(["--no-defaults", "-h", &self.host, "-P", &self.port, "-u", &self.user]);
        command.env("MYSQL_PWD", &self.password);
        command.args(database);
        command
    }
}

fn unique_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "portus_src_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap()
}

pub(crate) fn check(what: &str, output: std::process::Output) {
    assert!(
        output.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `client` with `sql` on its standard input.
pub(crate) fn feed(mut client: Command, sql: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = client
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {client:?}: {e}"));
    child.stdin.take().unwrap().write_all(sql.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

impl PortusDatabase {
    /// The fixture in a new database on the test MariaDB (`PORTUS_TEST_MARIADB_URL`).
    pub(crate) fn mariadb() -> PortusDatabase {
        require_program("mariadb");
        let admin = std::env::var("PORTUS_TEST_MARIADB_URL")
            .expect("PORTUS_TEST_MARIADB_URL is not set: run the tests with scripts/test.sh, which starts MariaDB");
        let server = MysqlUrl::parse(&admin);
        let name = unique_name();
        let client = |database: Option<&str>| server.client(database);
        check(
            "create the Portus database",
            feed(client(None), &format!("CREATE DATABASE {name} CHARACTER SET utf8;")),
        );
        let sql = format!(
            "{}\n{}",
            fixture("schema.mysql.sql"),
            fixture("data.sql").replace("\"KEY_COLUMN\"", "`key`")
        );
        check("load the Portus fixture into MariaDB", feed(client(Some(&name)), &sql));
        let MysqlUrl {
            user,
            password,
            host,
            port,
            ..
        } = &server;
        PortusDatabase {
            url: format!("mysql://{user}:{password}@{host}:{port}/{name}"),
        }
    }

    /// The fixture in a new database on the test PostgreSQL (`PORTUS_TEST_POSTGRES_URL`).
    fn postgres() -> PortusDatabase {
        require_program("psql");
        let admin = std::env::var("PORTUS_TEST_POSTGRES_URL")
            .expect("PORTUS_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh");
        let name = unique_name();
        let mut create = Command::new("psql");
        create.args([admin.as_str(), "-v", "ON_ERROR_STOP=1", "-q"]);
        check(
            "create the Portus database",
            feed(create, &format!("CREATE DATABASE {name};")),
        );
        let (base, _) = admin.rsplit_once('/').unwrap();
        let url = format!("{base}/{name}");
        let sql = format!(
            "{}\n{}",
            fixture("schema.postgres.sql"),
            fixture("data.sql").replace("\"KEY_COLUMN\"", "key")
        );
        let mut load = Command::new("psql");
        load.args([url.as_str(), "-v", "ON_ERROR_STOP=1", "-q"]);
        check("load the Portus fixture into PostgreSQL", feed(load, &sql));
        PortusDatabase { url }
    }
}

// Fields drop in order: the servers stop (showing their logs if the test failed) before their
// directory is removed.
struct Setup {
    portus: Portus,
    registry: Option<Registry>,
    image: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let portus = Portus::new(tmp.path(), SERVICE, "");
        let image = tmp.path().join("image");
        oci_layout(&image, "1.0", "moved over from Portus\n");
        Setup {
            portus,
            registry: None,
            image,
            _tmp: tmp,
        }
    }

    fn import(&self, database: &PortusDatabase, extra: &[&str]) -> std::process::Output {
        let mut args = vec!["import", "portus", "--database", database.url.as_str()];
        args.extend_from_slice(extra);
        self.portus.try_cli(&args, None)
    }

    fn users(&self) -> String {
        self.portus.cli(&["user", "list", "--json"], None)
    }

    fn start(&mut self) {
        let yaml = self.portus.cli(&["config", "registry"], None);
        self.portus.start();
        self.registry = Some(Registry::start(self._tmp.path(), &yaml));
    }

    fn reference(&self, repository_and_tag: &str) -> String {
        format!("docker://{}/{repository_and_tag}", self.registry.as_ref().unwrap().addr)
    }

    fn push(&self, creds: Creds, target: &str) -> std::process::Output {
        skopeo_copy(
            &format!("oci:{}:1.0", self.image.display()),
            Creds::Anonymous,
            &self.reference(target),
            creds,
        )
    }

    fn pull(&self, creds: Creds, source: &str) -> std::process::Output {
        let dest = tempfile::tempdir().unwrap();
        skopeo_copy(
            &self.reference(source),
            creds,
            &format!("dir:{}", dest.path().display()),
            Creds::Anonymous,
        )
    }
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The report row of `kind`: (found, second column, skipped).
fn row(report: &str, kind: &str) -> (u64, u64, u64) {
    let line = report
        .lines()
        .find(|l| l.starts_with(kind) && l[kind.len()..].starts_with(' '))
        .unwrap_or_else(|| panic!("no {kind} row in the report:\n{report}"));
    let numbers: Vec<u64> = line[kind.len()..]
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    (numbers[0], numbers[1], numbers[2])
}

/// What every import of the fixture must report and store, from either database.
fn assert_imported(setup: &Setup, report: &str) {
    assert_eq!(
        row(report, "users"),
        (7, 6, 1),
        "portus' internal user is not a person:\n{report}"
    );
    assert_eq!(
        row(report, "namespaces"),
        (9, 8, 1),
        "the backslash namespace is refused:\n{report}"
    );
    assert_eq!(row(report, "repositories"), (4, 3, 1), "{report}");
    assert_eq!(row(report, "tags"), (4, 3, 1), "the tag Portus was deleting:\n{report}");
    assert_eq!(row(report, "application tokens"), (1, 1, 0), "{report}");
    assert_eq!(row(report, "activities"), (5, 5, 0), "{report}");
    assert!(
        report.contains("namespace my\\team: invalid namespace name"),
        "{report}"
    );
    assert!(report.contains("user portus: Portus' internal account"), "{report}");
    assert!(
        report.contains("registry.url = \"http://registry.example.org:5000\""),
        "{report}"
    );
    let users = setup.users();
    for name in ["alice", "bob", "dave", "erin", "frank", "ci-robot"] {
        assert!(users.contains(&format!("\"{name}\"")), "{name} imported: {users}");
    }
    assert!(!users.contains("\"portus\""), "{users}");
    let tags = setup.portus.cli(&["tag", "list", "devs/app", "--json"], None);
    assert!(
        tags.contains("\"1.0\"") && tags.contains("\"latest\"") && tags.contains("bob"),
        "{tags}"
    );
    let activity = setup.portus.cli(&["activity"], None);
    for expected in [
        "tag.push",
        "devs/app:1.0",
        "team.member.add",
        "namespace.change_visibility",
        "busybox:old",
    ] {
        assert!(activity.contains(expected), "activity log has {expected}:\n{activity}");
    }
}

#[test]
fn a_portus_installation_on_mariadb_moves_over_with_its_credentials() {
    require_program("skopeo");
    let database = PortusDatabase::mariadb();
    let mut setup = Setup::new();

    let dry = setup.import(&database, &["--dry-run"]);
    assert_ok("import --dry-run", &dry);
    let dry = stdout(&dry);
    assert!(
        dry.contains("would import") && dry.contains("dry run: nothing was written"),
        "{dry}"
    );
    assert_eq!(row(&dry, "users"), (7, 6, 1));
    assert_eq!(setup.users().trim(), "[]", "a dry run writes nothing");

    let first = setup.import(&database, &[]);
    assert_ok("import", &first);
    let first = stdout(&first);
    assert!(first.contains("written"), "{first}");
    assert_imported(&setup, &first);

    let again = setup.import(&database, &[]);
    assert_ok("second import", &again);
    let again = stdout(&again);
    for kind in [
        "users",
        "teams",
        "namespaces",
        "memberships",
        "tags",
        "stars",
        "comments",
        "activities",
    ] {
        assert_eq!(row(&again, kind).1, 0, "a second import writes no {kind}:\n{again}");
    }
    assert!(again.contains("already present"), "{again}");

    setup.start();
    // Old passwords: bob's cost-12 hash, alice's cost-10 hash.
    assert_ok(
        "bob pushes with his Portus password",
        &setup.push(Creds::User("bob", "bob-password-12"), "devs/app:2.0"),
    );
    assert_ok(
        "alice pulls with her Portus password",
        &setup.pull(Creds::User("alice", "alice-password-1"), "devs/app:2.0"),
    );
    assert_denied(
        "a wrong password",
        &setup.pull(Creds::User("alice", "alice-password-2"), "devs/app:2.0"),
    );
    // bob's CI token keeps working as a docker password, and again once re-stored.
    for attempt in ["first", "second"] {
        assert_ok(
            &format!("bob's Portus token, {attempt} use"),
            &setup.push(Creds::User("bob", BOB_TOKEN), "devs/app:2.1"),
        );
    }
    assert_denied(
        "bob's token is not alice's",
        &setup.pull(Creds::User("alice", BOB_TOKEN), "devs/app:2.0"),
    );
    // Roles as in Portus: frank only views `devs`; `opensource` is public.
    assert_denied(
        "dave is disabled",
        &setup.pull(Creds::User("dave", "dave-password-1"), "devs/app:2.0"),
    );
    assert_denied(
        "erin is locked",
        &setup.pull(Creds::User("erin", "erin-password-1"), "devs/app:2.0"),
    );
    assert_ok(
        "alice pushes to the public namespace",
        &setup.push(Creds::User("alice", "alice-password-1"), "opensource/tool:v2"),
    );
    assert_ok(
        "anonymous pulls from it",
        &setup.pull(Creds::Anonymous, "opensource/tool:v2"),
    );
    assert_denied(
        "anonymous cannot pull protected devs",
        &setup.pull(Creds::Anonymous, "devs/app:2.0"),
    );

    // The same token in Portus' API header.
    let addr = setup.portus.addr;
    let api = http_get(
        addr,
        "/api/v1/repositories",
        &[("Portus-Auth", &format!("bob:{BOB_TOKEN}"))],
    );
    assert_eq!(status(&api), 200, "{api}");
    assert!(api.contains("devs/app"), "{api}");
    let refused = http_get(
        addr,
        "/api/v1/repositories",
        &[("Portus-Auth", &format!("alice:{BOB_TOKEN}"))],
    );
    assert_eq!(status(&refused), 401, "{refused}");

    // What the web pages show, read as they read it: the stars, comments and activities that
    // came over.
    let bob = [("Portus-Auth", format!("bob:{BOB_TOKEN}"))];
    let bob: Vec<(&str, &str)> = bob.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = |response: &str| -> serde_json::Value {
        serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap_or_default()).unwrap_or_default()
    };
    let repositories = body(&api);
    let app = repositories
        .as_array()
        .unwrap_or_else(|| panic!("{api}"))
        .iter()
        .find(|r| r["name"] == "devs/app")
        .unwrap_or_else(|| panic!("{repositories}"))
        .clone();
    assert_eq!(app["stars"], 2, "{app}");
    assert_eq!(app["description"], "The **app**", "{app}");
    let comments = body(&http_get(
        addr,
        &format!("/api/v1/repositories/{}/comments", app["id"]),
        &bob,
    ));
    let authors: Vec<&str> = comments
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["author"].as_str())
        .collect();
    assert_eq!(authors, ["alice", "bob"], "{comments}");
    let tags = body(&http_get(
        addr,
        &format!("/api/v1/repositories/{}/tags", app["id"]),
        &bob,
    ));
    let imported = tags
        .as_array()
        .unwrap_or_else(|| panic!("{tags}"))
        .iter()
        .find(|t| t["name"] == "latest")
        .unwrap_or_else(|| panic!("{tags}"))
        .clone();
    assert_eq!(imported["image_size"], 2_097_152, "{imported}");
    assert_eq!(imported["image_id"], format!("sha256:{}", "a".repeat(64)), "{imported}");
    assert_eq!(imported["author"]["name"], "bob", "{imported}");
    let activities = http_get(addr, "/api/v1/activities", &bob);
    assert!(
        activities.contains("devs/app:1.0") && activities.contains("tag.push"),
        "{activities}"
    );
}

#[test]
fn a_portus_installation_on_postgresql_imports_the_same() {
    let database = PortusDatabase::postgres();
    let setup = Setup::new();
    let first = setup.import(&database, &[]);
    assert_ok("import from PostgreSQL", &first);
    assert_imported(&setup, &stdout(&first));
    let again = stdout(&setup.import(&database, &[]));
    assert_eq!(row(&again, "users").1, 0, "{again}");
    // The hashes came over unchanged: the old password and the old token get registry tokens.
    let mut setup = setup;
    setup.portus.start();
    let token = |user: &str, secret: &str| {
        let basic = crate::harness::basic(user, secret);
        status(&http_get(
            setup.portus.addr,
            &format!("/v2/token?service={SERVICE}&scope=repository:devs/app:pull"),
            &[("Authorization", &basic)],
        ))
    };
    assert_eq!(token("bob", "bob-password-12"), 200);
    assert_eq!(token("bob", BOB_TOKEN), 200);
    assert_eq!(token("bob", "bob-password-13"), 401);
    assert_eq!(token("dave", "dave-password-1"), 401, "dave is disabled");
}
