# aiopslab — plain Makefile. `make`, `make test`, `make bench`,
# `make SANITIZE=address,undefined test`.
CC      ?= cc
PKGS    := jansson yaml-0.1 sqlite3 libuv libmicrohttpd libcurl libpq hiredis
KIT_PKGS := libmicrohttpd libcurl libpq hiredis jansson
ifneq ($(SANITIZE),)
BUILD   ?= build-san
endif
BUILD   ?= build
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wstrict-prototypes \
           -Wno-unused-parameter -Wno-format-truncation -Isrc -MMD -MP
LDLIBS  += -lpthread -lm

ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

DEPS_OK := $(shell pkg-config --exists $(PKGS) $(KIT_PKGS) && command -v haproxy >/dev/null && echo yes)
ifneq ($(DEPS_OK),yes)
$(info aiopslab: installing missing dependencies (scripts/install-deps.sh))
$(shell scripts/install-deps.sh >&2)
endif

CFLAGS  += $(shell pkg-config --cflags $(PKGS))
LDLIBS  := $(shell pkg-config --libs $(PKGS)) $(LDLIBS)

# Every .c under src/ except the shim (a preload library) and main goes into the archive.
LIB_SRC := $(filter-out src/mesh/shim.c src/cli/main.c,$(wildcard src/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Apps. apps/kit is the service kit (a library). An app folder with a
# main.c is one program named after the folder, written on the kit (its
# services are roles: `social-network user-service`); in other app folders
# every .c is a program of its own (the example app). Apps are ordinary
# programs: they never see src/ and are built without sanitizers (they run
# under the preloaded shim).
KIT_SRC  := $(wildcard apps/kit/*.c)
KIT_APPS := $(patsubst apps/%/main.c,%,$(wildcard apps/*/main.c))
APP_SRC  := $(filter-out apps/kit/% $(addsuffix /%,$(addprefix apps/,$(KIT_APPS))),$(wildcard apps/*/*.c))
APP_BIN  := $(addprefix $(BUILD)/apps/bin/,$(notdir $(APP_SRC:.c=)) $(KIT_APPS))
APP_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wno-format-truncation -Iapps/kit

all: $(BUILD)/aiopslab $(BUILD)/libaiopslab-shim.so $(BUILD)/kubectl $(APP_BIN) $(UNIT_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libaiopslab.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/aiopslab: $(BUILD)/src/cli/main.o $(BUILD)/libaiopslab.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# kubectl is the same binary under another name (it looks at argv[0]).
$(BUILD)/kubectl: $(BUILD)/aiopslab
	ln -sf aiopslab $@

# The preload shim is built without sanitizers: it is loaded into foreign programs.
$(BUILD)/libaiopslab-shim.so: src/mesh/shim.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -fPIC -shared $< -o $@ -ldl

# App programs are built flat into apps/bin (first on every pod's PATH).
$(BUILD)/apps/kit/%.o: apps/kit/%.c apps/kit/*.h
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) $(shell pkg-config --cflags $(KIT_PKGS)) -c $< -o $@

$(BUILD)/apps/libkit.a: $(KIT_SRC:%.c=$(BUILD)/%.o)
	$(AR) rcs $@ $^

define kit_app
$(BUILD)/apps/bin/$(1): $(wildcard apps/$(1)/*.c apps/$(1)/*.h) $(BUILD)/apps/libkit.a
	@mkdir -p $$(dir $$@)
	$(CC) $(APP_CFLAGS) $(shell pkg-config --cflags $(KIT_PKGS)) $(wildcard apps/$(1)/*.c) $(BUILD)/apps/libkit.a \
	    $(shell pkg-config --libs $(KIT_PKGS)) -lpthread -lm -o $$@
endef
$(foreach a,$(KIT_APPS),$(eval $(call kit_app,$(a))))

vpath %.c $(filter-out apps/kit $(addprefix apps/,$(KIT_APPS)),$(wildcard apps/*))
$(BUILD)/apps/bin/%: %.c $(wildcard apps/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) $< -o $@ -lpthread

# The kit's own test service, its unit test (pure parts of apps/kit, linked
# like an app: never with src/) and the PostgreSQL pod launcher.
KIT_LINK := $(BUILD)/apps/libkit.a $(shell pkg-config --libs $(KIT_PKGS)) -lpthread -lm
all: $(BUILD)/tests/kit_echo $(BUILD)/apps/bin/aiopslab-postgres

$(BUILD)/tests/kit_echo: tests/kit/kit_echo.c apps/kit/kit.h $(BUILD)/apps/libkit.a
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) $(shell pkg-config --cflags $(KIT_PKGS)) $< $(KIT_LINK) -o $@

$(BUILD)/tests/test_kit: tests/unit/test_kit.c apps/kit/kit_int.h $(BUILD)/apps/libkit.a
	@mkdir -p $(dir $@)
	$(CC) $(APP_CFLAGS) $(shell pkg-config --cflags $(KIT_PKGS)) $< $(KIT_LINK) -o $@

$(BUILD)/apps/bin/aiopslab-postgres: apps/kit/aiopslab-postgres
	@mkdir -p $(dir $@)
	install -m 755 $< $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libaiopslab.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

test: all
	BUILD=$(BUILD) tests/run.sh

bench: all
	BUILD=$(BUILD) bench/run.sh

# The main job: a representative set of problems posed to the baseline agent
# on the live lab (the cluster starts and the apps deploy when needed).
run: all
	$(BUILD)/aiopslab run

# Every problem proven: the reference solution passes, doing nothing and the
# mitigation shortcuts fail (docs/problems.md).
validate: all
	$(BUILD)/aiopslab validate --jobs 2

# Every fault type end to end (the suite runs a representative subset).
test-faults: all
	BUILD=$(BUILD) AIOPSLAB_FAULTS_FULL=1 tests/run.sh e2e/faults

format:
	clang-format -i $(wildcard src/*/*.[ch] apps/*/*.c tests/unit/*.[ch])

clean:
	rm -rf build build-san

.PHONY: all test bench run validate test-faults format clean
-include $(LIB_OBJ:.o=.d) $(BUILD)/src/cli/main.d

# Fuzz targets (libFuzzer, clang): `make fuzz` builds them and runs each for
# FUZZ_TIME seconds; tests/e2e/fuzz.sh runs them briefly in the test suite.
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 60
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
              $(shell pkg-config --cflags jansson yaml-0.1)
FUZZ_LIBS  := $(shell pkg-config --libs jansson yaml-0.1) -lm
FUZZ_CORE  := src/core/alloc.c src/core/buf.c src/core/json.c src/core/util.c
FUZZ_yaml_SRC  := src/core/yaml.c src/cluster/manifest.c $(FUZZ_CORE)
FUZZ_patch_SRC := src/cluster/patch.c $(FUZZ_CORE)
FUZZ_http_SRC  := src/mesh/http.c
FUZZ_otlp_SRC  := src/observe/trace_otlp.c src/observe/trace_jread.c src/observe/trace_jaeger.c src/core/timeutil.c $(FUZZ_CORE)
FUZZ_action_SRC := src/orchestrator/action.c src/orchestrator/action_bind.c $(FUZZ_CORE)

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_yaml_SRC) $(FUZZ_patch_SRC) $(FUZZ_http_SRC) $(FUZZ_otlp_SRC) $(FUZZ_action_SRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $< $(FUZZ_$*_SRC) $(FUZZ_LIBS) -o $@

fuzz-build:
	@if command -v $(FUZZ_CC) >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory $(BUILD)/fuzz/fuzz_yaml $(BUILD)/fuzz/fuzz_patch $(BUILD)/fuzz/fuzz_http $(BUILD)/fuzz/fuzz_otlp $(BUILD)/fuzz/fuzz_action; \
	else echo "fuzz: $(FUZZ_CC) not found, skipping (scripts/install-deps.sh installs clang)"; fi

fuzz: fuzz-build
	@if [ -x $(BUILD)/fuzz/fuzz_yaml ]; then \
	    for t in yaml patch http otlp action; do mkdir -p $(BUILD)/fuzz/corpus-$$t; \
	        $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) -max_len=4096 $(BUILD)/fuzz/corpus-$$t tests/fuzz/seeds-$$t || exit 1; \
	    done; fi

.PHONY: fuzz fuzz-build
