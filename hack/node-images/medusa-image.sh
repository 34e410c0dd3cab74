# shellcheck shell=bash
# hack/node-images.sh's phases for the Medusa image (sourced; each runs in a subshell; shellcheck
# -x checks them there): medusa_build (the Dockerfile's build stage, into $mstage; it needs no
# base root, so it runs beside the Debian images) and medusa_image (the runtime stage, into
# $mout, from $out/base.tar). They use the caller's $out, $mout, $mstage, $modules
# (hack/medusa-deps.sh's node_modules), $medusa_src, $medusa_version and $here.

# --- ghcr.io/storefleet/storefleet-medusa:<version of medusa/package.json> -----------------------
# medusa/Dockerfile's two stages: `medusa build` with the locked modules, the built server with
# its production modules (`npm ci --omit=dev`); then the node:20-bookworm-slim runtime: the
# `node` user (uid 1000), this machine's Node 20 and npm in /usr/local, the node image's
# entrypoint, /app owned by 1000, the Dockerfile's environment and command.
medusa_build() {
work=$(mktemp -d /var/tmp/storefleet-node-images.XXXXXX)
trap 'phase_cleanup "$mstage" "the Medusa application" "the Medusa store of the node tier will skip"' EXIT
rm -rf "$mstage" && mkdir -p "$mstage"
echo "node-images: building medusa/ for its stand-in image (once per content of medusa/)" >&2
local app="$work/app"
mkdir -p "$app"
find "$medusa_src" -mindepth 1 -maxdepth 1 ! -name node_modules ! -name .medusa -exec cp -a {} "$app/" \;
ln -s "$modules" "$app/node_modules"
(cd "$app" && NODE_ENV=production node_modules/.bin/medusa build) >"$work/build.log" 2>&1 \
  || { tail -n 30 "$work/build.log" >&2; exit 1; }
if grep -q 'completed with errors' "$work/build.log"; then
  grep -i error "$work/build.log" | tail -n 20 >&2
  exit 1
fi
cp "$medusa_src/package-lock.json" "$app/.medusa/server/"
(cd "$app/.medusa/server" && npm ci --omit=dev --no-audit --no-fund --prefer-offline --loglevel=error) \
  >"$work/npm.log" 2>&1 || { tail -n 30 "$work/npm.log" >&2; exit 1; }
mv "$app/.medusa/server" "$mstage/server"
touch "$mstage/.done"
}

medusa_image() {
work=$(mktemp -d /var/tmp/storefleet-node-images.XXXXXX)
dest=$mout
trap 'phase_cleanup "$mout" "the Medusa stand-in" "the Medusa store of the node tier will skip"' EXIT
rm -rf "$mout" && mkdir -p "$mout"
local root="$work/medusa" npm_dir
mkdir -p "$root" && tar -xf "$out/base.tar" -C "$root"
chroot "$root" groupadd -g 1000 node
chroot "$root" useradd -u 1000 -g node -s /bin/bash -m node
install -m 0755 "$(command -v node)" "$root/usr/local/bin/node"
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
install -m 0755 "$here/node-images/node-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
mv "$mstage/server" "$root/app"
rm -rf "$mstage"
chown -R 1000:1000 "$root/app"
rm -rf "$root/usr/sbin/policy-rc.d" "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*
: >"$root/etc/resolv.conf"
pack "$root" "$mout/medusa.tar" "ghcr.io/storefleet/storefleet-medusa:$medusa_version" "$(config 1000:1000 \
  '["docker-entrypoint.sh"]' '["npx","medusa","start"]' /app "" "" \
  "stand-in for storefleet-medusa:$medusa_version: medusa/ built as its Dockerfile does, on Debian 12 with this machine's Node $(node --version)" \
  "NODE_VERSION=$(node --version | tr -d v)" NODE_ENV=production PORT=9000 MEDUSA_WORKER_MODE=server)"
mv "$mout/refs.partial" "$mout/refs"
touch "$mout/.done"
}

