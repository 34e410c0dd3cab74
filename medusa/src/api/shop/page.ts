// The storefront page: HTML and CSS here, the script at /shop/app.js (see app-js.ts).
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shop</title>
<style>
:root { --fg: #111827; --muted: #6b7280; --line: #e5e7eb; --accent: #111827; --bg: #fafafa; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; justify-content: space-between; padding: 1rem 1.5rem; background: #fff; border-bottom: 1px solid var(--line); position: sticky; top: 0; }
header h1 { margin: 0; font-size: 1.25rem; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem; }
button { font: inherit; padding: .55rem 1rem; border-radius: 8px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button:disabled { opacity: .5; cursor: progress; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 1rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 12px; padding: 1rem; display: flex; flex-direction: column; gap: .5rem; }
.thumb { aspect-ratio: 4 / 3; border-radius: 8px; background: linear-gradient(135deg, #e0e7ff, #fce7f3); display: grid; place-items: center; font-size: 2rem; color: #6366f1; }
.price { font-weight: 700; }
.muted { color: var(--muted); }
section[hidden] { display: none; }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 12px; padding: 1.25rem; max-width: 640px; margin: 0 auto; }
.row { display: flex; justify-content: space-between; gap: 1rem; padding: .4rem 0; border-bottom: 1px solid var(--line); }
form { display: grid; grid-template-columns: 1fr 1fr; gap: .75rem; }
form label { display: flex; flex-direction: column; font-size: .85rem; font-weight: 600; gap: .25rem; }
form label.wide { grid-column: 1 / -1; }
input, select { font: inherit; padding: .5rem .6rem; border: 1px solid #d1d5db; border-radius: 8px; }
.options label { display: flex; gap: .5rem; align-items: center; padding: .5rem; border: 1px solid var(--line); border-radius: 8px; margin: .4rem 0; font-weight: 400; }
.error { color: #b91c1c; background: #fef2f2; border: 1px solid #fecaca; padding: .6rem .8rem; border-radius: 8px; }
.actions { display: flex; gap: .5rem; justify-content: flex-end; margin-top: 1rem; }
@media (max-width: 600px) { form { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header><h1 id="title">Shop</h1><button id="cart-button" class="secondary" type="button">Cart (<span id="cart-count">0</span>)</button></header>
<main>
  <p id="error" class="error" role="alert" hidden></p>
  <section id="products-view"><div id="products" class="grid" aria-live="polite"><p class="muted">Loading products…</p></div></section>
  <section id="cart-view" class="panel" hidden>
    <h2>Your cart</h2>
    <div id="cart-lines"></div>
    <div class="row"><strong>Subtotal</strong><strong id="cart-subtotal"></strong></div>
    <div class="actions"><button id="continue-shopping" class="secondary" type="button">Continue shopping</button><button id="checkout" type="button">Checkout</button></div>
  </section>
  <section id="checkout-view" class="panel" hidden>
    <h2>Checkout</h2>
    <form id="address-form">
      <label class="wide">E-mail<input id="email" type="email" required autocomplete="email"></label>
      <label>First name<input id="first-name" required autocomplete="given-name"></label>
      <label>Last name<input id="last-name" required autocomplete="family-name"></label>
      <label class="wide">Address<input id="address" required autocomplete="address-line1"></label>
      <label>City<input id="city" required autocomplete="address-level2"></label>
      <label>Postal code<input id="postal-code" required autocomplete="postal-code"></label>
      <label class="wide">Country<select id="country" required></select></label>
      <div class="wide actions"><button id="to-delivery" type="submit">Continue to delivery</button></div>
    </form>
    <div id="delivery" hidden>
      <h3>Delivery</h3><div id="shipping-options" class="options"></div>
      <h3>Payment</h3><div class="options"><label><input type="radio" checked disabled> Manual payment: pay on delivery or by invoice</label></div>
      <div class="row"><strong>Total</strong><strong id="order-total"></strong></div>
      <div class="actions"><button id="place-order" type="button">Place order</button></div>
    </div>
  </section>
  <section id="confirmation-view" class="panel" hidden>
    <h2>Thank you for your order!</h2>
    <p>Order <strong id="order-number"></strong> is confirmed. Total: <strong id="confirmed-total"></strong>.</p>
    <p class="muted">A confirmation will be sent to <span id="confirmed-email"></span>.</p>
    <div class="actions"><button id="shop-again" type="button">Back to the shop</button></div>
  </section>
</main>
<script src="/shop/app.js"></script>
</body>
</html>
`
