//! A connector's description: title, icon and parameters, from which a UI or CLI is generated.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// What a connector exports so that a UI or CLI can ask for its parameters (the original's
/// `CONFIG`). Serializes to JSON as `{"title", "icon", "params": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Human-readable title.
    pub title: String,
    /// An icon, e.g. a data URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// The parameters the source needs.
    #[serde(default)]
    pub params: Vec<Param>,
}

/// The type of a parameter's value, telling a UI which control to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ParamType {
    /// Free text (the default).
    #[default]
    Text,
    /// A secret: shown masked, never logged.
    Password,
    /// A number.
    Number,
    /// A yes/no switch.
    Boolean,
    /// One of `values`.
    List,
    /// A date (`YYYY-MM-DD`).
    Date,
}

/// One allowed value of a [`ParamType::List`] parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamValue {
    /// The value stored in the source parameters.
    pub value: String,
    /// What the UI shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// One input of a connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    /// Key in the source parameters.
    pub name: String,
    /// Label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Example shown in an empty field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// Longer help text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Whether a value must be given.
    #[serde(default)]
    pub required: bool,
    /// Kind of value.
    #[serde(rename = "type", default)]
    pub kind: ParamType,
    /// Allowed values (for lists).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<ParamValue>,
}

impl Param {
    /// A required-less text parameter named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            title: None,
            placeholder: None,
            help: None,
            required: false,
            kind: ParamType::Text,
            values: Vec::new(),
        }
    }

    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets the placeholder.
    pub fn placeholder(mut self, placeholder: impl Into<String>) -> Self {
        self.placeholder = Some(placeholder.into());
        self
    }

    /// Sets the help text.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Marks the parameter required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Sets the type.
    pub fn kind(mut self, kind: ParamType) -> Self {
        self.kind = kind;
        self
    }

    /// Adds an allowed value.
    pub fn value(mut self, value: impl Into<String>, title: impl Into<String>) -> Self {
        self.values.push(ParamValue {
            value: value.into(),
            title: Some(title.into()),
        });
        self
    }
}

impl Config {
    /// A description with a title and no parameters.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            icon: None,
            params: Vec::new(),
        }
    }

    /// Adds a parameter.
    pub fn param(mut self, param: Param) -> Self {
        self.params.push(param);
        self
    }

    /// The JSON text a UI or CLI reads.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Checks source parameters against this description: required ones present and non-empty,
    /// numbers and booleans of the right JSON type, list values among the allowed ones.
    pub fn validate(&self, params: &serde_json::Map<String, serde_json::Value>) -> Result<()> {
        use serde_json::Value;
        for p in &self.params {
            let value = params.get(&p.name);
            let missing = match value {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(_) => false,
            };
            if missing {
                if p.required {
                    return Err(Error::InvalidInput(format!(
                        "parameter {:?} is required",
                        p.name
                    )));
                }
                continue;
            }
            let ok = match (p.kind, value) {
                (ParamType::Number, Some(v)) => {
                    v.is_number() || v.as_str().is_some_and(|s| s.parse::<f64>().is_ok())
                }
                (ParamType::Boolean, Some(v)) => v.is_boolean(),
                (ParamType::List, Some(Value::String(s))) if !p.values.is_empty() => {
                    p.values.iter().any(|allowed| &allowed.value == s)
                }
                _ => true,
            };
            if !ok {
                return Err(Error::InvalidInput(format!(
                    "parameter {:?} does not hold a valid {:?} value",
                    p.name, p.kind
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_like_the_original_config() {
        let c = Config::new("My Data Source")
            .param(
                Param::new("user")
                    .title("User name")
                    .placeholder("Example: myuser1234")
                    .required(),
            )
            .param(Param::new("database").help("Host name or IP address"));
        let v: serde_json::Value = serde_json::from_str(&c.to_json().unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"title": "My Data Source", "params": [
                {"name": "user", "title": "User name", "placeholder": "Example: myuser1234",
                 "required": true, "type": "text"},
                {"name": "database", "help": "Host name or IP address", "required": false,
                 "type": "text"}
            ]})
        );
        let back: Config = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn validates_params() {
        let c = Config::new("x")
            .param(Param::new("user").required())
            .param(Param::new("n").kind(ParamType::Number))
            .param(Param::new("mode").kind(ParamType::List).value("a", "A"));
        let ok = json!({"user": "u", "n": 3, "mode": "a"});
        assert!(c.validate(ok.as_object().unwrap()).is_ok());
        for bad in [
            json!({"user": ""}),
            json!({"user": "u", "n": "x"}),
            json!({"user": "u", "mode": "b"}),
        ] {
            assert!(matches!(
                c.validate(bad.as_object().unwrap()),
                Err(Error::InvalidInput(_))
            ));
        }
    }
}
