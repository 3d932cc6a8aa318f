//! The page an expiry warning's Extend link lands on: it says what the
//! extension does (new expiry, or a request to the approvers) and asks
//! before doing it — a link never changes state by itself.

use crate::api::environments::{environment_detail, ExtendEnvironment, ExtendOutcome};
use crate::domain::time::utc_datetime;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ExtendConfirmPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let extend = ServerAction::<ExtendEnvironment>::new();
    let detail = Resource::new(move || (id.get(), extend.version().get()), |(id, _)| environment_detail(id));
    view! {
        <Title text="Extend" />
        <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => {
                        let (env_id, name, step) = (d.row.id.clone(), d.row.name.clone(), d.extension_step_hours);
                        let can = d.row.state.is_live() && d.row.expires_at.is_some() && step > 0;
                        view! {
                            <h1 class="text-2xl font-semibold tracking-tight">{format!("Extend {name}?")}</h1>
                            <p class="mt-2 text-sm text-slate-700" data-testid="current-expiry">
                                {match (d.row.state.is_live(), d.row.expires_at, d.destroyed_at) {
                                    (false, _, Some(at)) => format!("It was destroyed at {}.", utc_datetime(at)),
                                    (false, _, None) => "It is gone.".into(),
                                    (true, Some(at), _) => format!("It expires at {} — then {}.", utc_datetime(at), d.at_ttl),
                                    (true, None, _) => "It has no TTL.".into(),
                                }}
                            </p>
                            {if can {
                                let hours = step.min(24);
                                let id2 = env_id.clone();
                                view! {
                                    <p class="mt-2 text-sm text-slate-700">
                                        {if d.extension_needs_approval {
                                            format!("This asks a platform admin to add {hours} h (the tier needs approval).")
                                        } else {
                                            format!("This adds {hours} h (the tier's step), up to its maximum lifetime.")
                                        }}
                                    </p>
                                    <div class="mt-4 flex gap-2">
                                        <button type="button" data-testid="confirm-extend" disabled=move || extend.pending().get()
                                            class="rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-semibold text-white hover:bg-indigo-500 disabled:opacity-60"
                                            on:click=move |_| { extend.dispatch(ExtendEnvironment { id: id2.clone(), hours }); }>
                                            {if d.extension_needs_approval { "Request extension" } else { "Extend" }}
                                        </button>
                                        <a href=format!("/environments/{env_id}") class="rounded-md border border-slate-300 px-3 py-1.5 text-sm">"Cancel"</a>
                                    </div>
                                }.into_any()
                            } else {
                                view! { <p class="mt-2 text-sm text-slate-700" data-testid="cannot-extend">"It cannot be extended now."</p> }.into_any()
                            }}
                            {move || extend.value().get().map(|r| match r {
                                Ok(ExtendOutcome::NewExpiry(Some(at))) => view! { <p role="status" data-testid="extend-outcome" class="mt-3 text-sm text-emerald-800">{format!("Extended: it now expires at {}.", utc_datetime(at))}</p> }.into_any(),
                                Ok(ExtendOutcome::NewExpiry(None)) => view! { <p role="status" data-testid="extend-outcome" class="mt-3 text-sm">"No TTL to extend."</p> }.into_any(),
                                Ok(ExtendOutcome::ApprovalRequested) => view! { <p role="status" data-testid="extend-outcome" class="mt-3 text-sm text-emerald-800">"Request sent to the approvers."</p> }.into_any(),
                                Err(e) => view! { <p role="alert" data-testid="extend-outcome" class="mt-3 text-sm text-red-800">{e.to_string()}</p> }.into_any(),
                            })}
                        }.into_any()
                    }
                    Err(err) => view! { <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
