// Package output holds what every function that writes the lake's
// objects shares, so that stream rows and snapshot rows land side by side
// in one form: the bucket and prefix, the image format, gzip, the content
// headers, encryption, conditional writes, and the S3 client they are
// written through. The streamer and the export converter embed Settings
// in their configurations and read it from the same environment
// variables (FromEnv), with their own defaults where they differ (the
// gzip level).
package output
