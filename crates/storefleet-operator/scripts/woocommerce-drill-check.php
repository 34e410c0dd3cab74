<?php
// Storefleet drill, the check of a restored WooCommerce shop (on the WP-CLI image, as www-data),
// after the drill's load put the newest backup into the drill's database and docroot and its
// storefront started on them. Through the drill's `storefront` Service ($STOREFRONT), as the
// shop's own host ($SHOP_URL: WordPress answers for it alone), the way a customer and the admin
// use the shop:
//   1. the home page answers 200 with a whole page;
//   2. each product the load listed ($DRILL_DIR/products) opens on its own page;
//   3. the admin logs in (wp-login.php, with the one-time password the load set in this copy,
//      $DRILL_DIR/admin) and their profile page in wp-admin answers 200.
// Then one line of JSON, the drill's report, to $TERMINATION_LOG or the kubelet's
// /dev/termination-log: the snapshot restic restored, its time, the measured restore time
// (from restic's start to the checks passed: the RTO) and the restored dump's manifest.
// A failure is one line on stderr naming the step; nothing secret is printed.

function say(string $m): void { fwrite(STDOUT, "storefleet-drill: $m\n"); }
function fail(string $m): void { fwrite(STDERR, "storefleet-drill: FAILED: $m\n"); exit(1); }
function need(string $name): string {
    $v = getenv($name);
    if ($v === false || $v === '') fail("environment variable $name is not set");
    return $v;
}

$storefront = rtrim(need('STOREFRONT'), '/');
$shop = need('SHOP_URL');
$drill = need('DRILL_DIR');
$restored = need('RESTORED');
$tmp = getenv('TMPDIR') ?: '/tmp';

$url = parse_url($shop);
if (!$url || empty($url['host'])) fail("SHOP_URL is not a URL");
$host = $url['host'] . (isset($url['port']) ? ':' . $url['port'] : '');
$https = ($url['scheme'] ?? 'http') === 'https';

/** One request to the storefront: [status, body, cookies set, Location]. */
function request(string $method, string $path, ?string $body = null, array $cookies = []): array {
    global $storefront, $host, $https;
    $headers = ["Host: $host", 'User-Agent: storefleet-drill', 'Connection: close'];
    if ($https) $headers[] = 'X-Forwarded-Proto: https';
    if ($cookies) {
        $pairs = [];
        foreach ($cookies as $k => $v) $pairs[] = "$k=$v";
        $headers[] = 'Cookie: ' . implode('; ', $pairs);
    }
    if ($body !== null) $headers[] = 'Content-Type: application/x-www-form-urlencoded';
    $context = stream_context_create(['http' => [
        'method' => $method,
        'header' => implode("\r\n", $headers),
        'content' => $body ?? '',
        'follow_location' => 0,
        'ignore_errors' => true,
        'timeout' => 60,
    ]]);
    $content = @file_get_contents($storefront . $path, false, $context);
    if ($content === false) return [0, '', [], null];
    $status = 0;
    $set = [];
    $location = null;
    foreach ($http_response_header as $line) {
        if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $m)) {
            $status = (int) $m[1];
        } elseif (preg_match('#^Set-Cookie:\s*([^=;\s]+)=([^;]*)#i', $line, $m)) {
            $set[$m[1]] = $m[2];
        } elseif (preg_match('#^Location:\s*(\S+)#i', $line, $m)) {
            $location = $m[1];
        }
    }
    return [$status, $content, $set, $location];
}

/** A path on the shop's host from a Location the shop sent (an absolute URL of its own). */
function own_path(?string $location): ?string {
    global $shop;
    if ($location === null) return null;
    if (str_starts_with($location, '/')) return $location;
    $base = rtrim($shop, '/');
    return str_starts_with($location, $base . '/') ? substr($location, strlen($base)) : null;
}

// 1. The home page; the Service may take a moment to send traffic to the pod just Ready.
$deadline = time() + 120;
do {
    [$status, $body] = request('GET', '/');
    if ($status === 200) break;
    sleep(2);
} while (time() < $deadline);
if ($status !== 200) fail("the home page answered " . ($status ?: 'nothing') . " through the storefront Service");
if (stripos($body, '</html>') === false) fail("the home page is not a whole page");
say("home page: 200");

// 2. The products, each on its own page (following the shop's own redirects to its permalink).
$products = array_values(array_filter(array_map('trim', file("$drill/products") ?: [])));
foreach ($products as $id) {
    if (!ctype_digit($id)) fail("the load listed a product id that is not a number");
    $path = "/?p=$id";
    for ($hops = 0; $hops < 3; $hops++) {
        [$status, $body, , $location] = request('GET', $path);
        $next = in_array($status, [301, 302], true) ? own_path($location) : null;
        if ($next === null) break;
        $path = $next;
    }
    if ($status !== 200) fail("product #$id answered $status");
    if (!preg_match('/\bpostid-' . $id . '\b|id="product-' . $id . '"/', $body)) {
        fail("product #$id: its page does not show it");
    }
}
say(count($products) . " product pages: 200");

// 3. The admin login.
$admin = file("$drill/admin", FILE_IGNORE_NEW_LINES) ?: [];
if (count($admin) < 2 || $admin[0] === '' || $admin[1] === '') fail("the load left no administrator to log in as");
[$login, $password] = $admin;
[$status] = request('GET', '/wp-login.php');
if ($status !== 200) fail("wp-login.php answered $status");
$jar = ['wordpress_test_cookie' => 'WP%20Cookie%20check'];
$form = http_build_query([
    'log' => $login,
    'pwd' => $password,
    'wp-submit' => 'Log In',
    'redirect_to' => rtrim($shop, '/') . '/wp-admin/profile.php',
    'testcookie' => '1',
]);
[$status, , $set, $location] = request('POST', '/wp-login.php', $form, $jar);
$logged_in = array_filter(array_keys($set), fn($k) => str_starts_with($k, 'wordpress_logged_in_'));
if ($status !== 302 || !$logged_in) fail("the admin login was refused (wp-login.php answered $status)");
$jar = array_merge($jar, $set);
[$status, $body] = request('GET', '/wp-admin/profile.php', null, $jar);
if ($status !== 200 || strpos($body, 'id="your-profile"') === false) {
    fail("wp-admin after the login answered $status");
}
say("admin login: the profile page answers 200");

// The report.
$fetched = json_decode((string) @file_get_contents("$tmp/restored.json"), true);
if (!is_array($fetched)) fail("restic left no restored.json");
$manifest = json_decode((string) @file_get_contents("$restored/dump/manifest.json"), true);
if (!is_array($manifest)) fail("the snapshot holds no readable manifest.json");
$started = (int) ($fetched['started'] ?? 0);
$seconds = $started > 0 ? time() - $started : null;
$report = json_encode([
    'snapshot' => $fetched['snapshot'] ?? null,
    'snapshotTime' => $fetched['snapshotTime'] ?? null,
    'seconds' => $seconds,
    'manifest' => $manifest,
    'checks' => ['home' => 200, 'products' => count($products), 'adminLogin' => true],
], JSON_UNESCAPED_SLASHES);
$log = getenv('TERMINATION_LOG') ?: (file_exists('/dev/termination-log') ? '/dev/termination-log' : '');
if ($log !== '' && @file_put_contents($log, $report . "\n") === false) say("cannot write the report");
say("verified: the backup restores and the shop serves and logs its admin in, in {$seconds} s");
