#!/bin/sh
# Storefleet backups with restic (the restic image), the repository's half:
#
# backup:  initialises the store's repository on its first backup, backs up dump/ (the
#          database dump and its manifest) and files/wp-content (read-only) from $BACKUP_ROOT,
#          then forgets what the retention does not keep and prunes. Prints the snapshot id.
# restore: restores $SNAPSHOT (an id, or latest) into $RESTORED and checks the repository's
#          data for that snapshot as it reads it.
#
# Inputs (env): RESTIC_REPOSITORY RESTIC_PASSWORD AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
# AWS_DEFAULT_REGION STORE; backup also BACKUP_ROOT REASON KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY;
# restore also SNAPSHOT RESTORED. Secrets come from the environment only.
set -eu

log() { printf 'storefleet-backup: %s\n' "$*"; }
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

backup() {
  need BACKUP_ROOT REASON KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY
  cd "$BACKUP_ROOT" || fail "cannot enter $BACKUP_ROOT"
  [ -f dump/manifest.json ] || fail "no database dump in $BACKUP_ROOT/dump"
  if ! restic cat config >/dev/null 2>&1; then
    log "initialising the store's repository"
    restic init || fail "cannot initialise the repository (or reach it)"
  fi
  paths="dump"
  [ -d files/wp-content ] && paths="$paths files/wp-content"
  log "backing up $paths"
  # shellcheck disable=SC2086 # two known paths without spaces
  restic backup --host "$STORE" --tag storefleet --tag "$REASON" $paths >"$HOME/backup.log" 2>&1 \
    || { cat "$HOME/backup.log" >&2; fail "restic backup failed"; }
  snapshot=$(sed -n 's/^snapshot \([0-9a-f]*\) saved$/\1/p' "$HOME/backup.log")
  [ -n "$snapshot" ] || { cat "$HOME/backup.log" >&2; fail "restic saved no snapshot"; }
  log "forgetting what the retention does not keep (daily $KEEP_DAILY, weekly $KEEP_WEEKLY, monthly $KEEP_MONTHLY)"
  restic forget --host "$STORE" --keep-daily "$KEEP_DAILY" --keep-weekly "$KEEP_WEEKLY" \
    --keep-monthly "$KEEP_MONTHLY" --prune >/dev/null || fail "restic forget failed"
  log "snapshot $snapshot"
}

restore() {
  need SNAPSHOT RESTORED
  # shellcheck disable=SC2153 # SNAPSHOT is an input, checked by need
  log "restoring snapshot $SNAPSHOT"
  restic restore "$SNAPSHOT" --host "$STORE" --target "$RESTORED" --verify \
    || fail "restic could not restore snapshot $SNAPSHOT"
}

case ${1:-} in
  backup) backup ;;
  restore) restore ;;
  *) fail "usage: $0 backup|restore" ;;
esac
