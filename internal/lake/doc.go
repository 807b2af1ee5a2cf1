// Package lake reads one table's objects in the lake: every data object
// under <prefix>/table=<table>/ (stream batches, snapshot objects and the
// backfill's delete lines), never _errors/. It is the one reader of the
// lake for the operator commands: reconcile folds what it reads and
// compares it with the live table; backfill folds it to find the items an
// export does not hold.
package lake
