package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/keeper-go/keeper"
)

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// statJSON is a Stat as the --json output shows it: zxids and session ids
// as hex strings ("0x1a"), as ZooKeeper prints them, in every command.
type statJSON struct {
	Czxid          string `json:"czxid"`
	Mzxid          string `json:"mzxid"`
	Pzxid          string `json:"pzxid"`
	Ctime          int64  `json:"ctime"`
	Mtime          int64  `json:"mtime"`
	Version        int32  `json:"version"`
	Cversion       int32  `json:"cversion"`
	Aversion       int32  `json:"aversion"`
	EphemeralOwner string `json:"ephemeralOwner"`
	DataLength     int32  `json:"dataLength"`
	NumChildren    int32  `json:"numChildren"`
}

func toStatJSON(s *keeper.Stat) *statJSON {
	if s == nil {
		return nil
	}
	return &statJSON{
		Czxid: hex64(s.Czxid), Mzxid: hex64(s.Mzxid), Pzxid: hex64(s.Pzxid), Ctime: s.Ctime, Mtime: s.Mtime,
		Version: s.Version, Cversion: s.Cversion, Aversion: s.Aversion,
		EphemeralOwner: hex64(s.EphemeralOwner), DataLength: s.DataLength, NumChildren: s.NumChildren,
	}
}

// hex64 formats a zxid or session id as ZooKeeper prints them.
func hex64(v int64) string { return "0x" + strconv.FormatUint(uint64(v), 16) }

// fmtTime formats a server time in milliseconds since the epoch.
func fmtTime(ms int64) string {
	return time.UnixMilli(ms).Format("2006-01-02 15:04:05.000 MST")
}

// fmtShortTime formats a server time for listings.
func fmtShortTime(ms int64) string {
	return time.UnixMilli(ms).Format("2006-01-02 15:04:05")
}

// fmtDuration formats a duration rounded to what a reader needs: 2.67s,
// 1m30s, 12.5ms, not 2.666666666s.
func fmtDuration(d time.Duration) string {
	switch a := d.Abs(); {
	case a >= time.Minute:
		return d.Round(time.Second).String()
	case a >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case a >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case a >= time.Microsecond:
		return d.Round(10 * time.Nanosecond).String()
	}
	return d.String()
}

// plural returns "1 node", "2 nodes": n and the noun, made plural with an s
// unless n is 1.
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatInt(n, 10) + " " + noun + "s"
}

// fmtSize formats a byte count: "512 B", "1.5 KiB".
func fmtSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// dataJSON is node data in JSON: base64 (binary-safe; null for a node
// without data) and, when it is valid UTF-8, also as text.
type dataJSON struct {
	Data *string `json:"data"`
	Text *string `json:"text,omitempty"`
}

func toDataJSON(b []byte) dataJSON {
	if b == nil {
		return dataJSON{}
	}
	enc := base64.StdEncoding.EncodeToString(b)
	d := dataJSON{Data: &enc}
	if utf8.Valid(b) {
		s := string(b)
		d.Text = &s
	}
	return d
}
