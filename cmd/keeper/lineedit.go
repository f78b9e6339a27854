package main

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// completion is what a completer proposes for the word before the cursor.
type completion struct {
	start   int      // index (in runes) where the completed word starts
	words   []string // candidate replacements of line[start:cursor]
	display []string // how to list each candidate (the last path component)
}

// editor is a small line editor for a terminal in raw mode: cursor movement,
// history, tab completion and the usual Emacs keys.
type editor struct {
	out      io.Writer // the terminal; raw mode, so lines end in \r\n
	keys     *keyReader
	width    func() int
	prompt   func() string
	complete func(line []rune, pos int) completion
	wake     <-chan struct{} // redraw the line (the prompt changed)

	history []string
	line    []rune
	pos     int // cursor, in runes
	off     int // first rune shown, when the line is wider than the terminal
	hist    int // index in history while browsing; len(history) when not
	saved   []rune
}

// errInterruptLine is returned by readLine for Ctrl-C: the line is discarded.
var errInterruptLine = errors.New("interrupted line")

// Keys.
const (
	keyCtrlA     = 1
	keyCtrlB     = 2
	keyCtrlC     = 3
	keyCtrlD     = 4
	keyCtrlE     = 5
	keyCtrlF     = 6
	keyCtrlH     = 8
	keyTab       = 9
	keyCtrlJ     = 10
	keyCtrlK     = 11
	keyCtrlL     = 12
	keyEnter     = 13
	keyCtrlN     = 14
	keyCtrlP     = 16
	keyCtrlU     = 21
	keyCtrlW     = 23
	keyEscape    = 27
	keyBackspace = 127
)

// readLine reads one line. It returns io.EOF for Ctrl-D on an empty line and
// errInterruptLine for Ctrl-C.
func (e *editor) readLine(ctx context.Context) (string, error) {
	e.line, e.pos, e.off, e.hist, e.saved = nil, 0, 0, len(e.history), nil
	e.refresh()
	var pending []byte // an incomplete UTF-8 sequence
	for {
		b, woke, err := e.keys.next(ctx, e.wake)
		if err != nil {
			return "", err
		}
		if woke {
			e.refresh()
			continue
		}
		if len(pending) > 0 || b >= 0x80 {
			pending = append(pending, b)
			if !utf8.FullRune(pending) {
				continue
			}
			r, _ := utf8.DecodeRune(pending)
			pending = pending[:0]
			if r != utf8.RuneError && unicode.IsPrint(r) {
				e.insert(r)
			}
			continue
		}
		switch b {
		case keyEnter, keyCtrlJ:
			e.pos = len(e.line)
			e.refresh()
			io.WriteString(e.out, "\r\n")
			return string(e.line), nil
		case keyCtrlC:
			io.WriteString(e.out, "^C\r\n")
			return "", errInterruptLine
		case keyCtrlD:
			if len(e.line) == 0 {
				io.WriteString(e.out, "\r\n")
				return "", io.EOF
			}
			e.deleteAt(e.pos)
		case keyBackspace, keyCtrlH:
			if e.pos > 0 {
				e.pos--
				e.deleteAt(e.pos)
			}
		case keyCtrlA:
			e.pos = 0
		case keyCtrlE:
			e.pos = len(e.line)
		case keyCtrlB:
			e.pos = max(e.pos-1, 0)
		case keyCtrlF:
			e.pos = min(e.pos+1, len(e.line))
		case keyCtrlK:
			e.line = e.line[:e.pos]
		case keyCtrlU:
			e.line = append([]rune(nil), e.line[e.pos:]...)
			e.pos = 0
		case keyCtrlW:
			start := e.pos
			for start > 0 && e.line[start-1] == ' ' {
				start--
			}
			for start > 0 && e.line[start-1] != ' ' {
				start--
			}
			e.line = append(e.line[:start], e.line[e.pos:]...)
			e.pos = start
		case keyCtrlL:
			io.WriteString(e.out, "\x1b[H\x1b[2J")
		case keyCtrlP:
			e.historyMove(-1)
		case keyCtrlN:
			e.historyMove(1)
		case keyTab:
			e.tab()
		case keyEscape:
			if err := e.escape(ctx); err != nil {
				return "", err
			}
		default:
			if b >= 0x20 && b < 0x7f {
				e.insert(rune(b))
			}
		}
		if !e.keys.buffered() {
			e.refresh()
		}
	}
}

// escape handles an escape sequence: arrows, Home, End, Delete.
func (e *editor) escape(ctx context.Context) error {
	b, _, err := e.keys.next(ctx, nil)
	if err != nil {
		return err
	}
	if b != '[' && b != 'O' {
		return nil // Alt+key: ignored
	}
	var params []byte
	for {
		c, _, err := e.keys.next(ctx, nil)
		if err != nil {
			return err
		}
		if c >= 0x40 && c <= 0x7e {
			switch c {
			case 'A':
				e.historyMove(-1)
			case 'B':
				e.historyMove(1)
			case 'C':
				e.pos = min(e.pos+1, len(e.line))
			case 'D':
				e.pos = max(e.pos-1, 0)
			case 'H':
				e.pos = 0
			case 'F':
				e.pos = len(e.line)
			case '~':
				switch string(params) {
				case "1", "7":
					e.pos = 0
				case "4", "8":
					e.pos = len(e.line)
				case "3":
					e.deleteAt(e.pos)
				}
			}
			return nil
		}
		params = append(params, c)
		if len(params) > 16 {
			return nil
		}
	}
}

func (e *editor) insert(r rune) {
	e.line = append(e.line, 0)
	copy(e.line[e.pos+1:], e.line[e.pos:])
	e.line[e.pos] = r
	e.pos++
}

func (e *editor) deleteAt(i int) {
	if i < len(e.line) {
		e.line = append(e.line[:i], e.line[i+1:]...)
	}
}

// historyMove shows an older (-1) or newer (+1) history entry.
func (e *editor) historyMove(d int) {
	n := e.hist + d
	if n < 0 || n > len(e.history) {
		return
	}
	if e.hist == len(e.history) {
		e.saved = append([]rune(nil), e.line...)
	}
	e.hist = n
	if n == len(e.history) {
		e.line = e.saved
	} else {
		e.line = []rune(e.history[n])
	}
	e.pos = len(e.line)
}

// tab completes the word before the cursor: a single candidate replaces it,
// several are completed to their common prefix or else listed.
func (e *editor) tab() {
	if e.complete == nil {
		return
	}
	c := e.complete(e.line, e.pos)
	if len(c.words) == 0 {
		io.WriteString(e.out, "\a")
		return
	}
	word := string(e.line[c.start:e.pos])
	repl := c.words[0]
	for _, w := range c.words[1:] {
		repl = commonPrefix(repl, w)
	}
	if len(c.words) > 1 && utf8.RuneCountInString(repl) <= utf8.RuneCountInString(word) {
		e.list(c.display)
		return
	}
	rest := append([]rune(repl), e.line[e.pos:]...)
	e.line = append(e.line[:c.start:c.start], rest...)
	e.pos = c.start + utf8.RuneCountInString(repl)
}

// list prints completion candidates in columns under the line.
func (e *editor) list(items []string) {
	width := 0
	for _, it := range items {
		width = max(width, utf8.RuneCountInString(it)+2)
	}
	cols := max(e.width()/max(width, 1), 1)
	var sb strings.Builder
	sb.WriteString("\r\n")
	for i, it := range items {
		sb.WriteString(it)
		if (i+1)%cols == 0 || i == len(items)-1 {
			sb.WriteString("\r\n")
		} else {
			sb.WriteString(strings.Repeat(" ", width-utf8.RuneCountInString(it)))
		}
	}
	io.WriteString(e.out, sb.String())
}

// commonPrefix returns the longest common prefix of a and b, on rune
// boundaries.
func commonPrefix(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	for i > 0 && i < len(a) && !utf8.RuneStart(a[i]) {
		i--
	}
	return a[:i]
}

// refresh redraws the prompt and the line, scrolling it horizontally when it
// is wider than the terminal.
func (e *editor) refresh() {
	prompt := []rune(e.prompt())
	avail := e.width() - len(prompt) - 1
	if avail < 10 {
		prompt = prompt[max(len(prompt)-(e.width()/2), 0):]
		avail = max(e.width()-len(prompt)-1, 1)
	}
	if e.pos < e.off {
		e.off = e.pos
	}
	if e.pos-e.off > avail {
		e.off = e.pos - avail
	}
	end := min(len(e.line), e.off+avail)
	var sb strings.Builder
	sb.WriteString("\r")
	sb.WriteString(string(prompt))
	sb.WriteString(string(e.line[e.off:end]))
	sb.WriteString("\x1b[K\r")
	if col := len(prompt) + e.pos - e.off; col > 0 {
		sb.WriteString("\x1b[" + strconv.Itoa(col) + "C")
	}
	io.WriteString(e.out, sb.String())
}
