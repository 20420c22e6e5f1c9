#ifndef QUICKPAY_CSQLITECONFIG_SHIM_H
#define QUICKPAY_CSQLITECONFIG_SHIM_H
#include <sqlite3.h>

/* sqlite3_config is variadic, which Swift cannot call. No memory statistics: SQLite otherwise
   takes a global mutex on every allocation. Returns SQLITE_OK, or SQLITE_MISUSE once SQLite has
   initialized in this process (then nothing changes). (GRDB already opens every connection in
   multi-thread mode, without a mutex of its own.) */
static inline int quickpay_sqlite_no_memstatus(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }
#endif
