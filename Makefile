# strata's front door. `make test` and `make demo` set up a fresh Debian 12 machine themselves.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: deps configure build test demo bench clean

deps:
	scripts/install-deps

configure: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The demo needs only the CLI: building every test and benchmark first would take minutes.
demo: configure
	cmake --build $(BUILD) -j $(JOBS) --target strata
	scripts/demo $(BUILD)/strata

bench: build
	scripts/bench $(BUILD)

clean:
	rm -rf $(BUILD)
