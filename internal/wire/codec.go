package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// DefaultMaxFrame is the frame size limit ReadFrame applies when given a
// limit of 0 or less. It is four times the server's default jute.maxbuffer.
const DefaultMaxFrame = 4 << 20

// Decoding and framing errors. Returned errors wrap them with details.
var (
	// ErrShortFrame means a record needs more bytes than are left.
	ErrShortFrame = errors.New("keeper: wire: short frame")
	// ErrBadLength means a length or count is negative (other than -1,
	// which means null).
	ErrBadLength = errors.New("keeper: wire: bad length")
	// ErrFrameTooLarge means a frame length is negative or above the limit.
	ErrFrameTooLarge = errors.New("keeper: wire: frame too large")
	// ErrBadRecord means a record is malformed in a way other than its
	// lengths: an unknown multi op type, a bad multi terminator, or a multi
	// error result whose header and body disagree.
	ErrBadRecord = errors.New("keeper: wire: malformed record")
)

// Reader decodes jute primitives from a byte slice. The first error is
// sticky: after it, every method returns a zero value and [Reader.Err]
// reports it. A Reader is not safe for concurrent use.
type Reader struct {
	b    []byte
	err  error
	n0   int      // len(b) at construction, to compute offsets
	norm *normLog // nil except in tests
}

// normLog records where a decode saw booleans and null strings, so that
// tests can normalise the input before comparing it with a re-encoding.
type normLog struct {
	bools []int // offsets of boolean bytes
	nulls []int // offsets of -1 string lengths
}

// NewReader returns a Reader over b. It does not copy b.
func NewReader(b []byte) *Reader {
	return &Reader{b: b, n0: len(b)}
}

// Reset makes r read b from the start, clearing any error, so that one
// Reader can be reused without allocating.
func (r *Reader) Reset(b []byte) {
	*r = Reader{b: b, n0: len(b)}
}

// Len returns the number of bytes left.
func (r *Reader) Len() int { return len(r.b) }

// Err returns the first error met, or nil.
func (r *Reader) Err() error { return r.err }

func (r *Reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *Reader) short(want int) {
	r.fail(fmt.Errorf("%w: need %d bytes at offset %d, have %d", ErrShortFrame, want, r.n0-len(r.b), len(r.b)))
}

// Int32 reads a big-endian int32.
func (r *Reader) Int32() int32 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 4 {
		r.short(4)
		return 0
	}
	v := int32(binary.BigEndian.Uint32(r.b))
	r.b = r.b[4:]
	return v
}

// Int64 reads a big-endian int64.
func (r *Reader) Int64() int64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.short(8)
		return 0
	}
	v := int64(binary.BigEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

// Bool reads a one-byte boolean. Like Java, any non-zero byte is true.
func (r *Reader) Bool() bool {
	if r.err != nil {
		return false
	}
	if len(r.b) < 1 {
		r.short(1)
		return false
	}
	if r.norm != nil {
		r.norm.bools = append(r.norm.bools, r.n0-len(r.b))
	}
	v := r.b[0] != 0
	r.b = r.b[1:]
	return v
}

// length reads a length or count prefix whose elements take at least
// minSize bytes each. It returns -1 for null, and fails unless the elements
// can fit in the bytes left, so a hostile count never causes a large
// allocation.
func (r *Reader) length(what string, minSize int) int {
	off := r.n0 - len(r.b)
	n := r.Int32()
	if r.err != nil {
		return 0
	}
	if n == -1 {
		return -1
	}
	if n < 0 {
		r.fail(fmt.Errorf("%w: %s length %d at offset %d", ErrBadLength, what, n, off))
		return 0
	}
	if int64(n)*int64(minSize) > int64(len(r.b)) {
		r.fail(fmt.Errorf("%w: %s length %d at offset %d, %d bytes left", ErrShortFrame, what, n, off, len(r.b)))
		return 0
	}
	return int(n)
}

// String reads a ustring. A null string (length -1) decodes as "".
func (r *Reader) String() string {
	off := r.n0 - len(r.b)
	n := r.length("string", 1)
	if n < 0 {
		if r.norm != nil {
			r.norm.nulls = append(r.norm.nulls, off)
		}
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// Buffer reads a buffer. A null buffer (length -1) decodes as nil, an empty
// one as a non-nil empty slice. The result aliases the Reader's input (its
// capacity is capped at its length): callers copy it if they keep it.
func (r *Reader) Buffer() []byte {
	n := r.length("buffer", 1)
	if n < 0 || r.err != nil {
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// Strings reads a vector of ustrings. A null vector (count -1) decodes as
// nil, an empty one as a non-nil empty slice.
func (r *Reader) Strings() []string {
	n := r.length("vector", 4)
	if n < 0 || r.err != nil {
		return nil
	}
	s := make([]string, n)
	for i := range s {
		s[i] = r.String()
	}
	if r.err != nil {
		return nil
	}
	return s
}

// AppendInt32 appends v big-endian.
func AppendInt32(b []byte, v int32) []byte {
	return binary.BigEndian.AppendUint32(b, uint32(v))
}

// AppendInt64 appends v big-endian.
func AppendInt64(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

// AppendBool appends v as one byte, 0 or 1.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// AppendString appends s as a ustring. It never writes a null string.
func AppendString(b []byte, s string) []byte {
	b = AppendInt32(b, int32(len(s)))
	return append(b, s...)
}

// AppendBuffer appends p as a buffer; a nil p is written as null (-1).
func AppendBuffer(b []byte, p []byte) []byte {
	if p == nil {
		return AppendInt32(b, -1)
	}
	b = AppendInt32(b, int32(len(p)))
	return append(b, p...)
}

// AppendStrings appends s as a vector of ustrings; a nil s is written as
// null (-1).
func AppendStrings(b []byte, s []string) []byte {
	if s == nil {
		return AppendInt32(b, -1)
	}
	b = AppendInt32(b, int32(len(s)))
	for _, v := range s {
		b = AppendString(b, v)
	}
	return b
}

// BeginFrame appends a 4-byte length placeholder to b and returns the new
// slice and the placeholder's offset, to be passed to [EndFrame] once the
// payload has been appended.
func BeginFrame(b []byte) (out []byte, start int) {
	return append(b, 0, 0, 0, 0), len(b)
}

// EndFrame writes the length of the payload appended after the placeholder
// at start (len(b)-start-4) into that placeholder.
func EndFrame(b []byte, start int) {
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
}

// ReadFrame reads one length-prefixed frame from r and returns its payload.
// It reuses buf when its capacity is large enough. A length below 0 or above
// maxLen (DefaultMaxFrame when maxLen <= 0) gives an error wrapping
// ErrFrameTooLarge; when the length bytes look like the start of an HTTP or
// TLS reply the error says so. A stream that ends before the first length
// byte gives io.EOF; one that ends inside a frame gives an error wrapping
// both ErrShortFrame and io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, buf []byte, maxLen int) ([]byte, error) {
	if maxLen <= 0 {
		maxLen = DefaultMaxFrame
	}
	// The length is read into buf's own storage when it has room: a local
	// array handed to r would escape, an allocation per frame.
	var hdr [4]byte
	var err error
	if cap(buf) >= 4 {
		_, err = io.ReadFull(r, buf[:4])
		copy(hdr[:], buf[:4])
	} else {
		hdr, err = readLength(r)
	}
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%w: reading frame length: %w", ErrShortFrame, err)
	}
	n := int64(int32(binary.BigEndian.Uint32(hdr[:])))
	if hint := frameHint(hdr); hint != "" {
		return nil, fmt.Errorf("%w: length %d, limit %d: the length bytes % x %s", ErrFrameTooLarge, n, maxLen, hdr, hint)
	}
	if n < 0 || n > int64(maxLen) {
		return nil, fmt.Errorf("%w: length %d, limit %d", ErrFrameTooLarge, n, maxLen)
	}
	if int64(cap(buf)) >= n {
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, shortFrame(n, err)
		}
		return buf, nil
	}
	// Grow the buffer as the bytes arrive, doubling from 64 KiB: a peer
	// that announces a large frame and sends little costs what it sent,
	// not what it announced.
	buf = buf[:0]
	for int64(len(buf)) < n {
		step := int(min(n-int64(len(buf)), int64(max(growStep, len(buf)))))
		buf = slices.Grow(buf, step)
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+step])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, shortFrame(n, err)
		}
	}
	return buf, nil
}

// readLength reads a frame's 4 length bytes.
func readLength(r io.Reader) (hdr [4]byte, err error) {
	var b [4]byte
	_, err = io.ReadFull(r, b[:])
	return b, err
}

// growStep is the first allocation for a frame larger than the buffer
// given to ReadFrame.
const growStep = 64 << 10

func shortFrame(n int64, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: reading frame of %d bytes: %w", ErrShortFrame, n, err)
}

// frameHint guesses what a peer that is not a ZooKeeper server sent.
func frameHint(h [4]byte) string {
	switch {
	case string(h[:]) == "HTTP":
		return `spell "HTTP": the peer speaks HTTP; is this the ZooKeeper client port?`
	case (h[0] == 0x15 || h[0] == 0x16) && h[1] == 0x03:
		return "look like a TLS record: the peer speaks TLS; use TLS, or the plain client port"
	}
	return ""
}
