package zktest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a server may take to exit after SIGTERM.
const stopGrace = 5 * time.Second

// member is one server of a Cluster: its files and ports, which stay for its
// lifetime, and its current process.
type member struct {
	index                                           int
	dir, dataDir, cfgPath, logPath                  string
	clientPort, quorumPort, electionPort, adminPort int

	op sync.Mutex // held while starting or stopping the process

	mu   sync.Mutex // guards proc
	proc *process   // the last process started; nil before the first start
}

// process is one run of a member's JVM.
type process struct {
	pid      int
	logStart int64         // the log's size when the process started
	done     chan struct{} // closed once the process has exited and been reaped
	err      error         // how it exited; read after done is closed
}

func (m *member) name() string {
	return fmt.Sprintf("server %d (127.0.0.1:%d)", m.index, m.clientPort)
}

// current returns the last process started, running or not.
func (m *member) current() *process {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc
}

// running returns the process if it has not exited.
func (m *member) running() *process {
	p := m.current()
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return nil
	default:
		return p
	}
}

// start launches the member's JVM, with stdout and stderr appended to its
// log. The caller holds m.op.
func (m *member) start(inst *installation, cfg *config) error {
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	defer logf.Close() // the child has its own copy once started
	st, err := logf.Stat()
	if err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	mainClass := "org.apache.zookeeper.server.ZooKeeperServerMain"
	if cfg.quorum() {
		mainClass = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
	}
	args := []string{
		"-Xms16m", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-XX:-UsePerfData", // no hsperfdata files in the temp dir
		"-Dzookeeper.admin.enableServer=" + strconv.FormatBool(cfg.adminEnabled()),
		"-Dorg.slf4j.simpleLogger.showDateTime=true",
		"-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
	}
	args = append(args, cfg.jvmFlags...)
	args = append(args, "-cp", strings.Join(inst.classpath, ":"), mainClass, m.cfgPath)
	cmd := exec.Command(inst.java, args...)
	cmd.Dir = m.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Its own process group, so that signals reach the whole JVM and the
	// test's terminal signals do not; killed when the test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Pdeathsig fires when the thread that forked exits, not the process:
	// fork from a thread that no locked goroutine can take down with it.
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		return fmt.Errorf("zktest: starting %s: %w", m.name(), err)
	}
	p := &process{pid: cmd.Process.Pid, logStart: st.Size(), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	m.mu.Lock()
	m.proc = p
	m.mu.Unlock()
	return nil
}

// kill sends SIGKILL to the running process, if any, and waits until it has
// exited. The caller holds m.op.
func (m *member) kill() error {
	p := m.running()
	if p == nil {
		return nil
	}
	if err := syscall.Kill(-p.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("zktest: killing %s: %w", m.name(), err)
	}
	<-p.done
	return nil
}

// stop sends SIGTERM to the running process, if any, and waits until it has
// exited, sending SIGKILL after stopGrace. The caller holds m.op.
func (m *member) stop() error {
	p := m.running()
	if p == nil {
		return nil
	}
	if err := syscall.Kill(-p.pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("zktest: stopping %s: %w", m.name(), err)
	}
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return m.kill()
	}
}

// waitMode polls srvr until the reply has a Mode line that accept takes. It
// fails when the process is not running or exits, and when the log says a
// port was taken (wrapping errPortTaken).
func (m *member) waitMode(ctx context.Context, accept func(mode string) bool) (srvrInfo, error) {
	p := m.current()
	if p == nil {
		return srvrInfo{}, fmt.Errorf("zktest: %s is not running", m.name())
	}
	addr := "127.0.0.1:" + strconv.Itoa(m.clientPort)
	lastLogCheck := time.Now()
	var last string // the last srvr reply or error, for the timeout message
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return srvrInfo{}, m.exitError(p)
		case <-ctx.Done():
			return srvrInfo{}, fmt.Errorf("zktest: waiting for %s to serve (last srvr: %s): %w; last lines of its log:\n%s",
				m.name(), strings.TrimSpace(last), ctx.Err(), tail(m.logSince(p), errorLogLines))
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		reply, err := FourLetterWord(pctx, addr, "srvr")
		cancel()
		if err != nil {
			last = err.Error()
		} else {
			last = reply
			if info := parseSrvr(reply); info.mode != "" && accept(info.mode) {
				return info, nil
			}
		}
		if time.Since(lastLogCheck) >= time.Second {
			lastLogCheck = time.Now()
			if out := m.logSince(p); portTaken(out) {
				return srvrInfo{}, fmt.Errorf("zktest: %s: %w; last lines of its log:\n%s",
					m.name(), errPortTaken, tail(out, errorLogLines))
			}
		}
		t.Reset(pollInterval)
	}
}

// exitError describes a process that exited while it was awaited.
func (m *member) exitError(p *process) error {
	out := m.logSince(p)
	if portTaken(out) {
		return fmt.Errorf("zktest: %s exited (%v): %w; last lines of its log:\n%s",
			m.name(), p.err, errPortTaken, tail(out, errorLogLines))
	}
	return fmt.Errorf("zktest: %s exited (%v); last lines of its log:\n%s", m.name(), p.err, tail(out, errorLogLines))
}

// portTaken reports whether a log says the server could not bind a port.
func portTaken(log string) bool {
	return strings.Contains(log, "Address already in use") || strings.Contains(log, "BindException")
}

// log returns the whole log, or "" when it cannot be read.
func (m *member) log() string {
	b, err := os.ReadFile(m.logPath)
	if err != nil {
		return ""
	}
	return string(b)
}

// logSince returns what process p has written to the log.
func (m *member) logSince(p *process) string {
	s := m.log()
	if p.logStart <= int64(len(s)) {
		s = s[p.logStart:]
	}
	return s
}
