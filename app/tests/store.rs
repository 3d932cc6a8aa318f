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
    assert_eq!(demo_users.len(), 6);
});

on_both_engines!(audit_events_are_appended_and_read_back, |db: Db| async move {
    demo::seed(&db, NOW).await.unwrap();
    let meta = RequestMeta {
        viewer: Some(viewer(&db, "alice").await),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
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
        RequestMeta { viewer: Some(v.clone()), ip: Some("127.0.0.1".into()), user_agent: Some("test".into()) }
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

    fn state(db: &Db, size: u32) -> AppState {
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
    async fn provision_pool(db: &Db, started: i64) {
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

    fn new_preview(branch: &str) -> NewEnvironment {
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
        let meta = RequestMeta { viewer: Some(alice.clone()), ip: None, user_agent: None };
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
        let at_claim = pools::idle_cost(&db, claimed).await.unwrap();
        let hour_later = pools::idle_cost(&db, later).await.unwrap();
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
        let meta = RequestMeta { viewer: Some(alice), ip: None, user_agent: None };
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
        let meta = RequestMeta { viewer: Some(alice), ip: None, user_agent: None };
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
        let (rows, total) =
            store::environments::list_page(db.pool(), &erin, &q(&[("state", "destroyed")])).await.unwrap();
        assert!(total > PAGE_SIZE, "{total}");
        assert_eq!(rows.len() as i64, PAGE_SIZE);
        assert!(rows.iter().all(|r| r.state == "destroyed"));
        let (page2, _) = store::environments::list_page(db.pool(), &erin, &q(&[("state", "destroyed"), ("page", "1")]))
            .await
            .unwrap();
        assert!(page2.iter().all(|r| rows.iter().all(|p| p.id != r.id)), "pages do not overlap");

        let (rows, _) =
            store::environments::list_page(db.pool(), &erin, &q(&[("team", "search"), ("q", "PR-")])).await.unwrap();
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|r| r.team_slug == "search" && r.name.contains("pr-") && r.state != "destroyed"));
        let (none, total) = store::environments::list_page(db.pool(), &erin, &q(&[("q", "%")])).await.unwrap();
        assert_eq!((none.len(), total), (0, 0), "a % in the search is a literal, not a wildcard");

        let (by_expiry, _) = store::environments::list_page(db.pool(), &erin, &q(&[("sort", "expiry")])).await.unwrap();
        let expiries: Vec<i64> = by_expiry.iter().filter_map(|r| r.expires_at).collect();
        assert!(expiries.windows(2).all(|w| w[0] <= w[1]), "soonest first");

        // Members see only their teams whatever they filter by.
        let alice = viewer(&db, "alice").await;
        let (rows, _) = store::environments::list_page(db.pool(), &alice, &q(&[("team", "search")])).await.unwrap();
        assert!(rows.is_empty());
    });
}
