//! One environment: where it answers, its state and timeline, how long it
//! has left and what happens then, what it costs, its resources, process
//! output and snapshots — and Extend, Destroy and, once it is gone, a
//! one-click rating.

use crate::api::approvals::{ApprovalItem, CancelApproval};
use crate::api::environments::{
    environment_detail, DeployEnvironment, DeploymentLine, DestroyEnvironment, DestroyOutcome, EnvironmentView,
    ExtendEnvironment, ExtendOutcome, RateEnvironment, RollbackDeployment,
};
use crate::components::badges::{StateBadge, TierBadge};
use crate::components::clock::client_now;
use crate::components::live::use_live;
use crate::domain::expiry::ttl_left;
use crate::domain::health::Health;
use crate::domain::lifecycle::EnvState;
use crate::domain::time::utc_datetime;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn EnvironmentPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let live = use_live();
    // Refresh when a change about this environment arrives, or the stream
    // opens again and may have missed one.
    let touched = Memo::new(move |_| {
        (live.reopened.get(), live.last.get().filter(|c| c.env_id == id.get()).map(|c| (c.at, c.action)))
    });
    let ui = Controls {
        extend: ServerAction::<ExtendEnvironment>::new(),
        destroy: ServerAction::<DestroyEnvironment>::new(),
        rate: ServerAction::<RateEnvironment>::new(),
        share: ServerAction::<crate::api::costs::SetEnvironmentShared>::new(),
        cancel: ServerAction::<CancelApproval>::new(),
        deploy: ServerAction::<DeployEnvironment>::new(),
        rollback: ServerAction::<RollbackDeployment>::new(),
        deploy_what: RwSignal::new(String::new()),
        hours: RwSignal::new(None),
        confirming: RwSignal::new(false),
        score: RwSignal::new(0),
        comment: RwSignal::new(String::new()),
    };
    let Controls { extend, destroy, rate, share, cancel, deploy, rollback, .. } = ui;
    // Bumped every second while it is being built and started (see `poll_while_starting`).
    let tick = RwSignal::new(0u32);
    let detail = Resource::new(
        move || {
            (
                id.get(),
                touched.get(),
                (
                    extend.version().get(),
                    destroy.version().get(),
                    rate.version().get(),
                    share.version().get(),
                    cancel.version().get(),
                    deploy.version().get(),
                    rollback.version().get(),
                ),
                tick.get(),
            )
        },
        |(id, ..)| environment_detail(id),
    );
    #[cfg(feature = "hydrate")]
    poll_while_starting(detail, tick, live.hydrated);
    view! {
        <p class="mb-3 text-sm"><a href="/" class="text-indigo-700 hover:underline">"← Environments"</a></p>
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <Detail d ui /> }.into_any(),
                    Err(err) => view! {
                        <Title text="Environment" />
                        <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Transition>
        <crate::components::share_links::ShareLinks id />
    }
}

/// The page's actions and what the user is in the middle of choosing. They
/// live above the data, so a live refresh (which re-renders the detail)
/// keeps an open confirmation, a chosen extension or a half-typed comment.
#[derive(Clone, Copy)]
struct Controls {
    extend: ServerAction<ExtendEnvironment>,
    destroy: ServerAction<DestroyEnvironment>,
    rate: ServerAction<RateEnvironment>,
    hours: RwSignal<Option<i64>>,
    confirming: RwSignal<bool>,
    score: RwSignal<i64>,
    comment: RwSignal<String>,
    share: ServerAction<crate::api::costs::SetEnvironmentShared>,
    cancel: ServerAction<CancelApproval>,
    deploy: ServerAction<DeployEnvironment>,
    rollback: ServerAction<RollbackDeployment>,
    /// The ref or commit typed for the next deployment (empty: its own branch).
    deploy_what: RwSignal<String>,
}

/// While the environment is `pending` or `ready` (built, migrated, started),
/// bumps `tick` every second so the detail — with its process output — is
/// read again and the build streams on the page. Browser only: the server
/// render starts no timers; the interval is cleared when it stops starting
/// or the page goes.
#[cfg(feature = "hydrate")]
fn poll_while_starting(
    detail: Resource<Result<EnvironmentView, crate::error::AppError>>,
    tick: RwSignal<u32>,
    hydrated: RwSignal<bool>,
) {
    let starting = Memo::new(move |_| {
        hydrated.get()
            && detail.with(|d| {
                matches!(d, Some(Ok(v)) if matches!(v.row.state, EnvState::Pending | EnvState::Ready)
                || v.deployments.iter().any(|x| x.state == "queued" || x.state == "deploying"))
            })
    });
    Effect::new(move |_| {
        if starting.get() {
            let bump = move || tick.update(|t| *t = t.wrapping_add(1));
            if let Ok(handle) = set_interval_with_handle(bump, std::time::Duration::from_secs(1)) {
                on_cleanup(move || handle.clear());
            }
        }
    });
}

#[component]
fn Detail(d: EnvironmentView, ui: Controls) -> impl IntoView {
    let row = d.row.clone();
    let now = client_now(d.now);
    let sections = detail_sections(&d, now, ui);
    let source = match (row.pr_number, row.git_ref.as_deref()) {
        (Some(n), _) => format!("pull request #{n}"),
        (None, Some(r)) => format!("branch {r}"),
        (None, None) => "—".into(),
    };
    view! {
        <Title text=row.name.clone() />
        <div class="mb-6 flex flex-wrap items-start justify-between gap-4">
            <div>
                <h1 class="flex flex-wrap items-center gap-3 text-2xl font-semibold tracking-tight">
                    <span data-testid="env-title">{row.name.clone()}</span>
                    <StateBadge state=row.state health=row.health />
                    <TierBadge tier=row.tier />
                </h1>
                <p class="mt-1 text-sm text-slate-600">
                    {format!("{} · team {} · ", row.app, row.team)}
                    {match row.pr_url.clone() {
                        Some(url) => view! { <a href=url target="_blank" rel="noopener" data-testid="pr-link" class="text-indigo-700 hover:underline">{source}</a> }.into_any(),
                        None => source.into_any(),
                    }}
                    {d.commit_sha.clone().map(|sha| view! {
                        " at "<code data-testid="commit" title=sha.clone() class="rounded bg-slate-100 px-1 text-xs">{sha.chars().take(12).collect::<String>()}</code>
                    })}
                    {format!(" · owner {}", row.owner.clone().unwrap_or_else(|| "—".into()))}
                </p>
                // Always there (hidden unless unhealthy): the page keeps its
                // shape when a live refresh races hydration.
                <div role="status" data-testid="unhealthy" hidden=row.health != Health::Unhealthy
                    class="mt-2 max-w-3xl rounded-md bg-red-50 p-2 text-sm text-red-800">
                    "Its health probe fails or its process is gone: the portal is restarting it, waiting longer after each failed restart. "
                    "Its resources still exist, so it is still charged until it is destroyed."
                </div>
                {d.failure.clone().map(|f| view! {
                    <div role="alert" class="mt-2 max-w-3xl rounded-md bg-red-50 p-2 text-sm text-red-800">
                        <p class="font-medium">"Failed:"</p>
                        <pre data-testid="failure" class="mt-1 max-h-80 overflow-auto whitespace-pre-wrap break-words font-mono text-xs">{f}</pre>
                    </div>
                })}
            </div>
            {row.url.clone().map(|url| view! {
                <a href=url.clone() target="_blank" rel="noopener" data-testid="env-url"
                    class="rounded-md bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500">
                    {format!("Open {} ↗", url.trim_start_matches("http://").trim_end_matches('/'))}
                </a>
            })}
        </div>

        {sections}
    }
}

/// The detail's sections, each type-erased (`into_any`) so the page's view
/// type stays small enough for the compiler.
fn detail_sections(d: &EnvironmentView, now: RwSignal<i64>, ui: Controls) -> AnyView {
    let row = d.row.clone();
    let expires_at = row.expires_at;
    let live_env = row.state.is_live();
    let ready_in = match &d.wait {
        Some(w) => {
            let seeded = if w.demo { ", demo seed: not measured" } else { "" };
            let how = match (w.path.as_str(), w.via.as_str()) {
                ("pool", via) => format!("warm pool, {via}{seeded}"),
                (_, via) => format!("cold start, {via}{seeded}"),
            };
            match w.wait_ms {
                Some(ms) => format!("{} ({how})", crate::domain::roi::wait_text(ms)),
                None if live_env || row.state == EnvState::Pending => format!("not ready yet ({how})"),
                None => format!("never ready ({how})"),
            }
        }
        None => "not measured (nobody waited: a pool fill or a long-lived environment)".into(),
    };
    let wait_ms = d.wait.as_ref().and_then(|w| w.wait_ms).map(|ms| ms.to_string());
    let expiry = view! {
            <section aria-labelledby="expiry-h" class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
                <h2 id="expiry-h" class="text-sm font-semibold uppercase tracking-wide text-slate-600">"Time left"</h2>
                {match (live_env, expires_at) {
                    (true, Some(at)) => view! {
                        <p class="mt-2 text-3xl font-semibold tabular-nums" data-testid="ttl-left">{move || ttl_left(Some(at), now.get()).label()}</p>
                        <p class="text-sm text-slate-600" data-testid="expires-at">{format!("until {} — then {}", utc_datetime(at), d.at_ttl)}</p>
                        {d.latest_expiry.map(|l| view! { <p class="text-xs text-slate-500">{format!("The tier allows extending up to {}.", utc_datetime(l))}</p> })}
                    }.into_any(),
                    (true, None) => view! { <p class="mt-2 text-slate-700">"No TTL: kept until destroyed by hand."</p> }.into_any(),
                    _ => view! { <p class="mt-2 text-slate-700">{d.destroyed_at.map(|t| format!("Destroyed {}", utc_datetime(t))).unwrap_or_else(|| "Gone".into())}</p> }.into_any(),
                }}
                {(live_env && expires_at.is_some() && d.extension_step_hours > 0).then(|| view! {
                    <ExtendForm id=row.id.clone() step=d.extension_step_hours needs_approval=d.extension_needs_approval ui />
                })}
            </section>
    }
    .into_any();
    let cost = view! {
            <section aria-labelledby="cost-h" class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
                <h2 id="cost-h" class="text-sm font-semibold uppercase tracking-wide text-slate-600">"Cost"</h2>
                <p class="mt-2 text-3xl font-semibold tabular-nums" data-testid="cost-so-far">{d.cost_so_far.to_string()}</p>
                <p class="text-sm text-slate-600">
                    {match d.projected { Some(p) => format!("so far · {p} if it runs to expiry"), None => "in total".into() }}
                </p>
                <table class="mt-3 w-full text-sm">
                    <caption class="sr-only">"Resources and their hourly rates"</caption>
                    <thead class="text-left text-xs text-slate-500"><tr><th scope="col">"Resource"</th><th scope="col">"Rate"</th><th scope="col" class="text-right">"Cost"</th></tr></thead>
                    <tbody>
                        {d.resources.iter().map(|r| view! {
                            <tr class="border-t border-slate-100">
                                <td class="py-1">{r.kind.clone()}<span class="ml-1 text-xs text-slate-500">{format!("({})", r.state)}</span></td>
                                <td class="py-1 tabular-nums">{format!("{}/h", r.hourly_rate)}</td>
                                <td class="py-1 text-right tabular-nums">{r.cost.to_string()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                {d.from_pool.then(|| view! { <p class="mt-2 text-xs text-slate-500">"Came from the warm pool: its waiting time is the platform's cost, not your team's."</p> })}
                {d.shared.then(|| view! { <p class="mt-2 text-xs text-slate-600" data-testid="shared-note">"Shared across teams: its cost is a shared cost, allocated on the Costs page."</p> })}
                {(d.can_mark_shared && live_env && row.state != EnvState::Failed).then(|| {
                    let (id, shared) = (row.id.clone(), d.shared);
                    view! {
                        <button type="button" class="mt-2 rounded-md border border-slate-300 px-2 py-1 text-xs hover:bg-slate-50"
                            on:click=move |_| { ui.share.dispatch(crate::api::costs::SetEnvironmentShared { id: id.clone(), shared: !shared }); }>
                            {if shared { "Charge to its own team from now" } else { "Mark shared across teams from now" }}
                        </button>
                    }
                })}
            </section>
    }
    .into_any();
    let facts = view! {
            <section aria-labelledby="facts-h" class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
                <h2 id="facts-h" class="text-sm font-semibold uppercase tracking-wide text-slate-600">"Facts"</h2>
                <dl class="mt-2 grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm">
                    <dt class="text-slate-500">"Created"</dt><dd>{utc_datetime(row.created_at)}</dd>
                    <dt class="text-slate-500">"Ready after"</dt><dd data-testid="ready-after" data-wait-ms=wait_ms>{ready_in}</dd>
                    <dt class="text-slate-500">"Snapshots"</dt>
                    <dd>{if d.snapshots.is_empty() { "none".to_string() } else { d.snapshots.join(", ") }}</dd>
                </dl>
                {live_env.then(|| view! {
                    <DestroyControl id=row.id.clone() name=row.name.clone() rule=d.destroy_rule.clone()
                        by_request=d.destroy_by_request allowed=d.may_destroy ui />
                })}
            </section>
    }
    .into_any();
    let requests = (!d.approvals.is_empty()).then(|| view! { <Requests items=d.approvals.clone() ui /> }.into_any());
    let rating = (row.state == EnvState::Destroyed)
        .then(|| view! { <Rating id=row.id.clone() mine=d.my_rating ui /> }.into_any());
    let timeline = view! {
            <section aria-labelledby="timeline-h" class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
                <h2 id="timeline-h" class="text-sm font-semibold uppercase tracking-wide text-slate-600">"Timeline"</h2>
                <ol class="mt-2 space-y-1 text-sm" data-testid="timeline">
                    {d.timeline.iter().map(|e| view! {
                        <li class="flex gap-3">
                            <time class="shrink-0 tabular-nums text-slate-500">{utc_datetime(e.at)}</time>
                            <span><span class="font-medium">{e.action.trim_start_matches("environment.").to_string()}</span>{format!(" by {}", e.actor)}
                                {(e.outcome != "success").then(|| format!(" ({})", e.outcome))}</span>
                        </li>
                    }).collect_view()}
                </ol>
            </section>
    }
    .into_any();
    let log = view! {
            <section aria-labelledby="log-h" class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
                <h2 id="log-h" class="text-sm font-semibold uppercase tracking-wide text-slate-600">"Process output (last 8 KB)"</h2>
                {match d.log_tail.clone() {
                    // Reversed column: the box opens scrolled to the newest output.
                    Some(log) if !log.is_empty() => view! {
                        <div class="mt-2 flex max-h-80 flex-col-reverse overflow-auto rounded bg-slate-900 p-3" tabindex="0">
                            <pre class="text-xs text-slate-100" data-testid="log-tail">{log}</pre>
                        </div>
                    }.into_any(),
                    _ => view! { <p class="mt-2 text-sm text-slate-600">"No output (nothing running on this host)."</p> }.into_any(),
                }}
            </section>
    }
    .into_any();
    let deployments = (live_env || !d.deployments.is_empty()).then(|| {
        view! { <Deployments id=row.id.clone() strategy=d.strategy.clone() may_operate=d.may_operate can_deploy=d.can_deploy items=d.deployments.clone() ui /> }
            .into_any()
    });
    view! {
        {requests}
        <div class="grid gap-4 lg:grid-cols-3">{expiry}{cost}{facts}</div>
        {deployments}
        {rating}
        <div class="mt-4 grid gap-4 lg:grid-cols-2">{timeline}{log}</div>
    }
    .into_any()
}

/// Redeploy (the branch as it is now, or a typed ref or commit) and the
/// deployment records: who, what, how, when ready, how it ended.
#[component]
fn Deployments(
    id: String,
    strategy: String,
    may_operate: bool,
    can_deploy: bool,
    items: Vec<DeploymentLine>,
    ui: Controls,
) -> impl IntoView {
    let (deploy, rollback) = (ui.deploy, ui.rollback);
    let pending = deploy.pending();
    let env_id = id.clone();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let what = ui.deploy_what.get_untracked().trim().to_string();
        let is_sha = crate::domain::repository::is_commit_sha(&what.to_ascii_lowercase());
        let (commit_sha, git_ref) = match what.as_str() {
            "" => (None, None),
            _ if is_sha => (Some(what), None),
            _ => (None, Some(what)),
        };
        deploy.dispatch(DeployEnvironment { id: env_id.clone(), commit_sha, git_ref });
    };
    let how = match strategy.as_str() {
        "recreate" => "recreate: stop, start, probe (a short gap)",
        "rolling" => "rolling: the new version starts beside the old and takes over once ready",
        _ => "blue-green: the new colour takes over once ready; the old one is kept 15 min for a rollback",
    };
    view! {
        <section aria-labelledby="deploy-h" class="mt-4 rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
            <h2 id="deploy-h" class="text-sm font-semibold uppercase tracking-wide text-slate-600">"Deployments"</h2>
            <p class="mt-1 text-sm text-slate-600" data-testid="strategy">{format!("This tier deploys by {how}.")}</p>
            // Shown by permission and only enabled while it can take one, so
            // the page's shape does not change as the state moves.
            {may_operate.then(|| view! {
                <form on:submit=on_submit class="mt-3 flex flex-wrap items-end gap-2 text-sm">
                    <label class="block">
                        <span class="text-xs font-medium text-slate-600">"Branch, refs/pull/N/head or commit (empty: its own branch now)"</span>
                        <input type="text" name="what" data-testid="deploy-what" maxlength="200"
                            class="mt-1 block w-96 max-w-full rounded-md border border-slate-300 px-2 py-1.5 font-mono"
                            prop:value=move || ui.deploy_what.get()
                            on:input=move |ev| ui.deploy_what.set(event_target_value(&ev)) />
                    </label>
                    <button type="submit" data-testid="redeploy" disabled=move || pending.get() || !can_deploy
                        title=if can_deploy { "" } else { "Only an active or idle environment with no deployment under way takes one." }
                        class="rounded-md bg-indigo-600 px-3 py-1.5 font-semibold text-white hover:bg-indigo-500 disabled:opacity-60">
                        "Redeploy"
                    </button>
                </form>
            })}
            {move || deploy.value().get().map(|r| match r {
                Ok(_) => view! { <p role="status" class="mt-2 text-sm text-emerald-800" data-testid="deploy-outcome">"Deployment queued."</p> }.into_any(),
                Err(err) => view! { <p role="alert" class="mt-2 text-sm text-red-800" data-testid="deploy-outcome">{err.to_string()}</p> }.into_any(),
            })}
            {move || rollback.value().get().map(|r| match r {
                Ok(()) => view! { <p role="status" class="mt-2 text-sm text-emerald-800" data-testid="rollback-outcome">"Rolling back: the previous colour takes the traffic again."</p> }.into_any(),
                Err(err) => view! { <p role="alert" class="mt-2 text-sm text-red-800" data-testid="rollback-outcome">{err.to_string()}</p> }.into_any(),
            })}
            {if items.is_empty() {
                view! { <p class="mt-2 text-sm text-slate-600">"No deployments yet: it runs the commit it was created at."</p> }.into_any()
            } else {
                view! {
                    <table class="mt-3 w-full text-sm" data-testid="deployments">
                        <caption class="sr-only">"Deployments, newest first"</caption>
                        <thead class="text-left text-xs text-slate-500">
                            <tr><th scope="col">"Asked (UTC)"</th><th scope="col">"Commit"</th><th scope="col">"Strategy"</th>
                                <th scope="col">"Outcome"</th><th scope="col">"By"</th><th scope="col">"Took"</th><th scope="col"></th></tr>
                        </thead>
                        <tbody>
                            {items.into_iter().map(|d| {
                                let took = d.finished_at.map(|f| crate::domain::roi::wait_text(f - d.created_at)).unwrap_or_else(|| "…".into());
                                let (env, dep) = (id.clone(), d.id.clone());
                                view! {
                                    <tr class="border-t border-slate-100 align-top" data-testid="deployment" data-state=d.state.clone()>
                                        <td class="py-1 tabular-nums">{utc_datetime(d.created_at)}</td>
                                        <td class="py-1"><code title=d.commit_sha.clone() class="rounded bg-slate-100 px-1 text-xs">{d.commit_sha.chars().take(12).collect::<String>()}</code>
                                            {d.git_ref.clone().map(|r| view! { <span class="ml-1 text-xs text-slate-500">{r}</span> })}</td>
                                        <td class="py-1">{d.strategy.clone()}</td>
                                        <td class="py-1"><span class="font-medium">{d.state.clone()}</span>
                                            {d.reason.clone().map(|r| view! { <span class="block max-w-md whitespace-pre-wrap text-xs text-red-800">{r}</span> })}</td>
                                        <td class="py-1">{d.requested_by.clone().unwrap_or_else(|| "the portal".into())}</td>
                                        <td class="py-1 tabular-nums">{took}</td>
                                        <td class="py-1 text-right">{d.can_roll_back.then(|| view! {
                                            <button type="button" data-testid="rollback" class="rounded-md border border-slate-300 px-2 py-1 text-xs hover:bg-slate-50"
                                                title=d.rollback_until.map(|u| format!("possible until {}", utc_datetime(u)))
                                                on:click=move |_| { rollback.dispatch(RollbackDeployment { id: env.clone(), deployment: dep.clone() }); }>
                                                "Roll back"
                                            </button>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn ExtendForm(id: String, step: i64, needs_approval: bool, ui: Controls) -> impl IntoView {
    let extend = ui.extend;
    let chosen = move || ui.hours.get_untracked().unwrap_or(step.clamp(1, 2));
    let pending = extend.pending();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !pending.get_untracked() {
            extend.dispatch(ExtendEnvironment { id: id.clone(), hours: chosen() });
        }
    };
    view! {
        <form on:submit=on_submit class="mt-3 flex flex-wrap items-end gap-2 text-sm">
            <label class="block">
                <span class="text-xs font-medium text-slate-600">"Extend by"</span>
                <select class="mt-1 block rounded-md border border-slate-300 px-2 py-1.5"
                    on:change=move |ev| ui.hours.set(event_target_value(&ev).parse().ok())>
                    {(1..=step.min(24 * 7)).map(|h| view! { <option value=h.to_string() selected=h == chosen()>{format!("{h} h")}</option> }).collect_view()}
                </select>
            </label>
            <button type="submit" data-testid="extend" disabled=move || pending.get()
                class="rounded-md border border-slate-300 px-3 py-1.5 font-medium hover:bg-slate-50 disabled:opacity-60">
                {if needs_approval { "Request extension" } else { "Extend" }}
            </button>
        </form>
        {move || extend.value().get().map(|r| match r {
            Ok(ExtendOutcome::NewExpiry(Some(at))) => view! { <p role="status" class="mt-2 text-sm text-emerald-800" data-testid="extend-outcome">{format!("New expiry: {}", utc_datetime(at))}</p> }.into_any(),
            Ok(ExtendOutcome::NewExpiry(None)) => view! { <p role="status" class="mt-2 text-sm">"No TTL to extend."</p> }.into_any(),
            Ok(ExtendOutcome::ApprovalRequested) => view! { <p role="status" class="mt-2 text-sm text-emerald-800" data-testid="extend-outcome">"Request sent: a platform admin (not you) approves extensions on this tier."</p> }.into_any(),
            Err(err) => view! { <p role="alert" class="mt-2 text-sm text-red-800" data-testid="extend-outcome">{err.to_string()}</p> }.into_any(),
        })}
    }
}

#[component]
fn DestroyControl(
    id: String,
    name: String,
    /// The tier's rule in words, said before the click.
    rule: Option<String>,
    by_request: bool,
    allowed: bool,
    ui: Controls,
) -> impl IntoView {
    let (destroy, confirming) = (ui.destroy, ui.confirming);
    let pending = destroy.pending();
    let (label, confirm) = if by_request {
        (
            "Request destroy…",
            format!(
                "Ask to destroy {name}? It waits in the approval queue; once approved it is snapshotted and destroyed."
            ),
        )
    } else {
        ("Destroy…", format!("Destroy {name}? Its process and data go; the tier's snapshot rule applies."))
    };
    view! {
        <div class="mt-4 border-t border-slate-100 pt-3">
            {rule.map(|r| view! { <p class="mb-2 text-xs text-slate-600" data-testid="destroy-rule">{r}"."</p> })}
            <button type="button" data-testid="destroy" hidden=move || confirming.get() disabled=!allowed
                class="rounded-md border border-red-300 px-3 py-1.5 text-sm font-medium text-red-700 hover:bg-red-50 disabled:cursor-not-allowed disabled:opacity-50"
                on:click=move |_| confirming.set(true)>
                {label}
            </button>
            <div hidden=move || !confirming.get() role="group" aria-label="Confirm destroy" class="text-sm">
                <p class="mb-2">{confirm}</p>
                <div class="flex gap-2">
                    <button type="button" data-testid="confirm-destroy" disabled=move || pending.get()
                        class="rounded-md bg-red-600 px-3 py-1.5 font-semibold text-white hover:bg-red-500 disabled:opacity-60"
                        on:click=move |_| { destroy.dispatch(DestroyEnvironment { id: id.clone() }); confirming.set(false); }>
                        {if by_request { "Request destroy" } else { "Destroy" }}
                    </button>
                    <button type="button" class="rounded-md border border-slate-300 px-3 py-1.5" on:click=move |_| confirming.set(false)>"Cancel"</button>
                </div>
            </div>
            {move || destroy.value().get().map(|r| match r {
                Ok(DestroyOutcome::ApprovalRequested) => view! { <p role="status" class="mt-2 text-sm text-emerald-800" data-testid="destroy-outcome">"Destroy requested: it waits for a platform admin's approval."</p> }.into_any(),
                Ok(DestroyOutcome::Started) => view! { <p role="status" class="mt-2 text-sm text-slate-700" data-testid="destroy-outcome">"Destroy under way."</p> }.into_any(),
                Err(err) => view! { <p role="alert" class="mt-2 text-sm text-red-800" data-testid="destroy-outcome">{err.to_string()}</p> }.into_any(),
            })}
        </div>
    }
}

/// The environment's approval requests: what is open (with Cancel for the
/// requester) and what was decided.
#[component]
fn Requests(items: Vec<ApprovalItem>, ui: Controls) -> impl IntoView {
    let cancel = ui.cancel;
    view! {
        <section aria-labelledby="requests-h" class="mb-4 rounded-lg border border-amber-200 bg-amber-50 p-4">
            <h2 id="requests-h" class="text-sm font-semibold uppercase tracking-wide text-amber-900">"Approval requests"</h2>
            <ul class="mt-2 space-y-2 text-sm">
                {items.into_iter().map(|a| {
                    let id = a.id.clone();
                    view! {
                        <li data-testid="approval" data-state=a.state.clone() data-kind=a.kind.clone()>
                            <span class="font-medium">{crate::pages::approvals::asked(&a)}</span>
                            {format!(" — asked by {} at {}: ", a.requested_by.clone().unwrap_or_else(|| "the portal (TTL reached)".into()), utc_datetime(a.requested_at))}
                            <span class="font-medium">{a.state.clone()}</span>
                            {(a.state == "pending").then(|| format!(" (decided by {} at the latest: SLA)", utc_datetime(a.sla_deadline)))}
                            {(a.state != "pending").then(|| {
                                let by = a.decided_by.clone().unwrap_or_else(|| "the SLA / the portal".into());
                                view! { <span class="block text-slate-700" data-testid="decision-reason">{match &a.decision_reason { Some(r) => format!("by {by}: {r}"), None => format!("by {by}") }}</span> }
                            })}
                            {a.may_cancel.then(|| view! {
                                <button type="button" data-testid="cancel-request" class="ml-2 rounded-md border border-slate-300 bg-white px-2 py-0.5 text-xs hover:bg-slate-50"
                                    on:click=move |_| { cancel.dispatch(CancelApproval { id: id.clone() }); }>"Cancel request"</button>
                            })}
                            {a.may_decide.then(|| view! { <a class="ml-2 text-xs text-indigo-700 underline" href="/approvals">"Decide in the queue"</a> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
            {move || cancel.value().get().and_then(|r| r.err()).map(|err| view! { <p role="alert" class="mt-2 text-sm text-red-800">{err.to_string()}</p> })}
        </section>
    }
}

fn rating_button_class(on: bool) -> &'static str {
    if on {
        "h-9 w-9 rounded-md bg-indigo-600 font-semibold text-white"
    } else {
        "h-9 w-9 rounded-md border border-indigo-300 bg-white font-semibold text-indigo-700"
    }
}

#[component]
fn Rating(id: String, mine: Option<i64>, ui: Controls) -> impl IntoView {
    let (rate, score, comment) = (ui.rate, ui.score, ui.comment);
    let pending = rate.pending();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let s = score.get_untracked();
        if (1..=5).contains(&s) && !pending.get_untracked() {
            let c = comment.get_untracked();
            rate.dispatch(RateEnvironment { id: id.clone(), score: s, comment: (!c.trim().is_empty()).then_some(c) });
        }
    };
    view! {
        <section aria-labelledby="rate-h" class="mt-4 rounded-lg border border-indigo-200 bg-indigo-50 p-4">
            <h2 id="rate-h" class="font-medium">"How well did this environment serve you?"</h2>
            {match mine {
                Some(s) => view! { <p class="mt-1 text-sm" data-testid="rated">{format!("Thanks — you rated it {s}/5.")}</p> }.into_any(),
                None => view! {
                    <form on:submit=on_submit class="mt-2 space-y-2 text-sm">
                        <div role="radiogroup" aria-label="Satisfaction, 1 to 5" class="flex gap-1">
                            {(1..=5).map(|n| view! {
                                <button type="button" role="radio" aria-checked=move || (score.get() == n).to_string()
                                    aria-label=format!("{n} of 5") data-testid=format!("rate-{n}")
                                    class=move || rating_button_class(score.get() >= n)
                                    on:click=move |_| score.set(n)>
                                    {n.to_string()}
                                </button>
                            }).collect_view()}
                        </div>
                        <label class="block">
                            <span class="text-xs text-slate-600">"Comment (optional)"</span>
                            <textarea maxlength="1000" rows="2" prop:value=move || comment.get() on:input=move |ev| comment.set(event_target_value(&ev))
                                class="mt-1 block w-full max-w-lg rounded-md border border-slate-300 px-2 py-1.5"></textarea>
                        </label>
                        <button type="submit" data-testid="send-rating" disabled=move || pending.get() || score.get() == 0
                            class="rounded-md bg-indigo-600 px-3 py-1.5 font-semibold text-white disabled:opacity-60">"Send"</button>
                        {move || rate.value().get().and_then(|r| r.err()).map(|err| view! { <p role="alert" class="text-red-800">{err.to_string()}</p> })}
                    </form>
                }.into_any(),
            }}
        </section>
    }
}
