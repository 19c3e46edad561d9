# The README's two commands: `make demo` and `make test`.
.PHONY: demo test bench bench-connect build image deb docs

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

bench:
	bash scripts/test.sh bench

bench-connect:
	bash scripts/pgbench.sh

# The release is the tag checked out (dev otherwise); the commit comes from
# the build's VCS stamp.
build:
	go build -buildvcs=true -ldflags "-X github.com/stile-dev/stile/internal/version.Version=$$(git describe --tags --exact-match 2>/dev/null || echo dev)" -o stile ./cmd/stile

# The container image, without a container daemon: static binaries for
# each of PLATFORMS in an OCI archive (build/stile-image.tar: an image
# index, one image per platform; podman load -i, or skopeo copy --all
# oci-archive:build/stile-image.tar …). scripts/image/main_test.go checks it.
VERSION = $$(git describe --tags --exact-match 2>/dev/null || echo dev)
LDFLAGS = -X github.com/stile-dev/stile/internal/version.Version=$(VERSION)
PLATFORMS = amd64 arm64
image:
	mkdir -p build
	for arch in $(PLATFORMS); do CGO_ENABLED=0 GOOS=linux GOARCH=$$arch go build -trimpath -buildvcs=true -ldflags "$(LDFLAGS)" -o build/linux-$$arch/stile ./cmd/stile || exit 1; done
	go run ./scripts/image $(foreach arch,$(PLATFORMS),-binary build/linux-$(arch)/stile) -version "$(VERSION)" -revision "$$(git rev-parse HEAD)" -o build/stile-image.tar

# The Debian package (build/stile_VERSION_ARCH.deb; make deb ARCH=arm64):
# the static binary, systemd units for the server and the agent, default
# configs and the man pages (packaging/), built with nfpm, run with go run so
# that it is no dependency of stile's. scripts/deb_test.go installs and
# removes it.
NFPM = github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
ARCH = amd64
deb:
	mkdir -p build/deb
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) go build -trimpath -buildvcs=true -ldflags "$(LDFLAGS)" -o build/deb/stile ./cmd/stile
	STILE_ARCH=$(ARCH) STILE_VERSION="$$(v=$(VERSION); v=$${v#v}; [ "$$v" = dev ] && v=0.0.0~dev; echo $$v)" go run $(NFPM) package --config packaging/nfpm.yaml --packager deb --target build/

# The command reference, written from the commands: Markdown in docs/cli
# (stile.md is the index), man pages in docs/man. scripts/docs's test fails
# when the committed pages differ from what this writes.
docs:
	go run ./scripts/docs
