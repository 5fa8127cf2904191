//! `portus config ...`: configuration for other components, and from Portus.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use portus_auth::SigningKey;

use crate::Error;
use crate::config::Config;
use crate::config::portus_import::{self, Outcome, PortusSources};

/// `portus config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the `auth` and `notifications` sections to merge into the registry's config.yml.
    Registry,
    /// Print this program's configuration (TOML) for a SUSE Portus configuration; what is not
    /// carried over is listed at its top and, with the rest of the report, on standard error.
    ImportPortus(ImportPortusArgs),
}

/// `portus config import-portus CONFIG [LOCAL]`
#[derive(Debug, Args)]
pub struct ImportPortusArgs {
    /// Portus' config/config.yml (its defaults).
    pub config: PathBuf,
    /// Portus' config/config-local.yml (the installation's overrides).
    pub local: Option<PathBuf>,
    /// Also read the PORTUS_* variables of this environment, as Portus did (its settings such
    /// as PORTUS_DELETE_ENABLED, and PORTUS_KEY_PATH, PORTUS_DB_*…). Off by default, so that
    /// this program's own PORTUS_* variables in a shell do not leak into the result.
    #[arg(long)]
    pub env: bool,
    /// The certificate of Portus' signing key (the file in the registry's
    /// auth.token.rootcertbundle): becomes token.certificate, so tokens also carry it (x5c)
    /// and `portus config registry` works.
    #[arg(long, value_name = "FILE")]
    pub certificate: Option<PathBuf>,
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// `portus config import-portus`: converts, checks that the result loads and that the signing
/// key (and certificate) can be used, then prints the TOML on standard output and the report
/// on standard error.
pub(super) fn import_portus(args: &ImportPortusArgs) -> Result<(), Error> {
    let defaults = read(&args.config)?;
    let local = args.local.as_deref().map(read).transpose()?;
    let defaults_name = args.config.display().to_string();
    let local_name = args.local.as_ref().map(|p| p.display().to_string());
    let portus_env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("PORTUS_")).collect();
    let env = if args.env { portus_env.clone() } else { Vec::new() };
    let mut conversion = portus_import::convert(PortusSources {
        defaults: (&defaults_name, &defaults),
        local: local_name.as_deref().zip(local.as_deref()),
        env: &env,
    })?;
    if let Some(certificate) = &args.certificate {
        crate::config::set_path(
            &mut conversion.config,
            "token.certificate",
            toml::Value::String(certificate.display().to_string()),
        );
        conversion.entries.push(portus_import::Entry {
            key: "--certificate".into(),
            outcome: Outcome::Mapped(vec!["token.certificate".into()]),
            variable: None,
        });
    }
    let text = conversion.to_toml();
    let config = Config::parse(&text, "the converted configuration", std::iter::empty()).map_err(|e| {
        eprint!("{}", conversion.summary());
        Error::Config(format!(
            "the converted configuration does not load, fix the settings above: {e}"
        ))
    })?;
    let key_report = match (&config.token.key, &args.certificate) {
        (Some(path), _) => Some(signing_key_report(path, config.token.certificate.as_deref())?),
        (None, Some(certificate)) => {
            eprint!("{}", conversion.summary());
            return Err(Error::Config(format!(
                "--certificate {} is the certificate of Portus' signing key, but the key is not known: \
                 pass PORTUS_KEY_PATH with --env",
                certificate.display()
            )));
        }
        (None, None) => None,
    };
    print!("{text}");
    eprint!("{}", conversion.summary());
    if let Some(report) = key_report {
        eprintln!("{report}");
    }
    if !args.env {
        let known = portus_import::portus_variables();
        let set: Vec<&str> = portus_env
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| known.contains(*k))
            .collect();
        if !set.is_empty() {
            eprintln!(
                "Portus variables are set here and were not read ({}): pass --env to take them into account",
                set.join(", ")
            );
        }
    }
    Ok(())
}

/// Loads the signing key the way `portus serve` will (PKCS#1 or PKCS#8), with the certificate
/// if given, and says what the registry will see.
fn signing_key_report(key: &Path, certificate: Option<&Path>) -> Result<String, Error> {
    let mut signing = SigningKey::from_pem_file(key)?;
    if let Some(certificate) = certificate {
        let pem = read(certificate)?;
        signing = signing
            .with_certificate_chain_pem(&pem)
            .map_err(|e| Error::Config(format!("{}: {e}", certificate.display())))?;
    }
    Ok(format!(
        "Signing key {}: {} with kid {}, the kid Portus sent for it{}",
        key.display(),
        signing.algorithm(),
        signing.kid(),
        if certificate.is_some() {
            "; tokens also carry its certificate (x5c)"
        } else {
            ""
        }
    ))
}
