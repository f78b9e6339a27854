package keeper

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/keeper-go/keeper/internal/wire"
)

// The example exchange of RFC 2831 §4.
func TestDigestResponseRFC2831(t *testing.T) {
	challenge := `realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8`
	resp, rspauth, err := digestResponse([]byte(challenge), "chris", "secret", "OA6MHXh6VqTrRk", "imap/elwood.innosoft.com")
	if err != nil {
		t.Fatal(err)
	}
	kv, err := parseDigestChallenge(resp)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"username": "chris", "realm": "elwood.innosoft.com", "nonce": "OA6MG9tEQGm2hh", "nc": "00000001",
		"cnonce": "OA6MHXh6VqTrRk", "digest-uri": "imap/elwood.innosoft.com", "qop": "auth", "charset": "utf-8",
		"response": "d388dad90d4bbd760a152321f2143af7", "maxbuf": "65536",
	}
	for k, v := range want {
		if kv[k] != v {
			t.Errorf("%s = %q, want %q", k, kv[k], v)
		}
	}
	if len(kv) != len(want) {
		t.Errorf("response has %d fields: %s", len(kv), resp)
	}
	if rspauth != "ea40f60335c427b5527b84dbabcdfffd" {
		t.Errorf("rspauth = %s", rspauth)
	}
}

func TestDigestChallengeErrors(t *testing.T) {
	for name, ch := range map[string]string{
		"no nonce":      `realm="r",algorithm=md5-sess`,
		"empty nonce":   `realm="r",nonce="",algorithm=md5-sess`,
		"no algorithm":  `realm="r",nonce="n"`,
		"md5":           `realm="r",nonce="n",algorithm=md5`,
		"no qop auth":   `realm="r",nonce="n",qop="auth-int,auth-conf",algorithm=md5-sess`,
		"unterminated":  `realm="r,nonce="n",algorithm=md5-sess`,
		"junk":          `realm="r"x,nonce="n",algorithm=md5-sess`,
		"no equals":     `realm`,
		"empty key":     `=x`,
		"binary":        "\x00\xff",
		"empty message": ``,
	} {
		if _, _, err := digestResponse([]byte(ch), "u", "p", "c", saslDigestURI); !errors.Is(err, errSASL) {
			t.Errorf("%s: %v, want an errSASL", name, err)
		}
	}
}

func TestParseDigestChallenge(t *testing.T) {
	kv, err := parseDigestChallenge([]byte(` realm="a\"b\\c" , Nonce=xyz,realm="second",qop="auth,auth-int",,`))
	if err != nil {
		t.Fatal(err)
	}
	if kv["realm"] != `a"b\c,second` || kv["nonce"] != "xyz" || kv["qop"] != "auth,auth-int" || len(kv) != 3 {
		t.Fatalf("got %q", kv)
	}
	if got := quoteDigest(`a"b\c`); got != `"a\"b\\c"` {
		t.Fatalf("quoteDigest = %s", got)
	}
}

func FuzzParseDigestChallenge(f *testing.F) {
	f.Add([]byte(`realm="zk-sasl-md5",nonce="abc",charset=utf-8,algorithm=md5-sess`))
	f.Add([]byte(`rspauth=0123456789abcdef0123456789abcdef`))
	f.Add([]byte(`a="\`))
	f.Fuzz(func(t *testing.T, b []byte) {
		kv, err := parseDigestChallenge(b)
		if err != nil {
			return
		}
		// What parses can be quoted back and parses to the same.
		var parts []string
		for k, v := range kv {
			if k == "" || strings.ContainsAny(k, "=, \t\r\n\"") {
				return
			}
			parts = append(parts, k+"="+quoteDigest(v))
		}
		again, err := parseDigestChallenge([]byte(strings.Join(parts, ",")))
		if err != nil {
			t.Fatalf("re-quoted %q: %v", parts, err)
		}
		for k, v := range kv {
			if again[k] != v {
				t.Fatalf("%s: %q became %q", k, v, again[k])
			}
		}
	})
}

// fakeSASLServer plays the server's side of the exchange on nc. final
// maps the client's response fields to the server's last message; code,
// when not zero, is sent instead of the challenge.
func fakeSASLServer(t *testing.T, nc net.Conn, code Code, final func(kv map[string]string) string) {
	defer nc.Close()
	read := func() (wire.RequestHeader, []byte, bool) {
		frame, err := wire.ReadFrame(nc, nil, 1<<20)
		if err != nil {
			return wire.RequestHeader{}, nil, false
		}
		r := wire.NewReader(frame)
		var h wire.RequestHeader
		h.Decode(r)
		var req wire.GetSASLRequest
		req.Decode(r)
		if r.Err() != nil || h.Op != wire.OpSASL {
			t.Errorf("bad sasl request: %+v, %v", h, r.Err())
			return h, nil, false
		}
		return h, req.Token, true
	}
	reply := func(xid int32, code Code, token string) {
		b, start := wire.BeginFrame(nil)
		b = (&wire.ReplyHeader{Xid: xid, Zxid: 7, Err: wire.ErrCode(code)}).Append(b)
		if code == CodeOK {
			b = (&wire.SetSASLResponse{Token: []byte(token)}).Append(b)
		}
		wire.EndFrame(b, start)
		_, _ = nc.Write(b)
	}
	h, tok, ok := read()
	if !ok {
		return
	}
	if len(tok) != 0 {
		t.Errorf("first token %q, want empty", tok)
	}
	// A ping reply first: the client must skip it.
	b, start := wire.BeginFrame(nil)
	b = (&wire.ReplyHeader{Xid: wire.XidPing}).Append(b)
	wire.EndFrame(b, start)
	_, _ = nc.Write(b)
	if code != CodeOK {
		reply(h.Xid, code, "")
		return
	}
	challenge := `realm="zk-sasl-md5",nonce="bm9uY2U=",charset=utf-8,algorithm=md5-sess`
	reply(h.Xid, CodeOK, challenge)
	h2, tok, ok := read()
	if !ok {
		return
	}
	if h2.Xid != h.Xid+1 {
		t.Errorf("xids %d then %d", h.Xid, h2.Xid)
	}
	kv, err := parseDigestChallenge(tok)
	if err != nil {
		t.Errorf("client response %q: %v", tok, err)
		return
	}
	reply(h2.Xid, CodeOK, final(kv))
}

// serverFinal answers as a server that knows password would, without
// checking the client's response: the client must notice a server that
// does not know its password by the rspauth.
func serverFinal(t *testing.T, password string) func(map[string]string) string {
	return func(kv map[string]string) string {
		if kv["digest-uri"] != saslDigestURI || kv["realm"] != "zk-sasl-md5" || kv["qop"] != "auth" {
			t.Errorf("client response %q", kv)
		}
		challenge := `realm="zk-sasl-md5",nonce="bm9uY2U=",charset=utf-8,algorithm=md5-sess`
		_, rspauth, err := digestResponse([]byte(challenge), kv["username"], password, kv["cnonce"], kv["digest-uri"])
		if err != nil {
			t.Errorf("server side: %v", err)
		}
		return "rspauth=" + rspauth
	}
}

func TestSASLExchange(t *testing.T) {
	cases := []struct {
		name  string
		code  Code
		final func(map[string]string) string
		want  error
	}{
		{"ok", CodeOK, serverFinal(t, "pw"), nil},
		{"server does not know the password", CodeOK, serverFinal(t, "other"), errSASL},
		{"no rspauth", CodeOK, func(map[string]string) string { return "" }, errSASL},
		{"refused", CodeAuthFailed, nil, ErrAuthFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Client{cfg: defaultConfig()}
			c.xid.Store(41)
			c.cfg.sasl = &saslConfig{user: "bob", password: "pw"}
			var failed []StateEvent
			c.listeners = map[int]*listener{0: newListener(nil)}
			client, server := net.Pipe()
			done := make(chan struct{})
			go func() {
				defer close(done)
				fakeSASLServer(t, server, tc.code, tc.final)
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := c.saslAuth(ctx, client, hostPort{host: "127.0.0.1", port: 2181})
			client.Close()
			<-done
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("saslAuth = %v, want %v", err, tc.want)
			}
			for {
				ev, ok := c.listeners[0].q.Pop()
				if !ok {
					break
				}
				failed = append(failed, ev)
			}
			if tc.code == CodeAuthFailed {
				if len(failed) != 1 || failed[0].Keeper != KeeperAuthFailed || !errors.Is(failed[0].Err, ErrAuthFailed) {
					t.Fatalf("events %+v, want one AuthFailed", failed)
				}
			} else if len(failed) != 0 {
				t.Fatalf("events %+v", failed)
			}
			if tc.code == CodeOK && c.xid.Load() != 43 {
				t.Errorf("xid counter at %d after the exchange, want 43", c.xid.Load())
			}
			if c.LastZxid() != 7 {
				t.Errorf("zxid of the replies not noted: %d", c.LastZxid())
			}
		})
	}
}

func TestSASLExchangeCancelled(t *testing.T) {
	c := &Client{cfg: defaultConfig()}
	c.cfg.sasl = &saslConfig{user: "bob", password: "pw"}
	client, server := net.Pipe()
	defer server.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		// Read the first request and go silent.
		_, _ = wire.ReadFrame(server, nil, 1<<20)
		cancel()
	}()
	err := c.saslAuth(ctx, client, hostPort{host: "127.0.0.1", port: 2181})
	client.Close()
	if !errors.Is(err, errSASL) {
		t.Fatalf("saslAuth with a silent server = %v", err)
	}
}
