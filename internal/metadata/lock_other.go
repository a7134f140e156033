//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package metadata

import "os"

// lockDir holds dir open; there is no advisory lock on this platform.
func lockDir(dir string) (*os.File, error) { return os.Open(dir) }
