#!/usr/bin/env bash
# Builds the local stand-ins for the upstream images the roles use, plus the
# systemd "laptop" image the Molecule scenarios converge. Uses Docker's layer
# cache, so a second run takes a few seconds.
#
# Where an image registry is reachable, the stand-ins are built FROM the
# upstream images (pgvector/pgvector:pg16, redis:7-alpine, debian:trixie);
# where none is (our CI machines), FROM a trixie root filesystem made with
# debootstrap from the mirror this machine's apt is configured with.
#
# Usage: tests/images/build.sh [--offline|--online]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix="${INTEGRADOR_TEST_IMAGE_PREFIX:-integrador-test}"
base="$prefix/base:trixie"

log() { printf '[images] %s\n' "$*" >&2; }

build() {
  # docker build is chatty (and warns about the legacy builder on every call):
  # keep its output for when it fails.
  local out
  if ! out=$(docker build "$@" 2>&1); then printf '%s\n' "$out" >&2; return 1; fi
}

apt_mirror() {
  # The Debian mirror this machine already uses; never hard-coded in the repo.
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || { log "no Debian mirror found in /etc/apt/sources*"; exit 1; }
  printf '%s\n' "$uri"
}

mode="${1:-auto}"
if [ "$mode" = auto ]; then
  if timeout 20 docker pull -q debian:trixie >/dev/null 2>&1; then mode=--online; else mode=--offline; fi
fi

if [ "$mode" = --online ]; then
  log "registry reachable: building FROM the upstream images"
  docker tag debian:trixie "$base"
  pg_from=pgvector/pgvector:pg16
  redis_from=redis:7-alpine
  docker pull -q "$pg_from" >/dev/null
  docker pull -q "$redis_from"
  build -q -t "$prefix/pgvector:pg16" --build-arg FROM="$pg_from" -f "$here/pgvector/Dockerfile.upstream" "$here/pgvector"
  build -q -t "$prefix/redis:7" --build-arg FROM="$redis_from" -f "$here/redis/Dockerfile.upstream" "$here/redis"
else
  if ! docker image inspect "$base" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || { log "debootstrap is missing: apt-get install -y debootstrap"; exit 1; }
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    mirror=$(apt_mirror)
    log "debootstrap trixie (minbase) from the configured mirror"
    debootstrap --variant=minbase trixie "$rootfs" "$mirror" >/dev/null
    # Point the image's apt at the same mirror so later layers can install packages.
    printf 'deb %s trixie main\n' "$mirror" >"$rootfs/etc/apt/sources.list"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import -c 'CMD ["/bin/bash"]' - "$base" >/dev/null
  fi
  build -q -t "$prefix/pgvector:pg16" --build-arg BASE="$base" "$here/pgvector"
  build -q -t "$prefix/redis:7" --build-arg BASE="$base" "$here/redis"
  # The names scripts/converge's stand-in mode uses (tests/images/standins.yml)
  # say what the images run: never an upstream name such as pgvector/pgvector:pg16,
  # which a PostgreSQL 17 image is not. ($prefix/pgvector:pg16 above is the tests'
  # own name, under a prefix no registry serves.)
  pg_major=$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$prefix/pgvector:pg16" | sed -n 's/^PG_MAJOR=//p')
  redis_major=$(docker run --rm --entrypoint redis-server "$prefix/redis:7" --version | sed -n 's/.* v=\([0-9]*\)\..*/\1/p')
  docker tag "$prefix/pgvector:pg16" "integrador-standin/pgvector:pg$pg_major"
  docker tag "$prefix/redis:7" "integrador-standin/redis:$redis_major"
  sed -n 's/^\(postgres_pgvector\|redis\)_image: *//p' "$here/standins.yml" | while read -r name; do
    docker image inspect "$name" >/dev/null 2>&1 \
      || { log "the stand-ins are PostgreSQL $pg_major and Redis $redis_major now: update the image names in $here/standins.yml ($name)"; exit 1; }
  done
  log "stand-ins: integrador-standin/pgvector:pg$pg_major integrador-standin/redis:$redis_major"
fi
build -q -t "$prefix/laptop:trixie" --build-arg BASE="$base" "$here/laptop"
# The private key of the laptops' SSH (the laptop's Dockerfile says why), for the scenarios'
# connection (.config/molecule/config.yml). Copied out at every build: a rebuilt image has a new key.
ssh_dir=/var/tmp/integrador-itest-ssh
install -d -m 0700 "$ssh_dir"
docker run --rm --entrypoint cat "$prefix/laptop:trixie" /etc/ssh/itest_id_ed25519 >"$ssh_dir/id_ed25519.new"
chmod 0600 "$ssh_dir/id_ed25519.new" && mv "$ssh_dir/id_ed25519.new" "$ssh_dir/id_ed25519"
# TEST DOUBLE of Ollama's HTTP API (molecule/ollama only; never a stand-in for make dev).
build -q -t "$prefix/ollama-double:latest" --build-arg BASE="$base" "$here/ollama-double"

# The test laptops' wheelhouse (.config/molecule/config.yml mounts it read-only, PIP_FIND_LINKS
# in molecule/shared/group_vars points pip at it): the demo backend's requirements, supervisor's
# and the tests' own, as wheels for the laptops' Python, downloaded once per machine by a laptop
# container. pip still reads the index, but takes a wheel of the same version from here (pip
# lists find-links candidates first): no laptop downloads them again. (pip's own HTTP cache,
# tried first, stays empty here: the proxy's answers carry no caching headers.)
wheels=/var/tmp/integrador-itest-wheels
repo="$(cd "$here/../.." && pwd)"
install -d -m 0755 "$wheels"
docker run --rm --entrypoint sh \
  -v "$wheels:/wheels" -v "$repo:/repo:ro" \
  -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
  "$prefix/laptop:trixie" -c 'python3 -m venv /opt/pip && /opt/pip/bin/pip download --quiet \
    --disable-pip-version-check --cert /etc/ssl/certs/ca-certificates.crt --dest /wheels \
    -r /repo/examples/integrador/backend/requirements.txt \
    -r /repo/roles/app_services/files/supervisor-requirements.txt six==1.17.0' >&2
log "wheelhouse: $wheels ($(find "$wheels" -name '*.whl' | wc -l) wheels)"
log "ready: $prefix/pgvector:pg16 $prefix/redis:7 $prefix/laptop:trixie $prefix/ollama-double:latest"
