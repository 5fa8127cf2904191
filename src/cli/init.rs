//! `portus init`: the first set-up step. Writes a commented `portus.toml` holding the built-in
//! defaults (with the registry's URL and the demonstration scanner), creates the installation
//! (data directory, signing key, webhook secret) and prints a complete `config.yml` for the
//! registry, so that a new user has every file the quickstart needs.

use std::path::{Path, PathBuf};

use clap::Args;
use url::Url;

use crate::Error;
use crate::app::{self, DataPaths};
use crate::config::Config;

/// The commented configuration `portus init` writes; `@REGISTRY_URL@` is replaced.
const TEMPLATE: &str = include_str!("portus.toml.template");

/// Where `portus init` writes when neither `--config` nor `PORTUS_CONFIG` is given.
pub(super) const DEFAULT_CONFIG_FILE: &str = "portus.toml";

/// Arguments of `portus init` (the file is the global `--config`, default `portus.toml`).
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The registry's API URL as this server reaches it; the printed registry configuration
    /// listens on its port.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:5000")]
    pub registry_url: Url,
    /// Where the printed registry configuration keeps images (default: `registry-data` in the
    /// current directory).
    #[arg(long, value_name = "DIR")]
    pub registry_storage: Option<PathBuf>,
    /// Replace an existing configuration file.
    #[arg(long)]
    pub force: bool,
}

/// The configuration file's text for a registry at `registry_url`.
pub(super) fn config_text(registry_url: &Url) -> String {
    // A URL's serialization has no quote or backslash, so it is a valid TOML string as is.
    TEMPLATE.replace("@REGISTRY_URL@", registry_url.as_str().trim_end_matches('/'))
}

/// Runs `portus init`: refuses to replace a configuration file unless `--force`, checks that
/// the text loads (with the environment's overrides, as the next commands will read it),
/// creates the installation, writes the file and prints the registry's `config.yml` on
/// standard output; what was done goes to standard error.
pub(super) fn run(config_path: Option<&Path>, data_dir: Option<&Path>, args: &InitArgs) -> Result<(), Error> {
    let path = config_path.unwrap_or(Path::new(DEFAULT_CONFIG_FILE));
    if path.exists() && !args.force {
        return Err(Error::Usage(format!(
            "{} exists already: keep it and print the registry configuration with `portus config registry`, \
             or add --force to replace it with the defaults",
            path.display()
        )));
    }
    let text = config_text(&args.registry_url);
    let config = Config::parse(&text, &path.display().to_string(), std::env::vars())?;
    let existed = DataPaths::store_exists(&config, data_dir);
    let paths = DataPaths::resolve(&config, data_dir)?;
    let storage = match &args.registry_storage {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()
            .map_err(|source| Error::Io {
                path: PathBuf::from("."),
                source,
            })?
            .join("registry-data"),
    };
    let yaml = registry_yaml(&config, &paths, &storage)?;
    // Written last: a failure above leaves no file that a second attempt would refuse to replace.
    std::fs::write(path, &text).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    eprintln!("portus: wrote {}", path.display());
    eprintln!(
        "portus: {} installation in {} (signing key, certificate, webhook secret)",
        if existed { "using the" } else { "created an" },
        paths.dir.display()
    );
    eprintln!("portus: the registry's config.yml follows on standard output");
    print!("{yaml}");
    Ok(())
}

/// A complete `config.yml` for Distribution's registry (2.8 and 3.x): what `portus config
/// registry` prints, after the sections a registry needs besides.
pub(super) fn registry_yaml(config: &Config, paths: &DataPaths, storage: &Path) -> Result<String, Error> {
    let portus_sections = app::registry_config_yaml(config, paths)?;
    let url = config
        .registry
        .url
        .as_ref()
        .ok_or_else(|| Error::Config("registry.url must be set to write the registry's configuration".into()))?;
    let port = url.port_or_known_default().unwrap_or(5000);
    // An address only for an IP literal: a name such as registry.example.org may resolve to
    // something this host cannot bind, so the registry then listens on every interface.
    let addr = match url.host() {
        Some(url::Host::Ipv4(ip)) => format!("{ip}:{port}"),
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]:{port}"),
        _ => format!(":{port}"),
    };
    let q = |s: &str| serde_json::to_string(s).expect("strings serialize");
    Ok(format!(
        "# The registry's config.yml, printed by `portus init` (`portus config registry` prints\n\
         # its auth and notifications sections again). Start it with: docker-registry serve FILE\n\
         version: 0.1\n\
         log:\n\
         \x20 # At info the registry logs each notification endpoint with its headers, and so the\n\
         \x20 # webhook secret below (registry 2.8: \"configuring endpoint portus ... headers=\").\n\
         \x20 level: warn\n\
         storage:\n\
         \x20 filesystem:\n\
         \x20   rootdirectory: {storage}\n\
         \x20 delete:\n\
         \x20   enabled: true\n\
         http:\n\
         \x20 addr: {addr}\n\
         \x20 # Plain HTTP: clients need --tls-verify=false or an insecure-registries entry. For TLS,\n\
         \x20 # add tls: {{certificate: FILE, key: FILE}} here.\n\
         {portus_sections}",
        storage = q(&storage.display().to_string()),
        addr = q(&addr),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KEYS;

    fn registry_url() -> Url {
        Url::parse("http://127.0.0.1:5000").unwrap()
    }

    /// What the written file must load as: the built-in defaults, with the registry's URL and
    /// the demonstration scanner.
    #[cfg(feature = "dummy")]
    fn expected() -> Config {
        let mut config = Config::default();
        config.registry.url = Some(registry_url());
        config.security.dummy.server = "builtin".into();
        config
    }

    #[cfg(feature = "dummy")]
    #[test]
    fn the_written_configuration_is_the_defaults() {
        let text = config_text(&registry_url());
        let loaded = Config::parse(&text, "portus.toml", std::iter::empty()).unwrap();
        assert_eq!(loaded, expected());
        assert!(loaded.security.dummy.is_enabled(), "the demonstration scanner is on");
    }

    #[test]
    fn the_registry_configuration_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            registry: crate::config::RegistryConfig {
                url: Some(registry_url()),
                ..Default::default()
            },
            ..Config::default()
        };
        let paths = DataPaths::resolve(&config, Some(dir.path())).unwrap();
        let yaml = registry_yaml(&config, &paths, Path::new("/srv/registry")).unwrap();
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap();
        assert_eq!(doc["version"].as_f64(), Some(0.1), "{yaml}");
        assert_eq!(doc["log"]["level"], "warn", "info would log the webhook secret");
        assert_eq!(doc["storage"]["filesystem"]["rootdirectory"], "/srv/registry");
        assert_eq!(doc["http"]["addr"], "127.0.0.1:5000");
        let auth = doc["auth"].as_mapping().unwrap();
        assert_eq!(auth.len(), 1, "one auth method, token (no htpasswd): {yaml}");
        let token = &doc["auth"]["token"];
        assert_eq!(token["realm"], "http://127.0.0.1:5001/v2/token");
        assert_eq!(token["service"], "registry");
        assert_eq!(token["issuer"], "portus");
        let bundle = token["rootcertbundle"].as_str().unwrap();
        assert!(std::fs::read_to_string(bundle).unwrap().contains("BEGIN CERTIFICATE"));
        // Distribution 3 finds the key of a token without x5c by its kid in this set.
        let jwks: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(token["jwks"].as_str().unwrap()).unwrap()).unwrap();
        let key = portus_auth::SigningKey::from_pem_file(&paths.key).unwrap();
        assert_eq!(jwks["keys"][0]["kid"], key.kid(), "{jwks}");
        let endpoint = &doc["notifications"]["endpoints"][0];
        assert_eq!(endpoint["url"], "http://127.0.0.1:5001/v2/webhooks/events");
        let secret = std::fs::read_to_string(dir.path().join("webhook.secret")).unwrap();
        assert_eq!(
            endpoint["headers"]["Authorization"][0],
            format!("Bearer {}", secret.trim()).as_str()
        );
        // A registry named by its host name listens on every interface.
        let named = Config {
            registry: crate::config::RegistryConfig {
                url: Some(Url::parse("https://registry.example.org").unwrap()),
                ..Default::default()
            },
            ..config
        };
        let yaml = registry_yaml(&named, &paths, Path::new("/srv/registry")).unwrap();
        assert!(yaml.contains("addr: \":443\""), "{yaml}");
    }

    #[test]
    fn the_written_configuration_names_every_key() {
        let text = config_text(&registry_url());
        for key in KEYS {
            let (section, leaf) = key.rsplit_once('.').unwrap_or(("", key));
            assert!(
                text.lines()
                    .any(|l| l.trim_start_matches("# ").starts_with(&format!("{leaf} = "))),
                "portus.toml does not mention {key}"
            );
            if !section.is_empty() {
                assert!(text.contains(&format!("[{section}]")), "portus.toml has no [{section}]");
            }
        }
    }

    #[test]
    fn commented_settings_load_when_uncommented() {
        // The examples in comments must be valid when a reader removes the `# `.
        let text: String = config_text(&registry_url())
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") || rest.starts_with('[') => rest,
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let table: toml::Table = text.parse().expect("uncommented portus.toml is TOML");
        assert!(table["web"]["oidc"].get("issuer").is_some());
        assert!(table["security"]["clair_v4"].get("server").is_some());
    }
}
