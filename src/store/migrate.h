/*
 * migrate.h: `binkd migrate`, the upgrade of a single-node installation
 * from its SQLite file to a PostgreSQL database (docs/scaling.md).
 *
 * Kept out of store.h on purpose: store.c's dispatch is generated from
 * every store_* prototype there, and this is no backend operation.
 */
#ifndef BINK_STORE_MIGRATE_H
#define BINK_STORE_MIGRATE_H

#include <stdio.h>

#include "core/result.h"

/* Copies every table of the SQLite database `from_uri` ("sqlite:PATH")
 * into the PostgreSQL database `to_uri` ("postgresql://…" or
 * "postgres://…", libpq's URI form; it may carry options such as
 * options=-csearch_path%3DSCHEMA).
 *
 * - The SQLite file is opened read-only and must exist and carry the
 *   schema this binkd writes (PRAGMA user_version); an older file must be
 *   upgraded first by starting the current binkd on it once.
 * - The target gets its schema through store_open() (the normal
 *   migrations), then must be empty: no row in any of the copied tables.
 * - The copy runs in ONE PostgreSQL transaction (the tables locked
 *   against other writers): COPY of every row, column by column by name;
 *   SQLite's feed.id into feed.seq, feed_counter set to the largest;
 *   every bigserial sequence moved past its table's largest id; then every
 *   table's row count compared with the SQLite file's. Any difference or
 *   error rolls everything back, leaving the target as it was (with its
 *   schema).
 * - On success one line per table, "<table> <n> rows", is written to
 *   `report` (may be NULL).
 *
 * The files themselves stay where they are (<data>/files/): the migrated
 * server must run with the same --data directory.
 *
 * Returns BINK_OK, or an error code with a one-sentence reason in *err
 * (may be NULL): BINK_EINVAL for a bad URI, BINK_ENOTFOUND for a missing
 * SQLite file, BINK_ECONFLICT for a non-empty target or a schema that does
 * not match, BINK_EUNAVAIL when a database fails. Messages name the
 * PostgreSQL server by host, port and database, never by its URI (which
 * may hold a password). Nothing is kept after the call returns; the
 * strings are the caller's. */
bink_rc store_migrate(const char *from_uri, const char *to_uri, FILE *report,
                      bink_err *err);

#endif
