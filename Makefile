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

build:
	go build -o stile ./cmd/stile
