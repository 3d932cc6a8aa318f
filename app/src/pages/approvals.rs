//! The approval queue (platform admins): pending requests with what is
//! asked, who asked, how long they have waited, the time left on the SLA
//! and what the environment has cost meanwhile; Approve, or Deny with a
//! reason; and the history, filtered. Updates live. Everyone else sees the
//! requests they made.

use crate::api::approvals::{approval_queue, ApprovalItem, CancelApproval, DecideApproval, HistoryFilter};
use crate::components::clock::client_now;
use crate::components::live::use_live;
use crate::domain::time::{short_duration, utc_datetime, HOUR_MS};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use std::collections::HashMap;

/// What a request asks, in words.
pub fn asked(a: &ApprovalItem) -> String {
    match (a.kind.as_str(), a.asked_ms) {
        ("extend", Some(ms)) if ms % HOUR_MS == 0 => format!("Extend {} by {} h", a.environment_name, ms / HOUR_MS),
        ("extend", Some(ms)) => format!("Extend {} by {}", a.environment_name, short_duration(ms)),
        ("destroy", _) => format!("Destroy {}", a.environment_name),
        (kind, _) => format!("{kind} {}", a.environment_name),
    }
}

fn requester(a: &ApprovalItem) -> String {
    a.requested_by.clone().unwrap_or_else(|| "the portal (TTL reached)".into())
}

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        query.with(|q| HistoryFilter {
            state: q.get("state").unwrap_or_default(),
            kind: q.get("kind").unwrap_or_default(),
            team: q.get("team").unwrap_or_default(),
        })
    });
    let live = use_live();
    let decide = ServerAction::<DecideApproval>::new();
    let cancel = ServerAction::<CancelApproval>::new();
    // Typed reasons survive the live refreshes that re-render the list.
    let reasons = RwSignal::new(HashMap::<String, String>::new());
    let view_data = Resource::new(
        move || (filter.get(), live.version.get(), decide.version().get(), cancel.version().get()),
        |(f, ..)| approval_queue(f),
    );
    view! {
        <Title text="Approvals" />
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading the queue…"</p> }>
            {move || Suspend::new(async move {
                match view_data.await {
                    Ok(v) => {
                        let heading = if v.approver { "Approval queue" } else { "Your approval requests" };
                        let now = client_now(v.now);
                        view! {
                            <h1 class="text-2xl font-semibold tracking-tight">{heading}</h1>
                            <p class="mb-4 text-sm text-slate-600">
                                {if v.approver {
                                    "Compliance extensions and destroys, and production destroys, wait here for a platform admin who did not ask for them. A request nobody decides gets its tier's SLA outcome."
                                } else {
                                    "Requests you made; a platform admin decides them. You can withdraw one while it is pending."
                                }}
                            </p>
                            {move || decide.value().get().map(|r| match r {
                                Ok(a) => view! { <p role="status" data-testid="decision-outcome" class="mb-3 rounded-md border border-emerald-200 bg-emerald-50 p-2 text-sm text-emerald-900">{format!("{}: {}.", asked(&a), a.state)}</p> }.into_any(),
                                Err(e) => view! { <p role="alert" data-testid="decision-outcome" class="mb-3 rounded-md border border-red-200 bg-red-50 p-2 text-sm text-red-800">{e.to_string()}</p> }.into_any(),
                            })}
                            {move || cancel.value().get().and_then(Result::err).map(|e| view! { <p role="alert" class="mb-3 text-sm text-red-800">{e.to_string()}</p> })}
                            <section aria-labelledby="pending-h" class="mb-6">
                                <h2 id="pending-h" class="mb-2 font-medium">{format!("Pending ({})", v.pending.len())}</h2>
                                {if v.pending.is_empty() {
                                    view! { <p class="text-sm text-slate-600" data-testid="queue-empty">"Nothing is waiting."</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="space-y-3" data-testid="queue">
                                            {v.pending.into_iter().map(|a| view! { <PendingCard a now decide cancel reasons /> }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                            </section>
                            <History items=v.history filter=filter.get_untracked() />
                        }.into_any()
                    }
                    Err(err) => view! {
                        <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p>
                        <p class="mt-2 text-sm"><a class="text-indigo-700 underline" href="/approvals">"Clear the filters"</a></p>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PendingCard(
    a: ApprovalItem,
    now: RwSignal<i64>,
    decide: ServerAction<DecideApproval>,
    cancel: ServerAction<CancelApproval>,
    reasons: RwSignal<HashMap<String, String>>,
) -> impl IntoView {
    let deadline = a.sla_deadline;
    let sla = move || {
        let left = deadline - now.get();
        if left > 0 {
            format!("{} left", short_duration(left))
        } else {
            "due now: the SLA outcome applies".into()
        }
    };
    let (id, id2, id3, id4) = (a.id.clone(), a.id.clone(), a.id.clone(), a.id.clone());
    // The TTL's own destroy cannot be denied: it must go (or be extended).
    let deniable = !(a.kind == "destroy" && a.requested_by.is_none());
    let requested_at = a.requested_at;
    let pending = decide.pending();
    view! {
        <li class="rounded-lg border border-slate-200 bg-white p-4 text-sm shadow-sm" data-testid="pending-request"
            data-id=a.id.clone() data-kind=a.kind.clone() data-env=a.environment_name.clone()>
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <p class="font-medium">
                    <a class="text-indigo-700 hover:underline" href=format!("/environments/{}", a.environment_id)>{asked(&a)}</a>
                    <span class="ml-2 text-xs text-slate-500">{format!("{} · {} · {}", a.team, a.tier, a.environment_state)}</span>
                </p>
                <p class="text-xs" class:text-red-700=move || deadline <= now.get() data-testid="sla-left">
                    {sla}{a.escalated_at.map(|_| " · escalated")}
                </p>
            </div>
            <dl class="mt-2 grid grid-cols-[auto_1fr] gap-x-3 gap-y-0.5 text-slate-700">
                <dt class="text-slate-500">"Asked by"</dt><dd data-testid="requester">{requester(&a)}</dd>
                <dt class="text-slate-500">"Waiting"</dt><dd>{move || format!("{} (since {})", short_duration((now.get() - requested_at).max(0)), utc_datetime(requested_at))}</dd>
                <dt class="text-slate-500">"Decide by"</dt><dd>{utc_datetime(a.sla_deadline)}</dd>
                <dt class="text-slate-500">"Cost while waiting"</dt>
                <dd data-testid="cost-waiting">{format!("{} (runs at {}/h)", a.cost_while_waiting, a.hourly)}</dd>
                {a.reason.clone().map(|r| view! { <dt class="text-slate-500">"Reason"</dt><dd>{r}</dd> })}
                {a.preview.as_ref().map(|p| view! { <dt class="text-slate-500">"Deciding on"</dt><dd data-testid="approver-sees">{seen_text(p)}</dd> })}
            </dl>
            {if a.may_decide {
                view! {
                    <div class="mt-3 flex flex-wrap items-end gap-2">
                        <button type="button" data-testid="approve" disabled=move || pending.get()
                            class="rounded-md bg-emerald-600 px-3 py-1.5 font-semibold text-white hover:bg-emerald-500 disabled:opacity-60"
                            on:click=move |_| {
                                let reason = reasons.with_untracked(|r| r.get(&id).cloned()).unwrap_or_default();
                                decide.dispatch(DecideApproval { id: id.clone(), approve: true, reason });
                            }>"Approve"</button>
                        {if deniable {
                            view! {
                                <label class="block">
                                    <span class="sr-only">"Reason"</span>
                                    <input data-testid="deny-reason" maxlength="1000" placeholder="Reason (required to deny)"
                                        class="w-72 rounded-md border border-slate-300 px-2 py-1.5"
                                        prop:value=move || reasons.with(|r| r.get(&id2).cloned().unwrap_or_default())
                                        on:input=move |ev| { let v = event_target_value(&ev); reasons.update(|r| { r.insert(id3.clone(), v); }); } />
                                </label>
                                <button type="button" data-testid="deny" disabled=move || pending.get()
                                    class="rounded-md border border-red-300 px-3 py-1.5 font-medium text-red-700 hover:bg-red-50 disabled:opacity-60"
                                    on:click=move |_| {
                                        let reason = reasons.with_untracked(|r| r.get(&id4).cloned()).unwrap_or_default();
                                        decide.dispatch(DecideApproval { id: id4.clone(), approve: false, reason });
                                    }>"Deny"</button>
                            }.into_any()
                        } else {
                            view! { <p class="text-xs text-slate-600" data-testid="ttl-destroy-note">"Past its TTL: it cannot be denied. Approve it, or approve an extension to keep the environment."</p> }.into_any()
                        }}
                    </div>
                }.into_any()
            } else if a.may_cancel {
                let id = a.id.clone();
                view! {
                    <p class="mt-3 text-slate-600" data-testid="own-request">
                        "You asked for this: another approver decides it. "
                        <button type="button" data-testid="cancel-request" class="rounded-md border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-50"
                            on:click=move |_| { cancel.dispatch(CancelApproval { id: id.clone() }); }>"Cancel request"</button>
                    </p>
                }.into_any()
            } else {
                ().into_any()
            }}
        </li>
    }
}

#[component]
fn History(items: Vec<ApprovalItem>, filter: HistoryFilter) -> impl IntoView {
    let field = "mt-1 block rounded-md border border-slate-300 px-2 py-1";
    let option = |value: &'static str, label: &'static str, current: &str| {
        view! { <option value=value selected=current == value>{label}</option> }
    };
    view! {
        <section aria-labelledby="history-h">
            <h2 id="history-h" class="mb-2 font-medium">"History"</h2>
            <form method="get" action="/approvals" class="mb-3 flex flex-wrap items-end gap-3 text-sm" aria-label="Filter the history">
                <label class="block"><span class="text-xs font-medium text-slate-600">"State"</span>
                    <select name="state" class=field>
                        {option("", "any", &filter.state)}
                        {option("approved", "approved", &filter.state)}
                        {option("denied", "denied", &filter.state)}
                        {option("expired", "expired", &filter.state)}
                        {option("cancelled", "cancelled", &filter.state)}
                    </select>
                </label>
                <label class="block"><span class="text-xs font-medium text-slate-600">"Kind"</span>
                    <select name="kind" class=field>
                        {option("", "any", &filter.kind)}
                        {option("extend", "extend", &filter.kind)}
                        {option("destroy", "destroy", &filter.kind)}
                    </select>
                </label>
                <label class="block"><span class="text-xs font-medium text-slate-600">"Team (slug)"</span>
                    <input name="team" value=filter.team.clone() class=field placeholder="any" />
                </label>
                <button type="submit" class="rounded-md border border-slate-300 px-3 py-1.5 font-medium hover:bg-slate-50">"Filter"</button>
            </form>
            {if items.is_empty() {
                view! { <p class="text-sm text-slate-600">"No decided requests match."</p> }.into_any()
            } else {
                view! {
                    <table class="w-full rounded-lg border border-slate-200 bg-white text-sm shadow-sm" data-testid="history">
                        <thead><tr class="text-left text-slate-600">
                            <th class="px-3 py-2">"Request"</th><th>"Team"</th><th>"Asked by"</th><th>"Asked"</th>
                            <th>"Outcome"</th><th>"By"</th><th>"Reason"</th><th>"Cost while waiting"</th><th>"Approver saw"</th>
                        </tr></thead>
                        <tbody>
                            {items.into_iter().map(|a| view! {
                                <tr class="border-t border-slate-100 align-top" data-testid="history-row" data-state=a.state.clone()>
                                    <td class="px-3 py-1"><a class="text-indigo-700 hover:underline" href=format!("/environments/{}", a.environment_id)>{asked(&a)}</a></td>
                                    <td>{a.team.clone()}</td>
                                    <td>{requester(&a)}</td>
                                    <td class="tabular-nums">{utc_datetime(a.requested_at)}</td>
                                    <td>{a.state.clone()}{a.decided_at.map(|t| format!(" {}", utc_datetime(t)))}</td>
                                    <td>{a.decided_by.clone().unwrap_or_else(|| "SLA / portal".into())}</td>
                                    <td>{a.decision_reason.clone().unwrap_or_default()}</td>
                                    <td class="tabular-nums">{a.cost_while_waiting.to_string()}</td>
                                    <td class="text-xs text-slate-600">{a.seen.as_ref().map(seen_text)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

fn seen_text(s: &crate::api::approvals::Seen) -> String {
    use crate::domain::money::Micros;
    let mut parts = vec![format!("cost so far {}", Micros(s.cost_so_far_micros))];
    if s.adds_micros > 0 {
        parts.push(format!("adds {}", Micros(s.adds_micros)));
    }
    match s.budget_headroom_micros {
        Some(h) if h < 0 => parts.push(format!("team over budget by {}", Micros(-h))),
        Some(h) => parts.push(format!("budget headroom {}", Micros(h))),
        None => parts.push("no budget".into()),
    }
    if let Some(at) = s.new_expires_at {
        parts.push(format!("new expiry {}", utc_datetime(at)));
    }
    parts.join(" · ")
}
