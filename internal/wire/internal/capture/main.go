// Command capture records the golden frames of package wire from a real
// exchange with ZooKeeper. It starts a server with zktest, connects through
// a zktest proxy that taps every frame, speaks the protocol with package
// wire (connect, create2 persistent-sequential, getData with a watch,
// setData from the same connection so that the watch fires, getChildren2, a
// multi whose second op fails, a multi holding a create2, closeSession), and
// writes each frame payload (without its length prefix) to
// <out>/<version>/<name>.bin, <version> being the release the server
// reports. ZOOKEEPER_VERSION selects the server, as for every zktest user:
//
//	ZOOKEEPER_VERSION=3.9.5 go run ./internal/wire/internal/capture -out internal/wire/testdata/golden
//
// With -4lw DIR instead it records four-letter-word replies (see fourlw.go):
//
//	ZOOKEEPER_VERSION=3.9.5 go run ./internal/wire/internal/capture -4lw testdata/4lw
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/keeper-go/keeper/internal/wire"
	"github.com/keeper-go/keeper/zktest"
)

func main() {
	out := flag.String("out", "", "directory to write the frames to")
	fourlw := flag.String("4lw", "", "directory to write four-letter-word replies to, instead (see fourlw.go)")
	flag.Parse()
	if (*out == "") == (*fourlw == "") || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: capture -out DIR | -4lw DIR")
		os.Exit(2)
	}
	run := run
	if *fourlw != "" {
		run, *out = capture4lw, *fourlw
	}
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "capture:", err)
		os.Exit(1)
	}
}

// tapped is one frame seen by the proxy.
type tapped struct {
	fromServer bool
	frame      []byte
}

// recorder collects the proxy's frames.
type recorder struct {
	mu     sync.Mutex
	frames []tapped
}

func (r *recorder) tap(fromServer bool, frame []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, tapped{fromServer, frame})
}

func (r *recorder) snapshot() []tapped {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]tapped(nil), r.frames...)
}

// step is one request of the exchange after the handshake. Its xid is its
// index + 1.
type step struct {
	name string // file name stem of the request; the reply uses -response
	op   wire.OpCode
	req  func(node string) wire.Record // nil: no body
}

var openACL = []wire.ACL{{Perms: wire.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}}}

var steps = []step{
	{"create2", wire.OpCreate2, func(string) wire.Record {
		return &wire.CreateRequest{Path: "/golden-", Data: []byte("hello"), ACL: openACL, Flags: wire.ModePersistentSequential}
	}},
	{"getdata", wire.OpGetData, func(node string) wire.Record {
		return &wire.GetDataRequest{Path: node, Watch: true}
	}},
	{"setdata", wire.OpSetData, func(node string) wire.Record {
		return &wire.SetDataRequest{Path: node, Data: []byte("world!"), Version: 0}
	}},
	{"getchildren2", wire.OpGetChildren2, func(string) wire.Record {
		return &wire.GetChildrenRequest{Path: "/"}
	}},
	{"multi", wire.OpMulti, func(node string) wire.Record {
		return &wire.MultiRequest{Ops: []wire.MultiOp{
			{Op: wire.OpCreate, Req: &wire.CreateRequest{Path: node + "/a", Data: []byte("x"), ACL: openACL}},
			{Op: wire.OpDelete, Req: &wire.DeleteRequest{Path: node + "/missing", Version: -1}},
			{Op: wire.OpSetData, Req: &wire.SetDataRequest{Path: node, Data: []byte("again"), Version: -1}},
		}}
	}},
	{"multicreate2", wire.OpMulti, func(node string) wire.Record {
		return &wire.MultiRequest{Ops: []wire.MultiOp{
			{Op: wire.OpCreate2, Req: &wire.CreateRequest{Path: node + "/b", Data: []byte("stat"), ACL: openACL}},
		}}
	}},
	{"closesession", wire.OpCloseSession, nil},
}

func run(out string) (err error) {
	cl, err := zktest.New()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, cl.Close()) }()
	px, err := zktest.NewProxy(cl.Addr(0))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, px.Close()) }()
	var rec recorder
	px.Tap(rec.tap)

	if err := exchange(px.Addr()); err != nil {
		return err
	}
	// 1 connect request + one per step from the client; 1 connect response,
	// one reply per step and one notification from the server.
	wantClient, wantServer := 1+len(steps), 2+len(steps)
	frames, err := waitFrames(&rec, wantClient+wantServer)
	if err != nil {
		return err
	}
	files, err := name(frames)
	if err != nil {
		return err
	}
	if len(files) != wantClient+wantServer {
		return fmt.Errorf("named %d frames, want %d", len(files), wantClient+wantServer)
	}
	if cl.Version() == "" {
		return errors.New("the server reported no release")
	}
	out = filepath.Join(out, cl.Version())
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for stem, frame := range files {
		if err := os.WriteFile(filepath.Join(out, stem+".bin"), frame, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %d frames to %s\n", len(files), out)
	return nil
}

// exchange runs the whole session on a raw connection to addr.
func exchange(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return err
	}

	send := func(hdr, body wire.Record) error {
		b, start := wire.BeginFrame(nil)
		if hdr != nil {
			b = hdr.Append(b)
		}
		if body != nil {
			b = body.Append(b)
		}
		wire.EndFrame(b, start)
		_, err := conn.Write(b)
		return err
	}

	if err := send(nil, &wire.ConnectRequest{Timeout: 30000, Passwd: make([]byte, 16)}); err != nil {
		return err
	}
	frame, err := wire.ReadFrame(conn, nil, 0)
	if err != nil {
		return err
	}
	var cresp wire.ConnectResponse
	r := wire.NewReader(frame)
	cresp.Decode(r)
	if err := r.Err(); err != nil {
		return fmt.Errorf("connect response: %w", err)
	}
	if cresp.Timeout <= 0 {
		return errors.New("connect response: session refused")
	}

	node := ""
	sawEvent := false
	for i, s := range steps {
		xid := int32(i + 1)
		var body wire.Record
		if s.req != nil {
			body = s.req(node)
		}
		if err := send(&wire.RequestHeader{Xid: xid, Op: s.op}, body); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		for {
			frame, err := wire.ReadFrame(conn, nil, 0)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			r := wire.NewReader(frame)
			var h wire.ReplyHeader
			h.Decode(r)
			if h.Xid == wire.XidNotification {
				var ev wire.WatcherEvent
				ev.Decode(r)
				if err := r.Err(); err != nil {
					return fmt.Errorf("notification: %w", err)
				}
				sawEvent = true
				continue
			}
			if h.Xid != xid {
				return fmt.Errorf("%s: reply xid %d, want %d", s.name, h.Xid, xid)
			}
			if h.Err != wire.ErrOK {
				return fmt.Errorf("%s: %s", s.name, h.Err.Message())
			}
			resp := wire.ResponseFor(s.op)
			if resp != nil {
				resp.Decode(r)
			}
			if err := r.Err(); err != nil {
				return fmt.Errorf("%s reply: %w", s.name, err)
			}
			if c, ok := resp.(*wire.Create2Response); ok {
				node = c.Path
			}
			break
		}
	}
	if !sawEvent {
		return errors.New("no watch event arrived")
	}
	return nil
}

// waitFrames polls the recorder until it holds n frames.
func waitFrames(rec *recorder, n int) ([]tapped, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		frames := rec.snapshot()
		if len(frames) >= n {
			return frames, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("tapped %d frames, want %d", len(frames), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// name gives each frame its file stem: client frames by their position,
// server frames by their xid.
func name(frames []tapped) (map[string][]byte, error) {
	files := map[string][]byte{}
	var client, server int
	for _, f := range frames {
		var stem string
		switch {
		case !f.fromServer && client == 0:
			stem = "connect-request"
		case !f.fromServer:
			if client > len(steps) {
				return nil, fmt.Errorf("unexpected client frame %d", client)
			}
			stem = steps[client-1].name + "-request"
		case server == 0:
			stem = "connect-response"
		default:
			var h wire.ReplyHeader
			r := wire.NewReader(f.frame)
			h.Decode(r)
			switch {
			case r.Err() != nil:
				return nil, r.Err()
			case h.Xid == wire.XidNotification:
				stem = "notification"
			case h.Xid >= 1 && int(h.Xid) <= len(steps):
				stem = steps[h.Xid-1].name + "-response"
			default:
				return nil, fmt.Errorf("unexpected reply xid %d", h.Xid)
			}
		}
		if f.fromServer {
			server++
		} else {
			client++
		}
		if _, dup := files[stem]; dup {
			return nil, fmt.Errorf("two frames named %s", stem)
		}
		files[stem] = f.frame
	}
	return files, nil
}
