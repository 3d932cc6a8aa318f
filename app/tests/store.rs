//! Store queries against real SQLite and real PostgreSQL.

mod support;

use app::domain::access::{TeamRole, Viewer};
use app::ssr::demo::{self, DemoPlan};
use app::ssr::store::{self, audit::AuditEvent, audit::Outcome};
use app::ssr::{Db, RequestMeta};

const NOW: i64 = 1_795_000_000_000;

async fn viewer(db: &Db, login: &str) -> Viewer {
    store::users::viewer(db.pool(), &format!("user-{login}")).await.unwrap().expect("demo user")
}

on_both_engines!(demo_seed_is_idempotent, |db: Db| async move {
    assert!(demo::seed(&db, NOW).await.unwrap(), "first run seeds");
    assert!(!demo::seed(&db, NOW + 1000).await.unwrap(), "second run does nothing");
    let teams = store::teams::list(db.pool()).await.unwrap();
    assert_eq!(teams.len(), 3);
    let counts = store::environments::count_by_state(db.pool()).await.unwrap();
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    assert_eq!(total as usize, DemoPlan::build(NOW, &Default::default(), "{}").environments.len());
    // History is only in end states; live environments wait for their provisioning job.
    let states: Vec<&str> = counts.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(states, ["destroyed", "failed", "pending"], "{counts:?}");
    let pending = counts.iter().find(|(s, _)| s == "pending").map(|(_, n)| *n).unwrap();
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'provision' AND finished_at IS NULL")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(jobs, pending, "one provisioning job per live demo environment");
});

on_both_engines!(members_list_only_their_teams_live_environments, |db: Db| async move {
    demo::seed(&db, NOW).await.unwrap();
    let alice = viewer(&db, "alice").await;
    assert_eq!(alice.memberships.len(), 1);
    assert_eq!(alice.memberships[0].role, TeamRole::Developer);
    let rows = store::environments::list_live_visible(db.pool(), &alice, 1000).await.unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.team_slug == "payments"), "only payments");
    assert!(rows.iter().all(|r| r.state != "destroyed"), "only live");
    assert!(rows.windows(2).all(|w| w[0].created_at >= w[1].created_at), "newest first");

    let frank = viewer(&db, "frank").await;
    let teams: std::collections::BTreeSet<_> = store::environments::list_live_visible(db.pool(), &frank, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.team_slug)
        .collect();
    assert_eq!(teams.into_iter().collect::<Vec<_>>(), vec!["payments", "search"]);
});

on_both_engines!(platform_admins_list_every_team, |db: Db| async move {
    demo::seed(&db, NOW).await.unwrap();
    let erin = viewer(&db, "erin").await;
    assert!(erin.is_platform_admin);
    let rows = store::environments::list_live_visible(db.pool(), &erin, 1000).await.unwrap();
    let teams: std::collections::BTreeSet<_> = rows.iter().map(|r| r.team_slug.as_str()).collect();
    assert!(teams.contains("payments") && teams.contains("search"));
    let limited = store::environments::list_live_visible(db.pool(), &erin, 3).await.unwrap();
    assert_eq!(limited.len(), 3);
});

on_both_engines!(users_are_found_by_issuer_and_subject, |db: Db| async move {
    demo::seed(&db, NOW).await.unwrap();
    let found = store::users::find_by_identity(db.pool(), "demo", "bob").await.unwrap().unwrap();
    assert_eq!(found.login, "bob");
    assert!(store::users::find_by_identity(db.pool(), "https://other.example", "bob").await.unwrap().is_none());
    let demo_users = store::users::list_by_issuer(db.pool(), "demo").await.unwrap();
    assert_eq!(demo_users.len(), 7);
});

on_both_engines!(audit_events_are_appended_and_read_back, |db: Db| async move {
    demo::seed(&db, NOW).await.unwrap();
    let meta = RequestMeta {
        viewer: Some(viewer(&db, "alice").await),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
        ..Default::default()
    };
    let event = AuditEvent::from_request(&meta, "auth.sign_in", "user", Some("user-alice".into()), Outcome::Success)
        .with_detail(serde_json::json!({ "provider": "demo" }));
    store::audit::append(db.pool(), &event).await.unwrap();
    let read = store::audit::for_target(db.pool(), "user-alice", 10).await.unwrap();
    assert_eq!(read, vec![event]);
    assert_eq!(store::audit::count_by_action(db.pool(), "auth.sign_in").await.unwrap(), 1);
    // Seeded history is in the trail too.
    assert!(store::audit::count_by_action(db.pool(), "environment.create").await.unwrap() >= 50);
});

on_both_engines!(the_database_refuses_to_change_or_remove_audit_events, |db: Db| async move {
    demo::seed(&db, NOW).await.unwrap();
    let before = store::audit::count_by_action(db.pool(), "environment.create").await.unwrap();
    let change = sqlx::query("UPDATE audit_events SET action = 'nothing.happened'").execute(db.pool()).await;
    assert!(change.unwrap_err().to_string().contains("append-only"));
    let remove = sqlx::query("DELETE FROM audit_events").execute(db.pool()).await;
    assert!(remove.unwrap_err().to_string().contains("append-only"));
    if db.engine() == app::ssr::db::Engine::Postgres {
        let truncate = sqlx::query("TRUNCATE audit_events").execute(db.pool()).await;
        assert!(truncate.unwrap_err().to_string().contains("append-only"));
    }
    assert_eq!(store::audit::count_by_action(db.pool(), "environment.create").await.unwrap(), before);
});

on_both_engines!(schema_rejects_unknown_tiers_and_states, |db: Db| async move {
    demo::seed(&db, NOW).await.unwrap();
    let bad = sqlx::query(
        "INSERT INTO environments (id, name, team_id, app_id, tier, state, created_at)
         VALUES ('x', 'x', 'team-payments', 'app-checkout-web', 'preview-huge', 'pending', 0)",
    )
    .execute(db.pool())
    .await;
    assert!(bad.is_err(), "CHECK constraint on tier");
});

on_both_engines!(resources_belong_to_their_environment, |db: Db| async move {
    demo::seed(&db, NOW).await.unwrap();
    let erin = viewer(&db, "erin").await;
    let rows = store::environments::list_live_visible(db.pool(), &erin, 1000).await.unwrap();
    let staging = rows.iter().find(|r| r.tier == "staging").expect("a staging environment");
    let resources = store::resources::for_environment(db.pool(), &staging.id).await.unwrap();
    let kinds: Vec<_> = resources.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, vec!["cdn", "compute", "database"]);
    assert!(resources.iter().all(|r| r.ended_at.is_none() && r.hourly_rate_micros > 0));
});

#[tokio::test]
async fn readiness_reflects_a_closed_pool() {
    let t = support::sqlite().await;
    assert!(t.db.is_reachable().await);
    t.db.close().await;
    assert!(!t.db.is_reachable().await);
}

mod tokens_and_audit {
    use super::*;
    use app::domain::token::Scope;
    use app::ssr::store::audit::Search;
    use app::ssr::tokens::{self, NewToken, Refused};

    fn meta_for(v: &Viewer) -> RequestMeta {
        RequestMeta {
            viewer: Some(v.clone()),
            ip: Some("127.0.0.1".into()),
            user_agent: Some("test".into()),
            ..Default::default()
        }
    }

    fn new_token(scopes: Vec<Scope>) -> NewToken {
        NewToken { name: "ci".into(), scopes, expires_in_days: 30 }
    }

    on_both_engines!(tokens_authenticate_only_while_live, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let alice = viewer(&db, "alice").await;
        let (row, secret) =
            tokens::create(&db, &meta_for(&alice), &alice, new_token(vec![Scope::EnvironmentsRead])).await.unwrap();
        // Only a hash is stored, never the secret.
        let stored = store::tokens::find(db.pool(), &row.id).await.unwrap().unwrap();
        let secret_part = secret.rsplit('_').next().unwrap();
        assert!(!stored.secret_hash.contains(secret_part));
        assert_eq!(stored.secret_hash.len(), 64);

        let ok = tokens::authenticate(&db, &secret).await.unwrap().expect("live token accepted");
        assert_eq!(ok.viewer.login, "alice");
        assert_eq!(ok.scopes, vec![Scope::EnvironmentsRead]);
        assert!(store::tokens::find(db.pool(), &row.id).await.unwrap().unwrap().last_used_at.is_some());

        let mut wrong = secret.clone();
        wrong.pop();
        wrong.push(if secret.ends_with('a') { 'b' } else { 'a' });
        assert_eq!(tokens::authenticate(&db, &wrong).await.unwrap().unwrap_err().0, Refused::WrongSecret);
        let unknown = format!("eod_{}_{}", "z".repeat(12), secret_part);
        assert_eq!(tokens::authenticate(&db, &unknown).await.unwrap().unwrap_err().0, Refused::Unknown);
        assert_eq!(tokens::authenticate(&db, "garbage").await.unwrap().unwrap_err().0, Refused::Malformed);

        // Someone else cannot revoke it; its owner can.
        let bob = viewer(&db, "bob").await;
        assert_eq!(tokens::revoke(&db, &meta_for(&bob), &bob, &row.id).await, Err(app::error::AppError::NotFound));
        tokens::revoke(&db, &meta_for(&alice), &alice, &row.id).await.unwrap();
        assert_eq!(tokens::authenticate(&db, &secret).await.unwrap().unwrap_err().0, Refused::Revoked);
        assert_eq!(store::audit::count_by_action(db.pool(), "token.create").await.unwrap(), 1);
        assert_eq!(store::audit::count_by_action(db.pool(), "token.revoke").await.unwrap(), 1);
    });

    on_both_engines!(expired_tokens_are_refused, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let alice = viewer(&db, "alice").await;
        let (row, secret) =
            tokens::create(&db, &meta_for(&alice), &alice, new_token(vec![Scope::AuditRead])).await.unwrap();
        sqlx::query("UPDATE api_tokens SET expires_at = $1 WHERE id = $2")
            .bind(1_i64)
            .bind(&row.id)
            .execute(db.pool())
            .await
            .unwrap();
        assert_eq!(tokens::authenticate(&db, &secret).await.unwrap().unwrap_err().0, Refused::Expired);
    });

    on_both_engines!(bad_token_requests_change_nothing, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let alice = viewer(&db, "alice").await;
        for bad in [
            NewToken { name: " ".into(), scopes: vec![Scope::AuditRead], expires_in_days: 30 },
            NewToken { name: "x".into(), scopes: vec![], expires_in_days: 30 },
            NewToken { name: "x".into(), scopes: vec![Scope::AuditRead], expires_in_days: 0 },
            NewToken { name: "x".into(), scopes: vec![Scope::AuditRead], expires_in_days: 366 },
        ] {
            let err = tokens::create(&db, &meta_for(&alice), &alice, bad).await.unwrap_err();
            assert_eq!(err.status(), 422, "{err}");
        }
        assert!(store::tokens::list_for_user(db.pool(), &alice.user_id).await.unwrap().is_empty());
        assert_eq!(store::audit::count_by_action(db.pool(), "token.create").await.unwrap(), 0);
    });

    on_both_engines!(audit_search_filters_and_scopes_by_team, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let all =
            store::audit::search(db.pool(), &Search { action_prefix: "environment.", ..Default::default() }, 10_000)
                .await
                .unwrap();
        assert!(all.iter().all(|e| e.action.starts_with("environment.")));
        assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
        let teams = vec!["team-search".to_string()];
        let search_only =
            store::audit::search(db.pool(), &Search { teams: Some(&teams), ..Default::default() }, 10_000)
                .await
                .unwrap();
        assert!(!search_only.is_empty());
        assert!(search_only.iter().all(|e| e.team_id.as_deref() == Some("team-search")));
        let none =
            store::audit::search(db.pool(), &Search { teams: Some(&[]), ..Default::default() }, 10).await.unwrap();
        assert!(none.is_empty());
        let page2 = store::audit::search(
            db.pool(),
            &Search { before_id: &all[9].id, action_prefix: "environment.", ..Default::default() },
            5,
        )
        .await
        .unwrap();
        assert_eq!(
            page2.iter().map(|e| &e.id).collect::<Vec<_>>(),
            all[10..15].iter().map(|e| &e.id).collect::<Vec<_>>()
        );
    });
}

mod pools_and_listing {
    use super::*;
    use app::domain::listing::{ListQuery, PAGE_SIZE};
    use app::domain::pool::PoolSpec;
    use app::domain::preview_url::PreviewUrlBase;
    use app::domain::tier::Tier;
    use app::ssr::environments::{self, NewEnvironment};
    use app::ssr::{pools, AppState, PortalSettings};
    use std::sync::Arc;

    pub(crate) fn state(db: &Db, size: u32) -> AppState {
        let settings = PortalSettings {
            demo: true,
            preview_urls: PreviewUrlBase { scheme: "http".into(), domain: "localhost".into(), port: Some(3000) },
            public_origin: "http://127.0.0.1:3000".into(),
            session_absolute_ms: 3_600_000,
            session_refresh_ms: 60_000,
            sign_in_providers: vec![],
            tiers: Default::default(),
            pools: vec![PoolSpec { app: "checkout-web".into(), team: None, tier: Tier::PreviewLightweight, size }],
            secret_key: app::ssr::secrets::SecretKey::generate(),
            app_admins: Default::default(),
            cost_rules: Default::default(),
            admission: None,
            kubernetes: false,
        };
        AppState {
            leptos_options: leptos::prelude::LeptosOptions::builder().output_name("eod").build(),
            db: db.clone(),
            settings: Arc::new(settings),
            work: Arc::new(tokio::sync::Notify::new()),
            runtime: None,
            changes: Default::default(),
            sources: None,
        }
    }

    /// What the reconciler would do: members running, their resources clocked from `started`.
    pub(crate) async fn provision_pool(db: &Db, started: i64) {
        sqlx::query("UPDATE environments SET state = 'active' WHERE pooled = 1 AND state = 'pending'")
            .execute(db.pool())
            .await
            .unwrap();
        sqlx::query(
            "UPDATE resources SET state = 'created', started_at = $1
             WHERE started_at IS NULL AND environment_id IN (SELECT id FROM environments WHERE pooled = 1)",
        )
        .bind(started)
        .execute(db.pool())
        .await
        .unwrap();
    }

    pub(crate) fn new_preview(branch: &str) -> NewEnvironment {
        NewEnvironment {
            app: "checkout-web".into(),
            team: None,
            branch: Some(branch.into()),
            pr_number: None,
            tier: Tier::PreviewLightweight,
        }
    }

    on_both_engines!(a_new_preview_takes_a_running_pool_member_and_the_pool_refills, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state(&db, 2);
        assert_eq!(pools::refill(&db, &state.settings, None).await.unwrap(), 2);
        assert_eq!(pools::refill(&db, &state.settings, None).await.unwrap(), 0, "full: nothing to add");
        let t0 = app::ssr::clock::now_ms() - 3_600_000;
        provision_pool(&db, t0).await;

        let alice = viewer(&db, "alice").await;
        let meta = RequestMeta { viewer: Some(alice.clone()), ..Default::default() };
        let env = environments::create(&state, &meta, new_preview("feature/pooled")).await.unwrap();
        assert_eq!((env.state.as_str(), env.pooled), ("active", false));
        assert!(env.name.starts_with("checkout-web-feature-pooled-"), "{}", env.name);
        assert_eq!(env.owner_id.as_deref(), Some(alice.user_id.as_str()));
        let claimed = env.claimed_at.expect("claimed");
        assert_eq!(env.expires_at, Some(claimed + 4 * 3_600_000), "TTL from the claim");

        // The pool is one short and refills; the claimed member's idle time
        // stays the platform's, and only unclaimed members keep accruing.
        assert_eq!(pools::refill(&db, &state.settings, None).await.unwrap(), 1);
        let later = claimed + 3_600_000;
        // Warm-pool idle cost as chargeback computes it, over both months if the hour crosses one.
        let warm = |as_of: i64| {
            let db = db.clone();
            async move {
                use app::domain::chargeback::SharedPool;
                let rules = app::domain::chargeback::AllocationRules::default();
                let mut months = vec![app::domain::cost::Month::containing(claimed)];
                if app::domain::cost::Month::containing(later) != months[0] {
                    months.push(months[0].next());
                }
                let mut total = 0;
                for m in months {
                    let (r, _) = app::ssr::costs::report_with(&db, &rules, m, as_of).await.unwrap();
                    total += r.pools.iter().filter(|p| p.pool == SharedPool::WarmPools).map(|p| p.cost.0).sum::<i64>();
                }
                app::domain::money::Micros(total)
            }
        };
        let at_claim = warm(claimed).await;
        let hour_later = warm(later).await;
        let lightweight = app::domain::price::default_hourly_rate(Tier::PreviewLightweight);
        assert_eq!(hour_later.0 - at_claim.0, lightweight.0, "one unclaimed running member for an hour");
        assert!(at_claim.0 >= 2 * lightweight.0 * 99 / 100, "two members idled about an hour: {at_claim}");
        let audit = store::audit::for_target(db.pool(), &env.id, 10).await.unwrap();
        assert!(audit.iter().any(|e| e.action == "pool.fill"));
        assert!(audit.iter().any(|e| e.action == "environment.create" && e.detail.contains("from_pool")));
    });

    on_both_engines!(concurrent_requests_never_share_a_pool_member, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state(&db, 1);
        pools::refill(&db, &state.settings, None).await.unwrap();
        provision_pool(&db, app::ssr::clock::now_ms()).await;
        let alice = viewer(&db, "alice").await;
        let meta = RequestMeta { viewer: Some(alice), ..Default::default() };
        let (a, b) = tokio::join!(
            environments::create(&state, &meta, new_preview("race-a")),
            environments::create(&state, &meta, new_preview("race-b")),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_ne!(a.id, b.id);
        assert_eq!([a.claimed_at.is_some(), b.claimed_at.is_some()].iter().filter(|c| **c).count(), 1);
    });

    on_both_engines!(every_write_schedules_the_next_timer_check, |db: Db| async move {
        use app::domain::lifecycle::Event;
        demo::seed(&db, NOW).await.unwrap();
        let state = state(&db, 0);
        let alice = viewer(&db, "alice").await;
        let meta = RequestMeta { viewer: Some(alice), ..Default::default() };
        let env = environments::create(&state, &meta, new_preview("timers")).await.unwrap();
        assert_eq!(env.next_check_at, None, "pending: no timer can fire");
        let tiers = &state.settings.tiers;
        environments::system_event(&db, tiers, &env.id, Event::Provisioned, "test").await.unwrap();
        let active = environments::system_event(&db, tiers, &env.id, Event::DeployHealthy, "test").await.unwrap();
        let idle_at = active.last_activity_at.unwrap() + 3_600_000;
        assert_eq!(active.next_check_at, Some(idle_at), "lightweight: its idle window comes before its warning");
        let due = |at: i64| store::environments::due_for_tick(db.pool(), at, 10_000);
        assert!(!due(idle_at - 1).await.unwrap().contains(&env.id), "not looked at before then");
        assert!(due(idle_at).await.unwrap().contains(&env.id));
        let gone = environments::system_event(&db, tiers, &env.id, Event::DestroyRequested, "test").await.unwrap();
        assert_eq!(gone.next_check_at, None, "on its way out: no more timers");
    });

    on_both_engines!(lists_filter_search_sort_and_page, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let erin = viewer(&db, "erin").await;
        let q = |s: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = s.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            ListQuery::from_params(move |k| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()))
        };
        let list = |viewer: &app::domain::access::Viewer, q: ListQuery| {
            let (db, viewer) = (db.clone(), viewer.clone());
            async move {
                let page = store::environments::list_page(db.pool(), &viewer, &q, PAGE_SIZE, true).await.unwrap();
                (page.rows.clone(), page.total.unwrap(), page)
            }
        };
        let (rows, total, first) = list(&erin, q(&[("state", "destroyed")])).await;
        assert!(total > PAGE_SIZE, "{total}");
        assert_eq!(rows.len() as i64, PAGE_SIZE);
        assert!(rows.iter().all(|r| r.state == "destroyed"));
        let next = q(&[("state", "destroyed")]).with_cursor(first.next.clone(), None);
        let (page2, _, _) = list(&erin, next).await;
        assert!(!page2.is_empty());
        assert!(page2.iter().all(|r| rows.iter().all(|p| p.id != r.id)), "pages do not overlap");

        let (rows, _, _) = list(&erin, q(&[("team", "search"), ("q", "PR-")])).await;
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|r| r.team_slug == "search" && r.name.contains("pr-") && r.state != "destroyed"));
        let (none, total, _) = list(&erin, q(&[("q", "%")])).await;
        assert_eq!((none.len(), total), (0, 0), "a % in the search is a literal, not a wildcard");

        let (by_expiry, _, _) = list(&erin, q(&[("sort", "expiry")])).await;
        let expiries: Vec<i64> = by_expiry.iter().filter_map(|r| r.expires_at).collect();
        assert!(expiries.windows(2).all(|w| w[0] <= w[1]), "soonest first");

        // Members see only their teams whatever they filter by.
        let alice = viewer(&db, "alice").await;
        let (rows, _, _) = list(&alice, q(&[("team", "search")])).await;
        assert!(rows.is_empty());
    });
}

/// Chargeback read from the database: the loader, budgets and their
/// alerts, the admission gate and the price book, on both engines.
mod chargeback {
    use super::*;
    use app::domain::chargeback::{month_report, Allocation, AllocationRules, Basis, Usage};
    use app::domain::cost::Month;
    use app::domain::money::Micros;
    use app::domain::tier::Tier;
    use app::error::AppError;
    use app::ssr::costs;
    use app::ssr::environments::{self, NewEnvironment};

    const H: i64 = 3_600_000;

    /// A small deterministic generator: the same histories on both engines.
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) % n.max(1)
        }
    }

    /// Inserts a random history (months crossed, pool claims, pooled members,
    /// shared environments, rate changes mid-interval) and returns it as usages.
    async fn random_history(db: &Db, seed: u64, base: i64) -> Vec<Usage> {
        let mut rng = Lcg(seed);
        let teams = [
            ("team-payments", "payments", "app-checkout-web", "checkout-web"),
            ("team-search", "search", "app-search-ui", "search-ui"),
        ];
        let kinds = ["compute", "database", "gpu"];
        let mut out = Vec::new();
        for i in 0..(5 + rng.below(20)) {
            let (team_id, team, app_id, app) = teams[rng.below(2) as usize];
            let tier = Tier::ALL[rng.below(5) as usize];
            let start = base + rng.below(60 * 24) as i64 * H - 20 * 24 * H;
            let end = (rng.below(4) != 0).then(|| start + 1 + rng.below(40 * 24 * H as u64) as i64);
            let pooled = rng.below(7) == 0;
            let claimed = (!pooled && rng.below(4) == 0).then(|| start + rng.below(6 * H as u64) as i64);
            let shared = rng.below(6) == 0;
            let expires = (rng.below(2) == 0).then(|| start + rng.below(50 * 24 * H as u64) as i64);
            let id = format!("rnd-{seed}-{i}");
            sqlx::query(
                "INSERT INTO environments (id, name, team_id, app_id, tier, state, pooled, created_at, expires_at, claimed_at)
                 VALUES ($1, $1, $2, $3, $4, 'destroyed', $5, $6, $7, $8)",
            )
            .bind(&id)
            .bind(team_id)
            .bind(app_id)
            .bind(tier.as_str())
            .bind(i64::from(pooled))
            .bind(claimed.unwrap_or(start))
            .bind(expires)
            .bind(claimed)
            .execute(db.pool())
            .await
            .unwrap();
            // Shared from some instant, for a while or still.
            let shared: Vec<(i64, i64)> = if shared {
                let from = start + rng.below(10 * 24 * H as u64) as i64;
                let to = (rng.below(2) == 0).then(|| from + 1 + rng.below(10 * 24 * H as u64) as i64);
                sqlx::query("INSERT INTO shared_periods (environment_id, started_at, ended_at) VALUES ($1, $2, $3)")
                    .bind(&id)
                    .bind(from)
                    .bind(to)
                    .execute(db.pool())
                    .await
                    .unwrap();
                vec![(from, to.unwrap_or(i64::MAX))]
            } else {
                vec![]
            };
            for kind in kinds.iter().take(1 + rng.below(3) as usize) {
                let rate = rng.below(2_000_000) as i64;
                sqlx::query(
                    "INSERT INTO resources (id, environment_id, kind, name, driver, state, hourly_rate_micros, started_at, ended_at)
                     VALUES ($1, $2, $3, $1, 'local', 'created', $4, $5, $6)",
                )
                .bind(format!("{id}-{kind}"))
                .bind(&id)
                .bind(*kind)
                .bind(rate)
                .bind(start)
                .bind(end)
                .execute(db.pool())
                .await
                .unwrap();
                out.push(Usage {
                    env_id: id.clone(),
                    env_name: id.clone(),
                    team: team.into(),
                    app: app.into(),
                    tier,
                    kind: (*kind).into(),
                    git_ref: None,
                    pr_number: None,
                    recorded_rate: Micros(rate),
                    started_at: start,
                    ended_at: end,
                    idle_until: if pooled { Some(i64::MAX) } else { claimed },
                    shared: shared.clone(),
                    expected_end: if pooled { None } else { expires },
                });
            }
        }
        // A rate change in the middle of it all.
        sqlx::query(
            "INSERT INTO price_book (id, tier, kind, effective_from, hourly_rate_micros, created_at) VALUES ($1, 'preview-full', 'compute', $2, $3, 0)",
        )
        .bind(format!("rnd-rate-{seed}"))
        .bind(base + rng.below(30 * 24) as i64 * H)
        .bind(rng.below(3_000_000) as i64)
        .execute(db.pool())
        .await
        .unwrap();
        out
    }

    on_both_engines!(reports_read_from_the_database_reconcile_exactly, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        // Only the random histories: the demo's own environments go.
        sqlx::query("DELETE FROM jobs").execute(db.pool()).await.unwrap();
        sqlx::query("DELETE FROM shared_periods").execute(db.pool()).await.unwrap();
        sqlx::query("DELETE FROM resources").execute(db.pool()).await.unwrap();
        sqlx::query("DELETE FROM provision_waits").execute(db.pool()).await.unwrap();
        sqlx::query("DELETE FROM ratings").execute(db.pool()).await.unwrap();
        sqlx::query("DELETE FROM environments").execute(db.pool()).await.unwrap();
        let base = Month { year: 2026, month: 6 }.start_ms();
        let mut all = Vec::new();
        for seed in 1..=6u64 {
            all.extend(random_history(&db, seed, base).await);
            let book = costs::price_book(&db).await.unwrap();
            let as_of = base + (seed as i64) * 9 * 24 * H;
            for rules in [
                AllocationRules::default(),
                AllocationRules {
                    warm_pools: Allocation::Even,
                    shared_database: Allocation::Proportional,
                    shared_environments: Allocation::Even,
                },
            ] {
                let mut lifetime = Micros::ZERO;
                for month in [
                    Month { year: 2026, month: 5 },
                    Month { year: 2026, month: 6 },
                    Month { year: 2026, month: 7 },
                    Month { year: 2026, month: 8 },
                ] {
                    let (actual, forecast) = costs::report_with(&db, &rules, month, as_of).await.unwrap();
                    let expected = month_report(&book, &rules, &all, month, as_of, Basis::Actual);
                    assert_eq!(actual, expected, "seed {seed} {}", month.label());
                    assert_eq!(forecast, month_report(&book, &rules, &all, month, as_of, Basis::Forecast));
                    let envs: Micros = actual.environments.iter().map(|e| e.cost).sum();
                    let direct: Micros = actual.teams.iter().map(|t| t.direct).sum();
                    let teams: Micros = actual.teams.iter().map(|t| t.total).sum();
                    assert_eq!(envs, direct);
                    assert_eq!(teams + actual.unallocated, actual.total);
                    lifetime += actual.total;
                }
                // Σ months = the whole history's cost up to as_of (direct and shared alike).
                let whole: Micros = all
                    .iter()
                    // Up to as_of: the random histories end in the future too.
                    .flat_map(|u| app::domain::chargeback::pieces(&book, u, i64::MIN, as_of, as_of, Basis::Actual))
                    .map(|p| p.cost)
                    .sum();
                let server: Micros = {
                    let lw: Vec<_> = all
                        .iter()
                        .filter(|u| u.tier == Tier::PreviewLightweight)
                        .filter_map(|u| {
                            let end = app::domain::chargeback::usage_end(u, as_of, Basis::Actual);
                            (end > u.started_at).then_some((u.started_at, end))
                        })
                        .collect();
                    // The server's hours are cut at month ends like everything else.
                    let mut total = Micros::ZERO;
                    for m in [
                        Month { year: 2026, month: 5 },
                        Month { year: 2026, month: 6 },
                        Month { year: 2026, month: 7 },
                        Month { year: 2026, month: 8 },
                    ] {
                        let (a, b) = app::domain::chargeback::window(m, as_of, Basis::Actual);
                        let clipped: Vec<_> = lw.iter().map(|(s, e)| ((*s).max(a), (*e).min(b))).collect();
                        total += app::domain::chargeback::union(clipped)
                            .into_iter()
                            .map(|(x, y)| {
                                book.cost(
                                    Tier::PreviewLightweight,
                                    app::domain::price::SHARED_DATABASE_SERVER,
                                    Micros::ZERO,
                                    x,
                                    y,
                                )
                            })
                            .sum();
                    }
                    total
                };
                let inside = Month { year: 2026, month: 5 }.start_ms();
                assert!(all.iter().all(|u| u.started_at >= inside), "histories start after May 1st");
                assert_eq!(lifetime, whole + server, "seed {seed}: months sum to the lifetime");
            }
        }
    });

    fn meta(v: Viewer) -> RequestMeta {
        RequestMeta { viewer: Some(v), ..Default::default() }
    }

    fn full_preview(app: &str) -> NewEnvironment {
        NewEnvironment {
            app: app.into(),
            team: None,
            branch: Some("main".into()),
            pr_number: None,
            tier: Tier::PreviewFull,
        }
    }

    on_both_engines!(budgets_alert_once_per_level_and_gate_new_environments, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = super::pools_and_listing::state(&db, 0);
        let (bob, alice, erin) = (viewer(&db, "bob").await, viewer(&db, "alice").await, viewer(&db, "erin").await);
        let now = app::ssr::clock::now_ms();
        let month = Month::containing(now);
        let (actual, _) = costs::report(&state, month, now).await.unwrap();
        let spent = actual.team("payments").total;
        assert!(spent > Micros::ZERO, "demo payments spends this month");
        // The demo's search is over its budget: the first check records its levels, the next nothing.
        assert!(costs::check_budgets(&db, &state.settings, now).await.unwrap() >= 3);
        assert_eq!(costs::check_budgets(&db, &state.settings, now).await.unwrap(), 0);

        // A developer may not set a budget; a manager of another team gets 404.
        let input =
            |amount: Micros| costs::BudgetInput { team: "payments".into(), amount, thresholds: "50, 80,100".into() };
        assert_eq!(
            costs::set_budget(&state, &meta(alice.clone()), input(Micros(1))).await.unwrap_err(),
            AppError::Forbidden
        );
        let dan = viewer(&db, "dan").await;
        assert_eq!(costs::set_budget(&state, &meta(dan), input(Micros(1))).await.unwrap_err(), AppError::NotFound);
        let bad = costs::BudgetInput { team: "payments".into(), amount: Micros(5), thresholds: "50,50".into() };
        assert!(matches!(costs::set_budget(&state, &meta(bob.clone()), bad).await, Err(AppError::Invalid { .. })));

        // Over budget: every level is recorded at once, and only once.
        costs::set_budget(&state, &meta(bob.clone()), input(Micros(spent.0 / 2))).await.unwrap();
        let sent = costs::alerts_sent(&db, "team-payments", month).await.unwrap();
        let actual_levels: Vec<i64> = sent.iter().filter(|a| a.basis == "actual").map(|a| a.pct).collect();
        assert_eq!(actual_levels, [50, 80, 100]);
        let notes = |db: Db| async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM notifications WHERE kind = 'budget_alert' AND user_id = 'user-bob'",
            )
            .fetch_one(db.pool())
            .await
            .unwrap()
        };
        let first = notes(db.clone()).await;
        assert!(first >= 3, "bob was notified of each level");
        assert_eq!(costs::check_budgets(&db, &state.settings, app::ssr::clock::now_ms()).await.unwrap(), 0);
        costs::set_budget(&state, &meta(bob.clone()), input(Micros(spent.0 / 3))).await.unwrap();
        assert_eq!(notes(db.clone()).await, first, "no level is sent twice in a month");
        let audited: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'budget.alert' AND team_id = 'team-payments'",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(audited, first, "one audit event per level (bob is payments' only manager)");

        // The gate: full previews are blocked for alice, named with budget and spend; nothing is written.
        let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM environments").fetch_one(db.pool()).await.unwrap();
        match environments::create(&state, &meta(alice.clone()), full_preview("checkout-web")).await {
            Err(AppError::Conflict(m)) => {
                assert!(m.contains("payments") && m.contains("budget") && m.contains("blocked"), "{m}");
            }
            other => panic!("expected 409, got {other:?}"),
        }
        let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM environments").fetch_one(db.pool()).await.unwrap();
        assert_eq!(before, after, "a refused create writes nothing");
        // Lightweight warns and creates; a platform admin is not gated.
        let lw = NewEnvironment { tier: Tier::PreviewLightweight, ..full_preview("checkout-web") };
        let warning =
            environments::create_noting_budget(&state, &meta(alice.clone()), lw).await.unwrap().budget_warning;
        assert!(warning.is_some_and(|w| w.contains("budget")));
        environments::create(&state, &meta(erin), full_preview("checkout-web")).await.unwrap();
        // `budget_gate = "off"` on the full tier lets it through.
        let ungated = {
            let mut s = (*state.settings).clone();
            let off = app::domain::tier::TierOverride {
                budget_gate: Some(app::domain::budget::BudgetGate::Off),
                ..Default::default()
            };
            s.tiers = s.tiers.with_override(Tier::PreviewFull, &off).unwrap();
            app::ssr::AppState { settings: std::sync::Arc::new(s), ..state.clone() }
        };
        environments::create(&ungated, &meta(alice.clone()), full_preview("checkout-web")).await.unwrap();
        // Raising the budget lets the team through again.
        costs::set_budget(&state, &meta(bob), input(Micros::from_dollars(1_000_000))).await.unwrap();
        environments::create(&state, &meta(alice), full_preview("checkout-web")).await.unwrap();
    });

    on_both_engines!(rate_changes_apply_from_their_instant_and_never_rewrite_the_past, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = super::pools_and_listing::state(&db, 0);
        let (erin, bob) = (viewer(&db, "erin").await, viewer(&db, "bob").await);
        let now = app::ssr::clock::now_ms();
        let past =
            costs::add_rate(&state, &meta(erin.clone()), Tier::Staging, "compute", Micros(1), Some(now - 3_600_000))
                .await;
        assert!(matches!(past, Err(AppError::Invalid { ref field, .. }) if field == "effective_from"), "{past:?}");
        assert_eq!(
            costs::add_rate(&state, &meta(bob), Tier::Staging, "compute", Micros(1), None).await.unwrap_err(),
            AppError::Forbidden
        );
        let month = Month::containing(now);
        let (before, _) = costs::report(&state, month, now).await.unwrap();
        let from = now + 2 * H;
        costs::add_rate(&state, &meta(erin.clone()), Tier::Staging, "compute", Micros(10_000_000), Some(from))
            .await
            .unwrap();
        let dup = costs::add_rate(&state, &meta(erin.clone()), Tier::Staging, "compute", Micros(2), Some(from)).await;
        assert!(matches!(dup, Err(AppError::Conflict(_))));
        let (after, _) = costs::report(&state, month, now).await.unwrap();
        assert_eq!(before.total, after.total, "cost so far is unchanged");
        // Only a running environment can start being shared; sharing is a period from now.
        let destroyed: String = sqlx::query_scalar("SELECT id FROM environments WHERE state = 'destroyed' LIMIT 1")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert!(matches!(
            costs::set_shared(&state, &meta(erin.clone()), &destroyed, true).await,
            Err(AppError::Conflict(_))
        ));
        let staging: String = sqlx::query_scalar("SELECT id FROM environments WHERE name = 'payments-api-staging'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        costs::set_shared(&state, &meta(erin.clone()), &staging, true).await.unwrap();
        assert!(costs::is_shared(&db, &staging).await.unwrap());
        costs::set_shared(&state, &meta(erin.clone()), &staging, false).await.unwrap();
        assert!(!costs::is_shared(&db, &staging).await.unwrap());
        let periods = costs::shared_periods(&db).await.unwrap();
        assert_eq!(periods[&staging].len(), 1, "one closed period");
        assert!(periods[&staging][0].1 < i64::MAX);
        // A future rate may be withdrawn; one in force may not.
        let later = now + 5 * H;
        costs::add_rate(&state, &meta(erin.clone()), Tier::Staging, "gpu", Micros(7), Some(later)).await.unwrap();
        costs::remove_future_rate(&state, &meta(erin.clone()), Tier::Staging, "gpu", later).await.unwrap();
        assert_eq!(
            costs::remove_future_rate(&state, &meta(erin.clone()), Tier::Staging, "compute", 0).await.unwrap_err(),
            AppError::Conflict("only a rate that has not taken effect yet can be withdrawn".into())
        );
        let book = costs::price_book(&db).await.unwrap();
        assert_eq!(
            book.rate_at(Tier::Staging, "compute", Micros(0), from - 1),
            Micros(450_000),
            "the demo's mid-year rate"
        );
        assert_eq!(book.rate_at(Tier::Staging, "compute", Micros(0), from), Micros(10_000_000));
    });
}

mod approvals {
    use super::*;
    use app::domain::approval::Decision;
    use app::domain::lifecycle::Event;
    use app::domain::tier::{OnSla, Tier, TierOverride};
    use app::domain::time::HOUR_MS;
    use app::error::AppError;
    use app::ssr::environments::{self, Destroyed, Extended, NewEnvironment};
    use app::ssr::{approvals, AppState};

    fn meta(v: &Viewer) -> RequestMeta {
        RequestMeta { viewer: Some(v.clone()), ..Default::default() }
    }

    /// The test state with budget gates off (the demo's budgets were set
    /// for its seed instant, these tests run at the real clock).
    fn state_with(db: &Db, ov: TierOverride) -> AppState {
        let base = super::pools_and_listing::state(db, 0);
        let mut s = (*base.settings).clone();
        for tier in Tier::ALL {
            let ov = TierOverride { budget_gate: Some(app::domain::budget::BudgetGate::Off), ..ov.clone() };
            s.tiers = s.tiers.with_override(tier, &ov).unwrap();
        }
        AppState { settings: std::sync::Arc::new(s), ..base }
    }

    /// An environment of `tier` made by `who`, provisioned and healthy.
    async fn running(state: &AppState, who: &Viewer, tier: Tier) -> String {
        let new = NewEnvironment {
            app: "checkout-web".into(),
            team: None,
            branch: Some("main".into()),
            pr_number: None,
            tier,
        };
        let env = environments::create(state, &meta(who), new).await.unwrap();
        for (event, name) in
            [(Event::Provisioned, "environment.provisioned"), (Event::DeployHealthy, "environment.healthy")]
        {
            environments::system_event(&state.db, &state.settings.tiers, &env.id, event, name).await.unwrap();
        }
        env.id
    }

    async fn env_row(db: &Db, id: &str) -> store::environments::Environment {
        store::environments::find(db.pool(), id).await.unwrap().unwrap().env
    }

    async fn count(db: &Db, sql: &str, bind: &str) -> i64 {
        sqlx::query_scalar(sql).bind(bind).fetch_one(db.pool()).await.unwrap()
    }

    fn extension(v: Extended) -> store::approvals::Approval {
        match v {
            Extended::ApprovalRequested(a) => *a,
            Extended::Moved(_) => panic!("the compliance tier needs approval"),
        }
    }

    on_both_engines!(compliance_extensions_wait_for_another_admin, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state_with(&db, TierOverride::default());
        let (alice, erin, grace) = (viewer(&db, "alice").await, viewer(&db, "erin").await, viewer(&db, "grace").await);
        let id = running(&state, &alice, Tier::PreviewCompliance).await;
        let before = env_row(&db, &id).await.expires_at.unwrap();

        // Asking twice returns the one open request.
        let first = extension(environments::extend(&state, &meta(&alice), &id, 24 * HOUR_MS).await.unwrap());
        let again = extension(environments::extend(&state, &meta(&alice), &id, 24 * HOUR_MS).await.unwrap());
        assert_eq!(first.id, again.id);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM approval_requests WHERE environment_id = $1", &id).await, 1);
        assert_eq!(first.requested_by.as_deref(), Some("user-alice"));
        assert_eq!(first.sla_deadline, first.requested_at + 4 * HOUR_MS, "the compliance warning window");
        // Both admins were told; alice was not (she asked).
        let told = "SELECT COUNT(*) FROM notifications WHERE kind = 'approval_requested' AND environment_id = $1";
        assert_eq!(count(&db, told, &id).await, 2);
        assert_eq!(env_row(&db, &id).await.expires_at, Some(before), "nothing moves before a decision");

        // A developer cannot decide; an admin approves; the expiry moves.
        let approve = Decision::Approve { reason: None };
        assert_eq!(
            approvals::decide(&state, &meta(&alice), &first.id, approve.clone()).await.unwrap_err(),
            AppError::Forbidden
        );
        let done = approvals::decide(&state, &meta(&erin), &first.id, approve.clone()).await.unwrap();
        assert_eq!((done.state.as_str(), done.decided_by.as_deref()), ("approved", Some("user-erin")));
        let seen: serde_json::Value = serde_json::from_str(done.seen.as_deref().unwrap()).unwrap();
        assert_eq!(seen["new_expires_at"].as_i64(), env_row(&db, &id).await.expires_at);
        assert!(seen["adds_micros"].as_i64().unwrap() > 0, "{seen}");
        assert_eq!(env_row(&db, &id).await.expires_at, Some(before + 24 * HOUR_MS));
        let decided = "SELECT COUNT(*) FROM notifications WHERE kind = 'approval_decided' AND user_id = $1";
        assert_eq!(count(&db, decided, "user-alice").await, 1);
        // Decided once: a second decision is a conflict.
        assert!(matches!(
            approvals::decide(&state, &meta(&grace), &first.id, approve.clone()).await,
            Err(AppError::Conflict(_))
        ));

        // A deny needs a reason and changes nothing.
        let second = extension(environments::extend(&state, &meta(&alice), &id, 2 * HOUR_MS).await.unwrap());
        assert!(matches!(
            approvals::decide(&state, &meta(&erin), &second.id, Decision::Deny { reason: " ".into() }).await,
            Err(AppError::Invalid { .. })
        ));
        let denied =
            approvals::decide(&state, &meta(&erin), &second.id, Decision::Deny { reason: "demo is over".into() })
                .await
                .unwrap();
        assert_eq!((denied.state.as_str(), denied.decision_reason.as_deref()), ("denied", Some("demo is over")));
        assert_eq!(env_row(&db, &id).await.expires_at, Some(before + 24 * HOUR_MS));

        // An admin's own request needs the other admin.
        let own = extension(environments::extend(&state, &meta(&erin), &id, HOUR_MS).await.unwrap());
        assert!(matches!(
            approvals::decide(&state, &meta(&erin), &own.id, approve.clone()).await,
            Err(AppError::Refused(_))
        ));
        approvals::decide(&state, &meta(&grace), &own.id, approve).await.unwrap();

        // Every change is audited against the environment.
        let audited = "SELECT COUNT(*) FROM audit_events WHERE target_id = $1 AND action LIKE 'approval.%'";
        assert!(count(&db, audited, &id).await >= 8);
    });

    // `EOD_APPROVERS=search`: carol (a developer of search) hears of and
    // decides preview requests, sees every team's queue, never production's;
    // without it she decides nothing.
    on_both_engines!(the_approver_team_decides_preview_requests_only, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state_with(&db, TierOverride::default());
        let (alice, bob, erin) = (viewer(&db, "alice").await, viewer(&db, "bob").await, viewer(&db, "erin").await);
        let carol = viewer(&db, "carol").await;
        assert!(!carol.approver_group, "no approver team configured");
        let id = running(&state, &alice, Tier::PreviewCompliance).await;
        let first = extension(environments::extend(&state, &meta(&alice), &id, 2 * HOUR_MS).await.unwrap());
        let approve = Decision::Approve { reason: None };
        assert_eq!(
            approvals::decide(&state, &meta(&carol), &first.id, approve.clone()).await,
            Err(AppError::Forbidden)
        );
        let told = "SELECT COUNT(*) FROM notifications WHERE kind = 'approval_requested' AND user_id = $1";
        assert_eq!(count(&db, told, "user-carol").await, 0);

        assert!(app::ssr::notify::configure(&db, false, Some("search"), NOW).await.unwrap(), "the team exists");
        let carol = viewer(&db, "carol").await;
        assert!(carol.approver_group && carol.is_approver());
        assert!(!viewer(&db, "dan").await.is_platform_admin);
        let id2 = running(&state, &alice, Tier::PreviewCompliance).await;
        let second = extension(environments::extend(&state, &meta(&alice), &id2, 2 * HOUR_MS).await.unwrap());
        assert_eq!(count(&db, told, "user-carol").await, 1, "the approver team hears of new requests");
        let queue = approvals::list(&state, &meta(&carol), &Default::default(), NOW).await.unwrap();
        assert!(queue.iter().any(|a| a.id == second.id && a.may_decide), "another team's request, decidable");
        approvals::decide(&state, &meta(&carol), &second.id, approve.clone()).await.unwrap();
        assert_eq!(store::approvals::find(db.pool(), &second.id).await.unwrap().unwrap().state, "approved");

        // Production stays with platform admins (change control).
        let prod = running(&state, &erin, Tier::Production).await;
        let Destroyed::ApprovalRequested(p) = environments::destroy(&state, &meta(&bob), &prod).await.unwrap() else {
            panic!("a production destroy is always a request")
        };
        let queue = approvals::list(&state, &meta(&carol), &Default::default(), NOW).await.unwrap();
        assert!(queue.iter().any(|a| a.id == p.id && !a.may_decide), "seen, not decidable");
        let refused = approvals::decide(&state, &meta(&carol), &p.id, approve.clone()).await.unwrap_err();
        assert!(matches!(&refused, AppError::Refused(m) if m.contains("platform admin")), "{refused:?}");
        assert_eq!(store::approvals::find(db.pool(), &p.id).await.unwrap().unwrap().state, "pending");

        // The setting removed: she is back to deciding nothing.
        app::ssr::notify::configure(&db, false, None, NOW).await.unwrap();
        assert!(!viewer(&db, "carol").await.approver_group);
    });

    on_both_engines!(destroys_follow_the_tiers_rule, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state_with(&db, TierOverride::default());
        let (alice, bob, erin, grace) = (
            viewer(&db, "alice").await,
            viewer(&db, "bob").await,
            viewer(&db, "erin").await,
            viewer(&db, "grace").await,
        );

        // Compliance: the owner's destroy waits; she can withdraw it; approved, it snapshots first.
        let id = running(&state, &alice, Tier::PreviewCompliance).await;
        let Destroyed::ApprovalRequested(a) = environments::destroy(&state, &meta(&alice), &id).await.unwrap() else {
            panic!("compliance destroys on approval")
        };
        assert_eq!(env_row(&db, &id).await.state, "active", "still running while it waits");
        assert_eq!(
            approvals::cancel(&state, &meta(&bob), &a.id).await.unwrap_err(),
            AppError::Refused("only the person who asked can cancel it".into())
        );
        assert_eq!(approvals::cancel(&state, &meta(&alice), &a.id).await.unwrap().state, "cancelled");
        let Destroyed::ApprovalRequested(a) = environments::destroy(&state, &meta(&alice), &id).await.unwrap() else {
            panic!()
        };
        approvals::decide(&state, &meta(&erin), &a.id, Decision::Approve { reason: None }).await.unwrap();
        assert_eq!(env_row(&db, &id).await.state, "expiring");
        let snapshot = "SELECT COUNT(*) FROM jobs WHERE kind = 'snapshot' AND environment_id = $1";
        assert_eq!(count(&db, snapshot, &id).await, 1);
        // Nothing to ask about a destroyed environment, for every role alike.
        environments::system_event(&db, &state.settings.tiers, &id, Event::SnapshotTaken, "environment.snapshot")
            .await
            .unwrap();
        environments::system_event(&db, &state.settings.tiers, &id, Event::TornDown, "environment.destroyed")
            .await
            .unwrap();
        for who in [&alice, &erin] {
            assert!(matches!(environments::extend(&state, &meta(who), &id, HOUR_MS).await, Err(AppError::Conflict(_))));
            assert!(matches!(environments::destroy(&state, &meta(who), &id).await, Err(AppError::Conflict(_))));
        }
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM approval_requests WHERE environment_id = $1 AND state = 'pending'", &id)
                .await,
            0
        );

        // Staging: the team's manager or a platform admin, and the refusal names the rule.
        let staging = running(&state, &erin, Tier::Staging).await;
        match environments::destroy(&state, &meta(&alice), &staging).await {
            Err(AppError::Refused(rule)) => assert!(rule.contains("manager"), "{rule}"),
            other => panic!("expected the rule, got {other:?}"),
        }
        assert_eq!(env_row(&db, &staging).await.state, "active");
        assert!(matches!(environments::destroy(&state, &meta(&bob), &staging).await, Ok(Destroyed::Started(_))));

        // Production: always a request, whoever asks; another admin approves.
        let prod = running(&state, &erin, Tier::Production).await;
        for who in [&alice, &bob, &erin] {
            assert!(matches!(
                environments::destroy(&state, &meta(who), &prod).await,
                Ok(Destroyed::ApprovalRequested(_))
            ));
        }
        assert_eq!(env_row(&db, &prod).await.state, "active");
        let open = store::approvals::find_open(db.pool(), &prod, "destroy").await.unwrap().unwrap();
        assert_eq!(open.requested_by.as_deref(), Some("user-alice"), "the first ask is the open one");
        approvals::decide(&state, &meta(&grace), &open.id, Decision::Approve { reason: Some("change 42".into()) })
            .await
            .unwrap();
        assert_eq!(env_row(&db, &prod).await.state, "expiring");
    });

    on_both_engines!(the_ttl_asks_and_the_sla_answers, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state_with(&db, TierOverride::default());
        let (alice, erin) = (viewer(&db, "alice").await, viewer(&db, "erin").await);
        let id = running(&state, &alice, Tier::PreviewCompliance).await;
        // Past its TTL: the tick opens the portal's own destroy request.
        sqlx::query("UPDATE environments SET expires_at = 1, next_check_at = 1 WHERE id = $1")
            .bind(&id)
            .execute(db.pool())
            .await
            .unwrap();
        environments::system_event(&db, &state.settings.tiers, &id, Event::Tick, "environment.timer").await.unwrap();
        assert_eq!(env_row(&db, &id).await.state, "expiring");
        let ttl = store::approvals::find_open(db.pool(), &id, "destroy").await.unwrap().expect("the portal asks");
        assert_eq!(ttl.requested_by, None);
        // It cannot be denied (approve, or approve an extension instead) ...
        let deny = Decision::Deny { reason: "keep".into() };
        assert!(matches!(approvals::decide(&state, &meta(&erin), &ttl.id, deny).await, Err(AppError::Conflict(_))));
        // ... and an approved extension calls it off.
        let ext = extension(environments::extend(&state, &meta(&alice), &id, 24 * HOUR_MS).await.unwrap());
        approvals::decide(&state, &meta(&erin), &ext.id, Decision::Approve { reason: None }).await.unwrap();
        assert_eq!(env_row(&db, &id).await.state, "active");
        assert_eq!(store::approvals::find(db.pool(), &ttl.id).await.unwrap().unwrap().state, "cancelled");

        // The SLA: nobody decides a destroy; at the deadline the tier approves (snapshot, then destroy).
        let Destroyed::ApprovalRequested(a) = environments::destroy(&state, &meta(&alice), &id).await.unwrap() else {
            panic!()
        };
        assert_eq!(approvals::enforce_sla(&db, &state.settings, a.sla_deadline - 1).await.unwrap(), 0);
        assert_eq!(approvals::enforce_sla(&db, &state.settings, a.sla_deadline).await.unwrap(), 1);
        let closed = store::approvals::find(db.pool(), &a.id).await.unwrap().unwrap();
        assert_eq!((closed.state.as_str(), closed.decided_by.as_deref()), ("approved", None));
        assert_eq!(env_row(&db, &id).await.state, "expiring");
        assert_eq!(approvals::enforce_sla(&db, &state.settings, i64::MAX / 2).await.unwrap(), 0, "once");
    });

    on_both_engines!(escalation_re_notifies_once_then_expires, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state_with(
            &db,
            TierOverride {
                approval_sla_minutes: Some(30),
                on_sla: Some(app::domain::tier::OnSlaOverride { extend: Some(OnSla::Escalate), destroy: None }),
                ..Default::default()
            },
        );
        let alice = viewer(&db, "alice").await;
        let id = running(&state, &alice, Tier::PreviewCompliance).await;
        let a = extension(environments::extend(&state, &meta(&alice), &id, HOUR_MS).await.unwrap());
        assert_eq!(a.sla_deadline, a.requested_at + 30 * 60_000, "approval_sla_minutes");
        let escalated = "SELECT COUNT(*) FROM notifications WHERE kind = 'approval_escalated' AND environment_id = $1";
        approvals::enforce_sla(&db, &state.settings, a.sla_deadline).await.unwrap();
        assert_eq!(count(&db, escalated, &id).await, 2, "both admins, once");
        let row = store::approvals::find(db.pool(), &a.id).await.unwrap().unwrap();
        assert_eq!(row.state, "pending");
        approvals::enforce_sla(&db, &state.settings, a.sla_deadline + 1).await.unwrap();
        assert_eq!(count(&db, escalated, &id).await, 2, "not twice");
        approvals::enforce_sla(&db, &state.settings, row.sla_deadline).await.unwrap();
        let row = store::approvals::find(db.pool(), &a.id).await.unwrap().unwrap();
        assert_eq!(row.state, "expired");
        // Listing never shows an expired request as pending.
        let pending =
            approvals::list(&state, &meta(&viewer(&db, "erin").await), &Default::default(), NOW).await.unwrap();
        assert!(pending.iter().all(|p| p.id != a.id || p.state == "expired"));
    });

    on_both_engines!(owners_hear_ready_failed_and_destroyed_with_why, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state_with(&db, TierOverride::default());
        let alice = viewer(&db, "alice").await;
        let inbox = |db: Db, kind: &'static str, id: String| async move {
            sqlx::query_scalar::<_, String>(
                "SELECT message FROM notifications WHERE user_id = 'user-alice' AND kind = $1 AND environment_id = $2",
            )
            .bind(kind)
            .bind(id)
            .fetch_all(db.pool())
            .await
            .unwrap()
        };
        let id = running(&state, &alice, Tier::PreviewLightweight).await;
        assert_eq!(inbox(db.clone(), "environment_ready", id.clone()).await.len(), 1);
        assert!(matches!(environments::destroy(&state, &meta(&alice), &id).await, Ok(Destroyed::Started(_))));
        environments::system_event(&db, &state.settings.tiers, &id, Event::TornDown, "environment.destroyed")
            .await
            .unwrap();
        let gone = inbox(db.clone(), "environment_destroyed", id.clone()).await;
        assert_eq!(gone.len(), 1);
        assert!(gone[0].ends_with("destroyed by alice"), "{gone:?}");

        let broken = running(&state, &alice, Tier::PreviewLightweight).await;
        let failed = Event::Failed { reason: "probe failed 3 times".into() };
        environments::system_event(&db, &state.settings.tiers, &broken, failed, "environment.failed").await.unwrap();
        let told = inbox(db.clone(), "environment_failed", broken).await;
        assert!(told.len() == 1 && told[0].contains("probe failed 3 times"), "{told:?}");
    });

    on_both_engines!(team_channels_get_an_outbox_row_per_event_recorded_once, |db: Db| async move {
        use app::ssr::channels::{self, Sent};
        demo::seed(&db, NOW).await.unwrap();
        let state = state_with(&db, TierOverride::default());
        let (alice, bob) = (viewer(&db, "alice").await, viewer(&db, "bob").await);
        // Managers only; a bad URL changes nothing.
        let url = "http://127.0.0.1:9/hook";
        assert_eq!(
            channels::add(&state, &meta(&alice), "payments", "webhook", url).await.unwrap_err(),
            AppError::Forbidden
        );
        for bad in
            ["ftp://x", "http://", "javascript:alert(1)", "http://a b", "http://169.254.169.254/latest/meta-data"]
        {
            assert!(matches!(
                channels::add(&state, &meta(&bob), "payments", "webhook", bad).await,
                Err(AppError::Invalid { .. })
            ));
        }
        let secret = channels::add(&state, &meta(&bob), "payments", "webhook", url).await.unwrap().expect("shown once");
        assert!(secret.starts_with("whsec_"));
        assert_eq!(
            channels::add(&state, &meta(&bob), "payments", "slack", "https://hooks.example/T/B/x").await.unwrap(),
            None
        );
        // Sealed at rest: neither the URL nor the secret is in the table in clear.
        let raw: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT url_sealed, secret_sealed FROM channels").fetch_all(db.pool()).await.unwrap();
        assert!(raw
            .iter()
            .all(|(u, s)| !u.contains("127.0.0.1") && !s.as_deref().unwrap_or("").contains(&secret[6..])));

        // An event writes one delivery per channel, in its transaction.
        let id = running(&state, &alice, Tier::PreviewLightweight).await;
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, event FROM deliveries ORDER BY id").fetch_all(db.pool()).await.unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(rows.iter().all(|(_, e)| e == "environment.ready"));

        // Claimed under a lease; recorded delivered once, by the lease holder only.
        let now = app::ssr::clock::now_ms();
        let key = &state.settings.secret_key;
        let due = channels::claim_due(&db, key, "w1", now, now + 30_000).await.unwrap().unwrap();
        assert!(channels::claim_due(&db, key, "w2", now, now + 30_000).await.unwrap().is_some(), "the other one");
        assert!(channels::claim_due(&db, key, "w3", now, now + 30_000).await.unwrap().is_none(), "both leased");
        assert_eq!(due.message.environment_id.as_deref(), Some(id.as_str()));
        assert_eq!(due.message.team, "payments");
        assert!(
            !channels::record(&db, &due, "w9", &Sent::Delivered { status: 200 }, now).await.unwrap(),
            "not its lease"
        );
        assert!(channels::record(&db, &due, "w1", &Sent::Delivered { status: 200 }, now).await.unwrap());
        assert!(!channels::record(&db, &due, "w1", &Sent::Delivered { status: 200 }, now).await.unwrap(), "once");
        // A lapsed lease goes to another worker (the first one was killed mid-send).
        let later = now + 31_000;
        let again = channels::claim_due(&db, key, "w4", later, later + 30_000).await.unwrap().unwrap();
        assert_ne!(again.id, due.id);
        assert!(channels::record(&db, &again, "w4", &Sent::Gone, later).await.unwrap());
        let disabled: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM channels WHERE disabled_at IS NOT NULL")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(disabled, 1, "410 turns the channel off");
        // Rotation: the new secret and the previous one both sign for a day.
        let webhook: String =
            sqlx::query_scalar("SELECT id FROM channels WHERE kind = 'webhook'").fetch_one(db.pool()).await.unwrap();
        let rotated = channels::rotate(&state, &meta(&bob), "payments", &webhook).await.unwrap();
        assert_ne!(rotated, secret);
        let to_webhook: String = sqlx::query_scalar("SELECT id FROM deliveries WHERE channel_id = $1")
            .bind(&webhook)
            .fetch_one(db.pool())
            .await
            .unwrap();
        let off: String = sqlx::query_scalar("SELECT id FROM channels WHERE disabled_at IS NOT NULL")
            .fetch_one(db.pool())
            .await
            .unwrap();
        let to_off: String = sqlx::query_scalar("SELECT id FROM deliveries WHERE channel_id = $1")
            .bind(&off)
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert!(
            matches!(
                channels::resend(&state, &meta(&bob), "payments", &to_off).await,
                Err(AppError::Conflict(m)) if m.contains("turn it on")
            ),
            "no resend to a channel that is off"
        );
        channels::enable(&state, &meta(&bob), "payments", &off).await.unwrap();
        channels::resend(&state, &meta(&bob), "payments", &to_webhook).await.unwrap();
        assert!(matches!(
            channels::resend(&state, &meta(&bob), "payments", &to_webhook).await,
            Err(AppError::Conflict(_))
        ));
        let resent = channels::claim_due(&db, key, "w5", later, later + 30_000).await.unwrap().unwrap();
        assert_eq!(resent.id, to_webhook, "same webhook-id");
        assert_eq!(resent.secrets, vec![rotated, secret]);
    });

    on_both_engines!(a_muted_kind_stays_out_of_the_inbox, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state_with(&db, TierOverride::default());
        let alice = viewer(&db, "alice").await;
        sqlx::query(
            "INSERT INTO notification_prefs (user_id, kind, muted) VALUES ('user-alice', 'environment_ready', 1)",
        )
        .execute(db.pool())
        .await
        .unwrap();
        let ready = "SELECT COUNT(*) FROM notifications WHERE user_id = 'user-alice' AND kind = 'environment_ready'";
        running(&state, &alice, Tier::PreviewLightweight).await;
        assert_eq!(sqlx::query_scalar::<_, i64>(ready).fetch_one(db.pool()).await.unwrap(), 0, "muted");
        sqlx::query("UPDATE notification_prefs SET muted = 0").execute(db.pool()).await.unwrap();
        running(&state, &alice, Tier::PreviewLightweight).await;
        assert_eq!(sqlx::query_scalar::<_, i64>(ready).fetch_one(db.pool()).await.unwrap(), 1, "on again");
    });

    on_both_engines!(concurrent_asks_open_one_request, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state_with(&db, TierOverride::default());
        let alice = viewer(&db, "alice").await;
        let id = running(&state, &alice, Tier::PreviewCompliance).await;
        let asks = (0..10).map(|_| {
            let (state, m, id) = (state.clone(), meta(&alice), id.clone());
            tokio::spawn(async move { environments::extend(&state, &m, &id, HOUR_MS).await })
        });
        let mut ids = std::collections::BTreeSet::new();
        for ask in asks {
            match ask.await.unwrap() {
                Ok(v) => drop(ids.insert(extension(v).id)),
                // A writer that lost a race is told to try again, never a second request.
                Err(AppError::Conflict(_)) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(ids.len(), 1);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM approval_requests WHERE environment_id = $1", &id).await, 1);
    });
}

mod admission {
    use super::*;
    use app::domain::tier::Tier;
    use app::error::AppError;
    use app::ssr::environments::{self, NewEnvironment};
    use app::ssr::{admission, compliance, AppState};

    fn meta(v: &Viewer) -> RequestMeta {
        RequestMeta { viewer: Some(v.clone()), ..Default::default() }
    }

    fn state(db: &Db) -> AppState {
        let base = super::pools_and_listing::state(db, 0);
        let mut s = (*base.settings).clone();
        let off = app::domain::tier::TierOverride {
            budget_gate: Some(app::domain::budget::BudgetGate::Off),
            ..Default::default()
        };
        for tier in Tier::ALL {
            s.tiers = s.tiers.with_override(tier, &off).unwrap();
        }
        AppState { settings: std::sync::Arc::new(s), ..base }
    }

    fn preview(app: &str, tier: Tier) -> NewEnvironment {
        NewEnvironment { app: app.into(), team: None, branch: Some("main".into()), pr_number: None, tier }
    }

    async fn live(db: &Db, team: &str, tier: Tier) -> i64 {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM environments WHERE team_id = $1 AND tier = $2 AND state <> 'destroyed' AND pooled = 0",
        )
        .bind(team)
        .bind(tier.as_str())
        .fetch_one(db.pool())
        .await
        .unwrap()
    }

    on_both_engines!(twenty_concurrent_creates_against_a_limit_of_five_make_five, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state(&db);
        let (alice, erin) = (viewer(&db, "alice").await, viewer(&db, "erin").await);
        let before = live(&db, "team-payments", Tier::PreviewFull).await;
        let limit = before + 5;
        let policy = format!("[tier.preview-full]\nmax_live_per_team = {limit}\n");
        admission::save(&state, &meta(&erin), &policy).await.unwrap();
        let creates = (0..20).map(|_| {
            let (state, m) = (state.clone(), meta(&alice));
            tokio::spawn(
                async move { environments::create(&state, &m, preview("checkout-web", Tier::PreviewFull)).await },
            )
        });
        let (mut made, mut refused) = (0, 0);
        for c in creates {
            match c.await.unwrap() {
                Ok(_) => made += 1,
                Err(AppError::Conflict(m)) => {
                    assert!(m.contains("max") || m.contains("limit is"), "{m}");
                    assert!(m.contains(&format!("limit is {limit}")), "names the limit: {m}");
                    refused += 1;
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!((made, refused), (5, 15));
        assert_eq!(live(&db, "team-payments", Tier::PreviewFull).await, limit);
        let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'admission.refused'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(audited, 15, "every refusal is audited");
    });

    // One live environment per pull request: twenty concurrent creates for
    // one PR make one environment and all answer it; once it is gone the PR
    // gets a new one, and another PR its own.
    on_both_engines!(concurrent_creates_for_one_pull_request_make_one_environment, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state(&db);
        let alice = viewer(&db, "alice").await;
        let for_pr = |n: u64| NewEnvironment {
            app: "checkout-web".into(),
            team: None,
            branch: None,
            pr_number: Some(n),
            tier: Tier::PreviewLightweight,
        };
        let creates = (0..20).map(|_| {
            let (state, m, new) = (state.clone(), meta(&alice), for_pr(4242));
            tokio::spawn(async move { environments::create_noting_budget(&state, &m, new).await })
        });
        let mut ids = std::collections::BTreeSet::new();
        let mut made = 0;
        for c in creates {
            let created = c.await.unwrap().unwrap();
            made += usize::from(!created.existing);
            ids.insert(created.env.id);
        }
        assert_eq!((made, ids.len()), (1, 1), "one made, the others answered it");
        let live_for = |pr: i64| {
            let db = db.clone();
            async move {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM environments WHERE pr_number = $1 AND state IN ('pending', 'ready', 'active', 'idle')",
                )
                .bind(pr)
                .fetch_one(db.pool())
                .await
                .unwrap();
                n
            }
        };
        assert_eq!(live_for(4242).await, 1);
        let first = ids.into_iter().next().unwrap();
        let other = environments::create_noting_budget(&state, &meta(&alice), for_pr(4243)).await.unwrap();
        assert!(!other.existing && other.env.id != first, "another pull request gets its own");
        // With a key, a retry answers as the first request did: the existing one.
        let pr_key = environments::IdempotencyKey { key: "k-pr".into(), request: "pr 4243".into() };
        for replayed in [false, true] {
            let answer =
                environments::create_with_key(&state, &meta(&alice), for_pr(4243), Some(&pr_key)).await.unwrap();
            assert_eq!(
                (answer.env.id.as_str(), answer.existing, answer.replayed),
                (other.env.id.as_str(), true, replayed)
            );
        }
        // On its way out (expiring until torn down), it is not answered.
        environments::destroy(&state, &meta(&alice), &first).await.unwrap();
        let again = environments::create_noting_budget(&state, &meta(&alice), for_pr(4242)).await.unwrap();
        assert!(!again.existing && again.env.id != first, "a new one");
        assert_eq!(live_for(4242).await, 1);

        // Ten concurrent creates with one Idempotency-Key make one environment.
        let key = environments::IdempotencyKey { key: "k-1".into(), request: "main".into() };
        let creates = (0..10).map(|_| {
            let (state, m, key) = (state.clone(), meta(&alice), key.clone());
            tokio::spawn(async move {
                environments::create_with_key(&state, &m, preview("checkout-web", Tier::PreviewLightweight), Some(&key))
                    .await
            })
        });
        let mut ids = std::collections::BTreeSet::new();
        let mut replayed = 0;
        for c in creates {
            let created = c.await.unwrap().unwrap();
            replayed += usize::from(created.replayed);
            ids.insert(created.env.id);
        }
        assert_eq!((ids.len(), replayed), (1, 9), "one made, nine answered");
        let other = environments::IdempotencyKey { request: "another".into(), ..key.clone() };
        let refused = environments::create_with_key(
            &state,
            &meta(&alice),
            preview("checkout-web", Tier::PreviewLightweight),
            Some(&other),
        )
        .await
        .err();
        assert!(
            matches!(refused, Some(AppError::Invalid { ref field, .. }) if field == "Idempotency-Key"),
            "{refused:?}"
        );

        // A day later the key is a new create, and its old use is purged.
        sqlx::query("UPDATE idempotency_keys SET created_at = created_at - $1")
            .bind(environments::IDEMPOTENCY_WINDOW_MS + 1)
            .execute(db.pool())
            .await
            .unwrap();
        let later = environments::create_with_key(
            &state,
            &meta(&alice),
            preview("checkout-web", Tier::PreviewLightweight),
            Some(&key),
        )
        .await
        .unwrap();
        assert!(!later.replayed && !ids.contains(&later.env.id), "a new environment");
        let uses: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys").fetch_one(db.pool()).await.unwrap();
        assert_eq!(uses, 1, "expired uses are purged");
    });

    on_both_engines!(teams_use_only_their_allowed_tiers_and_apps_and_users_their_share, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state(&db);
        let (alice, bob, erin) = (viewer(&db, "alice").await, viewer(&db, "bob").await, viewer(&db, "erin").await);
        // Bad input changes nothing.
        assert_eq!(admission::save(&state, &meta(&bob), "").await.unwrap_err(), AppError::Forbidden);
        for bad in [
            "[tier.preview-full]\nmax_live = 1",
            "[team.nobody]\ntiers = []",
            "[team.payments]\napps = [\"search-ui\"]",
            "not toml [",
        ] {
            assert!(matches!(admission::save(&state, &meta(&erin), bad).await, Err(AppError::Invalid { .. })), "{bad}");
        }
        let policy =
            "[team.payments]\ntiers = [\"preview-lightweight\"]\n\n[tier.preview-lightweight]\nmax_live_per_user = 0\n";
        admission::save(&state, &meta(&erin), policy).await.unwrap();
        match environments::create(&state, &meta(&alice), preview("checkout-web", Tier::PreviewFull)).await {
            Err(AppError::Conflict(m)) => assert!(m.contains("may not use the preview-full tier"), "{m}"),
            other => panic!("{other:?}"),
        }
        match environments::create(&state, &meta(&alice), preview("checkout-web", Tier::PreviewLightweight)).await {
            Err(AppError::Conflict(m)) => assert!(m.contains("limit per user is 0"), "{m}"),
            other => panic!("{other:?}"),
        }
        // The change is audited with before and after.
        let detail: String = sqlx::query_scalar(
            "SELECT detail FROM audit_events WHERE action = 'policy.update' ORDER BY at DESC, id DESC LIMIT 1",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
        assert_eq!(detail["after"]["team"]["payments"]["tiers"][0], "preview-lightweight");
        assert!(detail["before"]["team"].as_object().unwrap().is_empty());
    });

    on_both_engines!(compliance_checks_pass_on_the_seed_and_name_what_breaks_them, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state(&db);
        // The demo's clock: its live environments are minutes old then.
        let now = NOW + 60_000;
        let results = compliance::run(&db, &state.settings, None, now).await.unwrap();
        assert!(results.iter().all(|r| r.passed), "{results:?}");
        // An expiring environment that nothing works on is a dead end: named.
        let id: String = sqlx::query_scalar("SELECT id FROM environments WHERE state = 'pending' ORDER BY id LIMIT 1")
            .fetch_one(db.pool())
            .await
            .unwrap();
        sqlx::query("UPDATE jobs SET finished_at = 1 WHERE environment_id = $1")
            .bind(&id)
            .execute(db.pool())
            .await
            .unwrap();
        sqlx::query("UPDATE environments SET state = 'expiring' WHERE id = $1")
            .bind(&id)
            .execute(db.pool())
            .await
            .unwrap();
        let results = compliance::run(&db, &state.settings, None, now + 1).await.unwrap();
        let dead = results.iter().find(|r| r.id == "no-dead-ends").unwrap();
        assert!(!dead.passed);
        let name = store::environments::find(db.pool(), &id).await.unwrap().unwrap().env.name;
        assert!(dead.evidence[0].starts_with(&name), "{dead:?}");
        // Stored with when it ran.
        let erin = viewer(&db, "erin").await;
        let stored = compliance::latest(&state, &meta(&erin)).await.unwrap();
        assert_eq!(stored.len(), results.len());
        assert!(stored.iter().all(|s| s.checked_at == now + 1));
        assert_eq!(
            compliance::latest(&state, &meta(&viewer(&db, "bob").await)).await.unwrap_err(),
            AppError::Forbidden
        );
    });
}

mod measurements {
    use super::pools_and_listing::{new_preview, provision_pool, state};
    use super::*;
    use app::domain::lifecycle::Event;
    use app::domain::measure::Via;
    use app::domain::roi::RoiSettings;
    use app::error::AppError;
    use app::ssr::clock::now_ms;
    use app::ssr::{environments, insights, pools};

    fn asking(v: &Viewer, received_at: i64, via: Via) -> RequestMeta {
        RequestMeta { viewer: Some(v.clone()), received_at: Some(received_at), via, ..Default::default() }
    }

    on_both_engines!(waits_run_from_the_request_to_ready_by_path_and_trigger, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state(&db, 1);
        assert_eq!(pools::refill(&db, &state.settings, None).await.unwrap(), 1);
        provision_pool(&db, now_ms() - 60_000).await;
        let alice = viewer(&db, "alice").await;
        let since = now_ms();

        // A pool claim: ready at the claim's commit, the wait from the request.
        let asked = now_ms() - 250;
        let pooled =
            environments::create(&state, &asking(&alice, asked, Via::Api), new_preview("w-pool")).await.unwrap();
        assert!(pooled.claimed_at.is_some(), "from the pool");
        let (wait, path, via, _) = store::measurements::for_environment(db.pool(), &pooled.id).await.unwrap().unwrap();
        let wait = wait.expect("ended at the claim");
        assert!((250..60_000).contains(&wait), "{wait}");
        assert_eq!((path.as_str(), via.as_str()), ("pool", "api"));
        assert_eq!(pooled.ready_at, Some(pooled.claimed_at.unwrap()), "ready at the hand-over, not the member's build");

        // The pool is empty now: a cold start waits for provisioning.
        let asked = now_ms();
        let cold = environments::create(&state, &asking(&alice, asked, Via::Ui), new_preview("w-cold")).await.unwrap();
        assert!(cold.claimed_at.is_none());
        let open = store::measurements::for_environment(db.pool(), &cold.id).await.unwrap().unwrap();
        assert_eq!(open, (None, "cold".to_string(), "ui".to_string(), 0), "pending: no wait yet");
        let tiers = &state.settings.tiers;
        let ready = environments::system_event(&db, tiers, &cold.id, Event::Provisioned, "test").await.unwrap();
        let (wait, ..) = store::measurements::for_environment(db.pool(), &cold.id).await.unwrap().unwrap();
        assert_eq!(wait, Some(ready.ready_at.unwrap() - asked));
        // Later events do not move it.
        environments::system_event(&db, tiers, &cold.id, Event::DeployHealthy, "test").await.unwrap();
        assert_eq!(store::measurements::for_environment(db.pool(), &cold.id).await.unwrap().unwrap().0, wait);

        let rows = store::measurements::waits_since(db.pool(), since - 1_000).await.unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(rows.iter().all(|r| !r.demo), "measured, not seeded");
        let created = store::measurements::created_since(db.pool(), since - 1_000).await.unwrap();
        assert_eq!(created.len(), 2);
        assert!(created.iter().all(|c| c.owner.as_deref() == Some(alice.user_id.as_str()) && !c.demo));

        // The seed's rows are there and say so.
        let all = store::measurements::waits_since(db.pool(), 0).await.unwrap();
        assert!(all.iter().filter(|r| r.demo).count() > 10, "demo waits flagged");
        let ratings = store::measurements::ratings_since(db.pool(), 0).await.unwrap();
        assert!(!ratings.is_empty() && ratings.iter().all(|r| r.demo && (1..=5).contains(&r.score)));

        // Compliance runs count once per day.
        let day = "2026-12-01";
        store::measurements::record_compliance_run(db.pool(), day, since).await.unwrap();
        store::measurements::record_compliance_run(db.pool(), day, since + 5).await.unwrap();
        assert_eq!(store::measurements::compliance_runs_since(db.pool(), since).await.unwrap(), vec![since + 5]);
    });

    on_both_engines!(the_dashboards_count_what_happened_and_flag_the_seed, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state(&db, 1);
        let erin = viewer(&db, "erin").await;
        let admin = RequestMeta { viewer: Some(erin.clone()), ..Default::default() };
        let before = insights::roi(&state, &admin, Some(365)).await.unwrap().measured;
        assert!(
            before.waits.basis.n > 0 && before.waits.basis.demo == before.waits.basis.n,
            "all seeded: {:?}",
            before.waits
        );
        assert_eq!(before.created.demo, before.created.n);
        assert!(before.destroyed.basis.n > 0 && before.destroyed.mean.is_some());
        assert!(before.total_cost.0 > 0);

        pools::refill(&db, &state.settings, None).await.unwrap();
        provision_pool(&db, now_ms() - 60_000).await;
        let alice = viewer(&db, "alice").await;
        let made =
            environments::create(&state, &asking(&alice, now_ms(), Via::Ui), new_preview("counted")).await.unwrap();
        assert!(made.claimed_at.is_some(), "from the pool: {made:?}");
        let after = insights::roi(&state, &admin, Some(365)).await.unwrap().measured;
        assert_eq!(after.waits.basis.n, before.waits.basis.n + 1);
        assert_eq!(after.waits.basis.demo, before.waits.basis.demo, "the new one is measured");
        assert_eq!((after.created.n, after.created.demo), (before.created.n + 1, before.created.demo));
        assert_eq!(after.waits.pool.n, before.waits.pool.n + 1);

        let m = insights::maturity(&state, &admin, Some(30)).await.unwrap();
        assert_eq!(m.history.len(), 12);
        let a = &m.assessment;
        assert_eq!(a.overall, a.provisioning.level.min(a.cost_control.level).min(a.governance.level));
        assert!(a.provisioning.evidence.iter().any(|e| e.demo), "seeded waits are flagged");

        // Developers read neither; managers read but do not edit the baseline.
        let dev = RequestMeta { viewer: Some(alice.clone()), ..Default::default() };
        assert!(matches!(insights::roi(&state, &dev, Some(30)).await, Err(AppError::Forbidden)));
        assert!(matches!(insights::maturity(&state, &dev, Some(30)).await, Err(AppError::Forbidden)));
        let bob = RequestMeta { viewer: Some(viewer(&db, "bob").await), ..Default::default() };
        assert!(insights::roi(&state, &bob, Some(30)).await.is_ok());
        let mut s = RoiSettings::default();
        s.assumptions.developers = 35;
        assert!(matches!(insights::save_roi_settings(&state, &bob, s.clone()).await, Err(AppError::Forbidden)));
        let mut bad = s.clone();
        bad.baseline.satisfaction_milli = 9_000;
        assert!(matches!(insights::save_roi_settings(&state, &admin, bad).await, Err(AppError::Invalid { .. })));
        assert_eq!(insights::roi_settings(&state).await.unwrap(), (RoiSettings::default(), None), "nothing saved");
        insights::save_roi_settings(&state, &admin, s.clone()).await.unwrap();
        let (saved, by) = insights::roi_settings(&state).await.unwrap();
        assert_eq!(saved, s);
        assert_eq!(by.unwrap().0.as_deref(), Some("erin"));
        let audit = store::audit::for_target(db.pool(), "roi-baseline", 10).await.unwrap();
        assert!(audit.iter().any(|e| e.action == "roi.baseline"));
        assert!(matches!(insights::window_days(Some(12)), Err(AppError::Invalid { .. })));
    });
}

mod runtime {
    use super::pools_and_listing::{new_preview, state};
    use super::*;
    use app::domain::health::{Change, Health};
    use app::domain::lifecycle::Event;
    use app::domain::repository::Wanted;
    use app::domain::tier::{DeploymentStrategy, Tier, TierOverride};
    use app::error::AppError;
    use app::ssr::clock::now_ms;
    use app::ssr::context::{BoxFuture, SourceError, Sources};
    use app::ssr::deployments::{self, Wanting};
    use app::ssr::environments::NewEnvironment;
    use app::ssr::{environments, AppState};
    use std::sync::Arc;

    const MAIN: &str = "1111111111111111111111111111111111111111";
    const NEXT: &str = "2222222222222222222222222222222222222222";

    /// A repository with two branches, `main` and `next`.
    #[derive(Debug)]
    struct TwoBranches;
    impl Sources for TwoBranches {
        fn resolve<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            wanted: &'a Wanted,
        ) -> BoxFuture<'a, Result<String, SourceError>> {
            let found = match wanted {
                Wanted::Branch(b) if b == "main" => Some(MAIN),
                Wanted::Branch(b) if b == "next" => Some(NEXT),
                Wanted::Commit(c) if c == MAIN || c == NEXT => Some(c.as_str()),
                _ => None,
            };
            Box::pin(async move { found.map(str::to_string).ok_or(SourceError::UnknownRef) })
        }
        fn probe<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<String, SourceError>> {
            Box::pin(async { Ok(MAIN.to_string()) })
        }
    }

    /// No warm pool; checkout-web has a repository; `strategy` on lightweight previews.
    async fn with_repo(db: &Db, strategy: Option<DeploymentStrategy>) -> AppState {
        sqlx::query("UPDATE apps SET repo_url = 'https://git.example/checkout-web.git' WHERE slug = 'checkout-web'")
            .execute(db.pool())
            .await
            .unwrap();
        let base = state(db, 0);
        let mut s = (*base.settings).clone();
        s.pools.clear();
        let o =
            TierOverride { strategy, budget_gate: Some(app::domain::budget::BudgetGate::Off), ..Default::default() };
        s.tiers = s.tiers.with_override(Tier::PreviewLightweight, &o).unwrap();
        AppState { settings: Arc::new(s), sources: Some(Arc::new(TwoBranches)), ..base }
    }

    fn as_user(v: &Viewer) -> RequestMeta {
        RequestMeta { viewer: Some(v.clone()), ..Default::default() }
    }

    /// A lightweight preview of `main`, provisioned and healthy.
    async fn running(db: &Db, state: &AppState) -> String {
        let alice = viewer(db, "alice").await;
        let env = environments::create(state, &as_user(&alice), new_preview("main")).await.unwrap();
        assert_eq!(env.commit_sha.as_deref(), Some(MAIN));
        let tiers = &state.settings.tiers;
        environments::system_event(db, tiers, &env.id, Event::Provisioned, "test").await.unwrap();
        environments::system_event(db, tiers, &env.id, Event::DeployHealthy, "test").await.unwrap();
        env.id
    }

    async fn env(db: &Db, id: &str) -> store::environments::Environment {
        store::environments::find(db.pool(), id).await.unwrap().unwrap().env
    }

    async fn count(db: &Db, sql: &str, id: &str) -> i64 {
        sqlx::query_scalar(sql).bind(id).fetch_one(db.pool()).await.unwrap()
    }

    on_both_engines!(health_changes_are_written_once_and_queue_a_restart_with_backoff, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = with_repo(&db, None).await;
        let id = running(&db, &state).await;
        assert_eq!(env(&db, &id).await.health, "healthy", "the first passing probe makes it healthy");

        let sick = Change { to: Health::Unhealthy, reason: "the process exited".into() };
        let before = now_ms();
        assert!(environments::record_health(&db, &id, &sick).await.unwrap());
        assert!(!environments::record_health(&db, &id, &sick).await.unwrap(), "one change, one restart");
        let e = env(&db, &id).await;
        assert_eq!((e.health.as_str(), e.state.as_str(), e.restarts), ("unhealthy", "active", 1));
        let restarts: Vec<i64> = sqlx::query_scalar(
            "SELECT run_at FROM jobs WHERE environment_id = $1 AND kind = 'restart' AND finished_at IS NULL",
        )
        .bind(&id)
        .fetch_all(db.pool())
        .await
        .unwrap();
        assert_eq!(restarts.len(), 1);
        assert!(restarts[0] >= before + 2_000, "the first restart waits 2 s");
        let audited = "SELECT COUNT(*) FROM audit_events WHERE target_id = $1 AND action = 'environment.unhealthy'";
        assert_eq!(count(&db, audited, &id).await, 1);
        let told = "SELECT COUNT(*) FROM notifications WHERE environment_id = $1 AND kind = 'environment_unhealthy'";
        assert_eq!(count(&db, told, &id).await, 1, "the owner is told");

        let well = Change { to: Health::Healthy, reason: "restarted".into() };
        assert!(environments::record_health(&db, &id, &well).await.unwrap());
        let recovered = "SELECT COUNT(*) FROM audit_events WHERE target_id = $1 AND action = 'environment.recovered'";
        assert_eq!(count(&db, recovered, &id).await, 1);
        // Sick again soon after: the backoff doubles.
        let before = now_ms();
        assert!(environments::record_health(&db, &id, &sick).await.unwrap());
        assert_eq!(env(&db, &id).await.restarts, 2);
        let latest: i64 =
            sqlx::query_scalar("SELECT MAX(run_at) FROM jobs WHERE environment_id = $1 AND kind = 'restart'")
                .bind(&id)
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert!(latest >= before + 4_000, "the second restart waits 4 s");

        // A failed environment runs nothing: no health to change.
        let tiers = &state.settings.tiers;
        environments::system_event(&db, tiers, &id, Event::Failed { reason: "gave up".into() }, "test").await.unwrap();
        assert_eq!(env(&db, &id).await.health, "unknown");
        assert!(!environments::record_health(&db, &id, &well).await.unwrap());
    });

    on_both_engines!(deployments_run_one_at_a_time_and_end_as_records, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = with_repo(&db, None).await;
        let id = running(&db, &state).await;
        let alice = as_user(&viewer(&db, "alice").await);
        let want = |commit: Option<&str>, r: Option<&str>| Wanting {
            commit_sha: commit.map(str::to_string),
            git_ref: r.map(str::to_string),
        };

        // Bad input: a 422 naming the field, nothing written.
        for (w, field) in [
            (want(Some("abc"), None), "commit_sha"),
            (want(Some(&"3".repeat(40)), None), "commit_sha"),
            (want(None, Some("bad..ref")), "ref"),
            (want(None, Some("no-such-branch")), "ref"),
            (want(None, Some("refs/pull/0/head")), "ref"),
            (want(Some(NEXT), Some("next")), "ref"),
        ] {
            match deployments::deploy(&state, &alice, &id, w).await {
                Err(AppError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        let none = "SELECT COUNT(*) FROM deployments WHERE environment_id = $1";
        assert_eq!(count(&db, none, &id).await, 0);
        // Another team's environment is not there for carol.
        let carol = as_user(&viewer(&db, "carol").await);
        assert!(matches!(
            deployments::deploy(&state, &carol, &id, Wanting::default()).await,
            Err(AppError::NotFound | AppError::Forbidden)
        ));

        // The branch's new commit, by the tier's strategy (recreate on previews).
        let before = env(&db, &id).await;
        let d = deployments::deploy(&state, &alice, &id, want(None, Some("next"))).await.unwrap();
        assert_eq!((d.state.as_str(), d.strategy.as_str(), d.commit_sha.as_str()), ("queued", "recreate", NEXT));
        assert_eq!(d.previous_commit.as_deref(), Some(MAIN));
        assert!(
            matches!(deployments::deploy(&state, &alice, &id, Wanting::default()).await, Err(AppError::Conflict(_))),
            "one at a time"
        );
        let queued = "SELECT COUNT(*) FROM jobs WHERE environment_id = $1 AND kind = 'deploy' AND finished_at IS NULL";
        assert_eq!(count(&db, queued, &id).await, 1);
        assert!(env(&db, &id).await.last_activity_at >= before.last_activity_at, "a deploy is activity");

        // What the reconciler records.
        let started = deployments::start(&db, &id).await.unwrap().expect("under way");
        assert_eq!(started.state, "deploying");
        deployments::finish(&db, &started, Ok(false)).await.unwrap();
        let now_serving = env(&db, &id).await;
        assert_eq!(now_serving.commit_sha.as_deref(), Some(NEXT), "what serves now");
        assert_eq!(now_serving.git_ref.as_deref(), Some("next"), "and the branch it follows");
        let done = store::deployments::find(db.pool(), &d.id).await.unwrap().unwrap();
        assert_eq!((done.state.as_str(), done.rollback_until), ("succeeded", None));
        assert!(done.ready_at.is_some() && done.finished_at.is_some());
        assert!(
            matches!(deployments::rollback(&state, &alice, &id, &d.id).await, Err(AppError::Conflict(_))),
            "recreate keeps nothing to roll back to"
        );

        // A version that never becomes ready: the record says why; the commit stays.
        let d2 = deployments::deploy(&state, &alice, &id, want(Some(MAIN), None)).await.unwrap();
        let s2 = deployments::start(&db, &id).await.unwrap().unwrap();
        deployments::finish(&db, &s2, Err("readiness probe on /healthz failed".into())).await.unwrap();
        let failed = store::deployments::find(db.pool(), &d2.id).await.unwrap().unwrap();
        assert_eq!(failed.state, "failed");
        assert!(failed.reason.unwrap().contains("readiness"));
        assert_eq!(env(&db, &id).await.commit_sha.as_deref(), Some(NEXT));

        // A destroyed environment takes no deployment.
        environments::destroy(&state, &alice, &id).await.unwrap();
        assert!(matches!(
            deployments::deploy(&state, &alice, &id, Wanting::default()).await,
            Err(AppError::Conflict(_))
        ));
    });

    on_both_engines!(a_blue_green_deployment_rolls_back_within_its_window, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = with_repo(&db, Some(DeploymentStrategy::BlueGreen)).await;
        let id = running(&db, &state).await;
        let alice = as_user(&viewer(&db, "alice").await);
        let d =
            deployments::deploy(&state, &alice, &id, Wanting { git_ref: Some("next".into()), ..Default::default() })
                .await
                .unwrap();
        assert_eq!(d.strategy, "blue-green", "the tier's setting is read");
        let started = deployments::start(&db, &id).await.unwrap().unwrap();
        deployments::finish(&db, &started, Ok(true)).await.unwrap();
        let served = store::deployments::find(db.pool(), &d.id).await.unwrap().unwrap();
        let until = served.rollback_until.expect("a window");
        assert_eq!(until, served.ready_at.unwrap() + app::domain::deployment::ROLLBACK_WINDOW_MS);

        // A person rolls back: queued, then recorded by the reconciler.
        deployments::rollback(&state, &alice, &id, &d.id).await.unwrap();
        assert!(
            matches!(deployments::rollback(&state, &alice, &id, &d.id).await, Err(AppError::Conflict(_))),
            "one rollback at a time"
        );
        let queued =
            "SELECT COUNT(*) FROM jobs WHERE environment_id = $1 AND kind = 'rollback' AND finished_at IS NULL";
        assert_eq!(count(&db, queued, &id).await, 1);
        deployments::rolled_back(&db, &id).await.unwrap();
        let back = store::deployments::find(db.pool(), &d.id).await.unwrap().unwrap();
        assert_eq!((back.state.as_str(), back.rollback_until), ("rolled-back", None));
        assert_eq!(back.reason.as_deref(), Some("rolled back by alice"));
        let restored = env(&db, &id).await;
        assert_eq!(restored.commit_sha.as_deref(), Some(MAIN), "the previous commit serves again");
        assert_eq!(restored.git_ref.as_deref(), Some("main"), "and its branch");
        assert!(matches!(deployments::rollback(&state, &alice, &id, &d.id).await, Err(AppError::Conflict(_))), "once");
        // The reconciler finishes its job.
        sqlx::query("UPDATE jobs SET finished_at = 1 WHERE environment_id = $1 AND kind = 'rollback'")
            .bind(&id)
            .execute(db.pool())
            .await
            .unwrap();

        // The new colour failing its probes in the window: the portal rolls back by itself.
        let d2 =
            deployments::deploy(&state, &alice, &id, Wanting { git_ref: Some("next".into()), ..Default::default() })
                .await
                .unwrap();
        let s2 = deployments::start(&db, &id).await.unwrap().unwrap();
        deployments::finish(&db, &s2, Ok(true)).await.unwrap();
        let sick = Change { to: Health::Unhealthy, reason: "the health probe failed 3 times".into() };
        assert!(environments::record_health(&db, &id, &sick).await.unwrap());
        let automatic = "SELECT COUNT(*) FROM audit_events WHERE target_id = $1 AND action = 'environment.rollback'
                         AND actor_label = 'system'";
        assert_eq!(count(&db, automatic, &id).await, 1);
        assert_eq!(count(&db, queued, &id).await, 1, "a rollback queued instead of a restart");
        let restarts = "SELECT COUNT(*) FROM jobs WHERE environment_id = $1 AND kind = 'restart'";
        assert_eq!(count(&db, restarts, &id).await, 0);
        deployments::rolled_back(&db, &id).await.unwrap();
        let auto = store::deployments::find(db.pool(), &d2.id).await.unwrap().unwrap();
        assert_eq!(auto.state, "rolled-back");
        assert!(auto.reason.unwrap().starts_with("rolled back by the portal: the health probe failed"));

        // Nothing was kept (the old colour was already gone): no window, no rollback.
        let d3 =
            deployments::deploy(&state, &alice, &id, Wanting { git_ref: Some("next".into()), ..Default::default() })
                .await
                .unwrap();
        let s3 = deployments::start(&db, &id).await.unwrap().unwrap();
        deployments::finish(&db, &s3, Ok(false)).await.unwrap();
        assert_eq!(store::deployments::find(db.pool(), &d3.id).await.unwrap().unwrap().rollback_until, None);
        assert!(matches!(deployments::rollback(&state, &alice, &id, &d3.id).await, Err(AppError::Conflict(_))));
    });

    on_both_engines!(long_lived_tiers_take_a_manager_to_deploy, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = with_repo(&db, None).await;
        let erin = as_user(&viewer(&db, "erin").await);
        let staging = NewEnvironment {
            app: "checkout-web".into(),
            team: None,
            branch: Some("main".into()),
            pr_number: None,
            tier: Tier::Staging,
        };
        let env = environments::create(&state, &erin, staging).await.unwrap();
        let tiers = &state.settings.tiers;
        environments::system_event(&db, tiers, &env.id, Event::Provisioned, "test").await.unwrap();
        environments::system_event(&db, tiers, &env.id, Event::DeployHealthy, "test").await.unwrap();
        let alice = as_user(&viewer(&db, "alice").await);
        let next = || Wanting { git_ref: Some("next".into()), ..Default::default() };
        match deployments::deploy(&state, &alice, &env.id, next()).await {
            Err(AppError::Refused(rule)) => assert!(rule.contains("manager or a platform admin"), "{rule}"),
            other => panic!("a developer deployed to staging: {other:?}"),
        }
        let denied: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'authz.deny' AND detail LIKE '%deploying to%'",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(denied, 1, "the refusal is audited");
        let bob = as_user(&viewer(&db, "bob").await);
        let d = deployments::deploy(&state, &bob, &env.id, next()).await.unwrap();
        assert_eq!(d.strategy, "rolling", "staging's default strategy");
    });
}

mod way_out {
    use super::pools_and_listing::{new_preview, state};
    use super::*;
    use app::domain::lifecycle::Event;
    use app::ssr::environments;

    async fn open_jobs(db: &Db, id: &str, kind: &str) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE environment_id = $1 AND kind = $2 AND finished_at IS NULL")
            .bind(id)
            .bind(kind)
            .fetch_one(db.pool())
            .await
            .unwrap()
    }

    on_both_engines!(destroy_resumes_a_way_out_whose_job_was_lost, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state(&db, 0);
        let alice = RequestMeta { viewer: Some(viewer(&db, "alice").await), ..Default::default() };
        let env = environments::create(&state, &alice, new_preview("lost-job")).await.unwrap();
        let tiers = &state.settings.tiers;
        environments::system_event(&db, tiers, &env.id, Event::Provisioned, "test").await.unwrap();
        environments::system_event(&db, tiers, &env.id, Event::DeployHealthy, "test").await.unwrap();
        environments::destroy(&state, &alice, &env.id).await.unwrap();
        assert_eq!(open_jobs(&db, &env.id, "teardown").await, 1);
        // While the teardown is queued, a second Destroy adds nothing.
        environments::destroy(&state, &alice, &env.id).await.unwrap();
        assert_eq!(open_jobs(&db, &env.id, "teardown").await, 1);
        // The job is lost (finished without its transition): stuck expiring.
        sqlx::query("UPDATE jobs SET finished_at = 1 WHERE environment_id = $1")
            .bind(&env.id)
            .execute(db.pool())
            .await
            .unwrap();
        environments::destroy(&state, &alice, &env.id).await.unwrap();
        assert_eq!(open_jobs(&db, &env.id, "teardown").await, 1, "the way out is queued again");
        let resumed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE target_id = $1 AND action = 'environment.destroy' AND detail LIKE '%resumed%'",
        )
        .bind(&env.id)
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(resumed, 1);
        environments::system_event(&db, tiers, &env.id, Event::TornDown, "test").await.unwrap();
        let gone = store::environments::find(db.pool(), &env.id).await.unwrap().unwrap().env;
        assert_eq!(gone.state, "destroyed");
        let open: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM resources WHERE environment_id = $1 AND state <> 'deleted'")
                .bind(&env.id)
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(open, 0, "every resource's clock stopped");
    });

    on_both_engines!(a_drift_between_what_serves_and_what_is_recorded_queues_one_restart, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = state(&db, 0);
        let alice = RequestMeta { viewer: Some(viewer(&db, "alice").await), ..Default::default() };
        let env = environments::create(&state, &alice, new_preview("drifting")).await.unwrap();
        let tiers = &state.settings.tiers;
        environments::system_event(&db, tiers, &env.id, Event::Provisioned, "test").await.unwrap();
        environments::system_event(&db, tiers, &env.id, Event::DeployHealthy, "test").await.unwrap();
        // Its provisioning is done (the reconciler would have finished the job).
        sqlx::query("UPDATE jobs SET finished_at = 1 WHERE environment_id = $1")
            .bind(&env.id)
            .execute(db.pool())
            .await
            .unwrap();
        let want = "a".repeat(40);
        sqlx::query("UPDATE environments SET commit_sha = $1 WHERE id = $2")
            .bind(&want)
            .bind(&env.id)
            .execute(db.pool())
            .await
            .unwrap();
        assert!(!environments::correct_drift(&db, &env.id, &want).await.unwrap(), "no drift");
        let found = "b".repeat(40);
        assert!(environments::correct_drift(&db, &env.id, &found).await.unwrap());
        assert!(!environments::correct_drift(&db, &env.id, &found).await.unwrap(), "one restart queued");
        assert_eq!(open_jobs(&db, &env.id, "restart").await, 1);
        let audited: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE target_id = $1 AND action = 'environment.drift'",
        )
        .bind(&env.id)
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(audited, 1);
    });
}

on_both_engines!(preview_codes_work_once_and_sessions_end_with_their_grant, |db: Db| async move {
    use app::ssr::store::preview_access::{self as pa, Holder, ShareLink};
    demo::seed(&db, NOW).await.unwrap();
    let env: String =
        sqlx::query_scalar("SELECT id FROM environments WHERE destroyed_at IS NULL AND pooled = 0 LIMIT 1")
            .fetch_one(db.pool())
            .await
            .unwrap();
    let pool = db.pool();
    // A code: once, for its environment, before it expires.
    pa::insert_code(pool, "code-1", &env, "user-alice", "/cart", (NOW, NOW + 60_000)).await.unwrap();
    assert_eq!(pa::redeem_code(pool, "code-1", "other-env", NOW).await.unwrap(), None);
    let got = pa::redeem_code(pool, "code-1", &env, NOW + 1).await.unwrap();
    assert_eq!(got, Some(("user-alice".to_string(), "/cart".to_string())));
    assert_eq!(pa::redeem_code(pool, "code-1", &env, NOW + 2).await.unwrap(), None, "used");
    pa::insert_code(pool, "code-2", &env, "user-alice", "/", (NOW, NOW + 60_000)).await.unwrap();
    assert_eq!(pa::redeem_code(pool, "code-2", &env, NOW + 60_000).await.unwrap(), None, "expired");

    // A user's session: until it expires or the user is disabled.
    pa::insert_session(pool, "s-user", &env, Holder::User("user-alice"), (NOW, NOW + 1_000)).await.unwrap();
    assert!(pa::session_admits(pool, "s-user", &env, NOW + 1).await.unwrap());
    assert!(!pa::session_admits(pool, "s-user", "other-env", NOW + 1).await.unwrap());
    assert!(!pa::session_admits(pool, "s-user", &env, NOW + 1_000).await.unwrap(), "expired");
    pa::insert_session(pool, "s-user-2", &env, Holder::User("user-alice"), (NOW, NOW + 10_000)).await.unwrap();
    store::users::set_disabled(pool, "user-alice", Some(NOW)).await.unwrap();
    assert!(!pa::session_admits(pool, "s-user-2", &env, NOW + 1).await.unwrap(), "disabled user");
    store::users::set_disabled(pool, "user-alice", None).await.unwrap();
    assert!(pa::session_admits(pool, "s-user-2", &env, NOW + 1).await.unwrap());

    // A share link's session: until the link expires or is revoked.
    let link = ShareLink {
        id: "link-1".into(),
        environment_id: env.clone(),
        note: "review".into(),
        created_by: "user-alice".into(),
        created_at: NOW,
        expires_at: NOW + 5_000,
        revoked_at: None,
        revoked_by: None,
    };
    pa::insert_link(pool, &link, "link-hash").await.unwrap();
    assert_eq!(pa::usable_link(pool, "link-hash", NOW).await.unwrap().map(|l| l.id), Some("link-1".into()));
    assert!(pa::usable_link(pool, "link-hash", NOW + 5_000).await.unwrap().is_none(), "expired link");
    pa::insert_session(pool, "s-guest", &env, Holder::ShareLink("link-1"), (NOW, NOW + 100_000)).await.unwrap();
    assert!(pa::session_admits(pool, "s-guest", &env, NOW + 1).await.unwrap());
    assert!(!pa::session_admits(pool, "s-guest", &env, NOW + 5_000).await.unwrap(), "the link expired");
    assert!(pa::revoke_link(pool, &env, "link-1", "user-alice", NOW + 2).await.unwrap());
    assert!(!pa::revoke_link(pool, &env, "link-1", "user-alice", NOW + 3).await.unwrap(), "once");
    assert!(!pa::session_admits(pool, "s-guest", &env, NOW + 4).await.unwrap(), "revoked");
    assert_eq!(pa::links_of(pool, &env).await.unwrap()[0].revoked_at, Some(NOW + 2));
});

/// Inserts a live preview of checkout-web (payments) made at `at`.
async fn insert_env(db: &Db, id: &str, name: &str, at: i64, expires_at: Option<i64>) {
    sqlx::query(
        "INSERT INTO environments (id, name, team_id, app_id, owner_id, tier, state, pooled, created_at, expires_at)
         VALUES ($1, $2, 'team-payments', 'app-checkout-web', 'user-alice', 'preview-lightweight', 'active', 0, $3, $4)",
    )
    .bind(id)
    .bind(name)
    .bind(at)
    .bind(expires_at)
    .execute(db.pool())
    .await
    .unwrap();
}

on_both_engines!(keyset_pages_see_every_environment_once_while_others_come_and_go, |db: Db| async move {
    use app::domain::listing::{ListQuery, Sort};
    demo::seed(&db, NOW).await.unwrap();
    let alice = viewer(&db, "alice").await;
    // Ties on creation time and expiry, and environments with no expiry.
    for i in 0..40 {
        let expiry = (i % 3 != 0).then_some(NOW + (i % 5) * 60_000);
        insert_env(&db, &format!("keyset-{i:02}"), &format!("keyset-{i:02}"), NOW - (i / 4) * 1000, expiry).await;
    }
    for sort in Sort::ALL {
        let start = ListQuery { sort, ..Default::default() };
        let before: std::collections::BTreeSet<String> =
            store::environments::list_page(db.pool(), &alice, &start, 10_000, false)
                .await
                .unwrap()
                .rows
                .into_iter()
                .map(|r| r.id)
                .collect();
        let mut seen = vec![];
        let mut pages = vec![];
        let mut q = start.clone();
        let mut destroyed = std::collections::BTreeSet::new();
        for round in 0.. {
            let page = store::environments::list_page(db.pool(), &alice, &q, 7, round == 0).await.unwrap();
            if round == 0 {
                assert_eq!(page.total, Some(before.len() as i64));
                assert_eq!(page.prev, None, "the first page has no previous page");
            }
            seen.extend(page.rows.iter().map(|r| r.id.clone()));
            pages.push((q.clone(), page.rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>()));
            // Meanwhile: three new environments, and one not yet listed destroyed.
            for k in 0..3 {
                let id = format!("new-{}-{round}-{k}", sort.as_str());
                // Newest first puts them before the first page, the other sorts after the last.
                let far = NOW + 400 * 86_400_000;
                insert_env(&db, &id, &format!("zz-{id}"), NOW + 10_000 + round, Some(far)).await;
            }
            if let Some(gone) = before.iter().find(|id| !seen.contains(id) && !destroyed.contains(*id)) {
                sqlx::query("UPDATE environments SET state = 'destroyed' WHERE id = $1")
                    .bind(gone)
                    .execute(db.pool())
                    .await
                    .unwrap();
                destroyed.insert(gone.clone());
            }
            match page.next {
                Some(key) => q = start.clone().with_cursor(Some(key), None),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{sort:?}: no environment twice");
        for id in before.iter().filter(|id| !destroyed.contains(*id)) {
            assert!(seen.contains(id), "{sort:?}: {id} was listed");
        }
        // Going back from the second page gives the first page's rows again
        // (those still live), even though environments were made meanwhile.
        if pages.len() > 2 {
            let second = store::environments::list_page(db.pool(), &alice, &pages[2].0, 7, false).await.unwrap();
            let back = start.clone().with_cursor(None, second.prev.clone());
            let again = store::environments::list_page(db.pool(), &alice, &back, 7, false).await.unwrap();
            assert_eq!(again.rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), pages[1].1, "{sort:?}: back");
        }
        // Undo this sort's changes for the next sort.
        for id in &destroyed {
            sqlx::query("UPDATE environments SET state = 'active' WHERE id = $1")
                .bind(id)
                .execute(db.pool())
                .await
                .unwrap();
        }
        sqlx::query("UPDATE environments SET state = 'destroyed' WHERE id LIKE 'new-%'")
            .execute(db.pool())
            .await
            .unwrap();
    }
});

/// Waits (at most a minute: a slow machine) for a change to `env_id`.
async fn change_for(
    rx: &mut tokio::sync::broadcast::Receiver<app::api::live::EnvChange>,
    env_id: &str,
) -> app::api::live::EnvChange {
    let wait = async {
        loop {
            match rx.recv().await {
                Ok(c) if c.env_id == env_id => return c,
                Ok(_) => continue,
                Err(e) => panic!("feed ended: {e}"),
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), wait).await.expect("the change reaches subscribers")
}

on_both_engines!(the_change_feed_delivers_late_commits, |db: Db| async move {
    use app::ssr::clock::now_ms;
    demo::seed(&db, NOW).await.unwrap();
    let changes = app::ssr::live::Changes::default();
    let mut rx = changes.subscribe();
    let mut reads = changes.reads();
    tokio::spawn(changes.clone().run(db.clone(), std::time::Duration::from_millis(50)));
    reads.changed().await.unwrap();

    // Stamped a minute before it commits (a writer that waited for the
    // lock): the old time window would never have sent it.
    insert_env(&db, "late-stamp", "late-stamp", NOW, None).await;
    let mut event = AuditEvent::system("environment.extend", Some("late-stamp".into()), Some("team-payments".into()));
    event.at = now_ms() - 60_000;
    store::audit::append(db.pool(), &event).await.unwrap();
    let change = change_for(&mut rx, "late-stamp").await;
    assert_eq!((change.action.as_str(), change.state.as_str()), ("environment.extend", "active"));

    if db.engine() == app::ssr::db::Engine::Postgres {
        // Numbered first, committed last: B (numbered after A) commits and
        // is read, then A commits; A must still arrive.
        insert_env(&db, "commits-late", "commits-late", NOW, None).await;
        insert_env(&db, "commits-early", "commits-early", NOW, None).await;
        let mut a = db.pool().begin().await.unwrap();
        let ea = AuditEvent::system("environment.extend", Some("commits-late".into()), Some("team-payments".into()));
        store::audit::append(&mut *a, &ea).await.unwrap();
        let eb = AuditEvent::system("environment.extend", Some("commits-early".into()), Some("team-payments".into()));
        store::audit::append(db.pool(), &eb).await.unwrap();
        change_for(&mut rx, "commits-early").await;
        // Several reads pass while A is still open.
        let seen = *reads.borrow_and_update();
        while *reads.borrow_and_update() < seen + 3 {
            reads.changed().await.unwrap();
        }
        a.commit().await.unwrap();
        let change = change_for(&mut rx, "commits-late").await;
        assert_eq!(change.action, "environment.extend");
        // Each once: nothing more for either arrives in later reads.
        let seen = *reads.borrow_and_update();
        while *reads.borrow_and_update() < seen + 3 {
            reads.changed().await.unwrap();
        }
        while let Ok(c) = rx.try_recv() {
            assert!(c.env_id != "commits-late" && c.env_id != "commits-early", "delivered twice: {c:?}");
        }
    }
});

/// Pull-request webhooks through the service (signature checked at the
/// HTTP edge; here as its verdict): logged, de-duplicated in the
/// transaction that queues the work, converged level-triggered.
mod pull_request_webhooks {
    use super::*;
    use app::domain::lifecycle::Event;
    use app::domain::pull_request::Provider;
    use app::ssr::environments;
    use app::ssr::pull_requests::{self, Received, Signature};
    use app::ssr::AppState;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn opened(number: u64, action: &str, updated: &str, labels: &[&str], head_repo: &str) -> Vec<u8> {
        let labels: Vec<_> = labels.iter().map(|l| serde_json::json!({ "name": l })).collect();
        serde_json::json!({
            "action": action,
            "pull_request": {
                "number": number, "state": if action == "closed" { "closed" } else { "open" },
                "draft": action == "converted_to_draft", "title": "Faster checkout",
                "html_url": format!("https://github.com/acme/checkout-web/pull/{number}"), "updated_at": updated,
                "head": { "sha": SHA, "ref": "faster", "repo": { "full_name": head_repo } },
                "labels": labels,
            },
            "repository": { "full_name": "acme/checkout-web" },
        })
        .to_string()
        .into_bytes()
    }

    fn delivery(id: &str, body: Vec<u8>) -> Received {
        Received {
            provider: Provider::Github,
            delivery_id: Some(id.into()),
            event: Some("pull_request".into()),
            signature: Signature::Valid,
            body,
        }
    }

    async fn set_policy(db: &Db, policy: serde_json::Value) {
        sqlx::query("UPDATE apps SET blueprint = $1 WHERE slug = 'checkout-web'")
            .bind(serde_json::json!({ "pull_requests": policy }).to_string())
            .execute(db.pool())
            .await
            .unwrap();
    }

    /// (tier, state) of each environment of pull request `n`, oldest first.
    async fn previews(db: &Db, n: i64) -> Vec<(String, String)> {
        sqlx::query_as("SELECT tier, state FROM environments WHERE pr_number = $1 ORDER BY created_at, id")
            .bind(n)
            .fetch_all(db.pool())
            .await
            .unwrap()
    }

    async fn live(db: &Db, n: i64) -> Vec<String> {
        let all = previews(db, n).await;
        all.into_iter()
            .filter(|(_, s)| ["pending", "ready", "active", "idle"].contains(&s.as_str()))
            .map(|(t, _)| t)
            .collect()
    }

    async fn jobs(db: &Db) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT payload FROM jobs WHERE kind = 'pull_request' AND finished_at IS NULL ORDER BY created_at, id",
        )
        .fetch_all(db.pool())
        .await
        .unwrap()
    }

    /// Runs the queued deliveries' jobs as the reconciler would.
    async fn run_jobs(state: &AppState) {
        for payload in jobs(&state.db).await {
            let p: serde_json::Value = serde_json::from_str(&payload).unwrap();
            pull_requests::process(state, p["delivery"].as_str().unwrap(), 0).await.unwrap();
        }
        sqlx::query("UPDATE jobs SET finished_at = 1 WHERE kind = 'pull_request'")
            .execute(state.db.pool())
            .await
            .unwrap();
    }

    on_both_engines!(deliveries_converge_each_pull_request_on_its_newest_facts, |db: Db| async move {
        demo::seed(&db, NOW).await.unwrap();
        let state = crate::pools_and_listing::state(&db, 0);
        set_policy(&db, serde_json::json!({ "repository": "acme/checkout-web" })).await;

        // Refused or ignored deliveries are logged and queue nothing.
        for (signature, event, body, status) in [
            (
                Signature::Invalid,
                "pull_request",
                opened(900501, "opened", "2026-12-07T10:00:00Z", &[], "acme/checkout-web"),
                401,
            ),
            (Signature::Missing, "pull_request", b"{}".to_vec(), 401),
            (Signature::NotConfigured, "pull_request", b"{}".to_vec(), 401),
            (Signature::TooLarge, "pull_request", vec![], 413),
            (Signature::Valid, "pull_request", b"{not json".to_vec(), 400),
            (Signature::Valid, "push", b"{}".to_vec(), 204),
            (Signature::Valid, "ping", b"{}".to_vec(), 200),
        ] {
            let r =
                Received { signature, event: Some(event.into()), ..delivery(&format!("bad-{status}-{event}"), body) };
            assert_eq!(pull_requests::receive(&state, r).await.unwrap().status, status, "{signature:?} {event}");
        }
        assert!(jobs(&db).await.is_empty(), "nothing queued");
        let logged: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries").fetch_one(db.pool()).await.unwrap();
        assert_eq!(logged, 7, "every delivery is in the log");
        let kept: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE body IS NOT NULL AND signature <> 'valid'",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(kept, 0, "unsigned bodies are not kept");

        // A synchronize before its opened: the first makes the preview.
        let sync = pull_requests::receive(
            &state,
            delivery("d-1", opened(900501, "synchronize", "2026-12-07T10:00:05Z", &[], "acme/checkout-web")),
        )
        .await
        .unwrap();
        assert_eq!(sync.status, 202);
        // Ten concurrent redeliveries of it: each answered 200, nothing queued again.
        let again = (0..10).map(|_| {
            let state = state.clone();
            tokio::spawn(async move {
                pull_requests::receive(
                    &state,
                    delivery("d-1", opened(900501, "synchronize", "2026-12-07T10:00:05Z", &[], "acme/checkout-web")),
                )
                .await
                .unwrap()
                .status
            })
        });
        for a in again {
            assert_eq!(a.await.unwrap(), 200);
        }
        assert_eq!(jobs(&db).await.len(), 1, "one delivery, one job");
        let open = pull_requests::receive(
            &state,
            delivery("d-2", opened(900501, "opened", "2026-12-07T10:00:00Z", &[], "acme/checkout-web")),
        )
        .await
        .unwrap();
        assert_eq!(open.status, 202);
        run_jobs(&state).await;
        assert_eq!(live(&db, 900501).await, vec!["preview-full"], "one preview, the default tier");
        let outcome: String = sqlx::query_scalar(
            "SELECT outcome FROM webhook_deliveries WHERE delivery_id = 'd-1' AND dedup_key IS NOT NULL",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert!(outcome.contains("created"), "{outcome}");

        // Labeled quick-fix: moved to the lightweight tier.
        pull_requests::receive(
            &state,
            delivery("d-3", opened(900501, "labeled", "2026-12-07T10:01:00Z", &["quick-fix"], "acme/checkout-web")),
        )
        .await
        .unwrap();
        run_jobs(&state).await;
        assert_eq!(live(&db, 900501).await, vec!["preview-lightweight"]);
        let all = previews(&db, 900501).await;
        assert_eq!(all.len(), 2, "the full one is on its way out: {all:?}");

        // Closed, then a late labeled (older): it stays closed.
        pull_requests::receive(
            &state,
            delivery("d-4", opened(900501, "closed", "2026-12-07T10:02:00Z", &[], "acme/checkout-web")),
        )
        .await
        .unwrap();
        run_jobs(&state).await;
        assert!(live(&db, 900501).await.is_empty(), "closed: destroyed");
        pull_requests::receive(
            &state,
            delivery("d-5", opened(900501, "unlabeled", "2026-12-07T10:01:30Z", &[], "acme/checkout-web")),
        )
        .await
        .unwrap();
        run_jobs(&state).await;
        assert!(live(&db, 900501).await.is_empty(), "a late older delivery does not bring it back");

        // Ten concurrent deliveries for a new pull request make one preview.
        for i in 0..10 {
            pull_requests::receive(
                &state,
                delivery(&format!("c-{i}"), opened(900502, "edited", "2026-12-07T11:00:00Z", &[], "acme/checkout-web")),
            )
            .await
            .unwrap();
        }
        let runs = jobs(&db).await.into_iter().map(|payload| {
            let state = state.clone();
            tokio::spawn(async move {
                let p: serde_json::Value = serde_json::from_str(&payload).unwrap();
                pull_requests::process(&state, p["delivery"].as_str().unwrap(), 0).await
            })
        });
        for r in runs {
            r.await.unwrap().unwrap();
        }
        assert_eq!(live(&db, 900502).await.len(), 1, "exactly one");
        sqlx::query("UPDATE jobs SET finished_at = 1 WHERE kind = 'pull_request'").execute(db.pool()).await.unwrap();

        // Forks: none unless the app allows them; drafts as configured.
        pull_requests::receive(
            &state,
            delivery("f-1", opened(900503, "opened", "2026-12-07T12:00:00Z", &[], "mallory/checkout-web")),
        )
        .await
        .unwrap();
        run_jobs(&state).await;
        assert!(previews(&db, 900503).await.is_empty(), "no preview for a fork");
        set_policy(&db, serde_json::json!({ "repository": "acme/checkout-web", "forks": true, "drafts": "skip" }))
            .await;
        pull_requests::receive(
            &state,
            delivery("f-2", opened(900503, "synchronize", "2026-12-07T12:00:01Z", &[], "mallory/checkout-web")),
        )
        .await
        .unwrap();
        run_jobs(&state).await;
        assert_eq!(live(&db, 900503).await.len(), 1, "allowed forks get one");
        let fork: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM environments e WHERE e.pr_number = 900503")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(fork, 1);
        let env_id: String = sqlx::query_scalar("SELECT id FROM environments WHERE pr_number = 900503")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert!(store::webhooks::env_is_from_fork(db.pool(), &env_id).await.unwrap(), "marked untrusted: no secrets");
        pull_requests::receive(
            &state,
            delivery("dr-1", opened(900504, "converted_to_draft", "2026-12-07T12:00:00Z", &[], "acme/checkout-web")),
        )
        .await
        .unwrap();
        run_jobs(&state).await;
        assert!(previews(&db, 900504).await.is_empty(), "drafts: skip");
        set_policy(&db, serde_json::json!({ "repository": "acme/checkout-web", "drafts": "pool-only" })).await;
        pull_requests::receive(
            &state,
            delivery("dr-2", opened(900504, "converted_to_draft", "2026-12-07T12:00:01Z", &[], "acme/checkout-web")),
        )
        .await
        .unwrap();
        run_jobs(&state).await;
        assert!(previews(&db, 900504).await.is_empty(), "pool-only with an empty pool: none");
        let outcome: String = sqlx::query_scalar("SELECT outcome FROM webhook_deliveries WHERE delivery_id = 'dr-2'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert!(outcome.contains("no warm"), "{outcome}");

        // Every good delivery is audited; the service account made the previews.
        let audited: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'pull_request.delivery'")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(audited, 19);
        let owner: String = sqlx::query_scalar(
            "SELECT u.login FROM environments e JOIN users u ON u.id = e.owner_id WHERE e.pr_number = 900502",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(owner, "github-pull-requests");

        // Ready: the team's Slack hears it with the pull request's title and page.
        let bob = viewer(&db, "bob").await;
        let bob_meta = RequestMeta { viewer: Some(bob), ..Default::default() };
        app::ssr::channels::add(&state, &bob_meta, "payments", "slack", "https://hooks.example/T/B/x").await.unwrap();
        let id: String = sqlx::query_scalar("SELECT id FROM environments WHERE pr_number = 900502")
            .fetch_one(db.pool())
            .await
            .unwrap();
        let tiers = &state.settings.tiers;
        environments::system_event(&db, tiers, &id, Event::Provisioned, "environment.provisioned").await.unwrap();
        environments::system_event(&db, tiers, &id, Event::DeployHealthy, "environment.healthy").await.unwrap();
        let sent: String = sqlx::query_scalar("SELECT message FROM deliveries WHERE event = 'environment.ready'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert!(
            sent.contains("#900502 Faster checkout")
                && sent.contains("https://github.com/acme/checkout-web/pull/900502"),
            "{sent}"
        );

        // Reports to the pull requests: one row each, the newest wanted;
        // claimed once under a lease, retried when sending failed.
        let webhooks = &store::webhooks::reports(db.pool(), None, 100).await.unwrap();
        let numbers: std::collections::BTreeSet<i64> = webhooks.iter().map(|r| r.number).collect();
        assert_eq!(numbers.into_iter().collect::<Vec<_>>(), vec![900501, 900502, 900503]);
        let ready: pull_requests::WantedReport =
            serde_json::from_str(&webhooks.iter().find(|r| r.number == 900502).unwrap().report).unwrap();
        assert_eq!(ready.state, app::domain::pull_request::ReportState::Ready);
        let now = app::ssr::clock::now_ms();
        let mut claimed = vec![];
        while let Some(due) = store::webhooks::claim_report(db.pool(), "w1", now, now + 30_000).await.unwrap() {
            claimed.push(due);
        }
        assert_eq!(claimed.len(), 3);
        assert!(store::webhooks::claim_report(db.pool(), "w2", now, now + 30_000).await.unwrap().is_none(), "leased");
        store::webhooks::report_failed(db.pool(), &claimed[0], "w1", "the API answered 502", Some(now + 60_000))
            .await
            .unwrap();
        for due in &claimed[1..] {
            assert!(store::webhooks::report_sent(db.pool(), due, "w1", Some("42"), now).await.unwrap());
            assert!(!store::webhooks::report_sent(db.pool(), due, "w2", None, now).await.unwrap(), "not its lease");
        }
        assert!(store::webhooks::claim_report(db.pool(), "w2", now + 1_000, now + 31_000).await.unwrap().is_none());
        let retried =
            store::webhooks::claim_report(db.pool(), "w2", now + 60_000, now + 90_000).await.unwrap().unwrap();
        assert_eq!((retried.number, retried.attempts), (claimed[0].number, 2));

        // A head that does not deploy: the pull request's status on that
        // commit says so, with why; the preview serves what it served.
        // (This test's app has no repository: the deployment is recorded as
        // the reconciler would have started it.)
        let pushed = "feedfacefeedfacefeedfacefeedfacefeedface";
        let started = store::deployments::Deployment {
            id: app::ssr::clock::new_id(),
            environment_id: id.clone(),
            commit_sha: pushed.into(),
            git_ref: None,
            previous_commit: None,
            previous_ref: None,
            strategy: "recreate".into(),
            requested_by: None,
            state: "deploying".into(),
            reason: None,
            created_at: now,
            started_at: Some(now),
            ready_at: None,
            finished_at: None,
            rollback_until: None,
        };
        store::deployments::insert(db.pool(), &started).await.unwrap();
        app::ssr::deployments::finish(&db, &started, Err("the build failed".into())).await.unwrap();
        let report: String = sqlx::query_scalar("SELECT report FROM pull_request_reports WHERE number = 900502")
            .fetch_one(db.pool())
            .await
            .unwrap();
        let failed: pull_requests::WantedReport = serde_json::from_str(&report).unwrap();
        assert_eq!(failed.state, app::domain::pull_request::ReportState::Failed);
        assert_eq!(failed.head_sha, pushed);
        assert!(
            failed.reason.as_deref().unwrap_or_default().contains("did not deploy (the build failed)"),
            "{failed:?}"
        );
    });
}
