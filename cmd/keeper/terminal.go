package main

import (
	"context"
	"io"
	"os"

	"golang.org/x/term"
)

// terminalFile returns r as a file when it is a terminal, else nil.
func terminalFile(r any) *os.File {
	f, ok := r.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return f
}

// termWidth returns the width of the terminal f, 80 when unknown.
func termWidth(f *os.File) int {
	if f != nil {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return 80
}

// rawMode puts the terminal f in raw mode and returns the function that
// restores it.
func rawMode(f *os.File) (restore func(), err error) {
	st, err := term.MakeRaw(int(f.Fd()))
	if err != nil {
		return nil, err
	}
	return func() { term.Restore(int(f.Fd()), st) }, nil
}

// keyReader reads a terminal's input on a goroutine of its own, one read at
// a time and only on request, so that no read is pending while a command
// runs (a command may read standard input itself) and a caller can wait for
// a key and for other events at once.
type keyReader struct {
	req  chan struct{}
	res  chan keyChunk
	buf  []byte
	busy bool // a read was requested and its result not yet received
	err  error
}

// keyChunk is the result of one read.
type keyChunk struct {
	b   []byte
	err error
}

func newKeyReader(r io.Reader) *keyReader {
	k := &keyReader{req: make(chan struct{}), res: make(chan keyChunk, 1)}
	go func() {
		for range k.req {
			b := make([]byte, 256)
			n, err := r.Read(b)
			k.res <- keyChunk{b[:n], err}
		}
	}()
	return k
}

// close stops the reading goroutine once its pending read (if any) returns.
func (k *keyReader) close() { close(k.req) }

// next returns the next byte of input. It returns early with woke true when
// wake fires, and with ctx's error when ctx ends first; the pending read
// stays pending for the next call.
func (k *keyReader) next(ctx context.Context, wake <-chan struct{}) (b byte, woke bool, err error) {
	for len(k.buf) == 0 {
		if k.err != nil {
			return 0, false, k.err
		}
		if !k.busy {
			k.req <- struct{}{}
			k.busy = true
		}
		select {
		case c := <-k.res:
			k.busy = false
			k.buf, k.err = c.b, c.err
		case <-wake:
			return 0, true, nil
		case <-ctx.Done():
			return 0, false, ctx.Err()
		}
	}
	b, k.buf = k.buf[0], k.buf[1:]
	return b, false, nil
}

// buffered reports whether input is waiting to be consumed.
func (k *keyReader) buffered() bool { return len(k.buf) > 0 }
