//! Background loops, each readable top to bottom: the reconciler (jobs →
//! drivers), the scheduler (lifecycle timers) and the orphan sweep, and the
//! outbox (notifications to teams' channels) and the mailer (e-mail to people).

pub mod health;
pub mod mailer;
pub mod outbox;
pub mod pr_reports;
pub mod reconciler;
pub mod scheduler;
