// Storefleet drill, the check of a restored Medusa shop (on the store's Medusa image, in /app,
// whose modules it uses), after the drill's load put the newest backup into the drill's
// PostgreSQL and uploads folder and the shop's server started on them. Through the drill's
// `storefront` Service ($STOREFRONT), the way a customer and the admin use the shop:
//   1. /health answers 200;
//   2. the Store API lists products with the shop's publishable key ($DRILL_DIR/publishable-key);
//   3. the admin logs in (/auth/user/emailpass) with a one-time password this check sets on the
//      administrator's identity in this copy (scrypt, as Medusa hashes it), and /admin/users/me
//      answers 200 for them.
// Then one line of JSON, the drill's report, to $TERMINATION_LOG or the kubelet's
// /dev/termination-log (snapshot, measured restore time: the RTO, and the dump's manifest).
// A failure is one line on stderr naming the step; nothing secret is printed.
"use strict";
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const { createRequire } = require("module");

const say = (m) => process.stdout.write(`storefleet-drill: ${m}\n`);
const fail = (m) => {
  process.stderr.write(`storefleet-drill: FAILED: ${m}\n`);
  process.exit(1);
};
const need = (name) => process.env[name] || fail(`environment variable ${name} is not set`);

async function main() {
  const storefront = need("STOREFRONT").replace(/\/$/, "");
  const drill = need("DRILL_DIR");
  const restored = need("RESTORED");
  const databaseUrl = need("DATABASE_URL");
  const tmp = process.env.TMPDIR || "/tmp";
  // The shop's own modules (pg, scrypt-kdf), from the app folder the check runs in.
  const app = createRequire(path.join(process.cwd(), "package.json"));

  const request = async (method, p, { headers = {}, body } = {}) => {
    try {
      const res = await fetch(storefront + p, {
        method,
        headers: { "content-type": "application/json", ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: "manual",
        signal: AbortSignal.timeout(60000),
      });
      const text = await res.text();
      let json = null;
      try {
        json = JSON.parse(text);
      } catch (_) {}
      return { status: res.status, json };
    } catch (_) {
      return { status: 0, json: null };
    }
  };

  // 1. Health; the Service may take a moment to send traffic to the pod just Ready.
  const deadline = Date.now() + 120000;
  let health;
  do {
    health = await request("GET", "/health");
    if (health.status === 200) break;
    await new Promise((r) => setTimeout(r, 2000));
  } while (Date.now() < deadline);
  if (health.status !== 200) fail(`/health answered ${health.status || "nothing"} through the storefront Service`);
  say("health: 200");

  // 2. The Store API's products.
  const manifest = JSON.parse(fs.readFileSync(path.join(restored, "dump", "manifest.json"), "utf8"));
  const keyFile = path.join(drill, "publishable-key");
  const key = fs.existsSync(keyFile) ? fs.readFileSync(keyFile, "utf8").trim() : "";
  let listed = 0;
  if (manifest.products > 0) {
    if (!key) fail("the restored shop has products but no publishable key");
    const products = await request("GET", "/store/products?limit=3", {
      headers: { "x-publishable-api-key": key },
    });
    if (products.status !== 200) fail(`the Store API's products answered ${products.status}`);
    listed = (products.json && products.json.products || []).length;
    if (listed === 0) fail("the Store API lists no product");
  }
  say(`store products: 200 (${listed} listed)`);

  // 3. The admin login, with a one-time password set on this copy's identity.
  const email = fs.readFileSync(path.join(drill, "admin"), "utf8").trim();
  if (!email) fail("the load left no administrator to log in as");
  const password = crypto.randomBytes(24).toString("hex");
  const scrypt = app("scrypt-kdf");
  const hash = (await scrypt.kdf(password, { logN: 15, r: 8, p: 1 })).toString("base64");
  const { Client } = app("pg");
  const client = new Client({ connectionString: databaseUrl });
  try {
    await client.connect();
    const updated = await client.query(
      "UPDATE provider_identity SET provider_metadata = jsonb_set(coalesce(provider_metadata, '{}'::jsonb), '{password}', to_jsonb($1::text)) WHERE provider = 'emailpass' AND entity_id = $2",
      [hash, email],
    );
    if (updated.rowCount !== 1) fail("cannot set the drill's one-time password");
  } catch (e) {
    fail(`the drill's database: ${e.code || e.message}`);
  } finally {
    await client.end().catch(() => {});
  }
  const login = await request("POST", "/auth/user/emailpass", { body: { email, password } });
  const token = login.json && login.json.token;
  if (login.status !== 200 || !token) fail(`the admin login was refused (${login.status})`);
  const me = await request("GET", "/admin/users/me", { headers: { authorization: `Bearer ${token}` } });
  if (me.status !== 200) fail(`/admin/users/me after the login answered ${me.status}`);
  say("admin login: /admin/users/me answers 200");

  // The report.
  let fetched;
  try {
    fetched = JSON.parse(fs.readFileSync(path.join(tmp, "restored.json"), "utf8"));
  } catch (_) {
    fail("restic left no restored.json");
  }
  const seconds = fetched.started ? Math.floor(Date.now() / 1000) - fetched.started : null;
  const report = JSON.stringify({
    snapshot: fetched.snapshot,
    snapshotTime: fetched.snapshotTime,
    seconds,
    manifest,
    checks: { health: 200, products: listed, adminLogin: true },
  });
  const log = process.env.TERMINATION_LOG || (fs.existsSync("/dev/termination-log") ? "/dev/termination-log" : "");
  if (log) {
    try {
      fs.writeFileSync(log, report + "\n");
    } catch (_) {
      say("cannot write the report");
    }
  }
  say(`verified: the backup restores and the shop serves and logs its admin in, in ${seconds} s`);
}

main().catch((e) => fail(e && e.message ? e.message : String(e)));
