# The README's two commands: `make demo` and `make test`.
.PHONY: demo test bench bench-connect build

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
