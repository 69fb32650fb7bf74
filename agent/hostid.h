/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hostid.h - the two halves of an event id's prefix (DESIGN §5): the host id
 * (agent.host_id, else derived from /etc/machine-id) and the epoch, a start
 * counter persisted in agent.state_dir so that ids never repeat across
 * restarts.
 */
#ifndef TG_AGENT_HOSTID_H
#define TG_AGENT_HOSTID_H

#include <stdint.h>

#include "lib/config.h"

/* hostid_get() - agent.host_id, or the first 32 bits of /etc/machine-id
 * (never 0). Returns 0 or -errno when neither is available. */
int hostid_get(const struct config *cfg, uint32_t *ret);

/* hostid_next_epoch() - read state_dir/epoch, store it plus one (fsync'd,
 * renamed into place) and return the new value in *ret. Creates state_dir. */
int hostid_next_epoch(const char *state_dir, uint32_t *ret);

/* hostid_current_epoch() - the last epoch stored, 0 if none. */
uint32_t hostid_current_epoch(const char *state_dir);

#endif /* TG_AGENT_HOSTID_H */
