//! Demo data (only with `EOD_DEMO=1`): three teams, users in every role, a few
//! apps with real git repositories (made by the server, `demo_repos.rs`) and
//! a year of environment history — every tier, warm-pool claims, a shared
//! staging, a mid-year price change and budgets (one team over, one near
//! 80 %) — so a fresh install has something real to look at, and every
//! cost figure can be checked by hand. History rows are only in end states (destroyed, failed); the
//! live ones — five long-lived environments and a handful of previews — are
//! seeded `pending` with a provisioning job, so the reconciler really checks
//! out, builds, migrates and starts each one at demo start. Seeding is
//! idempotent: it runs once per database, in one transaction.

use super::clock::{id_at, new_id};
use super::store::{
    self, apps::App, audit::AuditEvent, environments::Environment, resources::Resource, teams::Team, users::User,
};
use super::Db;
use crate::domain::access::TeamRole;
use crate::domain::lifecycle::EnvState;
use crate::domain::naming::{environment_name, Source};
use crate::domain::price::default_resources;
use crate::domain::tier::Tier;
use crate::domain::time::{DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS};

/// Demo apps kept warm (one lightweight preview each) when no pool is configured.
pub const DEMO_POOLS: &[&str] = &["checkout-web", "search-ui"];

/// The identity issuer of demo users; real providers have their own.
pub const DEMO_ISSUER: &str = "demo";
const SEEDED_KEY: &str = "demo_seeded_at";
const HISTORY_DAYS: i64 = 365;

/// A demo app's repository: where it is and its branches' commits.
#[derive(Clone, Debug, Default)]
pub struct DemoRepo {
    pub path: String,
    pub branches: std::collections::BTreeMap<String, String>,
}

/// The demo apps' repositories by app slug (empty in pure tests: the apps
/// then have no repository).
#[derive(Clone, Debug, Default)]
pub struct DemoRepos(pub std::collections::BTreeMap<String, DemoRepo>);

/// The demo apps: (team, slug, name).
pub const DEMO_APPS: &[(&str, &str, &str)] = &[
    ("payments", "checkout-web", "Checkout web"),
    ("payments", "payments-api", "Payments API"),
    ("search", "search-ui", "Search UI"),
    ("search", "indexer", "Indexer"),
    ("platform", "portal-docs", "Portal docs"),
];

/// Seeds demo data without repositories (apps that cannot make environments:
/// for store tests).
pub async fn seed(db: &Db, now: i64) -> sqlx::Result<bool> {
    seed_with(db, now, &DemoRepos::default(), "{}").await
}

/// Seeds demo data unless it is already there. Returns whether it seeded.
/// Demo apps preview the pull requests of `acme/<slug>`: a signed webhook
/// (see the README) makes a preview of the demo repository's pull request.
fn with_pull_requests(blueprint: &str, slug: &str) -> String {
    let mut bp: serde_json::Value = serde_json::from_str(blueprint).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(fields) = bp.as_object_mut() {
        fields.insert("pull_requests".into(), serde_json::json!({ "repository": format!("acme/{slug}") }));
    }
    bp.to_string()
}

pub async fn seed_with(db: &Db, now: i64, repos: &DemoRepos, blueprint: &str) -> sqlx::Result<bool> {
    let mut tx = db.begin_write().await?;
    if store::meta::get(&mut *tx, SEEDED_KEY).await?.is_some() {
        return Ok(false);
    }
    let plan = DemoPlan::build(now, repos, blueprint);
    for team in &plan.teams {
        store::teams::insert(&mut *tx, team).await?;
    }
    for user in &plan.users {
        store::users::insert(&mut *tx, user).await?;
    }
    for (team_id, user_id, role) in &plan.memberships {
        store::users::add_membership(&mut *tx, team_id, user_id, *role, now - HISTORY_DAYS * DAY_MS).await?;
    }
    for app in &plan.apps {
        store::apps::insert(&mut *tx, app).await?;
    }
    for env in &plan.environments {
        store::environments::insert(&mut *tx, env).await?;
    }
    for resource in &plan.resources {
        store::resources::insert(&mut *tx, resource).await?;
    }
    for event in &plan.audit {
        store::audit::append(&mut *tx, event).await?;
    }
    for wait in &plan.waits {
        store::measurements::insert(&mut *tx, wait).await?;
    }
    for (env_id, user_id, score, at) in &plan.ratings {
        sqlx::query("INSERT INTO ratings (environment_id, user_id, score, created_at) VALUES ($1, $2, $3, $4)")
            .bind(env_id)
            .bind(user_id)
            .bind(*score)
            .bind(*at)
            .execute(&mut *tx)
            .await?;
    }
    // Everything above is invented: flagged, so no figure passes it off as measured.
    for env in &plan.environments {
        sqlx::query("UPDATE environments SET demo = 1 WHERE id = $1").bind(&env.id).execute(&mut *tx).await?;
    }
    for env_id in &plan.provision {
        store::jobs::enqueue(&mut *tx, &new_id(), "provision", Some(env_id), now).await?;
    }
    for env_id in &plan.shared {
        let since = plan.environments.iter().find(|e| &e.id == env_id).map_or(now, |e| e.created_at);
        sqlx::query("INSERT INTO shared_periods (environment_id, started_at) VALUES ($1, $2)")
            .bind(env_id)
            .bind(since)
            .execute(&mut *tx)
            .await?;
    }
    for (tier, kind, from, rate) in &plan.prices {
        sqlx::query(
            "INSERT INTO price_book (id, tier, kind, effective_from, hourly_rate_micros, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $4)",
        )
        .bind(format!("demo-{}-{kind}-{from}", tier.as_str()))
        .bind(tier.as_str())
        .bind(kind)
        .bind(*from)
        .bind(*rate)
        .bind("user-erin")
        .execute(&mut *tx)
        .await?;
    }
    for (team_id, month, amount) in plan.budgets(now) {
        sqlx::query(
            "INSERT INTO budgets (team_id, month, amount_micros, alert_pcts, updated_at) VALUES ($1, $2, $3, '50,80,100', $4)",
        )
        .bind(team_id)
        .bind(month)
        .bind(amount)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    store::meta::set(&mut *tx, SEEDED_KEY, &now.to_string()).await?;
    tx.commit().await?;
    Ok(true)
}

/// Everything the demo inserts, built in memory first (pure and deterministic
/// for a given `now`).
pub struct DemoPlan {
    pub teams: Vec<Team>,
    pub users: Vec<User>,
    pub memberships: Vec<(String, String, TeamRole)>,
    pub apps: Vec<App>,
    pub environments: Vec<Environment>,
    pub resources: Vec<Resource>,
    pub audit: Vec<AuditEvent>,
    /// Live environments to provision for real at demo start.
    pub provision: Vec<String>,
    /// Environments marked shared across teams (their cost is a shared cost).
    pub shared: Vec<String>,
    /// Price-book rows added mid-year: (tier, kind, effective from, µ$/h).
    pub prices: Vec<(Tier, String, i64, i64)>,
    /// Invented click-to-ready waits of the history (stored flagged as demo).
    pub waits: Vec<store::measurements::Wait>,
    /// Invented 1–5 ratings: (environment, user, score, at).
    pub ratings: Vec<(String, String, i64, i64)>,
}

/// A small deterministic generator (SplitMix64) so the demo is the same on
/// every install and needs no extra dependency.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo).max(1) as u64) as i64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Branches every demo repository has besides `main`.
pub const BRANCHES: &[&str] = &[
    "feature/login-flow",
    "fix/cart-rounding",
    "feature/search-facets",
    "chore/bump-deps",
    "feature/dark-mode",
    "fix/timeout-retry",
    "feature/invoice-pdf",
    "spike/new-indexer",
];

impl DemoPlan {
    pub fn build(now: i64, repos: &DemoRepos, blueprint: &str) -> DemoPlan {
        let start = now - HISTORY_DAYS * DAY_MS;
        let mut dice = Dice(0x00E0_D00D);
        let team = |slug: &str, name: &str| Team {
            id: format!("team-{slug}"),
            slug: slug.into(),
            name: name.into(),
            created_at: start,
        };
        let teams = vec![team("payments", "Payments"), team("search", "Search"), team("platform", "Platform")];
        let user = |login: &str, name: &str, admin: bool| User {
            id: format!("user-{login}"),
            issuer: DEMO_ISSUER.into(),
            subject: login.into(),
            login: login.into(),
            display_name: name.into(),
            email: Some(format!("{login}@demo.eod.invalid")),
            is_platform_admin: admin,
            created_at: start,
        };
        let users = vec![
            user("alice", "Alice Nakamura", false),
            user("bob", "Bob Okafor", false),
            user("carol", "Carol Díaz", false),
            user("dan", "Dan Kowalski", false),
            user("erin", "Erin Walsh", true),
            user("frank", "Frank Osei", false),
            // A second platform admin: nobody approves their own request.
            user("grace", "Grace Lin", true),
        ];
        let m = |t: &str, u: &str, r| (format!("team-{t}"), format!("user-{u}"), r);
        let memberships = vec![
            m("payments", "alice", TeamRole::Developer),
            m("payments", "bob", TeamRole::Manager),
            m("search", "carol", TeamRole::Developer),
            m("search", "dan", TeamRole::Manager),
            m("platform", "erin", TeamRole::Developer),
            m("payments", "frank", TeamRole::Developer),
            m("search", "frank", TeamRole::Developer),
            m("platform", "grace", TeamRole::Developer),
        ];
        let app = |team: &str, slug: &str, name: &str| App {
            id: format!("app-{slug}"),
            team_id: format!("team-{team}"),
            slug: slug.into(),
            name: name.into(),
            repo_url: repos.0.get(slug).map(|r| r.path.clone()),
            default_branch: "main".into(),
            blueprint: with_pull_requests(blueprint, slug),
            secrets: "{}".into(),
            managed_by_config: false,
            archived_at: None,
            template_generation: 0,
            created_at: start,
            updated_at: None,
        };
        let apps: Vec<App> = DEMO_APPS.iter().map(|(team, slug, name)| app(team, slug, name)).collect();
        let commit_of = |slug: &str, branch: &str| repos.0.get(slug).and_then(|r| r.branches.get(branch)).cloned();
        let developers_of = |team_id: &str| -> Vec<String> {
            memberships.iter().filter(|(t, _, _)| t == team_id).map(|(_, u, _)| u.clone()).collect()
        };

        let mut plan = DemoPlan {
            teams,
            users,
            memberships: memberships.clone(),
            apps: apps.clone(),
            environments: vec![],
            resources: vec![],
            audit: vec![],
            provision: vec![],
            shared: vec![],
            prices: vec![],
            waits: vec![],
            ratings: vec![],
        };
        // Half a year ago the database contract was renegotiated and compute got dearer.
        let change = (now - 182 * DAY_MS).div_euclid(DAY_MS) * DAY_MS;
        plan.prices.push((Tier::PreviewFull, "database".into(), change, 300_000));
        plan.prices.push((Tier::Staging, "compute".into(), change, 450_000));

        // Long-lived environments: staging for the web apps, production for two.
        for (slug, tier) in [
            ("checkout-web", Tier::Staging),
            ("search-ui", Tier::Staging),
            ("payments-api", Tier::Staging),
            ("payments-api", Tier::Production),
            ("search-ui", Tier::Production),
        ] {
            let app = apps.iter().find(|a| a.slug == slug).expect("demo app");
            let name = format!("{slug}-{}", tier.as_str());
            let source = (None, "main".to_string());
            plan.add(
                &mut dice,
                app,
                None,
                (name, source),
                tier,
                EnvState::Pending,
                start,
                None,
                None,
                Some(now - 20 * MINUTE_MS),
            );
            plan.go_live(commit_of(slug, "main"));
            // Checkout's staging is where every team tests against checkout.
            if slug == "checkout-web" {
                let id = plan.environments.last().expect("just added").id.clone();
                plan.shared.push(id);
            }
        }
        // Long-lived environments that were retired during the year.
        for (slug, tier, days) in [("indexer", Tier::Staging, 150), ("portal-docs", Tier::Production, 200)] {
            let app = apps.iter().find(|a| a.slug == slug).expect("demo app");
            let name = format!("{slug}-{}-v1", tier.as_str());
            plan.add(
                &mut dice,
                app,
                None,
                (name, (None, "main".to_string())),
                tier,
                EnvState::Destroyed,
                start + DAY_MS,
                Some(start + days * DAY_MS),
                None,
                None,
            );
        }

        // Previews over the last year: two to five a day, most long gone.
        let preview_tiers = [
            Tier::PreviewLightweight,
            Tier::PreviewLightweight,
            Tier::PreviewLightweight,
            Tier::PreviewFull,
            Tier::PreviewFull,
            Tier::PreviewCompliance,
        ];
        let mut serial = 0u32;
        for day in 0..HISTORY_DAYS {
            let per_day = dice.between(2, 6);
            for _ in 0..per_day {
                serial += 1;
                let app = dice.pick(&apps[..4]).clone();
                let tier = *dice.pick(&preview_tiers);
                let created = start + day * DAY_MS + dice.between(7 * HOUR_MS, 19 * HOUR_MS);
                let ttl = tier.default_policy().ttl_ms.unwrap_or(DAY_MS);
                // Most are destroyed at TTL; some are destroyed by hand sooner.
                let lifetime = if dice.below(3) == 0 {
                    dice.between(30 * MINUTE_MS, ttl)
                } else {
                    ttl + dice.between(0, 10 * MINUTE_MS)
                };
                if created + lifetime >= now {
                    continue; // the recent ones are generated below with live states
                }
                let owner = dice.pick(&developers_of(&app.team_id)).clone();
                let name = preview_name(&mut dice, &app.slug, serial);
                plan.add(
                    &mut dice,
                    &app,
                    Some(owner),
                    name,
                    tier,
                    EnvState::Destroyed,
                    created,
                    Some(created + lifetime),
                    Some(created + ttl),
                    None,
                );
                // Half the lightweight previews of the pooled apps came from
                // the warm pool: their resources ran before the claim.
                if tier == Tier::PreviewLightweight && DEMO_POOLS.contains(&app.slug.as_str()) && dice.below(2) == 0 {
                    let waited = dice.between(15 * MINUTE_MS, 4 * HOUR_MS);
                    plan.claimed_from_pool(created, waited);
                }
            }
            // Now and then a pool member is retired unclaimed (a new commit on main).
            if day % 9 == 4 {
                serial += 1;
                let app = apps.iter().find(|a| a.slug == DEMO_POOLS[(day as usize / 9) % 2]).expect("pooled app");
                let created = start + day * DAY_MS + 2 * HOUR_MS;
                let name = environment_name(&app.slug, &Source::Branch("main"), &format!("{serial:04}"));
                let retired = created + dice.between(3 * HOUR_MS, 20 * HOUR_MS);
                plan.add(
                    &mut dice,
                    app,
                    None,
                    (name, (None, "main".to_string())),
                    Tier::PreviewLightweight,
                    EnvState::Destroyed,
                    created,
                    Some(retired),
                    None,
                    None,
                );
                plan.environments.last_mut().expect("just added").pooled = true;
            }
        }

        // Failed previews are a resting state: history, nothing runs.
        for (i, (tier, age)) in
            [(Tier::PreviewLightweight, 12 * MINUTE_MS), (Tier::PreviewFull, 45 * MINUTE_MS)].into_iter().enumerate()
        {
            serial += 1;
            let app = apps[i % 4].clone();
            let owner = dice.pick(&developers_of(&app.team_id)).clone();
            let created = now - age;
            let name = preview_name(&mut dice, &app.slug, serial);
            plan.add(&mut dice, &app, Some(owner), name, tier, EnvState::Failed, created, None, None, None);
        }

        // The live previews: provisioned for real at demo start, each on its branch.
        let live: [(Tier, i64); 6] = [
            (Tier::PreviewLightweight, 5 * MINUTE_MS),
            (Tier::PreviewLightweight, 25 * MINUTE_MS),
            (Tier::PreviewLightweight, 70 * MINUTE_MS),
            (Tier::PreviewFull, 3 * HOUR_MS),
            (Tier::PreviewFull, 8 * HOUR_MS),
            (Tier::PreviewCompliance, 20 * HOUR_MS),
        ];
        for (i, (tier, age)) in live.into_iter().enumerate() {
            serial += 1;
            let app = apps[i % 4].clone();
            let owner = dice.pick(&developers_of(&app.team_id)).clone();
            let created = now - age;
            let ttl = tier.default_policy().ttl_ms.unwrap_or(DAY_MS);
            let last_activity = now - dice.between(MINUTE_MS, 20 * MINUTE_MS);
            // Compliance TTLs run from creation; the others from the last activity.
            let expires = if tier == Tier::PreviewCompliance { created + ttl } else { last_activity + ttl };
            // Two of them preview the demo repositories' pull requests #7 and #12.
            let (branch, pr) = match i {
                0 => (BRANCHES[0], Some(7)),
                2 => (BRANCHES[2], Some(12)),
                _ => (BRANCHES[i % BRANCHES.len()], None),
            };
            let (name, source) = match pr {
                Some(n) => (
                    environment_name(&app.slug, &Source::PullRequest(n), &format!("{serial:04}")),
                    (Some(n as i64), format!("refs/pull/{n}/head")),
                ),
                None => (
                    environment_name(&app.slug, &Source::Branch(branch), &format!("{serial:04}")),
                    (None, branch.into()),
                ),
            };
            plan.add(
                &mut dice,
                &app,
                Some(owner),
                (name, source),
                tier,
                EnvState::Pending,
                created,
                None,
                Some(expires.max(now + 10 * MINUTE_MS)),
                Some(last_activity),
            );
            plan.go_live(commit_of(&app.slug, branch));
        }
        plan.invent_measurements();
        plan
    }

    /// The history's waits and ratings, invented (a separate die, so the
    /// rest of the plan stays as it was): cold starts of 20–90 s, pool
    /// hand-overs of a few milliseconds, and a rating on half the
    /// destroyed previews. Every row is stored flagged as demo.
    fn invent_measurements(&mut self) {
        use crate::domain::measure::{ReadyPath, Via};
        let mut dice = Dice(0x5EED_0FF1_CE00);
        for env in &mut self.environments {
            let Some(owner) = env.owner_id.clone() else { continue };
            if env.pooled || env.ready_at.is_none() {
                continue;
            }
            let path = if env.claimed_at.is_some() { ReadyPath::Pool } else { ReadyPath::Cold };
            if path == ReadyPath::Pool {
                env.ready_at = Some(env.created_at + dice.between(3, 40));
            }
            self.waits.push(store::measurements::Wait {
                environment_id: env.id.clone(),
                team_id: env.team_id.clone(),
                tier: env.tier.clone(),
                via: if dice.below(4) == 0 { Via::Api } else { Via::Ui },
                path,
                requested_at: env.created_at,
                ready_at: env.ready_at,
                demo: true,
            });
            if let (Some(gone), true) = (env.destroyed_at, env.tier.starts_with("preview")) {
                if dice.below(2) == 0 {
                    let score = *dice.pick(&[5, 5, 4, 4, 4, 3, 5, 4, 2]);
                    self.ratings.push((env.id.clone(), owner, score, gone + 2 * MINUTE_MS));
                }
            }
        }
    }

    /// The environment just added was a warm-pool member claimed at its
    /// creation after waiting `waited`: its resources started earlier.
    fn claimed_from_pool(&mut self, claimed_at: i64, waited: i64) {
        let env = self.environments.last_mut().expect("an environment was just added");
        env.claimed_at = Some(claimed_at);
        let id = env.id.clone();
        for r in self.resources.iter_mut().rev().take_while(|r| r.environment_id == id) {
            r.started_at = Some(claimed_at - waited);
        }
    }

    /// The priced resource intervals of the plan, as chargeback reads them.
    pub fn usages(&self) -> Vec<crate::domain::chargeback::Usage> {
        let team_slug = |id: &str| self.teams.iter().find(|t| t.id == id).map(|t| t.slug.clone()).unwrap_or_default();
        let app_slug = |id: &str| self.apps.iter().find(|a| a.id == id).map(|a| a.slug.clone()).unwrap_or_default();
        self.resources
            .iter()
            .filter_map(|r| {
                let e = self.environments.iter().find(|e| e.id == r.environment_id)?;
                Some(crate::domain::chargeback::Usage {
                    env_id: e.id.clone(),
                    env_name: e.name.clone(),
                    team: team_slug(&e.team_id),
                    app: app_slug(&e.app_id),
                    tier: e.tier.parse().ok()?,
                    kind: r.kind.clone(),
                    git_ref: e.git_ref.clone(),
                    pr_number: e.pr_number,
                    recorded_rate: crate::domain::money::Micros(r.hourly_rate_micros),
                    started_at: r.started_at?,
                    ended_at: r.ended_at,
                    idle_until: if e.pooled { Some(i64::MAX) } else { e.claimed_at },
                    shared: if self.shared.contains(&e.id) { vec![(e.created_at, i64::MAX)] } else { vec![] },
                    expected_end: e.expires_at,
                })
            })
            .collect()
    }

    /// The price book with the plan's mid-year changes.
    pub fn price_book(&self) -> crate::domain::price::PriceBook {
        let mut entries = crate::domain::price::default_entries();
        entries.extend(self.prices.iter().map(|(tier, kind, from, rate)| crate::domain::price::RateEntry {
            tier: *tier,
            kind: kind.clone(),
            effective_from: *from,
            hourly_rate: crate::domain::money::Micros(*rate),
        }));
        crate::domain::price::PriceBook::new(entries)
    }

    /// Budgets that make the Costs page show something to act on: search
    /// over its budget this month, payments near 80 % of it; each with a
    /// roomier budget from the year's first month. (team id, month, µ$).
    pub fn budgets(&self, now: i64) -> Vec<(String, String, i64)> {
        use crate::domain::chargeback::{month_report, AllocationRules, Basis};
        use crate::domain::cost::Month;
        let month = Month::containing(now);
        let (book, usages) = (self.price_book(), self.usages());
        let report = month_report(&book, &AllocationRules::default(), &usages, month, now, Basis::Actual);
        let last = month_report(&book, &AllocationRules::default(), &usages, month.prev(), now, Basis::Actual);
        let first = Month::containing(now - (HISTORY_DAYS - 31) * DAY_MS);
        let whole_dollars = |m: i64| (m / 1_000_000).max(1) * 1_000_000;
        let mut out = Vec::new();
        for (slug, share_pct) in [("search", 85), ("payments", 122)] {
            let spent = report.team(slug).total.0;
            let current = whole_dollars(spent * share_pct / 100);
            // The year's budget: a quarter above a full month's spend.
            out.push((format!("team-{slug}"), first.label(), whole_dollars(last.team(slug).total.0 * 125 / 100)));
            if first != month {
                out.push((format!("team-{slug}"), month.label(), current));
            }
        }
        out
    }

    /// The environment just added runs for real: its commit, and a job to provision it.
    fn go_live(&mut self, commit: Option<String>) {
        let env = self.environments.last_mut().expect("an environment was just added");
        env.commit_sha = commit;
        self.provision.push(env.id.clone());
    }

    /// Adds one environment with its resources and audit history.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        dice: &mut Dice,
        app: &App,
        owner_id: Option<String>,
        (name, (pr_number, git_ref)): (String, (Option<i64>, String)),
        tier: Tier,
        state: EnvState,
        created_at: i64,
        destroyed_at: Option<i64>,
        expires_at: Option<i64>,
        last_activity_at: Option<i64>,
    ) {
        let id = id_at(created_at);
        // Cold provisioning in the portal's history: 20–90 s to ready.
        let ready_at = match state {
            EnvState::Pending | EnvState::Failed => None,
            _ => Some(created_at + dice.between(20 * SECOND_MS, 90 * SECOND_MS)),
        };
        let failure_reason =
            (state == EnvState::Failed).then(|| "readiness probe failed 3 times on /healthz".to_string());
        self.environments.push(Environment {
            id: id.clone(),
            name: name.clone(),
            team_id: app.team_id.clone(),
            app_id: app.id.clone(),
            owner_id: owner_id.clone(),
            tier: tier.as_str().into(),
            state: state.as_str().into(),
            git_ref: Some(git_ref),
            pr_number,
            // History: a plausible commit id (its repository is long gone).
            commit_sha: Some(format!("{:016x}{:016x}{:08x}", dice.next(), dice.next(), dice.next() as u32)),
            pooled: false,
            created_at,
            ready_at,
            last_activity_at: last_activity_at.or(ready_at),
            expires_at: if tier.is_preview() { expires_at } else { None },
            warned_at: (state == EnvState::Expiring).then(|| expires_at.unwrap_or(created_at)),
            destroyed_at,
            failure_reason,
            claimed_at: None,
            // Checked once right away; the first tick computes the real next check.
            next_check_at: matches!(state, EnvState::Ready | EnvState::Active | EnvState::Idle).then_some(created_at),
            health: "unknown".into(),
            health_changed_at: None,
            restarts: 0,
        });
        {
            // Live demo environments have been running (and costing) since
            // their creation; provisioning at demo start restarts them. A
            // failed one held its resources until the failure was cleaned up.
            let ended = match state {
                EnvState::Failed => Some(created_at + 2 * MINUTE_MS),
                _ => destroyed_at,
            };
            for priced in default_resources(tier) {
                self.resources.push(Resource {
                    id: new_id(),
                    environment_id: id.clone(),
                    kind: priced.kind.into(),
                    name: format!("{name}-{}", priced.kind),
                    driver: "local".into(),
                    state: if ended.is_some() { "deleted" } else { "created" }.into(),
                    hourly_rate_micros: priced.hourly_rate.0,
                    started_at: Some(created_at),
                    ended_at: ended,
                });
            }
        }
        let actor =
            owner_id.clone().map(|u| u.trim_start_matches("user-").to_string()).unwrap_or_else(|| "system".into());
        let event = |at: i64, action: &str, actor_id: Option<String>, label: &str| AuditEvent {
            id: id_at(at),
            at,
            actor_id,
            actor_label: label.to_string(),
            action: action.to_string(),
            target_kind: "environment".into(),
            target_id: Some(id.clone()),
            team_id: Some(app.team_id.clone()),
            ip: None,
            user_agent: None,
            outcome: "success".into(),
            detail: format!(r#"{{"name":"{name}","tier":"{tier}"}}"#),
        };
        self.audit.push(event(created_at, "environment.create", owner_id.clone(), &actor));
        match (destroyed_at, expires_at) {
            // A preview that lived to its TTL went the scheduler's way.
            (Some(at), Some(ttl)) if tier.is_preview() && at >= ttl => {
                let mut timer = event(ttl, "environment.timer", None, "system");
                timer.detail = format!(r#"{{"name":"{name}","tier":"{tier}","from":"active","to":"expiring"}}"#);
                self.audit.push(timer);
            }
            (Some(at), _) => self.audit.push(event(at, "environment.destroy", None, "system")),
            _ => {}
        }
    }
}

/// A preview's name with the pull request or branch it was made from.
fn preview_name(dice: &mut Dice, app_slug: &str, serial: u32) -> (String, (Option<i64>, String)) {
    if dice.below(2) == 0 {
        let pr = 100 + i64::from(serial);
        let name = environment_name(app_slug, &Source::PullRequest(pr as u64), &format!("{serial:04}"));
        (name, (Some(pr), format!("refs/pull/{pr}/head")))
    } else {
        let branch = *dice.pick(BRANCHES);
        let name = environment_name(app_slug, &Source::Branch(branch), &format!("{serial:04}"));
        (name, (None, branch.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000_000;

    fn plan() -> DemoPlan {
        DemoPlan::build(NOW, &DemoRepos::default(), "{}")
    }

    #[test]
    fn demo_covers_every_tier_and_history_is_only_in_end_states() {
        let plan = plan();
        for tier in Tier::ALL {
            assert!(plan.environments.iter().any(|e| e.tier == tier.as_str()), "{tier}");
        }
        for env in &plan.environments {
            let live = plan.provision.contains(&env.id);
            match env.state.as_str() {
                "destroyed" | "failed" => assert!(!live, "{}", env.name),
                "pending" => assert!(live, "{} is pending without a provisioning job", env.name),
                other => panic!("{} is {other}: demo rows are history or really provisioned", env.name),
            }
        }
        assert!(plan.provision.len() >= 10);
        assert!(plan.teams.len() >= 3);
        assert!(plan.environments.len() >= 50);
    }

    #[test]
    fn demo_history_spans_a_year_and_never_the_future() {
        let plan = plan();
        let oldest = plan.environments.iter().map(|e| e.created_at).min().unwrap();
        assert!(oldest <= NOW - 364 * DAY_MS);
        assert!(plan.environments.iter().all(|e| e.created_at <= NOW));
        assert!(plan.environments.iter().all(|e| e.destroyed_at.is_none_or(|d| d < NOW && d > e.created_at)));
    }

    #[test]
    fn demo_previews_are_named_after_their_pull_request() {
        let plan = plan();
        for env in plan.environments.iter().filter(|e| e.pr_number.is_some()) {
            let pr = env.pr_number.unwrap();
            assert!(env.name.contains(&format!("-pr-{pr}-")), "{} vs PR {pr}", env.name);
            assert_eq!(env.git_ref.as_deref(), Some(format!("refs/pull/{pr}/head").as_str()));
        }
    }

    #[test]
    fn demo_budgets_put_one_team_over_and_one_near_eighty_percent() {
        use crate::domain::chargeback::{month_report, AllocationRules, Basis};
        use crate::domain::cost::Month;
        let plan = plan();
        let month = Month::containing(NOW);
        let r =
            month_report(&plan.price_book(), &AllocationRules::default(), &plan.usages(), month, NOW, Basis::Actual);
        let budgets = plan.budgets(NOW);
        let now_budget = |team: &str| budgets.iter().rfind(|b| b.0 == format!("team-{team}")).unwrap().2;
        let pct = |team: &str| r.team(team).total.0 * 100 / now_budget(team);
        assert!(pct("search") >= 100, "search at {}%", pct("search"));
        assert!((78..100).contains(&pct("payments")), "payments at {}%", pct("payments"));
        // The year shows pool idle time, the shared staging and an unallocated-free split.
        assert!(r.pools.iter().any(|p| p.pool == crate::domain::chargeback::SharedPool::SharedEnvironments));
        assert!(plan.environments.iter().any(|e| e.claimed_at.is_some()));
        assert!(plan.environments.iter().any(|e| e.pooled && e.destroyed_at.is_some()));
        assert!(plan.environments.iter().any(|e| e.tier == "staging" && e.destroyed_at.is_some()));
    }

    #[test]
    fn demo_names_are_unique() {
        let plan = plan();
        let mut names: Vec<_> = plan.environments.iter().map(|e| e.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), plan.environments.len());
    }
}
