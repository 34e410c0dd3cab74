//! Fluent test fixtures: `Store::test().with_plan(Plan::Medium)`.
//!
//! Available to this crate's tests and, with the `testing` feature, to the other crates' tests.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::spec::{
    DeletionPolicy, Engine, GatewaySpec, IngressSpec, Plan, SetupSpec, StorageSpec, Store,
    StoreSpec, TlsSpec,
};

/// UID given to fixture Stores, as the apiserver would.
pub const TEST_UID: &str = "6f1e0c2a-4b8d-4f1e-9a51-2c7d3e8f9b10";

impl Store {
    /// A minimal valid Store named `alice`, owned by `alice@example.com`, as the apiserver would
    /// return it (uid and generation set).
    pub fn test() -> Self {
        let mut store = Store::new(
            "alice",
            StoreSpec {
                engine: Engine::Woocommerce,
                owner: "alice@example.com".into(),
                plan: Plan::Small,
                display_name: None,
                domain: None,
                ingress: None,
                gateway: None,
                tls: None,
                storage: None,
                versions: None,
                setup: None,
                backup: None,
                restore_from: None,
                deletion_policy: DeletionPolicy::Delete,
                hibernate: false,
            },
        );
        store.metadata.uid = Some(TEST_UID.into());
        store.metadata.generation = Some(1);
        store
    }

    /// Renames the store.
    pub fn with_name(mut self, name: &str) -> Self {
        self.metadata.name = Some(name.into());
        self
    }

    /// Sets the engine.
    pub fn with_engine(mut self, engine: Engine) -> Self {
        self.spec.engine = engine;
        self
    }

    /// Sets the owner.
    pub fn with_owner(mut self, owner: &str) -> Self {
        self.spec.owner = owner.into();
        self
    }

    /// Sets the plan.
    pub fn with_plan(mut self, plan: Plan) -> Self {
        self.spec.plan = plan;
        self
    }

    /// Sets a custom domain.
    pub fn with_domain(mut self, domain: &str) -> Self {
        self.spec.domain = Some(domain.into());
        self
    }

    /// Sets the display name.
    pub fn with_display_name(mut self, name: &str) -> Self {
        self.spec.display_name = Some(name.into());
        self
    }

    /// Enables TLS through a cert-manager ClusterIssuer.
    pub fn with_cluster_issuer(mut self, issuer: &str) -> Self {
        self.spec.tls = Some(TlsSpec {
            cluster_issuer: Some(issuer.into()),
            secret_name: None,
        });
        self
    }

    /// Enables TLS with an existing Secret.
    pub fn with_tls_secret(mut self, secret: &str) -> Self {
        self.spec.tls = Some(TlsSpec {
            cluster_issuer: None,
            secret_name: Some(secret.into()),
        });
        self
    }

    /// Sets the TLS block as given.
    pub fn with_tls(mut self, tls: TlsSpec) -> Self {
        self.spec.tls = Some(tls);
        self
    }

    /// Sets the ingress block.
    pub fn with_ingress(mut self, ingress: IngressSpec) -> Self {
        self.spec.ingress = Some(ingress);
        self
    }

    /// Routes the store through a Gateway (`{}`: the operator's default).
    pub fn with_gateway(mut self, gateway: GatewaySpec) -> Self {
        self.spec.gateway = Some(gateway);
        self
    }

    /// Sets both volume sizes.
    pub fn with_sizes(mut self, database: &str, storefront: &str) -> Self {
        let storage = self.spec.storage.get_or_insert_with(StorageSpec::default);
        storage.database_size = Some(Quantity(database.into()));
        storage.storefront_size = Some(Quantity(storefront.into()));
        self
    }

    /// Sets the StorageClass of both volumes.
    pub fn with_storage_class(mut self, class: &str) -> Self {
        let storage = self.spec.storage.get_or_insert_with(StorageSpec::default);
        storage.storage_class_name = Some(class.into());
        self
    }

    /// Sets the setup block.
    pub fn with_setup(mut self, setup: SetupSpec) -> Self {
        self.spec.setup = Some(setup);
        self
    }

    /// Sets the deletion policy.
    pub fn with_deletion_policy(mut self, policy: DeletionPolicy) -> Self {
        self.spec.deletion_policy = policy;
        self
    }

    /// Sets `metadata.generation`.
    pub fn with_generation(mut self, generation: i64) -> Self {
        self.metadata.generation = Some(generation);
        self
    }
}
