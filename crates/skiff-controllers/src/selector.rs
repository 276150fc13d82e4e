//! Label selectors compiled once and matched against typed label maps, with
//! apimachinery's semantics (parsed and checked by `skiff_api::selector`): a null
//! selector matches nothing, an empty one everything; NotIn and != match a missing key.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use skiff_api::selector::{self as sel, Operator};

#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    requirements: Vec<(String, Operator, Vec<String>)>,
    nothing: bool,
}

impl Selector {
    fn from_parsed(s: &sel::LabelSelector) -> Selector {
        Selector {
            requirements: s.requirements().iter().map(|r| (r.key().to_string(), r.operator(), r.values().to_vec())).collect(),
            nothing: s.is_nothing(),
        }
    }

    /// metav1.LabelSelectorAsSelector.
    pub fn from_label_selector(s: Option<&LabelSelector>) -> Result<Selector, String> {
        let json = serde_json::to_value(s).map_err(|e| e.to_string())?;
        sel::LabelSelector::from_json(&json).map(|s| Selector::from_parsed(&s)).map_err(|e| e.0)
    }

    /// labels.SelectorFromSet (ReplicationController and Service selectors).
    pub fn from_map(m: &BTreeMap<String, String>) -> Selector {
        Selector { requirements: m.iter().map(|(k, v)| (k.clone(), Operator::Equals, vec![v.clone()])).collect(), nothing: false }
    }

    pub fn nothing() -> Selector {
        Selector { requirements: Vec::new(), nothing: true }
    }

    pub fn is_everything(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.nothing
            && self.requirements.iter().all(|(key, op, values)| {
                let got = labels.get(key);
                match op {
                    Operator::In | Operator::Equals | Operator::DoubleEquals => got.is_some_and(|v| values.contains(v)),
                    Operator::NotIn | Operator::NotEquals => got.is_none_or(|v| !values.contains(v)),
                    Operator::Exists => got.is_some(),
                    Operator::DoesNotExist => got.is_none(),
                    Operator::GreaterThan | Operator::LessThan => {
                        let (Some(have), [want]) = (got.and_then(|v| v.parse::<i64>().ok()), values.as_slice()) else { return false };
                        let Ok(want) = want.parse::<i64>() else { return false };
                        if *op == Operator::GreaterThan {
                            have > want
                        } else {
                            have < want
                        }
                    }
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: if values.is_empty() { None } else { Some(values.iter().map(|s| s.to_string()).collect()) },
        }
    }

    #[test]
    fn match_expressions_of_the_seeds() {
        // env=production and env=dev1 at once; a key whatever its value; absent keys.
        let s = LabelSelector {
            match_labels: Some(labels(&[("app", "crane")])),
            match_expressions: Some(vec![
                expr("env", "In", &["production", "dev1"]),
                expr("tier", "NotIn", &["db"]),
                expr("team", "Exists", &[]),
                expr("canary", "DoesNotExist", &[]),
            ]),
        };
        let s = Selector::from_label_selector(Some(&s)).unwrap();
        assert!(s.matches(&labels(&[("app", "crane"), ("env", "dev1"), ("team", "a")])));
        assert!(s.matches(&labels(&[("app", "crane"), ("env", "production"), ("team", "b"), ("tier", "web")])));
        assert!(!s.matches(&labels(&[("app", "crane"), ("env", "staging"), ("team", "a")])));
        assert!(!s.matches(&labels(&[("app", "crane"), ("env", "dev1"), ("team", "a"), ("tier", "db")])));
        assert!(!s.matches(&labels(&[("app", "crane"), ("env", "dev1")])));
        assert!(!s.matches(&labels(&[("app", "crane"), ("env", "dev1"), ("team", "a"), ("canary", "1")])));
    }

    #[test]
    fn null_empty_and_bad() {
        assert!(!Selector::from_label_selector(None).unwrap().matches(&labels(&[])));
        let everything = Selector::from_label_selector(Some(&LabelSelector::default())).unwrap();
        assert!(everything.is_everything() && everything.matches(&labels(&[("a", "b")])));
        let bad = LabelSelector { match_expressions: Some(vec![expr("a", "Maybe", &[])]), ..Default::default() };
        assert!(Selector::from_label_selector(Some(&bad)).is_err());
        assert!(Selector::from_map(&labels(&[("app", "web")])).matches(&labels(&[("app", "web"), ("x", "y")])));
    }
}
