//! The target stage of `chatload run`: the API the run talks to and the
//! credentials it uses. `--target`/`--region` or the scenario's `target.base_url`
//! name a remote API (which needs an App ID); otherwise the bundled mock starts
//! on a free local port and lives as long as the [`Target`].

use anyhow::{Context, anyhow};

use super::{
    AppError, MOCK_APP_ID, MOCK_DOMAIN_KEY, MOCK_SECRET, mock_tls_config, remote_url, run_failed,
    tls_options, usage,
};
use crate::cli::RunArgs;
use crate::client::{ConnPolicy, Credentials, HttpVersion, TlsOptions};
use crate::scenario::{Scenario, Secret, TargetSpec};

/// The resolved target: where to send requests and with what.
pub(super) struct Target {
    pub(super) base_url: String,
    /// `remote` or `bundled-mock`, for the report.
    pub(super) kind: &'static str,
    pub(super) credentials: Credentials,
    /// Trust and HTTP version for an https:// target (or the mock's TLS).
    pub(super) tls: TlsOptions,
    /// The bundled mock, stopped when the target is dropped.
    _mock: Option<chatload_mock::MockServer>,
}

/// Picks the target: the command line's, else the scenario's, else the bundled mock.
///
/// # Errors
/// A remote target without an App ID, or an unreadable `--mock-config` (usage);
/// a bundled mock that cannot start (run failed).
pub(super) async fn resolve_target(
    args: &RunArgs,
    scenario: &Scenario,
) -> Result<Target, AppError> {
    let cli_url = remote_url(&args.target)?;
    let spec = &scenario.target;
    let expose = |s: &Option<Secret>| s.as_ref().map(|v| v.expose().to_owned());
    match cli_url.or_else(|| spec.base_url.clone()) {
        Some(base_url) => {
            crate::client::refuse_userinfo(&base_url).map_err(|e| usage(anyhow!(e)))?;
            let credentials = Credentials {
                app_id: expose(&spec.app_id),
                secret: expose(&spec.secret),
                domain_key: expose(&spec.domain_key),
            };
            if credentials.app_id.is_none() {
                return Err(usage(anyhow!(
                    "no App ID for {base_url}: set CHATLOAD_APP_ID (and CHATLOAD_SECRET) or target.app_id in the scenario"
                )));
            }
            if args.tls.mock_tls {
                return Err(usage(anyhow!(
                    "--mock-tls is for the bundled mock, but the scenario targets {base_url}"
                )));
            }
            Ok(Target {
                base_url,
                kind: "remote",
                credentials,
                tls: tls_options(&args.tls, Some(spec), None)?,
                _mock: None,
            })
        }
        None => {
            needs_no_tls(args, spec)?;
            let mut config = match &args.mock_config {
                Some(path) => chatload_mock::MockConfig::from_yaml_file(path).map_err(usage)?,
                None => chatload_mock::MockConfig::default(),
            };
            if let Some(seed) = args.seed {
                config.seed = seed;
            }
            mock_tls_config(&mut config, &args.tls);
            known_mock_app(spec, &config.apps, args.mock_config.as_deref())?;
            let credentials = mock_credentials(spec, &config.apps);
            let server = chatload_mock::spawn(config)
                .await
                .context("cannot start the bundled mock")
                .map_err(run_failed)?;
            Ok(Target {
                base_url: server.base_url(),
                kind: "bundled-mock",
                credentials,
                tls: tls_options(&args.tls, Some(spec), server.ca_pem())?,
                _mock: Some(server),
            })
        }
    }
}

/// HTTP/2 is chosen by TLS (ALPN), and the bundled mock serves plain
/// `http://` unless `--mock-tls` is given: say so, rather than name the mock's
/// local URL the user never typed.
///
/// # Errors
/// `http: 2` or the `http2` connection policy without `--mock-tls` (usage).
fn needs_no_tls(args: &RunArgs, spec: &TargetSpec) -> Result<(), AppError> {
    if args.tls.mock_tls {
        return Ok(());
    }
    let asked = if args.tls.http.unwrap_or(spec.http) == HttpVersion::Http2 {
        "`http: 2` (--http 2)"
    } else if matches!(spec.connection, ConnPolicy::Http2 { .. }) {
        "the `http2` connection policy (--connection http2)"
    } else {
        return Ok(());
    };
    Err(usage(anyhow!(
        "{asked} needs TLS (HTTP/2 is chosen by ALPN), and the bundled mock serves http:// unless --mock-tls is given: add --mock-tls, or target an https:// instance"
    )))
}

/// The bundled mock's credentials: the scenario's where it gives them, the
/// rest from the mock's app they name, else from its first app (`demo-app`
/// in the default world, `--mock-config`'s first `apps` entry otherwise), so
/// a configuration with apps of its own needs no credentials either.
/// A scenario that names an App ID (`target.app_id`, `CHATLOAD_APP_ID`)
/// runs on the bundled mock only as one of the mock's apps: any other would
/// fail every request with 401 once the load started. Usage error, naming
/// where the mock's apps come from but not the ID (credentials are never
/// printed).
fn known_mock_app(
    spec: &TargetSpec,
    apps: &[chatload_mock::AppConfig],
    mock_config: Option<&std::path::Path>,
) -> Result<(), AppError> {
    let Some(id) = &spec.app_id else {
        return Ok(());
    };
    if apps.iter().any(|a| a.id == id.expose()) {
        return Ok(());
    }
    let world = mock_config.map_or_else(
        || "its default world has demo-app and demo-queue-app".to_owned(),
        |path| format!("its apps are those of {}", path.display()),
    );
    Err(usage(anyhow!(
        "the scenario's App ID (target.app_id or CHATLOAD_APP_ID) is not an app of the bundled mock ({world}): name one of them, or name none to run as its first app"
    )))
}

fn mock_credentials(spec: &TargetSpec, apps: &[chatload_mock::AppConfig]) -> Credentials {
    let expose = |s: &Option<Secret>| s.as_ref().map(|v| v.expose().to_owned());
    let app_id = expose(&spec.app_id);
    let app = match &app_id {
        Some(id) => apps.iter().find(|a| a.id == *id),
        None => apps.first(),
    };
    let Some(app) = app else {
        return Credentials {
            app_id: app_id.or_else(|| Some(MOCK_APP_ID.to_owned())),
            secret: expose(&spec.secret).or_else(|| Some(MOCK_SECRET.to_owned())),
            domain_key: expose(&spec.domain_key).or_else(|| Some(MOCK_DOMAIN_KEY.to_owned())),
        };
    };
    Credentials {
        app_id: Some(app.id.clone()),
        secret: expose(&spec.secret).or_else(|| Some(app.secret.clone())),
        domain_key: expose(&spec.domain_key).or_else(|| app.domain_key.clone()),
    }
}
