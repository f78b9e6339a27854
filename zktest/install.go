package zktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
)

// DefaultVersion is the ZooKeeper release zktest runs when neither
// ZOOKEEPER_HOME nor ZOOKEEPER_VERSION says otherwise.
const DefaultVersion = "3.9.5"

// Debian selects Debian's zookeeper package (3.8.0) as ZOOKEEPER_VERSION.
const Debian = "debian"

// Where Debian's packages put the jars.
const (
	debianZooKeeperJar = "/usr/share/java/zookeeper.jar"
	debianSLF4JSimple  = "/usr/share/java/slf4j-simple.jar"
	debianServletAPI   = "/usr/share/java/servlet-api.jar"
)

const installHint = "run scripts/install-zookeeper (`make test` does it), or set ZOOKEEPER_HOME to an unpacked ZooKeeper release"

// releaseNumber is what ZOOKEEPER_VERSION names when it names a release.
var releaseNumber = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

// installation is a java binary and the classpath of a ZooKeeper server.
type installation struct {
	java      string
	classpath []string
	want      string // the release asked for ("3.9.5"); "" when not known
	where     string // where the jars were found, for messages
}

// CacheDir returns the directory scripts/install-zookeeper fills and zktest
// reads: $KEEPER_CACHE, else keeper under the user's cache directory
// ($XDG_CACHE_HOME, else ~/.cache). Server releases are in its
// zookeeper/VERSION subdirectories, each with its jars in lib.
func CacheDir() (string, error) {
	if dir := os.Getenv("KEEPER_CACHE"); dir != "" {
		return dir, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("zktest: no cache directory (set KEEPER_CACHE): %w", err)
	}
	return filepath.Join(dir, "keeper"), nil
}

// SelectedVersion returns the server release the environment selects: "" when
// ZOOKEEPER_HOME names an installation (its release is known once it runs,
// from [Cluster.Version]), [Debian] for Debian's package, else
// ZOOKEEPER_VERSION or [DefaultVersion].
func SelectedVersion() string {
	if os.Getenv("ZOOKEEPER_HOME") != "" {
		return ""
	}
	if v := os.Getenv("ZOOKEEPER_VERSION"); v != "" {
		return v
	}
	return DefaultVersion
}

// findInstallation locates java (ZKTEST_JAVA, else java on PATH) and the
// ZooKeeper jars: ZOOKEEPER_HOME, else the release ZOOKEEPER_VERSION names
// (default DefaultVersion) in the cache, or Debian's package for "debian".
func findInstallation() (*installation, error) {
	inst := &installation{}
	if java := os.Getenv("ZKTEST_JAVA"); java != "" {
		inst.java = java
	} else {
		java, err := exec.LookPath("java")
		if err != nil {
			return nil, fmt.Errorf("zktest: no java on PATH (set ZKTEST_JAVA to name one); %s: %w", installHint, err)
		}
		inst.java = java
	}
	if home := os.Getenv("ZOOKEEPER_HOME"); home != "" {
		cp, err := releaseClasspath(home, "ZOOKEEPER_HOME="+home)
		if err != nil {
			return nil, err
		}
		inst.classpath, inst.where = cp, "ZOOKEEPER_HOME="+home
		return inst, nil
	}
	v := SelectedVersion()
	if v == Debian {
		return debianInstallation(inst)
	}
	if !releaseNumber.MatchString(v) {
		return nil, fmt.Errorf("zktest: ZOOKEEPER_VERSION=%q: want a release number such as %s, or %q", v, DefaultVersion, Debian)
	}
	cache, err := CacheDir()
	if err != nil {
		return nil, err
	}
	home := filepath.Join(cache, "zookeeper", v)
	hint := fmt.Sprintf("run `ZOOKEEPER_VERSION=%s bash scripts/install-zookeeper` (`make test` does it for the versions it tests), set ZOOKEEPER_VERSION=%s for Debian's package, or ZOOKEEPER_HOME to an unpacked release", v, Debian)
	if !exists(home) {
		return nil, fmt.Errorf("zktest: ZooKeeper %s is not installed in %s; %s", v, home, hint)
	}
	cp, err := releaseClasspath(home, "ZooKeeper "+v+" in "+home)
	if err != nil {
		return nil, fmt.Errorf("%w; %s", err, hint)
	}
	inst.classpath, inst.want, inst.where = cp, v, home
	return inst, nil
}

// debianInstallation is Debian's zookeeper package.
func debianInstallation(inst *installation) (*installation, error) {
	if !exists(debianZooKeeperJar) {
		return nil, fmt.Errorf("zktest: ZOOKEEPER_VERSION=%s but %s is missing; %s", Debian, debianZooKeeperJar, installHint)
	}
	// zookeeper.jar's manifest names its dependencies; the extras give the
	// server logs (an SLF4J binding) and let the AdminServer start.
	inst.classpath = []string{debianZooKeeperJar}
	for _, jar := range []string{debianSLF4JSimple, debianServletAPI} {
		if exists(jar) {
			inst.classpath = append(inst.classpath, jar)
		}
	}
	inst.where = "Debian's package (" + debianZooKeeperJar + ")"
	return inst, nil
}

// releaseClasspath lists the jars of an unpacked release: home/*.jar,
// home/lib/*.jar, and home/conf for the logging configuration. what names
// the installation in errors.
func releaseClasspath(home, what string) ([]string, error) {
	var cp []string
	for _, pattern := range []string{filepath.Join(home, "*.jar"), filepath.Join(home, "lib", "*.jar")} {
		jars, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("zktest: listing jars of %s: %w", what, err)
		}
		cp = append(cp, jars...)
	}
	found := slices.ContainsFunc(cp, func(jar string) bool {
		ok, _ := filepath.Match("zookeeper-*.jar", filepath.Base(jar))
		return ok
	})
	if !found {
		return nil, fmt.Errorf("zktest: %s holds no zookeeper-*.jar (in it or in lib/); %s", what, installHint)
	}
	if conf := filepath.Join(home, "conf"); exists(conf) {
		cp = append(cp, conf)
	}
	return cp, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
