//! Notification channels (a team's managers and platform admins): add a
//! Slack incoming webhook or a signed webhook (its secret is shown once),
//! rotate or remove it, turn a disabled one back on, and read the delivery
//! log with Resend.

use crate::api::channels::{
    team_channels, AddChannel, EnableChannel, RemoveChannel, ResendDelivery, RotateChannelSecret,
};
use crate::api::session::whoami;
use crate::domain::access::TeamRole;
use crate::domain::time::utc_datetime;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn ChannelsPage() -> impl IntoView {
    let query = use_query_map();
    let me = Resource::new(|| (), |_| whoami());
    let add = ServerAction::<AddChannel>::new();
    let remove = ServerAction::<RemoveChannel>::new();
    let rotate = ServerAction::<RotateChannelSecret>::new();
    let enable = ServerAction::<EnableChannel>::new();
    let resend = ServerAction::<ResendDelivery>::new();
    let field = "mt-1 block rounded-md border border-slate-300 px-2 py-1";
    view! {
        <Title text="Notification channels" />
        <h1 class="text-2xl font-semibold tracking-tight">"Notification channels"</h1>
        <p class="mb-4 text-sm text-slate-600">
            "Events about a team's environments (ready, failed, expiring, destroyed), its approval requests and decisions, and its budget alerts go to its channels: "
            "a Slack incoming webhook (Block Kit with a text fallback) or a webhook signed the Standard Webhooks way. "
            "Deliveries retry with backoff on 5xx, 429 and timeouts (honouring Retry-After) up to 8 attempts; a 410 turns the channel off."
        </p>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let me = me.await.ok().flatten();
                let managed: Vec<String> = me.iter().flat_map(|v| v.memberships.iter())
                    .filter(|m| m.role == TeamRole::Manager || me.as_ref().is_some_and(|v| v.is_platform_admin))
                    .map(|m| m.team_slug.clone()).collect();
                let team = query.with(|q| q.get("team")).filter(|t| !t.is_empty()).or_else(|| managed.first().cloned()).unwrap_or_default();
                let data = Resource::new(
                    move || (add.version().get(), remove.version().get(), rotate.version().get(), enable.version().get(), resend.version().get()),
                    { let team = team.clone(); move |_| team_channels(team.clone()) },
                );
                view! {
                    <form method="get" action="/notifications" class="mb-4 flex items-end gap-2 text-sm" aria-label="Team">
                        <label class="block"><span class="text-xs font-medium text-slate-600">"Team (slug)"</span>
                            <input name="team" value=team.clone() list="managed-teams" class=field data-testid="channels-team" />
                            <datalist id="managed-teams">{managed.iter().map(|t| view! { <option value=t.clone() /> }).collect_view()}</datalist>
                        </label>
                        <button type="submit" class="rounded-md border border-slate-300 px-3 py-1.5">"Show"</button>
                    </form>
                    <ActionForm action=add attr:class="mb-4 flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-white p-4 text-sm shadow-sm" attr:aria-label="Add a channel">
                        <input type="hidden" name="team" value=team.clone() />
                        <label class="block"><span class="font-medium">"Kind"</span>
                            <select name="kind" class=field data-testid="channel-kind">
                                <option value="webhook">"Signed webhook"</option>
                                <option value="slack">"Slack incoming webhook"</option>
                            </select>
                        </label>
                        <label class="block"><span class="font-medium">"URL"</span>
                            <input name="url" required class="mt-1 block w-96 max-w-full rounded-md border border-slate-300 px-2 py-1" data-testid="channel-url" placeholder="https://hooks.slack.com/services/…" />
                        </label>
                        <button type="submit" data-testid="add-channel" class="rounded-md bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700">"Add"</button>
                    </ActionForm>
                    {move || add.value().get().map(|r| match r {
                        Ok(Some(secret)) => view! { <p role="status" class="mb-3 rounded-md border border-amber-300 bg-amber-50 p-2 text-sm">"Added. Its signing secret, shown only now: " <code data-testid="channel-secret">{secret}</code></p> }.into_any(),
                        Ok(None) => view! { <p role="status" class="mb-3 text-sm text-emerald-800" data-testid="channel-added">"Added."</p> }.into_any(),
                        Err(e) => view! { <p role="alert" class="mb-3 text-sm text-red-800" data-testid="channel-error">{e.to_string()}</p> }.into_any(),
                    })}
                    {move || rotate.value().get().map(|r| match r {
                        Ok(secret) => view! { <p role="status" class="mb-3 rounded-md border border-amber-300 bg-amber-50 p-2 text-sm">"New secret, shown only now (the old one keeps signing for a day): " <code data-testid="rotated-secret">{secret}</code></p> }.into_any(),
                        Err(e) => view! { <p role="alert" class="mb-3 text-sm text-red-800">{e.to_string()}</p> }.into_any(),
                    })}
                    {move || resend.value().get().and_then(Result::err).map(|e| view! { <p role="alert" class="mb-3 text-sm text-red-800">{e.to_string()}</p> })}
                    <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            match data.await {
                                Ok(v) => {
                                    let team = v.team.clone();
                                    let targets: std::collections::HashMap<String, String> = v.channels.iter().map(|c| (c.id.clone(), c.target.clone())).collect();
                                    view! {
                                        <ul class="mb-6 space-y-2 text-sm" data-testid="channels">
                                            {v.channels.into_iter().map(|c| {
                                                let (t1, t2, t3) = (team.clone(), team.clone(), team.clone());
                                                let (i1, i2, i3) = (c.id.clone(), c.id.clone(), c.id.clone());
                                                view! {
                                                    <li class="flex flex-wrap items-center gap-2 rounded-md border border-slate-200 bg-white p-2" data-testid="channel" data-kind=c.kind.clone()>
                                                        <span class="font-medium">{c.kind.clone()}</span>
                                                        <span class="text-slate-600">{c.target.clone()}</span>
                                                        {c.disabled_reason.clone().map(|why| view! {
                                                            <span class="text-red-700" data-testid="channel-disabled">{format!("off: {why}")}</span>
                                                            <button type="button" class="rounded border border-slate-300 px-2 text-xs" on:click=move |_| { enable.dispatch(EnableChannel { team: t3.clone(), id: i3.clone() }); }>"Turn on"</button>
                                                        })}
                                                        {(c.kind == "webhook").then(|| view! {
                                                            <button type="button" data-testid="rotate-secret" class="rounded border border-slate-300 px-2 text-xs" on:click=move |_| { rotate.dispatch(RotateChannelSecret { team: t1.clone(), id: i1.clone() }); }>"Rotate secret"</button>
                                                        })}
                                                        <button type="button" class="rounded border border-red-300 px-2 text-xs text-red-700" on:click=move |_| { remove.dispatch(RemoveChannel { team: t2.clone(), id: i2.clone() }); }>"Remove"</button>
                                                    </li>
                                                }
                                            }).collect_view()}
                                        </ul>
                                        <h2 class="mb-2 font-medium">"Delivery log"</h2>
                                        <table class="w-full rounded-lg border border-slate-200 bg-white text-sm shadow-sm" data-testid="deliveries">
                                            <thead><tr class="text-left text-slate-600">
                                                <th class="px-3 py-2">"Queued (UTC)"</th><th>"Event"</th><th>"Channel"</th><th>"State"</th><th>"Attempts"</th><th>"Last answer"</th><th></th>
                                            </tr></thead>
                                            <tbody>
                                                {v.deliveries.into_iter().map(|d| {
                                                    let (team, id) = (team.clone(), d.id.clone());
                                                    view! {
                                                        <tr class="border-t border-slate-100" data-testid="delivery" data-state=d.state.clone() data-event=d.event.clone()>
                                                            <td class="px-3 py-1 tabular-nums">{utc_datetime(d.created_at)}</td>
                                                            <td>{d.event.clone()}</td>
                                                            <td>{targets.get(&d.channel_id).cloned().unwrap_or_default()}</td>
                                                            <td>{d.state.clone()}{d.delivered_at.map(|t| format!(" {}", utc_datetime(t)))}</td>
                                                            <td class="tabular-nums">{d.attempts}</td>
                                                            <td>{d.last_status.map(|s| s.to_string()).unwrap_or_default()}" "{d.last_error.clone().unwrap_or_default()}</td>
                                                            <td>{(d.state != "pending").then(|| view! {
                                                                <button type="button" data-testid="resend" class="rounded border border-slate-300 px-2 text-xs" on:click=move |_| { resend.dispatch(ResendDelivery { team: team.clone(), id: id.clone() }); }>"Resend"</button>
                                                            })}</td>
                                                        </tr>
                                                    }
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }
                                Err(err) => view! { <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p> }.into_any(),
                            }
                        })}
                    </Transition>
                }
            })}
        </Suspense>
    }
}
