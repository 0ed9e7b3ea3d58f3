//! Kafka Connect's config providers: secrets referenced from configs, resolved only where a
//! connector (or the worker) is about to use them.
//!
//! Declared as Connect declares them, in the worker properties (or, for `sluice run`, which has
//! no worker file, in the connector document itself):
//!
//! ```text
//! config.providers=file,env,dir
//! config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
//! config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
//! config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider
//! config.providers.dir.param.allowed.paths=/run/secrets
//! ```
//!
//! and referenced as `${file:/path/to/file.properties:key}` (a key of a Java properties file),
//! `${env:NAME}` (an environment variable) or `${dir:/path/to/dir:name}` (the whole content of
//! file `name` in that directory: a Kubernetes secret mounted as a volume).
//!
//! A placeholder is `${provider:[path:]key}`: the provider alias up to the first `:`, then, if
//! another `:` follows, the path up to it, and the key. As in Connect, a placeholder naming an
//! alias that is not declared is left as it is. Unlike Connect, which also leaves a placeholder
//! whose key the provider lacks, such a placeholder is an error naming the placeholder, the
//! path and the key: an unresolved secret would otherwise surface later as a confusing login
//! failure.
//!
//! Invariant: resolved values exist only in the config handed to the code that uses them. The
//! stored config (and so the REST API's `GET /connectors/{name}/config`) keeps the
//! placeholders, and no error message carries a resolved value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;

use crate::worker::config::parse_properties;

pub const FILE_CLASS: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
pub const ENV_CLASS: &str = "org.apache.kafka.common.config.provider.EnvVarConfigProvider";
pub const DIRECTORY_CLASS: &str = "org.apache.kafka.common.config.provider.DirectoryConfigProvider";

/// Why a config could not be resolved. Messages name placeholders, paths and keys, never values.
#[derive(Debug, thiserror::Error)]
pub enum ConfigProviderError {
    #[error("config.providers lists {alias:?} but config.providers.{alias}.class is not set (e.g. {FILE_CLASS})")]
    MissingClass { alias: String },
    #[error("config provider {alias:?}: class {class} is not supported by sluice (supported: FileConfigProvider, EnvVarConfigProvider, DirectoryConfigProvider; mount other secrets as files and use DirectoryConfigProvider)")]
    UnknownClass { alias: String, class: String },
    #[error("config.providers.{alias}.param.{param}={value:?} is not a valid {what}")]
    BadParam {
        alias: String,
        param: String,
        value: String,
        what: &'static str,
    },
    #[error("{placeholder} in property {property}: {message}")]
    Unresolved {
        placeholder: String,
        property: String,
        message: String,
    },
}

/// One declared provider.
#[derive(Debug, Clone)]
enum Provider {
    /// Keys of a Java properties file.
    File { allowed: Option<Vec<PathBuf>> },
    /// Files of a directory.
    Directory { allowed: Option<Vec<PathBuf>> },
    /// Environment variables (matching the allowlist pattern).
    Env { allow: Regex },
}

/// The providers declared in one set of properties.
#[derive(Debug, Clone, Default)]
pub struct ConfigProviders {
    providers: BTreeMap<String, Provider>,
}

fn placeholder_pattern() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    // provider, then optionally "path:", then the key; the same shape Connect reads
    RE.get_or_init(|| Regex::new(r"\$\{([^}]*?):(?:([^}]*?):)?([^}]*?)\}").expect("valid"))
}

impl ConfigProviders {
    /// Reads `config.providers` and `config.providers.<alias>.class|param.*` from `props`.
    pub fn from_props(
        props: &BTreeMap<String, String>,
    ) -> Result<ConfigProviders, ConfigProviderError> {
        let mut providers = BTreeMap::new();
        let Some(list) = props.get("config.providers") else {
            return Ok(ConfigProviders::default());
        };
        for alias in list.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            let key = |rest: &str| format!("config.providers.{alias}.{rest}");
            let param = |name: &str| props.get(&key(&format!("param.{name}"))).map(|v| v.trim());
            let class = props
                .get(&key("class"))
                .map(|c| c.trim())
                .filter(|c| !c.is_empty())
                .ok_or_else(|| ConfigProviderError::MissingClass {
                    alias: alias.to_string(),
                })?;
            let allowed = param("allowed.paths").filter(|v| !v.is_empty()).map(|v| {
                v.split(',')
                    .map(|p| PathBuf::from(p.trim()))
                    .collect::<Vec<_>>()
            });
            let provider = match class {
                FILE_CLASS => Provider::File { allowed },
                DIRECTORY_CLASS => Provider::Directory { allowed },
                ENV_CLASS => {
                    let pattern = param("allowlist.pattern").unwrap_or(".*");
                    let allow = Regex::new(&format!("^(?:{pattern})$")).map_err(|_| {
                        ConfigProviderError::BadParam {
                            alias: alias.to_string(),
                            param: "allowlist.pattern".into(),
                            value: pattern.to_string(),
                            what: "regular expression",
                        }
                    })?;
                    Provider::Env { allow }
                }
                other => {
                    return Err(ConfigProviderError::UnknownClass {
                        alias: alias.to_string(),
                        class: other.to_string(),
                    })
                }
            };
            providers.insert(alias.to_string(), provider);
        }
        Ok(ConfigProviders { providers })
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// `props` with every placeholder of a declared provider replaced by its value. The
    /// provider declarations themselves are kept as they are.
    pub fn resolve(
        &self,
        props: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, ConfigProviderError> {
        if self.providers.is_empty() {
            return Ok(props.clone());
        }
        let mut out = BTreeMap::new();
        for (k, v) in props {
            let value = if k.starts_with("config.providers") {
                v.clone()
            } else {
                self.resolve_value(k, v)?
            };
            out.insert(k.clone(), value);
        }
        Ok(out)
    }

    fn resolve_value(&self, property: &str, value: &str) -> Result<String, ConfigProviderError> {
        let mut out = String::with_capacity(value.len());
        let mut last = 0;
        for caps in placeholder_pattern().captures_iter(value) {
            let whole = caps.get(0).expect("match");
            let alias = &caps[1];
            let Some(provider) = self.providers.get(alias) else {
                continue; // not ours: left as written, as Connect does
            };
            let path = caps.get(2).map(|m| m.as_str());
            let key = &caps[3];
            let resolved =
                lookup(provider, path, key).map_err(|message| ConfigProviderError::Unresolved {
                    placeholder: whole.as_str().to_string(),
                    property: property.to_string(),
                    message,
                })?;
            out.push_str(&value[last..whole.start()]);
            out.push_str(&resolved);
            last = whole.end();
        }
        out.push_str(&value[last..]);
        Ok(out)
    }
}

/// The value of one placeholder, or why there is none (never containing a value).
fn lookup(provider: &Provider, path: Option<&str>, key: &str) -> Result<String, String> {
    match provider {
        Provider::Env { allow } => {
            if path.is_some_and(|p| !p.is_empty()) {
                return Err("the env provider takes no path: write ${env:NAME}".into());
            }
            if !allow.is_match(key) {
                return Err(format!(
                    "environment variable {key} is not allowed by allowlist.pattern"
                ));
            }
            std::env::var(key).map_err(|_| format!("environment variable {key} is not set"))
        }
        Provider::File { allowed } => {
            let path =
                path.ok_or("the file provider needs a path: write ${file:/path/to/file:key}")?;
            let file = checked(Path::new(path), allowed)?;
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            parse_properties(&text)
                .remove(key)
                .ok_or_else(|| format!("{} has no key {key:?}", file.display()))
        }
        Provider::Directory { allowed } => {
            let dir =
                path.ok_or("the directory provider needs a path: write ${dir:/path/to/dir:file}")?;
            let dir = checked(Path::new(dir), allowed)?;
            if key.contains('/') || key == ".." || key == "." {
                return Err(format!("{key:?} is not a file name in {}", dir.display()));
            }
            let file = dir.join(key);
            std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))
        }
    }
}

/// `path`, if `allowed.paths` permits it (the path, normalized, lies under one of them).
fn checked(path: &Path, allowed: &Option<Vec<PathBuf>>) -> Result<PathBuf, String> {
    let Some(allowed) = allowed else {
        return Ok(path.to_path_buf());
    };
    let normal = normalize(path);
    if allowed.iter().any(|a| normal.starts_with(normalize(a))) {
        Ok(normal)
    } else {
        Err(format!(
            "{} is outside allowed.paths ({})",
            path.display(),
            allowed
                .iter()
                .map(|a| a.display().to_string())
                .collect::<Vec<_>>()
                .join(",")
        ))
    }
}

/// `path` without `.` and `..` components (lexically, as Kafka's allowed.paths check does).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::props::from_pairs;

    fn providers(pairs: &[(&str, &str)]) -> ConfigProviders {
        ConfigProviders::from_props(&from_pairs(pairs)).unwrap()
    }

    fn all_three(dir: &Path) -> ConfigProviders {
        let allowed = dir.display().to_string();
        providers(&[
            ("config.providers", "file, env,dir"),
            ("config.providers.file.class", FILE_CLASS),
            ("config.providers.env.class", ENV_CLASS),
            ("config.providers.dir.class", DIRECTORY_CLASS),
            ("config.providers.dir.param.allowed.paths", &allowed),
        ])
    }

    #[test]
    fn file_env_and_directory_placeholders_are_replaced_by_their_values() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("db.properties"),
            "user=cdc\npassword = s3cr:et\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("kafka-password"), "k@fka").unwrap();
        std::env::set_var("SLUICE_TEST_PROVIDER_TOKEN", "t0k3n");
        let p = all_three(dir.path());
        let file = dir.path().join("db.properties").display().to_string();
        let props = from_pairs(&[
            ("database.user", &format!("${{file:{file}:user}}")),
            ("database.password", &format!("${{file:{file}:password}}")),
            ("token", "${env:SLUICE_TEST_PROVIDER_TOKEN}"),
            (
                "sasl",
                &format!(
                    "user=\"a\" password=\"${{dir:{}:kafka-password}}\";",
                    dir.path().display()
                ),
            ),
            ("plain", "no placeholder"),
        ]);
        let r = p.resolve(&props).unwrap();
        assert_eq!(r["database.user"], "cdc");
        assert_eq!(r["database.password"], "s3cr:et");
        assert_eq!(r["token"], "t0k3n");
        assert_eq!(r["sasl"], "user=\"a\" password=\"k@fka\";");
        assert_eq!(r["plain"], "no placeholder");
    }

    #[test]
    fn placeholders_of_undeclared_providers_and_the_declarations_stay_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = all_three(dir.path());
        let props = from_pairs(&[
            ("a", "${vault:secret/db:password}"),
            ("config.providers.env.class", ENV_CLASS),
        ]);
        let r = p.resolve(&props).unwrap();
        assert_eq!(r["a"], "${vault:secret/db:password}");
        assert_eq!(r["config.providers.env.class"], ENV_CLASS);
    }

    #[test]
    fn without_providers_nothing_is_resolved() {
        let p = providers(&[]);
        assert!(p.is_empty());
        let props = from_pairs(&[("x", "${env:HOME}")]);
        assert_eq!(p.resolve(&props).unwrap()["x"], "${env:HOME}");
    }

    #[test]
    fn a_missing_key_names_the_placeholder_and_the_file_but_no_value() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("db.properties"), "password=hunter2\n").unwrap();
        let p = all_three(dir.path());
        let file = dir.path().join("db.properties").display().to_string();
        let e = p
            .resolve(&from_pairs(&[(
                "database.password",
                &format!("${{file:{file}:pasword}}"),
            )]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("database.password") && e.contains("has no key \"pasword\""),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn an_unset_variable_and_a_path_outside_allowed_paths_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = all_three(dir.path());
        let e = p
            .resolve(&from_pairs(&[(
                "x",
                "${env:SLUICE_TEST_SURELY_UNSET_VARIABLE}",
            )]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not set"), "{e}");
        let outside = format!("${{dir:{}/..:etc}}", dir.path().display());
        let e = p
            .resolve(&from_pairs(&[("x", &outside)]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside allowed.paths"), "{e}");
    }

    #[test]
    fn the_env_allowlist_limits_which_variables_can_be_read() {
        std::env::set_var("SLUICE_TEST_ALLOWED", "yes");
        let p = providers(&[
            ("config.providers", "env"),
            ("config.providers.env.class", ENV_CLASS),
            (
                "config.providers.env.param.allowlist.pattern",
                "SLUICE_TEST_A.*",
            ),
        ]);
        assert_eq!(
            p.resolve(&from_pairs(&[("x", "${env:SLUICE_TEST_ALLOWED}")]))
                .unwrap()["x"],
            "yes"
        );
        let e = p
            .resolve(&from_pairs(&[("x", "${env:HOME}")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not allowed"), "{e}");
    }

    #[test]
    fn undeclared_or_unknown_provider_classes_are_refused_with_what_to_do() {
        let e = ConfigProviders::from_props(&from_pairs(&[("config.providers", "file")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.providers.file.class"), "{e}");
        let e = ConfigProviders::from_props(&from_pairs(&[
            ("config.providers", "secrets"),
            (
                "config.providers.secrets.class",
                "io.strimzi.kafka.KubernetesSecretConfigProvider",
            ),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("not supported") && e.contains("DirectoryConfigProvider"),
            "{e}"
        );
    }
}
