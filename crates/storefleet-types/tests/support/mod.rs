//! Admission as the apiserver does it, for the CRDs' tests: the OpenAPI schema through a
//! JSON-schema validator, then the CEL rules (`x-kubernetes-validations`) through kube's
//! client-side CEL evaluator.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

/// The schema of the CRD's (only) version.
pub fn schema(crd: &CustomResourceDefinition) -> Value {
    let version = &crd.spec.versions[0];
    serde_json::to_value(
        version
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("the derived CRD has a schema"),
    )
    .expect("schema serializes")
}

/// Schema first, then CEL. Returns every message.
pub fn admit(schema: &Value, object: &Value, old: Option<&Value>) -> Result<(), Vec<String>> {
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(schema)
        .expect("the CRD schema compiles as JSON schema");
    let mut errors: Vec<String> = validator
        .iter_errors(object)
        .map(|e| format!("{}: {}", e.instance_path(), e))
        .collect();
    if errors.is_empty()
        && let Err(cel) = kube::core::cel::Validator::new().validate(schema, object, old)
    {
        errors.extend(cel.into_vec().into_iter().map(|e| e.to_string()));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
