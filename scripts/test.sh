#!/usr/bin/env bash
# make test (and make bench): start throwaway PostgreSQL clusters, run the
# checks against them, and always stop them.
#
#   scripts/test.sh         go vet, staticcheck, go test -race ./... on 15, 16 and 17,
#                           then the Helm chart's tests
#   scripts/test.sh bench   the fleet-scale benchmarks on four clusters of 15
#                           (LDAP2PG=/path/to/ldap2pg adds ldap2pg next to
#                           stile: docs/bench.md)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"

mode=${1:-test}
versions=${PG_VERSIONS:-15 16 17}
# Four clusters: the batch apply benchmark spreads 200 roles over 1, 2 and 4.
[ "$mode" = bench ] && versions=${PG_VERSIONS:-15 15 15 15}
STATICCHECK=${STATICCHECK:-honnef.co/go/tools/cmd/staticcheck@v0.8.2}

phase() { printf '\n==> %s\n' "$*"; }

work=$(mktemp -d /tmp/stile-test.XXXXXX)
chmod 755 "$work"
cleanup() {
  local i=0
  for _ in $versions; do
    i=$((i + 1))
    bash scripts/pg.sh stop "$work/pg$i" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

if [ "$mode" = test ]; then
  # Chromium for the browser tests; a C compiler for the race detector
  # (cgo), unless GOTESTFLAGS replaces -race.
  pkgs=()
  command -v chromium >/dev/null || pkgs+=(chromium)
  # The container image carries the CA certificates (scripts/image).
  [ -f /etc/ssl/certs/ca-certificates.crt ] || pkgs+=(ca-certificates)
  if [ -z "${GOTESTFLAGS+set}" ] && ! command -v gcc >/dev/null; then pkgs+=(gcc); fi
  if [ ${#pkgs[@]} -gt 0 ]; then
    phase "install ${pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"
  fi
fi

phase "start PostgreSQL $versions"
urls=""
i=0
for v in $versions; do
  i=$((i + 1))
  url=$(bash scripts/pg.sh start "$v" "$work/pg$i")
  urls="$urls $v=$url"
done
export STILE_TEST_PG_URLS="${urls# }"

if [ "$mode" = bench ]; then
  phase "benchmark${LDAP2PG:+ (and ldap2pg: $LDAP2PG)}"
  go test -run '^$' -bench . -benchtime "${BENCHTIME:-3x}" -timeout 60m ./internal/bench/ ./internal/web/ ./internal/service/
  exit
fi

phase "go vet"
go vet ./...
phase "staticcheck"
go run "$STATICCHECK" ./...
phase "go test -race"
# The race detector runs on every test run (≈ 55 s for the suite on 2
# cores); it found a real shutdown bug. GOTESTFLAGS replaces the flag.
# shellcheck disable=SC2086
go test -count=1 -timeout 20m ${GOTESTFLAGS--race} ./...
phase "the Helm chart (deploy/helm/charttest, a module of its own)"
# helm lint and helm template through Helm's packages, every object decoded
# strictly with the Kubernetes API types, the server run as a pod of the
# chart would run it. Helm and the Kubernetes types stay out of stile's
# go.mod: only this test module needs them.
(cd deploy/helm/charttest && go vet ./... && go run "$STATICCHECK" ./... && go test -count=1 -timeout 10m ./...)
