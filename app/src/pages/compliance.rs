//! Compliance (platform admins): each automated check with pass or fail,
//! its evidence and when it last ran; the scheduler runs them every
//! minute, Run now runs them at once.

use crate::api::policies::{compliance_results, RunComplianceChecks};
use crate::domain::time::utc_datetime;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn CompliancePage() -> impl IntoView {
    let run = ServerAction::<RunComplianceChecks>::new();
    let data = Resource::new(move || run.version().get(), |_| compliance_results());
    view! {
        <Title text="Compliance" />
        <div class="flex flex-wrap items-baseline justify-between gap-2">
            <h1 class="text-2xl font-semibold tracking-tight">"Compliance checks"</h1>
            <button type="button" data-testid="run-checks" class="rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-50"
                on:click=move |_| { run.dispatch(RunComplianceChecks {}); }>"Run now"</button>
        </div>
        <p class="mb-4 text-sm text-slate-600">"Rules over the configuration and the live data, run every minute."</p>
        {move || run.value().get().and_then(Result::err).map(|e| view! { <p role="alert" class="mb-3 text-sm text-red-800">{e.to_string()}</p> })}
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(rows) if rows.is_empty() => view! { <p class="text-sm text-slate-600">"Not run yet; Run now runs them."</p> }.into_any(),
                    Ok(rows) => view! {
                        <ul class="space-y-3">
                            {rows.into_iter().map(|r| view! {
                                <li class="rounded-lg border border-slate-200 bg-white p-4 text-sm shadow-sm" data-testid="check" data-id=r.id.clone()
                                    data-passed=r.passed.to_string()>
                                    <p class="flex flex-wrap items-baseline justify-between gap-2">
                                        <span class="font-medium">
                                            {if r.passed { view! { <span class="mr-2 rounded bg-emerald-100 px-1.5 text-emerald-800">"pass"</span> } } else { view! { <span class="mr-2 rounded bg-red-100 px-1.5 text-red-800">"fail"</span> } }}
                                            {r.title.clone()}
                                        </span>
                                        <span class="text-xs text-slate-500">{format!("checked {}", utc_datetime(r.checked_at))}</span>
                                    </p>
                                    <ul class="mt-1 list-disc pl-5 text-slate-700">
                                        {r.evidence.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}
                                    </ul>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(err) => view! { <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
