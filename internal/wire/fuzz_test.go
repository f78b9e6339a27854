package wire

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpus under testdata/fuzz")

// fuzzKind is one record type a fuzz target can decode. The first input
// byte selects the kind (modulo the number of kinds); the append-only
// order keeps the committed corpus meaningful.
type fuzzKind struct {
	name string
	new  func() Record
}

func kind[T any, P interface {
	*T
	Record
}](name string) fuzzKind {
	return fuzzKind{name, func() Record { return P(new(T)) }}
}

var requestKinds = []fuzzKind{
	kind[requestFrame]("frame"),
	kind[ConnectRequest]("connect"),
	kind[RequestHeader]("request-header"),
	kind[CreateRequest]("create"),
	kind[CreateTTLRequest]("create-ttl"),
	kind[DeleteRequest]("delete"),
	kind[ExistsRequest]("exists"),
	kind[GetDataRequest]("get-data"),
	kind[SetDataRequest]("set-data"),
	kind[GetACLRequest]("get-acl"),
	kind[SetACLRequest]("set-acl"),
	kind[GetChildrenRequest]("get-children"),
	kind[SyncRequest]("sync"),
	kind[CheckVersionRequest]("check"),
	kind[MultiHeader]("multi-header"),
	kind[MultiRequest]("multi"),
	kind[ReconfigRequest]("reconfig"),
	kind[SetWatches]("set-watches"),
	kind[SetWatches2]("set-watches2"),
	kind[AddWatchRequest]("add-watch"),
	kind[CheckWatchesRequest]("check-watches"),
	kind[RemoveWatchesRequest]("remove-watches"),
	kind[GetEphemeralsRequest]("get-ephemerals"),
	kind[GetAllChildrenNumberRequest]("get-all-children-number"),
	kind[AuthPacket]("auth"),
	kind[GetSASLRequest]("sasl"),
	kind[ID]("id"),
	kind[ACL]("acl"),
}

var responseKinds = []fuzzKind{
	kind[replyFrame]("reply"),
	kind[ConnectResponse]("connect"),
	kind[ReplyHeader]("reply-header"),
	kind[CreateResponse]("create"),
	kind[Create2Response]("create2"),
	kind[ExistsResponse]("exists"),
	kind[GetDataResponse]("get-data"),
	kind[SetDataResponse]("set-data"),
	kind[GetACLResponse]("get-acl"),
	kind[SetACLResponse]("set-acl"),
	kind[GetChildrenResponse]("get-children"),
	kind[GetChildren2Response]("get-children2"),
	kind[SyncResponse]("sync"),
	kind[ErrorResponse]("error"),
	kind[MultiResponse]("multi"),
	kind[GetEphemeralsResponse]("get-ephemerals"),
	kind[GetAllChildrenNumberResponse]("get-all-children-number"),
	kind[WhoAmIResponse]("who-am-i"),
	kind[SetSASLResponse]("sasl"),
	kind[WatcherEvent]("watcher-event"),
	kind[Stat]("stat"),
	kind[ClientInfo]("client-info"),
}

// requestFrame is a whole client frame payload after the handshake: a
// RequestHeader and the record its op calls for, decoded as the server
// would.
type requestFrame struct {
	h    RequestHeader
	body Record
}

func (f *requestFrame) Append(b []byte) []byte {
	b = f.h.Append(b)
	if f.body != nil {
		b = f.body.Append(b)
	}
	return b
}

func (f *requestFrame) Decode(r *Reader) {
	f.h.Decode(r)
	f.body = nil
	if r.Err() != nil || f.h.Op == OpCreateSession {
		return
	}
	if f.body = RequestFor(f.h.Op); f.body != nil {
		f.body.Decode(r)
	}
}

// replyOps are the ops a replyFrame can answer, selected by its first byte.
var replyOps = []OpCode{
	OpCreate, OpDelete, OpExists, OpGetData, OpSetData, OpGetACL, OpSetACL,
	OpGetChildren, OpSync, OpPing, OpGetChildren2, OpCheck, OpMulti, OpCreate2,
	OpReconfig, OpCheckWatches, OpRemoveWatches, OpCreateContainer, OpCreateTTL,
	OpMultiRead, OpAuth, OpSetWatches, OpSASL, OpGetEphemerals,
	OpGetAllChildrenNumber, OpSetWatches2, OpAddWatch, OpWhoAmI, OpCloseSession,
}

// replyFrame is a server frame payload after the handshake, decoded as a
// client would: a ReplyHeader, then a WatcherEvent for a notification or,
// when the header has no error, the response record of the pending op. Its
// encoding starts with one byte, the index of that op in replyOps.
type replyFrame struct {
	op   byte
	h    ReplyHeader
	body Record
}

func (f *replyFrame) Append(b []byte) []byte {
	b = append(b, f.op)
	b = f.h.Append(b)
	if f.body != nil {
		b = f.body.Append(b)
	}
	return b
}

func (f *replyFrame) Decode(r *Reader) {
	f.body = nil
	if r.err != nil {
		return
	}
	if len(r.b) < 1 {
		r.short(1)
		return
	}
	f.op = r.b[0]
	r.b = r.b[1:]
	if int(f.op) >= len(replyOps) {
		r.fail(fmt.Errorf("%w: reply op index %d", ErrBadRecord, f.op))
		return
	}
	f.h.Decode(r)
	switch {
	case r.err != nil:
		return
	case f.h.Xid == XidNotification:
		f.body = new(WatcherEvent)
	case f.h.Err == ErrOK:
		f.body = ResponseFor(replyOps[f.op])
	}
	if f.body != nil {
		f.body.Decode(r)
	}
}

func replyOpIndex(op OpCode) byte {
	for i, o := range replyOps {
		if o == op {
			return byte(i)
		}
	}
	panic("no reply op " + op.String())
}

// normalise returns a copy of the consumed input with the encodings that
// decode lossily rewritten as our encoder writes them: booleans become 0 or
// 1 and null strings (-1) become empty ones. Null buffers and vectors stay.
func normalise(in []byte, n *normLog) []byte {
	out := bytes.Clone(in)
	for _, i := range n.bools {
		if out[i] != 0 {
			out[i] = 1
		}
	}
	for _, i := range n.nulls {
		copy(out[i:], []byte{0, 0, 0, 0})
	}
	return out
}

// fuzzDecode decodes data with the kind its first byte selects. A decode
// must not panic, must fail only with our sentinel errors, and when it
// succeeds the record must re-encode to exactly the (normalised) bytes it
// consumed.
func fuzzDecode(t *testing.T, kinds []fuzzKind, data []byte) {
	if len(data) == 0 {
		return
	}
	k := kinds[int(data[0])%len(kinds)]
	in := data[1:]
	rec := k.new()
	r := NewReader(in)
	r.norm = &normLog{}
	rec.Decode(r)
	if err := r.Err(); err != nil {
		if !errors.Is(err, ErrShortFrame) && !errors.Is(err, ErrBadLength) && !errors.Is(err, ErrBadRecord) {
			t.Fatalf("%s: unexpected error kind: %v", k.name, err)
		}
		if !strings.HasPrefix(err.Error(), "keeper: wire: ") {
			t.Fatalf("%s: error %q lacks the package prefix", k.name, err)
		}
		return
	}
	consumed := in[:len(in)-r.Len()]
	want := normalise(consumed, r.norm)
	if got := rec.Append(nil); !bytes.Equal(got, want) {
		t.Fatalf("%s: re-encoding differs\ninput % x\ngot   % x\nwant  % x\nvalue %#v", k.name, consumed, got, want, rec)
	}
	// The re-encoding decodes to the same value.
	again := k.new()
	r2 := NewReader(want)
	again.Decode(r2)
	if r2.Err() != nil || r2.Len() != 0 || !reflect.DeepEqual(again, rec) {
		t.Fatalf("%s: second decode differs: %v\n%#v\n%#v", k.name, r2.Err(), again, rec)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range requestSeeds() {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, requestKinds, data) })
}

func FuzzDecodeResponse(f *testing.F) {
	for _, s := range responseSeeds() {
		f.Add(s.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, responseKinds, data) })
}

type seed struct {
	name string
	data []byte
}

func kindIndex(kinds []fuzzKind, rec Record) int {
	want := reflect.TypeOf(rec)
	for i, k := range kinds {
		if reflect.TypeOf(k.new()) == want {
			return i
		}
	}
	return -1
}

func seedsFrom(kinds []fuzzKind, samples []sample) []seed {
	var out []seed
	for _, s := range samples {
		i := kindIndex(kinds, s.rec)
		if i < 0 {
			panic(fmt.Sprintf("no fuzz kind for %T", s.rec))
		}
		data := s.rec.Append([]byte{byte(i)})
		out = append(out, seed{kinds[i].name + "-" + strings.ReplaceAll(s.name, "/", "-"), data})
	}
	return out
}

// requestSeeds builds one seed per request sample, and whole frames for
// every request op.
func requestSeeds() []seed {
	samples := requestSamples()
	out := seedsFrom(requestKinds, samples)
	ops := []OpCode{OpPing, OpCloseSession, OpWhoAmI}
	for op := range opNames {
		if op != OpPing && op != OpCloseSession && op != OpWhoAmI && op != OpCreateSession && RequestFor(op) != nil {
			ops = append(ops, op)
		}
	}
	for _, op := range ops {
		f := &requestFrame{h: RequestHeader{Xid: 3, Op: op}}
		if want := RequestFor(op); want != nil {
			for _, s := range samples {
				if reflect.TypeOf(s.rec) == reflect.TypeOf(want) {
					f.body = s.rec
					break
				}
			}
		}
		out = append(out, seed{"frame-" + op.String(), f.Append([]byte{0})})
	}
	return out
}

// responseSeeds builds one seed per response sample, and whole frames for
// every reply kind.
func responseSeeds() []seed {
	samples := responseSamples()
	out := seedsFrom(responseKinds, samples)
	for i, op := range replyOps {
		f := &replyFrame{op: byte(i), h: ReplyHeader{Xid: 9, Zxid: 0x100000010}}
		if want := ResponseFor(op); want != nil {
			for _, s := range samples {
				if reflect.TypeOf(s.rec) == reflect.TypeOf(want) {
					f.body = s.rec
					break
				}
			}
		}
		out = append(out, seed{"reply-" + op.String(), f.Append([]byte{0})})
	}
	errReply := &replyFrame{op: replyOpIndex(OpGetData), h: ReplyHeader{Xid: 10, Zxid: 11, Err: ErrNoNode}}
	out = append(out, seed{"reply-error", errReply.Append([]byte{0})})
	event := &replyFrame{op: replyOpIndex(OpGetData), h: ReplyHeader{Xid: XidNotification, Zxid: -1},
		body: &WatcherEvent{Type: EventNodeCreated, State: StateSyncConnected, Path: "/n"}}
	out = append(out, seed{"reply-notification", event.Append([]byte{0})})
	return out
}

// TestFuzzSeeds runs every built-in seed through the fuzz checks, and
// checks that the committed corpus has a seed for every kind (rewriting
// it with -update-corpus).
func TestFuzzSeeds(t *testing.T) {
	for _, target := range []struct {
		name  string
		kinds []fuzzKind
		seeds []seed
	}{
		{"FuzzDecodeRequest", requestKinds, requestSeeds()},
		{"FuzzDecodeResponse", responseKinds, responseSeeds()},
	} {
		t.Run(target.name, func(t *testing.T) {
			for _, s := range target.seeds {
				fuzzDecode(t, target.kinds, s.data)
			}
			dir := filepath.Join("testdata", "fuzz", target.name)
			if *updateCorpus {
				writeCorpus(t, dir, append(target.seeds, goldenSeeds(t, target.name)...))
			}
			covered := map[int]bool{}
			for _, data := range readCorpus(t, dir) {
				if len(data) > 0 {
					covered[int(data[0])%len(target.kinds)] = true
				}
				fuzzDecode(t, target.kinds, data)
			}
			for i, k := range target.kinds {
				if !covered[i] {
					t.Errorf("no seed for kind %q in %s", k.name, dir)
				}
			}
		})
	}
}

func writeCorpus(t *testing.T, dir string, seeds []seed) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range seeds {
		name := s.name
		for n := 2; seen[name]; n++ {
			name = s.name + "-" + strconv.Itoa(n)
		}
		seen[name] = true
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readCorpus reads the []byte inputs of Go's corpus files in dir.
func readCorpus(t *testing.T, dir string) [][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read the seed corpus: %v", err)
	}
	var out [][]byte
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" ||
			!strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
			t.Fatalf("%s: not a one-[]byte corpus file", e.Name())
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		out = append(out, []byte(s))
	}
	return out
}
