//! Pure: the effective POM of one revision, as Ivy's POM parser builds a module
//! descriptor: the parent's properties, dependencyManagement and dependencies
//! inherited; `${…}` interpolated; BOM imports (`<scope>import</scope>` in
//! dependencyManagement) merged after the POM's own entries; versions, scopes and
//! exclusions a dependency leaves out taken from dependencyManagement; a relocation
//! turned into a dependency on its target; the main artifact from the packaging.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use super::coordinate::{Coordinate, ModuleId, Pattern};
use super::pom::{self, RawDep, RawPom};
use super::{MavenError, PomSource};

/// Packagings whose artifact is a `.jar` (Ivy's `JAR_PACKAGINGS`).
const JAR_PACKAGINGS: &[&str] = &[
    "jar",
    "ejb",
    "bundle",
    "maven-plugin",
    "eclipse-plugin",
    "jbi-component",
    "jbi-shared-library",
    "orbit",
    "hk2-jar",
];

/// An artifact other than the main one (`<type>`/`<classifier>` on a dependency).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArtifactRef {
    pub ext: String,
    pub classifier: Option<String>,
}

/// One dependency with everything interpolated and defaulted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    pub module: ModuleId,
    pub version: String,
    pub scope: String,
    pub optional: bool,
    /// `None`: the module's main artifact.
    pub artifact: Option<ArtifactRef>,
    pub exclusions: Vec<Pattern>,
}

/// A dependencyManagement entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Managed {
    pub version: Option<String>,
    pub scope: Option<String>,
    pub exclusions: Vec<Pattern>,
}

/// The effective POM of one revision.
#[derive(Clone, Debug, Default)]
pub struct Effective {
    pub coordinate: Option<Coordinate>,
    /// Interpolated properties, inherited by children.
    pub properties: BTreeMap<String, String>,
    pub managed: BTreeMap<ModuleId, Managed>,
    pub dependencies: Vec<Dependency>,
    /// The main artifact's extension (`jar`, `war`, …); `None` when there is none
    /// (a `pom` without a jar, a relocation).
    pub main: Option<String>,
    /// Where a relocated POM points (then it has no artifact of its own).
    pub relocation: Option<Coordinate>,
    /// `pom` packaging: whether it has a jar is asked only when it is a dependency,
    /// never when it is read as a parent or an imported BOM.
    pub pom_packaged: bool,
}

/// `${name}` replaced from `props` until nothing changes (nested references);
/// unknown names stay as they are, as in Ivy.
pub fn interpolate(s: &str, props: &BTreeMap<String, String>) -> String {
    let mut out = s.to_string();
    for _ in 0..16 {
        if !out.contains("${") {
            break;
        }
        let mut next = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(start) = rest.find("${") {
            next.push_str(&rest[..start]);
            match rest[start..].find('}') {
                Some(end) => {
                    let name = &rest[start + 2..start + end];
                    match props.get(name) {
                        Some(v) => next.push_str(v),
                        None => next.push_str(&rest[start..=start + end]),
                    }
                    rest = &rest[start + end + 1..];
                }
                None => {
                    next.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        next.push_str(rest);
        if next == out {
            break;
        }
        out = next;
    }
    out
}

/// Effective POMs of a source, each computed once.
pub struct Models<'s> {
    source: &'s dyn PomSource,
    cache: HashMap<Coordinate, Option<Rc<Effective>>>,
    /// Pom-packaged modules met as dependencies, with their jar asked for.
    as_dependency: HashMap<Coordinate, Rc<Effective>>,
}

impl<'s> Models<'s> {
    pub fn new(source: &'s dyn PomSource) -> Models<'s> {
        Models {
            source,
            cache: HashMap::new(),
            as_dependency: HashMap::new(),
        }
    }

    pub fn source(&self) -> &'s dyn PomSource {
        self.source
    }

    fn has_jar(&self, c: &Coordinate) -> Result<bool, MavenError> {
        self.source.has_jar(c).map_err(|source| MavenError::Source {
            what: format!("{c}: jar"),
            source,
        })
    }

    /// The module of a dependency: its effective POM, or, when no repository has the
    /// POM but one has the jar, a module with that jar and no dependencies (Ivy's
    /// `allownomd`); `None` when neither exists.
    pub fn module(&mut self, c: &Coordinate) -> Result<Option<Rc<Effective>>, MavenError> {
        if let Some(e) = self.load(c, &mut Vec::new())? {
            if !e.pom_packaged {
                return Ok(Some(e));
            }
            if let Some(done) = self.as_dependency.get(c) {
                return Ok(Some(done.clone()));
            }
            // Ivy adds a jar to a pom-packaged module only when the repository has one.
            let main = self.has_jar(c)?.then(|| "jar".to_string());
            let dep = Rc::new(Effective {
                main,
                pom_packaged: false,
                ..(*e).clone()
            });
            self.as_dependency.insert(c.clone(), dep.clone());
            return Ok(Some(dep));
        }
        let has_jar = self.has_jar(c)?;
        Ok(has_jar.then(|| {
            Rc::new(Effective {
                coordinate: Some(c.clone()),
                main: Some("jar".to_string()),
                ..Effective::default()
            })
        }))
    }

    fn load(
        &mut self,
        c: &Coordinate,
        stack: &mut Vec<Coordinate>,
    ) -> Result<Option<Rc<Effective>>, MavenError> {
        if let Some(hit) = self.cache.get(c) {
            return Ok(hit.clone());
        }
        if stack.contains(c) {
            let mut chain: Vec<String> = stack.iter().map(ToString::to_string).collect();
            chain.push(c.to_string());
            return Err(MavenError::ParentCycle {
                coordinate: stack[0].to_string(),
                chain,
            });
        }
        let text = self.source.pom(c).map_err(|source| MavenError::Source {
            what: format!("{c}: POM"),
            source,
        })?;
        let Some(text) = text else {
            self.cache.insert(c.clone(), None);
            return Ok(None);
        };
        let raw = pom::parse(&text).map_err(|reason| MavenError::Pom {
            coordinate: c.to_string(),
            reason,
        })?;
        stack.push(c.clone());
        let built = self.build(c, &raw, stack);
        stack.pop();
        let effective = Rc::new(built?);
        self.cache.insert(c.clone(), Some(effective.clone()));
        Ok(Some(effective))
    }

    /// A POM that must exist (a parent, an imported BOM).
    fn required(
        &mut self,
        of: &Coordinate,
        c: &Coordinate,
        stack: &mut Vec<Coordinate>,
    ) -> Result<Rc<Effective>, MavenError> {
        self.load(c, stack)?
            .ok_or_else(|| MavenError::ParentNotFound {
                coordinate: of.to_string(),
                parent: c.to_string(),
                tried: self.source.repositories(),
            })
    }

    fn build(
        &mut self,
        c: &Coordinate,
        raw: &RawPom,
        stack: &mut Vec<Coordinate>,
    ) -> Result<Effective, MavenError> {
        let parent = match &raw.parent {
            Some((g, a, v)) => Some(self.required(c, &Coordinate::new(g, a, v), stack)?),
            None => None,
        };
        let properties = properties(c, raw, parent.as_deref());
        let relocation = relocation(c, raw, &properties);
        if let Some(target) = &relocation {
            return self.relocated(c, target, properties, stack);
        }
        let managed = self.managed(c, raw, parent.as_deref(), &properties, stack)?;
        let mut dependencies = parent
            .as_ref()
            .map(|p| p.dependencies.clone())
            .unwrap_or_default();
        for d in &raw.dependencies {
            let d = dependency(c, d, &properties, &managed)?;
            // The child's declaration replaces the parent's, as in Maven.
            dependencies.retain(|p| (&p.module, &p.artifact) != (&d.module, &d.artifact));
            dependencies.push(d);
        }
        let main = main_artifact(raw, &properties);
        Ok(Effective {
            coordinate: Some(c.clone()),
            properties,
            managed,
            dependencies,
            pom_packaged: main.as_deref() == Some("pom"),
            main: main.filter(|m| m != "pom"),
            relocation: None,
        })
    }

    /// Ivy: a relocation to another module becomes a dependency on it; one to another
    /// version of the same module takes that version's dependencies. No artifact.
    fn relocated(
        &mut self,
        c: &Coordinate,
        target: &Coordinate,
        properties: BTreeMap<String, String>,
        stack: &mut Vec<Coordinate>,
    ) -> Result<Effective, MavenError> {
        let dependencies = if target.module == c.module {
            self.required(c, target, stack)?.dependencies.clone()
        } else {
            vec![Dependency {
                module: target.module.clone(),
                version: target.version.clone(),
                scope: "compile".to_string(),
                optional: false,
                artifact: None,
                exclusions: Vec::new(),
            }]
        };
        Ok(Effective {
            coordinate: Some(c.clone()),
            properties,
            dependencies,
            relocation: Some(target.clone()),
            ..Effective::default()
        })
    }

    fn managed(
        &mut self,
        c: &Coordinate,
        raw: &RawPom,
        parent: Option<&Effective>,
        props: &BTreeMap<String, String>,
        stack: &mut Vec<Coordinate>,
    ) -> Result<BTreeMap<ModuleId, Managed>, MavenError> {
        let mut managed = BTreeMap::new();
        let mut imports = Vec::new();
        for d in &raw.managed {
            let module = ModuleId::new(
                &interpolate(&d.group, props),
                &interpolate(&d.artifact, props),
            );
            let version = d.version.as_deref().map(|v| interpolate(v, props));
            let scope = d.scope.as_deref().map(|s| interpolate(s, props));
            if scope.as_deref() == Some("import") {
                let v = version.unwrap_or_default();
                imports.push(Coordinate { module, version: v });
                continue;
            }
            let exclusions = exclusions(d, props);
            managed.insert(
                module,
                Managed {
                    version,
                    scope,
                    exclusions,
                },
            );
        }
        // The POM's own entries win over imported ones, the first import over later ones.
        for bom in imports {
            let bom = self.required(c, &bom, stack)?;
            for (m, entry) in &bom.managed {
                managed.entry(m.clone()).or_insert_with(|| entry.clone());
            }
        }
        if let Some(p) = parent {
            for (m, entry) in &p.managed {
                managed.entry(m.clone()).or_insert_with(|| entry.clone());
            }
        }
        Ok(managed)
    }
}

/// The main artifact's extension by packaging; `pom` for a pom-packaged module, whose
/// jar [`Models::module`] asks the repositories about when it is a dependency.
fn main_artifact(raw: &RawPom, props: &BTreeMap<String, String>) -> Option<String> {
    let packaging = raw
        .packaging
        .as_deref()
        .map(|p| interpolate(p, props))
        .unwrap_or_else(|| "jar".to_string());
    if JAR_PACKAGINGS.contains(&packaging.as_str()) {
        return Some("jar".to_string());
    }
    Some(packaging)
}

fn properties(
    c: &Coordinate,
    raw: &RawPom,
    parent: Option<&Effective>,
) -> BTreeMap<String, String> {
    let mut props = parent.map(|p| p.properties.clone()).unwrap_or_default();
    let (pg, pa, pv) = raw.parent.clone().unwrap_or_default();
    let group = raw.group.clone().unwrap_or_else(|| pg.clone());
    let artifact = raw
        .artifact
        .clone()
        .unwrap_or_else(|| c.module.artifact.clone());
    let version = raw.version.clone().unwrap_or_else(|| pv.clone());
    for prefix in ["project.", "pom.", ""] {
        props.insert(format!("{prefix}groupId"), group.clone());
        props.insert(format!("{prefix}artifactId"), artifact.clone());
        props.insert(format!("{prefix}version"), version.clone());
    }
    for prefix in ["project.parent.", "parent."] {
        props.insert(format!("{prefix}groupId"), pg.clone());
        props.insert(format!("{prefix}artifactId"), pa.clone());
        props.insert(format!("{prefix}version"), pv.clone());
    }
    for (k, v) in &raw.properties {
        props.insert(k.clone(), v.clone());
    }
    let own: Vec<String> = raw
        .properties
        .iter()
        .map(|(k, _)| k.clone())
        .chain(
            [
                "project.groupId",
                "project.version",
                "groupId",
                "version",
                "pom.groupId",
                "pom.version",
            ]
            .map(String::from),
        )
        .collect();
    for k in own {
        let v = interpolate(&props[&k], &props);
        props.insert(k, v);
    }
    props
}

fn relocation(
    c: &Coordinate,
    raw: &RawPom,
    props: &BTreeMap<String, String>,
) -> Option<Coordinate> {
    let (g, a, v) = raw.relocation.as_ref()?;
    let field = |f: &Option<String>, own: &str| {
        f.as_deref()
            .map(|x| interpolate(x, props))
            .unwrap_or_else(|| own.to_string())
    };
    let target = Coordinate::new(
        &field(g, &props["project.groupId"]),
        &field(a, &c.module.artifact),
        &field(v, &c.version),
    );
    (target != *c).then_some(target)
}

fn exclusions(d: &RawDep, props: &BTreeMap<String, String>) -> Vec<Pattern> {
    d.exclusions
        .iter()
        .map(|(g, a)| Pattern::new(&interpolate(g, props), &interpolate(a, props)))
        .collect()
}

/// `<type>`/`<classifier>` to the artifact Ivy retrieves; `None` for the main jar.
fn artifact_ref(kind: Option<&str>, classifier: Option<&str>) -> Option<ArtifactRef> {
    let kind = kind.unwrap_or("jar");
    let classifier = classifier.map(str::to_string);
    let (ext, classifier) = match kind {
        "test-jar" => ("jar", classifier.or(Some("tests".to_string()))),
        "ejb-client" => ("jar", classifier.or(Some("client".to_string()))),
        k if JAR_PACKAGINGS.contains(&k) => ("jar", classifier),
        k => (k, classifier),
    };
    (ext != "jar" || classifier.is_some()).then(|| ArtifactRef {
        ext: ext.to_string(),
        classifier,
    })
}

fn dependency(
    c: &Coordinate,
    d: &RawDep,
    props: &BTreeMap<String, String>,
    managed: &BTreeMap<ModuleId, Managed>,
) -> Result<Dependency, MavenError> {
    let module = ModuleId::new(
        &interpolate(&d.group, props),
        &interpolate(&d.artifact, props),
    );
    let m = managed.get(&module);
    let version = d
        .version
        .as_deref()
        .map(|v| interpolate(v, props))
        .or_else(|| m.and_then(|m| m.version.clone()))
        .ok_or_else(|| MavenError::NoVersion {
            coordinate: c.to_string(),
            dependency: module.to_string(),
        })?;
    let scope = d
        .scope
        .as_deref()
        .map(|s| interpolate(s, props))
        .or_else(|| m.and_then(|m| m.scope.clone()))
        .unwrap_or_else(|| "compile".to_string());
    let mut exclusions = exclusions(d, props);
    if exclusions.is_empty() {
        exclusions = m.map(|m| m.exclusions.clone()).unwrap_or_default();
    }
    let kind = d.kind.as_deref().map(|k| interpolate(k, props));
    let classifier = d.classifier.as_deref().map(|k| interpolate(k, props));
    Ok(Dependency {
        module,
        version,
        scope,
        optional: d
            .optional
            .as_deref()
            .map(|o| interpolate(o, props))
            .as_deref()
            == Some("true"),
        artifact: artifact_ref(kind.as_deref(), classifier.as_deref()),
        exclusions,
    })
}
