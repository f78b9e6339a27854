package wire

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// The golden frames were captured from a real exchange with ZooKeeper by
// `go run ./internal/wire/internal/capture -out internal/wire/testdata/golden`.
// Each file holds one frame payload, without its length prefix.
const goldenDir = "testdata/golden"

// goldenFrames names each captured frame, its direction and the op whose
// record it carries (OpCreateSession for the handshake, OpNotification for
// a watch event).
var goldenFrames = []struct {
	file       string
	fromServer bool
	op         OpCode
}{
	{"connect-request", false, OpCreateSession},
	{"connect-response", true, OpCreateSession},
	{"create2-request", false, OpCreate2},
	{"create2-response", true, OpCreate2},
	{"getdata-request", false, OpGetData},
	{"getdata-response", true, OpGetData},
	{"setdata-request", false, OpSetData},
	{"notification", true, OpNotification},
	{"setdata-response", true, OpSetData},
	{"getchildren2-request", false, OpGetChildren2},
	{"getchildren2-response", true, OpGetChildren2},
	{"multi-request", false, OpMulti},
	{"multi-response", true, OpMulti},
	{"closesession-request", false, OpCloseSession},
	{"closesession-response", true, OpCloseSession},
}

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, name+".bin"))
	if err != nil {
		t.Fatalf("golden frame missing (capture it with internal/wire/internal/capture): %v", err)
	}
	return b
}

// decodeGolden decodes a captured frame payload the way each side would,
// and checks that re-encoding gives back the same bytes.
func decodeGolden(t *testing.T, name string, fromServer bool, op OpCode) (hdr Record, body Record) {
	t.Helper()
	frame := readGolden(t, name)
	r := NewReader(frame)
	switch {
	case op == OpCreateSession && fromServer:
		body = new(ConnectResponse)
	case op == OpCreateSession:
		body = new(ConnectRequest)
	case fromServer:
		h := new(ReplyHeader)
		h.Decode(r)
		hdr = h
		if h.Xid == XidNotification {
			body = new(WatcherEvent)
		} else if h.Err == ErrOK {
			body = ResponseFor(op)
		}
	default:
		h := new(RequestHeader)
		h.Decode(r)
		hdr = h
		if h.Op != op {
			t.Fatalf("%s: request op %v, want %v", name, h.Op, op)
		}
		body = RequestFor(op)
	}
	if body != nil {
		body.Decode(r)
	}
	if err := r.Err(); err != nil {
		t.Fatalf("%s: decode: %v", name, err)
	}
	if r.Len() != 0 {
		t.Fatalf("%s: %d bytes left after decoding", name, r.Len())
	}
	var again []byte
	if hdr != nil {
		again = hdr.Append(again)
	}
	if body != nil {
		again = body.Append(again)
	}
	if !bytes.Equal(again, frame) {
		t.Fatalf("%s: re-encoded\n% x\nwant\n% x", name, again, frame)
	}
	return hdr, body
}

func TestGoldenRoundTrip(t *testing.T) {
	for _, g := range goldenFrames {
		t.Run(g.file, func(t *testing.T) { decodeGolden(t, g.file, g.fromServer, g.op) })
	}
}

func TestGoldenValues(t *testing.T) {
	const node = "/golden-0000000000"

	_, b := decodeGolden(t, "connect-request", false, OpCreateSession)
	creq := b.(*ConnectRequest)
	if want := (&ConnectRequest{Timeout: 30000, Passwd: make([]byte, 16)}); !reflect.DeepEqual(creq, want) {
		t.Errorf("connect request %#v", creq)
	}

	_, b = decodeGolden(t, "connect-response", true, OpCreateSession)
	cresp := b.(*ConnectResponse)
	if cresp.ProtocolVersion != 0 || cresp.Timeout <= 0 || cresp.SessionID == 0 || len(cresp.Passwd) != 16 ||
		cresp.ReadOnly || cresp.NoReadOnlyByte {
		t.Errorf("connect response %#v", cresp)
	}

	h, b := decodeGolden(t, "create2-request", false, OpCreate2)
	if h.(*RequestHeader).Xid != 1 {
		t.Errorf("create2 xid %d", h.(*RequestHeader).Xid)
	}
	if want := (&CreateRequest{Path: "/golden-", Data: []byte("hello"), ACL: openACL, Flags: ModePersistentSequential}); !reflect.DeepEqual(b, want) {
		t.Errorf("create2 request %#v", b)
	}

	h, b = decodeGolden(t, "create2-response", true, OpCreate2)
	rh := h.(*ReplyHeader)
	c2 := b.(*Create2Response)
	if rh.Xid != 1 || rh.Err != ErrOK || rh.Zxid == 0 || c2.Path != node ||
		c2.Stat.Czxid != rh.Zxid || c2.Stat.Version != 0 || c2.Stat.DataLength != 5 || c2.Stat.EphemeralOwner != 0 {
		t.Errorf("create2 response %#v %#v", rh, c2)
	}

	_, b = decodeGolden(t, "getdata-request", false, OpGetData)
	if want := (&GetDataRequest{Path: node, Watch: true}); !reflect.DeepEqual(b, want) {
		t.Errorf("getData request %#v", b)
	}

	_, b = decodeGolden(t, "getdata-response", true, OpGetData)
	gd := b.(*GetDataResponse)
	if string(gd.Data) != "hello" || gd.Stat != c2.Stat {
		t.Errorf("getData response %q %#v", gd.Data, gd.Stat)
	}

	_, b = decodeGolden(t, "setdata-request", false, OpSetData)
	if want := (&SetDataRequest{Path: node, Data: []byte("world!"), Version: 0}); !reflect.DeepEqual(b, want) {
		t.Errorf("setData request %#v", b)
	}

	h, b = decodeGolden(t, "notification", true, OpNotification)
	if want := (&ReplyHeader{Xid: XidNotification, Zxid: -1, Err: ErrOK}); !reflect.DeepEqual(h, want) {
		t.Errorf("notification header %#v", h)
	}
	if want := (&WatcherEvent{Type: EventNodeDataChanged, State: StateSyncConnected, Path: node}); !reflect.DeepEqual(b, want) {
		t.Errorf("notification %#v", b)
	}

	_, b = decodeGolden(t, "setdata-response", true, OpSetData)
	if st := b.(*SetDataResponse).Stat; st.Version != 1 || st.DataLength != 6 || st.Czxid != c2.Stat.Czxid {
		t.Errorf("setData response %#v", st)
	}

	_, b = decodeGolden(t, "getchildren2-request", false, OpGetChildren2)
	if want := (&GetChildrenRequest{Path: "/", Watch: false}); !reflect.DeepEqual(b, want) {
		t.Errorf("getChildren2 request %#v", b)
	}

	_, b = decodeGolden(t, "getchildren2-response", true, OpGetChildren2)
	gc := b.(*GetChildren2Response)
	kids := slices.Sorted(slices.Values(gc.Children))
	if !reflect.DeepEqual(kids, []string{"golden-0000000000", "zookeeper"}) || gc.Stat.NumChildren != 2 {
		t.Errorf("getChildren2 response %#v", gc)
	}

	_, b = decodeGolden(t, "multi-request", false, OpMulti)
	mreq := b.(*MultiRequest)
	ops := make([]OpCode, len(mreq.Ops))
	for i, op := range mreq.Ops {
		ops[i] = op.Op
	}
	if !reflect.DeepEqual(ops, []OpCode{OpCreate, OpDelete, OpSetData}) {
		t.Errorf("multi request ops %v", ops)
	}

	h, b = decodeGolden(t, "multi-response", true, OpMulti)
	if h.(*ReplyHeader).Err != ErrOK {
		t.Errorf("multi reply error %v", h.(*ReplyHeader).Err)
	}
	want := &MultiResponse{Results: []MultiResult{
		{Op: OpError, Err: ErrOK},
		{Op: OpError, Err: ErrNoNode},
		{Op: OpError, Err: ErrRuntimeInconsistency},
	}}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("multi response %#v", b)
	}

	h, b = decodeGolden(t, "closesession-response", true, OpCloseSession)
	if b != nil || h.(*ReplyHeader).Err != ErrOK {
		t.Errorf("closeSession response %#v %#v", h, b)
	}
}

// goldenSeeds turns the golden frames into fuzz seeds for target.
func goldenSeeds(t *testing.T, target string) []seed {
	var out []seed
	for _, g := range goldenFrames {
		frame := readGolden(t, g.file)
		name := "golden-" + g.file
		switch {
		case g.fromServer != (target == "FuzzDecodeResponse"):
			continue
		case g.op == OpCreateSession:
			out = append(out, seed{name, append([]byte{1}, frame...)})
		case g.fromServer:
			op := g.op
			if op == OpNotification {
				op = OpGetData
			}
			out = append(out, seed{name, append([]byte{0, replyOpIndex(op)}, frame...)})
		default:
			out = append(out, seed{name, append([]byte{0}, frame...)})
		}
	}
	return out
}
