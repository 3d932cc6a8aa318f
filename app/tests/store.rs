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
