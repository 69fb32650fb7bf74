/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * migrate.h - the schema of tollgate's Postgres (DESIGN §8): the numbered
 * files of billing/sql/, built into the binary, applied in order under an
 * advisory lock, each in its own transaction with its row in
 * schema_migrations, so concurrent or interrupted runs are harmless.
 */
#ifndef TG_BILLING_MIGRATE_H
#define TG_BILLING_MIGRATE_H

#include <libpq-fe.h>

/* migrate_apply() - apply what is missing. Returns how many were applied, or -errno. */
int migrate_apply(PGconn *c);

/*
 * migrate_check() - 0 when every migration this binary knows is applied;
 * -ESTALE (logged, naming the first missing one) when `migrate` must run
 * first; -EIO.
 */
int migrate_check(PGconn *c);

#endif /* TG_BILLING_MIGRATE_H */
