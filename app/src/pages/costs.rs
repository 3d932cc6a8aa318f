//! Costs: a team's (or every team's) month — total, forecast, breakdowns,
//! shared costs and their allocation, the twelve-month trend with the
//! budget line, the budget and its alerts, the reconciliation, and the
//! exports.

use crate::api::costs::{costs_report, CostsView, SetBudget, TrendPoint};
use crate::domain::money::Micros;
use crate::domain::time::utc_datetime;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn CostsPage() -> impl IntoView {
    let params = use_query_map();
    let selection = Memo::new(move |_| {
        params.with(|m| (m.get("month").filter(|s| !s.is_empty()), m.get("team").filter(|s| !s.is_empty())))
    });
    let set_budget = ServerAction::<SetBudget>::new();
    let report = Resource::new(
        move || (selection.get(), set_budget.version().get()),
        |((month, team), _)| costs_report(month, team),
    );
    view! {
        <Title text="Costs" />
        <h1 class="text-2xl font-semibold tracking-tight">"Costs"</h1>
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading costs…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(v) => view! { <CostsBody v set_budget /> }.into_any(),
                    Err(err) => view! {
                        <p role="alert" data-testid="costs-error" class="mt-4 rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

fn money(m: Micros) -> String {
    m.to_string()
}

#[component]
fn CostsBody(v: CostsView, set_budget: ServerAction<SetBudget>) -> impl IntoView {
    let query = format!(
        "month={}{}",
        v.month,
        v.team.as_ref().map(|t| format!("&team={t}")).unwrap_or_else(|| "&team=all".into())
    );
    let v = StoredValue::new(v);
    let field = "mt-1 block rounded-md border border-slate-300 px-2 py-1.5";
    let card = "rounded-lg border border-slate-200 bg-white p-4 shadow-sm";
    view! {
        <p class="mb-4 text-sm text-slate-600">
            "Computed from each environment's recorded resource time and the price book's hourly rates, to the micro-dollar. "
            {v.with_value(|v| v.demo).then_some("Demo mode: the history before this portal started is seeded demo data, not measured.")}
        </p>
        <form method="get" action="/costs" class="mb-6 flex flex-wrap items-end gap-3 text-sm" aria-label="Choose month and team">
            <label class="block"><span class="font-medium">"Month (UTC)"</span>
                <select name="month" class=field>
                    {v.with_value(|v| v.months.iter().map(|m| view! { <option value=m.clone() selected=*m == v.month>{m.clone()}</option> }).collect_view())}
                </select>
            </label>
            <label class="block"><span class="font-medium">"Team"</span>
                <select name="team" class=field>
                    {v.with_value(|v| v.can_view_all.then(|| view! { <option value="all" selected=v.team.is_none()>"All teams"</option> }))}
                    {v.with_value(|v| v.team_choices.iter().map(|(slug, name)| view! {
                        <option value=slug.clone() selected=v.team.as_deref() == Some(slug.as_str())>{name.clone()}</option>
                    }).collect_view())}
                </select>
            </label>
            <button type="submit" class="rounded-md border border-slate-300 bg-white px-3 py-1.5 font-medium hover:bg-slate-50">"Show"</button>
            <span class="ml-auto flex gap-3">
                <a data-testid="export-csv" class="font-medium text-indigo-700 underline" href=format!("/api/v1/costs/export.csv?{query}") download>"Download CSV"</a>
                <a data-testid="export-focus" class="font-medium text-indigo-700 underline" href=format!("/api/v1/costs/focus.csv?{query}") download>"Download FOCUS 1.3"</a>
            </span>
        </form>

        <section class="mb-6 grid gap-4 md:grid-cols-3" aria-label="Totals">
            <div class=card>
                <h2 class="text-sm font-medium text-slate-600">{v.with_value(|v| format!("{} · {}", v.team_name, v.month))}</h2>
                <p class="text-3xl font-semibold" data-testid="month-total" data-micros=v.with_value(|v| v.total_micros.0.to_string())>{v.with_value(|v| money(v.total_micros))}</p>
                <p class="text-xs text-slate-500">{v.with_value(|v| if v.month_closed {
                    "The whole month (closed).".to_string()
                } else {
                    format!("Month to date, up to {}.", utc_datetime(v.as_of))
                })}</p>
                <p class="mt-1 text-xs text-slate-600">{v.with_value(|v| format!("Direct {} · shared {}{}", money(v.direct_micros), money(v.allocated_micros),
                    if v.team.is_none() { format!(" · unallocated {}", money(v.unallocated_micros)) } else { String::new() }))}</p>
            </div>
            <div class=card>
                <h2 class="text-sm font-medium text-slate-600">"Forecast to month end"</h2>
                <p class="text-3xl font-semibold" data-testid="forecast">{v.with_value(|v| money(v.forecast_micros))}</p>
                <p class="text-xs text-slate-500">"Month to date, plus each running environment until its own expiry or the month's end, long-lived ones and pool members at their current rates; shared costs allocated the same way."</p>
            </div>
            <BudgetCard v=v.get_value() set_budget />
        </section>

        <section class=format!("{card} mb-6") aria-labelledby="trend-h">
            <h2 id="trend-h" class="mb-2 text-lg font-medium">"Twelve months"</h2>
            <TrendChart points=v.with_value(|v| v.trend.clone()) />
        </section>

        <section class=format!("{card} mb-6") aria-labelledby="envs-h">
            <h2 id="envs-h" class="mb-2 text-lg font-medium">"By environment"</h2>
            <div class="overflow-x-auto"><EnvTable v=v.get_value() /></div>
        </section>

        <section class="mb-6 grid gap-4 md:grid-cols-3">
            <div class=card><h2 class="mb-2 font-medium">"By tier"</h2><Breakdown id="tier" label="Tier" rows=v.with_value(|v| v.by_tier.clone()) /></div>
            <div class=card><h2 class="mb-2 font-medium">"By app"</h2><Breakdown id="app" label="App" rows=v.with_value(|v| v.by_app.clone()) /></div>
            <div class=card><h2 class="mb-2 font-medium">"By resource kind"</h2><Breakdown id="kind" label="Resource kind" rows=v.with_value(|v| v.by_kind.clone()) /></div>
        </section>

        <section class=format!("{card} mb-6") aria-labelledby="shared-h">
            <h2 id="shared-h" class="mb-2 text-lg font-medium">"Shared costs"</h2>
            <div class="overflow-x-auto"><SharedCosts v=v.get_value() /></div>
        </section>

        <section class=format!("{card} mb-6") aria-labelledby="rec-h" data-testid="reconciliation">
            <h2 id="rec-h" class="mb-2 text-lg font-medium">"Reconciliation"</h2>
            {v.with_value(|v| {
                let r = v.reconciliation.clone();
                let platform = match (r.teams_micros, r.unallocated_micros, r.platform_total_micros) {
                    (Some(t), Some(u), Some(p)) => Some((t, u, p)),
                    _ => None,
                };
                let (eq, micros) = match platform {
                    None => (
                        format!("Σ environments {} + Σ allocated shared {} = team total {}", money(r.environments_micros), money(r.allocated_micros), money(r.selection_total_micros)),
                        format!("In micro-dollars: {} + {} = {}", r.environments_micros.0, r.allocated_micros.0, r.selection_total_micros.0),
                    ),
                    Some((_, u, _)) => (
                        format!("Σ environments {} + Σ allocated shared {} + unallocated {} = total {}", money(r.environments_micros), money(r.allocated_micros), money(u), money(r.selection_total_micros)),
                        format!("In micro-dollars: {} + {} + {} = {}", r.environments_micros.0, r.allocated_micros.0, u.0, r.selection_total_micros.0),
                    ),
                };
                view! {
                    <ul class="space-y-1 font-mono text-sm">
                        <li>{eq}</li>
                        {platform.map(|(t, u, p)| view! {
                            <li>{format!("Σ teams {} + unallocated {} = platform total {} ({} + {} = {} µ$)", money(t), money(u), money(p), t.0, u.0, p.0)}</li>
                        })}
                        <li>{micros}</li>
                        <li data-testid="balanced" class=if r.balanced { "text-emerald-800" } else { "text-red-800" }>
                            {if r.balanced { "Both sums hold exactly. The CSV's cost_usd column and the FOCUS file's BilledCost sum to the same total." } else { "The sums do not hold: please report this." }}
                        </li>
                    </ul>
                }
            })}
        </section>
    }
}

#[component]
fn BudgetCard(v: CostsView, set_budget: ServerAction<SetBudget>) -> impl IntoView {
    let card = "rounded-lg border border-slate-200 bg-white p-4 shadow-sm";
    let Some(team) = v.team.clone() else {
        return view! {
            <div class=card>
                <h2 class="text-sm font-medium text-slate-600">"Budgets"</h2>
                <p class="text-sm text-slate-600">"Budgets are per team: pick a team to see or set its budget."</p>
            </div>
        }
        .into_any();
    };
    let status = match &v.budget {
        None => view! { <p class="text-sm text-slate-600" data-testid="budget-state">"No budget set."</p> }.into_any(),
        Some(b) => {
            let (pct, shown) = crate::domain::budget::usage(v.total_micros, b.amount_micros);
            let tone = if pct >= 100 {
                "text-red-800"
            } else if pct >= 80 {
                "text-amber-800"
            } else {
                "text-emerald-800"
            };
            view! {
                <p class=format!("text-lg font-semibold {tone}") data-testid="budget-state">
                    {format!("{} of {} ({shown})", v.total_micros, b.amount_micros)}
                </p>
                <p class="text-xs text-slate-600">{format!("Forecast {} · alert levels {} · set for {} onwards",
                    b.forecast_pct.map_or("—".to_string(), |p| format!("{p}%")), b.thresholds.iter().map(|t| format!("{t}%")).collect::<Vec<_>>().join(", "), b.since)}</p>
                <ul class="mt-1 text-xs" data-testid="budget-alerts">
                    {b.alerts.iter().map(|a| view! {
                        <li>{format!("{} {}% reached {} ({} of a {} budget); managers notified", a.basis, a.pct, utc_datetime(a.at), a.spent_micros, a.budget_micros)}</li>
                    }).collect_view()}
                </ul>
            }
            .into_any()
        }
    };
    // The exact amount, so saving the form unchanged changes nothing.
    let amount = v
        .budget
        .as_ref()
        .map(|b| {
            crate::domain::export::dollars6(b.amount_micros).trim_end_matches('0').trim_end_matches('.').to_string()
        })
        .unwrap_or_default();
    let levels = v
        .budget
        .as_ref()
        .map(|b| b.thresholds.iter().map(u32::to_string).collect::<Vec<_>>().join(","))
        .unwrap_or_else(|| "50,80,100".into());
    view! {
        <div class=card>
            <h2 class="text-sm font-medium text-slate-600">"Budget"</h2>
            {status}
            {(!v.can_manage_budget && v.month_closed).then(|| view! {
                <p class="mt-2 text-xs text-slate-500">"Budgets are set from the current month on: pick the current month to change it."</p>
            })}
            {v.can_manage_budget.then(|| view! {
                <ActionForm action=set_budget attr:class="mt-2 flex flex-wrap items-end gap-2 text-sm" attr:aria-label="Set budget">
                    <input type="hidden" name="team" value=team.clone() />
                    <label class="block"><span class="font-medium">"Monthly budget ($)"</span>
                        <input name="amount" required inputmode="decimal" value=amount class="mt-1 block w-28 rounded-md border border-slate-300 px-2 py-1" /></label>
                    <label class="block"><span class="font-medium">"Alert at (%)"</span>
                        <input name="thresholds" value=levels class="mt-1 block w-28 rounded-md border border-slate-300 px-2 py-1" /></label>
                    <button type="submit" class="rounded-md bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700">"Save budget"</button>
                    {move || set_budget.value().get().and_then(Result::err).map(|e| view! { <p role="alert" class="w-full text-red-800">{e.to_string()}</p> })}
                </ActionForm>
            })}
        </div>
    }
    .into_any()
}

/// Which column a table is sorted by, and which way.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Label,
    Cost,
}

fn sort_button(label: &'static str, key: SortBy, sort: RwSignal<(SortBy, bool)>) -> impl IntoView {
    view! {
        <button type="button" class="font-medium hover:text-indigo-700"
            aria-sort=move || { let (k, desc) = sort.get(); if k == key { if desc { "descending" } else { "ascending" } } else { "none" } }
            on:click=move |_| sort.update(|(k, desc)| { if *k == key { *desc = !*desc } else { *k = key; *desc = key == SortBy::Cost } })>
            {label}
            {move || { let (k, desc) = sort.get(); (k == key).then_some(if desc { " ↓" } else { " ↑" }) }}
        </button>
    }
}

#[component]
fn Breakdown(id: &'static str, label: &'static str, rows: Vec<(String, Micros)>) -> impl IntoView {
    let sort = RwSignal::new((SortBy::Cost, true));
    let rows = StoredValue::new(rows);
    view! {
        <table class="w-full text-sm" data-testid=format!("by-{id}")>
            <thead><tr class="text-left text-slate-600">
                <th>{sort_button(label, SortBy::Label, sort)}</th>
                <th class="text-right">{sort_button("Cost", SortBy::Cost, sort)}</th>
            </tr></thead>
            <tbody>
                {move || {
                    let (key, desc) = sort.get();
                    let mut r = rows.get_value();
                    r.sort_by(|a, b| match key { SortBy::Label => a.0.cmp(&b.0), SortBy::Cost => a.1.cmp(&b.1) });
                    if desc { r.reverse(); }
                    r.into_iter().map(|(k, c)| view! { <tr class="border-t border-slate-100"><td>{k}</td><td class="text-right tabular-nums">{c.to_string()}</td></tr> }).collect_view()
                }}
            </tbody>
        </table>
    }
}

#[component]
fn EnvTable(v: CostsView) -> impl IntoView {
    if v.environments.is_empty() {
        return view! { <p class="text-sm text-slate-600">"No environment ran in this month."</p> }.into_any();
    }
    let sort = RwSignal::new((SortBy::Cost, true));
    let rows = StoredValue::new(v.environments);
    let show_team = v.team.is_none();
    view! {
        <table class="w-full text-sm" data-testid="by-environment">
            <thead><tr class="text-left text-slate-600">
                <th class="py-1">{sort_button("Environment", SortBy::Label, sort)}</th>
                {show_team.then(|| view! { <th>"Team"</th> })}
                <th>"App"</th><th>"Tier"</th><th>"Branch / PR"</th><th>"Resources"</th>
                <th class="text-right">{sort_button("Cost", SortBy::Cost, sort)}</th>
            </tr></thead>
            <tbody>
                {move || {
                    let (key, desc) = sort.get();
                    let mut r = rows.get_value();
                    r.sort_by(|a, b| match key { SortBy::Label => a.name.cmp(&b.name), SortBy::Cost => a.cost_micros.cmp(&b.cost_micros).then_with(|| b.name.cmp(&a.name)) });
                    if desc { r.reverse(); }
                    r.into_iter().map(|e| view! {
                        <tr class="border-t border-slate-100" data-testid="env-cost-row">
                            <td class="py-1"><a class="font-medium text-indigo-700 underline" href=format!("/environments/{}", e.id)>{e.name.clone()}</a></td>
                            {show_team.then(|| view! { <td>{e.team.clone()}</td> })}
                            <td>{e.app.clone()}</td><td>{e.tier.clone()}</td><td class="font-mono text-xs">{e.source.clone()}</td>
                            <td class="text-xs text-slate-600">{e.by_kind.iter().map(|(k, c)| format!("{k} {c}")).collect::<Vec<_>>().join(" · ")}</td>
                            <td class="text-right tabular-nums" data-micros=e.cost_micros.0.to_string()>{e.cost_micros.to_string()}</td>
                        </tr>
                    }).collect_view()
                }}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn SharedCosts(v: CostsView) -> impl IntoView {
    if v.shared.is_empty() {
        return view! { <p class="text-sm text-slate-600">"No shared cost this month."</p> }.into_any();
    }
    let all = v.team.is_none();
    view! {
        <table class="w-full text-sm" data-testid="shared-costs">
            <thead><tr class="text-left text-slate-600">
                <th class="py-1">"Pool"</th><th>"Rule"</th><th>"Made of"</th><th>"Allocated to"</th>
                <th class="text-right">"Pool cost"</th><th class="text-right">{if all { "Allocated" } else { "This team's share" }}</th>
            </tr></thead>
            <tbody>
                {v.shared.into_iter().map(|s| view! {
                    <tr class="border-t border-slate-100 align-top">
                        <td class="py-1 font-medium">{s.label.clone()}</td>
                        <td>{s.rule.clone()}</td>
                        <td class="text-xs text-slate-600">{s.sources.iter().take(6).map(|(k, c)| format!("{k} {c}")).collect::<Vec<_>>().join(" · ")}</td>
                        <td class="text-xs">{s.allocations.iter().map(|(t, c)| format!("{t} {c}")).collect::<Vec<_>>().join(" · ")}</td>
                        <td class="text-right tabular-nums">{s.pool_cost_micros.to_string()}</td>
                        <td class="text-right tabular-nums">{s.share_micros.to_string()}</td>
                    </tr>
                    {(all && s.unallocated_micros != Micros::ZERO).then(|| view! {
                        <tr class="text-amber-900" data-testid="unallocated">
                            <td class="py-1" colspan="5">{format!("Unallocated: {} — no team had usage this month", s.label)}</td>
                            <td class="text-right tabular-nums">{s.unallocated_micros.to_string()}</td>
                        </tr>
                    })}
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// Twelve bars (direct and shared stacked) with the budget as a step line;
/// inline SVG, nothing fetched.
#[component]
fn TrendChart(points: Vec<TrendPoint>) -> impl IntoView {
    let (w, h, pad) = (720.0f64, 180.0f64, 24.0f64);
    let max = points.iter().map(|p| p.total_micros.0.max(p.budget_micros.map_or(0, |b| b.0))).max().unwrap_or(0).max(1)
        as f64;
    let n = points.len().max(1) as f64;
    let slot = (w - pad) / n;
    let y = move |m: i64| h - pad - (m as f64 / max) * (h - 2.0 * pad);
    let bars = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let x = pad + i as f64 * slot + slot * 0.15;
            let bw = slot * 0.7;
            let yd = y(p.direct_micros.0);
            let yt = y(p.total_micros.0);
            view! {
                <g>
                    <title>{format!("{}: {} (direct {}, shared {}){}", p.month, p.total_micros, p.direct_micros, p.allocated_micros,
                        p.budget_micros.map(|b| format!(", budget {b}")).unwrap_or_default())}</title>
                    <rect x=format!("{x:.1}") y=format!("{yd:.1}") width=format!("{bw:.1}") height=format!("{:.1}", (h - pad - yd).max(0.0)) class="fill-indigo-500" />
                    <rect x=format!("{x:.1}") y=format!("{yt:.1}") width=format!("{bw:.1}") height=format!("{:.1}", (yd - yt).max(0.0)) class="fill-indigo-200" />
                    <text x=format!("{:.1}", x + bw / 2.0) y=format!("{:.1}", h - 6.0) text-anchor="middle" class="fill-slate-500 text-[10px]">{p.month[2..].to_string()}</text>
                </g>
            }
        })
        .collect_view();
    let budget_path: String = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let b = p.budget_micros?;
            let x0 = pad + i as f64 * slot;
            let yb = y(b.0);
            Some(format!("M{x0:.1},{yb:.1} H{:.1} ", x0 + slot))
        })
        .collect();
    let rows = points.clone();
    view! {
        <svg viewBox=format!("0 0 {w} {h}") role="img" aria-label="Cost per month for twelve months, with the budget line" class="h-48 w-full" data-testid="trend">
            {bars}
            <path d=budget_path class="fill-none stroke-red-600" stroke-width="2" stroke-dasharray="4 3" />
        </svg>
        <p class="text-xs text-slate-500">"Dark: direct cost · light: allocated shared cost · dashed red: budget."</p>
        <details class="mt-2 text-sm"><summary class="cursor-pointer text-slate-600">"Figures"</summary>
            <table class="mt-1 w-full text-xs"><thead><tr class="text-left"><th>"Month"</th><th class="text-right">"Direct"</th><th class="text-right">"Shared"</th><th class="text-right">"Total"</th><th class="text-right">"Budget"</th></tr></thead>
            <tbody>{rows.into_iter().map(|p| view! {
                <tr><td>{p.month.clone()}</td><td class="text-right">{p.direct_micros.to_string()}</td><td class="text-right">{p.allocated_micros.to_string()}</td>
                <td class="text-right">{p.total_micros.to_string()}</td><td class="text-right">{p.budget_micros.map(|b| b.to_string()).unwrap_or_else(|| "—".into())}</td></tr>
            }).collect_view()}</tbody></table>
        </details>
    }
}
