// Package envconfig reads a function's configuration from environment
// variables once, at cold start, and reports every bad value together, each
// naming the variable and the form it expects.
package envconfig
