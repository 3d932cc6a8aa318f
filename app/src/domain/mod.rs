//! Pure domain: no IO, no async, no clock. Time is always a parameter
//! (UTC epoch milliseconds) so every rule runs the same on the server and in
//! the browser.

pub mod access;
pub mod admission;
pub mod approval;
pub mod authz;
pub mod blueprint;
pub mod budget;
pub mod chargeback;
pub mod compliance;
pub mod cost;
pub mod deployment;
pub mod expiry;
pub mod export;
pub mod feed;
pub mod health;
pub mod lifecycle;
pub mod listing;
pub mod maturity;
pub mod measure;
pub mod money;
pub mod naming;
pub mod notification;
pub mod pool;
pub mod preview_access;
pub mod preview_url;
pub mod price;
pub mod pull_request;
pub mod repository;
pub mod roi;
pub mod tier;
pub mod time;
pub mod token;
