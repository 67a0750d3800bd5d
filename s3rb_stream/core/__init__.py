"""Pure core: no I/O, no database drivers. Everything here is unit-tested without servers."""
