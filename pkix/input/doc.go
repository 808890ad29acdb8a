// Package input reads what users hand to mtlsctl (files, pipes, stdin)
// with a size cap per kind of input, refusing devices and directories, and
// lets a signal end a wait for a named pipe.
package input
