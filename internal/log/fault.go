package log

import (
	"os"
	"sync/atomic"
)

// FaultOp names the operation a fault hook is asked about.
type FaultOp int

// The operations SetFaultHook can fail.
const (
	FaultWrite FaultOp = iota // an append's write to a segment's .log file
	FaultSync                 // the group commit's fsync of the active segment
)

// faultHook is nil except in tests of disk faults (SetFaultHook). It is one
// atomic load per append and per fsync otherwise.
var faultHook atomic.Pointer[func(op FaultOp, path string) error]

// SetFaultHook is a test seam for disk faults that a real disk cannot be
// made to produce on demand (EIO): while set, fn is asked before every
// append's segment write and every group-commit fsync, with the segment
// file's path, and a non-nil error fails the operation as the disk would.
// A failed write first writes half of its bytes, as a disk that fails
// part-way through an append does, so the truncation of a torn append is
// exercised too. The returned func removes the hook. Production code never
// sets it.
func SetFaultHook(fn func(op FaultOp, path string) error) (restore func()) {
	faultHook.Store(&fn)
	return func() { faultHook.Store(nil) }
}

func injectedFault(op FaultOp, f *os.File) error {
	if h := faultHook.Load(); h != nil {
		return (*h)(op, f.Name())
	}
	return nil
}

// writeSegment is f.WriteAt for appends, through the fault hook.
func writeSegment(f *os.File, b []byte, off int64) error {
	if err := injectedFault(FaultWrite, f); err != nil {
		_, _ = f.WriteAt(b[:len(b)/2], off)
		return err
	}
	_, err := f.WriteAt(b, off)
	return err
}

// syncSegment is syncFile for the group commit, through the fault hook.
func syncSegment(f *os.File) error {
	if err := injectedFault(FaultSync, f); err != nil {
		return err
	}
	return syncFile(f)
}
