//! Generated credentials, as templates.
//!
//! A [`SecretTemplate`] says which keys a Secret has and how each value is made, but holds no
//! generated value. The apply step turns it into a Secret with [`SecretTemplate::materialize`]
//! only when the Secret does not exist yet, with a CSPRNG ([`Csprng`]); `render` uses
//! [`Placeholder`]. So a reconcile can never overwrite a password: there is nothing to apply.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rand::Rng;
use rand::distr::Alphanumeric;
use storefleet_types::names::{Component, child, secret_keys as keys};

use super::child_meta;
use crate::validate::{App, ValidatedStore};

/// Name of the shop's admin user.
pub const ADMIN_USERNAME: &str = "storeadmin";
/// Name of the database and of its application user.
pub const DATABASE_NAME: &str = "wordpress";
/// Length of generated passwords (alphanumeric: about 190 bits).
pub const PASSWORD_LEN: usize = 32;
/// Length of generated WordPress keys and salts.
pub const SALT_LEN: usize = 64;
/// What `render` shows instead of a generated value.
pub const PLACEHOLDER: &str = "<generated-once-by-storefleet-operator>";

/// How one value of a Secret is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A value known from the spec (user names, e-mail).
    Fixed(String),
    /// A random alphanumeric string of this length.
    Generated(usize),
}

/// A Secret whose generated values are made once, when it is first created.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretTemplate {
    /// Name, namespace, labels, ownerReference.
    pub metadata: ObjectMeta,
    /// Keys and how their values are made.
    pub values: BTreeMap<String, Value>,
}

/// Where generated values come from.
pub trait SecretValues {
    /// A fresh value of `len` characters.
    fn generate(&mut self, len: usize) -> String;
}

/// Cryptographically secure random values (the OS-seeded ChaCha thread RNG).
#[derive(Debug, Default)]
pub struct Csprng;

impl SecretValues for Csprng {
    fn generate(&mut self, len: usize) -> String {
        rand::rng()
            .sample_iter(&Alphanumeric)
            .take(len)
            .map(char::from)
            .collect()
    }
}

/// A fixed placeholder: for `render`, which must be deterministic and must never show a secret.
#[derive(Debug, Default)]
pub struct Placeholder;

impl SecretValues for Placeholder {
    fn generate(&mut self, _len: usize) -> String {
        PLACEHOLDER.into()
    }
}

impl SecretTemplate {
    /// The Secret's name.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// The Secret to create, with values from `source`.
    pub fn materialize(&self, source: &mut dyn SecretValues) -> Secret {
        let string_data = self
            .values
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::Fixed(s) => s.clone(),
                    Value::Generated(len) => source.generate(*len),
                };
                (k.clone(), value)
            })
            .collect();
        Secret {
            metadata: self.metadata.clone(),
            type_: Some("Opaque".into()),
            string_data: Some(string_data),
            immutable: None,
            data: None,
        }
    }
}

fn template(store: &ValidatedStore, name: &str, values: &[(&str, Value)]) -> SecretTemplate {
    SecretTemplate {
        metadata: child_meta(store, name, Component::Credentials),
        values: values
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

/// The three Secrets of a WooCommerce store: database, admin login (the credentials Secret the
/// API may read), WordPress salts.
pub fn build_secret_templates(store: &ValidatedStore) -> Vec<SecretTemplate> {
    let fixed = |s: &str| Value::Fixed(s.to_string());
    let salts: Vec<(&str, Value)> = keys::WORDPRESS_SALTS
        .iter()
        .map(|k| (*k, Value::Generated(SALT_LEN)))
        .collect();
    let admin = template(
        store,
        child::ADMIN_SECRET,
        &[
            // WordPress logins take a user name; Medusa's admin logs in with the e-mail.
            (
                keys::ADMIN_USER,
                match store.app {
                    App::Woocommerce(_) => fixed(ADMIN_USERNAME),
                    App::Medusa(_) => fixed(&store.setup.admin_email),
                },
            ),
            (keys::ADMIN_PASSWORD, Value::Generated(PASSWORD_LEN)),
            (
                keys::ADMIN_EMAIL,
                Value::Fixed(store.setup.admin_email.clone()),
            ),
        ],
    );
    match store.app {
        App::Woocommerce(_) => vec![
            template(
                store,
                child::DATABASE_SECRET,
                &[
                    (keys::DB_ROOT_PASSWORD, Value::Generated(PASSWORD_LEN)),
                    (keys::DB_USER, fixed(DATABASE_NAME)),
                    (keys::DB_PASSWORD, Value::Generated(PASSWORD_LEN)),
                    (keys::DB_NAME, fixed(DATABASE_NAME)),
                ],
            ),
            admin,
            template(store, child::SALTS_SECRET, &salts),
        ],
        // PostgreSQL's superuser (`postgres`, its password `root-password`) only sets the
        // database up; the application's user owns its database and is no superuser.
        App::Medusa(_) => vec![
            template(
                store,
                child::DATABASE_SECRET,
                &[
                    (keys::DB_ROOT_PASSWORD, Value::Generated(PASSWORD_LEN)),
                    (keys::DB_USER, fixed(super::medusa::DATABASE_NAME)),
                    (keys::DB_PASSWORD, Value::Generated(PASSWORD_LEN)),
                    (keys::DB_NAME, fixed(super::medusa::DATABASE_NAME)),
                ],
            ),
            admin,
            template(
                store,
                child::MEDUSA_SECRET,
                &[
                    (keys::JWT_SECRET, Value::Generated(SALT_LEN)),
                    (keys::COOKIE_SECRET, Value::Generated(SALT_LEN)),
                    (keys::REDIS_PASSWORD, Value::Generated(PASSWORD_LEN)),
                ],
            ),
        ],
    }
}
