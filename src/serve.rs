//! `carnet serve` and `carnet token`: the GraphQL server with its projectors, and the
//! development tokens it trusts when configured to.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use carnet_api::auth::{Auditors, Authenticator, ClaimedRole, DevKey, OidcConfig};
use carnet_api::state::AppState;
use carnet_domain::enrolment::Role;
use carnet_domain::Uai;
use carnet_projections::{Scheduler, SchedulerOptions};
use carnet_store::EventStore;
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub bind: SocketAddr,
    pub dev_tokens: bool,
    /// The trusted identity providers, each with its claim mapping.
    pub oidc: Vec<OidcConfig>,
    /// The projectors this process runs; `None` when they run in processes of their own
    /// (`carnet project`).
    pub projectors: Option<SchedulerOptions>,
    /// Requests per second one identity may sustain, and its burst.
    pub rate: (u32, u32),
    /// Web origins allowed to call the API from a browser.
    pub cors_origins: Vec<String>,
    /// The address printed on bulletins for their verification.
    pub public_url: Option<String>,
    /// Bring the read models up to date before answering (the embedded demo); a région's
    /// server answers at once and says it is not ready until they are.
    pub catch_up_first: bool,
    /// Who may act as an auditor.
    pub auditors: Auditors,
    /// Sends the notifications from this process too.
    pub notifier: Option<carnet::notify::Notifier>,
}

/// Runs the server and the projection scheduler until Ctrl-C or SIGTERM, then lets
/// requests in flight finish.
pub async fn serve(
    store: EventStore,
    data_dir: &Path,
    options: ServeOptions,
) -> anyhow::Result<()> {
    let signals = shutdown_signal();
    let dev =
        if options.dev_tokens {
            Some(DevKey::load_or_create(data_dir).with_context(|| {
                format!("reading the development key in {}", data_dir.display())
            })?)
        } else {
            None
        };
    let state = Arc::new(
        AppState::new(
            store.clone(),
            Authenticator::new(dev.clone(), options.oidc.clone()).with_auditors(
                // The demo's auditor, whose token this server prints, is one when
                // development tokens are trusted.
                if options.dev_tokens {
                    options.auditors.clone().with(DEMO_AUDITOR)
                } else {
                    options.auditors.clone()
                },
            ),
        )
        .with_rate_limit(options.rate.0, options.rate.1)
        .with_cors_origins(options.cors_origins.clone())
        .with_public_url(options.public_url.clone()),
    );
    if options.dev_tokens && !options.bind.ip().is_loopback() {
        tracing::warn!(bind = %options.bind, "development tokens are trusted on an address other machines reach: anyone with the key file mints any token");
    }
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .with_context(|| format!("binding {}", options.bind))?;
    let address = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let projectors = match options.projectors.clone() {
        Some(projectors) => {
            let scheduler = Scheduler::new(store.clone(), projectors);
            if options.catch_up_first {
                if let Err(error) = scheduler.catch_up().await {
                    tracing::error!(%error, "a projection cannot catch up");
                }
            }
            let warming = state.warming.clone();
            warming.store(true, Ordering::Relaxed);
            let mut stopped = stopped.clone();
            Some(tokio::spawn(async move {
                // Not ready until the read models have caught up with what was written
                // while this process was away; requests are answered meanwhile.
                if let Err(error) = scheduler.catch_up().await {
                    tracing::error!(%error, "a projection cannot catch up");
                }
                warming.store(false, Ordering::Relaxed);
                let until = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                if let Err(error) = scheduler.run(until).await {
                    tracing::error!(%error, "the projectors stopped");
                }
            }))
        }
        None => None,
    };

    println!("Carnet serves GraphQL at http://{address}/graphql (GraphiQL: http://{address}/)");
    match &dev {
        Some(key) => print_tokens(&store, key).await?,
        None => {
            println!(
                "development tokens are not trusted (start with --dev-tokens true to mint some)"
            )
        }
    }
    for oidc in &options.oidc {
        println!(
            "OpenID Connect tokens of {} (audience {}) are accepted",
            oidc.issuer, oidc.audience
        );
    }

    let notifier = options.notifier.clone().map(|notifier| {
        let mut stopped = stopped.clone();
        println!("notifications are sent by this process");
        tokio::spawn(async move {
            notifier
                .run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
        })
    });
    let mut on_stop = stopped.clone();
    let server = carnet_api::server::serve(state, listener, async move {
        let _ = on_stop.wait_for(|s| *s).await;
    });
    let signal = async {
        signals.await;
        println!("stopping: finishing the requests in flight");
        let _ = stop.send(true);
    };
    let (served, ()) = tokio::join!(server, signal);
    served?;
    if let Some(task) = projectors {
        let _ = task.await;
    }
    if let Some(task) = notifier {
        let _ = task.await;
    }
    Ok(())
}

/// Resolves at Ctrl-C or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled: a signal sent while the server is still starting
/// (catching up, printing its tokens) is not lost or fatal.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate()).ok();
        let interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(term) => {}
                _ = wait(interrupt) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// How long the tokens printed at start stay valid: they are shown on a terminal.
const PRINTED_TOKEN_HOURS: i64 = 1;
/// The auditor of the printed tokens, granted the role by a server trusting development
/// tokens (elsewhere, auditors come from `--auditors`).
const DEMO_AUDITOR: &str = "auditeur";

/// A ready-to-paste token for one person of each role of each establishment.
async fn print_tokens(store: &EventStore, key: &DevKey) -> anyhow::Result<()> {
    let pool = store.backend().pool();
    for tenant in store.tenants().await? {
        let uai = tenant.tenant;
        let Some(establishment) = carnet_projections::enrolment::establishment(&pool, &uai).await?
        else {
            continue;
        };
        println!(
            "\n{} ({uai}): paste one of these in GraphiQL's Headers tab (valid {PRINTED_TOKEN_HOURS} h)",
            establishment.name
        );
        let mut people: Vec<(String, ClaimedRole)> = Vec::new();
        for (role, claimed) in [
            (Role::Principal, ClaimedRole::Principal),
            (Role::Secretariat, ClaimedRole::Secretariat),
            (Role::Cpe, ClaimedRole::Cpe),
            (Role::Aed, ClaimedRole::Aed),
            (Role::Teacher, ClaimedRole::Teacher),
        ] {
            if let Some((id, _)) = establishment
                .staff
                .iter()
                .find(|(_, m)| m.roles.contains(&role))
            {
                people.push((id.clone(), claimed));
            }
        }
        let first_student = carnet_projections::query::docs_with_prefix::<serde_json::Value>(
            &pool,
            &uai,
            carnet_projections::enrolment::NAME,
            "student/",
        )
        .await?
        .into_iter()
        .next()
        .map(|(k, _)| k.trim_start_matches("student/").to_string());
        if let Some(student) = first_student {
            if let Some(record) =
                carnet_projections::enrolment::student(&pool, &uai, &student).await?
            {
                if let Some(guardian) = record.guardians.keys().next() {
                    people.push((guardian.clone(), ClaimedRole::Guardian));
                }
            }
            people.push((student, ClaimedRole::Student));
        }
        people.push((DEMO_AUDITOR.into(), ClaimedRole::Auditor));
        for (person, role) in people {
            let token = key.mint(
                &person,
                std::slice::from_ref(&uai),
                &[role],
                chrono::Duration::hours(PRINTED_TOKEN_HOURS),
            )?;
            println!(
                "  {:<11} {person}\n    {{\"Authorization\": \"Bearer {token}\"}}",
                role.as_str()
            );
        }
    }
    Ok(())
}

/// `carnet token`: a development token.
pub fn mint(
    data_dir: &Path,
    person: &str,
    establishments: &[Uai],
    roles: &[String],
    hours: i64,
) -> anyhow::Result<String> {
    let roles = roles
        .iter()
        .map(|r| ClaimedRole::parse(r).ok_or_else(|| anyhow::anyhow!("unknown role `{r}`; the roles are guardian, student, teacher, cpe, aed, secretariat, principal, auditor")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let key = DevKey::load_or_create(data_dir)
        .with_context(|| format!("reading the development key in {}", data_dir.display()))?;
    Ok(key.mint(
        person,
        establishments,
        &roles,
        chrono::Duration::hours(hours),
    )?)
}
