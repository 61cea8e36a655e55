# mk/reliability.mk - `make reliability` (issue 7): the crash, key-source-fault, hostile-input,
# security and valgrind suites with long budgets on a normal build (build/), then the same suites'
# short versions under ASan+UBSan are left to `make test`. Prints every suite's FIGURES line at
# the end; exits non-zero when any suite failed. Budgets (override on the command line):
#   CRASH_CYCLES   SIGKILL cycles of the crash test (make test: 20)
#   CRASH_THREADS  concurrent client threads
#   MUTATIONS      mutated receipts of the hostile HTTP suite (make test: 1000)
# `make fuzz` (the top Makefile) is the long fuzzing run: FUZZ_LONG seconds per target.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= 2
CRASH_CYCLES ?= 100
CRASH_THREADS ?= 16
MUTATIONS ?= 10000
LOG_DIR ?= $(BUILD_DIR)/reliability
PY := /usr/bin/python3
SRC := $(CURDIR)
ENV := GP_SOURCE_DIR=$(SRC) GP_BUILD_DIR=$(SRC)/$(BUILD_DIR) GP_VECTORS=$(SRC)/tests/vectors/pytest-gpu-proof-v1 \
	GP_SERVER_BIN=$(SRC)/$(BUILD_DIR)/gpuproof-server GP_CLI_BIN=$(SRC)/$(BUILD_DIR)/gpuproof-cli \
	GP_SANITIZE=0 PYTHON=$(PY) PYTHONDONTWRITEBYTECODE=1

SUITES := crash keysource_faults hostile_http hostile_server security valgrind

.PHONY: reliability reliability-build $(addprefix rel-,$(SUITES))

reliability: reliability-build
	@mkdir -p $(LOG_DIR); rc=0; \
	for s in $(SUITES); do \
	  echo "== $$s"; \
	  if $(MAKE) --no-print-directory -f mk/reliability.mk rel-$$s > $(LOG_DIR)/$$s.log 2>&1; then \
	    echo "   passed"; else echo "   FAILED (see $(LOG_DIR)/$$s.log):"; tail -20 $(LOG_DIR)/$$s.log; rc=1; fi; \
	done; \
	echo; echo "== figures"; grep -h '^FIGURES' $(LOG_DIR)/*.log; exit $$rc

reliability-build:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	cmake --build $(BUILD_DIR) --target gpuproof-server gpuproof-cli -j$(JOBS)

rel-crash:
	$(ENV) GP_CRASH_CYCLES=$(CRASH_CYCLES) GP_CRASH_THREADS=$(CRASH_THREADS) $(PY) tests/reliability/test_crash.py

rel-keysource_faults:
	$(ENV) $(PY) tests/reliability/test_keysource_faults.py

rel-hostile_http:
	$(ENV) GP_HOSTILE_MUTATIONS=$(MUTATIONS) $(PY) tests/security/test_hostile_http.py

rel-hostile_server:
	$(ENV) $(PY) tests/security/test_hostile_server.py

rel-security:
	$(ENV) $(PY) tests/security/test_security.py

rel-valgrind:
	$(ENV) bash tests/reliability/test_valgrind.sh
