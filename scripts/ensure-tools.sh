#!/usr/bin/env bash
# Make sure the command-line tools Runway's deploy tests need are on this machine.
#
#   scripts/ensure-tools.sh [TOOL...]      TOOL: promtool | kubectl   (default: all)
#
# Idempotent: a tool that is already present and working costs nothing; Debian packages are
# installed only when missing, and `apt-get update` runs only if something must be installed.
# Concurrent runs (parallel test workers) are serialized with flock.
#
#   promtool  Debian package `prometheus` (bookworm: Prometheus 2.42), installed if missing.
#   kubectl   Used for `kubectl kustomize` (kustomize v4+ needed: the tree uses components and
#             `patches`). Debian has no kubectl package, so it cannot be installed here: the
#             machine image provides it (/usr/bin/kubectl). Missing or too old is a hard error.
#
# stdout: one line per tool, "NAME PATH". Progress and errors go to stderr, prefixed [ensure-tools].
# Exit status non-zero with a clear message when a tool cannot be had: tests fail loudly, never skip.
set -euo pipefail

log() { printf '[ensure-tools] %s\n' "$*" >&2; }
die() { printf '[ensure-tools] ERROR: %s\n' "$*" >&2; exit 1; }

TOOLS=("$@")
[ ${#TOOLS[@]} -gt 0 ] || TOOLS=(promtool kubectl)
for t in "${TOOLS[@]}"; do
  case "$t" in promtool | kubectl) ;; *) die "unknown tool '$t' (known: promtool, kubectl)" ;; esac
done

LOCK_DIR="${XDG_CACHE_HOME:-${HOME}/.cache}/runway"
if [ -z "${RUNWAY_ENSURE_TOOLS_LOCKED:-}" ] && command -v flock >/dev/null; then
  mkdir -p "$LOCK_DIR"
  exec env RUNWAY_ENSURE_TOOLS_LOCKED=1 flock --exclusive "$LOCK_DIR/ensure-tools.lock" bash "$0" "${TOOLS[@]}"
fi

APT_UPDATED=0
apt_install() { # PACKAGE...
  [ "$(id -u)" -eq 0 ] || die "installing $* needs root (apt-get); run once as root: sudo $0 ${TOOLS[*]}"
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  export DEBIAN_FRONTEND=noninteractive
  if [ $APT_UPDATED -eq 0 ]; then
    log "apt-get update"
    apt-get update -q >&2 || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  apt-get install -y -q --no-install-recommends "$@" >&2 || die "apt-get install $* failed"
}

promtool_ok() { command -v promtool >/dev/null && promtool --version >/dev/null 2>&1; }

ensure_promtool() {
  if ! promtool_ok; then
    apt_install prometheus
    # The package's service is of no use here; stop it if the install started one (not on a
    # machine without an init system, where nothing was started).
    if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
      systemctl stop prometheus >/dev/null 2>&1 || true
    fi
    promtool_ok || die "promtool still not usable after installing the Debian package prometheus"
  fi
  log "promtool: $(promtool --version 2>&1 | head -1)"
  printf 'promtool %s\n' "$(command -v promtool)"
}

ensure_kubectl() {
  command -v kubectl >/dev/null || die "kubectl not found and Debian has no kubectl package. Install kubectl >= 1.21 (kustomize v4+) on PATH; the machine image normally ships it as /usr/bin/kubectl."
  local out
  out=$(kubectl version --client 2>&1) || die "kubectl does not run: $out"
  local kv
  kv=$(printf '%s\n' "$out" | sed -n 's/^Kustomize Version: v\([0-9][0-9]*\).*/\1/p' | head -1)
  [ -n "$kv" ] || die "kubectl has no embedded kustomize version it reports (kubectl < 1.21?): $out"
  [ "$kv" -ge 4 ] || die "kubectl embeds kustomize v$kv; deploy/ needs v4+ (kubectl >= 1.21)"
  log "kubectl: $(printf '%s' "$out" | tr '\n' ' ')"
  printf 'kubectl %s\n' "$(command -v kubectl)"
}

for t in "${TOOLS[@]}"; do
  case "$t" in
    promtool) ensure_promtool ;;
    kubectl) ensure_kubectl ;;
  esac
done
