package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/keeper-go/keeper"
)

func init() {
	register(shellCommand, cdCommand, pwdCommand, exitCommand)
}

// historyName is the shell's history file, in the home directory.
const historyName = ".keeper_history"

// maxHistory is the number of history lines kept.
const maxHistory = 1000

var shellCommand = &command{
	name:    "shell",
	args:    "[--no-history]",
	summary: "interactive shell: the same commands, with cd, history and tab completion",
	help: `The prompt shows the connection state and the current directory, as
"(CONNECTED) /app> ". Paths are relative to the current directory; cd, pwd,
.. and . work as in a Unix shell. Tab completes command names and znode paths;
up and down browse the history, kept in ~/.keeper_history. Ctrl-C clears the
line (or stops a running command such as watch); Ctrl-D or exit quits.
When standard input is not a terminal, commands are read from it line by line;
the exit status is then that of the last command that failed.`,
	noShell:    true,
	ownSignals: true,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		noHistory := fs.Bool("no-history", false, "do not read or write ~/"+historyName)
		return func(ctx context.Context, args []string) error {
			return a.runShell(ctx, !*noHistory)
		}
	},
}

var cdCommand = &command{
	name:      "cd",
	args:      "[path]",
	summary:   "change the current directory (default /)",
	max:       1,
	shellOnly: true,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		return func(ctx context.Context, args []string) error {
			p := "/"
			if len(args) > 0 {
				var err error
				if p, err = resolve(a.cwd, args[0]); err != nil {
					return err
				}
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			octx, cancel := a.op(ctx)
			defer cancel()
			st, err := c.Exists(octx, p)
			if err != nil {
				return a.opErr(octx, err)
			}
			if st == nil {
				return &keeper.Error{Op: "cd", Path: p, Code: keeper.CodeNoNode}
			}
			a.cwd = p
			return nil
		}
	},
}

var pwdCommand = &command{
	name:      "pwd",
	summary:   "print the current directory",
	shellOnly: true,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		return func(ctx context.Context, args []string) error {
			fmt.Fprintln(a.stdout, a.cwd)
			return nil
		}
	},
}

// errExitShell is returned by exit to end the shell.
var errExitShell = errors.New("exit")

var exitCommand = &command{
	name:      "exit",
	aliases:   []string{"quit"},
	summary:   "leave the shell (as Ctrl-D)",
	shellOnly: true,
	setup: func(a *app, fs *flag.FlagSet) func(context.Context, []string) error {
		return func(ctx context.Context, args []string) error { return errExitShell }
	},
}

// runShell connects and reads commands from the terminal, or line by line
// from standard input when it is not a terminal. On a terminal the shell
// also starts when no server answers, as zk-shell does: it says so and
// connects in the background.
func (a *app) runShell(ctx context.Context, useHistory bool) error {
	in := terminalFile(a.stdin)
	c, err := a.client(ctx)
	var notConnected error
	if err != nil && in != nil && exitCode(err) == 1 && !errors.Is(err, keeper.ErrAuthFailed) && ctx.Err() == nil {
		notConnected = err
		c, err = a.clientLater()
	}
	if err != nil {
		return err
	}
	a.inShell = true
	defer func() { a.inShell = false }()
	if in == nil {
		return a.script(ctx)
	}
	histFile := ""
	if useHistory {
		if home, err := os.UserHomeDir(); err == nil {
			histFile = filepath.Join(home, historyName)
		}
	}
	return a.interactive(ctx, c, in, histFile, notConnected)
}

// script runs the commands read from standard input, one per line. Blank
// lines and lines starting with # are skipped. Ctrl-C stops the running
// command and the script.
func (a *app) script(ctx context.Context) error {
	type line struct {
		text string
		err  error // set on the last one, with io.EOF at the end of input
	}
	lines := make(chan line)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		sc := bufio.NewScanner(a.stdin)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			select {
			case lines <- line{text: sc.Text()}:
			case <-stop:
				return
			}
		}
		err := sc.Err()
		if err == nil {
			err = io.EOF
		}
		select {
		case lines <- line{err: err}:
		case <-stop:
		}
	}()
	status := 0
	for {
		var l line
		select {
		case l = <-lines:
		case <-ctx.Done():
			return contextErr(ctx)
		case <-a.sigint:
			return errInterrupted
		}
		if l.err == io.EOF {
			break
		}
		if l.err != nil {
			return fmt.Errorf("keeper: shell: reading standard input: %w", l.err)
		}
		st, err := a.shellLine(ctx, l.text)
		if st != 0 {
			status = st
		}
		if ctx.Err() != nil {
			return contextErr(ctx)
		}
		if errors.Is(err, errInterrupted) {
			return &exitError{1} // reported already
		}
		if errors.Is(err, errExitShell) {
			break
		}
	}
	if status != 0 {
		return &exitError{status}
	}
	return nil
}

// interactive runs the shell on a terminal; notConnected says why there is
// no session yet (nil when there is one).
func (a *app) interactive(ctx context.Context, c *keeper.Client, in *os.File, histFile string, notConnected error) error {
	wake := make(chan struct{}, 1)
	var noticeMu sync.Mutex
	var notices []string
	onState := func(ev keeper.StateEvent) {
		if ev.State == keeper.Lost {
			// Said at once: whatever the session held (ephemeral nodes,
			// locks, watches) is gone, though the shell goes on.
			why := "ended"
			if ev.Err != nil {
				why = strings.TrimPrefix(errorLine(ev.Err), "keeper: ")
			}
			noticeMu.Lock()
			notices = append(notices, fmt.Sprintf("keeper: session %s lost (%s): its ephemeral nodes are gone; a new session follows",
				hex64(ev.SessionID), why))
			noticeMu.Unlock()
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	stop := c.Listen(onState)
	// connect makes a new client: follow that one.
	a.onClient = func(nc *keeper.Client) {
		stop()
		stop = nc.Listen(onState)
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	defer func() {
		a.onClient = nil
		stop()
	}()
	keys := newKeyReader(in)
	a.keys = keys
	defer func() { a.keys = nil; keys.close() }()
	out := terminalFile(a.stdout)
	if out == nil {
		out = in
	}
	ed := &editor{
		out:      a.stdout,
		keys:     keys,
		width:    func() int { return termWidth(out) },
		prompt:   a.prompt,
		complete: a.completer(ctx),
		wake:     wake,
		notices: func() []string {
			noticeMu.Lock()
			defer noticeMu.Unlock()
			n := notices
			notices = nil
			return n
		},
		history: loadHistory(histFile),
	}
	if notConnected != nil {
		fmt.Fprintf(a.stdout, "%s\nNot connected yet: the shell goes on trying, the prompt shows the state, and commands wait for the session up to --timeout. Type help for the commands, Ctrl-D to quit.\n",
			errorLine(notConnected))
	} else {
		id, _ := c.Session()
		fmt.Fprintf(a.stdout, "Connected to %s, session %s. Type help for the commands, Ctrl-D to quit.\n",
			a.conn.servers(), hex64(id))
	}
	for {
		restore, err := rawMode(in)
		if err != nil {
			return fmt.Errorf("keeper: shell: %w", err)
		}
		line, err := ed.readLine(ctx)
		restore()
		switch {
		case err == io.EOF:
			return nil
		case errors.Is(err, errInterruptLine):
			continue
		case err != nil:
			if ctx.Err() != nil {
				return contextErr(ctx)
			}
			return fmt.Errorf("keeper: shell: %w", err)
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		ed.history = addHistory(ed.history, line, histFile)
		if _, err := a.shellLine(ctx, line); errors.Is(err, errExitShell) {
			return nil
		}
	}
}

// shellLine runs one line of the shell and returns its exit status and
// error (already reported; errExitShell for exit).
func (a *app) shellLine(ctx context.Context, line string) (status int, err error) {
	words, err := splitWords(line)
	if err != nil {
		err = usageErr(nil, "%v", err)
		return a.report(err), err
	}
	if len(words) == 0 || strings.HasPrefix(words[0], "#") {
		return 0, nil
	}
	c := lookupCommand(words[0])
	switch {
	case c == nil:
		err = usageErr(nil, "unknown command %q (type help for the list)", words[0])
	case c.noShell:
		err = usageErr(nil, "%s does not work inside the shell", c.name)
	default:
		err = a.runCommand(ctx, c, words[1:])
	}
	if errors.Is(err, errExitShell) {
		return 0, err
	}
	return a.report(err), err
}

// prompt returns the shell's prompt: "(CONNECTED) /app> ", or
// "(DISCONNECTED) /> " after disconnect.
func (a *app) prompt() string {
	a.mu.Lock()
	c := a.zk
	a.mu.Unlock()
	state := "DISCONNECTED"
	if c != nil {
		state = stateLabel(c.State())
	}
	return "(" + state + ") " + a.cwd + "> "
}

// stateLabel names a connection state for the prompt.
func stateLabel(s keeper.State) string {
	switch s {
	case keeper.Connecting:
		return "CONNECTING"
	case keeper.Connected:
		return "CONNECTED"
	case keeper.ConnectedReadOnly:
		return "CONNECTED_READONLY"
	case keeper.Suspended:
		return "SUSPENDED"
	case keeper.Lost:
		return "LOST"
	case keeper.Closed:
		return "CLOSED"
	}
	return strings.ToUpper(s.String())
}

// completer returns the shell's tab completion: command names for the first
// word, znode paths (relative to the current directory) after it.
func (a *app) completer(ctx context.Context) func([]rune, int) completion {
	return func(line []rune, pos int) completion {
		a.mu.Lock()
		c := a.zk
		a.mu.Unlock()
		if c == nil {
			return completeLine(line, pos, a.cwd, func(string) ([]string, error) { return nil, errDisconnected }, func(string) bool { return false })
		}
		octx, cancel := context.WithTimeout(ctx, min(a.conn.timeout, 3*time.Second))
		defer cancel()
		return completeLine(line, pos, a.cwd, func(parent string) ([]string, error) {
			return c.Children(octx, parent)
		}, func(p string) bool {
			st, err := c.Exists(octx, p)
			return err == nil && st != nil && st.NumChildren > 0
		})
	}
}

// completeLine completes the word before pos: a command name when it is the
// first word, else a znode path (the children of its directory, listed by
// children; hasChildren says whether a single candidate gets a "/" to go on
// or ends the word). The word may be quoted or hold backslash escapes, as
// splitWords reads them; candidates are quoted the same way, and names with
// spaces or quotes are escaped.
func completeLine(line []rune, pos int, cwd string, children func(string) ([]string, error), hasChildren func(string) bool) completion {
	start, word, quote := lastWord(line[:pos])
	if strings.TrimSpace(string(line[:start])) == "" && quote == 0 {
		var comp completion
		comp.start = start
		for _, cmd := range commands {
			if cmd.noShell || !strings.HasPrefix(cmd.name, word) {
				continue
			}
			comp.words = append(comp.words, cmd.name+" ")
			comp.display = append(comp.display, cmd.name)
		}
		return comp
	}
	if strings.HasPrefix(word, "-") || strings.Contains(word, "://") {
		return completion{}
	}
	dir, prefix := "", word
	if i := strings.LastIndexByte(word, '/'); i >= 0 {
		dir, prefix = word[:i+1], word[i+1:]
	}
	parent, err := resolve(cwd, dir)
	if err != nil {
		return completion{}
	}
	names, err := children(parent)
	if err != nil {
		return completion{}
	}
	sort.Strings(names)
	comp := completion{start: start}
	for _, name := range names {
		if strings.HasPrefix(name, prefix) {
			comp.words = append(comp.words, quoteWord(dir+name, quote, false))
			comp.display = append(comp.display, name)
		}
	}
	if len(comp.words) == 1 {
		// A node with children gets a "/" to go on completing; a leaf
		// ends the word (and its quote).
		full := dir + comp.display[0]
		if hasChildren(keeper.JoinPath(parent, comp.display[0])) {
			comp.words[0] = quoteWord(full+"/", quote, false)
		} else {
			comp.words[0] = quoteWord(full, quote, true) + " "
		}
	}
	return comp
}

// lastWord finds the word that line ends in, read as splitWords reads
// words: it returns where the word starts (at its opening quote, if any),
// its text without quotes and escapes, and the quote still open at the end
// of line (0 when none).
func lastWord(line []rune) (start int, word string, quote rune) {
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		r := line[i]
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch {
			case r == '"':
				quote = 0
			case r == '\\' && i+1 < len(line):
				i++
				switch line[i] {
				case 'n':
					cur.WriteRune('\n')
				case 't':
					cur.WriteRune('\t')
				default:
					cur.WriteRune(line[i])
				}
			default:
				cur.WriteRune(r)
			}
		case r == ' ' || r == '\t':
			inWord = false
			cur.Reset()
		default:
			if !inWord {
				start, inWord = i, true
			}
			switch {
			case r == '\'' || r == '"':
				quote = r
			case r == '\\' && i+1 < len(line):
				i++
				cur.WriteRune(line[i])
			default:
				cur.WriteRune(r)
			}
		}
	}
	if !inWord {
		start = len(line)
	}
	return start, cur.String(), quote
}

// quoteWord writes w for the shell's command line, inside the quote the
// user opened (0: none, then characters that splitWords would split or
// unquote are backslash-escaped). closed ends the quote.
func quoteWord(w string, quote rune, closed bool) string {
	end := func(q string) string {
		if closed {
			return q
		}
		return ""
	}
	switch {
	case quote == '\'' && !strings.ContainsRune(w, '\''):
		return "'" + w + end("'")
	case quote != 0:
		r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
		return `"` + r.Replace(w) + end(`"`)
	}
	var sb strings.Builder
	for _, r := range w {
		if strings.ContainsRune(" \t'\"\\", r) {
			sb.WriteRune('\\')
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// loadHistory returns the last lines of the history file.
func loadHistory(file string) []string {
	if file == "" {
		return nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	return lines[max(len(lines)-maxHistory, 0):]
}

// addHistory appends line to the history (unless it repeats the last one)
// and to the history file.
func addHistory(h []string, line, file string) []string {
	if len(h) > 0 && h[len(h)-1] == line {
		return h
	}
	h = append(h, line)
	if len(h) > maxHistory {
		h = h[len(h)-maxHistory:]
	}
	if file != "" {
		if f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
	}
	return h
}

// splitWords splits a command line into words as a Unix shell does:
// whitespace separates words; '...' quotes literally; "..." quotes with
// backslash escapes (\" \\ \n \t); a backslash outside quotes escapes the
// next character.
func splitWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '\'':
			inWord = true
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j == len(rs) {
				return nil, errors.New("unterminated ' quote")
			}
			cur.WriteString(string(rs[i+1 : j]))
			i = j
		case r == '"':
			inWord = true
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
					switch rs[j] {
					case 'n':
						cur.WriteRune('\n')
					case 't':
						cur.WriteRune('\t')
					default:
						cur.WriteRune(rs[j])
					}
					continue
				}
				cur.WriteRune(rs[j])
			}
			if j == len(rs) {
				return nil, errors.New(`unterminated " quote`)
			}
			i = j
		case r == '\\':
			inWord = true
			if i+1 < len(rs) {
				i++
				cur.WriteRune(rs[i])
			}
		default:
			inWord = true
			cur.WriteRune(r)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
