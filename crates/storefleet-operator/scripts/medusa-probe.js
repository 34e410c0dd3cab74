// Storefleet checkout probe of a Medusa shop (on the store's Medusa image, the CronJob `probe`):
// what a customer does up to paying, through the shop's `storefront` Service ($STOREFRONT),
// without creating an order:
//   1. /health and the storefront page (/shop) answer 200;                    (exit 10)
//   2. the Store API lists a product with a variant priced in the region;     (exit 11)
//   3. a cart in the store's region (Store API, the storefront's own key);    (exit 13)
//      the product goes into it
//   4. the checkout offers a shipping option and a payment provider.           (exit 14)
// The cart is left uncompleted (no order, no stock reserved). Each failure is one line on stderr
// naming the step, and its own exit code: the Job's failure policy turns it into the Job's
// condition, so the operator names the step without reading any log. Nothing secret here (the
// publishable key is public by design).
"use strict";

const say = (m) => process.stdout.write(`storefleet-probe: ${m}\n`);
const fail = (code, m) => {
  process.stderr.write(`storefleet-probe: FAILED: ${m}\n`);
  process.exit(code);
};

async function main() {
  const storefront = (process.env.STOREFRONT || "").replace(/\/$/, "");
  if (!storefront) fail(2, "STOREFRONT must be set");
  const started = Date.now();
  let key = "";
  const request = async (method, p, body) => {
    try {
      const res = await fetch(storefront + p, {
        method,
        headers: { "content-type": "application/json", ...(key ? { "x-publishable-api-key": key } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: "manual",
        signal: AbortSignal.timeout(30000),
      });
      const text = await res.text();
      let json = null;
      try {
        json = JSON.parse(text);
      } catch (_) {}
      return { status: res.status, json, text };
    } catch (_) {
      return { status: 0, json: null, text: "" };
    }
  };
  const why = (r) => (r.json && r.json.message ? `: ${r.json.message}` : "");

  // 1. Health and the storefront page.
  const health = await request("GET", "/health");
  if (health.status !== 200) fail(10, `home: /health answered ${health.status || "nothing"}`);
  const home = await request("GET", "/shop");
  if (home.status !== 200 || !/<\/html>/i.test(home.text)) fail(10, `home: /shop answered ${home.status || "nothing"}`);
  const config = await request("GET", "/shop/config");
  if (config.status !== 200 || !config.json || !config.json.publishableKey) fail(10, `home: /shop/config answered ${config.status}${why(config)}`);
  key = config.json.publishableKey;
  const regionId = config.json.regionId;
  say("home: /health and /shop 200");

  // 2. A product with a variant priced in the region.
  const listed = await request("GET", `/store/products?limit=20&region_id=${regionId}&fields=id,*variants.calculated_price`);
  if (listed.status !== 200) fail(11, `products: the Store API answered ${listed.status}${why(listed)}`);
  const products = (listed.json && listed.json.products) || [];
  const variant = products
    .flatMap((p) => p.variants || [])
    .find((v) => v.calculated_price && v.calculated_price.calculated_amount != null);
  if (!variant) fail(11, `products: none of ${products.length} listed has a variant priced in the store's region`);
  say(`products: variant ${variant.id} can be bought`);

  // 3. A cart in the region, with the product.
  const region = await request("GET", `/store/regions/${regionId}`);
  const country = region.json && region.json.region && (region.json.region.countries || [])[0];
  if (region.status !== 200 || !country) fail(13, `cart: the store's region answered ${region.status}${why(region)}`);
  const address = { first_name: "Storefleet", last_name: "Probe", address_1: "1 Probe Street", city: "Probe", postal_code: "10000", country_code: country.iso_2 };
  const created = await request("POST", "/store/carts", { region_id: regionId, shipping_address: address, billing_address: address });
  const cart = created.json && created.json.cart;
  if (created.status !== 200 || !cart) fail(13, `cart: creating one answered ${created.status}${why(created)}`);
  const added = await request("POST", `/store/carts/${cart.id}/line-items`, { variant_id: variant.id, quantity: 1 });
  if (added.status !== 200 || !((added.json && added.json.cart && added.json.cart.items) || []).length) {
    fail(13, `cart: adding the product answered ${added.status}${why(added)}`);
  }
  say("cart: the product added");

  // 4. Shipping and payment at checkout.
  const shipping = await request("GET", `/store/shipping-options?cart_id=${cart.id}`);
  const options = (shipping.json && shipping.json.shipping_options) || [];
  if (shipping.status !== 200 || options.length === 0) fail(14, `payment: the checkout offers no shipping option (${shipping.status}${why(shipping)})`);
  const providers = await request("GET", `/store/payment-providers?region_id=${regionId}`);
  const offered = ((providers.json && providers.json.payment_providers) || []).map((p) => p.id);
  if (providers.status !== 200 || offered.length === 0) fail(14, `payment: the checkout offers no payment provider (${providers.status}${why(providers)})`);
  say(`payment: ${options.length} shipping option(s), providers ${offered.join(", ")}`);
  say(`checkout works, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((e) => fail(1, `probe: ${e && e.message}`));
