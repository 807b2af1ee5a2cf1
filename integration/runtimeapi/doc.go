// Package runtimeapi runs a real Lambda bootstrap binary under an emulator
// of the Lambda Runtime API (/2018-06-01/runtime/...): it serves
// invocation/next with the request ID, deadline and function ARN headers,
// takes invocation responses and errors and init errors, enforces the
// timeout by killing the process as Lambda does, and starts a fresh
// process (a cold start) after a crash. Functions run one invocation at a
// time, like one Lambda execution environment.
package runtimeapi
