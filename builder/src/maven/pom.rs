//! Pure: a POM file read into the fields Ivy's POM parser uses, values still raw
//! (`${…}` not yet interpolated). Namespaces are ignored, as Ivy ignores them.

use roxmltree::{Document, Node};

/// A `<dependency>` of `<dependencies>` or `<dependencyManagement>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawDep {
    pub group: String,
    pub artifact: String,
    pub version: Option<String>,
    pub scope: Option<String>,
    pub optional: Option<String>,
    pub kind: Option<String>,
    pub classifier: Option<String>,
    /// `(groupId, artifactId)`, `*` allowed in either.
    pub exclusions: Vec<(String, String)>,
}

/// The fields of one POM that resolution reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawPom {
    pub group: Option<String>,
    pub artifact: Option<String>,
    pub version: Option<String>,
    pub packaging: Option<String>,
    /// `(groupId, artifactId, version)` of `<parent>`.
    pub parent: Option<(String, String, String)>,
    /// `<properties>`, in document order.
    pub properties: Vec<(String, String)>,
    pub dependencies: Vec<RawDep>,
    pub managed: Vec<RawDep>,
    /// `<distributionManagement><relocation>`: each field may be absent.
    pub relocation: Option<(Option<String>, Option<String>, Option<String>)>,
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn children<'a, 'i>(n: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    n.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn text(n: Node, name: &str) -> Option<String> {
    child(n, name)
        .and_then(|c| c.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

fn dependency(d: Node) -> RawDep {
    let exclusions = child(d, "exclusions")
        .map(|e| {
            children(e, "exclusion")
                .map(|x| {
                    let field = |name| text(x, name).unwrap_or_else(|| "*".to_string());
                    (field("groupId"), field("artifactId"))
                })
                .collect()
        })
        .unwrap_or_default();
    RawDep {
        group: text(d, "groupId").unwrap_or_default(),
        artifact: text(d, "artifactId").unwrap_or_default(),
        version: text(d, "version"),
        scope: text(d, "scope"),
        optional: text(d, "optional"),
        kind: text(d, "type"),
        classifier: text(d, "classifier"),
        exclusions,
    }
}

fn dependencies(n: Option<Node>) -> Vec<RawDep> {
    n.and_then(|n| child(n, "dependencies"))
        .map(|ds| children(ds, "dependency").map(dependency).collect())
        .unwrap_or_default()
}

/// Reads a POM; the error is the XML parser's message or the missing `<project>`.
pub fn parse(xml: &str) -> Result<RawPom, String> {
    let doc = Document::parse(xml).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    if root.tag_name().name() != "project" {
        return Err(format!(
            "root element is <{}>, not <project>",
            root.tag_name().name()
        ));
    }
    let parent = child(root, "parent").map(|p| {
        let f = |name| text(p, name).unwrap_or_default();
        (f("groupId"), f("artifactId"), f("version"))
    });
    let properties = child(root, "properties")
        .map(|ps| {
            ps.children()
                .filter(|c| c.is_element())
                .map(|c| {
                    let value = c.text().unwrap_or("").trim().to_string();
                    (c.tag_name().name().to_string(), value)
                })
                .collect()
        })
        .unwrap_or_default();
    let relocation = child(root, "distributionManagement")
        .and_then(|d| child(d, "relocation"))
        .map(|r| {
            (
                text(r, "groupId"),
                text(r, "artifactId"),
                text(r, "version"),
            )
        });
    Ok(RawPom {
        group: text(root, "groupId"),
        artifact: text(root, "artifactId"),
        version: text(root, "version"),
        packaging: text(root, "packaging"),
        parent,
        properties,
        dependencies: dependencies(Some(root)),
        managed: dependencies(child(root, "dependencyManagement")),
        relocation,
    })
}
