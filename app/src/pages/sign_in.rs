//! Sign-in: the configured identity providers and, only in demo mode, a list
//! of demo users to sign in as.

use crate::api::session::sign_in_options;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SignInPage() -> impl IntoView {
    let options = Resource::new(|| (), |_| sign_in_options());
    view! {
        <Title text="Sign in" />
        <main class="mx-auto mt-16 max-w-md px-4">
            <h1 class="text-2xl font-semibold tracking-tight">"Sign in to EoD Portal"</h1>
            <p class="mt-1 text-sm text-slate-600">"Preview environments for every branch and pull request, in seconds."</p>
            <Suspense fallback=|| view! { <p class="mt-6 text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match options.await {
                        Ok(opts) => {
                            let nothing = opts.providers.is_empty() && opts.demo_users.is_empty();
                            view! {
                                {(!opts.providers.is_empty()).then(|| view! {
                                    <section class="mt-6 space-y-2" aria-label="Sign-in providers">
                                        {opts.providers.into_iter().map(|(id, label)| view! {
                                            <a href=format!("/auth/{id}/start") rel="external"
                                                class="block w-full rounded-md bg-slate-900 px-3 py-2 text-center font-medium text-white hover:bg-slate-700">
                                                {format!("Sign in with {label}")}
                                            </a>
                                        }).collect_view()}
                                    </section>
                                })}
                                {(!opts.demo_users.is_empty()).then(|| view! {
                                    <section class="mt-6 rounded-lg border border-amber-300 bg-amber-50 p-4" aria-labelledby="demo-heading">
                                        <h2 id="demo-heading" class="font-medium">"Demo sign-in"</h2>
                                        <p class="text-sm text-amber-900">"This portal runs with demo data. Pick a demo user:"</p>
                                        <ul class="mt-3 space-y-2">
                                            {opts.demo_users.into_iter().map(|u| view! {
                                                <li>
                                                    <form method="post" action="/auth/demo">
                                                        <input type="hidden" name="login" value=u.login.clone() />
                                                        <button type="submit" class="w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-left hover:bg-slate-50">
                                                            <span class="block font-medium">{format!("Sign in as {}", u.display_name)}</span>
                                                            <span class="block text-xs text-slate-600">{format!("{} · {}", u.login, u.roles)}</span>
                                                        </button>
                                                    </form>
                                                </li>
                                            }).collect_view()}
                                        </ul>
                                    </section>
                                })}
                                {nothing.then(|| view! {
                                    <p class="mt-6 rounded-md border border-slate-200 bg-white p-4 text-sm">
                                        "No sign-in provider is configured. An administrator adds one to the portal's configuration file ([[provider]])."
                                    </p>
                                })}
                            }.into_any()
                        }
                        Err(err) => view! { <p role="alert" class="mt-6 text-red-800">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}
