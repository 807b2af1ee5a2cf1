// Package bootstrap is a Lambda function's main, written once for the
// streamer and the forwarder (a custom runtime's executable is named
// bootstrap): it reads the log level and builds the logger, reads the
// function's configuration, loads the AWS configuration, builds the EMF
// emitter and the handler, and stops the process on a bad configuration.
// Each functions/<name>/main.go is one call to Start with a constructor.
//
// It is apart from package function, whose Telemetry and WithMargin the
// handlers use, because it links the Lambda runtime client and the SDK's
// configuration loader: the handler packages, and the benchmarks and the
// stack that import them, do without both (linked into streambench they
// raised its peak RSS by 3 MiB).
package bootstrap
