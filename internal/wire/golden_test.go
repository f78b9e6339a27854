package wire

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The golden frames were captured from real exchanges with ZooKeeper, one
// directory per release, by
// `ZOOKEEPER_VERSION=x go run ./internal/wire/internal/capture -out internal/wire/testdata/golden`
// (ZOOKEEPER_VERSION=debian for Debian's 3.8.0). Each file holds one frame
// payload, without its length prefix.
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
	{"multicreate2-request", false, OpMulti},
	{"multicreate2-response", true, OpMulti},
	{"closesession-request", false, OpCloseSession},
	{"closesession-response", true, OpCloseSession},
}

// release is a captured server release.
type release struct {
	name                string // the directory: "3.9.5"
	major, minor, patch int
}

func (r release) atLeast(major, minor, patch int) bool {
	if r.major != major {
		return r.major > major
	}
	if r.minor != minor {
		return r.minor > minor
	}
	return r.patch >= patch
}

// goldenReleases lists the captured releases, oldest first.
func goldenReleases(t *testing.T) []release {
	t.Helper()
	entries, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []release
	for _, e := range entries {
		parts := strings.Split(e.Name(), ".")
		if !e.IsDir() || len(parts) != 3 {
			t.Fatalf("%s/%s: want only release directories", goldenDir, e.Name())
		}
		r := release{name: e.Name()}
		for i, dst := range []*int{&r.major, &r.minor, &r.patch} {
			n, err := strconv.Atoi(parts[i])
			if err != nil {
				t.Fatalf("%s/%s: not a release: %v", goldenDir, e.Name(), err)
			}
			*dst = n
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b release) int {
		if a.atLeast(b.major, b.minor, b.patch) {
			if a == b {
				return 0
			}
			return 1
		}
		return -1
	})
	if len(out) == 0 {
		t.Fatal("no captured release")
	}
	return out
}

func readGolden(t *testing.T, rel, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, rel, name+".bin"))
	if err != nil {
		t.Fatalf("golden frame missing (capture it with internal/wire/internal/capture): %v", err)
	}
	return b
}

// decodeGolden decodes a captured frame payload the way each side would,
// and checks that re-encoding gives back the same bytes.
func decodeGolden(t *testing.T, rel, name string, fromServer bool, op OpCode) (hdr Record, body Record) {
	t.Helper()
	frame := readGolden(t, rel, name)
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
	for _, rel := range goldenReleases(t) {
		for _, g := range goldenFrames {
			t.Run(rel.name+"/"+g.file, func(t *testing.T) { decodeGolden(t, rel.name, g.file, g.fromServer, g.op) })
		}
	}
}

// Every client frame is the same bytes whatever the server's release.
func TestGoldenRequestsAgree(t *testing.T) {
	rels := goldenReleases(t)
	for _, g := range goldenFrames {
		if g.fromServer {
			continue
		}
		first := readGolden(t, rels[0].name, g.file)
		for _, rel := range rels[1:] {
			if !bytes.Equal(readGolden(t, rel.name, g.file), first) {
				t.Errorf("%s differs between %s and %s", g.file, rels[0].name, rel.name)
			}
		}
	}
}

func TestGoldenValues(t *testing.T) {
	for _, rel := range goldenReleases(t) {
		t.Run(rel.name, func(t *testing.T) { goldenValues(t, rel) })
	}
}

func goldenValues(t *testing.T, rel release) {
	const node = "/golden-0000000000"

	_, b := decodeGolden(t, rel.name, "connect-request", false, OpCreateSession)
	creq := b.(*ConnectRequest)
	if want := (&ConnectRequest{Timeout: 30000, Passwd: make([]byte, 16)}); !reflect.DeepEqual(creq, want) {
		t.Errorf("connect request %#v", creq)
	}

	_, b = decodeGolden(t, rel.name, "connect-response", true, OpCreateSession)
	cresp := b.(*ConnectResponse)
	if cresp.ProtocolVersion != 0 || cresp.Timeout <= 0 || cresp.SessionID == 0 || len(cresp.Passwd) != 16 ||
		cresp.ReadOnly || cresp.NoReadOnlyByte {
		t.Errorf("connect response %#v", cresp)
	}

	h, b := decodeGolden(t, rel.name, "create2-request", false, OpCreate2)
	if h.(*RequestHeader).Xid != 1 {
		t.Errorf("create2 xid %d", h.(*RequestHeader).Xid)
	}
	if want := (&CreateRequest{Path: "/golden-", Data: []byte("hello"), ACL: openACL, Flags: ModePersistentSequential}); !reflect.DeepEqual(b, want) {
		t.Errorf("create2 request %#v", b)
	}

	h, b = decodeGolden(t, rel.name, "create2-response", true, OpCreate2)
	rh := h.(*ReplyHeader)
	c2 := b.(*Create2Response)
	if rh.Xid != 1 || rh.Err != ErrOK || rh.Zxid == 0 || c2.Path != node ||
		c2.Stat.Czxid != rh.Zxid || c2.Stat.Version != 0 || c2.Stat.DataLength != 5 || c2.Stat.EphemeralOwner != 0 {
		t.Errorf("create2 response %#v %#v", rh, c2)
	}

	_, b = decodeGolden(t, rel.name, "getdata-request", false, OpGetData)
	if want := (&GetDataRequest{Path: node, Watch: true}); !reflect.DeepEqual(b, want) {
		t.Errorf("getData request %#v", b)
	}

	_, b = decodeGolden(t, rel.name, "getdata-response", true, OpGetData)
	gd := b.(*GetDataResponse)
	if string(gd.Data) != "hello" || gd.Stat != c2.Stat {
		t.Errorf("getData response %q %#v", gd.Data, gd.Stat)
	}

	_, b = decodeGolden(t, rel.name, "setdata-request", false, OpSetData)
	if want := (&SetDataRequest{Path: node, Data: []byte("world!"), Version: 0}); !reflect.DeepEqual(b, want) {
		t.Errorf("setData request %#v", b)
	}

	h, b = decodeGolden(t, rel.name, "notification", true, OpNotification)
	event := h.(*ReplyHeader)
	if want := (&WatcherEvent{Type: EventNodeDataChanged, State: StateSyncConnected, Path: node}); !reflect.DeepEqual(b, want) {
		t.Errorf("notification %#v", b)
	}

	h, b = decodeGolden(t, rel.name, "setdata-response", true, OpSetData)
	// Since 3.9 (ZOOKEEPER-4655) a watch event carries the zxid of the
	// change that fired it; before, -1.
	wantZxid := int64(-1)
	if rel.atLeast(3, 9, 0) {
		wantZxid = h.(*ReplyHeader).Zxid
	}
	if want := (&ReplyHeader{Xid: XidNotification, Zxid: wantZxid, Err: ErrOK}); !reflect.DeepEqual(event, want) {
		t.Errorf("notification header %#v, want %#v", event, want)
	}
	if st := b.(*SetDataResponse).Stat; st.Version != 1 || st.DataLength != 6 || st.Czxid != c2.Stat.Czxid {
		t.Errorf("setData response %#v", st)
	}

	_, b = decodeGolden(t, rel.name, "getchildren2-request", false, OpGetChildren2)
	if want := (&GetChildrenRequest{Path: "/", Watch: false}); !reflect.DeepEqual(b, want) {
		t.Errorf("getChildren2 request %#v", b)
	}

	_, b = decodeGolden(t, rel.name, "getchildren2-response", true, OpGetChildren2)
	gc := b.(*GetChildren2Response)
	kids := slices.Sorted(slices.Values(gc.Children))
	if !reflect.DeepEqual(kids, []string{"golden-0000000000", "zookeeper"}) || gc.Stat.NumChildren != 2 {
		t.Errorf("getChildren2 response %#v", gc)
	}

	_, b = decodeGolden(t, rel.name, "multi-request", false, OpMulti)
	mreq := b.(*MultiRequest)
	ops := make([]OpCode, len(mreq.Ops))
	for i, op := range mreq.Ops {
		ops[i] = op.Op
	}
	if !reflect.DeepEqual(ops, []OpCode{OpCreate, OpDelete, OpSetData}) {
		t.Errorf("multi request ops %v", ops)
	}

	h, b = decodeGolden(t, rel.name, "multi-response", true, OpMulti)
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

	// A create2 inside a multi: 3.7.1+ and 3.8.1+ answer with a create2
	// result carrying the Stat (ZOOKEEPER-4026); before, a plain create
	// result.
	_, b = decodeGolden(t, rel.name, "multicreate2-request", false, OpMulti)
	if ops := b.(*MultiRequest).Ops; len(ops) != 1 || ops[0].Op != OpCreate2 {
		t.Errorf("multi create2 request %#v", b)
	}
	h, b = decodeGolden(t, rel.name, "multicreate2-response", true, OpMulti)
	res := b.(*MultiResponse).Results
	withStat := rel.atLeast(3, 8, 1) || rel.major == 3 && rel.minor == 7 && rel.patch >= 1
	switch {
	case len(res) != 1 || res[0].Path != node+"/b":
		t.Errorf("multi create2 response %#v", b)
	case withStat && (res[0].Op != OpCreate2 || res[0].Stat == nil || res[0].Stat.Czxid != h.(*ReplyHeader).Zxid || res[0].Stat.DataLength != 4):
		t.Errorf("multi create2 result %#v, want a create2 result with the node's Stat", res[0])
	case !withStat && (res[0].Op != OpCreate || res[0].Stat != nil):
		t.Errorf("multi create2 result %#v, want a plain create result", res[0])
	}

	h, b = decodeGolden(t, rel.name, "closesession-response", true, OpCloseSession)
	if b != nil || h.(*ReplyHeader).Err != ErrOK {
		t.Errorf("closeSession response %#v %#v", h, b)
	}
}

// goldenSeeds turns the golden frames of the newest captured release into
// fuzz seeds for target.
func goldenSeeds(t *testing.T, target string) []seed {
	var out []seed
	rels := goldenReleases(t)
	newest := rels[len(rels)-1].name
	for _, g := range goldenFrames {
		frame := readGolden(t, newest, g.file)
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
