pub mod app_shell;
pub mod badges;
