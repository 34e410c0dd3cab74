// The storefront's script: plain JavaScript on the Store API with the publishable key.
export const APP_JS = String.raw`"use strict";
const $ = (id) => document.getElementById(id);
const state = { config: null, cart: null, products: [] };
const CART_KEY = "storefleet-cart";

function money(amount) {
  if (amount === undefined || amount === null) return "";
  return new Intl.NumberFormat(undefined, { style: "currency", currency: state.config.currency.toUpperCase() }).format(amount);
}
function showError(message) { $("error").textContent = message || ""; $("error").hidden = !message; }
function show(view) {
  for (const v of ["products-view", "cart-view", "checkout-view", "confirmation-view"]) $(v).hidden = v !== view;
}
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}
async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { "content-type": "application/json", "x-publishable-api-key": state.config.publishableKey },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.message || ("The shop answered " + res.status));
  return data;
}

async function loadConfig() {
  for (;;) {
    const res = await fetch("/shop/config");
    if (res.ok) { state.config = await res.json(); return; }
    showError("The shop is being set up; it opens in a moment.");
    await new Promise((r) => setTimeout(r, 5000));
  }
}

async function loadProducts() {
  const { products } = await api("GET", "/store/products?limit=50&region_id=" + state.config.regionId + "&fields=id,title,description,handle,*variants.calculated_price");
  state.products = products;
  const grid = $("products");
  grid.replaceChildren();
  if (!products.length) { grid.append(el("p", { class: "muted" }, "No products yet.")); return; }
  for (const p of products) {
    const variant = (p.variants || [])[0];
    const price = variant && variant.calculated_price ? variant.calculated_price.calculated_amount : null;
    grid.append(el("article", { class: "card", "data-product": p.handle },
      el("div", { class: "thumb", "aria-hidden": "true" }, p.title.slice(0, 1)),
      el("h2", {}, p.title),
      el("p", { class: "muted" }, p.description || ""),
      el("p", { class: "price" }, money(price)),
      el("button", { type: "button", class: "add", onclick: () => addToCart(variant.id) }, "Add to cart")));
  }
}

async function ensureCart() {
  const id = localStorage.getItem(CART_KEY);
  if (id) {
    try { const { cart } = await api("GET", "/store/carts/" + id); if (!cart.completed_at) { state.cart = cart; return cart; } } catch (e) { /* a new cart */ }
  }
  const { cart } = await api("POST", "/store/carts", { region_id: state.config.regionId });
  localStorage.setItem(CART_KEY, cart.id);
  state.cart = cart;
  return cart;
}

function renderCart() {
  const cart = state.cart;
  const items = cart ? cart.items || [] : [];
  $("cart-count").textContent = items.reduce((n, i) => n + i.quantity, 0);
  $("cart-lines").replaceChildren(...items.map((i) => el("div", { class: "row cart-line" },
    el("span", {}, i.quantity + " × " + (i.product_title || i.title)), el("span", {}, money(i.total)))));
  $("cart-subtotal").textContent = cart ? money(cart.item_subtotal ?? cart.subtotal) : "";
  $("checkout").disabled = items.length === 0;
}

async function addToCart(variantId) {
  try {
    const cart = await ensureCart();
    const { cart: updated } = await api("POST", "/store/carts/" + cart.id + "/line-items", { variant_id: variantId, quantity: 1 });
    state.cart = updated;
    renderCart();
    showError("");
  } catch (e) { showError(e.message); }
}

async function toCheckout() {
  const { region } = await api("GET", "/store/regions/" + state.config.regionId);
  $("country").replaceChildren(...(region.countries || []).map((c) => el("option", { value: c.iso_2 }, c.display_name)));
  $("delivery").hidden = true;
  show("checkout-view");
}

async function toDelivery(event) {
  event.preventDefault();
  const address = {
    first_name: $("first-name").value, last_name: $("last-name").value, address_1: $("address").value,
    city: $("city").value, postal_code: $("postal-code").value, country_code: $("country").value,
  };
  try {
    await api("POST", "/store/carts/" + state.cart.id, { email: $("email").value, shipping_address: address, billing_address: address });
    const { shipping_options } = await api("GET", "/store/shipping-options?cart_id=" + state.cart.id);
    if (!shipping_options.length) throw new Error("No delivery to this address.");
    $("shipping-options").replaceChildren(...shipping_options.map((o, i) => el("label", {},
      el("input", Object.assign({ type: "radio", name: "shipping", value: o.id }, i === 0 ? { checked: "" } : {})),
      o.name + " · " + money(o.amount))));
    await chooseShipping(shipping_options[0].id);
    for (const input of document.querySelectorAll("input[name=shipping]")) input.addEventListener("change", () => chooseShipping(input.value));
    $("delivery").hidden = false;
    showError("");
  } catch (e) { showError(e.message); }
}

async function chooseShipping(optionId) {
  const { cart } = await api("POST", "/store/carts/" + state.cart.id + "/shipping-methods", { option_id: optionId });
  state.cart = cart;
  $("order-total").textContent = money(cart.total);
}

async function placeOrder() {
  $("place-order").disabled = true;
  try {
    const { payment_collection } = await api("POST", "/store/payment-collections", { cart_id: state.cart.id });
    await api("POST", "/store/payment-collections/" + payment_collection.id + "/payment-sessions", { provider_id: "pp_system_default" });
    const done = await api("POST", "/store/carts/" + state.cart.id + "/complete");
    if (done.type !== "order") throw new Error((done.error && done.error.message) || "The order could not be placed.");
    localStorage.removeItem(CART_KEY);
    state.cart = null;
    renderCart();
    $("order-number").textContent = "#" + done.order.display_id;
    $("confirmed-total").textContent = money(done.order.total);
    $("confirmed-email").textContent = done.order.email;
    show("confirmation-view");
    showError("");
  } catch (e) { showError(e.message); }
  finally { $("place-order").disabled = false; }
}

$("cart-button").addEventListener("click", () => { renderCart(); show("cart-view"); });
$("continue-shopping").addEventListener("click", () => show("products-view"));
$("checkout").addEventListener("click", () => toCheckout().catch((e) => showError(e.message)));
$("address-form").addEventListener("submit", toDelivery);
$("place-order").addEventListener("click", placeOrder);
$("shop-again").addEventListener("click", () => show("products-view"));

(async () => {
  await loadConfig();
  document.title = state.config.title;
  $("title").textContent = state.config.title;
  showError("");
  try {
    await loadProducts();
    const id = localStorage.getItem(CART_KEY);
    if (id) { await ensureCart(); renderCart(); }
  } catch (e) { showError(e.message); }
})();
`
