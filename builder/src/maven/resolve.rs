//! Pure: the dependency graph of `--packages` as Spark's Ivy resolution walks it.
//!
//! - Every root is asked for in Ivy's `default(runtime)` configuration: `compile` and
//!   `runtime` dependencies are followed at every depth; `test`, `provided`, `system`
//!   and optional ones are not.
//! - Exclusions hold along the path they were declared on (a module excluded on one
//!   path and required on another is kept); Spark's rules and `--exclude-packages`
//!   hold everywhere, roots included.
//! - dependencyManagement mediates the versions of a module's transitive dependencies
//!   (not its own): the ancestor nearest the root wins, as Ivy applies its mediators.
//! - Conflicts: Ivy's `latest-revision` manager, one revision per module, the latest
//!   asked for by a module that is itself kept; the others are reported as evicted.
//!   Ranges are first pinned to the latest listed revision inside them.
//! - Cycles are walked once (Ivy warns and goes on).
//! - The deliberate difference: a module the distribution already ships in `jars/` is
//!   not added (its dependencies still are), and the result says which versions met.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::rc::Rc;

use super::coordinate::{spark_excludes, Coordinate, ModuleId, Pattern};
use super::model::{ArtifactRef, Models};
use super::version::{self, Range};
use super::MavenError;
use super::PomSource;

/// What to resolve.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub packages: Vec<Coordinate>,
    /// `--exclude-packages` (Spark's own rules are always added).
    pub excludes: Vec<Pattern>,
    /// group:artifact → version of the jars the distribution ships in `jars/`.
    pub shipped: BTreeMap<ModuleId, String>,
}

/// One jar to put on the classpath.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Artifact {
    pub coordinate: Coordinate,
    pub classifier: Option<String>,
    /// The path that first required it, roots first.
    pub chain: Vec<String>,
}

impl Artifact {
    /// Spark's retrieve pattern, `[organization]_[artifact]-[revision](-[classifier]).jar`.
    pub fn file_name(&self) -> String {
        let c = &self.coordinate;
        let classifier = self
            .classifier
            .as_deref()
            .map(|k| format!("-{k}"))
            .unwrap_or_default();
        format!(
            "{}_{}-{}{classifier}.jar",
            c.module.group, c.module.artifact, c.version
        )
    }

    /// The jar's path in a Maven repository.
    pub fn repository_path(&self) -> String {
        let c = &self.coordinate;
        let classifier = self
            .classifier
            .as_deref()
            .map(|k| format!("-{k}"))
            .unwrap_or_default();
        format!(
            "{}/{}/{}/{}-{}{classifier}.jar",
            c.module.group.replace('.', "/"),
            c.module.artifact,
            c.version,
            c.module.artifact,
            c.version
        )
    }
}

/// A revision the conflict manager set aside.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Eviction {
    pub module: ModuleId,
    pub revision: String,
    pub by: String,
}

/// A module resolution wanted that the distribution already ships: the shipped jar wins.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Shipped {
    pub module: ModuleId,
    pub resolved: String,
    pub shipped: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Sorted by file name.
    pub artifacts: Vec<Artifact>,
    pub evictions: Vec<Eviction>,
    pub shipped: Vec<Shipped>,
}

struct Visit {
    coordinate: Coordinate,
    artifact: Option<ArtifactRef>,
    chain: Vec<String>,
    /// Exclusions inherited from the path to this module (they apply to it).
    excluded: Rc<Vec<Pattern>>,
    /// Exclusions declared on the edge into this module (they apply to its subtree).
    edge: Vec<Pattern>,
    /// dependencyManagement versions of the ancestors, nearest the root winning.
    mediated: Rc<BTreeMap<ModuleId, String>>,
}

#[derive(Default)]
struct Node {
    artifacts: BTreeSet<Option<ArtifactRef>>,
    main: Option<String>,
    chain: Vec<String>,
}

#[derive(Default)]
struct Walk {
    requests: BTreeMap<ModuleId, BTreeSet<String>>,
    nodes: BTreeMap<(ModuleId, String), Node>,
}

/// Resolves the request against the source; see the module documentation for the rules.
pub fn resolve(source: &dyn PomSource, req: &Request) -> Result<Resolution, MavenError> {
    let mut models = Models::new(source);
    let mut listings = HashMap::new();
    let mut global = spark_excludes();
    global.extend(req.excludes.iter().cloned());
    let mut selected: BTreeMap<ModuleId, String> = BTreeMap::new();
    let mut history: Vec<BTreeMap<ModuleId, String>> = Vec::new();
    loop {
        let walked = walk(&mut models, &mut listings, req, &global, &selected)?;
        let next: BTreeMap<ModuleId, String> = walked
            .requests
            .iter()
            .filter_map(|(m, revs)| {
                let best = revs.iter().map(String::as_str).reduce(version::latest)?;
                Some((m.clone(), best.to_string()))
            })
            .collect();
        if next == selected {
            return Ok(finish(walked, &selected, req));
        }
        if history.contains(&next) {
            // An eviction that undoes itself: keep the latest of what was seen.
            for (m, v) in next {
                let keep = selected
                    .get(&m)
                    .map_or(v.as_str(), |s| version::latest(s, &v))
                    .to_string();
                selected.insert(m, keep);
            }
            let walked = walk(&mut models, &mut listings, req, &global, &selected)?;
            return Ok(finish(walked, &selected, req));
        }
        history.push(selected);
        selected = next;
    }
}

fn pin(
    models: &Models,
    listings: &mut HashMap<ModuleId, Vec<String>>,
    v: &Visit,
) -> Result<String, MavenError> {
    let c = &v.coordinate;
    let Some(range) = Range::parse(&c.version) else {
        return Ok(c.version.clone());
    };
    if !listings.contains_key(&c.module) {
        let listed = models
            .source()
            .versions(&c.module)
            .map_err(|source| MavenError::Source {
                what: format!("{}: version listing", c.module),
                source,
            })?;
        listings.insert(c.module.clone(), listed);
    }
    let listed = &listings[&c.module];
    range
        .pick(listed)
        .map(str::to_string)
        .ok_or_else(|| MavenError::NoVersionInRange {
            coordinate: c.module.to_string(),
            range: c.version.clone(),
            listed: listed.clone(),
            chain: v.chain.clone(),
        })
}

fn walk(
    models: &mut Models,
    listings: &mut HashMap<ModuleId, Vec<String>>,
    req: &Request,
    global: &[Pattern],
    selected: &BTreeMap<ModuleId, String>,
) -> Result<Walk, MavenError> {
    let mut out = Walk::default();
    let mut seen = HashSet::new();
    let mut queue: VecDeque<Visit> = req
        .packages
        .iter()
        .map(|c| Visit {
            coordinate: c.clone(),
            artifact: None,
            chain: Vec::new(),
            excluded: Rc::new(Vec::new()),
            edge: Vec::new(),
            mediated: Rc::new(BTreeMap::new()),
        })
        .collect();
    while let Some(v) = queue.pop_front() {
        let m = &v.coordinate.module;
        if global.iter().chain(v.excluded.iter()).any(|p| p.matches(m)) {
            continue;
        }
        let asked = pin(models, listings, &v)?;
        out.requests
            .entry(m.clone())
            .or_default()
            .insert(asked.clone());
        let rev = selected.get(m).cloned().unwrap_or(asked);
        let key = (
            m.clone(),
            rev.clone(),
            v.artifact.clone(),
            v.excluded.clone(),
            v.edge.clone(),
            v.mediated.clone(),
        );
        if !seen.insert(key) {
            continue;
        }
        let here = Coordinate {
            module: m.clone(),
            version: rev.clone(),
        };
        let Some(eff) = models.module(&here)? else {
            return Err(MavenError::NotFound {
                coordinate: here.to_string(),
                chain: v.chain.clone(),
                tried: models.source().repositories(),
            });
        };
        let node = out.nodes.entry((m.clone(), rev.clone())).or_default();
        if node.chain.is_empty() {
            node.chain = v.chain.iter().cloned().chain([here.to_string()]).collect();
        }
        node.main = eff.main.clone();
        node.artifacts.insert(v.artifact.clone());
        let mut below = (*v.mediated).clone();
        for (dm, entry) in &eff.managed {
            if let Some(version) = &entry.version {
                below.entry(dm.clone()).or_insert_with(|| version.clone());
            }
        }
        let below = Rc::new(below);
        let mut excluded = (*v.excluded).clone();
        excluded.extend(v.edge.iter().cloned());
        let excluded = Rc::new(excluded);
        let chain: Vec<String> = v.chain.iter().cloned().chain([here.to_string()]).collect();
        for d in &eff.dependencies {
            if d.optional || !matches!(d.scope.as_str(), "compile" | "runtime") {
                continue;
            }
            let version = v
                .mediated
                .get(&d.module)
                .cloned()
                .unwrap_or_else(|| d.version.clone());
            queue.push_back(Visit {
                coordinate: Coordinate {
                    module: d.module.clone(),
                    version,
                },
                artifact: d.artifact.clone(),
                chain: chain.clone(),
                excluded: excluded.clone(),
                edge: d.exclusions.clone(),
                mediated: below.clone(),
            });
        }
    }
    Ok(out)
}

fn finish(walk: Walk, selected: &BTreeMap<ModuleId, String>, req: &Request) -> Resolution {
    let mut res = Resolution::default();
    for ((m, rev), node) in &walk.nodes {
        if selected.get(m) != Some(rev) {
            continue;
        }
        for a in &node.artifacts {
            let (ext, classifier) = match a {
                None => (node.main.as_deref(), None),
                Some(a) => (Some(a.ext.as_str()), a.classifier.clone()),
            };
            if ext != Some("jar") {
                continue; // Spark keeps only jars.
            }
            if let Some(theirs) = req.shipped.get(m) {
                res.shipped.push(Shipped {
                    module: m.clone(),
                    resolved: rev.clone(),
                    shipped: theirs.clone(),
                });
                continue;
            }
            res.artifacts.push(Artifact {
                coordinate: Coordinate {
                    module: m.clone(),
                    version: rev.clone(),
                },
                classifier,
                chain: node.chain.clone(),
            });
        }
    }
    for (m, revs) in &walk.requests {
        for r in revs {
            if let Some(by) = selected.get(m).filter(|s| *s != r) {
                res.evictions.push(Eviction {
                    module: m.clone(),
                    revision: r.clone(),
                    by: by.clone(),
                });
            }
        }
    }
    res.artifacts.sort_by_key(Artifact::file_name);
    res.shipped.dedup();
    res
}
