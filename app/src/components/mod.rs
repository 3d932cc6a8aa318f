pub mod app_shell;
pub mod badges;
pub mod live;
