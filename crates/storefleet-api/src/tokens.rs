//! Bearer tokens: a YAML file of `{token, user, role}`, mounted from a Secret, reloaded when it
//! changes, and compared in constant time.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees and touches only stores whose `spec.owner` is its user.
    Tenant,
    /// Sees all stores.
    Admin,
}

/// One entry of the tokens file.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// The bearer token.
    pub token: String,
    /// The user it stands for (the `spec.owner` of its stores).
    pub user: String,
    /// Its role.
    pub role: Role,
}

impl std::fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEntry")
            .field("user", &self.user)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// User name.
    pub user: String,
    /// Role.
    pub role: Role,
    /// Which entry of the file authenticated it (for per-token rate limits; not the token).
    pub token_index: usize,
}

impl Caller {
    /// Whether the caller may see a store owned by `owner`.
    pub fn may_see(&self, owner: &str) -> bool {
        self.role == Role::Admin || self.user == owner
    }
}

/// Why a tokens file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokensError {
    /// Unreadable.
    #[error("cannot read tokens file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a list of entries.
    #[error("tokens file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong (never a token).
        message: String,
    },
}

/// Parses and checks a tokens file's text.
pub fn parse(text: &str, path: &str) -> Result<Vec<TokenEntry>, TokensError> {
    let entries: Vec<TokenEntry> =
        serde_saphyr::from_str(text).map_err(|e| TokensError::Parse {
            path: path.into(),
            message: format!("expected a list of {{token, user, role}}: {e}"),
        })?;
    for (i, e) in entries.iter().enumerate() {
        if e.token.len() < 16 {
            return Err(TokensError::Parse {
                path: path.into(),
                message: format!(
                    "entry {i} ({}): token must be at least 16 characters",
                    e.user
                ),
            });
        }
        if storefleet_types::names::owner::check(&e.user).is_err() {
            return Err(TokensError::Parse {
                path: path.into(),
                message: format!("entry {i}: user must be 1 to 254 characters without spaces"),
            });
        }
    }
    Ok(entries)
}

/// Constant-time equality of two byte strings (time depends only on their lengths).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0xff);
        diff |= x ^ y;
    }
    diff == 0
}

/// The current tokens, shared and reloadable.
#[derive(Debug, Clone)]
pub struct Tokens {
    entries: Arc<RwLock<Vec<TokenEntry>>>,
}

impl Tokens {
    /// From entries (tests, benches).
    pub fn from_entries(entries: Vec<TokenEntry>) -> Self {
        Self {
            entries: Arc::new(RwLock::new(entries)),
        }
    }

    /// Loads a file.
    pub fn load(path: &Path) -> Result<Self, TokensError> {
        Ok(Self::from_entries(read(path)?))
    }

    /// Who `token` is. Every entry is compared, in constant time, so the answer takes as long
    /// whichever entry (if any) matches.
    pub fn authenticate(&self, token: &str) -> Option<Caller> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut found = None;
        for (i, e) in entries.iter().enumerate() {
            if constant_time_eq(e.token.as_bytes(), token.as_bytes()) && found.is_none() {
                found = Some(Caller {
                    user: e.user.clone(),
                    role: e.role,
                    token_index: i,
                });
            }
        }
        found
    }

    /// Replaces the entries.
    pub fn replace(&self, entries: Vec<TokenEntry>) {
        *self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = entries;
    }

    /// Reloads `path` whenever its modification time changes (a mounted Secret is updated by
    /// swapping a symlink, which changes it too). A bad file is logged and the old tokens stay.
    pub fn watch(&self, path: PathBuf, every: Duration) -> tokio::task::JoinHandle<()> {
        let tokens = self.clone();
        // Taken now, not when the task first runs, so a change made meanwhile is not missed.
        let mut last = modified(&path);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let now = modified(&path);
                if now == last {
                    continue;
                }
                last = now;
                match read(&path) {
                    Ok(entries) => {
                        tracing::info!(entries = entries.len(), "tokens file reloaded");
                        tokens.replace(entries);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "tokens file not reloaded; keeping the previous tokens")
                    }
                }
            }
        })
    }
}

fn read(path: &Path) -> Result<Vec<TokenEntry>, TokensError> {
    let text = std::fs::read_to_string(path).map_err(|source| TokensError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "- {token: tenant-token-0123456789, user: alice, role: tenant}\n- {token: admin-token-0123456789, user: ops, role: admin}\n";

    #[test]
    fn authenticates_by_token() {
        let tokens = Tokens::from_entries(parse(FILE, "t").expect("valid"));
        let alice = tokens
            .authenticate("tenant-token-0123456789")
            .expect("alice");
        assert_eq!(
            (alice.user.as_str(), alice.role, alice.token_index),
            ("alice", Role::Tenant, 0)
        );
        assert!(alice.may_see("alice") && !alice.may_see("bob"));
        let ops = tokens.authenticate("admin-token-0123456789").expect("ops");
        assert!(ops.may_see("anyone"));
        assert!(tokens.authenticate("tenant-token-012345678").is_none());
        assert!(tokens.authenticate("").is_none());
    }

    #[test]
    fn bad_files_are_rejected_without_echoing_tokens() {
        let short = parse("- {token: short, user: a, role: tenant}\n", "t")
            .expect_err("short")
            .to_string();
        assert!(
            short.contains("at least 16") && !short.contains("short,"),
            "{short}"
        );
        assert!(
            parse(
                "- {token: aaaaaaaaaaaaaaaaaaaa, user: a, role: root}\n",
                "t"
            )
            .is_err()
        );
        assert!(
            parse(
                "- {token: aaaaaaaaaaaaaaaaaaaa, user: a, role: tenant, extra: 1}\n",
                "t"
            )
            .is_err()
        );
        assert!(parse("token: x\n", "t").is_err());
        let debug = format!("{:?}", parse(FILE, "t").expect("valid"));
        assert!(!debug.contains("tenant-token"), "{debug}");
    }

    #[test]
    fn constant_time_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }

    #[tokio::test]
    async fn reloads_when_the_file_changes() {
        let dir = std::env::temp_dir().join(format!("storefleet-tokens-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("tokens.yaml");
        std::fs::write(&path, FILE).expect("write");
        let tokens = Tokens::load(&path).expect("load");
        let task = tokens.watch(path.clone(), Duration::from_millis(20));
        assert!(tokens.authenticate("tenant-token-0123456789").is_some());
        std::thread::sleep(Duration::from_millis(1100)); // mtime granularity
        std::fs::write(
            &path,
            "- {token: rotated-token-0123456789, user: alice, role: tenant}\n",
        )
        .expect("write");
        let mut rotated = false;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if tokens.authenticate("rotated-token-0123456789").is_some() {
                rotated = true;
                break;
            }
        }
        assert!(rotated, "new token accepted after reload");
        assert!(
            tokens.authenticate("tenant-token-0123456789").is_none(),
            "old token revoked"
        );
        task.abort();
        std::fs::remove_dir_all(&dir).ok();
    }
}
