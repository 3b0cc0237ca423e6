/* batch.h — writes a batch of records and their minute rollups in one
 * SQLite transaction with prepared statements (internal to the store;
 * used only by the writer thread). Uses SQLite and the record field table. */
#ifndef MG_STORE_BATCH_H
#define MG_STORE_BATCH_H

#include <stddef.h>

#include "record.h"

struct sqlite3;
struct sqlite3_stmt;

/* Records per multi-row INSERT (times the record's fields stays well under
 * SQLite's 32766 parameters). */
#define MG_STORE_INSERT_ROWS 16

typedef struct mg_store_batch {
    struct sqlite3 *db;               /* borrowed: the writer's connection */
    struct sqlite3_stmt *begin;       /* owned prepared statements ... */
    struct sqlite3_stmt *commit;
    struct sqlite3_stmt *rollback;
    struct sqlite3_stmt *insert;      /* INSERT INTO requests, one ? per field */
    struct sqlite3_stmt *insert_many; /* the same for MG_STORE_INSERT_ROWS rows */
    struct sqlite3_stmt *rollup;      /* upsert into rollup_minute */
    const mg_record **by_key;         /* owned scratch: max pointers, sorted by rollup key */
    size_t max;
    int last_code;                    /* SQLite primary result code of the last failure */
} mg_store_batch;

/* Prepares the statements against a migrated database. MG_OK, or MG_ERR
 * with err filled (b is then left empty and safe to destroy). */
int mg_store_batch_init(mg_store_batch *b, struct sqlite3 *db, size_t max, char *err);
void mg_store_batch_destroy(mg_store_batch *b);

/* Inserts recs[0..n) (n <= max) and adds them to rollup_minute, all in one
 * transaction. MG_OK, or MG_ERR with err filled, b->last_code set and the
 * transaction rolled back. The records stay the caller's. */
int mg_store_batch_write(mg_store_batch *b, mg_record *const *recs, size_t n, char *err);

#endif
