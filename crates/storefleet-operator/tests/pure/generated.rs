//! Generated files must match the code: the CRD in `crd/` and the rendered examples in
//! `examples/rendered/`. Run `make crd render` (or set `UPDATE_GOLDEN=1`) to regenerate.

use std::path::{Path, PathBuf};
use std::process::Command;

use kube::CustomResourceExt;
use storefleet_operator::config::OperatorConfig;
use storefleet_operator::render;
use storefleet_types::Store;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Compares `actual` with the committed file; rewrites it when `UPDATE_GOLDEN=1`.
fn check_golden(path: &Path, actual: &str) {
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (run `make render crd`)",
            path.display()
        )
    });
    if expected != actual {
        let first_diff = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "length differs".to_string(),
                |i| format!("first difference at line {}", i + 1),
            );
        panic!(
            "{} is out of date ({first_diff}); run `make crd render` and commit the result",
            path.display()
        );
    }
}

#[test]
fn crd_file_matches_the_types() {
    let yaml = serde_saphyr::to_string(&Store::crd()).expect("crd serializes");
    check_golden(&repo_root().join("crd/storefleet.io_stores.yaml"), &yaml);
    let yaml = serde_saphyr::to_string(&storefleet_types::StoreRollout::crd()).expect("crd");
    check_golden(
        &repo_root().join("crd/storefleet.io_storerollouts.yaml"),
        &yaml,
    );
}

/// Formats the apiserver knows; any other one draws a warning on every apply of the CRD.
const KUBERNETES_FORMATS: &[&str] = &[
    "int32",
    "int64",
    "float",
    "double",
    "byte",
    "date",
    "date-time",
    "password",
    "int-or-string",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "duration",
];

fn formats(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(o) => {
            if let Some(f) = o.get("format").and_then(|f| f.as_str()) {
                out.push(f.to_string());
            }
            o.values().for_each(|v| formats(v, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| formats(v, out)),
        _ => {}
    }
}

#[test]
fn the_crd_uses_only_formats_kubernetes_knows() {
    let mut found = Vec::new();
    for crd in [
        serde_json::to_value(Store::crd()).expect("crd"),
        serde_json::to_value(storefleet_types::StoreRollout::crd()).expect("crd"),
    ] {
        formats(&crd["spec"]["versions"], &mut found);
    }
    let unknown: Vec<_> = found
        .iter()
        .filter(|f| !KUBERNETES_FORMATS.contains(&f.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "formats the apiserver warns about: {unknown:?}"
    );
}

/// The configuration the examples are rendered with (`make render`).
fn examples_config() -> OperatorConfig {
    let text = std::fs::read_to_string(repo_root().join("examples/config/operator-config.yaml"))
        .expect("examples/config/operator-config.yaml");
    OperatorConfig::from_yaml(&text).expect("valid config")
}

#[test]
fn rendered_examples_match() {
    for example in ["minimal", "production", "medusa"] {
        let root = repo_root();
        let source = std::fs::read_to_string(root.join(format!("examples/{example}.yaml")))
            .expect("example exists");
        let store = render::parse_store(&source).expect("example is a Store");
        let output = render::render(&store, &examples_config()).expect("example renders");
        check_golden(
            &root.join(format!("examples/rendered/{example}.yaml")),
            &output,
        );
    }
}

#[test]
fn every_example_renders() {
    // Every example, with or without a golden file, parses as a Store, or as a StoreRollout
    // with no field its type does not know (a misspelled one would be dropped).
    for entry in std::fs::read_dir(repo_root().join("examples")).expect("examples dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).expect("readable");
            if text.contains("\nkind: StoreRollout") {
                let raw: serde_json::Value = serde_saphyr::from_str(&text).expect("yaml");
                let typed: storefleet_types::StoreRollout = serde_json::from_value(raw.clone())
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let again = serde_json::to_value(&typed).expect("json");
                assert_eq!(again["spec"], raw["spec"], "{}", path.display());
                continue;
            }
            render::parse_store(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn render_is_deterministic_and_shows_no_secret() {
    let store = Store::test();
    let config = OperatorConfig::default();
    let a = render::render(&store, &config).expect("renders");
    let b = render::render(&store, &config).expect("renders");
    assert_eq!(a, b);
    let secrets: Vec<&str> = a
        .split("---\n")
        .filter(|d| d.contains("kind: Secret"))
        .collect();
    assert_eq!(secrets.len(), 3);
    for doc in secrets {
        for line in doc
            .lines()
            .filter(|l| l.contains("password") || l.contains("_KEY") || l.contains("_SALT"))
        {
            let value = line.split_once(": ").map(|(_, v)| v).unwrap_or_default();
            assert_eq!(
                value,
                storefleet_operator::desired::secrets::PLACEHOLDER,
                "{line}"
            );
        }
    }
}

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_storefleet-operator"))
        .args(args)
        .current_dir(repo_root())
        .env_remove("STOREFLEET_CONFIG")
        .output()
        .expect("binary runs")
}

#[test]
fn cli_render_prints_the_golden_output() {
    let out = cli(&[
        "render",
        "-f",
        "examples/minimal.yaml",
        "--config",
        "examples/config/operator-config.yaml",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let golden = std::fs::read_to_string(repo_root().join("examples/rendered/minimal.yaml"))
        .expect("golden");
    // Compared without printing both (they are long): the first differing line says enough.
    let printed = String::from_utf8_lossy(&out.stdout);
    let first_diff = printed
        .lines()
        .zip(golden.lines())
        .position(|(a, b)| a != b);
    assert!(
        printed == golden,
        "render differs from the golden file (first differing line: {first_diff:?})"
    );
}

#[test]
fn cli_render_rejects_bad_input_with_the_reason() {
    let dir = std::env::temp_dir().join(format!("storefleet-render-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let cases = [
        (
            "medusa.yaml",
            "apiVersion: storefleet.io/v1alpha1\nkind: Store\nmetadata: {name: m}\nspec: {engine: medusa, owner: bob, setup: {theme: storefront}}\n",
            "spec.setup.theme: is a WooCommerce setting",
        ),
        (
            "badname.yaml",
            "apiVersion: storefleet.io/v1alpha1\nkind: Store\nmetadata: {name: Bad_Name}\nspec: {engine: woocommerce, owner: bob}\n",
            "invalid store name",
        ),
        (
            "pod.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
            "expected apiVersion storefleet.io/v1alpha1",
        ),
        (
            // Every problem at once, not the first one only.
            "several.yaml",
            "apiVersion: storefleet.io/v1alpha1\nkind: Store\nmetadata: {name: a}\nspec: {engine: woocommerce, owner: bob, domain: b.shop.local, ingress: {}, gateway: {}, setup: {currency: usd}}\n",
            "3 problems: spec.domain: \"b.shop.local\" is not allowed for this store",
        ),
        (
            "typo.yaml",
            "apiVersion: storefleet.io/v1alpha1\nkind: Store\nmetadata: {name: a}\nspec: {engine: woocommerce, owner: bob, plan: huge}\n",
            "spec.plan",
        ),
    ];
    for (file, content, needle) in cases {
        let path = dir.join(file);
        std::fs::write(&path, content).expect("write");
        let out = cli(&["render", "-f", path.to_str().expect("utf-8 path")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file} must fail");
        assert!(
            out.stdout.is_empty(),
            "{file}: nothing may be printed on failure"
        );
        assert!(
            stderr.contains(needle),
            "{file}: expected {needle:?} in {stderr}"
        );
    }
    let bad_config = dir.join("config.yaml");
    std::fs::write(&bad_config, "ingress:\n  clasName: x\n").expect("write");
    let out = cli(&[
        "render",
        "-f",
        "examples/minimal.yaml",
        "--config",
        bad_config.to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ingress"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn cli_crd_matches_the_committed_file() {
    for (kind, file) in [
        ("store", "crd/storefleet.io_stores.yaml"),
        ("storerollout", "crd/storefleet.io_storerollouts.yaml"),
    ] {
        let out = cli(&["crd", "--kind", kind]);
        assert!(out.status.success());
        let committed = std::fs::read_to_string(repo_root().join(file)).expect("crd file");
        assert_eq!(String::from_utf8_lossy(&out.stdout), committed, "{file}");
    }
}

/// `render` is as strict as `kubectl apply` with strict field validation: a misspelled field,
/// an empty file and several documents are refused with a message that says which.
#[test]
fn render_input_is_strict() {
    let minimal = std::fs::read_to_string(repo_root().join("examples/minimal.yaml"))
        .expect("examples/minimal.yaml");
    let misspelled = format!("{minimal}  plna: large\n");
    let err = render::parse_store(&misspelled).expect_err("plna is not a field");
    assert!(
        err.to_string().contains("unknown field(s): spec.plna"),
        "{err}"
    );
    let nested = minimal.replace("spec:\n", "spec:\n  setup:\n    sampleProduct: 3\n");
    let err = render::parse_store(&nested).expect_err("nested typo");
    assert!(
        err.to_string().contains("spec.setup.sampleProduct"),
        "{err}"
    );

    for empty in ["", "\n", "# only a comment\n", "---\n"] {
        let err = render::parse_store(empty).expect_err("empty");
        assert!(
            err.to_string().contains("the file is empty"),
            "{empty:?}: {err}"
        );
    }
    let two = format!("{minimal}---\n{minimal}");
    let err = render::parse_store(&two).expect_err("two documents");
    assert!(err.to_string().contains("2 documents"), "{err}");
    assert!(!err.to_string().contains("from_str_multiple"), "{err}");
    // A leading separator and comments are one document.
    render::parse_store(&format!("# a store\n---\n{minimal}")).expect("one document");
}
