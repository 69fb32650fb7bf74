# tollgate top-level build: `make` builds everything, `make test` runs every
# test, `make install` installs (PREFIX, DESTDIR), `make bench` measures.
include mk/common.mk

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB_SAN_OBJS := $(LIB_SRCS:%.c=$(BUILD)/san/%.o)

AGENT_COMMON := agent/bpfload.c agent/keyfile.c agent/hostid.c agent/mapwalk.c
AGENT_SRCS := agent/agent.c agent/drain.c agent/metrics.c agent/spool.c agent/kafkaout.c \
	agent/redissync.c agent/lease.c agent/responder.c agent/geoip.c agent/sockreap.c \
	$(AGENT_COMMON)
CTL_SRCS := agent/tollgatectl.c agent/evtail.c $(AGENT_COMMON)
BILLING_SRCS := $(wildcard billing/*.c)
API_SRCS := $(wildcard dashboard-api/*.c)
API_LIBS := -lmicrohttpd -lpq -lhiredis -lcurl -ljansson -lpthread -lm
# built once their sources exist (issue 5 is under way)
API_BIN := $(if $(wildcard dashboard-api/main.c),$(BUILD)/tollgate-api)
API_TEST_BINS := $(if $(wildcard tests/integration/analytics-driver.c),$(BUILD)/tests/analytics-driver)

BPF_OBJ := $(BUILD)/tollgate.bpf.o
BPF_SKEL := $(BUILD)/tollgate.skel.h
# BPF programs of the benchmarks and tests: the no-op baseline, lossy links
# (an XDP one for answers to the client, a tc one for the client's segments)
BPF_AIDS := $(BUILD)/noop.bpf.o $(BUILD)/noop_msg.bpf.o $(BUILD)/lose_answer.bpf.o \
	$(BUILD)/lose_segment.bpf.o
VMLINUX := $(BUILD)/vmlinux.h

UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
BPF_TEST_BIN := $(BUILD)/tests/test-xdp-fixtures

BINS := $(BUILD)/tollgate-agent $(BUILD)/tollgatectl $(BUILD)/kafka-dev-broker $(BUILD)/tollgate-billing \
	$(API_BIN)

.PHONY: all test unit-test bpf-test integration-test bench install clean deps demo
all: $(BINS) $(BPF_OBJ) $(BPF_AIDS) $(BUILD)/bpf-lines $(BUILD)/bpf-verifier-cost

deps:
	$(Q)scripts/deps.sh

# --- BPF ---------------------------------------------------------------
$(VMLINUX):
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -I$(BUILD) -Ibpf -Wall -Werror \
	-Wno-unused-function -mcpu=v3

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(VMLINUX) $(wildcard bpf/*.h) $(wildcard bpf/lib/*.h)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

# --- userspace ------------------------------------------------------------
$(BUILD)/%.o: %.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/san/%.o: %.c
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(filter-out -O2,$(CFLAGS)) $(SAN_CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/libtollgate.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)ar rcs $@ $^

$(BUILD)/libtollgate-san.a: $(LIB_SAN_OBJS)
	$(call msg,AR,$@)
	$(Q)ar rcs $@ $^

# the agent's objects need the skeleton
$(AGENT_SRCS:%.c=$(BUILD)/%.o) $(CTL_SRCS:%.c=$(BUILD)/%.o): $(BPF_SKEL)

$(BUILD)/tollgate-agent: $(AGENT_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/libtollgate.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lrdkafka -lhiredis -ljansson -lmaxminddb -lm

$(BUILD)/tollgatectl: $(CTL_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/libtollgate.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lrdkafka -ljansson -lm

$(BUILD)/billing/%.o: PKG_CFLAGS += $(shell pkg-config --cflags libpq 2>/dev/null)

BILLING_SQL := $(sort $(wildcard billing/sql/*.sql))
$(BUILD)/billing/sql.S: $(BILLING_SQL) scripts/gen-sql-embed.sh
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)scripts/gen-sql-embed.sh $(abspath $(BILLING_SQL)) > $@

$(BUILD)/billing/sql.o: $(BUILD)/billing/sql.S
	$(call msg,AS,$@)
	$(Q)$(CC) -c $< -o $@

$(BUILD)/tollgate-billing: $(BILLING_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/billing/sql.o $(BUILD)/libtollgate.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lpq -lrdkafka -lcurl -lhiredis -ljansson -lm

# tollgate-api, the dashboard REST API (DESIGN §7); it shares billing's libpq helpers
# and invoice pricing
$(BUILD)/dashboard-api/%.o: PKG_CFLAGS += $(shell pkg-config --cflags libpq libmicrohttpd 2>/dev/null)

# billing's invoice module prices the upcoming invoice exactly as billing will
API_BILLING_OBJS := $(BUILD)/billing/pg.o $(BUILD)/billing/invoice.o $(BUILD)/billing/reconcile.o

# the developer portal's files, built into tollgate-api (dashboard-api/portal.h)
PORTAL_ASSETS := $(sort $(wildcard dashboard-api/portal/*))
$(BUILD)/dashboard-api/portal-assets.S: $(PORTAL_ASSETS) scripts/gen-portal-embed.sh
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)scripts/gen-portal-embed.sh $(abspath $(PORTAL_ASSETS)) > $@

$(BUILD)/dashboard-api/portal-assets.o: $(BUILD)/dashboard-api/portal-assets.S
	$(call msg,AS,$@)
	$(Q)$(CC) -c $< -o $@

$(BUILD)/tollgate-api: $(API_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/dashboard-api/portal-assets.o \
		$(API_BILLING_OBJS) $(BUILD)/libtollgate.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) $(API_LIBS)

# the analytics queries of the API, driven from a test without HTTP
$(BUILD)/tests/analytics-driver: tests/integration/analytics-driver.c $(BUILD)/dashboard-api/analytics.o \
		$(API_BILLING_OBJS) $(BUILD)/libtollgate.a
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) $(shell pkg-config --cflags libpq) -o $@ $^ $(PKG_LIBS) $(API_LIBS)

# BPF samples of perf by source line (a profiling aid: built, not installed)
$(BUILD)/bpf-lines: scripts/bpf-lines.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(PKG_LIBS)

# each program's share of the verifier's budget (a check in make test and a
# figure in make bench: built, not installed)
$(BUILD)/bpf-verifier-cost: scripts/bpf-verifier-cost.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(PKG_LIBS)

# the development Kafka broker (librdkafka's mock cluster), DESIGN §10
$(BUILD)/kafka-dev-broker: scripts/kafka-dev-broker.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $< -lrdkafka

# --- tests --------------------------------------------------------------
$(BUILD)/tests/test-%: tests/unit/test-%.c $(BUILD)/libtollgate-san.a
	$(call msg,TEST-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(filter-out -O2,$(CFLAGS)) $(SAN_CFLAGS) $(PKG_CFLAGS) -o $@ $(filter %.c %.a,$^) \
		-lcmocka $(PKG_LIBS) -ljansson -lm

# synthetic usage events with their ground truth, for billing's tests and bench
$(BUILD)/tests/produce-usage: tests/integration/produce-usage.c $(BUILD)/libtollgate.a
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lrdkafka -ljansson -lm

# the Stripe provider's test talks HTTP to a fake Stripe of its own
$(BUILD)/tests/test-stripe: tests/unit/test-stripe.c billing/stripe.c $(BUILD)/libtollgate-san.a
	$(call msg,TEST-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(filter-out -O2,$(CFLAGS)) $(SAN_CFLAGS) $(PKG_CFLAGS) -o $@ $(filter %.c %.a,$^) \
		-lcmocka $(PKG_LIBS) -lcurl -ljansson -lm

# the agent's drain into agent.events_file, with a real ring buffer
$(BUILD)/tests/test-drain: tests/unit/test-drain.c agent/drain.c agent/geoip.c agent/spool.c \
		agent/mapwalk.c $(BUILD)/libtollgate-san.a
	$(call msg,TEST-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(filter-out -O2,$(CFLAGS)) $(SAN_CFLAGS) $(PKG_CFLAGS) -o $@ $(filter %.c %.a,$^) \
		-lcmocka $(PKG_LIBS) -ljansson -lmaxminddb -lm

# the agent's reaper of silent refused connections, with real sockets
$(BUILD)/tests/test-sockreap: tests/unit/test-sockreap.c agent/sockreap.c agent/mapwalk.c \
		$(BUILD)/libtollgate-san.a
	$(call msg,TEST-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(filter-out -O2,$(CFLAGS)) $(SAN_CFLAGS) $(PKG_CFLAGS) -o $@ $(filter %.c %.a,$^) \
		-lcmocka $(PKG_LIBS) -lm

$(BPF_TEST_BIN): tests/bpf/test-xdp-fixtures.c tests/bpf/packet.c tests/bpf/packet.h $(BPF_SKEL) $(BUILD)/libtollgate.a
	$(call msg,TEST-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $(filter %.c,$^) $(BUILD)/libtollgate.a -lcmocka $(PKG_LIBS) -ljansson -lm

test: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS) $(BPF_TEST_BIN) $(BUILD)/tests/produce-usage \
		$(API_TEST_BINS) $(BUILD)/bench-xdp-cost
	$(Q)$(MAKE) --no-print-directory unit-test bpf-test integration-test

unit-test: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

bpf-test: $(BPF_TEST_BIN)
	$(Q)echo "== $(BPF_TEST_BIN)"; $(BPF_TEST_BIN)

integration-test: all $(BUILD)/tests/produce-usage $(API_TEST_BINS) $(BUILD)/bench-xdp-cost
	$(Q)set -e; for t in tests/integration/test-*.sh; do echo "== $$t"; \
		BUILD=$(abspath $(BUILD)) bash $$t; done

$(BUILD)/bench-xdp-cost: scripts/bench-xdp-cost.c tests/bpf/packet.c tests/bpf/packet.h $(BPF_SKEL) \
		$(BUILD)/bench_state.skel.h bpf/bench_floor.h $(BUILD)/libtollgate.a
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests/bpf -o $@ $(filter %.c,$^) $(BUILD)/libtollgate.a $(PKG_LIBS) -ljansson -lm

$(BUILD)/bench-events: scripts/bench-events.c agent/drain.c agent/geoip.c agent/spool.c agent/kafkaout.c \
		agent/mapwalk.c $(BUILD)/libtollgate.a
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $(filter %.c,$^) $(BUILD)/libtollgate.a $(PKG_LIBS) \
		-lrdkafka -ljansson -lmaxminddb -lm

bench: deps all $(BUILD)/bench-xdp-cost $(BUILD)/bench-events $(BUILD)/tests/produce-usage
	$(Q)BUILD=$(abspath $(BUILD)) bash scripts/bench.sh

# the whole marketplace on one host: Redis, the development broker, the agent,
# billing, the API and traffic (scripts/demo.sh)
demo: deps all
	$(Q)BUILD=$(abspath $(BUILD)) bash scripts/demo.sh

# --- install ------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/tollgate $(DESTDIR)$(DATADIR)/doc/tollgate
	install -m 0755 $(BUILD)/tollgate-agent $(DESTDIR)$(SBINDIR)/tollgate-agent
	install -m 0755 $(BUILD)/tollgatectl $(DESTDIR)$(BINDIR)/tollgatectl
	install -m 0755 $(BUILD)/tollgate-billing $(DESTDIR)$(SBINDIR)/tollgate-billing
	install -m 0755 $(BUILD)/tollgate-api $(DESTDIR)$(SBINDIR)/tollgate-api
	sed 's|@SBINDIR@|$(SBINDIR)|g; s|@BINDIR@|$(BINDIR)|g' agent/tollgate-agent.service \
		> $(DESTDIR)$(UNITDIR)/tollgate-agent.service
	sed 's|@SBINDIR@|$(SBINDIR)|g; s|@BINDIR@|$(BINDIR)|g' billing/tollgate-billing.service \
		> $(DESTDIR)$(UNITDIR)/tollgate-billing.service
	sed 's|@SBINDIR@|$(SBINDIR)|g; s|@BINDIR@|$(BINDIR)|g' dashboard-api/tollgate-api.service \
		> $(DESTDIR)$(UNITDIR)/tollgate-api.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tollgate-agent.service \
		$(DESTDIR)$(UNITDIR)/tollgate-billing.service $(DESTDIR)$(UNITDIR)/tollgate-api.service
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DATADIR)/doc/tollgate/
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/tollgate/tollgate.conf ]; then \
		install -m 0644 docs/tollgate.conf.example $(DESTDIR)$(SYSCONFDIR)/tollgate/tollgate.conf.example; \
		echo "kept $(DESTDIR)$(SYSCONFDIR)/tollgate/tollgate.conf; new example beside it"; \
	else install -m 0644 docs/tollgate.conf.example $(DESTDIR)$(SYSCONFDIR)/tollgate/tollgate.conf; fi

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
