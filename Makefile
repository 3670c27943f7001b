# Thin wrapper for the README's commands. The build itself is CMake.
#   make run    install missing packages, build, start casmemd (./data, 127.0.0.1:7070)
#   make test   install missing packages (and tests/mcp's npm packages), build, run every test (ctest)
#   make build  install missing packages, build into build/
#   make sanitize-test SAN=address|thread   the tests under a sanitizer
#   make fuzz   the libFuzzer targets, FUZZ_SECONDS (40) each (tests/fuzz/run.sh)
BUILD ?= build
JOBS ?= 2
PACKAGES = g++ cmake make libboost1.81-dev libxxhash-dev rapidjson-dev \
           libgtest-dev libbenchmark-dev libhiredis-dev libpq-dev libssl-dev openssl \
           python3 postgresql
# libFuzzer needs clang and its runtime (g++ has none); only `make fuzz` installs them.
FUZZ_PACKAGES = clang-14 libclang-rt-14-dev

.PHONY: deps fuzz-deps node-deps build run test sanitize-test fuzz clean

# $(call install-missing,packages): apt-get install those not installed yet.
install-missing = @missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

deps:
	$(call install-missing,$(PACKAGES))

fuzz-deps: deps
	$(call install-missing,$(FUZZ_PACKAGES))

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j$(JOBS)

run: build
	./$(BUILD)/bin/casmemd $(ARGS)

# The MCP test's client, the official MCP TypeScript SDK, from the npm
# registry at the version tests/mcp/package-lock.json pins (Node 20 is on
# the machines; the product itself needs no Node).
node-deps:
	@if [ ! -d tests/mcp/node_modules ] || [ tests/mcp/package-lock.json -nt tests/mcp/node_modules ]; then \
	  echo "installing tests/mcp's npm packages"; \
	  npm ci --prefix tests/mcp --no-audit --no-fund --loglevel=error; \
	fi

test: build node-deps
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

sanitize-test: deps
	cmake -S . -B $(BUILD)-$(SAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCASMEM_SANITIZE=$(SAN) -DCASMEM_BUILD_BENCH=OFF
	cmake --build $(BUILD)-$(SAN) -j$(JOBS)
	ctest --test-dir $(BUILD)-$(SAN) --output-on-failure -j$(JOBS)

fuzz: fuzz-deps
	JOBS=$(JOBS) FUZZ_BUILD=$(BUILD)-fuzz tests/fuzz/run.sh $(TARGETS)

clean:
	rm -rf $(BUILD) $(BUILD)-address $(BUILD)-thread $(BUILD)-fuzz
