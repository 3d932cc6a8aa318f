//! Maturity (platform admins and managers): the seed's Level 0–4 model on
//! its three axes, assessed from what the portal measured and has in force
//! over a window — each axis with its evidence and the next step — and the
//! assessment month by month for a year.

use super::roi::{DemoBanner, WindowPicker, CARD};
use crate::api::insights::{maturity_view, MaturityDashboard, MaturityMonth};
use crate::domain::maturity::{Axis, LEVELS};
use crate::domain::time::utc_datetime;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn MaturityPage() -> impl IntoView {
    let params = use_query_map();
    // A window that is not a number is refused like any other the page does not offer.
    let days = Memo::new(move |_| params.with(|m| m.get("days").map(|d| d.trim().parse::<u32>().unwrap_or(0))));
    let data = Resource::new(move || days.get(), maturity_view);
    view! {
        <Title text="Maturity" />
        <h1 class="text-2xl font-semibold tracking-tight">"Platform maturity"</h1>
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(v) => view! { <MaturityBody v /> }.into_any(),
                    Err(err) => view! {
                        <p role="alert" data-testid="maturity-error" class="mt-4 rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

fn level_name(level: u8) -> &'static str {
    LEVELS.get(usize::from(level)).copied().unwrap_or("?")
}

#[component]
fn MaturityBody(v: MaturityDashboard) -> impl IntoView {
    let a = v.assessment.clone();
    let any_demo = [&a.provisioning, &a.cost_control, &a.governance].iter().any(|x| x.evidence.iter().any(|e| e.demo));
    view! {
        <p class="mb-4 text-sm text-slate-600">
            "The seed's five levels, assessed on its three axes from this portal's own records: measured waits, the audit trail, budgets and alerts, the chargeback and the settings in force. "
            "A practice counts when it is configured and was seen working in the window. "
            {format!("Window: {} to {} (UTC).", utc_datetime(v.from), utc_datetime(v.to))}
        </p>
        {any_demo.then(|| view! {
            <DemoBanner text="Demo data: evidence marked “demo” stands (partly) on rows the demo seed invented; it is not a measurement." />
        })}
        <WindowPicker action="/maturity" days=v.days windows=v.windows.clone() />
        <section class=format!("{CARD} mb-6") aria-labelledby="overall-h" data-testid="overall" data-level=a.overall.to_string()>
            <h2 id="overall-h" class="text-sm font-medium text-slate-600">"Overall"</h2>
            <p class="text-3xl font-semibold">{level_name(a.overall)}</p>
            <p class="text-xs text-slate-500">"The overall level is the lowest of the three axes: a platform is only as self-service as its weakest practice (the seed's questions must all be answered yes at a level)."</p>
        </section>
        <div class="mb-6 grid gap-4 md:grid-cols-3">
            <AxisCard axis=a.provisioning.clone() id="provisioning" />
            <AxisCard axis=a.cost_control.clone() id="cost-control" />
            <AxisCard axis=a.governance.clone() id="governance" />
        </div>
        <section class=format!("{CARD} mb-6") aria-labelledby="history-h">
            <h2 id="history-h" class="mb-2 text-lg font-medium">"Twelve months"</h2>
            <p class="mb-2 text-xs text-slate-500">"Each month assessed again from what was stored about that month; settings that keep no history (tier TTLs, budgets) count as they are today."</p>
            <HistoryChart months=v.history.clone() />
        </section>
    }
}

#[component]
fn AxisCard(axis: Axis, id: &'static str) -> impl IntoView {
    view! {
        <section class=CARD data-testid=format!("axis-{id}") data-level=axis.level.to_string() aria-label=axis.name.clone()>
            <h2 class="text-sm font-medium text-slate-600">{axis.name.clone()}</h2>
            <p class="text-xl font-semibold" data-testid="axis-level">{level_name(axis.level)}</p>
            <h3 class="mt-3 text-xs font-semibold uppercase tracking-wide text-slate-500">"Evidence"</h3>
            <ul class="mt-1 space-y-1 text-sm" data-testid="evidence">
                {axis.evidence.iter().map(|e| view! {
                    <li>
                        {match e.link.clone() {
                            Some(href) => view! { <a class="text-indigo-700 underline" href=href>{e.text.clone()}</a> }.into_any(),
                            None => view! { <span>{e.text.clone()}</span> }.into_any(),
                        }}
                        {e.demo.then(|| view! { <span data-testid="demo-flag" class="ml-1 rounded bg-amber-100 px-1.5 py-0.5 text-xs font-medium text-amber-900">"demo"</span> })}
                    </li>
                }).collect_view()}
            </ul>
            <h3 class="mt-3 text-xs font-semibold uppercase tracking-wide text-slate-500">"Next step"</h3>
            <p class="mt-1 text-sm" data-testid="next-step">{axis.next_step.clone().unwrap_or_else(|| "None: this axis is at the top level.".into())}</p>
        </section>
    }
}

#[component]
fn HistoryChart(months: Vec<MaturityMonth>) -> impl IntoView {
    let (w, h, pad) = (720.0f64, 160.0f64, 28.0f64);
    let n = months.len().max(1) as f64;
    let slot = (w - 2.0 * pad) / n;
    let x = move |i: usize| pad + slot * (i as f64 + 0.5);
    let y = move |level: u8| h - pad - f64::from(level) / 4.0 * (h - 2.0 * pad);
    let line = |pick: fn(&MaturityMonth) -> u8, class: &'static str, dash: &'static str| {
        let d: String = months
            .iter()
            .enumerate()
            .map(|(i, m)| format!("{}{:.1},{:.1} ", if i == 0 { "M" } else { "L" }, x(i), y(pick(m))))
            .collect();
        view! { <path d=d class=format!("fill-none {class}") stroke-width="2" stroke-dasharray=dash /> }
    };
    let grid = (0..=4u8)
        .map(|l| view! {
            <line x1=format!("{pad}") x2=format!("{:.1}", w - pad) y1=format!("{:.1}", y(l)) y2=format!("{:.1}", y(l)) class="stroke-slate-200" />
            <text x="4" y=format!("{:.1}", y(l) + 3.0) class="fill-slate-500 text-[9px]">{format!("L{l}")}</text>
        })
        .collect_view();
    let labels = months
        .iter()
        .enumerate()
        .map(|(i, m)| view! {
            <text x=format!("{:.1}", x(i)) y=format!("{:.1}", h - 8.0) text-anchor="middle" class="fill-slate-500 text-[9px]">{m.month.clone()}</text>
        })
        .collect_view();
    let overall_dots = months
        .iter()
        .enumerate()
        .map(|(i, m)| view! {
            <circle cx=format!("{:.1}", x(i)) cy=format!("{:.1}", y(m.overall)) r="3.5" class="fill-slate-900">
                <title>{format!("{}: overall L{}, provisioning L{}, cost control L{}, governance L{}", m.month, m.overall, m.provisioning, m.cost_control, m.governance)}</title>
            </circle>
        })
        .collect_view();
    let rows = months.clone();
    view! {
        <svg viewBox=format!("0 0 {w} {h}") role="img" aria-label="Maturity level per month for twelve months" class="h-44 w-full" data-testid="history">
            {grid}
            {line(|m| m.provisioning, "stroke-indigo-500", "")}
            {line(|m| m.cost_control, "stroke-emerald-500", "6 3")}
            {line(|m| m.governance, "stroke-amber-500", "2 3")}
            {overall_dots}
            {labels}
        </svg>
        <p class="text-xs text-slate-500">"Indigo: provisioning · green dashed: cost control · amber dotted: governance · black dots: overall."</p>
        <details class="mt-2 text-sm"><summary class="cursor-pointer text-slate-600">"Figures"</summary>
            <table class="mt-1 w-full text-xs" data-testid="history-table">
                <thead><tr class="text-left"><th>"Month"</th><th>"Provisioning"</th><th>"Cost control"</th><th>"Governance"</th><th>"Overall"</th></tr></thead>
                <tbody>{rows.into_iter().map(|m| view! {
                    <tr><td>{m.month.clone()}</td><td>{m.provisioning}</td><td>{m.cost_control}</td><td>{m.governance}</td><td>{m.overall}</td></tr>
                }).collect_view()}</tbody>
            </table>
        </details>
    }
}
