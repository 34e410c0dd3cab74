<?php
// Storefleet checkout probe of a WooCommerce shop (on the WP-CLI image, the CronJob `probe`):
// what a customer does up to paying, through the shop's `storefront` Service ($STOREFRONT) as
// the shop's own host ($SHOP_URL: WordPress answers for it alone), without creating an order:
//   1. the home page answers 200 with a whole page;            (exit 10)
//   2. the Store API lists a product that can be bought;        (exit 11)
//   3. its product page answers 200 and shows it;              (exit 12)
//   4. it goes into a cart (Store API add-item);                (exit 13)
//   5. the cart offers the payment methods the store takes     (exit 14)
//      ($PAYMENT_METHODS, comma-separated gateway ids; none given: at least one).
// The cart is a guest session, which WooCommerce expires by itself. Each failure is one line on
// stderr naming the step, and its own exit code: the Job's failure policy turns it into the
// Job's condition, so the operator names the step without reading any log. Nothing secret here.

function say(string $m): void { fwrite(STDOUT, "storefleet-probe: $m\n"); }
function fail(int $code, string $m): void { fwrite(STDERR, "storefleet-probe: FAILED: $m\n"); exit($code); }
$storefront = rtrim((string) getenv('STOREFRONT'), '/');
$shop = (string) getenv('SHOP_URL');
$url = parse_url($shop);
if ($storefront === '' || !$url || empty($url['host'])) fail(2, "STOREFRONT and SHOP_URL must be set");
$host = $url['host'] . (isset($url['port']) ? ':' . $url['port'] : '');
$https = ($url['scheme'] ?? 'http') === 'https';
$wanted = array_values(array_filter(array_map('trim', explode(',', (string) getenv('PAYMENT_METHODS')))));

/** One request: [status, body, response headers (lower-case names)]. */
function http(string $method, string $path, array $headers = [], ?string $json = null): array {
    global $storefront, $host, $https;
    $lines = ["Host: $host", 'User-Agent: storefleet-probe', 'Connection: close'];
    if ($https) $lines[] = 'X-Forwarded-Proto: https';
    foreach ($headers as $k => $v) $lines[] = "$k: $v";
    if ($json !== null) $lines[] = 'Content-Type: application/json';
    $context = stream_context_create(['http' => [
        'method' => $method, 'header' => implode("\r\n", $lines), 'content' => $json ?? '',
        'follow_location' => 0, 'ignore_errors' => true, 'timeout' => 30,
    ]]);
    $body = @file_get_contents($storefront . $path, false, $context);
    if ($body === false) return [0, '', []];
    $status = 0;
    $out = [];
    foreach ($http_response_header as $line) {
        if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $m)) $status = (int) $m[1];
        elseif (preg_match('#^([^:]+):\s*(.*)$#', $line, $m)) $out[strtolower($m[1])] = trim($m[2]);
    }
    return [$status, $body, $out];
}

/** GET $path, following the shop's own redirects (an absolute URL of its host, or a path). */
function page(string $path): array {
    global $shop;
    for ($hops = 0; $hops < 3; $hops++) {
        [$status, $body, $headers] = http('GET', $path);
        $location = $headers['location'] ?? null;
        if (!in_array($status, [301, 302], true) || $location === null) break;
        $base = rtrim($shop, '/');
        if (str_starts_with($location, '/')) $path = $location;
        elseif (str_starts_with($location, $base . '/')) $path = substr($location, strlen($base));
        else break;
    }
    return [$status, $body];
}

$started = microtime(true);
// 1. The home page.
[$status, $body] = page('/');
if ($status !== 200) fail(10, "home page: answered " . ($status ?: 'nothing'));
if (stripos($body, '</html>') === false) fail(10, "home page: not a whole page");
say("home page: 200");

// 2. A product that can be bought (rest_route: works whatever the permalinks).
[$status, $body] = http('GET', '/?rest_route=/wc/store/v1/products&per_page=20');
$products = json_decode($body, true);
if ($status !== 200 || !is_array($products)) fail(11, "products: the Store API answered " . ($status ?: 'nothing'));
$product = null;
foreach ($products as $p) {
    if (($p['is_purchasable'] ?? false) && ($p['is_in_stock'] ?? false) && ($p['type'] ?? '') === 'simple') { $product = $p; break; }
}
if ($product === null) fail(11, "products: none of " . count($products) . " listed can be bought (simple, purchasable, in stock)");
$id = (int) $product['id'];
say("products: #$id can be bought");

// 3. Its page.
[$status, $body] = page("/?p=$id");
if ($status !== 200) fail(12, "product page: #$id answered $status");
if (!preg_match('/\bpostid-' . $id . '\b|id="product-' . $id . '"/', $body)) fail(12, "product page: #$id does not show it");
say("product page: 200");

// 4. Into a cart: the cart's token and nonce first, then add-item.
[$status, , $headers] = http('GET', '/?rest_route=/wc/store/v1/cart');
$token = $headers['cart-token'] ?? '';
$nonce = $headers['nonce'] ?? ($headers['x-wc-store-api-nonce'] ?? '');
if ($status !== 200 || $token === '') fail(13, "cart: the Store API's cart answered " . ($status ?: 'nothing') . ($token === '' ? ' without a Cart-Token' : ''));
$auth = ['Cart-Token' => $token, 'Nonce' => $nonce];
[$status, $body] = http('POST', '/?rest_route=/wc/store/v1/cart/add-item', $auth, json_encode(['id' => $id, 'quantity' => 1]));
$cart = json_decode($body, true);
if (!in_array($status, [200, 201], true) || (int) ($cart['items_count'] ?? 0) < 1) {
    $why = is_array($cart) && isset($cart['message']) ? ': ' . strip_tags((string) $cart['message']) : '';
    fail(13, "cart: adding #$id answered $status$why");
}
say("cart: #$id added");

// 5. The payment methods the cart offers at checkout.
$offered = array_values(array_map('strval', $cart['payment_methods'] ?? []));
if (!$offered) fail(14, "payment: the checkout offers no payment method");
$missing = array_values(array_diff($wanted, $offered));
if ($missing) fail(14, "payment: the checkout does not offer " . implode(', ', $missing) . " (it offers " . implode(', ', $offered) . ")");
say("payment: the checkout offers " . implode(', ', $offered));
say(sprintf("checkout works, in %.1f s", microtime(true) - $started));
