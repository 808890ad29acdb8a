// Package atomicfile writes files so that a crash or a full disk never
// leaves one half-written: staged temporaries, fsync, no-clobber renames,
// and "owned" files that mtlsctl may replace because it wrote them.
package atomicfile
