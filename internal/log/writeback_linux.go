package log

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to start writing [off, off+n) of f to the
// disk without waiting (sync_file_range SYNC_FILE_RANGE_WRITE). It makes
// nothing durable; a later fsync does.
func startWriteback(f *os.File, off, n int64) error {
	return syscall.SyncFileRange(int(f.Fd()), off, n, 0x2 /* SYNC_FILE_RANGE_WRITE */)
}
