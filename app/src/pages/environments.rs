//! The Environments page: the signed-in user's teams' live environments.

use crate::api::environments::{list_environments, EnvironmentList, EnvironmentRow};
use crate::components::badges::{StateBadge, TierBadge};
use crate::domain::expiry::ttl_left;
use crate::domain::time::{short_duration, utc_datetime};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn EnvironmentsPage() -> impl IntoView {
    let environments = Resource::new(|| (), |_| list_environments());
    view! {
        <Title text="Environments" />
        <div class="mb-4 flex items-end justify-between gap-4">
            <div>
                <h1 class="text-2xl font-semibold tracking-tight">"Environments"</h1>
                <p class="text-sm text-slate-600">"Live environments of your teams, newest first."</p>
            </div>
        </div>
        <Suspense fallback=|| view! { <p class="text-slate-500">"Loading environments…"</p> }>
            {move || Suspend::new(async move {
                match environments.await {
                    Ok(list) => view! { <EnvironmentTable list /> }.into_any(),
                    Err(err) => view! {
                        <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn EnvironmentTable(list: EnvironmentList) -> impl IntoView {
    if list.rows.is_empty() {
        return view! {
            <div class="rounded-lg border border-dashed border-slate-300 bg-white p-10 text-center">
                <h2 class="text-lg font-medium">"No environments yet"</h2>
                <p class="mt-1 text-sm text-slate-600">
                    "When you or your CI create a preview for a branch or pull request, it shows up here with its state, cost clock and URL."
                </p>
            </div>
        }
        .into_any();
    }
    let now = list.now;
    let count = list.rows.len();
    view! {
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
            <table class="min-w-full divide-y divide-slate-200 text-sm">
                <caption class="sr-only">{format!("{count} live environments")}</caption>
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
        <p class="mt-2 text-xs text-slate-500">{format!("{count} live environments")}</p>
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
                <span class="font-medium text-slate-900">{row.name.clone()}</span>
                <span class="block text-xs text-slate-500">{format!("{} · {}", row.team, source)}</span>
            </td>
            <td class="px-3 py-2 whitespace-nowrap">{row.app}</td>
            <td class="px-3 py-2 whitespace-nowrap"><TierBadge tier=row.tier /></td>
            <td class="px-3 py-2"><StateBadge state=row.state /></td>
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
