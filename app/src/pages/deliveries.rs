//! Pull-request webhook deliveries (platform admins: all; a team's
//! managers: their apps'): what arrived, whether its signature held, what
//! came of it, the environment it touched — and Re-run on the stored body.

use crate::api::webhooks::{list_deliveries, DeliveryRow, RerunDelivery};
use crate::components::live::use_live;
use crate::domain::time::utc_datetime;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn DeliveriesPage() -> impl IntoView {
    let live = use_live();
    let rerun = ServerAction::<RerunDelivery>::new();
    let tick = RwSignal::new(0_u32);
    let page = Resource::new(move || (live.version.get(), rerun.version().get(), tick.get()), |_| list_deliveries());
    poll_while_queued(page, tick);
    view! {
        <Title text="Webhook deliveries" />
        <h1 class="text-2xl font-semibold tracking-tight">"Webhook deliveries"</h1>
        <p class="mb-4 text-sm text-slate-600">
            "Pull-request events from GitHub (" <code>"/webhooks/github"</code> ") and GitLab (" <code>"/webhooks/gitlab"</code>
            "), newest first. Only signed deliveries keep their body for Re-run. Refused ones (a bad signature, a repository no app previews) belong to no app: platform admins see them here."
        </p>
        {move || rerun.value().get().map(|r| match r {
            Ok(()) => view! { <p role="status" data-testid="rerun-outcome" class="mb-3 rounded-md border border-emerald-200 bg-emerald-50 p-2 text-sm text-emerald-900">"Re-run queued: its outcome updates here when it has run."</p> }.into_any(),
            Err(e) => view! { <p role="alert" data-testid="rerun-outcome" class="mb-3 rounded-md border border-red-200 bg-red-50 p-2 text-sm text-red-800">{e.to_string()}</p> }.into_any(),
        })}
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading deliveries…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) if p.rows.is_empty() && p.reports.is_empty() => view! {
                        <p class="text-xs text-slate-500">{format!("Deliveries of {}", p.scope)}</p>
                        <p data-testid="no-deliveries" class="rounded-md border border-slate-200 bg-white p-4 text-slate-600">"No deliveries yet. Point a repository's pull-request webhook at this portal (see the README)."</p>
                    }.into_any(),
                    Ok(p) => view! {
                        <p class="mb-2 text-xs text-slate-500">{format!("Deliveries of {}", p.scope)}</p>
                        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
                            <table class="min-w-full divide-y divide-slate-200 text-sm">
                                <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-600">
                                    <tr>
                                        <th scope="col" class="px-3 py-2">"Received (UTC)"</th>
                                        <th scope="col" class="px-3 py-2">"Event"</th>
                                        <th scope="col" class="px-3 py-2">"Pull request"</th>
                                        <th scope="col" class="px-3 py-2">"Signature"</th>
                                        <th scope="col" class="px-3 py-2">"Answer"</th>
                                        <th scope="col" class="px-3 py-2">"Outcome"</th>
                                        <th scope="col" class="px-3 py-2">"Environment"</th>
                                        <th scope="col" class="px-3 py-2"><span class="sr-only">"Actions"</span></th>
                                    </tr>
                                </thead>
                                <tbody class="divide-y divide-slate-100">
                                    {p.rows.into_iter().map(|r| view! { <DeliveryRowView row=r rerun=rerun /> }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                        <Reports reports=p.reports />
                    }.into_any(),
                    Err(err) => view! { <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// A queued delivery's outcome is written when its job has run, which
/// may change no environment (so no live update): look again every 2 s
/// while any is waiting.
fn poll_while_queued(
    page: Resource<Result<crate::api::webhooks::DeliveriesPage, crate::error::AppError>>,
    tick: RwSignal<u32>,
) {
    let waiting = Memo::new(move |_| {
        page.with(|p| matches!(p, Some(Ok(p)) if p.rows.iter().any(|r| r.outcome.ends_with("queued"))))
    });
    Effect::new(move |_| {
        if waiting.get() {
            let bump = move || tick.update(|t| *t = t.wrapping_add(1));
            if let Ok(handle) = set_interval_with_handle(bump, std::time::Duration::from_secs(2)) {
                on_cleanup(move || handle.clear());
            }
        }
    });
}

#[component]
fn DeliveryRowView(row: DeliveryRow, rerun: ServerAction<RerunDelivery>) -> impl IntoView {
    let event = match (&row.event, &row.action) {
        (Some(e), Some(a)) => format!("{} {e} · {a}", row.provider),
        (Some(e), None) => format!("{} {e}", row.provider),
        _ => row.provider.clone(),
    };
    let pr = match (&row.repository, row.pr_number) {
        (Some(repo), Some(n)) => format!("{repo}#{n}"),
        (Some(repo), None) => repo.clone(),
        _ => "—".into(),
    };
    let pr = match &row.app {
        Some(app) => format!("{pr} → {app}"),
        None => pr,
    };
    let signature_class = if row.signature == "valid" { "text-emerald-800" } else { "font-medium text-red-700" };
    let id = row.id.clone();
    view! {
        <tr data-testid="delivery" data-id=row.id.clone() data-status=row.status.to_string() data-signature=row.signature.clone()>
            <td class="px-3 py-1.5 whitespace-nowrap" title=row.delivery_id.clone().unwrap_or_default()>{utc_datetime(row.received_at)}</td>
            <td class="px-3 py-1.5 whitespace-nowrap">{event}</td>
            <td class="px-3 py-1.5">{pr}</td>
            <td class=format!("px-3 py-1.5 {signature_class}")>{row.signature.clone()}</td>
            <td class="px-3 py-1.5">{row.status}</td>
            <td class="px-3 py-1.5 text-xs" data-testid="delivery-outcome">{row.outcome.clone()}</td>
            <td class="px-3 py-1.5">
                {match (row.environment_id.clone(), row.environment_name.clone()) {
                    (Some(id), Some(name)) => view! { <a href=format!("/environments/{id}") class="text-indigo-700 hover:underline">{name}</a> }.into_any(),
                    _ => view! { <span class="text-slate-400">"—"</span> }.into_any(),
                }}
            </td>
            <td class="px-3 py-1.5">
                {row.can_rerun.then(|| view! {
                    <button type="button" data-testid="rerun" class="rounded-md border border-slate-300 bg-white px-2 py-1 text-xs font-medium hover:bg-slate-50"
                        disabled=move || rerun.pending().get()
                        on:click=move |_| { rerun.dispatch(RerunDelivery { id: id.clone() }); }>"Re-run"</button>
                })}
            </td>
        </tr>
    }
}

/// What each pull request was told (a commit status and one comment), and
/// whether it got there: failures are retried and shown here.
#[component]
fn Reports(reports: Vec<crate::api::webhooks::ReportRow>) -> impl IntoView {
    view! {
        <section aria-labelledby="reports-heading" class="mt-8">
            <h2 id="reports-heading" class="text-lg font-semibold">"Reported to pull requests"</h2>
            <p class="mb-2 text-sm text-slate-600">"Each webhook-made preview's pull request gets a commit status and one comment kept up to date (with EOD_GITHUB_TOKEN / EOD_GITLAB_TOKEN set)."</p>
            {if reports.is_empty() {
                view! { <p class="text-sm text-slate-500">"Nothing reported yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="divide-y divide-slate-100 rounded-lg border border-slate-200 bg-white text-sm">
                        {reports.into_iter().map(|r| {
                            let how = match (&r.last_error, r.sent, r.sent_at) {
                                (Some(e), _, _) => format!("not sent ({} attempt{}): {e}", r.attempts, if r.attempts == 1 { "" } else { "s" }),
                                (None, true, Some(at)) => format!("sent {}", utc_datetime(at)),
                                _ => format!("waiting (next try {})", utc_datetime(r.next_attempt_at)),
                            };
                            let failed = r.last_error.is_some();
                            view! {
                                <li class="flex flex-wrap justify-between gap-2 px-3 py-2" data-testid="pr-report" data-state=r.state.clone() data-sent=r.sent.to_string()>
                                    <span>{format!("{}#{} · ", r.repository, r.pr_number)}
                                        <a href=format!("/environments/{}", r.environment_id) class="text-indigo-700 hover:underline">{r.environment_name.clone()}</a>
                                        {format!(" · {}", r.state)}</span>
                                    <span class=if failed { "text-red-700" } else { "text-slate-600" }>{how}</span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}
