//! Per-run keys and certificates: a CA, the apiserver's serving certificate for 127.0.0.1 signed
//! by it, and the ServiceAccount token signing key. Nothing is reused between runs.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::Error;

/// The files the control plane reads.
#[derive(Debug, Clone)]
pub struct Pki {
    /// CA certificate (PEM): trusted by every client, `--client-ca-file`, `--root-ca-file`.
    pub ca_cert: PathBuf,
    /// CA certificate, PEM text.
    pub ca_pem: String,
    /// Serving certificate for 127.0.0.1 / localhost.
    pub serving_cert: PathBuf,
    /// Its key.
    pub serving_key: PathBuf,
    /// ServiceAccount token signing key (ECDSA P-256, PKCS#8 PEM).
    pub service_account_key: PathBuf,
    /// Its public key (PEM), which verifies the tokens.
    pub service_account_public_key: PathBuf,
}

fn pki_error(what: &str, e: rcgen::Error) -> Error {
    Error::Pki(format!("{what}: {e}"))
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|source| Error::Io {
        what: format!("write {}", path.display()),
        source,
    })
}

/// Generates everything into `dir`.
pub fn generate(dir: &Path) -> Result<Pki, Error> {
    let ca_key = KeyPair::generate().map_err(|e| pki_error("CA key", e))?;
    let mut ca_params =
        CertificateParams::new(Vec::<String>::new()).map_err(|e| pki_error("CA params", e))?;
    let mut ca_name = DistinguishedName::new();
    ca_name.push(DnType::CommonName, "storefleet-envtest-ca");
    ca_params.distinguished_name = ca_name;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .map_err(|e| pki_error("CA certificate", e))?;
    let ca_pem = ca_cert.pem();
    let issuer = Issuer::new(ca_params, &ca_key);

    let serving_key = KeyPair::generate().map_err(|e| pki_error("serving key", e))?;
    let mut serving = CertificateParams::new(vec!["localhost".to_string()])
        .map_err(|e| pki_error("serving params", e))?;
    serving
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::V4(
            std::net::Ipv4Addr::LOCALHOST,
        )));
    let mut serving_name = DistinguishedName::new();
    serving_name.push(DnType::CommonName, "kube-apiserver");
    serving.distinguished_name = serving_name;
    let serving_cert = serving
        .signed_by(&serving_key, &issuer)
        .map_err(|e| pki_error("serving certificate", e))?;

    let sa_key = KeyPair::generate().map_err(|e| pki_error("service account key", e))?;

    let pki = Pki {
        ca_cert: dir.join("ca.crt"),
        ca_pem: ca_pem.clone(),
        serving_cert: dir.join("apiserver.crt"),
        serving_key: dir.join("apiserver.key"),
        service_account_key: dir.join("sa.key"),
        service_account_public_key: dir.join("sa.pub"),
    };
    write(&pki.ca_cert, &ca_pem)?;
    write(&pki.serving_cert, &serving_cert.pem())?;
    write(&pki.serving_key, &serving_key.serialize_pem())?;
    write(&pki.service_account_key, &sa_key.serialize_pem())?;
    write(&pki.service_account_public_key, &sa_key.public_key_pem())?;
    Ok(pki)
}
