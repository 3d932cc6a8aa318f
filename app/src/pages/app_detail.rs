//! One app: its repository, default branch and blueprint (secret names
//! only), and what can be done with it — Try it (a throwaway preview of the
//! default branch), rebuild the template database, archive or restore, and
//! edit, unless the configuration file owns it.

use crate::api::apps::{get_app, AppView, ArchiveApp, RebuildAppTemplate, RegisterApp, TryApp, UpdateApp};
use crate::domain::money::Micros;
use crate::domain::time::utc_datetime;
use crate::pages::apps::{problem_alert, AppBadges, AppFields, AppFormFields};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

/// The page's actions, above the data so a refetch keeps an open edit form.
#[derive(Clone, Copy)]
struct Controls {
    try_it: ServerAction<TryApp>,
    rebuild: ServerAction<RebuildAppTemplate>,
    archive: ServerAction<ArchiveApp>,
    update: ServerAction<UpdateApp>,
    editing: RwSignal<bool>,
}

#[component]
pub fn AppDetailPage() -> impl IntoView {
    let params = use_params_map();
    let key =
        Memo::new(move |_| params.with(|p| (p.get("team").unwrap_or_default(), p.get("slug").unwrap_or_default())));
    let ui = Controls {
        try_it: ServerAction::new(),
        rebuild: ServerAction::new(),
        archive: ServerAction::new(),
        update: ServerAction::new(),
        editing: RwSignal::new(false),
    };
    let Controls { try_it, rebuild, archive, update, editing } = ui;
    let app = Resource::new(
        move || (key.get(), update.version().get(), archive.version().get(), rebuild.version().get()),
        |((team, slug), ..)| get_app(team, slug),
    );
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = try_it.value().get() {
            navigate(&format!("/environments/{id}"), Default::default());
        }
    });
    Effect::new(move |_| {
        if matches!(update.value().get(), Some(Ok(_))) {
            editing.set(false);
        }
    });
    view! {
        <p class="mb-3 text-sm"><a href="/apps" class="text-indigo-700 hover:underline">"← Apps"</a></p>
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match app.await {
                    Ok(a) => view! { <AppDetail app=a ui /> }.into_any(),
                    Err(err) => view! {
                        <Title text="App" />
                        <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

const BUTTON: &str =
    "rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-50 disabled:opacity-60";

#[component]
fn AppDetail(app: AppView, ui: Controls) -> impl IntoView {
    let editable = app.can_edit && !app.managed_by_config;
    let (team, slug) = (app.team.clone(), app.slug.clone());
    let for_edit = app.clone();
    let facts = view! {
        <dl class="mt-4 grid max-w-3xl grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
            <dt class="text-slate-500">"Team"</dt><dd>{format!("{} ({})", app.team_name, app.team)}</dd>
            <dt class="text-slate-500">"Slug"</dt><dd class="font-mono">{app.slug.clone()}</dd>
            <dt class="text-slate-500">"Repository"</dt><dd class="break-all font-mono" data-testid="app-repository">{app.repository.clone()}</dd>
            <dt class="text-slate-500">"Default branch"</dt><dd class="font-mono" data-testid="app-branch">{app.default_branch.clone()}</dd>
            <dt class="text-slate-500">"Created"</dt><dd>{utc_datetime(app.created_at)}</dd>
            <dt class="text-slate-500">"Updated"</dt><dd>{app.updated_at.map(utc_datetime).unwrap_or_else(|| "—".into())}</dd>
        </dl>
    }
    .into_any();
    view! {
        <Title text=app.name.clone() />
        <h1 class="flex flex-wrap items-center gap-3 text-2xl font-semibold tracking-tight">
            <span data-testid="app-title">{app.name.clone()}</span>
            <AppBadges managed=app.managed_by_config archived=app.archived />
        </h1>
        {app.managed_by_config.then(|| view! {
            <p role="note" data-testid="managed-notice" class="mt-2 rounded-md border border-violet-200 bg-violet-50 p-2 text-sm text-violet-900">
                "Managed by the configuration file ([[app]]); read-only here."
            </p>
        })}
        {facts}
        <Actions team=team.clone() slug=slug.clone() archived=app.archived editable ui />
        {move || (editable && ui.editing.get()).then(|| view! { <EditForm app=for_edit.clone() ui /> })}
        <BlueprintView app />
    }
}

#[component]
fn Actions(team: String, slug: String, archived: bool, editable: bool, ui: Controls) -> impl IntoView {
    let Controls { try_it, rebuild, archive, editing, .. } = ui;
    let (t1, s1, t2, s2, t3, s3) = (team.clone(), slug.clone(), team.clone(), slug.clone(), team, slug);
    let trying = try_it.pending();
    view! {
        <div class="mt-4 flex flex-wrap items-center gap-2">
            {(!archived).then(|| view! {
                <button type="button" disabled=move || trying.get()
                    class="rounded-md bg-indigo-600 px-4 py-1.5 text-sm font-semibold text-white hover:bg-indigo-500 disabled:opacity-60"
                    on:click=move |_| { try_it.dispatch(TryApp { team: t1.clone(), slug: s1.clone() }); }>
                    "Try it"
                </button>
            })}
            <button type="button" class=BUTTON disabled=move || rebuild.pending().get()
                on:click=move |_| { rebuild.dispatch(RebuildAppTemplate { team: t2.clone(), slug: s2.clone() }); }>
                "Rebuild template database"
            </button>
            {editable.then(|| view! {
                <button type="button" class=BUTTON disabled=move || archive.pending().get()
                    on:click=move |_| { archive.dispatch(ArchiveApp { team: t3.clone(), slug: s3.clone(), archived: !archived }); }>
                    {if archived { "Restore" } else { "Archive" }}
                </button>
                <button type="button" class=BUTTON aria-expanded=move || editing.get().to_string()
                    on:click=move |_| editing.update(|e| *e = !*e)>
                    "Edit"
                </button>
            })}
        </div>
        {archived.then(|| view! { <p class="mt-2 text-sm text-slate-600">"Archived: restore it to make environments of it."</p> })}
        {move || trying.get().then(|| view! { <p role="status" class="mt-2 text-sm text-slate-600">"Starting a preview of the default branch…"</p> })}
        {move || try_it.value().get().and_then(Result::err).map(|e| view! { <p role="alert" class="mt-2 text-sm text-red-800">{e.to_string()}</p> })}
        {move || rebuild.value().get().map(|r| match r {
            Ok(_) => view! { <p role="status" class="mt-2 text-sm text-emerald-800" data-testid="rebuild-outcome">"The next environment builds a fresh template."</p> }.into_any(),
            Err(e) => view! { <p role="alert" class="mt-2 text-sm text-red-800" data-testid="rebuild-outcome">{e.to_string()}</p> }.into_any(),
        })}
        {move || archive.value().get().and_then(Result::err).map(|e| view! { <p role="alert" class="mt-2 text-sm text-red-800">{e.to_string()}</p> })}
    }
}

#[component]
fn EditForm(app: AppView, ui: Controls) -> impl IntoView {
    let Controls { update, editing, .. } = ui;
    let fields = AppFields::from_app(&app);
    let problem = RwSignal::new(None::<String>);
    let pending = update.pending();
    let base = app.blueprint_json;
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        match fields.args(&base) {
            Ok(RegisterApp { team, slug, name, repository, default_branch, blueprint, secrets }) => {
                problem.set(None);
                update.dispatch(UpdateApp { team, slug, name, repository, default_branch, blueprint, secrets });
            }
            Err(e) => problem.set(Some(e)),
        }
    };
    view! {
        <form on:submit=on_submit aria-labelledby="edit-h"
            class="mt-4 max-w-3xl space-y-4 rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
            <h2 id="edit-h" class="text-lg font-medium">"Edit app"</h2>
            <AppFormFields fields secrets_help="KEY=value sets, KEY= removes; existing values are kept and never shown." />
            <div class="flex gap-2">
                <button type="submit" disabled=move || pending.get()
                    class="rounded-md bg-indigo-600 px-4 py-2 text-sm font-medium text-white hover:bg-indigo-700 disabled:opacity-50">
                    "Save changes"
                </button>
                <button type="button" class=BUTTON on:click=move |_| editing.set(false)>"Cancel"</button>
            </div>
            {problem_alert(problem, move || update.value().get().and_then(Result::err))}
        </form>
    }
}

/// The blueprint, readably: commands, database recipe, variables, secret
/// names (never values) and priced resources.
#[component]
fn BlueprintView(app: AppView) -> impl IntoView {
    let bp = app.blueprint;
    let timeout = format!("{} s", bp.step_timeout_seconds());
    let or_none = |v: Option<String>| v.unwrap_or_else(|| "none".into());
    let row = |label: &'static str, value: String| {
        view! { <dt class="text-slate-500">{label}</dt><dd class="break-all font-mono text-xs leading-5">{value}</dd> }
    };
    let variables = if bp.env.is_empty() {
        view! { <p class="text-sm text-slate-600">"none"</p> }.into_any()
    } else {
        view! {
            <ul class="space-y-0.5 font-mono text-xs">
                {bp.env.iter().map(|(k, v)| view! { <li data-testid="variable">{format!("{k}={v}")}</li> }).collect_view()}
            </ul>
        }
        .into_any()
    };
    let secrets = if app.secret_names.is_empty() {
        view! { <p class="text-sm text-slate-600">"none"</p> }.into_any()
    } else {
        view! {
            <ul class="space-y-0.5 text-xs">
                {app.secret_names.into_iter().map(|n| view! {
                    <li data-testid="secret-name"><code>{n}</code>" "<span class="text-slate-500">"value hidden"</span></li>
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    let resources = match bp.resources {
        None => view! { <p class="text-sm text-slate-600">"The tier's defaults from the price book."</p> }.into_any(),
        Some(list) => view! {
            <ul class="space-y-0.5 text-xs">
                {list.into_iter().map(|r| view! { <li>{format!("{} — {}/h", r.kind, Micros(r.hourly_rate_micros))}</li> }).collect_view()}
            </ul>
        }
        .into_any(),
    };
    // A script blueprint's commands make everything: its steps, not a build and a start.
    let steps = if bp.driver == "script" {
        view! {
            <dl class="mt-2 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm" data-testid="script-steps">
                {row("Driver", "script (runs on the portal's host)".to_string())}
                {row("Create", or_none(bp.create))}
                {row("Status", or_none(bp.status))}
                {row("Destroy", or_none(bp.destroy))}
                {row("Snapshot", or_none(bp.snapshot))}
                {row("Step timeout", timeout)}
                {row("Health path", bp.health_path)}
            </dl>
        }
        .into_any()
    } else if bp.driver == "kubernetes" {
        let requests = bp.requests.clone().unwrap_or_default();
        view! {
            <dl class="mt-2 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm" data-testid="kubernetes-spec">
                {row("Driver", "kubernetes (a namespace per environment)".to_string())}
                {row("Image", or_none(bp.image))}
                {row("Port", bp.port.unwrap_or(8080).to_string())}
                {row("Requests", format!("cpu {}, memory {}", requests.cpu, requests.memory))}
                {row("Health path", bp.health_path)}
            </dl>
        }
        .into_any()
    } else {
        view! {
            <dl class="mt-2 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
                {row("Build command", or_none(bp.build))}
                {row("Build timeout", format!("{} s", bp.build_timeout_seconds))}
                {row("Start command", bp.start)}
                {row("Health path", bp.health_path)}
                {row("Seed file", or_none(bp.database.seed_file))}
                {row("Seed command", or_none(bp.database.seed))}
                {row("Migrate command", or_none(bp.database.migrate))}
            </dl>
        }
        .into_any()
    };
    view! {
        <section aria-labelledby="blueprint-h" data-testid="blueprint" class="mt-6 rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
            <h2 id="blueprint-h" class="text-sm font-semibold uppercase tracking-wide text-slate-600">"Blueprint"</h2>
            {steps}
            <div class="mt-4 grid gap-4 md:grid-cols-3">
                <div><h3 class="text-sm font-medium">"Variables"</h3>{variables}</div>
                <div><h3 class="text-sm font-medium">"Secrets"</h3>{secrets}</div>
                <div><h3 class="text-sm font-medium">"Resources"</h3>{resources}</div>
            </div>
        </section>
    }
}
