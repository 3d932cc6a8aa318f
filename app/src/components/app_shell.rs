//! The frame around every signed-in page: product name, navigation, who is
//! signed in, and sign out.

use crate::api::session::whoami;
use crate::components::live::{use_live, Toasts};
use leptos::prelude::*;

#[component]
pub fn AppShell(children: Children) -> impl IntoView {
    let viewer = Resource::new(|| (), |_| whoami());
    let live = use_live();
    view! {
        <div class="min-h-full">
            <header class="border-b border-slate-200 bg-white">
                <div class="mx-auto flex max-w-7xl flex-wrap items-center gap-x-8 gap-y-2 px-4 py-3">
                    <a href="/" class="flex items-center gap-2 font-semibold text-slate-900">
                        <span aria-hidden="true" class="inline-block h-6 w-6 rounded bg-indigo-600"></span>
                        "EoD Portal"
                    </a>
                    <nav aria-label="Main" class="flex gap-4 text-sm font-medium text-slate-700">
                        <a href="/" class="hover:text-indigo-700">"Environments"</a>
                        <a href="/apps" class="hover:text-indigo-700">"Apps"</a>
                        <Suspense fallback=|| ()>
                            {move || Suspend::new(async move {
                                let v = viewer.await.ok().flatten();
                                let admin = v.as_ref().is_some_and(|v| v.is_platform_admin);
                                let can_audit = admin || v.as_ref().is_some_and(|v| {
                                    v.memberships.iter().any(|m| m.role == crate::domain::access::TeamRole::Manager)
                                });
                                view! {
                                    {can_audit.then(|| view! { <a href="/costs" class="hover:text-indigo-700">"Costs"</a> })}
                                    {can_audit.then(|| view! { <a href="/audit" class="hover:text-indigo-700">"Audit"</a> })}
                                    {can_audit.then(|| view! { <a href="/notifications" class="hover:text-indigo-700">"Notifications"</a> })}
                                    {can_audit.then(|| view! { <a href="/deliveries" class="hover:text-indigo-700">"Deliveries"</a> })}
                                    {can_audit.then(|| view! { <a href="/roi" class="hover:text-indigo-700">"ROI"</a> })}
                                    {can_audit.then(|| view! { <a href="/maturity" class="hover:text-indigo-700">"Maturity"</a> })}
                                    {v.is_some().then(|| view! { <a href="/approvals" class="hover:text-indigo-700">"Approvals"</a> })}
                                    {admin.then(|| view! { <a href="/admin/teams" class="hover:text-indigo-700">"Teams"</a> })}
                                    {admin.then(|| view! { <a href="/admin/prices" class="hover:text-indigo-700">"Price book"</a> })}
                                    {admin.then(|| view! { <a href="/admin/policies" class="hover:text-indigo-700">"Policies"</a> })}
                                    {admin.then(|| view! { <a href="/admin/compliance" class="hover:text-indigo-700">"Compliance"</a> })}
                                }
                            })}
                        </Suspense>
                        <a href="/settings/tokens" class="hover:text-indigo-700">"API tokens"</a>
                    </nav>
                    <div class="ml-auto flex items-center gap-3 text-sm">
                        <span data-testid="live" data-live=move || if live.connected.get() { "on" } else { "off" }
                            title="Changes to your environments appear without a reload while this is on"
                            class=move || if live.connected.get() { "text-xs font-medium text-emerald-700" } else { "text-xs text-slate-400" }>
                            {move || if live.connected.get() { "● Live" } else { "○ Offline" }}
                        </span>
                        <Suspense fallback=|| view! { <span class="text-slate-400">"…"</span> }>
                            {move || Suspend::new(async move {
                                match viewer.await {
                                    Ok(Some(v)) => view! {
                                        <Toasts user_id=v.user_id.clone() />
                                        <crate::components::inbox::NotificationBell />
                                        <span class="text-right">
                                            <span class="block font-medium" data-testid="signed-in-user">{v.display_name.clone()}</span>
                                            <span class="block text-xs text-slate-500">{v.roles_summary()}</span>
                                        </span>
                                        <form method="post" action="/auth/logout">
                                            <button type="submit" class="rounded-md border border-slate-300 px-3 py-1.5 font-medium text-slate-700 hover:bg-slate-100">
                                                "Sign out"
                                            </button>
                                        </form>
                                    }.into_any(),
                                    _ => view! { <a href="/login" class="font-medium text-indigo-700">"Sign in"</a> }.into_any(),
                                }
                            })}
                        </Suspense>
                    </div>
                </div>
            </header>
            <main class="mx-auto max-w-7xl px-4 py-6">{children()}</main>
        </div>
    }
}
