//go:build !linux

package log

import "os"

func startWriteback(*os.File, int64, int64) error { return nil }

func datasync(f *os.File) error { return f.Sync() }
