#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub use checktls_batch as batch;
pub use checktls_dns as dns;
pub use checktls_score as score;
pub use checktls_smtp as smtp;
pub use checktls_tls as tls;

mod checker;
mod clock;
mod error;
pub mod executor;
mod fetch;
pub mod fleet;
mod judge;
pub mod mailer;
pub mod options;
pub mod output;
mod plan;
mod politeness;
mod probe;
pub mod progress;
pub mod report;
pub mod target;

pub use checker::{CacheSizes, Checker, CheckerBuilder, Run};
pub use error::Error;
pub use options::ReceiverOptions;
pub use report::ReceiverReport;
pub use target::Target;

#[cfg(test)]
mod layout {
    //! The facade's modules import in one direction: the receiver test's steps
    //! plan → probe → fetch → judge never reach back, `checker` orchestrates them and nothing
    //! below imports it, and no chain of imports comes back to where it began.

    use std::collections::{BTreeMap, BTreeSet};

    /// Each module of `src/` and the modules of `src/` its non-test code names (`crate::x`).
    fn imports() -> BTreeMap<String, BTreeSet<String>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut modules = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).expect("src/") {
            let path = entry.expect("entry").path();
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            if path.extension().is_some_and(|e| e == "rs") && name != "lib" {
                let text = std::fs::read_to_string(&path).expect("source");
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                let names: BTreeSet<String> = code
                    .match_indices("crate::")
                    .map(|(i, _)| {
                        code[i + 7..]
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect()
                    })
                    .filter(|m: &String| m != name)
                    .collect();
                modules.insert(name.to_owned(), names);
            }
        }
        let known: BTreeSet<String> = modules.keys().cloned().collect();
        for names in modules.values_mut() {
            names.retain(|n| known.contains(n));
        }
        modules
    }

    #[test]
    fn the_steps_import_forward_only_and_nothing_cycles() {
        let graph = imports();
        let steps = ["plan", "probe", "fetch", "judge"];
        for (i, step) in steps.iter().enumerate() {
            let uses = &graph[*step];
            for later in &steps[i + 1..] {
                assert!(!uses.contains(*later), "{step} imports {later}: {uses:?}");
            }
            assert!(!uses.contains("checker"), "{step} imports checker");
        }
        for (module, uses) in &graph {
            if module != "checker" {
                assert!(!uses.contains("checker"), "{module} imports checker");
            }
        }
        // No cycle: repeatedly remove the modules that import nothing left.
        let mut left = graph.clone();
        while !left.is_empty() {
            let leaves: Vec<String> = left
                .iter()
                .filter(|(_, uses)| uses.iter().all(|u| !left.contains_key(u)))
                .map(|(m, _)| m.clone())
                .collect();
            assert!(!leaves.is_empty(), "an import cycle among {left:?}");
            for leaf in leaves {
                left.remove(&leaf);
            }
        }
        assert!(graph.len() >= 10, "{graph:?}");
    }
}
