//! Pure: the repositories of an Ivy settings file (Spark's `spark.jars.ivySettings`,
//! sparkimg's `--ivy-settings`): the chain of its default resolver, flattened in order.
//! Maven-layout resolvers are understood: `ibiblio` with `m2compatible="true"` and `url`
//! with an m2 artifact pattern, inside `chain`s (inline or by `<resolver ref>`). Any
//! other kind the default chain reaches is refused by name, never silently skipped.
//! `<property>` values and `${ivy.settings.dir}` are substituted.

use std::collections::BTreeMap;

use roxmltree::{Document, Node};

use super::model::interpolate;
use super::settings::CENTRAL;

/// A Maven-layout repository a resolver names: the resolver's name and its root URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IvyRepository {
    pub name: String,
    pub root: String,
}

/// Ivy's m2 artifact layout after the root; the classifier part is optional in files.
const M2_PATTERNS: &[&str] = &[
    "[organisation]/[module]/[revision]/[artifact]-[revision](-[classifier]).[ext]",
    "[organisation]/[module]/[revision]/[artifact]-[revision].[ext]",
];

struct Parsed<'a, 'i> {
    /// Every named resolver of the file, nested ones too.
    named: BTreeMap<String, Node<'a, 'i>>,
    props: BTreeMap<String, String>,
}

/// The default resolver's repositories, in the order Ivy asks them. `settings_dir` is
/// the file's folder (`${ivy.settings.dir}`). A reason for the usage error otherwise.
pub fn repositories(xml: &str, settings_dir: &str) -> Result<Vec<IvyRepository>, String> {
    let doc = Document::parse(xml).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    if root.tag_name().name() != "ivysettings" {
        return Err(format!("<{}> is not <ivysettings>", root.tag_name().name()));
    }
    let mut props = BTreeMap::new();
    props.insert("ivy.settings.dir".to_string(), settings_dir.to_string());
    for p in root.children().filter(|n| n.has_tag_name("property")) {
        if let (Some(n), Some(v)) = (p.attribute("name"), p.attribute("value")) {
            let v = interpolate(v, &props);
            props.entry(n.to_string()).or_insert(v);
        }
    }
    let named = root
        .children()
        .filter(|n| n.has_tag_name("resolvers"))
        .flat_map(|r| r.descendants())
        .filter(|n| n.is_element() && n.parent().is_some_and(|p| !p.has_tag_name("resolver")))
        .filter(|n| !n.has_tag_name("resolvers") && !is_pattern(n))
        .filter_map(|n| Some((n.attribute("name")?.to_string(), n)))
        .collect();
    let parsed = Parsed { named, props };
    let Some(default) = root
        .children()
        .find(|n| n.has_tag_name("settings"))
        .and_then(|s| s.attribute("defaultResolver"))
    else {
        // Spark then has only --repositories.
        return Ok(Vec::new());
    };
    let default = interpolate(default, &parsed.props);
    let mut out = Vec::new();
    parsed.flatten(&default, &mut Vec::new(), &mut out)?;
    Ok(out)
}

fn is_pattern(n: &Node) -> bool {
    n.has_tag_name("artifact") || n.has_tag_name("ivy")
}

impl Parsed<'_, '_> {
    fn attr(&self, n: &Node, name: &str) -> Option<String> {
        n.attribute(name).map(|v| interpolate(v, &self.props))
    }

    fn flatten(
        &self,
        name: &str,
        stack: &mut Vec<String>,
        out: &mut Vec<IvyRepository>,
    ) -> Result<(), String> {
        if stack.iter().any(|s| s == name) {
            return Err(format!("resolver `{name}` contains itself"));
        }
        let node = *self
            .named
            .get(name)
            .ok_or_else(|| format!("no resolver named `{name}`"))?;
        stack.push(name.to_string());
        let r = self.resolver(name, &node, stack, out);
        stack.pop();
        r
    }

    fn resolver(
        &self,
        name: &str,
        node: &Node,
        stack: &mut Vec<String>,
        out: &mut Vec<IvyRepository>,
    ) -> Result<(), String> {
        let kind = node.tag_name().name();
        let m2 = self.attr(node, "m2compatible").as_deref() == Some("true");
        let root = match kind {
            "chain" => {
                for child in node.children().filter(Node::is_element) {
                    let target = match child.has_tag_name("resolver") {
                        true => self.attr(&child, "ref"),
                        false => self.attr(&child, "name"),
                    };
                    let target = target.ok_or_else(|| {
                        format!("a <{}> in chain `{name}` has no name", child.tag_name().name())
                    })?;
                    self.flatten(&target, stack, out)?;
                }
                return Ok(());
            }
            "ibiblio" if m2 => match self.attr(node, "pattern") {
                Some(p) if !M2_PATTERNS.contains(&p.as_str()) => {
                    return Err(format!("ibiblio resolver `{name}` has its own pattern `{p}`"))
                }
                _ => self.attr(node, "root").unwrap_or_else(|| CENTRAL.to_string()),
            },
            "ibiblio" => {
                return Err(format!(
                    "ibiblio resolver `{name}` is not m2compatible=\"true\" (only Maven layouts are read)"
                ))
            }
            "url" if m2 => self.url_root(name, node)?,
            other => {
                return Err(format!(
                    "resolver `{name}` is a <{other}> resolver; only ibiblio (m2compatible), \
                     url (m2 patterns) and chain are supported"
                ))
            }
        };
        out.push(IvyRepository {
            name: name.to_string(),
            root,
        });
        Ok(())
    }

    /// The root of a `url` resolver whose artifact pattern is the m2 layout.
    fn url_root(&self, name: &str, node: &Node) -> Result<String, String> {
        let pattern = node
            .children()
            .find(|c| c.has_tag_name("artifact"))
            .and_then(|a| self.attr(&a, "pattern"))
            .ok_or_else(|| format!("url resolver `{name}` has no <artifact pattern>"))?;
        M2_PATTERNS
            .iter()
            .find_map(|m2| pattern.strip_suffix(m2))
            .map(str::to_string)
            .ok_or_else(|| {
                format!("url resolver `{name}`: pattern `{pattern}` is not the Maven layout")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots(xml: &str) -> Result<Vec<(String, String)>, String> {
        Ok(repositories(xml, "/etc/spark")?
            .into_iter()
            .map(|r| (r.name, r.root))
            .collect())
    }

    #[test]
    fn the_default_chain_flattened_in_order() {
        let xml = r#"<ivysettings>
          <property name="corp" value="https://nexus.corp/repository"/>
          <settings defaultResolver="main"/>
          <resolvers>
            <ibiblio name="unused" m2compatible="true" root="https://never/"/>
            <chain name="main" returnFirst="true">
              <ibiblio name="corp-central" m2compatible="true" root="${corp}/central/"/>
              <resolver ref="local-url"/>
              <chain name="inner"><ibiblio name="central" m2compatible="true"/></chain>
            </chain>
            <url name="local-url" m2compatible="true">
              <ivy pattern="file://${ivy.settings.dir}/m2/[organisation]/[module]/[revision]/[artifact]-[revision].pom"/>
              <artifact pattern="file://${ivy.settings.dir}/m2/[organisation]/[module]/[revision]/[artifact]-[revision](-[classifier]).[ext]"/>
            </url>
          </resolvers></ivysettings>"#;
        assert_eq!(
            roots(xml).unwrap(),
            [
                (
                    "corp-central".into(),
                    "https://nexus.corp/repository/central/".into()
                ),
                ("local-url".into(), "file:///etc/spark/m2/".into()),
                ("central".into(), CENTRAL.into()),
            ]
        );
        let single = r#"<ivysettings><settings defaultResolver="repo"/><resolvers>
            <ibiblio name="repo" m2compatible="true" root="http://127.0.0.1:9/m2/"/></resolvers></ivysettings>"#;
        assert_eq!(roots(single).unwrap().len(), 1);
        let no_default = "<ivysettings><resolvers/></ivysettings>";
        assert_eq!(roots(no_default).unwrap(), []);
    }

    #[test]
    fn unsupported_resolvers_are_refused_by_name() {
        let cases = [
            (
                r#"<filesystem name="fs"/>"#,
                "resolver `fs` is a <filesystem>",
            ),
            (
                r#"<ibiblio name="fs" root="https://x/"/>"#,
                "not m2compatible",
            ),
            (
                r#"<url name="fs" m2compatible="true"><artifact pattern="https://x/[module]/[artifact].[ext]"/></url>"#,
                "is not the Maven layout",
            ),
            (
                r#"<chain name="fs"><resolver ref="nope"/></chain>"#,
                "no resolver named `nope`",
            ),
            (
                r#"<chain name="fs"><resolver ref="fs"/></chain>"#,
                "contains itself",
            ),
        ];
        for (resolver, want) in cases {
            let xml = format!(
                "<ivysettings><settings defaultResolver=\"fs\"/><resolvers>{resolver}</resolvers></ivysettings>"
            );
            let e = roots(&xml).unwrap_err();
            assert!(e.contains(want), "{resolver}: {e}");
        }
        assert!(roots("<settings/>")
            .unwrap_err()
            .contains("not <ivysettings>"));
        assert!(roots("<ivysettings>").is_err());
    }
}
