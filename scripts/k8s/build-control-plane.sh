#!/usr/bin/env bash
# Build (once) and cache a real Kubernetes control plane for Runway's k8s tests.
#
# Everything comes from Debian bookworm packages: the `kubernetes` *source*
# package (Kubernetes 1.20.x, vendored deps) is compiled with Debian's Go, and
# etcd comes from `etcd-server`.  No other network source is used.
#
# Result:
#   ~/.cache/runway/k8s/<debian-version>/bin/{kube-apiserver,kube-controller-manager,kube-scheduler}
#   ~/.cache/runway/k8s/current -> <debian-version>
#   /usr/bin/etcd
#
# stdout: exactly one line, the bin dir.  Progress goes to stderr, prefixed [k8s-build].
# Idempotent; a second run with a warm cache takes well under a second.
# Any failure exits non-zero with a clear message (tests must fail loudly, never skip).
#
# Env overrides: RUNWAY_K8S_CACHE (default ~/.cache/runway/k8s), RUNWAY_K8S_KEEP_SRC=1 (keep build tree).
set -euo pipefail

CACHE_ROOT="${RUNWAY_K8S_CACHE:-${HOME}/.cache/runway/k8s}"
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler)
APT_PACKAGES=(golang-go etcd-server dpkg-dev openssl make rsync ca-certificates tar gzip xz-utils util-linux)
SRC_LIST=/etc/apt/sources.list.d/runway-src.sources
ETCD_BIN=/usr/bin/etcd

log() { printf '[k8s-build] %s\n' "$*" >&2; }
die() { printf '[k8s-build] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || printf "[k8s-build] FAILED (exit %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2' ERR

# ---------------------------------------------------------------------------
# Fast path: cached binaries that run, and etcd present.
# ---------------------------------------------------------------------------
bins_ok() { # $1 = bin dir
  local d="$1" c
  for c in "${COMPONENTS[@]}"; do
    [ -x "$d/$c" ] || return 1
    "$d/$c" --version >/dev/null 2>&1 || return 1
  done
}
etcd_ok() { [ -x "$ETCD_BIN" ] && "$ETCD_BIN" --version >/dev/null 2>&1; }

if bins_ok "$CACHE_ROOT/current/bin" && etcd_ok; then
  log "cached: $(readlink -f "$CACHE_ROOT/current/bin") ($("$CACHE_ROOT/current/bin/kube-apiserver" --version 2>&1))"
  readlink -f "$CACHE_ROOT/current/bin"
  exit 0
fi

# ---------------------------------------------------------------------------
# Slow path.
# ---------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "needs root (apt-get) to build the control plane; run once as root or pre-populate $CACHE_ROOT"
command -v apt-get >/dev/null || die "apt-get not found: this script supports Debian (bookworm) only"

mkdir -p "$CACHE_ROOT"
# Serialize concurrent runs (e.g. parallel test workers).  flock is in util-linux (essential).
if command -v flock >/dev/null && [ -z "${RUNWAY_K8S_BUILD_LOCKED:-}" ]; then
  log "acquiring lock $CACHE_ROOT/.build.lock"
  exec env RUNWAY_K8S_BUILD_LOCKED=1 flock --exclusive "$CACHE_ROOT/.build.lock" bash "$0" "$@"
fi

export DEBIAN_FRONTEND=noninteractive
APT_UPDATED=0
apt_update() {
  [ $APT_UPDATED -eq 0 ] || return 0
  log "apt-get update"
  apt-get -o DPkg::Lock::Timeout=600 update -q >&2 || die "apt-get update failed"
  APT_UPDATED=1
}

# 1. deb-src entry for bookworm main, mirroring the existing deb822 Debian source (written first so
#    that a single `apt-get update` covers both the binary packages and the source package).
NEED_UPDATE=0
if [ ! -f "$SRC_LIST" ]; then
  uri="http://deb.debian.org/debian"; keyring="/usr/share/keyrings/debian-archive-keyring.gpg"
  # Reuse URIs/Signed-By of the first existing non-security Debian deb822 source, if any.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && [ "$f" != "$SRC_LIST" ] || continue
    u=$(awk '/^URIs:/{for(i=2;i<=NF;i++) if ($i ~ /debian/ && $i !~ /security/) {print $i; exit}}' "$f")
    k=$(awk '/^Signed-By:/{print $2; exit}' "$f")
    if [ -n "$u" ]; then uri="$u"; [ -n "$k" ] && keyring="$k"; break; fi
  done
  log "adding deb-src ($uri bookworm main) -> $SRC_LIST"
  cat >"$SRC_LIST" <<EOF
Types: deb-src
URIs: $uri
Suites: bookworm
Components: main
Signed-By: $keyring
EOF
  NEED_UPDATE=1
elif [ -z "$(apt-cache showsrc kubernetes 2>/dev/null)" ]; then
  NEED_UPDATE=1
fi

# 2. Build/runtime packages.
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ $NEED_UPDATE -eq 1 ]; then apt_update; fi
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
fi
etcd_ok || die "etcd not usable at $ETCD_BIN after installing etcd-server"
command -v go >/dev/null || die "go not found after installing golang-go"
log "$(go version); $("$ETCD_BIN" --version | head -1)"

# The reflect2 patch below mirrors runtime.hiter of Go 1.18-1.23; refuse any other layout.
hiter_fields=$(awk '/^type hiter struct/{f=1;next} f&&/^}/{exit} f&&NF{print $1}' "$(go env GOROOT)/src/runtime/map.go" 2>/dev/null | tr '\n' ' ')
[ "$hiter_fields" = "key elem t h buckets bptr overflow oldoverflow startBucket offset wrapped B i bucket checkBucket " ] \
  || die "runtime.hiter of $(go version) is not the Go 1.18-1.23 layout the reflect2 patch assumes (got: '$hiter_fields')"

DEB_VERSION=$(apt-cache showsrc kubernetes 2>/dev/null | awk '/^Version:/{print $2}' | sort -V | tail -1)
if [ -z "$DEB_VERSION" ] && [ $APT_UPDATED -eq 0 ]; then
  apt_update
  DEB_VERSION=$(apt-cache showsrc kubernetes 2>/dev/null | awk '/^Version:/{print $2}' | sort -V | tail -1)
fi
[ -n "$DEB_VERSION" ] || die "no 'kubernetes' source package visible to apt (deb-src for bookworm main missing?)"
VERSION_DIR=$(printf '%s' "$DEB_VERSION" | tr -c 'A-Za-z0-9._-' '_')
# "1.20.5+really1.20.2-..." means the tarball really contains 1.20.2.
UPSTREAM=${DEB_VERSION%%-*}; UPSTREAM=${UPSTREAM##*really}; UPSTREAM=${UPSTREAM%%+*}
OUT="$CACHE_ROOT/$VERSION_DIR"
log "kubernetes source version $DEB_VERSION (upstream v$UPSTREAM) -> $OUT"

if bins_ok "$OUT/bin"; then
  log "binaries already built in $OUT/bin"
else
  SRC="$CACHE_ROOT/src"
  rm -rf "$SRC"; mkdir -p "$SRC"
  cd "$SRC"
  log "apt-get source --download-only kubernetes=$DEB_VERSION"
  chown _apt "$SRC" 2>/dev/null || true   # lets apt download sandboxed (avoids a warning)
  apt-get source -q --download-only "kubernetes=$DEB_VERSION" >&2 || die "apt-get source kubernetes failed"
  chmod -R a+rX "$SRC" || true
  orig=$(ls ./kubernetes_*.orig.tar.* 2>/dev/null | head -1)
  [ -n "$orig" ] || die "no orig tarball downloaded in $SRC"
  log "extracting $orig"
  tar xf "$orig"
  TREE=$(find "$SRC" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes*' | head -1)
  [ -n "$TREE" ] && [ -f "$TREE/cmd/kube-apiserver/apiserver.go" ] || die "unexpected orig tarball layout in $SRC"

  # -------------------------------------------------------------------------
  # Patch vendored reflect2 v1.0.1 for Go >= 1.18 (runtime.mapiterinit no longer
  # returns/allocates the iterator; old code crashes with "fatal error: fault").
  # Equivalent to upstream reflect2 v1.0.2's fix.
  # -------------------------------------------------------------------------
  R2="$TREE/vendor/github.com/modern-go/reflect2"
  MARK="runway: go1.18+ mapiterinit fix"
  [ -f "$R2/unsafe_link.go" ] && [ -f "$R2/unsafe_map.go" ] || die "vendored reflect2 not found at $R2"
  if grep -q "$MARK" "$R2/unsafe_link.go"; then
    log "reflect2/unsafe_link.go already patched"
  else
    log "patching reflect2/unsafe_link.go (mapiterinit signature, full hiter layout)"
    grep -q '^func mapiterinit(rtype unsafe.Pointer, m unsafe.Pointer) \*hiter$' "$R2/unsafe_link.go" \
      || die "reflect2/unsafe_link.go: mapiterinit declaration not as expected (reflect2 version changed?)"
    grep -q '^type hiter struct {$' "$R2/unsafe_link.go" || die "reflect2/unsafe_link.go: hiter struct not found"
    MARK="$MARK" perl -0pi -e '
      my $n = 0;
      $n += s#// m escapes into the return value, but the caller of mapiterinit\n// doesn.t let the return value escape.\n//go:noescape\n//go:linkname mapiterinit reflect.mapiterinit\nfunc mapiterinit\(rtype unsafe.Pointer, m unsafe.Pointer\) \*hiter\n#// $ENV{MARK}: Go >= 1.18 fills a caller-allocated iterator.\n//go:linkname mapiterinit reflect.mapiterinit\nfunc mapiterinit(rtype unsafe.Pointer, m unsafe.Pointer, it *hiter)\n#;
      $n += s#// A hash iteration structure\.\n(?://[^\n]*\n)*type hiter struct \{\n.*?\n\}\n#// A hash iteration structure ($ENV{MARK}).\n// Must match runtime.hiter (Go 1.18/1.19 runtime/map.go) field for field,\n// because the runtime initializes the whole struct.\ntype hiter struct {\n\tkey         unsafe.Pointer // Must be in first position.\n\tvalue       unsafe.Pointer // Must be in second position.\n\tt           unsafe.Pointer\n\th           unsafe.Pointer\n\tbuckets     unsafe.Pointer\n\tbptr        unsafe.Pointer\n\toverflow    *[]unsafe.Pointer\n\toldoverflow *[]unsafe.Pointer\n\tstartBucket uintptr\n\toffset      uint8\n\twrapped     bool\n\tB           uint8\n\ti           uint8\n\tbucket      uintptr\n\tcheckBucket uintptr\n}\n#s;
      die "unsafe_link.go: expected 2 substitutions, got $n\n" unless $n == 2;
    ' "$R2/unsafe_link.go"
  fi
  if grep -q "$MARK" "$R2/unsafe_map.go"; then
    log "reflect2/unsafe_map.go already patched"
  else
    log "patching reflect2/unsafe_map.go (caller-allocated hiter)"
    grep -q '^		hiter:      mapiterinit(type2.rtype, \*(\*unsafe.Pointer)(obj)),$' "$R2/unsafe_map.go" \
      || die "reflect2/unsafe_map.go: UnsafeIterate not as expected (reflect2 version changed?)"
    MARK="$MARK" perl -0pi -e '
      my $n = s#func \(type2 \*UnsafeMapType\) UnsafeIterate\(obj unsafe.Pointer\) MapIterator \{\n\treturn &UnsafeMapIterator\{\n\t\thiter:      mapiterinit\(type2.rtype, \*\(\*unsafe.Pointer\)\(obj\)\),\n#func (type2 *UnsafeMapType) UnsafeIterate(obj unsafe.Pointer) MapIterator {\n\t// $ENV{MARK}: allocate the iterator ourselves.\n\tit := &hiter{}\n\tmapiterinit(type2.rtype, *(*unsafe.Pointer)(obj), it)\n\treturn &UnsafeMapIterator{\n\t\thiter:      it,\n#;
      die "unsafe_map.go: expected 1 substitution, got $n\n" unless $n == 1;
    ' "$R2/unsafe_map.go"
  fi
  grep -q '^func mapiterinit(rtype unsafe.Pointer, m unsafe.Pointer, it \*hiter)$' "$R2/unsafe_link.go" \
    && grep -q '^	checkBucket uintptr$' "$R2/unsafe_link.go" \
    && ! grep -q 'mapiterinit(rtype unsafe.Pointer, m unsafe.Pointer) \*hiter' "$R2/unsafe_link.go" \
    && grep -q '^	mapiterinit(type2.rtype, \*(\*unsafe.Pointer)(obj), it)$' "$R2/unsafe_map.go" \
    || die "reflect2 patch did not apply cleanly"
  gofmt -e "$R2/unsafe_link.go" >/dev/null && gofmt -e "$R2/unsafe_map.go" >/dev/null \
    || die "reflect2 patch produced invalid Go"
  log "reflect2 patch OK"

  # -------------------------------------------------------------------------
  # Build.
  # -------------------------------------------------------------------------
  export CGO_ENABLED=0
  export GOCACHE="$CACHE_ROOT/gocache" GOFLAGS="" GOTOOLCHAIN=local GOPROXY=off
  export KUBE_GIT_VERSION="v$UPSTREAM"
  export KUBE_GIT_TREE_STATE=archive
  what="${COMPONENTS[*]/#/cmd/}"
  log "building: $what (CGO_ENABLED=0, $(nproc) cores; takes several minutes)"
  start=$(date +%s)
  cd "$TREE"
  # hack/make-rules/build.sh: runs the code generators (openapi-gen, deepcopy-gen, ...) then a
  # GOPATH-mode `go build` (GO111MODULE=off; module mode rejects this go.mod with Go 1.19).
  # Version stamping comes from the git-archive values baked into hack/lib/version.sh (v1.20.2).
  make WHAT="$what" >&2 || die "make WHAT=\"$what\" failed (see output above)"
  log "build finished in $(( $(date +%s) - start ))s"

  mkdir -p "$OUT/bin.tmp"
  for c in "${COMPONENTS[@]}"; do
    bin=$(ls "$TREE/_output/bin/$c" "$TREE"/_output/local/bin/*/*/"$c" 2>/dev/null | head -1)
    [ -n "$bin" ] && [ -x "$bin" ] || die "built binary $c not found under $TREE/_output"
    install -m 0755 "$bin" "$OUT/bin.tmp/$c"
  done
  bins_ok "$OUT/bin.tmp" || die "freshly built binaries do not run (--version failed)"
  rm -rf "$OUT/bin"; mv "$OUT/bin.tmp" "$OUT/bin"
  printf '%s\n' "$DEB_VERSION" >"$OUT/DEBIAN_VERSION"

  if [ -z "${RUNWAY_K8S_KEEP_SRC:-}" ]; then
    log "removing build tree $SRC and go build cache"
    cd "$CACHE_ROOT"; rm -rf "$SRC" "$CACHE_ROOT/gocache"
  fi
fi

ln -sfn "$VERSION_DIR" "$CACHE_ROOT/current.tmp" && mv -T "$CACHE_ROOT/current.tmp" "$CACHE_ROOT/current"
for c in "${COMPONENTS[@]}"; do log "$c: $("$OUT/bin/$c" --version 2>&1)"; done
log "ready: $OUT/bin (etcd: $ETCD_BIN)"
printf '%s\n' "$OUT/bin"
