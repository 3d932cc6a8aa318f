//! Team administration for platform admins: teams, members and roles.

use crate::api::teams::{list_people, list_teams_admin, CreateTeam, SetTeamMember, SetUserDisabled, TeamAdmin};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn TeamsPage() -> impl IntoView {
    let create = ServerAction::<CreateTeam>::new();
    let set_member = ServerAction::<SetTeamMember>::new();
    let teams = Resource::new(move || (create.version().get(), set_member.version().get()), |_| list_teams_admin());
    let input = "mt-1 block rounded-md border border-slate-300 px-2 py-1";
    view! {
        <Title text="Teams" />
        <h1 class="text-2xl font-semibold tracking-tight">"Teams"</h1>
        <p class="mb-4 text-sm text-slate-600">
            "Members act on their team's environments; managers also see its costs, budgets and audit trail. "
            "Memberships mapped from an identity provider's groups are refreshed at each sign-in."
        </p>
        <ActionForm action=create attr:class="mb-6 flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-white p-4 text-sm shadow-sm">
            <label class="block"><span class="font-medium">"Slug"</span><input name="slug" required placeholder="checkout" class=input /></label>
            <label class="block"><span class="font-medium">"Team name"</span><input name="name" required placeholder="Checkout" class=input /></label>
            <button type="submit" class="rounded-md bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700">"Create team"</button>
            {move || create.value().get().and_then(Result::err).map(|e| view! { <p role="alert" class="w-full text-red-800">{e.to_string()}</p> })}
        </ActionForm>
        {move || set_member.value().get().and_then(Result::err).map(|e| view! { <p role="alert" class="mb-3 text-sm text-red-800">{e.to_string()}</p> })}
        <People />
        <Suspense fallback=|| view! { <p class="text-slate-500">"Loading teams…"</p> }>
            {move || Suspend::new(async move {
                match teams.await {
                    Ok(list) => view! {
                        <div class="grid gap-4 md:grid-cols-2">
                            {list.into_iter().map(|t| view! { <TeamCard team=t set_member /> }).collect_view()}
                        </div>
                    }.into_any(),
                    Err(err) => view! { <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TeamCard(team: TeamAdmin, set_member: ServerAction<SetTeamMember>) -> impl IntoView {
    let team_id = team.id.clone();
    let slug = team.slug.clone();
    let (slug_a, slug_b, slug_c, slug_d) = (slug.clone(), slug.clone(), slug.clone(), slug.clone());
    view! {
        <section class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm" aria-label=format!("Team {}", team.name) data-testid="team-card" data-team=slug_a>
            <h2 class="font-medium">{team.name.clone()} <span class="text-xs text-slate-500">{format!(" ({slug_b})")}</span></h2>
            <ul class="mt-2 divide-y divide-slate-100 text-sm">
                {team.members.into_iter().map(|m| {
                    let (tid, login) = (team_id.clone(), m.login.clone());
                    view! {
                        <li class="flex items-center justify-between gap-2 py-1.5" data-testid="member" data-login=m.login.clone() data-role=m.role.clone()>
                            <span>{m.display_name.clone()} <span class="text-xs text-slate-500">{format!(" {} · {}", m.login, m.role)}</span></span>
                            <button type="button" class="rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-50"
                                aria-label=format!("Remove {} from {}", m.login, slug)
                                on:click=move |_| { set_member.dispatch(SetTeamMember { team_id: tid.clone(), login: login.clone(), role: String::new() }); }>
                                "Remove"
                            </button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <ActionForm action=set_member attr:class="mt-3 flex flex-wrap items-end gap-2 text-sm">
                <input type="hidden" name="team_id" value=team.id.clone() />
                <label class="block"><span class="sr-only">"Login"</span>
                    <input name="login" required placeholder="login" aria-label=format!("Login to add to {slug_c}") class="block rounded-md border border-slate-300 px-2 py-1" /></label>
                <label class="block"><span class="sr-only">"Role"</span>
                    <select name="role" aria-label=format!("Role in {slug_d}") class="block rounded-md border border-slate-300 px-2 py-1">
                        <option value="developer">"developer"</option>
                        <option value="manager">"manager"</option>
                    </select></label>
                <button type="submit" class="rounded-md border border-slate-300 px-2 py-1 font-medium hover:bg-slate-50">{format!("Add to {}", team.slug)}</button>
            </ActionForm>
        </section>
    }
}

/// Everyone who has signed in, with Disable / Enable: a disabled user's
/// sessions end, tokens and preview cookies stop working and live streams
/// close at once; their environments and history stay.
#[component]
fn People() -> impl IntoView {
    let toggle = ServerAction::<SetUserDisabled>::new();
    let people = Resource::new(move || toggle.version().get(), |_| list_people());
    view! {
        <details class="mb-6 rounded-lg border border-slate-200 bg-white p-4 text-sm shadow-sm">
            <summary class="cursor-pointer font-medium">"People"</summary>
            {move || toggle.value().get().and_then(Result::err).map(|e| view! { <p role="alert" class="mt-2 text-red-800">{e.to_string()}</p> })}
            <Suspense fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match people.await {
                        Ok(list) => view! {
                            <ul class="mt-2 divide-y divide-slate-100">
                                {list.into_iter().map(|p| {
                                    let (login, disabled) = (p.login.clone(), p.disabled);
                                    view! {
                                        <li class="flex items-center justify-between gap-2 py-1.5" data-testid="person" data-login=p.login.clone()>
                                            <span>{p.display_name.clone()}
                                                <span class="text-xs text-slate-500">{format!(" {}{}", p.login, if p.platform_admin { " · platform admin" } else { "" })}</span>
                                                {disabled.then(|| view! { <span class="ml-2 rounded bg-red-100 px-1.5 text-xs text-red-800">"disabled"</span> })}
                                            </span>
                                            <button type="button" class="rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-50"
                                                on:click=move |_| { toggle.dispatch(SetUserDisabled { login: login.clone(), disabled: !disabled }); }>
                                                {if disabled { format!("Enable {}", p.login) } else { format!("Disable {}", p.login) }}
                                            </button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(err) => view! { <p role="alert" class="text-red-800">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </details>
    }
}
