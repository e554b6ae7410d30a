//! Checks of `.github/workflows/windows.yml`, the only place where the driver is built (GitHub's
//! Windows runners; these Linux machines have no WDK). A slip in that file shows up only after a
//! push, so it is read here with a YAML 1.2 parser (`yaml-rust2`) and checked for what the Windows
//! build depends on:
//!
//! * it parses (the parser's message names the line and column of a syntax slip);
//! * it runs on push and pull_request, with a read-only token;
//! * every job runs on Windows; every step has `uses` or `run`, never both;
//! * third-party actions are pinned (a 40-hex commit or a major tag), and the local
//!   `./.github/actions/...` (windows-drivers-rs's composite actions) are used only after the step
//!   that copies them in;
//! * the WDK 10.0.x comes from NuGet with the inputs `install-wdk` defines; LLVM is 17.x;
//! * `cargo make --locked` builds the matrix profile, with RUSTFLAGS cleared before it in the same
//!   step;
//! * the package check names the four package files and the upload takes
//!   `target/<debug|release>/logbridge_package` of each profile;
//! * the workspace tests and clippy run.

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

/// The inputs of windows-drivers-rs's `.github/actions/install-wdk/action.yaml`.
const INSTALL_WDK_INPUTS: [&str; 4] = ["version", "source", "host", "target"];

/// The files the cargo-make flow puts into the package folder that the workflow must check.
const PACKAGE_FILES: [&str; 4] = ["logbridge.sys", "logbridge.inf", "logbridge.cat", "logbridge.pdb"];

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

#[test]
fn third_party_actions_are_pinned_and_local_actions_are_copied_in_first() {
    let root = workflow();
    for (job_name, job) in jobs(&root) {
        let steps = steps(job);
        // The sparse checkout of windows-drivers-rs's actions, then the step that copies them in.
        let fetch = steps.iter().position(|s| {
            uses_of(s).is_some_and(|u| u.starts_with("actions/checkout@"))
                && s["with"]["repository"].as_str() == Some("microsoft/windows-drivers-rs")
                && s["with"]["sparse-checkout"].as_str().is_some_and(|p| p.contains(".github/actions"))
        });
        let copy = steps.iter().position(|s| {
            run_of(s).is_some_and(|r| {
                let r = r.replace('\\', "/");
                (r.contains("Copy-Item") || r.contains("cp ")) && r.contains("windows-drivers-rs/.github/actions")
            })
        });

        for (index, step) in steps.iter().enumerate() {
            let Some(uses) = uses_of(step) else { continue };
            let label = step_label(step, index);
            if let Some(local) = uses.strip_prefix("./") {
                assert!(
                    local.starts_with(".github/actions/"),
                    "job {job_name}, {label}: unexpected local action {uses}"
                );
                let fetch = fetch.unwrap_or_else(|| {
                    panic!("job {job_name}, {label} uses {uses}, but no step checks out windows-drivers-rs's actions")
                });
                let copy = copy.unwrap_or_else(|| {
                    panic!("job {job_name}, {label} uses {uses}, but no step copies windows-drivers-rs's actions in")
                });
                assert!(fetch < copy, "job {job_name}: the actions are copied before they are checked out");
                assert!(copy < index, "job {job_name}, {label} uses {uses} before the step that copies it in");
                continue;
            }
            assert!(!uses.starts_with("docker://"), "job {job_name}, {label}: docker action {uses}");
            let (action, reference) =
                uses.split_once('@').unwrap_or_else(|| panic!("job {job_name}, {label}: {uses} has no @ref"));
            assert!(
                action.split('/').count() >= 2 && action.split('/').all(|part| !part.is_empty()),
                "job {job_name}, {label}: {uses} is not owner/repo[/path]@ref"
            );
            let full_sha = reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit());
            let major_tag = reference
                .strip_prefix('v')
                .is_some_and(|major| !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()));
            assert!(
                full_sha || major_tag,
                "job {job_name}, {label}: {uses} is not pinned to a full commit SHA or a major tag (v<N>)"
            );
        }
    }

    // A commit pin says which version it is, in a trailing comment (YAML drops comments, so this
    // reads the text).
    for line in workflow_text().lines() {
        let Some((_, uses)) = line.split_once("uses:") else { continue };
        let reference = uses.trim().split_once('@').map_or("", |(_, r)| r);
        if reference.len() >= 40 && reference[..40].bytes().all(|b| b.is_ascii_hexdigit()) {
            assert!(line.contains(" # "), "a commit pin without a version comment: {line:?}");
        }
    }
}

#[test]
fn wdk_comes_from_nuget_10_0_and_llvm_is_17() {
    let root = workflow();
    let (_, job) = driver_job(&root);
    let steps = steps(job);

    let (_, wdk) = step_using(steps, |u| u.ends_with("/install-wdk"), "install-wdk");
    let with = wdk["with"].as_hash().expect("install-wdk has `with` inputs");
    for key in with.keys() {
        let key = str_of(key, "an input name");
        assert!(INSTALL_WDK_INPUTS.contains(&key), "install-wdk has no input {key:?}; it takes {INSTALL_WDK_INPUTS:?}");
    }
    assert_eq!(wdk["with"]["source"].as_str(), Some("nuget"), "the WDK should come from NuGet");
    let version = scalar(&wdk["with"]["version"]).expect("install-wdk has a version");
    let parts: Vec<&str> = version.split('.').collect();
    assert!(
        (3..=4).contains(&parts.len())
            && parts[..2] == ["10", "0"]
            && parts[2..].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
        "the WDK version should be 10.0.<build>[.<qfe>], found {version:?}"
    );
    for arch in ["host", "target"] {
        if let Some(value) = scalar(&wdk["with"][arch]) {
            assert!(["x64", "ARM64", "amd64", "arm64"].contains(&value.as_str()), "install-wdk {arch}: {value:?}");
        }
    }

    let (_, llvm) = step_using(steps, |u| u.ends_with("/install-llvm"), "install-llvm");
    let version = scalar(&llvm["with"]["version"]).expect("install-llvm has a version");
    assert!(version == "17" || version.starts_with("17."), "LLVM should be 17.x, found {version:?}");

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
fn logbridge_ctl_is_built_into_the_package_before_the_upload() {
    let root = workflow();
    let (_, job) = driver_job(&root);
    let steps = steps(job);
    let (check, _) = step_running(steps, |r| PACKAGE_FILES.iter().all(|f| r.contains(f)), "the package check");
    let (build, build_step) =
        step_running(steps, |r| r.contains("cargo build -p logbridge-ctl"), "`cargo build -p logbridge-ctl`");
    let (upload, _) = step_using(steps, |u| u.starts_with("actions/upload-artifact@"), "actions/upload-artifact");
    assert!(check < build && build < upload, "the app is built after the package check and before the upload");
    let run = run_of(build_step).unwrap();
    assert!(run.contains("--locked") && run.contains("--profile ${{ matrix.profile }}"), "{run}");
    for combination in matrix_combinations(job) {
        let expanded = expand_matrix(run, &combination).replace('\\', "/");
        let dir = profile_dir(&combination["profile"]);
        // `install` finds logbridge.inf next to the exe: the exe must land in the package folder.
        assert!(expanded.contains(&format!("target/{dir}/logbridge-ctl.exe")), "{expanded}");
        assert!(expanded.contains(&format!("target/{dir}/logbridge_package/")), "{expanded}");
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
