package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
)

// stream writes Server-Sent Events.
type stream struct {
	w http.ResponseWriter
	f *http.ResponseController
}

func newStream(w http.ResponseWriter) (*stream, error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &stream{w: w, f: http.NewResponseController(w)}
	if err := s.f.Flush(); err != nil {
		return nil, fmt.Errorf("keeper web: event stream: %w", err)
	}
	return s, nil
}

// send writes one event with v as its JSON data, and flushes it.
func (s *stream) send(event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", event, b); err != nil {
		return err
	}
	return s.f.Flush()
}

// maxBatch is the most node events sent at once; beyond it the page is
// told to re-read what it shows.
const maxBatch = 500

// events streams what happens to the ensemble: "state" events with the
// connection state, and "nodes" events with batches of changed nodes
// below path (a persistent recursive watch), at most every 100ms. A
// "watching" event says the watch is set: the page re-reads what it read
// before. A "resync" event asks the page to re-read all it shows: after a
// reconnect (changes may have been missed) or a burst larger than a batch.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	p := r.URL.Query().Get("path")
	if p == "" {
		p = "/"
	}
	if _, err := checkPath(p); err != nil {
		return err
	}
	e, err := s.target(r)
	if err != nil {
		return err
	}
	s.streams.Add(1)
	defer s.streams.Done()
	ctx := r.Context()
	sse, err := newStream(w)
	if err != nil {
		return err
	}
	// The client may not be connected yet: tell the page, and retry.
	var c *keeper.Client
	for c == nil {
		cctx, cancel := s.op(r)
		c, err = e.Backend.Client(cctx)
		cancel()
		if err == nil {
			break
		}
		sse.send("state", map[string]any{"state": "Lost", "error": strings.ReplaceAll(err.Error(), "keeper: ", "")})
		select {
		case <-ctx.Done():
			return nil
		case <-s.ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
	// State changes queue up here, every one of them, and wake the loop.
	var mu sync.Mutex
	var queued []keeper.StateEvent
	wake := make(chan struct{}, 1)
	stop := c.Listen(func(ev keeper.StateEvent) {
		mu.Lock()
		queued = append(queued, ev)
		mu.Unlock()
		select {
		case wake <- struct{}{}:
		default: // the loop is woken already
		}
	})
	defer stop()
	sendState := func(st keeper.State, ev *keeper.StateEvent) {
		m := map[string]any{"state": st.String(), "server": c.Server()}
		if ev != nil && ev.Err != nil {
			m["error"] = strings.ReplaceAll(ev.Err.Error(), "keeper: ", "")
		}
		sse.send("state", m)
	}
	sendState(c.State(), nil)

	var events <-chan keeper.Event
	wctx, cancel := s.op(r)
	watcher, err := c.Watch(wctx, p, true)
	cancel()
	switch {
	case errors.Is(err, keeper.ErrUnimplemented):
		sse.send("nowatch", "the server is older than 3.6: no live updates")
	case err != nil:
		sse.send("nowatch", zkError(err).msg)
	default:
		defer watcher.Close()
		events = watcher.Events()
		// From here on no change is missed: the page re-reads what it
		// loaded before.
		sse.send("watching", p)
	}
	type change struct {
		Path string `json:"path"`
		Type string `json:"type"`
	}
	var batch []change
	resync := false
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.ctx.Done():
			return nil
		case <-wake:
			mu.Lock()
			evs := queued
			queued = nil
			mu.Unlock()
			for _, ev := range evs {
				sendState(ev.State, &ev)
				if ev.State == keeper.Closed {
					return nil
				}
			}
		case ev, ok := <-events:
			if !ok {
				sse.send("nowatch", "the watch ended: reload the page")
				events = nil
				continue
			}
			if ev.Type == keeper.EventResync {
				resync = true
				batch = batch[:0]
				continue
			}
			if len(batch) < maxBatch {
				batch = append(batch, change{ev.Path, ev.Type.String()})
			} else {
				resync = true
			}
		case <-tick.C:
			var err error
			switch {
			case resync:
				err = sse.send("resync", "")
				resync, batch = false, batch[:0]
			case len(batch) > 0:
				err = sse.send("nodes", batch)
				batch = batch[:0]
			}
			if err != nil {
				return nil
			}
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || sse.f.Flush() != nil {
				return nil
			}
		}
	}
}
