package zktest

import (
	"fmt"
	"strings"
)

// Option configures a [Cluster] started by [New] or [Start].
type Option func(*config)

// config is what the options build; defaultConfig gives its starting point.
type config struct {
	nodes     int
	settings  []setting // zoo.cfg lines in the order they are written
	jvmFlags  []string
	classpath []string
	port      int     // ClientPort: member i listens on port+i; 0 for free ports
	errs      []error // misuse recorded by the options, reported by validate
}

// setting is one zoo.cfg line.
type setting struct{ key, value string }

// maxNodes bounds Nodes: server ids must stay below 255 when extended types
// (TTL nodes) are enabled, and a test machine runs far fewer JVMs anyway.
const maxNodes = 15

// reservedKeys are the zoo.cfg keys that zktest computes per member.
var reservedKeys = map[string]bool{
	"dataDir":           true,
	"clientPort":        true,
	"clientPortAddress": true,
}

func defaultConfig() *config {
	return &config{
		nodes: 1,
		settings: []setting{
			{"tickTime", "500"},
			{"initLimit", "10"},
			{"syncLimit", "5"},
			{"admin.enableServer", "false"},
			{"4lw.commands.whitelist", "*"},
			{"extendedTypesEnabled", "true"},
			{"maxClientCnxns", "0"},
			{"forceSync", "no"},
		},
	}
}

// Nodes sets the number of servers, overriding the default 1. One server runs
// standalone (ZooKeeperServerMain) unless Config("standaloneEnabled", "false")
// is given; more run as a quorum (QuorumPeerMain), with ids 1..n. Valid range:
// 1 to 15.
func Nodes(n int) Option {
	return func(c *config) { c.nodes = n }
}

// ClientPort makes member i listen for clients on port+i instead of a free
// port (the keeper sandbox's --port). A port already in use is then an error
// at once rather than a reason to try other ports. Valid range: 1 to 65535
// for every member's port.
func ClientPort(port int) Option {
	return func(c *config) {
		if port < 1 || port > 65535 {
			c.errs = append(c.errs, fmt.Errorf("zktest: ClientPort(%d): not a port", port))
			return
		}
		c.port = port
	}
}

// Config sets a zoo.cfg line for every server, overriding zktest's default
// for key if it has one. The defaults are tickTime=500 (so sessions may last
// 1s to 10s; raise maxSessionTimeout for longer ones), initLimit=10,
// syncLimit=5, admin.enableServer=false, 4lw.commands.whitelist=*,
// extendedTypesEnabled=true, maxClientCnxns=0 (no limit) and forceSync=no
// (no fsync: faster, and a killed server keeps its data; only a machine crash
// loses writes). With admin.enableServer=true, each server gets a free
// admin.serverPort unless one is given. dataDir, clientPort,
// clientPortAddress and server.N are set by zktest and cannot be given.
func Config(key, value string) Option {
	return func(c *config) {
		switch {
		case key == "" || strings.ContainsAny(key, "=\n\r \t"):
			c.errs = append(c.errs, fmt.Errorf("zktest: Config(%q, %q): bad key", key, value))
			return
		case strings.ContainsAny(value, "\n\r"):
			c.errs = append(c.errs, fmt.Errorf("zktest: Config(%q, %q): value holds a line break", key, value))
			return
		case reservedKeys[key] || strings.HasPrefix(key, "server."):
			c.errs = append(c.errs, fmt.Errorf("zktest: Config(%q, %q): key is set by zktest", key, value))
			return
		}
		for i := range c.settings {
			if c.settings[i].key == key {
				c.settings[i].value = value
				return
			}
		}
		c.settings = append(c.settings, setting{key, value})
	}
}

// JVMFlag adds a flag to every server's java command line, after zktest's
// own (-Xms16m -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
// -XX:-UsePerfData), so it can override them. Use it for system properties
// that zoo.cfg cannot set, such as "-Dreadonlymode.enabled=true" or
// "-Djute.maxbuffer=...". A flag must start with "-".
func JVMFlag(flag string) Option {
	return func(c *config) {
		if !strings.HasPrefix(flag, "-") {
			c.errs = append(c.errs, fmt.Errorf("zktest: JVMFlag(%q): a flag starts with -", flag))
			return
		}
		c.jvmFlags = append(c.jvmFlags, flag)
	}
}

// Classpath adds a jar (or directory) to every server's classpath, after the
// ZooKeeper jars. A TLS server on Debian needs netty-codec.jar,
// netty-resolver.jar and netty-transport-native-unix-common.jar from
// /usr/share/java, for example.
func Classpath(jar string) Option {
	return func(c *config) {
		if jar == "" || strings.Contains(jar, ":") {
			c.errs = append(c.errs, fmt.Errorf("zktest: Classpath(%q): want one path", jar))
			return
		}
		c.classpath = append(c.classpath, jar)
	}
}

// validate reports the first misuse of an option.
func (c *config) validate() error {
	if c.nodes < 1 || c.nodes > maxNodes {
		return fmt.Errorf("zktest: Nodes(%d): want 1 to %d", c.nodes, maxNodes)
	}
	if len(c.errs) > 0 {
		return c.errs[0]
	}
	if c.port > 0 && c.port+c.nodes-1 > 65535 {
		return fmt.Errorf("zktest: ClientPort(%d): %d servers need ports up to %d", c.port, c.nodes, c.port+c.nodes-1)
	}
	return nil
}

// get returns the value of a zoo.cfg setting, or "" when it is not set.
func (c *config) get(key string) string {
	for _, s := range c.settings {
		if s.key == key {
			return s.value
		}
	}
	return ""
}

// quorum reports whether the servers run as QuorumPeerMain.
func (c *config) quorum() bool {
	return c.nodes > 1 || c.get("standaloneEnabled") == "false"
}

// adminEnabled reports whether the AdminServer is asked for.
func (c *config) adminEnabled() bool {
	return c.get("admin.enableServer") == "true"
}
