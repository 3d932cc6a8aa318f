pub mod environments;
pub mod not_found;
pub mod sign_in;
