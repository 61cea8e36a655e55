# gpuproof — the two commands a person needs:
#   make run    install what is missing, build, start the server on ./var/gpuproof.db
#   make test   install what is missing, build (normal and ASan+UBSan), run every test via ctest
# Other targets: build, build-asan, deps, fuzz, reliability, bench, install, clean.

APT_PACKAGES := build-essential cmake pkg-config git openssh-client sqlite3 curl \
	libmicrohttpd-dev libsqlite3-dev libsodium-dev libcurl4-openssl-dev libjansson-dev \
	libgit2-dev libssl-dev libexpat1-dev libcmocka-dev \
	python3 python3-cryptography python3-pytest clang libclang-rt-dev valgrind
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
LISTEN ?= 127.0.0.1:8080
DB ?= var/gpuproof.db
PREFIX ?= /usr/local
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
CTEST_ARGS ?= --output-on-failure -j$(JOBS)

.PHONY: all deps build build-asan build-fuzz run test test-normal test-asan test-fuzz fuzz reliability bench install clean

all: build

# Install the Debian packages that are missing (nothing when all are there).
deps:
	@missing=""; for p in $(APT_PACKAGES) $(EXTRA_APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@if [ -x tests/browser/setup.sh ]; then tests/browser/setup.sh; fi

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	cmake --build build -j$(JOBS)

build-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DGP_SANITIZE=ON -DCMAKE_C_COMPILER=gcc >/dev/null
	cmake --build build-asan -j$(JOBS)

run: build
	@mkdir -p $(dir $(DB))
	@echo "starting gpuproof-server on http://$(LISTEN)/ (database $(DB)); Ctrl-C stops it"
	exec build/gpuproof-server --listen $(LISTEN) --db $(DB)

# libFuzzer targets (clang, ASan+UBSan); FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 15
build-fuzz: deps
	cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DGP_FUZZ=ON -DCMAKE_C_COMPILER=clang \
	  -DGP_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	cmake --build build-fuzz --target fuzzers -j$(JOBS)

test-fuzz: build-fuzz
	ctest --test-dir build-fuzz -R '^fuzz/' --output-on-failure

test-normal: build
	ctest --test-dir build $(CTEST_ARGS)

test-asan: build-asan
	ctest --test-dir build-asan $(CTEST_ARGS)

test: deps
	$(MAKE) --no-print-directory test-fuzz
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-normal

FUZZ_LONG ?= 300
fuzz:
	$(MAKE) --no-print-directory test-fuzz FUZZ_SECONDS=$(FUZZ_LONG)

reliability bench:
	@if [ -f mk/$@.mk ]; then $(MAKE) --no-print-directory -f mk/$@.mk $@; else echo "no $@ suite yet" >&2; exit 1; fi

install: build
	DESTDIR=$(DESTDIR) cmake --install build --prefix $(PREFIX)

clean:
	rm -rf build build-asan
