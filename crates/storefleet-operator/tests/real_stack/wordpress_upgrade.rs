//! A real WordPress and WooCommerce upgrade, as a store's new `spec.versions` makes it: WordPress
//! 6.8.3 + WooCommerce 9.9.5 to WordPress 7.0.4 + WooCommerce 10.0.2 (`upgrade/` of the
//! fixtures), on a files volume of the old layout (the whole docroot on the volume, as every
//! store made before core came from the image has it).
//!
//! The new storefront pod is reproduced as the kubelet and the image make it: an empty docroot,
//! the volume's `wp-content` mounted in it (a bind mount), and the official image's own
//! entrypoint (`docker-entrypoint-apache.sh`, run as www-data) copying WordPress from
//! `/usr/src/wordpress` (the new release, bind-mounted there in a private mount namespace) and
//! writing `wp-config.php` from the environment. Then the new setup Job's script runs with the
//! new Job's environment: its database updates move WordPress's and WooCommerce's database
//! versions, the orders placed before are all there, and it places and verifies a new order.
//! WooCommerce 10.0.2 is put where `wp plugin install --force` would put it (no internet here).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use storefleet_operator::desired;
use storefleet_operator::desired::woocommerce::setup::SCRIPT;
use storefleet_operator::validate::validate;
use storefleet_types::{PaymentMethod, SetupSpec, Store, VersionsSpec};

use crate::customer::Browser;

use crate::wordpress::{Shop, WWW_DATA, run, serve, start_shop, tier, woo};

/// A bind mount on this machine, undone on drop (pass or fail).
pub(crate) struct Bound(PathBuf);

impl Bound {
    fn new(from: &Path, to: &Path) -> Self {
        run(Command::new("mount").arg("--bind").arg(from).arg(to));
        Self(to.to_path_buf())
    }
}

impl Drop for Bound {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn versions(wordpress: &str, woocommerce: &str) -> Store {
    let mut store = Store::test().with_setup(SetupSpec {
        sample_products: Some(1),
        payment_methods: Some(vec![PaymentMethod::Cod]),
        ..SetupSpec::default()
    });
    store.spec.versions = Some(VersionsSpec {
        wordpress: Some(format!("{wordpress}-php8.3-apache")),
        woocommerce: Some(woocommerce.into()),
        ..VersionsSpec::default()
    });
    store
}

/// Puts `release` (an unpacked plugin) where `wp plugin install` puts WooCommerce.
fn place_woocommerce(content: &Path, release: &Path) {
    let target = content.join("plugins/woocommerce");
    std::fs::remove_dir_all(&target).expect("remove plugin");
    run(Command::new("cp").arg("-r").arg(release).arg(&target));
    run(Command::new("chown")
        .args(["-R", &format!("{WWW_DATA}:{WWW_DATA}")])
        .arg(&target));
}

/// The order ids of the shop, as WooCommerce lists them.
fn order_ids(shop: &Shop) -> Vec<String> {
    let ids = shop.wp(&[
        "eval",
        "echo implode(' ', wc_get_orders(['limit' => -1, 'return' => 'ids', 'status' => 'any']));",
    ]);
    let mut ids: Vec<String> = ids.split_whitespace().map(String::from).collect();
    ids.sort();
    ids
}

#[test]
fn a_new_wordpress_image_runs_its_core_and_the_setup_brings_the_database_to_it() {
    let Some(fixtures) = tier() else {
        return;
    };
    let upgrade = fixtures.join("upgrade");
    for needed in ["wordpress/wp-login.php", "woocommerce/woocommerce.php"] {
        if !upgrade.join(needed).exists() {
            println!(
                "skipped: no {} (hack/test-assets.sh unpacks it)",
                upgrade.join(needed).display()
            );
            return;
        }
    }
    for tool in ["unshare", "mount", "umount", "bash"] {
        if crate::wordpress::which(tool).is_none() {
            println!("skipped: {tool} is not installed");
            return;
        }
    }

    // Made at WordPress 6.8.3 + WooCommerce 9.9.5; the volume holds the whole docroot.
    let mut shop = start_shop(&fixtures, versions("6.8.3", "9.9.5"));
    let volume = shop.docroot.clone();
    place_woocommerce(&volume.join("wp-content"), &upgrade.join("woocommerce"));
    let out = shop.setup();
    assert!(out.status.success(), "setup at 6.8.3:\n{}", text(&out));
    assert_eq!(shop.wp(&["core", "version"]), "6.8.3");
    assert_eq!(shop.wp(&["option", "get", "db_version"]), "60421");
    assert_eq!(
        shop.wp(&["plugin", "get", "woocommerce", "--field=version"]),
        "9.9.5"
    );
    // A customer orders before the upgrade.
    {
        let (_php, port) = serve(&shop);
        let browser = customer(&shop, port);
        let (_, nonce) = browser.payment_methods();
        browser.order_with_cash_on_delivery(&nonce);
    }
    let before = order_ids(&shop);
    assert_eq!(
        before.len(),
        2,
        "the setup's test order and the customer's: {before:?}"
    );

    // The new versions: the storefront's new pod, from the 7.0.4 image.
    let newer = versions("7.0.4", "10.0.2");
    let validated = validate(&newer, &Default::default()).expect("valid");
    let objects = desired::build(&validated);
    place_woocommerce(&volume.join("wp-content"), &fixtures.join("woocommerce"));
    let (docroot, said, _content) = storefront_from_image(
        &shop,
        &fixtures,
        &upgrade.join("wordpress"),
        &volume,
        &objects,
    );
    assert!(
        said.contains("WordPress has been successfully copied"),
        "{said}"
    );
    assert!(said.contains("copying 'wp-config-docker.php'"), "{said}");
    assert!(
        said.contains("wp-content/plugins/akismet' exists") || said.contains("exists!"),
        "the volume's wp-content is kept: {said}"
    );
    shop.docroot = docroot.clone();
    assert_eq!(
        shop.wp(&["core", "version"]),
        "7.0.4",
        "the image's WordPress runs"
    );
    assert_eq!(
        shop.wp(&["option", "get", "db_version"]),
        "60421",
        "not updated yet"
    );

    // The new setup Job (another name: another WordPress image), with its own environment.
    let job = &woo(&objects).setup.job;
    assert_ne!(
        job.metadata.name,
        woo(&shop.objects).setup.job.metadata.name
    );
    let (out, report) = setup_of(&shop, &objects);
    let log = text(&out);
    assert!(out.status.success(), "setup at 7.0.4:\n{log}");
    assert!(
        log.contains("WooCommerce 10.0.2 is already installed"),
        "{log}"
    );

    assert_eq!(
        shop.wp(&["option", "get", "db_version"]),
        "61833",
        "wp core update-db ran"
    );
    assert_eq!(
        shop.wp(&["plugin", "get", "woocommerce", "--field=version"]),
        "10.0.2"
    );
    assert_eq!(
        shop.wp(&["option", "get", "woocommerce_db_version"]),
        "10.0.2",
        "wp wc update ran"
    );
    assert_eq!(order_ids(&shop), before, "every order kept, none made up");
    assert!(
        log.contains("test order #"),
        "the setup's order verified again: {log}"
    );
    let reported = std::fs::read_to_string(&report).expect("report");
    assert!(
        reported.contains("\"7.0.4\""),
        "the versions reported: {reported}"
    );
    assert!(reported.contains("\"10.0.2\""), "{reported}");

    // The shop serves from the new core, and a customer still checks out.
    let (_php, port) = serve(&shop);
    let browser = customer(&shop, port);
    let (code, _, page) = browser.request("GET", "/", &[], None);
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("WordPress 7.0.4"), "the generator says so");
    let (methods, nonce) = browser.payment_methods();
    assert_eq!(methods, ["cod"]);
    let id = browser.order_with_cash_on_delivery(&nonce);
    let after = order_ids(&shop);
    assert!(after.contains(&id), "{id} in {after:?}");
    assert_eq!(after.len(), before.len() + 1);
}

/// A new storefront pod of `objects` as the kubelet and the image make it: an empty docroot, the
/// volume's `wp-content` mounted in it, and the official image's own entrypoint (run as
/// www-data) copying `release` (the image's `/usr/src/wordpress`) into it and writing
/// `wp-config.php` from the Deployment's environment. The docroot, what the entrypoint said,
/// and the `wp-content` mount (undone on drop).
pub(crate) fn storefront_from_image(
    shop: &Shop,
    fixtures: &Path,
    release: &Path,
    volume: &Path,
    objects: &desired::StoreObjects,
) -> (PathBuf, String, Bound) {
    let version = std::fs::read_to_string(release.join("wp-includes/version.php"))
        .ok()
        .and_then(|v| {
            v.lines()
                .find(|l| l.starts_with("$wp_version"))
                .and_then(|l| l.split('\'').nth(1).map(String::from))
        })
        .unwrap_or_else(|| "unknown".into());
    let docroot = shop.path().join(format!("docroot-{version}"));
    std::fs::create_dir_all(docroot.join("wp-content")).expect("docroot");
    run(Command::new("chown")
        .args(["-R", &format!("{WWW_DATA}:{WWW_DATA}")])
        .arg(&docroot));
    let stub = shop.path().join("image-bin");
    std::fs::create_dir_all(&stub).expect("stub dir");
    // The command the entrypoint execs once it laid out the docroot (Apache, in the image).
    std::fs::write(stub.join("apache2"), "#!/bin/sh\nexit 0\n").expect("stub");
    run(Command::new("chmod").arg("0755").arg(stub.join("apache2")));
    // The image's /usr/src/wordpress: the release, and the config template its Dockerfile adds.
    let image = shop
        .path()
        .join(format!("image-usr-src-wordpress-{version}"));
    run(Command::new("cp").arg("-r").arg(release).arg(&image));
    std::fs::copy(
        fixtures.join("wp-config-docker.php"),
        image.join("wp-config-docker.php"),
    )
    .expect("config template");
    run(Command::new("chown")
        .args(["-R", &format!("{WWW_DATA}:{WWW_DATA}")])
        .arg(&image));
    let mut env = objects_storefront_env(shop, objects);
    env.insert("PATH".into(), format!("{}:/usr/bin:/bin", stub.display()));
    // Where www-data may read it (the fixtures' cache is root's).
    let entrypoint = shop.path().join("docker-entrypoint.sh");
    std::fs::copy(fixtures.join("docker-entrypoint-apache.sh"), &entrypoint).expect("entrypoint");
    let script = format!(
        "set -e; mount -t tmpfs tmpfs /usr/src; mkdir /usr/src/wordpress; \
         mount --bind {image} /usr/src/wordpress; \
         mount --bind {content} {docroot}/wp-content; cd {docroot}; \
         exec setpriv --reuid {WWW_DATA} --regid {WWW_DATA} --clear-groups -- \
         bash {entrypoint} apache2 -v",
        image = image.display(),
        content = volume.join("wp-content").display(),
        docroot = docroot.display(),
        entrypoint = entrypoint.display(),
    );
    // The environment is the process's (not its arguments: no Secret in a failure message).
    let out = run(Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .env_clear()
        .envs(&env));
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    let content = Bound::new(&volume.join("wp-content"), &docroot.join("wp-content"));
    (docroot, said, content)
}

/// The setup Job of `objects` run as its pod would, on `shop`'s docroot: its output and the
/// file of its termination message (the versions it reports).
pub(crate) fn setup_of(shop: &Shop, objects: &desired::StoreObjects) -> (Output, PathBuf) {
    let job = &woo(objects).setup.job;
    let name = job.metadata.name.clone().unwrap_or_default();
    let container = &job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod")
        .containers[0];
    let mut env = shop.env_of(container);
    env.insert("DOCROOT".into(), shop.docroot.display().to_string());
    let report = shop.path().join(format!("report-{name}"));
    std::fs::write(&report, "").expect("report");
    run(Command::new("chown")
        .arg(format!("{WWW_DATA}:{WWW_DATA}"))
        .arg(&report));
    env.insert("TERMINATION_LOG".into(), report.display().to_string());
    let script_file = shop.path().join(format!("{name}.sh"));
    std::fs::write(&script_file, SCRIPT).expect("script");
    let out = shop
        .as_www_data(&env, &["busybox", "sh", &script_file.display().to_string()])
        .output()
        .expect("run setup");
    (out, report)
}

fn customer(shop: &Shop, port: u16) -> Browser {
    Browser {
        jar: shop.path().join(format!("cookies-{port}")),
        address: format!("127.0.0.1:{port}"),
        host: "alice.shop.local".into(),
    }
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The storefront Deployment's environment of `objects`, with the documented changes.
fn objects_storefront_env(
    shop: &Shop,
    objects: &desired::StoreObjects,
) -> std::collections::BTreeMap<String, String> {
    let deployment = &woo(objects).storefront.deployment;
    let pod = deployment.spec.template.spec.as_ref().expect("pod");
    shop.env_of(&pod.containers[0])
}
