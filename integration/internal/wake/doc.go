// Package wake lets a goroutine wait for the state of the local pipeline
// to change instead of sleeping and looking again: each part that owns
// some state (the poller, the S3 fault proxy, the event relay) notifies
// its Signal when the state changes, and a waiter such as
// integration.Pipeline.Drain selects on the parts' channels. A waiter
// that sleeps guesses how long the machine needs; a waiter that is woken
// needs no guess, so a slow machine makes it slower, never wrong.
package wake
