//! App blueprints: how an environment of an app is made — the driver, the
//! command it runs, where its readiness probe looks, the template its
//! database is cloned from, and the priced resources it holds. Stored as
//! JSON on the app; parsed and validated here so a bad blueprint is refused
//! with the field named instead of failing deep inside a driver.

use super::money::Micros;
use super::price::default_resources;
use super::tier::Tier;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blueprint {
    /// Only the embedded `local` driver exists today.
    #[serde(default = "local")]
    pub driver: String,
    /// Program and arguments, split on whitespace; `eod` means this binary.
    #[serde(default = "sample_app")]
    pub command: String,
    #[serde(default = "healthz")]
    pub health_path: String,
    /// Name of the template database cloned for each environment (default: the app's slug).
    #[serde(default)]
    pub template: Option<String>,
    /// Priced resources; absent means the tier's defaults from the price book.
    #[serde(default)]
    pub resources: Option<Vec<ResourceRate>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceRate {
    pub kind: String,
    pub hourly_rate_micros: i64,
}

fn local() -> String {
    "local".into()
}
fn sample_app() -> String {
    "eod sample-app".into()
}
fn healthz() -> String {
    "/healthz".into()
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlueprintError {
    #[error("the blueprint is not valid JSON of the expected shape: {0}")]
    Shape(String),
    #[error("blueprint {field}: {reason}")]
    Invalid { field: &'static str, reason: &'static str },
}

fn is_slug(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Default for Blueprint {
    fn default() -> Self {
        Blueprint { driver: local(), command: sample_app(), health_path: healthz(), template: None, resources: None }
    }
}

impl Blueprint {
    pub fn parse(json: &str) -> Result<Blueprint, BlueprintError> {
        let bp: Blueprint = serde_json::from_str(json).map_err(|e| BlueprintError::Shape(e.to_string()))?;
        bp.validate()?;
        Ok(bp)
    }

    pub fn validate(&self) -> Result<(), BlueprintError> {
        let err = |field, reason| Err(BlueprintError::Invalid { field, reason });
        if self.driver != "local" {
            return err("driver", "the only driver is \"local\"");
        }
        if self.command.split_whitespace().next().is_none() {
            return err("command", "give a program to run");
        }
        if !self.health_path.starts_with('/') || self.health_path.chars().any(char::is_whitespace) {
            return err("health_path", "a path starting with /");
        }
        if self.template.as_deref().is_some_and(|t| !is_slug(t)) {
            return err("template", "lowercase letters, digits and -, at most 40");
        }
        if let Some(resources) = &self.resources {
            if resources.is_empty() {
                return err("resources", "list at least one resource, or leave it out for the tier's defaults");
            }
            for (i, r) in resources.iter().enumerate() {
                if !is_slug(&r.kind) {
                    return err("resources.kind", "lowercase letters, digits and -, at most 40");
                }
                if r.hourly_rate_micros < 0 {
                    return err("resources.hourly_rate_micros", "must not be negative");
                }
                if resources[..i].iter().any(|o| o.kind == r.kind) {
                    return err("resources.kind", "each kind once");
                }
            }
        }
        Ok(())
    }

    /// Program and arguments.
    pub fn argv(&self) -> Vec<String> {
        self.command.split_whitespace().map(str::to_string).collect()
    }

    /// The priced resources an environment of this app holds on `tier`.
    pub fn resources_for(&self, tier: Tier) -> Vec<(String, Micros)> {
        match &self.resources {
            Some(list) => list.iter().map(|r| (r.kind.clone(), Micros(r.hourly_rate_micros))).collect(),
            None => default_resources(tier).iter().map(|r| (r.kind.to_string(), r.hourly_rate)).collect(),
        }
    }

    /// The hourly rate of the whole environment.
    pub fn hourly_rate(&self, tier: Tier) -> Micros {
        self.resources_for(tier).into_iter().map(|(_, rate)| rate).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_blueprint_runs_the_sample_app_at_the_tier_rates() {
        let bp = Blueprint::parse("{}").unwrap();
        assert_eq!(bp, Blueprint::default());
        assert_eq!(bp.argv(), ["eod", "sample-app"]);
        assert_eq!(bp.hourly_rate(Tier::PreviewFull), crate::domain::price::default_hourly_rate(Tier::PreviewFull));
    }

    #[test]
    fn own_resources_replace_the_defaults() {
        let bp = Blueprint::parse(r#"{"resources":[{"kind":"compute","hourly_rate_micros":70000},{"kind":"gpu","hourly_rate_micros":900000}]}"#).unwrap();
        assert_eq!(bp.hourly_rate(Tier::PreviewLightweight), Micros(970_000));
        assert_eq!(bp.resources_for(Tier::Staging).len(), 2);
    }

    #[test]
    fn bad_blueprints_name_the_field() {
        let cases = [
            (r#"{"driver":"k8s"}"#, "driver"),
            (r#"{"command":"  "}"#, "command"),
            (r#"{"health_path":"healthz"}"#, "health_path"),
            (r#"{"template":"../etc"}"#, "template"),
            (r#"{"resources":[]}"#, "resources"),
            (r#"{"resources":[{"kind":"cpu","hourly_rate_micros":-1}]}"#, "resources.hourly_rate_micros"),
            (
                r#"{"resources":[{"kind":"cpu","hourly_rate_micros":1},{"kind":"cpu","hourly_rate_micros":2}]}"#,
                "resources.kind",
            ),
        ];
        for (json, field) in cases {
            match Blueprint::parse(json) {
                Err(BlueprintError::Invalid { field: f, .. }) => assert_eq!(f, field, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
        assert!(matches!(Blueprint::parse(r#"{"cmd":"x"}"#), Err(BlueprintError::Shape(_))));
    }
}
