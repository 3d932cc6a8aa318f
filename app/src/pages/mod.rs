pub mod audit;
pub mod environment;
pub mod environments;
pub mod not_found;
pub mod sign_in;
pub mod teams;
pub mod tokens;
