//! Where an environment is reached: `<scheme>://<name>.<domain>[:port]/`,
//! routed by host through the portal's own proxy.

/// How preview URLs are formed for this installation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PreviewUrlBase {
    pub scheme: String,
    pub domain: String,
    pub port: Option<u16>,
}

impl PreviewUrlBase {
    pub fn url_for(&self, env_name: &str) -> String {
        match self.port {
            Some(p) => format!("{}://{}.{}:{}/", self.scheme, env_name, self.domain, p),
            None => format!("{}://{}.{}/", self.scheme, env_name, self.domain),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_previews_live_under_localhost_with_the_portal_port() {
        let base = PreviewUrlBase { scheme: "http".into(), domain: "localhost".into(), port: Some(3000) };
        assert_eq!(base.url_for("checkout-web-pr-12"), "http://checkout-web-pr-12.localhost:3000/");
    }

    #[test]
    fn default_ports_are_left_out() {
        let base = PreviewUrlBase { scheme: "https".into(), domain: "preview.example.com".into(), port: None };
        assert_eq!(base.url_for("a"), "https://a.preview.example.com/");
    }
}
