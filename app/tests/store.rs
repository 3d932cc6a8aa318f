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
    assert_eq!(total as usize, DemoPlan::build(NOW).environments.len());
    assert_eq!(counts.len(), 7, "every state present: {counts:?}");
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
