#!/bin/sh
# Storefleet backups with restic (the restic image), the repository's half:
#
# backup:  initialises the store's repository on its first backup, backs up dump/ (the
#          database dump and its manifest) and $FILES (the shop's files, read-only:
#          files/wp-content or files/uploads) from $BACKUP_ROOT,
#          then forgets what the retention does not keep and prunes. Prints the snapshot id.
# restore: restores $SNAPSHOT (an id, or latest) into $RESTORED and checks the repository's
#          data for that snapshot as it reads it; leaves which snapshot and how long it took in
#          $TMPDIR/restored.json for the container after it (a drill reports them).
#
# A backup reports one line of JSON to $TERMINATION_LOG (default /dev/termination-log, which
# the kubelet puts in the container's status and the operator copies to status.backup.last):
# the snapshot, its time, the seconds taken and the dump's manifest (counts, size). No secret.
#
# Inputs (env): RESTIC_REPOSITORY RESTIC_PASSWORD AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
# AWS_DEFAULT_REGION STORE; backup also BACKUP_ROOT REASON KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY FILES;
# restore also SNAPSHOT RESTORED. Secrets come from the environment only.
set -eu

log() { printf 'storefleet-backup: %s\n' "$*"; }
# The report's one line goes to $TERMINATION_LOG, or the kubelet's /dev/termination-log in a pod;
# on a machine with neither, nowhere (the file is never made in /dev).
report() {
  if [ -n "${TERMINATION_LOG:-}" ]; then
    printf '%s\n' "$1" 2>/dev/null >"$TERMINATION_LOG" || log "cannot write the report"
  elif [ -e /dev/termination-log ]; then
    printf '%s\n' "$1" 2>/dev/null >/dev/termination-log || log "cannot write the report"
  fi
}
fail() { printf 'storefleet-backup: FAILED: %s\n' "$*" >&2; exit 1; }
need() {
  for var in "$@"; do
    eval "value=\${$var:-}"
    [ -n "$value" ] || fail "environment variable $var is not set"
  done
}
need RESTIC_REPOSITORY RESTIC_PASSWORD STORE
HOME=${TMPDIR:-/tmp}
RESTIC_CACHE_DIR=$HOME/restic-cache
export HOME RESTIC_CACHE_DIR

# A field of restic's JSON for one snapshot.
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" | head -n 1; }

backup() {
  need BACKUP_ROOT REASON KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY
  started=$(date +%s)
  cd "$BACKUP_ROOT" || fail "cannot enter $BACKUP_ROOT"
  [ -f dump/manifest.json ] || fail "no database dump in $BACKUP_ROOT/dump"
  if ! restic cat config >/dev/null 2>&1; then
    log "initialising the store's repository"
    restic init || fail "cannot initialise the repository (or reach it)"
  fi
  paths="dump"
  files=${FILES:-files/wp-content}
  [ -d "$files" ] && paths="$paths $files"
  log "backing up $paths"
  # shellcheck disable=SC2086 # two known paths without spaces
  restic backup --host "$STORE" --tag storefleet --tag "$REASON" $paths >"$HOME/backup.log" 2>&1 \
    || { cat "$HOME/backup.log" >&2; fail "restic backup failed"; }
  snapshot=$(sed -n 's/^snapshot \([0-9a-f]*\) saved$/\1/p' "$HOME/backup.log")
  [ -n "$snapshot" ] || { cat "$HOME/backup.log" >&2; fail "restic saved no snapshot"; }
  log "forgetting what the retention does not keep (daily $KEEP_DAILY, weekly $KEEP_WEEKLY, monthly $KEEP_MONTHLY)"
  # An upgrade's restore point (tag upgrade) is kept whatever the retention: a scheduled backup
  # during an upgrade must not forget what its rollback would restore.
  restic forget --host "$STORE" --keep-daily "$KEEP_DAILY" --keep-weekly "$KEEP_WEEKLY" \
    --keep-monthly "$KEEP_MONTHLY" --keep-tag upgrade --prune >/dev/null || fail "restic forget failed"
  taken=$(restic snapshots --json "$snapshot" | field time)
  report "$(printf '{"snapshot": "%s", "snapshotTime": "%s", "seconds": %s, "manifest": %s}' \
    "$snapshot" "$taken" "$(($(date +%s) - started))" "$(tr -d '\n' <dump/manifest.json)")"
  log "snapshot $snapshot"
}

restore() {
  need SNAPSHOT RESTORED
  started=$(date +%s)
  # shellcheck disable=SC2153 # SNAPSHOT is an input, checked by need
  found=$(restic snapshots --json --host "$STORE" "$SNAPSHOT" 2>/dev/null) || found=""
  id=$(printf '%s' "$found" | field short_id)
  [ -n "$id" ] || fail "the repository of $STORE holds no snapshot $SNAPSHOT"
  log "restoring snapshot $id ($SNAPSHOT)"
  restic restore "$id" --host "$STORE" --target "$RESTORED" --verify \
    || fail "restic could not restore snapshot $id"
  printf '{"snapshot": "%s", "snapshotTime": "%s", "seconds": %s, "started": %s}\n' \
    "$id" "$(printf '%s' "$found" | field time)" "$(($(date +%s) - started))" "$started" \
    >"$HOME/restored.json"
}

case ${1:-} in
  backup) backup ;;
  restore) restore ;;
  *) fail "usage: $0 backup|restore" ;;
esac
