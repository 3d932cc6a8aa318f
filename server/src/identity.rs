//! Identity providers from the config file's `[[provider]]` tables: GitHub
//! (OAuth 2.0), GitLab and any OpenID Connect provider (discovery). Secrets
//! never appear in Debug output or logs.

use app::ssr::accounts::GroupGrant;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Oidc,
    Github,
    Gitlab,
}

/// A provider as written in the config file.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    pub id: String,
    pub kind: ProviderKind,
    pub label: Option<String>,
    pub issuer: Option<String>,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// Name of an environment variable holding the client secret.
    pub client_secret_env: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The ID-token claim listing the user's groups (default `groups`).
    pub groups_claim: Option<String>,
    /// Group → `<team>:<role>` or `platform-admin`.
    #[serde(default)]
    pub groups: BTreeMap<String, String>,
    /// How long a started sign-in stays valid (seconds, at most 600).
    pub attempt_ttl_seconds: Option<u64>,
}

/// A validated provider.
#[derive(Clone)]
pub struct Provider {
    pub id: String,
    pub kind: ProviderKind,
    pub label: String,
    /// For OIDC kinds: the exact issuer the discovery document and ID tokens must name.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub groups_claim: String,
    pub groups: BTreeMap<String, GroupGrant>,
    pub attempt_ttl_ms: i64,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<hidden>")
            .finish()
    }
}

impl ProviderFile {
    /// Validates one `[[provider]]` table; errors name the field.
    pub fn validate(self, env: &BTreeMap<String, String>) -> Result<Provider, String> {
        let id = self.id.clone();
        let err = |field: &str, msg: &str| format!("provider {id:?}: {field}: {msg}");
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(err("id", "expected lowercase letters, digits and dashes (it appears in /auth/<id>/callback)"));
        }
        if id == "demo" || id == "logout" {
            return Err(err("id", "is reserved"));
        }
        let issuer = match (self.kind, self.issuer) {
            (ProviderKind::Github, _) => "https://github.com".to_string(),
            (ProviderKind::Gitlab, None) => "https://gitlab.com".to_string(),
            (_, Some(i)) if i.starts_with("https://") || i.starts_with("http://") => i,
            (ProviderKind::Oidc, None) => return Err(err("issuer", "required for kind = \"oidc\"")),
            (_, Some(_)) => return Err(err("issuer", "expected an http(s) URL")),
        };
        let client_secret = match (self.client_secret, self.client_secret_env) {
            (Some(s), None) => s,
            (None, Some(var)) => env
                .get(&var)
                .cloned()
                .ok_or_else(|| err("client_secret_env", &format!("environment variable {var} is not set")))?,
            (Some(_), Some(_)) => return Err(err("client_secret", "set client_secret or client_secret_env, not both")),
            (None, None) => return Err(err("client_secret", "required (or client_secret_env)")),
        };
        let scopes = if self.scopes.is_empty() {
            match self.kind {
                ProviderKind::Github => vec!["read:user".into(), "user:email".into()],
                _ => vec!["openid".into(), "profile".into(), "email".into()],
            }
        } else {
            self.scopes
        };
        let mut groups = BTreeMap::new();
        for (group, grant) in self.groups {
            let parsed = grant.parse::<GroupGrant>().map_err(|e| err(&format!("groups.{group}"), &e))?;
            groups.insert(group, parsed);
        }
        let ttl = self.attempt_ttl_seconds.unwrap_or(600);
        if !(1..=600).contains(&ttl) {
            return Err(err("attempt_ttl_seconds", "expected 1 to 600"));
        }
        let label = self.label.unwrap_or_else(|| match self.kind {
            ProviderKind::Github => "GitHub".into(),
            ProviderKind::Gitlab => "GitLab".into(),
            ProviderKind::Oidc => id.clone(),
        });
        Ok(Provider {
            id,
            kind: self.kind,
            label,
            issuer,
            client_id: self.client_id,
            client_secret,
            scopes,
            groups_claim: self.groups_claim.unwrap_or_else(|| "groups".into()),
            groups,
            attempt_ttl_ms: ttl as i64 * 1000,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(kind: ProviderKind) -> ProviderFile {
        ProviderFile {
            id: "corp".into(),
            kind,
            label: None,
            issuer: Some("https://idp.example.com".into()),
            client_id: "eod".into(),
            client_secret: Some("s3cret".into()),
            client_secret_env: None,
            scopes: vec![],
            groups_claim: None,
            groups: BTreeMap::from([("eng".to_string(), "payments:developer".to_string())]),
            attempt_ttl_seconds: None,
        }
    }

    #[test]
    fn a_valid_oidc_provider_gets_defaults() {
        let p = file(ProviderKind::Oidc).validate(&BTreeMap::new()).unwrap();
        assert_eq!(p.scopes, vec!["openid", "profile", "email"]);
        assert_eq!(p.attempt_ttl_ms, 600_000);
        assert!(!format!("{p:?}").contains("s3cret"));
    }

    #[test]
    fn errors_name_the_field() {
        let mut f = file(ProviderKind::Oidc);
        f.issuer = None;
        assert!(f.validate(&BTreeMap::new()).unwrap_err().contains("issuer"));
        let mut f = file(ProviderKind::Oidc);
        f.groups.insert("x".into(), "nope".into());
        assert!(f.validate(&BTreeMap::new()).unwrap_err().contains("groups.x"));
        let mut f = file(ProviderKind::Oidc);
        f.client_secret = None;
        f.client_secret_env = Some("EOD_MISSING".into());
        assert!(f.validate(&BTreeMap::new()).unwrap_err().contains("EOD_MISSING"));
    }

    #[test]
    fn github_has_a_fixed_issuer() {
        let p = file(ProviderKind::Github).validate(&BTreeMap::new()).unwrap();
        assert_eq!(p.issuer, "https://github.com");
    }
}
