//! The Apps page: the viewer's teams' apps, and a form to register one —
//! its repository, default branch and blueprint (how each environment is
//! built, started, seeded and migrated). The form's fields and how they
//! become the blueprint JSON the server takes are shared with the app page's
//! Edit form.

use crate::api::apps::{list_apps, AppView, RegisterApp};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;
use serde_json::{Map, Value};

/// Where an app's page is.
pub(crate) fn app_href(team: &str, slug: &str) -> String {
    format!("/apps/{team}/{slug}")
}

#[component]
pub fn AppsPage() -> impl IntoView {
    let register = ServerAction::<RegisterApp>::new();
    let page = Resource::new(|| (), |_| list_apps());
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(app)) = register.value().get() {
            navigate(&app_href(&app.team, &app.slug), Default::default());
        }
    });
    view! {
        <Title text="Apps" />
        <h1 class="text-2xl font-semibold tracking-tight">"Apps"</h1>
        <p class="mb-6 text-sm text-slate-600">
            "An app is a repository and a blueprint: every environment checks out its own branch's code, "
            "builds it, migrates a copy of the app's template database and starts it."
        </p>
        <Suspense fallback=|| view! { <p class="text-slate-500">"Loading apps…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! {
                        <AppTable apps=p.apps />
                        {(!p.register_teams.is_empty()).then(|| view! { <RegisterForm teams=p.register_teams register /> })}
                    }.into_any(),
                    Err(err) => view! { <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-red-800">{err.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// "managed by configuration" and "archived", when they apply.
#[component]
pub(crate) fn AppBadges(managed: bool, archived: bool) -> impl IntoView {
    view! {
        {managed.then(|| view! { <span class="inline-flex rounded-full bg-violet-100 px-2 py-0.5 text-xs font-medium text-violet-900" data-testid="badge-managed">"managed by configuration"</span> })}
        {archived.then(|| view! { <span class="inline-flex rounded-full bg-slate-200 px-2 py-0.5 text-xs font-medium text-slate-700" data-testid="badge-archived">"archived"</span> })}
    }
}

#[component]
fn AppTable(apps: Vec<AppView>) -> impl IntoView {
    if apps.is_empty() {
        return view! { <p class="text-sm text-slate-600" data-testid="no-apps">"No apps yet."</p> }.into_any();
    }
    view! {
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
            <table class="min-w-full divide-y divide-slate-200 text-sm">
                <caption class="sr-only">"Your teams' apps"</caption>
                <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-600">
                    <tr>
                        <th scope="col" class="px-3 py-2">"Name"</th>
                        <th scope="col" class="px-3 py-2">"Team"</th>
                        <th scope="col" class="px-3 py-2">"Slug"</th>
                        <th scope="col" class="px-3 py-2">"Repository"</th>
                        <th scope="col" class="px-3 py-2">"Default branch"</th>
                        <th scope="col" class="px-3 py-2"><span class="sr-only">"Status"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {apps.into_iter().map(|a| view! {
                        <tr data-testid="app-row" data-app=a.slug.clone() data-team=a.team.clone()>
                            <td class="px-3 py-2 font-medium"><a href=app_href(&a.team, &a.slug) class="text-indigo-700 hover:underline">{a.name.clone()}</a></td>
                            <td class="px-3 py-2">{a.team.clone()}</td>
                            <td class="px-3 py-2 font-mono text-xs">{a.slug.clone()}</td>
                            <td class="px-3 py-2 break-all font-mono text-xs">{a.repository.clone()}</td>
                            <td class="px-3 py-2 font-mono text-xs">{a.default_branch.clone()}</td>
                            <td class="px-3 py-2 space-x-1 whitespace-nowrap"><AppBadges managed=a.managed_by_config archived=a.archived /></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn RegisterForm(teams: Vec<String>, register: ServerAction<RegisterApp>) -> impl IntoView {
    let fields = AppFields::new(teams.first().cloned().unwrap_or_default());
    let problem = RwSignal::new(None::<String>);
    let pending = register.pending();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        match fields.args("") {
            Ok(args) => {
                problem.set(None);
                register.dispatch(args);
            }
            Err(e) => problem.set(Some(e)),
        }
    };
    view! {
        <form on:submit=on_submit aria-labelledby="register-h"
            class="mt-8 max-w-3xl space-y-4 rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
            <h2 id="register-h" class="text-lg font-medium">"Register app"</h2>
            <AppFormFields fields teams secrets_help="Stored encrypted; never shown again." />
            <button type="submit" disabled=move || pending.get()
                class="rounded-md bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700 disabled:opacity-50">
                "Register app"
            </button>
            {problem_alert(problem, move || register.value().get().and_then(Result::err))}
        </form>
    }
}

/// The form's own complaint (before sending), else the server's refusal.
pub(crate) fn problem_alert(
    problem: RwSignal<Option<String>>,
    server: impl Fn() -> Option<crate::error::AppError> + Send + Sync + 'static,
) -> impl IntoView {
    move || {
        problem
            .get()
            .or_else(|| server().map(|e| e.to_string()))
            .map(|t| view! { <p role="alert" class="text-sm text-red-800" data-testid="form-error">{t}</p> })
    }
}

/// The register and edit forms' values. Team and slug are fixed when editing.
#[derive(Clone, Copy)]
pub struct AppFields {
    team: RwSignal<String>,
    slug: RwSignal<String>,
    name: RwSignal<String>,
    repository: RwSignal<String>,
    default_branch: RwSignal<String>,
    build: RwSignal<String>,
    start: RwSignal<String>,
    health_path: RwSignal<String>,
    seed_file: RwSignal<String>,
    seed: RwSignal<String>,
    migrate: RwSignal<String>,
    variables: RwSignal<String>,
    pub(crate) secrets: RwSignal<String>,
    advanced: RwSignal<String>,
}

impl AppFields {
    /// An empty form with the blueprint's defaults.
    pub(crate) fn new(team: String) -> Self {
        let s = |v: &str| RwSignal::new(v.to_string());
        AppFields {
            team: RwSignal::new(team),
            slug: s(""),
            name: s(""),
            repository: s(""),
            default_branch: s("main"),
            build: s(""),
            start: s("eod sample-app"),
            health_path: s("/healthz"),
            seed_file: s(""),
            seed: s(""),
            migrate: s(""),
            variables: s(""),
            secrets: s(""),
            advanced: s(""),
        }
    }

    /// The form filled from a stored app (secrets are never shown: empty).
    pub(crate) fn from_app(app: &AppView) -> Self {
        let bp = &app.blueprint;
        let s = |v: &str| RwSignal::new(v.to_string());
        let opt = |v: &Option<String>| RwSignal::new(v.clone().unwrap_or_default());
        AppFields {
            team: s(&app.team),
            slug: s(&app.slug),
            name: s(&app.name),
            repository: s(&app.repository),
            default_branch: s(&app.default_branch),
            build: opt(&bp.build),
            start: s(&bp.start),
            health_path: s(&bp.health_path),
            seed_file: opt(&bp.database.seed_file),
            seed: opt(&bp.database.seed),
            migrate: opt(&bp.database.migrate),
            variables: RwSignal::new(bp.env.iter().map(|(k, v)| format!("{k}={v}\n")).collect()),
            secrets: s(""),
            advanced: s(""),
        }
    }

    /// The server function's arguments; the blueprint starts from `base`
    /// (the stored JSON when editing, so keys without a field are kept).
    pub(crate) fn args(&self, base: &str) -> Result<RegisterApp, String> {
        let g = |s: RwSignal<String>| s.get_untracked();
        let form = BlueprintForm {
            build: g(self.build),
            start: g(self.start),
            health_path: g(self.health_path),
            seed_file: g(self.seed_file),
            seed: g(self.seed),
            migrate: g(self.migrate),
            variables: g(self.variables),
            advanced: g(self.advanced),
        };
        Ok(RegisterApp {
            team: g(self.team),
            slug: g(self.slug).trim().to_string(),
            name: g(self.name).trim().to_string(),
            repository: g(self.repository).trim().to_string(),
            default_branch: g(self.default_branch).trim().to_string(),
            blueprint: compose_blueprint(base, &form)?,
            secrets: g(self.secrets),
        })
    }
}

/// The blueprint part of the form, as typed.
#[derive(Clone, Debug, Default)]
pub(crate) struct BlueprintForm {
    pub build: String,
    pub start: String,
    pub health_path: String,
    pub seed_file: String,
    pub seed: String,
    pub migrate: String,
    /// `KEY=value` lines.
    pub variables: String,
    /// Blueprint JSON that, when given, is sent as-is instead of the fields.
    pub advanced: String,
}

/// The blueprint JSON the form sends: the advanced text when given;
/// otherwise `base` (a JSON object, or empty) with each field's key set
/// from its trimmed value, or removed when it is empty (the server's default
/// applies). Variables must be `KEY=value` lines.
pub(crate) fn compose_blueprint(base: &str, form: &BlueprintForm) -> Result<String, String> {
    if !form.advanced.trim().is_empty() {
        return Ok(form.advanced.clone());
    }
    let mut bp: Map<String, Value> = if base.trim().is_empty() {
        Map::new()
    } else {
        serde_json::from_str(base).map_err(|e| format!("blueprint: {e}"))?
    };
    fn put(map: &mut Map<String, Value>, key: &str, value: &str) {
        match value.trim() {
            "" => map.remove(key),
            v => map.insert(key.into(), Value::String(v.into())),
        };
    }
    bp.remove("command"); // the older name of `start`
    put(&mut bp, "build", &form.build);
    put(&mut bp, "start", &form.start);
    put(&mut bp, "health_path", &form.health_path);
    let mut db = Map::new();
    put(&mut db, "seed_file", &form.seed_file);
    put(&mut db, "seed", &form.seed);
    put(&mut db, "migrate", &form.migrate);
    let mut env = Map::new();
    for line in form.variables.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (key, value) =
            line.split_once('=').ok_or_else(|| format!("variables: one KEY=value per line, not {line:?}"))?;
        env.insert(key.trim().into(), Value::String(value.trim().into()));
    }
    for (key, map) in [("database", db), ("env", env)] {
        if map.is_empty() {
            bp.remove(key);
        } else {
            bp.insert(key.into(), Value::Object(map));
        }
    }
    Ok(Value::Object(bp).to_string())
}

const INPUT: &str = "mt-1 block w-full rounded-md border border-slate-300 px-2 py-1.5";

/// A labelled one-line input bound to `value`. The `value` attribute carries
/// the initial text into the server-rendered page too.
fn text_input(label: &'static str, value: RwSignal<String>, placeholder: &'static str, required: bool) -> AnyView {
    view! {
        <label class="block text-sm">
            <span class="font-medium">{label}</span>
            <input type="text" required=required placeholder=placeholder value=value.get_untracked()
                prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) class=INPUT />
        </label>
    }
    .into_any()
}

/// A labelled textarea bound to `value`, with help text outside the label
/// (so the accessible name is the label alone) linked by `aria-describedby`.
fn text_area(
    label: &'static str,
    value: RwSignal<String>,
    placeholder: &'static str,
    help: (&'static str, &'static str),
) -> AnyView {
    let (help_id, help) = help;
    view! {
        <div class="sm:col-span-2">
            <label class="block text-sm">
                <span class="font-medium">{label}</span>
                <textarea rows="3" placeholder=placeholder aria-describedby=help_id spellcheck="false"
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))
                    class=format!("{INPUT} font-mono text-xs")></textarea>
            </label>
            <p id=help_id class="mt-1 text-xs text-slate-500">{help}</p>
        </div>
    }
    .into_any()
}

/// The form's inputs (not the form or its button). `teams` given: a new
/// app, so Team and Slug are asked for too.
#[component]
pub(crate) fn AppFormFields(
    fields: AppFields,
    #[prop(optional)] teams: Option<Vec<String>>,
    secrets_help: &'static str,
) -> impl IntoView {
    let f = fields;
    let identity = teams.map(|teams| {
        view! {
            <label class="block text-sm">
                <span class="font-medium">"Team"</span>
                <select class=INPUT on:change=move |ev| f.team.set(event_target_value(&ev))>
                    {teams.into_iter().enumerate().map(|(i, t)| view! { <option value=t.clone() selected=i == 0>{t.clone()}</option> }).collect_view()}
                </select>
            </label>
            {text_input("Slug", f.slug, "shop", true)}
        }
    });
    view! {
        <div class="grid gap-4 sm:grid-cols-2">
            {identity}
            {text_input("Name", f.name, "Shop", true)}
            {text_input("Repository", f.repository, "/srv/git/shop.git or https://…", true)}
            {text_input("Default branch", f.default_branch, "main", false)}
            {text_input("Build command", f.build, "npm ci && npm run build", false)}
            {text_input("Start command", f.start, "eod sample-app", false)}
            {text_input("Health path", f.health_path, "/healthz", false)}
            {text_input("Seed file", f.seed_file, "db/seed.sql", false)}
            {text_input("Seed command", f.seed, "./bin/seed", false)}
            {text_input("Migrate command", f.migrate, "./bin/migrate", false)}
            {text_area("Variables", f.variables, "NODE_ENV=production", ("variables-help", "One KEY=value per line; given to build, migrate and start."))}
            {text_area("Secrets", f.secrets, "STRIPE_KEY=sk_test_…", ("secrets-help", secrets_help))}
            {text_area("Advanced: blueprint JSON", f.advanced, "{\"start\": \"./serve\", \"resources\": […]}", ("advanced-help", "When given, sent as-is instead of the blueprint fields above (secrets still come from Secrets)."))}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn only_the_filled_fields_go_into_a_new_blueprint() {
        let form = BlueprintForm {
            start: " npm start ".into(),
            health_path: "/up".into(),
            seed_file: "db/seed.sql".into(),
            variables: "NODE_ENV=production\n\n A = b=c \n".into(),
            ..Default::default()
        };
        let json = compose_blueprint("", &form).unwrap();
        assert_eq!(
            parsed(&json),
            serde_json::json!({"start": "npm start", "health_path": "/up",
                "database": {"seed_file": "db/seed.sql"}, "env": {"NODE_ENV": "production", "A": "b=c"}})
        );
    }

    #[test]
    fn editing_keeps_keys_without_a_field_and_drops_emptied_ones() {
        let base = r#"{"driver":"local","build":"make","build_timeout_seconds":120,"command":"./old",
            "database":{"migrate":"./m"},"env":{"X":"1"},"resources":[{"kind":"cpu","hourly_rate_micros":1}]}"#;
        let form = BlueprintForm { start: "./serve".into(), ..Default::default() };
        let json = compose_blueprint(base, &form).unwrap();
        assert_eq!(
            parsed(&json),
            serde_json::json!({"driver": "local", "build_timeout_seconds": 120, "start": "./serve",
                "resources": [{"kind": "cpu", "hourly_rate_micros": 1}]})
        );
    }

    #[test]
    fn advanced_json_is_sent_as_typed() {
        let form =
            BlueprintForm { advanced: "{\"start\":\"x\"}".into(), variables: "broken".into(), ..Default::default() };
        assert_eq!(compose_blueprint("", &form).unwrap(), "{\"start\":\"x\"}");
    }

    #[test]
    fn a_variable_line_without_an_equals_sign_is_refused() {
        let form = BlueprintForm { variables: "A=1\nNOPE".into(), ..Default::default() };
        assert!(compose_blueprint("", &form).unwrap_err().contains("KEY=value"));
    }
}
