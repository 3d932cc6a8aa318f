pub mod app_shell;
pub mod badges;
pub mod clock;
pub mod inbox;
pub mod live;
pub mod share_links;
