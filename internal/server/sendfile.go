package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
)

// smallCopyMax is the most file bytes a response on plain TCP is copied
// with rather than sent with sendfile (docs/adr/0002-small-fetch-copy.md):
// a tailing consumer's answer of a few records costs a writev of its head,
// a sendfile and a writev of its tail, three syscalls and as many TCP
// segments for the client to wake for, where one read into writeCopy's
// buffer and one write do. It is writeCopy's buffer size, so such an
// answer leaves in one write.
const smallCopyMax = 64 << 10

// writeOut writes the byte runs with writev and file ranges with sendfile,
// so fetched log bytes go from page cache to socket without entering Go
// memory, unless the response carries at most smallCopyMax file bytes. Any
// other connection goes through writeCopy: a *tls.Conn (SSL, SASL_SSL
// listeners) must encrypt every byte, so it is never a *net.TCPConn here
// and file bytes never reach sendfile.
func writeOut(c net.Conn, o *out) error {
	tc, ok := c.(*net.TCPConn)
	if !ok || copySmall(o) {
		return writeCopy(c, o)
	}
	var pending net.Buffers
	for _, p := range o.parts {
		if len(p.buf) > 0 {
			pending = append(pending, p.buf)
		}
		f := p.file
		if f.File == nil || f.Len == 0 {
			continue
		}
		if len(pending) > 0 {
			if _, err := pending.WriteTo(c); err != nil {
				return err
			}
			pending = nil
		}
		if err := sendFile(tc, f); err != nil {
			return err
		}
	}
	if len(pending) > 0 {
		_, err := pending.WriteTo(c)
		return err
	}
	return nil
}

// copyBufs are the buffers of writeCopy. 64 KiB holds four full TLS
// records, so a fetch over TLS is written in few records and syscalls.
var copyBufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}

// writeCopy writes a response on a connection sendfile cannot serve (TLS):
// file ranges are read straight into one buffer that the connection then
// encrypts, the only copy TLS needs; byte runs join them in that buffer.
func writeCopy(c net.Conn, o *out) error {
	bw := copyBufs.Get().(*bufio.Writer)
	bw.Reset(c)
	defer func() {
		bw.Reset(nil)
		copyBufs.Put(bw)
	}()
	for _, p := range o.parts {
		if _, err := bw.Write(p.buf); err != nil {
			return err
		}
		f := p.file
		if f.File == nil || f.Len == 0 {
			continue
		}
		n, err := bw.ReadFrom(io.NewSectionReader(f.File, f.Pos, f.Len))
		if err != nil {
			return err
		}
		if n < f.Len {
			return errShortFile
		}
	}
	return bw.Flush()
}

var errShortFile = errors.New("file range shorter than promised")

func sendFile(tc *net.TCPConn, f FilePart) error {
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	fsc, err := f.File.SyscallConn()
	if err != nil {
		return err
	}
	off, remain := f.Pos, f.Len
	var serr error
	ferr := fsc.Control(func(src uintptr) {
		werr := rc.Write(func(dst uintptr) bool {
			for remain > 0 {
				chunk := remain
				if chunk > 1<<30 {
					chunk = 1 << 30
				}
				n, err := syscall.Sendfile(int(dst), int(src), &off, int(chunk))
				if n > 0 {
					remain -= int64(n)
				}
				switch {
				case err == syscall.EAGAIN:
					return false // wait until the socket is writable
				case err == syscall.EINTR:
					continue
				case err != nil:
					serr = err
					return true
				case n == 0:
					serr = errShortFile
					return true
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if ferr != nil {
		return ferr
	}
	return serr
}

// copySmall reports whether o carries file bytes, at most smallCopyMax.
func copySmall(o *out) bool {
	var n int64
	for _, p := range o.parts {
		n += p.file.Len
	}
	return n > 0 && n <= smallCopyMax
}
