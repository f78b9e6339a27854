//go:build linux

package sock

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// conn is a wrapped plain TCP connection. Read and Write keep their buffer
// and result in the struct and pass a callback made once to RawConn, so a
// call allocates nothing; this is why two reads (or two writes) must not
// run at once.
type conn struct {
	*net.TCPConn
	rc syscall.RawConn

	rbuf   []byte
	rn     int
	rerrno syscall.Errno
	readFn func(fd uintptr) bool

	wbuf    []byte
	wn      int
	werrno  syscall.Errno
	writeFn func(fd uintptr) bool
}

func wrap(nc net.Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	c := &conn{TCPConn: tc, rc: rc}
	c.readFn = c.readReady
	c.writeFn = c.writeReady
	return c
}

// call makes one read(2) or write(2) (trap) of p on fd: through
// syscall.Syscall when tell says the runtime is due to hear of one, and
// through syscall.RawSyscall otherwise.
func call(trap, fd uintptr, p []byte) (int, syscall.Errno) {
	var n uintptr
	var e syscall.Errno
	if tell(time.Now().UnixNano()) {
		n, _, e = syscall.Syscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	} else {
		n, _, e = syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	}
	return int(n), e
}

// readReady reads once into rbuf: true when done (bytes, the end of the
// stream or an error), false to wait until the socket is readable.
func (c *conn) readReady(fd uintptr) bool {
	for {
		n, e := call(syscall.SYS_READ, fd, c.rbuf)
		switch e {
		case 0:
			c.rn = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.rerrno = e
		return true
	}
}

// writeReady writes what the socket takes of the rest of wbuf: true when
// all is written or the write failed, false to wait for room.
func (c *conn) writeReady(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		n, e := call(syscall.SYS_WRITE, fd, c.wbuf[c.wn:])
		switch e {
		case 0:
			c.wn += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.werrno = e
			return true
		}
	}
	return true
}

// Read reads into p as net.Conn's Read does: some bytes, or io.EOF at the
// end of the stream, or an error (a *net.OpError; a deadline's is a
// timeout matching os.ErrDeadlineExceeded, a closed connection's matches
// net.ErrClosed).
func (c *conn) Read(p []byte) (int, error) {
	counts.reads.Add(1)
	if len(p) == 0 {
		return 0, nil
	}
	c.rbuf, c.rn, c.rerrno = p, 0, 0
	err := c.ioError("read", c.rc.Read(c.readFn), c.rerrno)
	n := c.rn
	c.rbuf = nil
	switch {
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p as net.Conn's Write does, or returns how much it
// wrote and why it stopped.
func (c *conn) Write(p []byte) (int, error) {
	counts.writes.Add(1)
	if len(p) == 0 {
		return 0, nil
	}
	c.wbuf, c.wn, c.werrno = p, 0, 0
	err := c.ioError("write", c.rc.Write(c.writeFn), c.werrno)
	c.wbuf = nil
	return c.wn, err
}

// ioError is the error of a Read or Write (op) whose RawConn call returned
// err and whose system call failed with errno (0: it did not), or nil.
func (c *conn) ioError(op string, err error, errno syscall.Errno) error {
	switch {
	case err != nil:
		return c.opError(op, err)
	case errno != 0:
		return c.opError(op, os.NewSyscallError(op, errno))
	}
	return nil
}

// opError names the operation as net.Conn does ("read", not RawConn's
// "raw-read"), keeping the cause.
func (c *conn) opError(op string, err error) error {
	if oe, ok := errors.AsType[*net.OpError](err); ok {
		oe.Op = op
		return oe
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
