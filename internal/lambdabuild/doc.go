// Package lambdabuild holds, once, how a function is built for Lambda: the
// go build flags and environment that make the bootstrap binary static and
// byte-for-byte reproducible. CDK bundling and the local pipeline use them
// from here; the Makefile and scripts/check-reproducible.sh, which cannot
// import Go, are compared with them by this package's tests.
package lambdabuild
