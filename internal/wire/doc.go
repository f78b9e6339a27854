// Package wire is the jute codec for the ZooKeeper client protocol: every
// client-visible request and response record of ZooKeeper 3.5 to 3.9, the
// opcodes, error codes, event types and states, and the length-prefixed
// framing.
//
// The package does no I/O beyond [ReadFrame] and starts no goroutines.
// Encoders append to a caller's buffer; decoders read from a [Reader] whose
// first error is sticky:
//
//	b, start := wire.BeginFrame(buf[:0])
//	b = (&wire.RequestHeader{Xid: 1, Op: wire.OpGetData}).Append(b)
//	b = (&wire.GetDataRequest{Path: "/a", Watch: true}).Append(b)
//	wire.EndFrame(b, start)
//
//	frame, err := wire.ReadFrame(conn, rbuf, 0)
//	r := wire.NewReader(frame)
//	var h wire.ReplyHeader
//	h.Decode(r)
//	var resp wire.GetDataResponse
//	if h.Err == wire.ErrOK {
//		resp.Decode(r)
//	}
//	if err := r.Err(); err != nil { ... }
//
// Decoders never panic, whatever the input, and check every length against
// the bytes left before allocating. Buffers ([]byte fields) alias the decoded
// input: copy them to keep them past the frame's reuse.
//
// Concurrency: the functions are safe for concurrent use; a Reader or a
// record value must not be used by two goroutines at once.
package wire
