//! The Environments page: New preview in one click (or with options), and
//! the teams' environments — filtered, searched, sorted, paged, and kept
//! current by the live event stream without a reload.

use crate::api::environments::{
    list_environments, preview_options, EnvironmentList, EnvironmentRow, NewPreview, PreviewChoices,
};
use crate::components::badges::{StateBadge, TierBadge};
use crate::components::live::use_live;
use crate::domain::expiry::ttl_left;
use crate::domain::lifecycle::EnvState;
use crate::domain::listing::{ListQuery, Sort};
use crate::domain::tier::Tier;
use crate::domain::time::{short_duration, utc_datetime};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn EnvironmentsPage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| params.with(|m| ListQuery::from_params(|k| m.get(k))));
    let live = use_live();
    let create = ServerAction::<NewPreview>::new();
    let environments = Resource::new(
        move || (query.get(), live.version.get(), create.version().get()),
        |(q, _, _)| list_environments(q),
    );
    let options = Resource::new(|| (), |_| preview_options());
    view! {
        <Title text="Environments" />
        <div class="mb-4 flex flex-wrap items-end justify-between gap-4">
            <div>
                <h1 class="text-2xl font-semibold tracking-tight">"Environments"</h1>
                <p class="text-sm text-slate-600">"Your teams' environments. Changes appear here as they happen."</p>
                <BudgetHeadlines />
            </div>
            <Suspense fallback=|| view! { <div class="h-10 w-40"></div> }>
                {move || Suspend::new(async move {
                    match options.await {
                        Ok(choices) => view! { <NewPreviewControls choices create /> }.into_any(),
                        Err(err) => view! { <p role="alert" class="text-sm text-red-800">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
        <CreateOutcome create />
        // Transition keeps the current rows on screen while a refresh loads: no flicker, no layout shift.
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading environments…"</p> }>
            {move || Suspend::new(async move {
                match environments.await {
                    Ok(list) => view! { <Filters list=list.clone() /> <EnvironmentTable list /> }.into_any(),
                    Err(err) => view! {
                        <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Each of the viewer's teams with a budget: spent this month against it.
#[component]
fn BudgetHeadlines() -> impl IntoView {
    let headlines = Resource::new(|| (), |_| crate::api::costs::budget_headlines());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                headlines.await.ok().unwrap_or_default().into_iter().map(|h| {
                    let (pct, shown) = crate::domain::budget::usage(h.spent_micros, h.budget_micros);
                    let tone = if pct >= 100 { "text-red-800" } else if pct >= 80 { "text-amber-800" } else { "text-slate-600" };
                    view! {
                        <p class=format!("text-sm {tone}") data-testid="budget-headline">
                            {format!("Budget · {}: {} of {} this month ({shown})", h.team, h.spent_micros, h.budget_micros)}
                        </p>
                    }
                }).collect_view()
            })}
        </Suspense>
    }
}

/// One-click New preview (the user's latest app, its team, the lightweight
/// tier, branch `main`) and the panel with every choice.
#[component]
fn NewPreviewControls(choices: PreviewChoices, create: ServerAction<NewPreview>) -> impl IntoView {
    if choices.apps.is_empty() {
        return view! { <p class="text-sm text-slate-600">"Your teams have no apps yet."</p> }.into_any();
    }
    let choices = StoredValue::new(choices);
    let default_app = choices.with_value(|c| c.default_app.unwrap_or(0));
    let open = RwSignal::new(false);
    let app_idx = RwSignal::new(default_app);
    let tier = RwSignal::new(Tier::PreviewLightweight);
    let branch = RwSignal::new(String::new());
    let pr = RwSignal::new(String::new());
    let pending = create.pending();
    // A double click is one request: the second click lands while this is
    // set, however fast the first request returned.
    let cooling = RwSignal::new(false);
    let submit = move |app: usize, tier: Option<Tier>, branch: Option<String>, pr_number: Option<u64>| {
        if pending.get_untracked() || cooling.get_untracked() {
            return;
        }
        cooling.set(true);
        set_timeout(move || cooling.set(false), std::time::Duration::from_millis(1500));
        let Some(a) = choices.with_value(|c| c.apps.get(app).cloned()) else { return };
        create.dispatch(NewPreview { app: a.slug, team: Some(a.team), branch, pr_number, tier });
    };
    let default_label = choices.with_value(|c| {
        let a = &c.apps[default_app];
        format!("{} · {} · main · lightweight", a.team, a.slug)
    });
    let panel_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let b = branch.get_untracked().trim().to_string();
        let p = pr.get_untracked().trim().parse::<u64>().ok();
        submit(app_idx.get_untracked(), Some(tier.get_untracked()), (!b.is_empty()).then_some(b), p);
    };
    // A created preview closes the panel; a refusal leaves it open, ready
    // to correct and send again at once.
    Effect::new(move |_| match create.value().get() {
        Some(Ok(_)) => open.set(false),
        Some(Err(_)) => cooling.set(false),
        None => {}
    });
    view! {
        <div class="flex flex-col items-end gap-2">
            <div class="flex gap-2">
                <button type="button" data-testid="new-preview"
                    class="rounded-md bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500 focus:ring-offset-2 disabled:opacity-60"
                    disabled=move || pending.get() || cooling.get()
                    on:click=move |_| submit(default_app, None, None, None)>
                    {move || if pending.get() { "Creating…" } else { "New preview" }}
                </button>
                <button type="button" aria-expanded=move || open.get().to_string() aria-controls="new-preview-panel"
                    class="rounded-md border border-slate-300 bg-white px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-50"
                    on:click=move |_| open.update(|o| *o = !*o)>
                    "Options…"
                </button>
            </div>
            <p class="text-xs text-slate-500">{default_label}</p>
            <form id="new-preview-panel" hidden=move || !open.get() on:submit=panel_submit aria-label="New preview options"
                class="w-full max-w-md space-y-3 rounded-lg border border-slate-200 bg-white p-4 text-sm shadow-sm">
                <label class="block">
                    <span class="font-medium">"App"</span>
                    <select class="mt-1 block w-full rounded-md border border-slate-300 px-2 py-1.5"
                        on:change=move |ev| app_idx.set(event_target_value(&ev).parse().unwrap_or(0))>
                        {choices.with_value(|c| c.apps.iter().enumerate().map(|(i, a)| view! {
                            <option value=i.to_string() selected=i == default_app>{format!("{} ({})", a.name, a.team)}</option>
                        }).collect_view())}
                    </select>
                </label>
                <div class="grid grid-cols-2 gap-3">
                    <label class="block">
                        <span class="font-medium">"Branch"</span>
                        <input type="text" placeholder="main" maxlength="200" prop:value=move || branch.get()
                            on:input=move |ev| branch.set(event_target_value(&ev))
                            class="mt-1 block w-full rounded-md border border-slate-300 px-2 py-1.5" />
                    </label>
                    <label class="block">
                        <span class="font-medium">"or pull request #"</span>
                        <input type="number" min="1" inputmode="numeric" prop:value=move || pr.get()
                            on:input=move |ev| pr.set(event_target_value(&ev))
                            class="mt-1 block w-full rounded-md border border-slate-300 px-2 py-1.5" />
                    </label>
                </div>
                <fieldset>
                    <legend class="font-medium">"Tier"</legend>
                    {choices.with_value(|c| c.tiers.clone()).into_iter().map(|t| {
                        let estimate = move || choices.with_value(|c| c.estimate(app_idx.get(), t.tier))
                            .map(|m| format!("≈ {m} for the full TTL")).unwrap_or_default();
                        let ttl = t.ttl_ms.map(short_duration).unwrap_or_else(|| "no TTL".into());
                        view! {
                            <label class="mt-2 flex items-start gap-2 rounded-md border border-slate-200 p-2 has-[:checked]:border-indigo-400 has-[:checked]:bg-indigo-50">
                                <input type="radio" name="tier" class="mt-1" prop:checked=move || tier.get() == t.tier
                                    on:change=move |_| tier.set(t.tier) />
                                <span>
                                    <span class="font-medium">{t.tier.label()}</span>
                                    <span class="block text-xs text-slate-600">
                                        {format!("TTL {ttl}; then {}{}", t.at_ttl,
                                            if t.needs_approval_to_extend { "; extensions need approval" } else { "" })}
                                    </span>
                                    <span class="block text-xs text-slate-600">{estimate}</span>
                                </span>
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
                <button type="submit" disabled=move || pending.get()
                    class="rounded-md bg-indigo-600 px-4 py-2 font-semibold text-white hover:bg-indigo-500 disabled:opacity-60">
                    "Create preview"
                </button>
            </form>
        </div>
    }
    .into_any()
}

/// What the last New preview did: a link to it, or why it was refused.
#[component]
fn CreateOutcome(create: ServerAction<NewPreview>) -> impl IntoView {
    move || {
        create.value().get().map(|result| match result {
            Ok(created) => view! {
                <p role="status" data-testid="create-outcome" class="mb-4 rounded-md border border-emerald-200 bg-emerald-50 p-3 text-sm text-emerald-900">
                    <a class="font-medium underline" href=format!("/environments/{}", created.id)>{created.name.clone()}</a>
                    {if created.existing { " is this pull request's preview already (one per pull request)." }
                     else if created.state == EnvState::Pending { " is being created — it turns ready here in a few seconds." }
                     else { " is ready (from the warm pool)." }}
                    {created.budget_warning.clone().map(|w| view! {
                        <span data-testid="budget-warning" class="mt-1 block text-amber-900">{format!("Budget: {w}.")}</span>
                    })}
                </p>
            }.into_any(),
            Err(err) => view! {
                <p role="alert" data-testid="create-outcome" class="mb-4 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800">
                    {format!("Could not create a preview: {err}")}
                </p>
            }.into_any(),
        })
    }
}

/// Filter, search and sort as a GET form: every view is a shareable link.
#[component]
fn Filters(list: EnvironmentList) -> impl IntoView {
    let q = list.query.clone();
    let select = |name: &'static str, label: &'static str, current: Option<String>, values: Vec<(String, String)>| {
        view! {
            <label class="block text-xs font-medium text-slate-600">
                {label}
                <select name=name class="mt-1 block rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm text-slate-900">
                    <option value="">"Any"</option>
                    {values.into_iter().map(|(v, text)| {
                        let selected = current.as_deref() == Some(v.as_str());
                        view! { <option value=v selected=selected>{text}</option> }
                    }).collect_view()}
                </select>
            </label>
        }
    };
    let pairs = |v: Vec<String>| v.into_iter().map(|s| (s.clone(), s)).collect::<Vec<_>>();
    view! {
        <form method="get" action="/" role="search" aria-label="Filter environments"
            class="mb-3 flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-white p-3">
            <label class="block text-xs font-medium text-slate-600">
                "Search"
                <input type="search" name="q" value=q.search.clone().unwrap_or_default() placeholder="name or branch"
                    class="mt-1 block w-48 rounded-md border border-slate-300 px-2 py-1.5 text-sm text-slate-900" />
            </label>
            {select("team", "Team", q.team.clone(), pairs(list.teams.clone()))}
            {select("app", "App", q.app.clone(), pairs(list.apps.clone()))}
            {select("tier", "Tier", q.tier.map(|t| t.as_str().to_string()),
                Tier::ALL.iter().map(|t| (t.as_str().to_string(), t.label().to_string())).collect())}
            {select("state", "State", q.state.map(|s| s.as_str().to_string()),
                EnvState::ALL.iter().map(|s| (s.as_str().to_string(), s.as_str().to_string())).collect())}
            <label class="block text-xs font-medium text-slate-600">
                "Sort"
                <select name="sort" class="mt-1 block rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm text-slate-900">
                    {Sort::ALL.into_iter().map(|s| view! { <option value=s.as_str() selected=s == q.sort>{s.label()}</option> }).collect_view()}
                </select>
            </label>
            <button type="submit" class="rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-50">"Apply"</button>
            <a href="/" class="py-1.5 text-sm text-indigo-700 hover:underline">"Clear"</a>
        </form>
    }
}

#[component]
fn EnvironmentTable(list: EnvironmentList) -> impl IntoView {
    if list.rows.is_empty() {
        let filtered = list.query != ListQuery::default();
        return view! {
            <div class="rounded-lg border border-dashed border-slate-300 bg-white p-10 text-center">
                <h2 class="text-lg font-medium">{if filtered { "Nothing matches these filters" } else { "No environments yet" }}</h2>
                <p class="mt-1 text-sm text-slate-600">
                    {if filtered { "Clear the filters to see every live environment." } else { "Click New preview: you get a running environment for a branch in seconds, with its own URL." }}
                </p>
            </div>
        }
        .into_any();
    }
    let now = list.now;
    // Keyset pages know their neighbours, not their offset: the first page
    // counts from 1, later ones say how many they show.
    let shown = list.rows.len();
    let summary = if list.prev.is_none() {
        format!("1–{shown} of {}", list.total)
    } else {
        format!("{shown} shown of {}", list.total)
    };
    let link = |q: ListQuery| format!("/?{}", q.to_query_string());
    let first = list.prev.is_some().then(|| link(list.query.first_page()));
    let prev = list.prev.clone().map(link);
    let next = list.next.clone().map(link);
    let unhealthy = (list.unhealthy > 0).then(|| {
        view! {
            <p role="status" data-testid="unhealthy-count" class="mb-2 rounded-md bg-red-50 p-2 text-sm text-red-800">
                {format!(
                    "{} of your teams' running environments {} unhealthy: {} probe fails or {} process is gone, and the portal is restarting {}.",
                    list.unhealthy,
                    if list.unhealthy == 1 { "is" } else { "are" },
                    if list.unhealthy == 1 { "its" } else { "their" },
                    if list.unhealthy == 1 { "its" } else { "their" },
                    if list.unhealthy == 1 { "it" } else { "them" },
                )}
            </p>
        }
    });
    view! {
        {unhealthy}
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
            <table class="min-w-full divide-y divide-slate-200 text-sm">
                <caption class="sr-only">{format!("Environments, {summary}")}</caption>
                <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-600">
                    <tr>
                        <th scope="col" class="px-3 py-2">"Name"</th>
                        <th scope="col" class="px-3 py-2">"App"</th>
                        <th scope="col" class="px-3 py-2">"Tier"</th>
                        <th scope="col" class="px-3 py-2">"State"</th>
                        <th scope="col" class="px-3 py-2">"Owner"</th>
                        <th scope="col" class="px-3 py-2">"Age"</th>
                        <th scope="col" class="px-3 py-2">"TTL left"</th>
                        <th scope="col" class="px-3 py-2">"URL"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {list.rows.into_iter().map(|row| view! { <EnvironmentRowView row now /> }).collect_view()}
                </tbody>
            </table>
        </div>
        <nav aria-label="Pages" class="mt-2 flex items-center gap-4 text-sm text-slate-600">
            <span data-testid="list-summary">{summary}</span>
            {first.map(|href| view! { <a href=href class="text-indigo-700 hover:underline">"First"</a> })}
            {prev.map(|href| view! { <a href=href rel="prev" class="text-indigo-700 hover:underline">"← Previous"</a> })}
            {next.map(|href| view! { <a href=href rel="next" class="text-indigo-700 hover:underline">"Next →"</a> })}
        </nav>
    }
    .into_any()
}

#[component]
fn EnvironmentRowView(row: EnvironmentRow, now: i64) -> impl IntoView {
    let source = match (row.pr_number, row.git_ref.as_deref()) {
        (Some(n), _) => format!("PR #{n}"),
        (None, Some(r)) => r.to_string(),
        (None, None) => String::new(),
    };
    let ttl = ttl_left(row.expires_at, now);
    let ttl_class = match ttl {
        crate::domain::expiry::TtlLeft::Overdue(_) => "text-orange-700 font-medium",
        _ => "text-slate-700",
    };
    view! {
        <tr class="hover:bg-slate-50" data-testid="environment-row" data-env-name=row.name.clone() data-team=row.team.clone()>
            <td class="px-3 py-2">
                <a href=format!("/environments/{}", row.id) class="font-medium text-slate-900 hover:text-indigo-700 hover:underline">{row.name.clone()}</a>
                <span class="block text-xs text-slate-500">
                    {format!("{} · ", row.team)}
                    {match row.pr_url.clone() {
                        Some(url) => view! { <a href=url target="_blank" rel="noopener" data-testid="pr-link" class="text-indigo-700 hover:underline">{source}</a> }.into_any(),
                        None => source.into_any(),
                    }}
                </span>
            </td>
            <td class="px-3 py-2 whitespace-nowrap">{row.app}</td>
            <td class="px-3 py-2 whitespace-nowrap"><TierBadge tier=row.tier /></td>
            <td class="px-3 py-2"><StateBadge state=row.state health=row.health /></td>
            <td class="px-3 py-2">{row.owner.unwrap_or_else(|| "—".to_string())}</td>
            <td class="px-3 py-2 whitespace-nowrap" title=utc_datetime(row.created_at)>{short_duration(now - row.created_at)}</td>
            <td class=format!("px-3 py-2 whitespace-nowrap {ttl_class}") title=row.expires_at.map(utc_datetime).unwrap_or_default()>{ttl.label()}</td>
            <td class="px-3 py-2">
                {row.url.map(|url| view! {
                    <a href=url.clone() target="_blank" rel="noopener" class="text-indigo-700 underline-offset-2 hover:underline">{url.trim_start_matches("http://").trim_end_matches('/').to_string()}</a>
                })}
            </td>
        </tr>
    }
}
