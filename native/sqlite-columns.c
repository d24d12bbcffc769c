/*
 * sqlite-columns: a SQLite loadable extension for vfio-sla's store (src/store/column-reader.ts
 * builds and loads this file), so a bulk read gets a whole column of a batch of rows in one value
 * instead of one value per row through the JavaScript binding.
 *
 * f64s(x): aggregate; the values of x over the rows, in the order the rows are visited, as one
 * BLOB of native-endian IEEE-754 doubles. An INTEGER becomes (double)i64, as better-sqlite3
 * hands an INTEGER to JavaScript (no safeIntegers); NULL becomes NaN, which cannot be a stored
 * value: SQLite stores a NaN as NULL (sqlite3.c, sqlite3VdbeMemSetDouble: "if( !sqlite3IsNaN(val) )
 * ... else NULL"). No rows give a zero-length BLOB. Every aggregate of one SELECT is stepped on
 * the same rows in the same order, so f64s() columns of one statement are aligned by construction.
 *
 * Loadable extension protocol: https://sqlite.org/loadext.html (SQLITE_EXTENSION_INIT1/2, the
 * entry point sqlite3_<name>_init). Aggregates: https://sqlite.org/c3ref/create_function.html,
 * sqlite3_aggregate_context(), sqlite3_result_blob64().
 */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1
#include <math.h>
#include <stddef.h>

typedef struct {
  double *values;
  sqlite3_uint64 n, capacity;
} Column;

static void f64s_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  Column *c = sqlite3_aggregate_context(ctx, sizeof *c);
  if (c == NULL) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (c->n == c->capacity) {
    sqlite3_uint64 capacity = c->capacity != 0 ? c->capacity * 2 : 4096;
    double *values = sqlite3_realloc64(c->values, capacity * sizeof *values);
    if (values == NULL) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    c->values = values;
    c->capacity = capacity;
  }
  c->values[c->n++] = sqlite3_value_type(argv[0]) == SQLITE_NULL ? NAN : sqlite3_value_double(argv[0]);
}

static void f64s_final(sqlite3_context *ctx) {
  Column *c = sqlite3_aggregate_context(ctx, 0);
  if (c == NULL || c->n == 0) {
    if (c != NULL) sqlite3_free(c->values);
    sqlite3_result_zeroblob(ctx, 0);
    return;
  }
  /* SQLite frees the values with sqlite3_free once it is done with the result. */
  sqlite3_result_blob64(ctx, c->values, c->n * sizeof *c->values, sqlite3_free);
}

/* The entry point SQLite derives from the file name sqlite-columns.so (loadext.html). */
#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_sqlitecolumns_init(sqlite3 *db, char **error, const sqlite3_api_routines *api) {
  (void)error;
  SQLITE_EXTENSION_INIT2(api);
  return sqlite3_create_function(db, "f64s", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL, NULL, f64s_step, f64s_final);
}
