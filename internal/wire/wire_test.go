package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// newLike returns a new zero record of rec's type.
func newLike(rec Record) Record {
	return reflect.New(reflect.TypeOf(rec).Elem()).Interface().(Record)
}

func TestRoundTrip(t *testing.T) {
	for _, set := range []struct {
		dir     string
		samples []sample
	}{{"request", requestSamples()}, {"response", responseSamples()}} {
		for _, s := range set.samples {
			t.Run(set.dir+"/"+s.name, func(t *testing.T) {
				prefix := []byte("pre")
				b := s.rec.Append(bytes.Clone(prefix))
				if !bytes.HasPrefix(b, prefix) {
					t.Fatalf("Append overwrote the caller's bytes: % x", b)
				}
				enc := b[len(prefix):]
				r := NewReader(enc)
				got := newLike(s.rec)
				got.Decode(r)
				if err := r.Err(); err != nil {
					t.Fatalf("decode: %v", err)
				}
				if r.Len() != 0 {
					t.Fatalf("decode left %d bytes", r.Len())
				}
				if !reflect.DeepEqual(got, s.rec) {
					t.Fatalf("decoded\n%#v\nwant\n%#v", got, s.rec)
				}
				if again := got.Append(nil); !bytes.Equal(again, enc) {
					t.Fatalf("re-encoded % x\nwant % x", again, enc)
				}
			})
		}
	}
}

// TestTruncated decodes every strict prefix of every sample: each must fail
// with ErrShortFrame, except a connect record that just lacks its readOnly
// byte.
func TestTruncated(t *testing.T) {
	all := append(requestSamples(), responseSamples()...)
	for _, s := range all {
		enc := s.rec.Append(nil)
		for n := range len(enc) {
			r := NewReader(enc[:n])
			newLike(s.rec).Decode(r)
			err := r.Err()
			if err == nil {
				switch rec := s.rec.(type) {
				case *ConnectRequest:
					if !rec.NoReadOnlyByte && n == len(enc)-1 {
						continue
					}
				case *ConnectResponse:
					if !rec.NoReadOnlyByte && n == len(enc)-1 {
						continue
					}
				}
				t.Errorf("%s: prefix of %d/%d bytes decoded without error", s.name, n, len(enc))
				continue
			}
			if !errors.Is(err, ErrShortFrame) {
				t.Errorf("%s: prefix of %d bytes: %v, want ErrShortFrame", s.name, n, err)
			}
			if !strings.HasPrefix(err.Error(), "keeper: wire: ") {
				t.Errorf("%s: error %q lacks the package prefix", s.name, err)
			}
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEncoding pins byte layouts taken from the protocol description.
func TestEncoding(t *testing.T) {
	tests := []struct {
		name string
		rec  Record
		want string
	}{
		{"get-data", &GetDataRequest{Path: "/a", Watch: true}, "00000002 2f61 01"},
		{"request-header", &RequestHeader{Xid: XidPing, Op: OpPing}, "fffffffe 0000000b"},
		{"reply-header", &ReplyHeader{Xid: -1, Zxid: -1, Err: ErrOK}, "ffffffff ffffffffffffffff 00000000"},
		{"connect", &ConnectRequest{Timeout: 30000, Passwd: make([]byte, 16)},
			"00000000 0000000000000000 00007530 0000000000000000 00000010 00000000000000000000000000000000 00"},
		{"connect/no-readonly", &ConnectResponse{Timeout: 30000, SessionID: 1, Passwd: []byte{}, NoReadOnlyByte: true},
			"00000000 00007530 0000000000000001 00000000"},
		{"null-buffer", &GetDataResponse{}, "ffffffff" + strings.Repeat("00", 68)},
		{"null-vector", &GetChildrenResponse{}, "ffffffff"},
		{"empty-vector", &GetChildrenResponse{Children: []string{}}, "00000000"},
		{"multi-end", &MultiRequest{}, "ffffffff 01 ffffffff"},
		{"multi-op", &MultiRequest{Ops: []MultiOp{{Op: OpCheck, Req: &CheckVersionRequest{Path: "/", Version: 1}}}},
			"0000000d 00 ffffffff 00000001 2f 00000001 ffffffff 01 ffffffff"},
		{"multi-error", &MultiResponse{Results: []MultiResult{{Op: OpError, Err: ErrNoNode}}},
			"ffffffff 00 ffffff9b ffffff9b ffffffff 01 ffffffff"},
		{"watcher-event", &WatcherEvent{Type: EventNodeDataChanged, State: StateSyncConnected, Path: "/p"},
			"00000003 00000003 00000002 2f70"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := mustHex(t, tt.want)
			if got := tt.rec.Append(nil); !bytes.Equal(got, want) {
				t.Fatalf("got  % x\nwant % x", got, want)
			}
		})
	}
	if n := len((&Stat{}).Append(nil)); n != 68 {
		t.Errorf("Stat is %d bytes, want 68", n)
	}
	if n := len((&ConnectRequest{Passwd: make([]byte, 16)}).Append(nil)); n != 45 {
		t.Errorf("ConnectRequest is %d bytes, want 45", n)
	}
	if n := len((&ConnectResponse{Passwd: make([]byte, 16)}).Append(nil)); n != 37 {
		t.Errorf("ConnectResponse is %d bytes, want 37", n)
	}
}

// TestMultiNilReq checks that an op with no record is written with a zero
// record of its type, so the frame stays well formed.
func TestMultiNilReq(t *testing.T) {
	m := &MultiRequest{Ops: []MultiOp{{Op: OpDelete}, {Op: OpCheck}}}
	var got MultiRequest
	r := NewReader(m.Append(nil))
	got.Decode(r)
	if r.Err() != nil || r.Len() != 0 {
		t.Fatalf("decode: %v, %d bytes left", r.Err(), r.Len())
	}
	want := []MultiOp{{Op: OpDelete, Req: &DeleteRequest{}}, {Op: OpCheck, Req: &CheckVersionRequest{}}}
	if !reflect.DeepEqual(got.Ops, want) {
		t.Fatalf("got %#v", got.Ops)
	}
}

func TestBadRecords(t *testing.T) {
	tests := []struct {
		name string
		rec  Record
		in   string
		want error
	}{
		{"string/negative", &SyncRequest{}, "fffffffe", ErrBadLength},
		{"string/min-int", &SyncRequest{}, "80000000", ErrBadLength},
		{"string/huge", &SyncRequest{}, "7fffffff 2f61", ErrShortFrame},
		{"buffer/negative", &GetSASLRequest{}, "fffffff0", ErrBadLength},
		{"buffer/huge", &GetSASLRequest{}, "7fffffff 00", ErrShortFrame},
		{"vector/negative", &GetChildrenResponse{}, "fffffffe", ErrBadLength},
		{"vector/huge", &GetChildrenResponse{}, "7fffffff 00000000", ErrShortFrame},
		{"vector/count-over-bytes", &GetChildrenResponse{}, "00000003 00000000 00000000", ErrShortFrame},
		{"acl/huge", &GetACLResponse{}, "7fffffff" + strings.Repeat("00", 80), ErrShortFrame},
		{"acl/negative", &GetACLResponse{}, "fffffffd", ErrBadLength},
		{"client-info/huge", &WhoAmIResponse{}, "40000000" + strings.Repeat("00", 16), ErrShortFrame},
		{"stat/short", &ExistsResponse{}, strings.Repeat("00", 67), ErrShortFrame},
		{"multi/read-no-end", &MultiRequest{}, "00000004 00 ffffffff 00000000 00", ErrShortFrame},
		{"multi/bad-op", &MultiRequest{}, "00000003 00 ffffffff", ErrBadRecord},
		{"multi/op-err", &MultiRequest{}, "00000002 00 00000000 00000001 2f ffffffff ffffffff 01 ffffffff", ErrBadRecord},
		{"multi/bad-end", &MultiRequest{}, "00000000 01 ffffffff", ErrBadRecord},
		{"multi/no-end", &MultiRequest{}, "00000002 00 ffffffff 00000001 2f ffffffff", ErrShortFrame},
		{"multi-response/unknown", &MultiResponse{}, "00000003 00 00000000", ErrBadRecord},
		{"multi-response/bad-end", &MultiResponse{}, "ffffffff 01 00000000", ErrBadRecord},
		{"multi-response/error-mismatch", &MultiResponse{}, "ffffffff 00 ffffff9b 00000000 ffffffff 01 ffffffff", ErrBadRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := mustHex(t, tt.in)
			r := NewReader(in)
			tt.rec.Decode(r)
			err := r.Err()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if r.Len() != 0 {
				t.Errorf("a failed Reader still has %d bytes", r.Len())
			}
			// Errors are sticky.
			if r.Int32() != 0 || r.String() != "" || r.Buffer() != nil || r.Strings() != nil || r.Err() != err {
				t.Error("reads after an error were not zero, or the error changed")
			}
		})
	}
}

// TestHostileAllocs checks that a huge count in a small frame is rejected
// before anything is allocated.
func TestHostileAllocs(t *testing.T) {
	in := mustHex(t, "7fffffff 00000000 00000000")
	allocs := testing.AllocsPerRun(100, func() {
		var resp GetChildrenResponse
		r := Reader{b: in, n0: len(in)}
		resp.Decode(&r)
		if r.err == nil {
			t.Fatal("no error")
		}
	})
	// The error value itself is allocated; a vector of 2^31 strings is not.
	if allocs > 5 {
		t.Errorf("%v allocations for a rejected vector", allocs)
	}
}

func TestReaderNulls(t *testing.T) {
	in := mustHex(t, "ffffffff ffffffff 00000000 ffffffff 00000000")
	r := NewReader(in)
	if s := r.String(); s != "" {
		t.Errorf("null string = %q", s)
	}
	if b := r.Buffer(); b != nil {
		t.Errorf("null buffer = %#v", b)
	}
	if b := r.Buffer(); b == nil || len(b) != 0 {
		t.Errorf("empty buffer = %#v", b)
	}
	if s := r.Strings(); s != nil {
		t.Errorf("null vector = %#v", s)
	}
	if s := r.Strings(); s == nil || len(s) != 0 {
		t.Errorf("empty vector = %#v", s)
	}
	if r.Err() != nil || r.Len() != 0 {
		t.Errorf("err %v, %d bytes left", r.Err(), r.Len())
	}
}

func TestBufferAliases(t *testing.T) {
	in := mustHex(t, "00000002 6162 63")
	b := NewReader(in).Buffer()
	if string(b) != "ab" || cap(b) != 2 {
		t.Fatalf("buffer %q cap %d", b, cap(b))
	}
	in[4] = 'x'
	if b[0] != 'x' {
		t.Error("Buffer copied its input")
	}
	if b = append(b, 'z'); in[6] != 'c' {
		t.Error("appending to a decoded buffer overwrote the frame")
	}
}

func TestBoolNonZero(t *testing.T) {
	var g GetDataRequest
	r := NewReader(mustHex(t, "00000001 2f 7f"))
	g.Decode(r)
	if r.Err() != nil || !g.Watch {
		t.Fatalf("watch byte 0x7f: %v, %v", g.Watch, r.Err())
	}
}

func TestTables(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{OpCreate.String(), "create"},
		{OpGetChildren2.String(), "getChildren2"},
		{OpCreateTTL.String(), "createTTL"},
		{OpMultiRead.String(), "multiRead"},
		{OpSASL.String(), "sasl"},
		{OpSetWatches2.String(), "setWatches2"},
		{OpWhoAmI.String(), "whoAmI"},
		{OpCloseSession.String(), "closeSession"},
		{OpError.String(), "error"},
		{OpCode(999).String(), "OpCode(999)"},
		{ErrOK.String(), "OK"},
		{ErrNoNode.String(), "NoNode"},
		{ErrNodeExists.String(), "NodeExists"},
		{ErrSessionClosedRequireSASLAuth.String(), "SessionClosedRequireSASLAuth"},
		{ErrThrottledOp.String(), "ThrottledOp"},
		{ErrCode(-126).String(), "ErrCode(-126)"},
		{ErrNoNode.Message(), "node does not exist"},
		{ErrNodeExists.Message(), "node already exists"},
		{ErrBadVersion.Message(), "bad version"},
		{ErrNotEmpty.Message(), "node has children"},
		{ErrCode(-9).Message(), "unknown error -9"},
		{EventNone.String(), "None"},
		{EventNodeChildrenChanged.String(), "NodeChildrenChanged"},
		{EventPersistentWatchRemoved.String(), "PersistentWatchRemoved"},
		{EventType(8).String(), "EventType(8)"},
		{StateSyncConnected.String(), "SyncConnected"},
		{StateExpired.String(), "Expired"},
		{StateClosed.String(), "Closed"},
		{KeeperState(2).String(), "KeeperState(2)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	// Every known name is unique and every message is lowercase.
	seen := map[string]bool{}
	for c, e := range errInfos {
		if seen[e.name] {
			t.Errorf("duplicate error name %q", e.name)
		}
		seen[e.name] = true
		if e.msg != strings.ToLower(e.msg) || e.msg == "" {
			t.Errorf("%v: message %q is not lowercase", c, e.msg)
		}
	}
	if len(opNames) != 33 || len(errInfos) != 32 || len(eventNames) != 8 || len(stateNames) != 9 {
		t.Errorf("table sizes %d %d %d %d", len(opNames), len(errInfos), len(eventNames), len(stateNames))
	}
}

func TestRecordFor(t *testing.T) {
	noBody := []OpCode{OpDelete, OpSetWatches, OpSetWatches2, OpPing, OpCloseSession, OpCheckWatches, OpRemoveWatches, OpAuth}
	for _, op := range noBody {
		if rec := ResponseFor(op); rec != nil {
			t.Errorf("ResponseFor(%v) = %T, want nil", op, rec)
		}
	}
	for _, op := range []OpCode{OpPing, OpCloseSession, OpWhoAmI, OpCode(999)} {
		if rec := RequestFor(op); rec != nil {
			t.Errorf("RequestFor(%v) = %T, want nil", op, rec)
		}
	}
	want := map[OpCode][2]string{
		OpCreate:               {"*wire.CreateRequest", "*wire.CreateResponse"},
		OpCreate2:              {"*wire.CreateRequest", "*wire.Create2Response"},
		OpCreateContainer:      {"*wire.CreateRequest", "*wire.Create2Response"},
		OpCreateTTL:            {"*wire.CreateTTLRequest", "*wire.Create2Response"},
		OpExists:               {"*wire.ExistsRequest", "*wire.ExistsResponse"},
		OpGetData:              {"*wire.GetDataRequest", "*wire.GetDataResponse"},
		OpSetData:              {"*wire.SetDataRequest", "*wire.SetDataResponse"},
		OpGetACL:               {"*wire.GetACLRequest", "*wire.GetACLResponse"},
		OpSetACL:               {"*wire.SetACLRequest", "*wire.SetACLResponse"},
		OpGetChildren:          {"*wire.GetChildrenRequest", "*wire.GetChildrenResponse"},
		OpGetChildren2:         {"*wire.GetChildrenRequest", "*wire.GetChildren2Response"},
		OpSync:                 {"*wire.SyncRequest", "*wire.SyncResponse"},
		OpCheck:                {"*wire.CheckVersionRequest", "*wire.SetDataResponse"},
		OpMulti:                {"*wire.MultiRequest", "*wire.MultiResponse"},
		OpMultiRead:            {"*wire.MultiRequest", "*wire.MultiResponse"},
		OpReconfig:             {"*wire.ReconfigRequest", "*wire.GetDataResponse"},
		OpSASL:                 {"*wire.GetSASLRequest", "*wire.SetSASLResponse"},
		OpGetEphemerals:        {"*wire.GetEphemeralsRequest", "*wire.GetEphemeralsResponse"},
		OpGetAllChildrenNumber: {"*wire.GetAllChildrenNumberRequest", "*wire.GetAllChildrenNumberResponse"},
		OpAddWatch:             {"*wire.AddWatchRequest", "*wire.ErrorResponse"},
		OpWhoAmI:               {"<nil>", "*wire.WhoAmIResponse"},
		OpAuth:                 {"*wire.AuthPacket", "<nil>"},
		OpCreateSession:        {"*wire.ConnectRequest", "*wire.ConnectResponse"},
	}
	for op, w := range want {
		if got := typeName(RequestFor(op)); got != w[0] {
			t.Errorf("RequestFor(%v) = %s, want %s", op, got, w[0])
		}
		if got := typeName(ResponseFor(op)); got != w[1] {
			t.Errorf("ResponseFor(%v) = %s, want %s", op, got, w[1])
		}
	}
}

func typeName(rec Record) string {
	if rec == nil {
		return "<nil>"
	}
	return reflect.TypeOf(rec).String()
}

func TestFraming(t *testing.T) {
	b, start := BeginFrame([]byte("xx"))
	b = (&RequestHeader{Xid: 1, Op: OpSync}).Append(b)
	b = (&SyncRequest{Path: "/a"}).Append(b)
	EndFrame(b, start)
	if want := mustHex(t, "7878 0000000e 00000001 00000009 00000002 2f61"); !bytes.Equal(b, want) {
		t.Fatalf("frame % x", b)
	}
	buf := make([]byte, 0, 64)
	got, err := ReadFrame(bytes.NewReader(b[2:]), buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b[6:]) {
		t.Fatalf("payload % x", got)
	}
	if &got[0] != &buf[:1][0] {
		t.Error("ReadFrame did not reuse a large enough buffer")
	}
	if got, err = ReadFrame(bytes.NewReader(b[2:]), nil, 14); err != nil || len(got) != 14 {
		t.Fatalf("frame at the limit: %v, %d bytes", err, len(got))
	}
}

func TestReadFrameErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []error
		text string
	}{
		{"empty", "", 0, []error{io.EOF}, "EOF"},
		{"zero", "00000000", 0, nil, ""},
		{"partial-length", "0000", 0, []error{ErrShortFrame, io.ErrUnexpectedEOF}, "frame length"},
		{"short-body", "00000010 0102", 0, []error{ErrShortFrame, io.ErrUnexpectedEOF}, "16 bytes"},
		{"missing-body", "00000010", 0, []error{ErrShortFrame, io.ErrUnexpectedEOF}, "16 bytes"},
		{"too-large", "00400001", 0, []error{ErrFrameTooLarge}, "length 4194305, limit 4194304"},
		{"over-limit", "00000011", 16, []error{ErrFrameTooLarge}, "length 17, limit 16"},
		{"negative", "ffffffff", 0, []error{ErrFrameTooLarge}, "length -1"},
		{"http", hex.EncodeToString([]byte("HTTP/1.1 400")), 0, []error{ErrFrameTooLarge}, "HTTP"},
		{"tls-alert", "15030300 0202", 0, []error{ErrFrameTooLarge}, "TLS"},
		{"tls-handshake", "16030100 40", 0, []error{ErrFrameTooLarge}, "TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(mustHex(t, tt.in)), nil, tt.max)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("%v is not %v", err, w)
				}
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("%q does not mention %q", err, tt.text)
			}
		})
	}
}

func BenchmarkEncodeGetDataRequest(b *testing.B) {
	req := &GetDataRequest{Path: "/some/fairly/typical/path", Watch: true}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		out, start := BeginFrame(buf[:0])
		out = (&RequestHeader{Xid: 42, Op: OpGetData}).Append(out)
		out = req.Append(out)
		EndFrame(out, start)
	}
}

func BenchmarkDecodeGetDataResponse(b *testing.B) {
	frame := (&ReplyHeader{Xid: 42, Zxid: 7}).Append(nil)
	frame = (&GetDataResponse{Data: bytes.Repeat([]byte("v"), 512), Stat: testStat}).Append(frame)
	var (
		h    ReplyHeader
		resp GetDataResponse
	)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		r := NewReader(frame)
		h.Decode(r)
		resp.Decode(r)
		if err := r.Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReadFrameGrowsAsBytesArrive: a frame announcing 200 MiB of which
// 1 KiB arrives costs about what arrived; a large frame that does arrive
// whole is read intact.
func TestReadFrameGrowsAsBytesArrive(t *testing.T) {
	announced := append([]byte{0x0c, 0x80, 0x00, 0x00}, make([]byte, 1024)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadFrame(bytes.NewReader(announced), nil, 256<<20)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrShortFrame) {
		t.Fatalf("ReadFrame of a truncated frame = %v, want ErrShortFrame", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Fatalf("a truncated frame announcing 200 MiB allocated %d bytes", d)
	}
	body := make([]byte, 3<<20+7)
	for i := range body {
		body[i] = byte(i)
	}
	whole := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	got, err := ReadFrame(bytes.NewReader(append(whole, body...)), nil, 4<<20)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("ReadFrame of a %d-byte frame: %v, equal %v", len(body), err, bytes.Equal(got, body))
	}
}
