/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evtail.h - `tollgatectl events [--follow]`: the host's usage events,
 * decoded, from where the agent sends them: kafka.topic_usage (either
 * encoding, told apart by the content-type header) when kafka.brokers is
 * set, else agent.events_file.
 */
#ifndef TG_AGENT_EVTAIL_H
#define TG_AGENT_EVTAIL_H

#include <stdbool.h>

#include "lib/config.h"

/*
 * evtail_run() - print the events: what is there now, then with follow the
 * new ones as they come, until SIGINT/SIGTERM. json prints one CloudEvents
 * object a line, else a table. Returns 0 or -errno (message in err).
 */
int evtail_run(const struct config *cfg, bool follow, bool json, char *err, size_t err_len);

#endif /* TG_AGENT_EVTAIL_H */
