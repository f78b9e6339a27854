package keeper

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keeper-go/keeper/internal/wire"
)

// Request states. A request moves from queued to written (by the writer) or
// to cancelled (by its caller giving up before it was written), and then to
// done.
const (
	reqQueued    int32 = iota
	reqWritten         // in the FIFO, awaiting its reply
	reqCancelled       // given up by its caller before it was written
	reqAbandoned       // given up by its caller after it was written
	reqClaimed         // its reply is being delivered: the caller gets it
	reqDone
)

// request is one call in flight. The caller owns it until it is enqueued;
// then the writer and the reader own it until they complete it, after which
// the caller owns it again (and may return it to the pool).
type request struct {
	op     wire.OpCode
	xid    int32
	sentAt int64       // unix nanos, set when the writer takes it
	frame  []byte      // the whole frame, header xid patched by the writer
	bufp   *[]byte     // the pooled buffer behind frame
	start  int         // offset of the frame's length placeholder
	resp   wire.Record // decoded on success; nil when the reply has no body
	state  atomic.Int32
	done   chan struct{} // 1-buffered; the reader never blocks on it

	// set by the reader before done is signalled
	code Code
	zxid int64
	err  error // a client-side failure (connection loss, closed, protocol)

	// watch, when set, is registered by the reader on a successful reply.
	watch *watchReg
	// onDone, for internal requests that nobody waits for, runs instead
	// of signalling done, on whichever goroutine completes the request:
	// the reader, a goroutine failing the connection, or one holding c.mu
	// (failOutboxLocked). It must not block nor take c.mu.
	onDone func(*request)

	// Set for an asynchronous call (async.go): its client, kind, path and
	// callback; atxn and astat receive a Txn's results and a create's
	// Stat; aerr is a failure found before the request was queued; adone
	// is set once the outcome is in and the callback may run.
	ac    *Client
	akind asyncKind
	apath string
	acb   any
	atxn  *Txn
	astat *Stat
	aerr  error
	adone atomic.Bool
	at0   time.Time // when the call was made, with WithMetrics

	// Storage for the hot paths' replies, so they need no allocation.
	gd wire.GetDataResponse
	ex wire.ExistsResponse
	cr wire.CreateResponse
	c2 wire.Create2Response
	sd wire.SetDataResponse
	gc wire.GetChildren2Response
}

var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

var reqPool = sync.Pool{New: func() any { return &request{done: make(chan struct{}, 1)} }}

func newRequest(op wire.OpCode, body wire.Record, resp wire.Record) *request {
	return newRequestIn(framePool.Get().(*[]byte), op, body, resp)
}

// newRequestSized is newRequest for a large body whose frame takes about
// size bytes: the frame is allocated at that size once, instead of
// growing from a pooled buffer by doubling.
func newRequestSized(op wire.OpCode, body, resp wire.Record, size int) *request {
	b := make([]byte, 0, size)
	return newRequestIn(&b, op, body, resp)
}

// newRequestIn is newRequest with its frame built in *bufp.
func newRequestIn(bufp *[]byte, op wire.OpCode, body, resp wire.Record) *request {
	r := startRequestIn(bufp, op)
	r.resp = resp
	if body != nil {
		r.frame = body.Append(r.frame)
	}
	r.endFrame()
	return r
}

// startRequest takes a pooled request and begins its frame with the
// request header; the caller appends the body and calls endFrame.
func startRequest(op wire.OpCode) *request {
	return startRequestIn(framePool.Get().(*[]byte), op)
}

// startRequestIn is startRequest with the frame built in *bufp.
func startRequestIn(bufp *[]byte, op wire.OpCode) *request {
	r := reqPool.Get().(*request)
	r.op = op
	r.bufp = bufp
	b, start := wire.BeginFrame((*r.bufp)[:0])
	hdr := wire.RequestHeader{Xid: 0, Op: op}
	r.frame, r.start = hdr.Append(b), start
	return r
}

func (r *request) endFrame() { wire.EndFrame(r.frame, r.start) }

// releaseFrame returns the frame buffer to the pool once it was copied to
// the connection's write buffer (or will never be).
func (r *request) releaseFrame() {
	releaseBuf(r.frame, r.bufp)
	r.frame, r.bufp = nil, nil
}

// releaseBuf returns a frame's buffer to the pool.
func releaseBuf(frame []byte, bufp *[]byte) {
	if bufp == nil {
		return
	}
	if cap(frame) <= 64<<10 {
		*bufp = frame[:0]
		framePool.Put(bufp)
	}
}

// recycle puts a completed request back in the pool. Only the caller, after
// receiving done, may call it.
func (r *request) recycle() {
	r.releaseFrame()
	*r = request{done: r.done}
	reqPool.Put(r)
}

// finish records a request's outcome and marks it done, telling nobody:
// complete, or a reader that defers an asynchronous wake-up (conn.handle).
func (r *request) finish(code Code, err error) {
	r.code, r.err = code, err
	r.state.Store(reqDone)
}

// complete finishes a request with a reply code or a client-side error.
// Exactly one party completes a request.
func (r *request) complete(code Code, err error) {
	r.finish(code, err)
	if r.onDone != nil {
		r.onDone(r)
		return
	}
	select {
	case r.done <- struct{}{}:
	default:
	}
}

// cloneData copies byte slices that alias the reader's frame buffer.
func cloneData(rec wire.Record) {
	switch v := rec.(type) {
	case *wire.GetDataResponse:
		if v.Data != nil {
			v.Data = bytes.Clone(v.Data)
		}
	case *wire.MultiResponse:
		for i := range v.Results {
			if v.Results[i].Data != nil {
				v.Results[i].Data = bytes.Clone(v.Results[i].Data)
			}
		}
	case *wire.SetSASLResponse:
		v.Token = bytes.Clone(v.Token)
	}
}

// wait blocks until r is completed or ctx ends. On ctx end it gives the
// request up: a request not yet written is cancelled (the writer skips it);
// a written one stays in the FIFO and its reply is discarded.
func (c *Client) wait(ctx context.Context, r *request, op, path string) error {
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		for {
			if r.state.CompareAndSwap(reqQueued, reqCancelled) {
				c.releaseSlot()
				return ctxError(ctx, op, path, false) // the writer skips it
			}
			if r.state.CompareAndSwap(reqWritten, reqAbandoned) {
				// It stays in the FIFO; the reader discards its reply (and
				// removes a watch the reply registers).
				c.releaseSlot()
				return ctxError(ctx, op, path, true)
			}
			if st := r.state.Load(); st == reqClaimed || st == reqDone {
				// The reply is being delivered (or the connection failed
				// the request): take that result.
				<-r.done
				return nil
			}
			// Moved between queued and written meanwhile: look again.
		}
	}
}

// appendPath appends p under the chroot as a wire string, without
// building the joined string (an allocation per call otherwise).
func (c chroot) appendPath(b []byte, p string) []byte {
	if p == "/" && c != "" {
		p = ""
	}
	b = wire.AppendInt32(b, int32(len(c)+len(p)))
	b = append(b, c...)
	return append(b, p...)
}

// appendCreate appends the body of a create, create2, createContainer
// or createTTL request for path under the chroot.
func (c chroot) appendCreate(b []byte, op wire.OpCode, path string, data []byte, acl []wire.ACL, flags int32, ttl time.Duration) []byte {
	b = c.appendPath(b, path)
	b = wire.AppendBuffer(b, data)
	b = wire.AppendACLs(b, acl)
	b = wire.AppendInt32(b, flags)
	if op == wire.OpCreateTTL {
		b = wire.AppendInt64(b, ttl.Milliseconds())
	}
	return b
}
