# shellcheck shell=bash
# Sourced by hack/node-images.sh (shellcheck -x checks it there).
# hack/node-images.sh's helpers for packing an image (sourced; they use the caller's $work, the
# phase's work folder, and $dest, the folder whose `refs` lists the image).

# json_array A B ...: ["A","B",...] (the values here hold no quotes or backslashes).
json_array() {
  local list="" v
  for v in "$@"; do list="$list${list:+,}\"$v\""; done
  printf '[%s]' "$list"
}

# pack ROOT ARCHIVE REF CONFIG-JSON: ROOT as a one-layer OCI image archive named REF.
pack() {
  local root=$1 archive=$2 ref=$3 config=$4 oci
  oci="$work/oci-$(basename "$2" .tar)"
  mkdir -p "$oci/blobs/sha256"
  tar --numeric-owner --xattrs --one-file-system -C "$root" \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf "$oci/layer.tar" .
  local layer_sum layer_size config_sum config_size manifest manifest_sum
  layer_sum=$(sha256sum "$oci/layer.tar" | cut -d' ' -f1)
  layer_size=$(stat -c %s "$oci/layer.tar")
  mv "$oci/layer.tar" "$oci/blobs/sha256/$layer_sum"
  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$config" "$layer_sum" >"$oci/config.json"
  config_sum=$(sha256sum "$oci/config.json" | cut -d' ' -f1)
  config_size=$(stat -c %s "$oci/config.json")
  mv "$oci/config.json" "$oci/blobs/sha256/$config_sum"
  manifest=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$config_sum" "$config_size" "$layer_sum" "$layer_size")
  printf '%s' "$manifest" >"$oci/manifest.json"
  manifest_sum=$(sha256sum "$oci/manifest.json" | cut -d' ' -f1)
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s"}}]}' \
    "$manifest_sum" "$(stat -c %s "$oci/manifest.json")" "$ref" >"$oci/index.json"
  mv "$oci/manifest.json" "$oci/blobs/sha256/$manifest_sum"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
  tar -C "$oci" -cf "$archive" oci-layout index.json blobs
  rm -rf "$oci"
  printf '%s %s\n' "$(basename "$archive")" "$ref" >>"$dest/refs.partial"
}

# config USER ENTRYPOINT-JSON CMD-JSON WORKDIR VOLUME STOPSIGNAL STANDIN-TEXT ENV...: an image
# config (the default PATH unless ENV gives one; the runtime's stop signal unless one is given).
config() {
  local user=$1 entrypoint=$2 cmd=$3 workdir=$4 volume=$5 stop=$6 standin=$7
  shift 7
  local volumes="{}" path="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" var
  [ -z "$volume" ] || volumes="{\"$volume\":{}}"
  for var in "$@"; do
    case "$var" in PATH=*) path=$var ;; esac
  done
  local env=("$path")
  for var in "$@"; do
    case "$var" in PATH=*) ;; *) env+=("$var") ;; esac
  done
  printf '{"User":"%s","Env":%s,"Entrypoint":%s,"Cmd":%s,"WorkingDir":"%s","Volumes":%s,%s"Labels":{"io.storefleet.stand-in":"%s"}}' \
    "$user" "$(json_array "${env[@]}")" "$entrypoint" "$cmd" "$workdir" "$volumes" \
    "${stop:+\"StopSignal\":\"$stop\",}" "$standin"
}

# phase_cleanup DIR WHAT CONSEQUENCE: the end of one build phase (a subshell): its mounts and
# work folder go; on a failure (a mirror that does not answer, a package that does not install)
# it says so and leaves no half-built DIR (exit 0: the tests that need it skip).
phase_cleanup() {
  local status=$? m
  for m in "$work"/*/proc; do mountpoint -q "$m" 2>/dev/null && umount -l "$m"; done
  rm -rf "$work"
  if [ "$status" != 0 ]; then
    rm -rf "$1"
    echo "node-images: building $2 failed (exit $status, see above): $3" >&2
    exit 0
  fi
}

