//! Which events reach the signed-in user's inbox (per event kind). Team
//! channels (Slack, webhooks) get every event regardless: they are the
//! team's, not one person's.

use crate::api::notifications::{my_notification_prefs, SetNotificationPref};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotificationSettingsPage() -> impl IntoView {
    let set = ServerAction::<SetNotificationPref>::new();
    let prefs = Resource::new(move || set.version().get(), |_| my_notification_prefs());
    view! {
        <Title text="Notification settings" />
        <h1 class="text-2xl font-semibold tracking-tight">"What your inbox tells you"</h1>
        <p class="mb-4 text-sm text-slate-600">"Unticked events stay out of your bell. Your team's Slack and webhook channels get every event regardless."</p>
        {move || set.value().get().and_then(Result::err).map(|e| view! { <p role="alert" class="mb-3 text-sm text-red-800">{e.to_string()}</p> })}
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match prefs.await {
                    Ok(list) => view! {
                        <ul class="space-y-2 text-sm" data-testid="prefs">
                            {list.into_iter().map(|p| {
                                let kind = p.kind.clone();
                                view! {
                                    <li>
                                        <label class="flex items-center gap-2">
                                            <input type="checkbox" prop:checked=!p.muted data-testid=format!("pref-{}", p.kind)
                                                on:change=move |ev| { set.dispatch(SetNotificationPref { kind: kind.clone(), on: event_target_checked(&ev) }); } />
                                            {p.label.clone()}
                                        </label>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(err) => view! { <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
