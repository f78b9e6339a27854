package keeper

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/keeper-go/keeper/internal/wire"
)

// SASL support is DIGEST-MD5 only (RFC 2831, as ZooKeeper's
// DigestLoginModule serves it): the client proves it knows the password
// without sending it, and checks that the server knows it too. Kerberos
// (GSSAPI) is out of scope.

// The service name and host the Java client puts in digest-uri for
// DIGEST-MD5; the server checks it.
const saslDigestURI = "zookeeper/zk-sasl-md5"

// errSASL is wrapped by every failure of the SASL exchange other than the
// server's refusal (which is an *Error matching ErrAuthFailed).
var errSASL = errors.New("keeper: sasl")

// saslAuth runs the SASL DIGEST-MD5 exchange on a fresh connection, right
// after the handshake and before anything else is sent: no writer runs
// yet, so it takes its two xids from the client's counter (c.nextXid),
// which the writer then goes on from. A refusal by the server is also
// reported to listeners (KeeperAuthFailed).
func (c *Client) saslAuth(ctx context.Context, nc net.Conn, hp hostPort) error {
	user, password := c.cfg.sasl.user, c.cfg.sasl.password
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	defer nc.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	exchange := func(token []byte) ([]byte, error) {
		xid := c.nextXid()
		b, start := wire.BeginFrame(nil)
		b = (&wire.RequestHeader{Xid: xid, Op: wire.OpSASL}).Append(b)
		b = (&wire.GetSASLRequest{Token: token}).Append(b)
		wire.EndFrame(b, start)
		if _, err := nc.Write(b); err != nil {
			return nil, fmt.Errorf("%w: write to %s: %w", errSASL, hp, err)
		}
		for {
			frame, err := wire.ReadFrame(nc, nil, c.cfg.maxFrame)
			if err != nil {
				return nil, fmt.Errorf("%w: read from %s: %w", errSASL, hp, err)
			}
			r := wire.NewReader(frame)
			var h wire.ReplyHeader
			h.Decode(r)
			if err := r.Err(); err != nil {
				return nil, fmt.Errorf("%w: sasl reply header: %w", ErrProtocol, err)
			}
			if h.Xid != xid {
				continue // a ping or an event: not ours
			}
			if h.Zxid > 0 {
				c.noteZxid(h.Zxid)
			}
			if h.Err != 0 {
				code := Code(h.Err)
				if code == CodeAuthFailed || code == CodeSessionClosedRequireSASLAuth {
					c.authFailed("sasl", code)
				}
				return nil, fmt.Errorf("keeper: sasl as %q on %s: %w", user, hp, &Error{Op: "sasl", Code: code})
			}
			var resp wire.SetSASLResponse
			resp.Decode(r)
			if err := r.Err(); err != nil {
				return nil, fmt.Errorf("%w: sasl reply: %w", ErrProtocol, err)
			}
			return resp.Token, nil
		}
	}

	challenge, err := exchange([]byte{})
	if err != nil {
		return err
	}
	cnonce, err := saslNonce()
	if err != nil {
		return err
	}
	response, expect, err := digestResponse(challenge, user, password, cnonce, saslDigestURI)
	if err != nil {
		return err
	}
	final, err := exchange(response)
	if err != nil {
		return err
	}
	kv, err := parseDigestChallenge(final)
	if err != nil {
		return fmt.Errorf("%w: server's final message: %w", errSASL, err)
	}
	if subtle.ConstantTimeCompare([]byte(kv["rspauth"]), []byte(expect)) != 1 {
		return fmt.Errorf("%w: the server on %s did not prove it knows the password (bad rspauth)", errSASL, hp)
	}
	return nil
}

// saslNonce returns a fresh random client nonce.
func saslNonce() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("%w: cnonce: %w", errSASL, err)
	}
	return base64.RawStdEncoding.EncodeToString(b[:]), nil
}

// digestResponse computes the client's DIGEST-MD5 response (RFC 2831
// §2.1.2) to challenge for user and password with cnonce, and the
// rspauth value the server must answer with; uri is the digest-uri.
func digestResponse(challenge []byte, user, password, cnonce, uri string) (response []byte, rspauth string, err error) {
	kv, err := parseDigestChallenge(challenge)
	if err != nil {
		return nil, "", fmt.Errorf("%w: challenge: %w", errSASL, err)
	}
	nonce, ok := kv["nonce"]
	if !ok || nonce == "" {
		return nil, "", fmt.Errorf("%w: challenge has no nonce", errSASL)
	}
	if alg := kv["algorithm"]; !strings.EqualFold(alg, "md5-sess") {
		return nil, "", fmt.Errorf("%w: challenge algorithm %q, want md5-sess", errSASL, alg)
	}
	if qop, ok := kv["qop"]; ok && !listHas(qop, "auth") {
		return nil, "", fmt.Errorf("%w: server offers qop %q, without auth", errSASL, qop)
	}
	realm := kv["realm"]
	if i := strings.IndexByte(realm, ','); i >= 0 {
		realm = realm[:i] // several realms offered: take the first
	}
	utf8 := strings.EqualFold(kv["charset"], "utf-8")
	u, p := user, password
	if !utf8 {
		// Without charset=utf-8 the strings are ISO 8859-1; the Java
		// server falls back to UTF-8 for what does not fit.
		u, p = latin1(user), latin1(password)
	}
	const nc = "00000001"
	const qop = "auth"

	h := func(s ...string) []byte {
		sum := md5.Sum([]byte(strings.Join(s, ":")))
		return sum[:]
	}
	hx := func(b []byte) string { return hex.EncodeToString(b) }
	// A1 = H(user:realm:password) ":" nonce ":" cnonce (md5-sess, no authzid)
	inner := h(u, realm, p)
	a1 := make([]byte, 0, len(inner)+len(nonce)+len(cnonce)+2)
	a1 = append(a1, inner...)
	a1 = append(a1, ':')
	a1 = append(a1, nonce...)
	a1 = append(a1, ':')
	a1 = append(a1, cnonce...)
	ha1sum := md5.Sum(a1)
	ha1 := hx(ha1sum[:])
	kd := func(a2 string) string {
		ha2sum := md5.Sum([]byte(a2))
		return hx(h(ha1, nonce, nc, cnonce, qop, hx(ha2sum[:])))
	}
	resp := kd("AUTHENTICATE:" + uri)
	rspauth = kd(":" + uri)

	var b bytes.Buffer
	fmt.Fprintf(&b, `username=%s,`, quoteDigest(user))
	if realm != "" {
		fmt.Fprintf(&b, `realm=%s,`, quoteDigest(realm))
	}
	fmt.Fprintf(&b, `nonce=%s,nc=%s,cnonce=%s,digest-uri=%s,maxbuf=65536,response=%s,qop=%s`,
		quoteDigest(nonce), nc, quoteDigest(cnonce), quoteDigest(uri), resp, qop)
	if utf8 {
		b.WriteString(",charset=utf-8")
	}
	return b.Bytes(), rspauth, nil
}

// latin1 encodes s in ISO 8859-1 when it fits, else leaves it UTF-8.
func latin1(s string) string {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return s
		}
		out = append(out, byte(r))
	}
	return string(out)
}

// listHas reports whether a comma-separated list holds v.
func listHas(list, v string) bool {
	for _, x := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(x), v) {
			return true
		}
	}
	return false
}

// quoteDigest quotes a value for a digest message.
func quoteDigest(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// parseDigestChallenge parses a DIGEST-MD5 message: comma-separated
// key=value pairs, values plain or quoted (with backslash escapes). Keys
// are lowercased; a repeated key keeps its values joined with commas
// (RFC 2831 allows several realms).
func parseDigestChallenge(msg []byte) (map[string]string, error) {
	kv := map[string]string{}
	s := string(msg)
	for {
		s = strings.TrimLeft(s, " \t\r\n,")
		if s == "" {
			return kv, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("malformed pair in %q", msg)
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			var sb strings.Builder
			i := 1
			closed := false
			for i < len(s) {
				ch := s[i]
				if ch == '\\' && i+1 < len(s) {
					sb.WriteByte(s[i+1])
					i += 2
					continue
				}
				if ch == '"' {
					closed = true
					i++
					break
				}
				sb.WriteByte(ch)
				i++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quoted value for %s", key)
			}
			val, s = sb.String(), s[i:]
			s = strings.TrimLeft(s, " \t")
			if s != "" && s[0] != ',' {
				return nil, fmt.Errorf("junk after the value of %s", key)
			}
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val, s = strings.TrimSpace(s[:end]), s[end:]
		}
		if old, ok := kv[key]; ok {
			val = old + "," + val
		}
		kv[key] = val
	}
}
