# Thin wrapper for the README's commands. The build itself is CMake.
#   make run    install missing packages, build, start casmemd (./data, 127.0.0.1:7070)
#   make test   install missing packages, build, run every test (ctest)
#   make build  install missing packages, build into build/
#   make sanitize-test SAN=address|thread   the tests under a sanitizer
BUILD ?= build
JOBS ?= 2
PACKAGES = g++ cmake make libboost1.81-dev libxxhash-dev rapidjson-dev \
           libgtest-dev libbenchmark-dev libhiredis-dev libpq-dev

.PHONY: deps build run test sanitize-test clean

deps:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j$(JOBS)

run: build
	./$(BUILD)/bin/casmemd $(ARGS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

sanitize-test: deps
	cmake -S . -B $(BUILD)-$(SAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCASMEM_SANITIZE=$(SAN) -DCASMEM_BUILD_BENCH=OFF
	cmake --build $(BUILD)-$(SAN) -j$(JOBS)
	ctest --test-dir $(BUILD)-$(SAN) --output-on-failure -j$(JOBS)

clean:
	rm -rf $(BUILD) $(BUILD)-address $(BUILD)-thread
