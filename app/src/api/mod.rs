//! Server functions by area. Each one authorizes on the server, calls the
//! store or a service, and returns a DTO shared with the browser.

pub mod approvals;
pub mod apps;
pub mod audit;
pub mod channels;
pub mod costs;
pub mod environments;
pub mod insights;
pub mod live;
pub mod notifications;
pub mod policies;
pub mod session;
pub mod share_links;
pub mod teams;
pub mod tokens;
pub mod webhooks;
