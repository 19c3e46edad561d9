# The README's two commands: `make demo` and `make test`.
.PHONY: demo test bench build

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

bench:
	bash scripts/test.sh bench

build:
	go build -o stile ./cmd/stile
