# mk/bench.mk - `make bench` (issue 8): release build in build-bench/, the benchmark tools, the
# Debian packages the references need, then bench/run.py, which prints the table and exits non-zero
# when a target is missed. Generated data (1M-receipt database, 1 GB repository) is cached in
# build-bench/data between runs.
BENCH_DIR ?= build-bench
BENCH_ARGS ?=
JOBS ?= 2
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# command -> Debian package
BUILD_PKGS := build-essential cmake pkg-config git libmicrohttpd-dev libsqlite3-dev libsodium-dev \
	libcurl4-openssl-dev libjansson-dev libgit2-dev libssl-dev libexpat1-dev libcmocka-dev python3 \
	python3-cryptography
BENCH_TOOLS := nginx:nginx wrk:wrk openssl:openssl taskset:util-linux sha256sum:coreutils git:git \
	xargs:findutils
PKG_LIBS := libmicrohttpd sqlite3 libsodium libcurl jansson libgit2 libcrypto expat
SERVER_OBJ_DIR = $(BENCH_DIR)/CMakeFiles/gpuproof-server.dir/server

.PHONY: bench bench-deps bench-build

bench: bench-build
	/usr/bin/python3 bench/run.py $(BENCH_DIR) $(BENCH_ARGS)

bench-deps:
	@missing=""; for p in $(BUILD_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	for tp in $(BENCH_TOOLS); do \
	  command -v $${tp%%:*} >/dev/null 2>&1 || [ -x /usr/sbin/$${tp%%:*} ] || missing="$$missing $${tp#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Release build of the two programs, then the generator (linked with the server's own modules, so
# that the databases it writes are the server's rows) and the load generator.
bench-build: bench-deps
	cmake -S . -B $(BENCH_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BENCH_DIR) --target gpuproof-server gpuproof-cli -j$(JOBS)
	$(CC) -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Iserver -Ilib \
	  -o $(BENCH_DIR)/gpbench-gen bench/gen.c \
	  $$(ls $(SERVER_OBJ_DIR)/*.o | grep -v '/main\.c\.o$$') $(BENCH_DIR)/libgpuproof.a \
	  $$(pkg-config --libs $(PKG_LIBS)) -lpthread -lm -ldl
	$(CC) -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -o $(BENCH_DIR)/gpbench-load bench/loadgen.c
