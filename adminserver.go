package keeper

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// AdminOption configures AdminCommand.
type AdminOption func(*adminConfig)

type adminConfig struct {
	auth   string
	tls    *tls.Config
	params url.Values
	max    int64
}

// AdminAuth sends credentials with an AdminServer command, as the
// Authorization header "<scheme> <credentials>" that ZooKeeper 3.9 reads:
// AdminAuth("digest", "user:password"), or the x509 and IP schemes, which
// take their identity from the connection. The commands that need it
// (snapshot and restore on 3.9) require ALL permission on "/" for that
// identity; others ignore it. The default sends none.
func AdminAuth(scheme, credentials string) AdminOption {
	return func(c *adminConfig) { c.auth = scheme + " " + credentials }
}

// AdminTLS reaches the AdminServer over HTTPS with the given configuration
// (the server's admin.forceHttps or a TLS-only port). The default is plain
// HTTP.
func AdminTLS(cfg *tls.Config) AdminOption {
	return func(c *adminConfig) { c.tls = cfg }
}

// AdminParam adds a query parameter to the command's URL, such as
// AdminParam("streaming", "false") for snapshot. The default adds none.
func AdminParam(key, value string) AdminOption {
	return func(c *adminConfig) {
		if c.params == nil {
			c.params = url.Values{}
		}
		c.params.Add(key, value)
	}
}

// adminMaxReply bounds the reply AdminCommand reads (a JSON document; a
// streamed snapshot is not for this call).
const adminMaxReply = 16 << 20

// AdminCommand runs command on the AdminServer at addr ("host:port", the
// server's admin.serverPort; 8080 by default) and returns its JSON reply,
// decoded. The AdminServer is off unless the server's admin.enableServer is
// true, and it lists its commands at /commands. A refusal is an error that
// names the command and the server's reason: a missing or rejected
// credential (HTTP 401) matches ErrAuthFailed, an identity without the
// permission the command needs (403) matches ErrNoAuth. ctx bounds the
// whole exchange.
func AdminCommand(ctx context.Context, addr, command string, opts ...AdminOption) (map[string]any, error) {
	var cfg adminConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if command == "" || strings.ContainsAny(command, "/?#") {
		return nil, fmt.Errorf("keeper: admin command %q: %w", command, ErrBadArguments)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("keeper: admin command %s: address %q: %w", command, addr, err)
	}
	scheme := "http"
	if cfg.tls != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: addr, Path: "/commands/" + command, RawQuery: cfg.params.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("keeper: admin command %s: %w", command, err)
	}
	if cfg.auth != "" {
		req.Header.Set("Authorization", cfg.auth)
	}
	tr := &http.Transport{TLSClientConfig: cfg.tls, DisableKeepAlives: true, ResponseHeaderTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("keeper: admin command %s at %s: %w", command, addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, adminMaxReply+1))
	if err != nil {
		return nil, fmt.Errorf("keeper: admin command %s at %s: reading the reply: %w", command, addr, err)
	}
	if len(body) > adminMaxReply {
		return nil, fmt.Errorf("keeper: admin command %s at %s: reply over %d bytes", command, addr, adminMaxReply)
	}
	var out map[string]any
	jsonErr := json.Unmarshal(body, &out)
	if resp.StatusCode != http.StatusOK {
		reason := strings.TrimSpace(string(body))
		if jsonErr == nil {
			if e, ok := out["error"].(string); ok && e != "" {
				reason = e
			}
		}
		if len(reason) > 200 {
			reason = reason[:200] + "..."
		}
		var kind error
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			kind = ErrAuthFailed
		case http.StatusForbidden:
			kind = ErrNoAuth
		default:
			kind = errors.New("refused")
		}
		return nil, fmt.Errorf("keeper: admin command %s at %s: HTTP %d: %s: %w", command, addr, resp.StatusCode, reason, kind)
	}
	if jsonErr != nil {
		return nil, fmt.Errorf("keeper: admin command %s at %s: the reply is not JSON: %w", command, addr, jsonErr)
	}
	if e, ok := out["error"].(string); ok && e != "" {
		return out, fmt.Errorf("keeper: admin command %s at %s: %s", command, addr, e)
	}
	return out, nil
}
