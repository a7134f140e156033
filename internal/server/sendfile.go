package server

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// writeOut writes the byte runs with writev and file ranges with sendfile,
// so fetched log bytes go from page cache to socket without entering Go
// memory. Any other connection falls back to pread and write: a
// *tls.Conn (SSL, SASL_SSL listeners) must encrypt every byte, so it is
// never a *net.TCPConn here and file bytes go through its Write.
func writeOut(c net.Conn, o *out) error {
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
		if err := sendFile(c, f); err != nil {
			return err
		}
	}
	if len(pending) > 0 {
		_, err := pending.WriteTo(c)
		return err
	}
	return nil
}

var errShortFile = errors.New("file range shorter than promised")

func sendFile(c net.Conn, f FilePart) error {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		_, err := io.Copy(c, io.NewSectionReader(f.File, f.Pos, f.Len))
		return err
	}
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
