//! The Argo CD health check (`config/argocd/.../health.lua`) run through Lua 5.4.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn health_dir() -> PathBuf {
    root().join("config/argocd/storefleet.io/Store")
}

/// A JSON value as a Lua table constructor.
pub fn lua_literal(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Array(a) => format!(
            "{{{}}}",
            a.iter().map(lua_literal).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!(
                    "[{}] = {}",
                    lua_literal(&Value::String(k.clone())),
                    lua_literal(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Runs the Store's health.lua on an object; returns (status, message).
pub fn health(object: &Value) -> (String, String) {
    health_in(&health_dir(), object)
}

/// The health checks' folders, one per kind.
pub fn health_dirs() -> [PathBuf; 2] {
    let kinds = root().join("config/argocd/storefleet.io");
    [kinds.join("Store"), kinds.join("StoreRollout")]
}

/// Runs `dir`'s health.lua on an object; returns (status, message).
pub fn health_in(dir: &Path, object: &Value) -> (String, String) {
    let script = format!(
        "obj = {}\nlocal hs = dofile({})\nio.write(hs.status, \"\\n\", hs.message or \"\")\n",
        lua_literal(object),
        lua_literal(&Value::String(dir.join("health.lua").display().to_string()))
    );
    let out = Command::new("lua5.4")
        .args(["-e", &script])
        .output()
        .unwrap_or_else(|e| {
            panic!("lua5.4 is needed for this test (make test-deps installs it): {e}")
        });
    assert!(
        out.status.success(),
        "lua failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (status, message) = text.split_once('\n').unwrap_or((&text, ""));
    (status.to_string(), message.to_string())
}

/// Runs `lua` (with `obj` set to `object`) through Lua 5.4; its output.
pub fn run_lua(object: &Value, lua: &str) -> String {
    let script = format!("obj = {}\n{lua}", lua_literal(object));
    let out = Command::new("lua5.4")
        .args(["-e", &script])
        .output()
        .unwrap_or_else(|e| {
            panic!("lua5.4 is needed for this test (make test-deps installs it): {e}")
        });
    assert!(
        out.status.success(),
        "lua failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The resource actions' discovery on an object: (name, disabled), sorted by name.
pub fn discover_actions(object: &Value) -> Vec<(String, bool)> {
    let path = lua_literal(&Value::String(
        health_dir()
            .join("actions/discovery.lua")
            .display()
            .to_string(),
    ));
    let out = run_lua(
        object,
        &format!(
            "local actions = dofile({path})\nlocal names = {{}}\n\
             for name in pairs(actions) do names[#names + 1] = name end\n\
             table.sort(names)\n\
             for _, name in ipairs(names) do io.write(name, \" \", tostring(actions[name].disabled == true), \"\\n\") end\n"
        ),
    );
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(name, disabled)| (name.to_string(), disabled == "true"))
        .collect()
}

/// Runs the resource action `action` on an object; `spec.hibernate` of what it returns.
pub fn run_action_hibernate(object: &Value, action: &str) -> String {
    let path = lua_literal(&Value::String(
        health_dir()
            .join(format!("actions/{action}/action.lua"))
            .display()
            .to_string(),
    ));
    run_lua(
        object,
        &format!(
            "local o = dofile({path})
io.write(tostring(o.spec.hibernate))
"
        ),
    )
}

/// Runs the resource action `action` on an object; the annotations of what it returns.
pub fn run_action(object: &Value, action: &str) -> Vec<(String, String)> {
    let path = lua_literal(&Value::String(
        health_dir()
            .join(format!("actions/{action}/action.lua"))
            .display()
            .to_string(),
    ));
    let out = run_lua(
        object,
        &format!(
            "local o = dofile({path})\n\
             for k, v in pairs(o.metadata.annotations or {{}}) do io.write(k, \"=\", v, \"\\n\") end\n"
        ),
    );
    let mut annotations: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    annotations.sort();
    annotations
}
