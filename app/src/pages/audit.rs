//! The audit trail: filter by action, actor and outcome; page back in time;
//! download what the filters select as CSV.

use crate::api::audit::{list_audit, AuditQuery};
use crate::domain::time::utc_datetime;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AuditPage() -> impl IntoView {
    let params = use_query_map();
    let query = move || {
        let p = params.get();
        let get = |k: &str| p.get(k).unwrap_or_default();
        AuditQuery { action: get("action"), actor: get("actor"), outcome: get("outcome"), before: get("before") }
    };
    let page = Resource::new(query, list_audit);
    let csv_href = move || {
        let q = query();
        format!(
            "/audit.csv?action={}&actor={}&outcome={}",
            crate::domain::listing::encode(&q.action),
            crate::domain::listing::encode(&q.actor),
            crate::domain::listing::encode(&q.outcome)
        )
    };
    view! {
        <Title text="Audit trail" />
        <div class="mb-4 flex flex-wrap items-end justify-between gap-4">
            <div>
                <h1 class="text-2xl font-semibold tracking-tight">"Audit trail"</h1>
                <p class="text-sm text-slate-600">"Every sign-in, refusal and change, newest first. Append-only."</p>
            </div>
            <a href=csv_href class="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium hover:bg-slate-50" download>"Download CSV"</a>
        </div>
        <form method="get" action="/audit" class="mb-4 flex flex-wrap items-end gap-3 text-sm">
            <label class="block">
                <span class="font-medium">"Action starts with"</span>
                <input name="action" type="text" placeholder="auth." value=move || query().action class="mt-1 block rounded-md border border-slate-300 px-2 py-1" />
            </label>
            <label class="block">
                <span class="font-medium">"Actor"</span>
                <input name="actor" type="text" placeholder="login" value=move || query().actor class="mt-1 block rounded-md border border-slate-300 px-2 py-1" />
            </label>
            <label class="block">
                <span class="font-medium">"Outcome"</span>
                <select name="outcome" class="mt-1 block rounded-md border border-slate-300 px-2 py-1">
                    {["", "success", "denied", "failure"].into_iter().map(|o| view! {
                        <option value=o selected=move || query().outcome == o>{if o.is_empty() { "any" } else { o }}</option>
                    }).collect_view()}
                </select>
            </label>
            <button type="submit" class="rounded-md bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700">"Filter"</button>
        </form>
        <Suspense fallback=|| view! { <p class="text-slate-500">"Loading events…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => {
                        let older = page.next_before.clone().map(|b| {
                            let q = query();
                            format!("/audit?action={}&actor={}&outcome={}&before={}", crate::domain::listing::encode(&q.action), crate::domain::listing::encode(&q.actor), crate::domain::listing::encode(&q.outcome), crate::domain::listing::encode(&b))
                        });
                        view! {
                            <p class="mb-2 text-xs text-slate-500">{format!("Showing events of {}", page.scope)}</p>
                            <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
                                <table class="min-w-full divide-y divide-slate-200 text-sm">
                                    <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-600">
                                        <tr>
                                            <th scope="col" class="px-3 py-2">"When (UTC)"</th>
                                            <th scope="col" class="px-3 py-2">"Actor"</th>
                                            <th scope="col" class="px-3 py-2">"Action"</th>
                                            <th scope="col" class="px-3 py-2">"Target"</th>
                                            <th scope="col" class="px-3 py-2">"Outcome"</th>
                                            <th scope="col" class="px-3 py-2">"From"</th>
                                            <th scope="col" class="px-3 py-2">"Detail"</th>
                                        </tr>
                                    </thead>
                                    <tbody class="divide-y divide-slate-100">
                                        {page.rows.into_iter().map(|r| { let (action, outcome) = (r.action.clone(), r.outcome.clone()); view! {
                                            <tr data-testid="audit-row" data-action=action data-outcome=outcome>
                                                <td class="px-3 py-1.5 whitespace-nowrap">{utc_datetime(r.at)}</td>
                                                <td class="px-3 py-1.5">{r.actor}</td>
                                                <td class="px-3 py-1.5 font-mono text-xs">{r.action}</td>
                                                <td class="px-3 py-1.5 text-xs">{r.target}</td>
                                                <td class="px-3 py-1.5">{r.outcome}</td>
                                                <td class="px-3 py-1.5 text-xs">{r.ip.unwrap_or_default()}</td>
                                                <td class="px-3 py-1.5 font-mono text-xs break-all">{r.detail}</td>
                                            </tr>
                                        }}).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            {older.map(|href| view! { <a class="mt-3 inline-block text-sm text-indigo-700 underline" href=href>"Older events"</a> })}
                        }.into_any()
                    }
                    Err(err) => view! { <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}
