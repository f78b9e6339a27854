package zktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
)

// Where Debian's packages put the jars.
const (
	debianZooKeeperJar = "/usr/share/java/zookeeper.jar"
	debianSLF4JSimple  = "/usr/share/java/slf4j-simple.jar"
	debianServletAPI   = "/usr/share/java/servlet-api.jar"
)

const installHint = "run scripts/install-zookeeper (`make test` does it), or set ZOOKEEPER_HOME to an unpacked ZooKeeper release"

// installation is a java binary and the classpath of a ZooKeeper server.
type installation struct {
	java      string
	classpath []string
}

// findInstallation locates java (ZKTEST_JAVA, else java on PATH) and the
// ZooKeeper jars (ZOOKEEPER_HOME, else Debian's layout).
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
		cp, err := releaseClasspath(home)
		if err != nil {
			return nil, err
		}
		inst.classpath = cp
		return inst, nil
	}
	if !exists(debianZooKeeperJar) {
		return nil, fmt.Errorf("zktest: no ZooKeeper found (ZOOKEEPER_HOME is unset and %s is missing); %s", debianZooKeeperJar, installHint)
	}
	// zookeeper.jar's manifest names its dependencies; the extras give the
	// server logs (an SLF4J binding) and let the AdminServer start.
	inst.classpath = []string{debianZooKeeperJar}
	for _, jar := range []string{debianSLF4JSimple, debianServletAPI} {
		if exists(jar) {
			inst.classpath = append(inst.classpath, jar)
		}
	}
	return inst, nil
}

// releaseClasspath lists the jars of an unpacked release: home/*.jar,
// home/lib/*.jar, and home/conf for the logging configuration.
func releaseClasspath(home string) ([]string, error) {
	var cp []string
	for _, pattern := range []string{filepath.Join(home, "*.jar"), filepath.Join(home, "lib", "*.jar")} {
		jars, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("zktest: listing jars of ZOOKEEPER_HOME: %w", err)
		}
		cp = append(cp, jars...)
	}
	found := slices.ContainsFunc(cp, func(jar string) bool {
		ok, _ := filepath.Match("zookeeper-*.jar", filepath.Base(jar))
		return ok
	})
	if !found {
		return nil, fmt.Errorf("zktest: ZOOKEEPER_HOME=%s holds no zookeeper-*.jar (in it or in lib/); %s", home, installHint)
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
