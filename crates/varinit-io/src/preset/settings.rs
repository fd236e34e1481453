//! `key=value` settings and Hugging Face config objects, applied to an
//! architecture struct as a *typed merge*: the struct's defaults are
//! serialized to a JSON object, each setting is converted to the JSON type
//! of the field it targets (integer, number, boolean or string; a `null`
//! default is an optional integer), the object is merged over the defaults
//! and deserialized with serde. An unknown key gets a "did you mean".

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::{IoError, Result};

/// The settings given to a preset or a config, checked against the keys
/// it takes.
pub(super) struct Settings<'a> {
    pairs: Vec<(&'a str, &'a str)>,
    context: String,
}

impl<'a> Settings<'a> {
    /// Split `key=value` pairs and check each key against `valid`.
    /// `context` names what takes them (`preset llama`, `a config`).
    pub(super) fn new(context: &str, sets: &'a [String], valid: &[&str]) -> Result<Self> {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for s in sets {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| IoError::Usage(format!("setting {s:?}: write key=value, e.g. num_hidden_layers=4")))?;
            let k = k.trim();
            if !valid.contains(&k) {
                return Err(IoError::Usage(format!(
                    "{context} has no setting {k:?}{}; it takes: {}",
                    varinit::suggest::did_you_mean(varinit::suggest::closest(k, valid.iter().copied()).as_deref()),
                    valid.join(", ")
                )));
            }
            if pairs.iter().any(|(p, _)| *p == k) {
                return Err(IoError::Usage(format!("setting {k} given twice")));
            }
            pairs.push((k, v.trim()));
        }
        Ok(Settings { pairs, context: context.to_string() })
    }

    /// The text of one setting.
    pub(super) fn raw(&self, key: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// A boolean setting (`true`/`1`/`yes`, `false`/`0`/`no`).
    pub(super) fn boolean(&self, key: &str, default: bool) -> Result<bool> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| self.bad(key, v, "expected true or false")),
        }
    }

    /// The settings in the order given, for the spec's `source`.
    pub(super) fn describe(&self) -> String {
        self.pairs.iter().map(|(k, v)| format!(" {k}={v}")).collect()
    }

    /// [`Settings::describe`] without `key`.
    pub(super) fn describe_without(&self, key: &str) -> String {
        self.pairs.iter().filter(|(k, _)| *k != key).map(|(k, v)| format!(" {k}={v}")).collect()
    }

    fn bad(&self, key: &str, v: &str, what: &str) -> IoError {
        IoError::Usage(format!("{} setting {key}={v:?}: {what}", self.context))
    }

    /// `base` (an object, e.g. a named size over the defaults) with every
    /// setting that names one of its fields converted to that field's type
    /// and merged over it, deserialized into `T`.
    pub(super) fn merge<T: DeserializeOwned>(&self, mut base: Map<String, Value>) -> Result<T> {
        let mut given = Vec::new();
        for &(k, v) in &self.pairs {
            let Some(target) = base.get(k) else { continue };
            let typed = match target {
                Value::Bool(_) => Value::Bool(parse_bool(v).ok_or_else(|| self.bad(k, v, "expected true or false"))?),
                Value::Number(n) if n.is_f64() => {
                    let x = varinit::scheme::parse_number(v).ok_or_else(|| self.bad(k, v, "expected a number"))?;
                    serde_json::Number::from_f64(x)
                        .map(Value::Number)
                        .ok_or_else(|| self.bad(k, v, "expected a finite number"))?
                }
                Value::Number(_) | Value::Null => Value::from(
                    v.replace('_', "").parse::<u64>().map_err(|_| self.bad(k, v, "expected a non-negative integer"))?,
                ),
                _ => Value::String(v.to_string()),
            };
            base.insert(k.to_string(), typed);
            given.push(k);
        }
        deserialize_named(base, &given, &self.context)
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// `value` serialized as a JSON object (an architecture's defaults).
pub(super) fn object_of<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(m)) => m,
        // architecture structs are plain structs of numbers and booleans
        _ => Map::new(),
    }
}

/// The keys of an architecture's defaults, for the list of settings.
pub(super) fn keys_of(defaults: &Map<String, Value>) -> Vec<&str> {
    defaults.keys().map(String::as_str).collect()
}

/// A config object read as `T`: the fields `T` has are taken from
/// `config` (after renaming `aliases`, e.g. `num_experts` to
/// `num_local_experts`) over `defaults`; other keys are left alone, a
/// `null` keeps the default. A value of the wrong type is an error that
/// names its field.
pub(super) fn from_config<T: DeserializeOwned + Serialize>(
    defaults: &T,
    config: &Map<String, Value>,
    aliases: &[(&str, &str)],
    context: &str,
) -> Result<T> {
    let mut base = object_of(defaults);
    let mut given = Vec::new();
    let keys: Vec<String> = base.keys().cloned().collect();
    for k in &keys {
        let v = config
            .get(k.as_str())
            .or_else(|| aliases.iter().find(|(_, to)| to == k).and_then(|(from, _)| config.get(*from)));
        if let Some(v) = v.filter(|v| !v.is_null()) {
            base.insert(k.clone(), v.clone());
            given.push(k.as_str());
        }
    }
    deserialize_named(base, &given, context)
}

/// Deserialize `merged`; on error, name the first of the `given` fields
/// that is wrong on its own (serde_json's value errors name no field).
fn deserialize_named<T: DeserializeOwned>(merged: Map<String, Value>, given: &[&str], context: &str) -> Result<T> {
    match serde_json::from_value::<T>(Value::Object(merged.clone())) {
        Ok(t) => Ok(t),
        Err(e) => {
            for k in given {
                if let Err(e) = serde_json::from_value::<T>(Value::Object(only(&merged, k))) {
                    let v = &merged[*k];
                    return Err(IoError::Usage(format!("{context}: {k} = {v}: {e}")));
                }
            }
            Err(IoError::Usage(format!("{context}: {e}")))
        }
    }
}

/// `merged` with every field but `key` dropped (serde's defaults fill them).
fn only(merged: &Map<String, Value>, key: &str) -> Map<String, Value> {
    merged.iter().filter(|(k, _)| *k == key).map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(default)]
    struct A {
        n: u64,
        x: f64,
        b: bool,
        o: Option<u64>,
    }
    impl Default for A {
        fn default() -> Self {
            A { n: 3, x: 0.5, b: false, o: None }
        }
    }

    fn sets(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn settings_are_typed_by_their_field() {
        let d = object_of(&A::default());
        let valid = keys_of(&d);
        let s = sets(&["n=1_000", "x=1/4", "b=yes", "o=7"]);
        let a: A = Settings::new("preset t", &s, &valid).unwrap().merge(d.clone()).unwrap();
        assert_eq!(a, A { n: 1000, x: 0.25, b: true, o: Some(7) });
        for (bad, want) in [
            ("n=1.5", "n=\"1.5\": expected a non-negative integer"),
            ("x=abc", "expected a number"),
            ("b=maybe", "expected true or false"),
            ("o=-1", "expected a non-negative integer"),
        ] {
            let s = sets(&[bad]);
            let e = Settings::new("preset t", &s, &valid).unwrap().merge::<A>(d.clone()).unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
        let s = sets(&["nn=1"]);
        let e = Settings::new("preset t", &s, &valid).err().unwrap().to_string();
        assert!(e.contains("no setting \"nn\"") && e.contains("did you mean \"n\""), "{e}");
        assert!(!e.contains("--"), "{e}");
        let s = sets(&["n=1", "n=2"]);
        assert!(Settings::new("preset t", &s, &valid).is_err());
    }

    #[test]
    fn config_fields_of_the_wrong_type_are_named() {
        let c: Map<String, Value> =
            serde_json::from_str(r#"{"n": 4, "other": "x", "o": null, "alias_b": true}"#).unwrap();
        let a: A = from_config(&A::default(), &c, &[("alias_b", "b")], "c.json").unwrap();
        assert_eq!(a, A { n: 4, x: 0.5, b: true, o: None });
        let c: Map<String, Value> = serde_json::from_str(r#"{"n": 4, "x": "big"}"#).unwrap();
        let e = from_config(&A::default(), &c, &[], "c.json").unwrap_err().to_string();
        assert!(e.starts_with("c.json: x = \"big\": invalid type"), "{e}");
    }
}
