//! `portus serve`: the HTTP server with the event pipeline, the scan worker, the periodic
//! catalog sync and the LDAP group sync in the background, until SIGINT or SIGTERM; then it
//! drains: no new connections, requests in flight finish (within `http.shutdown_timeout_secs`),
//! the background loops finish their pass, exit 0.

use std::future::IntoFuture;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use portus_core::{PolicyStore, RegistryClient};
use portus_scan::sync;
use tokio::net::TcpListener;

use crate::Error;
use crate::app::{self, DataPaths};
use crate::config::Config;
use crate::config::portus_import::NoteLevel;

/// Makes the kept security figures count the configured scanners: a change of scanners
/// rebuilds them here, once, before any list is served.
async fn sync_scan_scope(app: &app::App) -> Result<(), Error> {
    let names: Vec<String> = app.scanner.backend_names().into_iter().map(str::to_owned).collect();
    let started = std::time::Instant::now();
    if app.store.set_scan_scope(&names).await? {
        tracing::info!(
            scanners = %names.join(", "),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "the scanners changed: per-repository security figures rebuilt"
        );
    }
    // Already synced: the lists need not check again.
    let _ = app.state.scan_scope_synced.set(());
    Ok(())
}

pub(super) async fn run(config: &Config, paths: &DataPaths) -> Result<(), Error> {
    log_portus_environment()?;
    let app = app::build(config, paths).await?;
    sync_scan_scope(&app).await?;
    // The background work, told to stop (after its pass in progress) once requests drained.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut workers: Vec<(&str, tokio::task::JoinHandle<()>)> = Vec::new();
    // Events left pending by a previous run are applied first thing.
    workers.push((
        "event pipeline",
        app.pipeline.spawn_until(Duration::from_secs(5), stopping.clone()),
    ));
    // Deliveries left queued by a previous run go out first thing, in order.
    workers.push(("webhook dispatcher", app.dispatcher.spawn_until(stopping.clone())));
    if let Some(worker) = app::scan_worker(config, &app)? {
        let interval = Duration::from_secs(config.security.interval_secs);
        workers.push(("scan worker", Arc::new(worker).spawn_until(interval, stopping.clone())));
    }
    if let (Some(registry), secs) = (&app.registry, config.sync.interval_secs)
        && secs > 0
    {
        let sync = spawn_periodic_sync(app.store.clone(), registry.clone(), config, stopping.clone());
        workers.push(("catalog sync", sync));
    }
    let retention_rules = config.retention.rules()?;
    if let (Some(registry), secs) = (&app.registry, config.retention.interval_secs)
        && secs > 0
        && !retention_rules.is_empty()
    {
        let interval = Duration::from_secs(secs);
        let retention = super::retention::spawn_periodic(
            app.store.clone(),
            registry.clone(),
            retention_rules,
            interval,
            stopping.clone(),
        );
        workers.push(("retention", retention));
    }
    // The group sync has no pass to finish that matters: it is stopped with the process.
    #[cfg(feature = "ldap")]
    let _ldap_sync = app
        .ldap
        .clone()
        .and_then(portus_auth::LdapAuthenticator::spawn_group_sync);
    let listener = TcpListener::bind(config.listen).await.map_err(|source| Error::Io {
        path: PathBuf::from(config.listen.to_string()),
        source,
    })?;
    let key = app.state.tokens.issuer().key();
    let web = if cfg!(feature = "web") && config.web.enabled {
        format!("{}/", config.public_url())
    } else {
        "off".to_owned()
    };
    let scanners = app.scanner.backend_names().join(", ");
    tracing::info!(
        listen = %config.listen,
        web = %web,
        realm = %format!("{}/v2/token", config.public_url()),
        service = %config.token.service,
        issuer = %config.token.issuer,
        algorithm = %key.algorithm(),
        kid = %key.kid(),
        scanners = %if scanners.is_empty() { "none" } else { scanners.as_str() },
        data_dir = %paths.dir.display(),
        store = %app::store_label(&paths.database_url),
        "portus is serving"
    );
    if let Some(warning) = config.unreachable_public_url() {
        tracing::warn!("{warning}");
    }
    let first_user = portus_core::model::ListQuery::page(portus_core::model::UserSort::Id, 0, 1);
    if app.store.users_page(&first_user).await?.total == 0 {
        tracing::warn!(
            "no user exists yet: create the first administrator with \
             `portus user create admin --admin --password-stdin`"
        );
    }
    let router = serve_router(config, app.state, app.limits)?;
    let grace = Duration::from_secs(config.http.shutdown_timeout_secs);
    let (signalled, mut signal) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = signalled.send(true);
    });
    // On the signal the listener is closed (new connections are refused) and the connections
    // the kernel had queued are answered with the requests in flight; then axum closes idle
    // connections and lets requests in flight finish.
    let (listener, closed) =
        super::listener::DrainingListener::new(listener, signal.clone()).map_err(|source| Error::Io {
            path: PathBuf::from(config.listen.to_string()),
            source,
        })?;
    let server = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = closed.await;
        })
        .into_future();
    let deadline = async move {
        if signal.wait_for(|&signalled| signalled).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = server => served.map_err(|source| Error::Io {
            path: PathBuf::from(config.listen.to_string()),
            source,
        })?,
        () = deadline => tracing::warn!(
            timeout_secs = grace.as_secs(),
            "requests still in flight after http.shutdown_timeout_secs: exiting without them"
        ),
    }
    stop_workers(stop, workers, grace).await;
    tracing::info!("stopped");
    Ok(())
}

/// Tells the background loops to stop and waits (at most `grace` for all) for the pass they
/// are in to finish; one still busy after that is aborted, as a crash would (each loop's work
/// is durable and picked up again at the next start).
async fn stop_workers(
    stop: tokio::sync::watch::Sender<bool>,
    workers: Vec<(&str, tokio::task::JoinHandle<()>)>,
    grace: Duration,
) {
    let _ = stop.send(true);
    let until = tokio::time::Instant::now() + grace;
    for (name, mut handle) in workers {
        match tokio::time::timeout_at(until, &mut handle).await {
            Ok(_) => tracing::debug!(worker = name, "stopped"),
            Err(_) => {
                tracing::warn!(
                    worker = name,
                    "still busy after http.shutdown_timeout_secs: stopped where it was"
                );
                handle.abort();
            }
        }
    }
}

/// Says what became of each Portus variable in the environment: read as its equivalent (info)
/// or not read (warning); the configuration loader has already applied the former.
fn log_portus_environment() -> Result<(), Error> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    for note in crate::config::portus_import::startup_environment(&env)?.notes {
        match note.level {
            NoteLevel::Info => tracing::info!(variable = %note.variable, "{}", note.message),
            NoteLevel::Warn => tracing::warn!(variable = %note.variable, "{}", note.message),
        }
    }
    Ok(())
}

fn spawn_periodic_sync(
    store: Arc<dyn PolicyStore>,
    registry: Arc<dyn RegistryClient>,
    config: &Config,
    mut stop: portus_scan::stop::Stop,
) -> tokio::task::JoinHandle<()> {
    let (strategy, concurrency, missing) = (
        config.sync.strategy,
        config.sync.concurrency,
        config.sync.missing_namespaces,
    );
    let interval = Duration::from_secs(config.sync.interval_secs);
    tokio::spawn(async move {
        loop {
            match sync::plan(store.as_ref(), registry.as_ref(), strategy, concurrency, &|_, _| {}).await {
                Ok(plan) if plan.is_empty() => tracing::debug!("catalog sync: nothing to change"),
                Ok(plan) => match sync::apply(store.as_ref(), registry.as_ref(), &plan, missing).await {
                    Ok(report) => tracing::info!(?report, problems = plan.problems.len(), "catalog sync applied"),
                    Err(e) => tracing::warn!(error = %e, "catalog sync failed while applying"),
                },
                Err(e) => tracing::warn!(error = %e, "catalog sync failed; nothing was changed"),
            }
            tokio::select! {
                _ = portus_scan::stop::requested(&mut stop) => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(feature = "web")]
fn serve_router(
    config: &Config,
    state: portus_http::AppState,
    limits: portus_http::HttpLimits,
) -> Result<axum::Router, Error> {
    if !config.web.enabled {
        return Ok(portus_http::router(state, limits));
    }
    let web = portus_http::web::WebConfig {
        session_lifetime: std::time::Duration::from_secs(config.web.session_secs),
        secure_cookies: config.secure_cookies(),
        signup: config.web.signup,
        anonymous_browsing: config.web.anonymous_browsing,
        local_login: config.web.local_login,
        #[cfg(feature = "oidc")]
        oidc: oidc_login(config, &state)?,
        #[cfg(feature = "oidc")]
        google: google_login(config, &state)?,
        #[cfg(feature = "oidc")]
        oauth: oauth_logins(config, &state)?,
    };
    Ok(portus_http::router_with_web(state, limits, web))
}

/// The OpenID Connect provider of `[web.oidc]`, if configured.
#[cfg(feature = "oidc")]
fn oidc_login(config: &Config, state: &portus_http::AppState) -> Result<Option<portus_http::web::OidcLogin>, Error> {
    let Some(settings) = &config.web.oidc else {
        return Ok(None);
    };
    let oidc = settings.config(format!("{}/sign_in/oidc/callback", config.public_url()));
    let provider = portus_auth::oidc::OidcProvider::new(oidc, state.tokens.store().clone())
        .map_err(|e| Error::Config(format!("[web.oidc]: {e}")))?;
    Ok(Some(portus_http::web::OidcLogin {
        name: settings.name.clone(),
        provider: Arc::new(provider),
    }))
}

/// Google's sign-in, if `[web.google]` is configured.
#[cfg(feature = "oidc")]
fn google_login(config: &Config, state: &portus_http::AppState) -> Result<Option<portus_http::web::OidcLogin>, Error> {
    let Some(settings) = &config.web.google else {
        return Ok(None);
    };
    let google = settings.config(format!("{}/sign_in/google/callback", config.public_url()));
    let provider = portus_auth::oidc::OidcProvider::new(google, state.tokens.store().clone())
        .map_err(|e| Error::Config(format!("[web.google]: {e}")))?;
    Ok(Some(portus_http::web::OidcLogin {
        name: "Google".into(),
        provider: Arc::new(provider),
    }))
}

/// The GitHub, GitLab and Bitbucket providers configured, each sending the browser back to
/// `{public_url}/sign_in/{kind}/callback`.
#[cfg(feature = "oidc")]
fn oauth_logins(config: &Config, state: &portus_http::AppState) -> Result<Vec<portus_http::web::OAuthLogin>, Error> {
    let web = &config.web;
    let store = || state.tokens.store().clone();
    let callback = |kind: &str| format!("{}/sign_in/{kind}/callback", config.public_url());
    let providers = [
        web.github
            .as_ref()
            .map(|s| ("github", s.name.clone(), s.provider(callback("github"), store()))),
        web.gitlab
            .as_ref()
            .map(|s| ("gitlab", s.name.clone(), s.provider(callback("gitlab"), store()))),
        web.bitbucket
            .as_ref()
            .map(|s| ("bitbucket", s.name.clone(), s.provider(callback("bitbucket"), store()))),
    ];
    providers
        .into_iter()
        .flatten()
        .map(|(section, name, provider)| {
            let provider = provider.map_err(|e| Error::Config(format!("[web.{section}]: {e}")))?;
            Ok(portus_http::web::OAuthLogin {
                name,
                provider: Arc::new(provider),
            })
        })
        .collect()
}

#[cfg(not(feature = "web"))]
fn serve_router(
    _config: &Config,
    state: portus_http::AppState,
    limits: portus_http::HttpLimits,
) -> Result<axum::Router, Error> {
    Ok(portus_http::router(state, limits))
}
