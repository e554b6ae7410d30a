//! Checks of `.github/workflows/windows.yml`, the only place where the driver is built (GitHub's
//! Windows runners; these Linux machines have no WDK). A slip in that file shows up only after a
//! push, so it is read here with a YAML 1.2 parser (`yaml-rust2`) and checked for what the Windows
//! build depends on:
//!
//! * it parses (the parser's message names the line and column of a syntax slip);
//! * it runs on push and pull_request, with a read-only token;
//! * every job runs on Windows; every step has `uses` or `run`, never both;
//! * every third-party action is pinned to a full 40-hex commit, with the version in a comment;
//!   no step checks out another repository at a moving ref, and no local action is used that this
//!   repository does not contain (windows-drivers-rs's setup actions once came from its `main`);
//! * every tool comes at a pinned version: LLVM 17.x from Chocolatey (checked, and exported as
//!   LIBCLANG_PATH), the WDK and SDK NuGet packages at one exact 10.0.x.y (exported as
//!   WDKContentRoot and friends), cargo-make with `--locked --version`;
//! * `cargo make --locked` builds the matrix profile, with RUSTFLAGS cleared before it in the same
//!   step;
//! * the package check names the four package files and logbridge-ctl.exe (which `cargo make`
//!   puts in) and runs the app; the upload takes `target/<debug|release>/logbridge_package` of
//!   each profile;
//! * the workspace tests run with the fixed `PROPTEST_RNG_SEED` of `scripts/test.sh`, and clippy
//!   runs; proptest's regression files are in the repository.

// Test code may panic, index and do plain arithmetic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic,
    missing_docs
)]

use std::collections::BTreeMap;

use yaml_rust2::{Yaml, YamlLoader};

const WORKFLOW_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.github/workflows/windows.yml");

/// The files the cargo-make flow puts into the package folder that the workflow must check
/// (Makefile.toml adds logbridge-ctl.exe to wdk-build's four).
const PACKAGE_FILES: [&str; 5] =
    ["logbridge.sys", "logbridge.inf", "logbridge.cat", "logbridge.pdb", "logbridge-ctl.exe"];

/// The environment variables wdk-build reads to find a WDK that is not installed (NuGet).
const WDK_ENV: [&str; 5] = ["WDKContentRoot", "WDKBinRoot", "WDKToolRoot", "WindowsSdkBinPath", "Version_Number"];

/// Parses a workflow: exactly one YAML document whose root is a mapping. The error carries the
/// parser's message (with line and column) so that a syntax slip is easy to find.
fn parse_workflow(text: &str) -> Result<Yaml, String> {
    let mut documents = YamlLoader::load_from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    if documents.len() != 1 {
        return Err(format!("expected one YAML document, found {}", documents.len()));
    }
    let root = documents.remove(0);
    if !root.is_hash() {
        return Err(format!("the root of a workflow must be a mapping, found {root:?}"));
    }
    Ok(root)
}

fn workflow_text() -> String {
    std::fs::read_to_string(WORKFLOW_PATH).unwrap_or_else(|e| panic!("cannot read {WORKFLOW_PATH}: {e}"))
}

fn workflow() -> Yaml {
    parse_workflow(&workflow_text()).unwrap_or_else(|e| panic!("{WORKFLOW_PATH}: {e}"))
}

/// The text of a scalar (YAML 1.2 reads `17.0` as a float and `17` as an integer).
fn scalar(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn str_of<'a>(value: &'a Yaml, what: &str) -> &'a str {
    value.as_str().unwrap_or_else(|| panic!("{what} should be a string, found {value:?}"))
}

fn jobs(root: &Yaml) -> Vec<(String, &Yaml)> {
    let jobs = root["jobs"].as_hash().expect("the workflow has a `jobs` mapping");
    assert!(!jobs.is_empty(), "the workflow has no job");
    jobs.iter().map(|(name, job)| (str_of(name, "a job name").to_owned(), job)).collect()
}

fn steps(job: &Yaml) -> &[Yaml] {
    let steps = job["steps"].as_vec().expect("every job has a `steps` list");
    assert!(!steps.is_empty(), "a job without steps");
    steps
}

/// Every step of every job, with the job name and the step's index in its job.
fn all_steps(root: &Yaml) -> Vec<(String, usize, &Yaml)> {
    jobs(root)
        .into_iter()
        .flat_map(|(name, job)| steps(job).iter().enumerate().map(move |(i, step)| (name.clone(), i, step)))
        .collect()
}

/// "step N (name)", counting from 1 as the Actions log does.
fn step_label(step: &Yaml, index: usize) -> String {
    let number = index + 1;
    step["name"].as_str().map_or_else(|| format!("step {number}"), |name| format!("step {number} ({name})"))
}

fn run_of(step: &Yaml) -> Option<&str> {
    step["run"].as_str()
}

fn uses_of(step: &Yaml) -> Option<&str> {
    step["uses"].as_str()
}

/// The one step whose `uses` satisfies `matches`.
fn step_using<'a>(steps: &'a [Yaml], matches: impl Fn(&str) -> bool, what: &str) -> (usize, &'a Yaml) {
    let found: Vec<_> = steps.iter().enumerate().filter(|(_, s)| uses_of(s).is_some_and(&matches)).collect();
    assert_eq!(found.len(), 1, "expected exactly one step that uses {what}, found {}", found.len());
    found[0]
}

/// The first step whose `run` satisfies `matches`.
fn step_running<'a>(steps: &'a [Yaml], matches: impl Fn(&str) -> bool, what: &str) -> (usize, &'a Yaml) {
    steps
        .iter()
        .enumerate()
        .find(|(_, s)| run_of(s).is_some_and(&matches))
        .unwrap_or_else(|| panic!("no step runs {what}"))
}

/// The job that builds the driver: the one whose steps run `cargo make`.
fn driver_job(root: &Yaml) -> (String, &Yaml) {
    let mut found = jobs(root)
        .into_iter()
        .filter(|(_, job)| steps(job).iter().any(|s| run_of(s).is_some_and(|r| r.contains("cargo make"))));
    let job = found.next().expect("a job runs `cargo make`");
    assert!(found.next().is_none(), "more than one job runs `cargo make`");
    job
}

/// The matrix combinations of a job (`include` entries extend the combinations they match),
/// as key → value text. A job without a matrix has one empty combination.
fn matrix_combinations(job: &Yaml) -> Vec<BTreeMap<String, String>> {
    let Some(matrix) = job["strategy"]["matrix"].as_hash() else {
        return vec![BTreeMap::new()];
    };
    let mut combinations = vec![BTreeMap::new()];
    for (key, values) in matrix {
        let key = str_of(key, "a matrix key");
        if key == "include" || key == "exclude" {
            continue;
        }
        let values = values.as_vec().unwrap_or_else(|| panic!("matrix.{key} should be a list"));
        combinations = combinations
            .into_iter()
            .flat_map(|combination| {
                values.iter().map(move |value| {
                    let mut combination = combination.clone();
                    let text = scalar(value).unwrap_or_else(|| panic!("matrix.{key} has a non-scalar value"));
                    combination.insert(key.to_owned(), text);
                    combination
                })
            })
            .collect();
    }
    if let Some(includes) = matrix.get(&Yaml::String("include".to_owned())) {
        for include in includes.as_vec().expect("matrix.include should be a list") {
            let include: BTreeMap<String, String> = include
                .as_hash()
                .expect("a matrix.include entry should be a mapping")
                .iter()
                .map(|(k, v)| (str_of(k, "a matrix key").to_owned(), scalar(v).expect("a scalar matrix value")))
                .collect();
            let mut matched = false;
            for combination in &mut combinations {
                let original = combination.clone();
                let fits = include.iter().all(|(k, v)| original.get(k).is_none_or(|o| o == v));
                if fits {
                    matched = true;
                    combination.extend(include.clone());
                }
            }
            if !matched {
                combinations.push(include);
            }
        }
    }
    combinations
}

/// Replaces every `${{ matrix.<key> }}` of `text` by the combination's value.
fn expand_matrix(text: &str, combination: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").map(|e| start + e + 2).expect("an unterminated ${{ expression");
        let expression = rest[start + 3..end - 2].trim();
        match expression.strip_prefix("matrix.").and_then(|key| combination.get(key)) {
            Some(value) => out.push_str(value),
            None => out.push_str(&rest[start..end]),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A top-level key of the workflow. `on` is a string in YAML 1.2 (this parser), but a YAML 1.1
/// reader turns it into `true`; accept both.
fn top_level<'a>(root: &'a Yaml, key: &str) -> Option<&'a Yaml> {
    let hash = root.as_hash()?;
    hash.get(&Yaml::String(key.to_owned())).or_else(|| (key == "on").then(|| hash.get(&Yaml::Boolean(true))).flatten())
}

/// Cargo's output folder of a profile.
fn profile_dir(profile: &str) -> &str {
    if profile == "dev" { "debug" } else { profile }
}

#[test]
fn workflow_is_valid_yaml() {
    let root = workflow();
    for key in ["name", "on", "jobs"] {
        assert!(top_level(&root, key).is_some(), "the workflow has no top-level `{key}`");
    }
}

#[test]
fn workflow_runs_on_push_and_pull_request_with_a_read_only_token() {
    let root = workflow();
    let on = top_level(&root, "on").expect("the workflow has an `on` key");
    let events: Vec<String> = match on {
        Yaml::String(event) => vec![event.clone()],
        Yaml::Array(events) => events.iter().map(|e| str_of(e, "an event").to_owned()).collect(),
        Yaml::Hash(events) => events.keys().map(|e| str_of(e, "an event").to_owned()).collect(),
        other => panic!("`on` should be an event, a list or a mapping, found {other:?}"),
    };
    for event in ["push", "pull_request"] {
        assert!(events.iter().any(|e| e == event), "`on` lacks {event}: {events:?}");
    }

    assert_eq!(root["permissions"]["contents"].as_str(), Some("read"), "the workflow token should be read-only");
    for (name, job) in jobs(&root) {
        if let Some(permissions) = job["permissions"].as_hash() {
            for (scope, level) in permissions {
                assert_ne!(level.as_str(), Some("write"), "job {name} asks for {scope:?}: write");
            }
        }
    }
}

#[test]
fn every_job_runs_on_a_windows_runner() {
    let root = workflow();
    for (name, job) in jobs(&root) {
        let labels: Vec<String> = match &job["runs-on"] {
            Yaml::String(label) => {
                matrix_combinations(job).iter().map(|combination| expand_matrix(label, combination)).collect()
            }
            Yaml::Array(labels) => {
                vec![labels.iter().map(|l| str_of(l, "a runner label")).collect::<Vec<_>>().join(",")]
            }
            other => panic!("job {name}: `runs-on` should be a label or a list, found {other:?}"),
        };
        for label in labels {
            assert!(label.to_ascii_lowercase().contains("windows"), "job {name} runs on {label:?}, not Windows");
        }
    }
}

#[test]
fn every_step_has_uses_or_run_but_not_both() {
    let root = workflow();
    for (job, index, step) in all_steps(&root) {
        assert!(step.is_hash(), "job {job}, step {} is not a mapping: {step:?}", index + 1);
        let uses = !step["uses"].is_badvalue();
        let run = !step["run"].is_badvalue();
        let label = step_label(step, index);
        assert!(uses || run, "job {job}, {label} has neither `uses` nor `run`");
        assert!(!(uses && run), "job {job}, {label} has both `uses` and `run`");
        if uses {
            assert!(uses_of(step).is_some(), "job {job}, {label}: `uses` should be a string");
        }
        if run {
            assert!(run_of(step).is_some_and(|r| !r.trim().is_empty()), "job {job}, {label}: empty `run`");
        }
    }
}

/// Why a `uses:` reference is not acceptable, if it is not: a third-party action must be pinned to
/// a full commit (a tag or a branch can move under the workflow), a local action must exist here.
fn uses_problem(uses: &str) -> Option<String> {
    if let Some(local) = uses.strip_prefix("./") {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(local);
        let defined = ["action.yml", "action.yaml"].iter().any(|name| path.join(name).is_file());
        return (!defined).then(|| format!("{uses}: no such action in this repository"));
    }
    if uses.starts_with("docker://") {
        return Some(format!("{uses}: a docker action"));
    }
    let Some((action, reference)) = uses.split_once('@') else {
        return Some(format!("{uses} has no @ref"));
    };
    if action.split('/').count() < 2 || action.split('/').any(str::is_empty) {
        return Some(format!("{uses} is not owner/repo[/path]@ref"));
    }
    (!is_full_sha(reference)).then(|| format!("{uses} is not pinned to a full 40-hex commit SHA"))
}

fn is_full_sha(reference: &str) -> bool {
    reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn pin_rule_accepts_only_full_commits() {
    assert_eq!(uses_problem("actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803"), None);
    assert_eq!(uses_problem("owner/repo/path@d23441a48e516b6c34aea4fa41551a30e30af803"), None);
    for moving in ["actions/checkout@v4", "actions/checkout@main", "actions/checkout@d23441a", "actions/checkout"] {
        assert!(uses_problem(moving).is_some(), "{moving} must be refused");
    }
    assert!(uses_problem("./.github/actions/install-wdk").is_some(), "a local action that is not here");
    assert!(uses_problem("docker://alpine:3").is_some());
}

#[test]
fn every_action_is_pinned_to_a_commit_and_nothing_is_fetched_from_a_branch() {
    let root = workflow();
    for (job_name, job) in jobs(&root) {
        for (index, step) in steps(job).iter().enumerate() {
            let Some(uses) = uses_of(step) else { continue };
            let label = step_label(step, index);
            if let Some(problem) = uses_problem(uses) {
                panic!("job {job_name}, {label}: {problem}");
            }
            // A checkout of another repository (as windows-drivers-rs's setup actions once were,
            // from `main`) must name a commit too.
            if uses.starts_with("actions/checkout@") && !step["with"]["repository"].is_badvalue() {
                let reference = step["with"]["ref"].as_str().unwrap_or_default();
                assert!(
                    is_full_sha(reference),
                    "job {job_name}, {label} checks out {:?} at {reference:?}, not at a commit",
                    step["with"]["repository"]
                );
            }
        }
    }

    // A commit pin says which version it is, in a trailing comment (YAML drops comments, so this
    // reads the text).
    for line in workflow_text().lines() {
        let Some((_, uses)) = line.split_once("uses:") else { continue };
        let reference = uses.trim().split_once('@').map_or("", |(_, r)| r);
        if reference.len() >= 40 && is_full_sha(&reference[..40]) {
            assert!(line.contains(" # "), "a commit pin without a version comment: {line:?}");
        }
    }
}

/// The job's `env` value of `name`.
fn job_env(job: &Yaml, name: &str) -> String {
    scalar(&job["env"][name]).unwrap_or_else(|| panic!("the driver job's env has no {name}"))
}

#[test]
fn every_tool_comes_at_a_pinned_version() {
    let root = workflow();
    let (_, job) = driver_job(&root);
    let steps = steps(job);

    // The WDK: the NuGet packages at one exact version 10.0.<build>.<qfe>.
    let version = job_env(job, "WDK_NUGET_VERSION");
    let parts: Vec<&str> = version.split('.').collect();
    assert!(
        parts.len() == 4
            && parts[..2] == ["10", "0"]
            && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
        "WDK_NUGET_VERSION should be an exact 10.0.<build>.<qfe>, found {version:?}"
    );
    let (wdk_index, wdk) = step_running(steps, |r| r.contains("nuget install"), "`nuget install`");
    let run = run_of(wdk).unwrap();
    assert!(run.contains("nuget install $package -Version $env:WDK_NUGET_VERSION"), "{run}");
    for package in ["'Microsoft.Windows.WDK.x64'", "'Microsoft.Windows.SDK.CPP'", "'Microsoft.Windows.SDK.CPP.x64'"] {
        assert!(run.contains(package), "the WDK step does not install {package}");
    }
    for name in WDK_ENV {
        assert!(
            run.contains(&format!("{name} ")) || run.contains(&format!("{name}=")),
            "the WDK step does not export {name}"
        );
    }
    assert!(run.contains("$env:GITHUB_ENV"), "the WDK paths must reach the later steps (GITHUB_ENV)");

    // LLVM 17.x, checked after the install and exported for bindgen.
    let llvm_version = job_env(job, "LLVM_VERSION");
    assert!(llvm_version.starts_with("17.") && llvm_version.split('.').count() == 3, "LLVM 17.x.y: {llvm_version:?}");
    let (llvm_index, llvm) = step_running(steps, |r| r.contains("choco install llvm"), "`choco install llvm`");
    let run = run_of(llvm).unwrap();
    assert!(run.contains("--version $env:LLVM_VERSION") && run.contains("--allow-downgrade"), "{run}");
    assert!(run.contains("'clang.exe') --version") && run.contains("exit 1"), "the version is checked: {run}");
    assert!(run.contains("LIBCLANG_PATH=") && run.contains("$env:GITHUB_PATH"), "{run}");

    // cargo-make, locked at a version.
    let cargo_make_version = job_env(job, "CARGO_MAKE_VERSION");
    assert_eq!(cargo_make_version.split('.').count(), 3, "CARGO_MAKE_VERSION {cargo_make_version:?}");
    let (tool_index, tool) =
        step_running(steps, |r| r.contains("cargo install cargo-make"), "`cargo install cargo-make`");
    let run = run_of(tool).unwrap();
    assert!(run.contains("--locked") && run.contains("--version $env:CARGO_MAKE_VERSION"), "{run}");

    // All of them before the build.
    let (make, _) = step_running(steps, |r| r.contains("cargo make"), "`cargo make`");
    assert!(wdk_index < make && llvm_index < make && tool_index < make, "a tool is installed after `cargo make`");

    let (_, rust) = step_using(steps, |u| u.starts_with("dtolnay/rust-toolchain@"), "dtolnay/rust-toolchain");
    assert_eq!(rust["with"]["toolchain"].as_str(), Some("stable"), "cargo make runs +stable");
    let targets = rust["with"]["targets"].as_str().unwrap_or_default();
    assert!(targets.contains("x86_64-pc-windows-msvc"), "the msvc target is not installed: {targets:?}");
}

#[test]
fn cargo_make_is_locked_and_runs_after_rustflags_are_cleared() {
    let root = workflow();
    let (_, job) = driver_job(&root);
    let steps = steps(job);
    let (index, step) = step_running(steps, |r| r.contains("cargo make"), "`cargo make`");
    let run = run_of(step).unwrap();
    let label = step_label(step, index);

    let command = run.lines().find(|l| l.contains("cargo make")).unwrap();
    assert!(!command.trim_start().starts_with('#'), "{label}: `cargo make` is only in a comment");
    for argument in ["default", "--locked", "--profile ${{ matrix.profile }}"] {
        assert!(command.contains(argument), "{label}: `{}` lacks {argument}", command.trim());
    }

    // `$env:RUSTFLAGS = $null` lasts for its own step only, so it must come before `cargo make` in
    // the same `run` (or the step's `env` must set RUSTFLAGS to empty).
    let cleared_in_env = step["env"]["RUSTFLAGS"].as_str().is_some_and(str::is_empty);
    let cleared_in_run = run.lines().take_while(|l| !l.contains("cargo make")).any(|l| {
        let l = l.trim().to_ascii_lowercase().replace(' ', "");
        !l.starts_with('#') && (l.starts_with("$env:rustflags=$null") || l.starts_with("remove-itemenv:rustflags"))
    });
    assert!(cleared_in_env || cleared_in_run, "{label}: RUSTFLAGS is not cleared before `cargo make`");
}

#[test]
fn package_is_checked_then_uploaded_from_target_logbridge_package() {
    let root = workflow();
    let (_, job) = driver_job(&root);
    let steps = steps(job);
    let (make, _) = step_running(steps, |r| r.contains("cargo make"), "`cargo make`");
    let (check, check_step) = step_running(
        steps,
        |r| r.contains("logbridge_package") && PACKAGE_FILES.iter().all(|f| r.contains(f)),
        "a check of the package folder naming logbridge.sys, .inf, .cat and .pdb",
    );
    let (upload, upload_step) =
        step_using(steps, |u| u.starts_with("actions/upload-artifact@"), "actions/upload-artifact");
    assert!(make < check && check < upload, "the order should be cargo make, package check, upload");

    let with = &upload_step["with"];
    assert_eq!(with["if-no-files-found"].as_str(), Some("error"), "an empty upload should fail the job");
    let name = str_of(&with["name"], "the artifact name");
    assert!(name.contains("${{ matrix.profile }}"), "the artifact name {name:?} should include the profile");
    let path = str_of(&with["path"], "the artifact path");

    let combinations = matrix_combinations(job);
    let profiles: Vec<&str> = combinations.iter().filter_map(|c| c.get("profile").map(String::as_str)).collect();
    assert!(profiles.contains(&"dev") && profiles.contains(&"release"), "matrix profiles: {profiles:?}");
    for combination in &combinations {
        let profile = &combination["profile"];
        let expected = format!("target/{}/logbridge_package", profile_dir(profile));
        let uploaded = expand_matrix(path, combination).replace('\\', "/");
        assert_eq!(uploaded.trim_end_matches('/'), expected, "the {profile} upload path");
        let checked = expand_matrix(run_of(check_step).unwrap(), combination).replace('\\', "/");
        assert!(checked.contains(&expected), "the {profile} package check does not look in {expected}");
    }
}

#[test]
fn the_package_check_runs_the_logbridge_ctl_that_cargo_make_put_in() {
    let root = workflow();
    let (_, job) = driver_job(&root);
    let steps = steps(job);
    let (check, check_step) = step_running(steps, |r| PACKAGE_FILES.iter().all(|f| r.contains(f)), "the package check");
    let run = run_of(check_step).unwrap();
    assert!(run.contains("'logbridge-ctl.exe') --version"), "the check runs the app: {run}");
    // Built by the cargo-make flow (Makefile.toml) with the driver's profile, not a second time here.
    assert!(
        steps.iter().filter_map(run_of).all(|r| !r.contains("cargo build -p logbridge-ctl")),
        "logbridge-ctl is built by `cargo make`"
    );
    let (upload, _) = step_using(steps, |u| u.starts_with("actions/upload-artifact@"), "actions/upload-artifact");
    assert!(check < upload);
}

/// The seed `scripts/test.sh` exports when the caller sets none.
fn test_script_seed() -> Option<String> {
    let script = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test.sh")).unwrap();
    let line = script.lines().find(|l| l.starts_with("export PROPTEST_RNG_SEED="))?;
    let default = line.split(":-").nth(1)?.split('}').next()?;
    Some(default.to_owned())
}

#[test]
fn property_tests_are_reproducible_in_ci() {
    // scripts/test.sh (what .ci/run runs) fixes the seed before any cargo command, unless the caller
    // chose one; proptest 1.x reads PROPTEST_RNG_SEED as a u64.
    let script = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test.sh")).unwrap();
    let export = script.lines().position(|l| l.starts_with("export PROPTEST_RNG_SEED=\"${PROPTEST_RNG_SEED:-"));
    let first_cargo = script.lines().position(|l| l.trim_start().starts_with("cargo ") || l.contains("bash scripts/"));
    let (Some(export), Some(first_cargo)) = (export, first_cargo) else {
        panic!("scripts/test.sh must export PROPTEST_RNG_SEED=\"${{PROPTEST_RNG_SEED:-<seed>}}\" before running cargo");
    };
    assert!(export < first_cargo, "the seed is exported after the first cargo command");
    let seed = test_script_seed().unwrap();
    assert!(seed.parse::<u64>().is_ok(), "the default seed {seed:?} is not a u64");

    // The saved failures replay first whatever the seed; they must be in the repository.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let regressions = root.join("crates/logbridge-core/proptest-regressions/text.txt");
    let text = std::fs::read_to_string(&regressions).unwrap();
    assert!(text.lines().filter(|l| l.starts_with("cc ")).count() >= 2, "{text}");
    let gitignore = std::fs::read_to_string(root.join(".gitignore")).unwrap();
    for pattern in gitignore.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        assert!(
            !(pattern.contains("proptest") || pattern == "*.txt" || pattern.ends_with("regressions")),
            ".gitignore pattern {pattern:?} would hide proptest's regression files"
        );
    }
}

#[test]
fn workspace_tests_and_clippy_run() {
    let root = workflow();
    let (_, job) = driver_job(&root);
    let steps = steps(job);
    let command = |index: usize| run_of(&steps[index]).unwrap().lines().find(|l| l.contains("cargo ")).unwrap();

    let (tests, _) = step_running(
        steps,
        |r| r.lines().any(|l| !l.trim_start().starts_with('#') && l.contains("cargo test")),
        "`cargo test`",
    );
    for argument in ["--workspace", "--locked"] {
        assert!(command(tests).contains(argument), "`{}` lacks {argument}", command(tests).trim());
    }
    // Reproducible property tests: the seed scripts/test.sh uses.
    let seed = scalar(&steps[tests]["env"]["PROPTEST_RNG_SEED"]).expect("the test step sets PROPTEST_RNG_SEED");
    assert_eq!(Some(seed), test_script_seed(), "the workflow and scripts/test.sh use the same seed");

    let (clippy, _) = step_running(steps, |r| r.contains("cargo clippy"), "`cargo clippy`");
    let clippy = command(clippy);
    for argument in ["--workspace", "--all-targets", "--locked"] {
        assert!(clippy.contains(argument), "`{}` lacks {argument}", clippy.trim());
    }
    let lint_args = clippy.split_once(" -- ").map(|(_, l)| l).unwrap_or_default();
    assert!(lint_args.contains("-D warnings"), "`-D warnings` must follow `--` in `{}`", clippy.trim());
}

/// The syntax check itself: a step list item indented one column too far is rejected, and the
/// message says where.
#[test]
fn broken_yaml_is_rejected() {
    let broken = "\
on: push
jobs:
  build:
    runs-on: windows-2025
    steps:
      - name: Checkout
        uses: actions/checkout@v4
       - name: Build
        run: cargo build
";
    let error = parse_workflow(broken).expect_err("a mis-indented step list must not parse");
    assert!(error.contains("not valid YAML"), "{error}");
    assert!(error.contains("line 8"), "the message should name the line: {error}");

    // The same snippet, indented correctly, parses.
    let fixed = broken.replace("       - name: Build", "      - name: Build");
    let root = parse_workflow(&fixed).unwrap();
    assert_eq!(root["jobs"]["build"]["steps"].as_vec().map(Vec::len), Some(2));

    assert!(parse_workflow("- a list\n- is not a workflow\n").is_err());
    assert!(parse_workflow("on: push\n---\non: pull_request\n").is_err());
}
