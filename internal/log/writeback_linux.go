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

// datasync is fdatasync(2).
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
