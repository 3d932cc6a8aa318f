//! The header's notification bell: unread count, the latest notifications,
//! and Mark all read.

use crate::api::notifications::{my_notifications, MarkNotificationRead, MarkNotificationsRead};
use crate::components::live::use_live;
use crate::domain::time::utc_datetime;
use leptos::prelude::*;

#[component]
pub fn NotificationBell() -> impl IntoView {
    let live = use_live();
    let mark = ServerAction::<MarkNotificationsRead>::new();
    let mark_one = ServerAction::<MarkNotificationRead>::new();
    let open = RwSignal::new(false);
    // Refreshed when something changes or the panel opens.
    let inbox = Resource::new(
        move || (live.version.get(), mark.version().get(), mark_one.version().get(), open.get()),
        |_| my_notifications(),
    );
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let inbox = inbox.await.unwrap_or_default();
                let unread = inbox.unread;
                let items = inbox.items;
                view! {
                    <div class="relative">
                        <button type="button" data-testid="inbox" data-unread=unread.to_string()
                            aria-label=format!("Notifications, {unread} unread") aria-expanded=move || open.get().to_string()
                            class="rounded-md border border-slate-300 px-2 py-1 text-slate-700 hover:bg-slate-100"
                            on:click=move |_| open.update(|o| *o = !*o)>
                            "🔔"
                            {(unread > 0).then(|| view! { <span class="ml-1 rounded-full bg-red-600 px-1.5 text-xs font-semibold text-white">{unread}</span> })}
                        </button>
                        <div hidden=move || !open.get() data-testid="inbox-panel"
                            class="absolute right-0 z-40 mt-2 w-96 max-w-[90vw] rounded-lg border border-slate-200 bg-white p-3 text-sm shadow-lg">
                            <div class="mb-2 flex items-center justify-between">
                                <span class="font-medium">"Notifications" <a href="/settings/notifications" class="ml-2 text-xs font-normal text-indigo-700 underline">"settings"</a></span>
                                <button type="button" class="text-xs font-medium text-indigo-700 hover:underline"
                                    on:click=move |_| { mark.dispatch(MarkNotificationsRead {}); }>
                                    "Mark all read"
                                </button>
                            </div>
                            {if items.is_empty() {
                                view! { <p class="text-slate-600">"Nothing yet."</p> }.into_any()
                            } else {
                                view! {
                                    <ul class="max-h-80 space-y-2 overflow-y-auto">
                                        {items.into_iter().map(|n| view! {
                                            <li data-testid="notification" data-kind=n.kind.clone()
                                                class=if n.read { "text-slate-500" } else { "font-medium text-slate-900" }>
                                                <span class="block">{n.message.clone()}</span>
                                                <span class="block text-xs text-slate-500">
                                                    {utc_datetime(n.created_at)}
                                                    {n.environment_id.clone().map(|id| view! {
                                                        " · " <a class="text-indigo-700 underline" href=format!("/environments/{id}")>"environment"</a>
                                                    })}
                                                    {(n.kind == "budget_alert").then(|| view! {
                                                        " · " <a class="text-indigo-700 underline" href="/costs">"costs"</a>
                                                    })}
                                                    {(n.kind == "expiry_warning").then(|| n.environment_id.clone().map(|id| view! {
                                                        " · " <a class="text-indigo-700 underline" data-testid="inbox-extend" href=format!("/environments/{id}/extend")>"Extend…"</a>
                                                    }))}
                                                    {(n.kind == "approval_requested" || n.kind == "approval_escalated").then(|| view! {
                                                        " · " <a class="text-indigo-700 underline" href="/approvals">"approvals"</a>
                                                    })}
                                                    {(!n.read).then(|| {
                                                        let id = n.id.clone();
                                                        view! {
                                                            " · " <button type="button" data-testid="mark-read" class="text-indigo-700 underline"
                                                                on:click=move |_| { mark_one.dispatch(MarkNotificationRead { id: id.clone() }); }>"mark read"</button>
                                                        }
                                                    })}
                                                </span>
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                }.into_any()
                            }}
                        </div>
                    </div>
                }
            })}
        </Suspense>
    }
}
