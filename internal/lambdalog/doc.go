// Package lambdalog builds the functions' slog JSON loggers: every line
// carries the Lambda request ID from the context, and the level follows
// the function's log-level configuration.
package lambdalog
