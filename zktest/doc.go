// Package zktest runs real ZooKeeper servers for tests, and a TCP proxy that
// injects faults between a client and a server.
//
// [New] starts a standalone server, or with [Nodes] an ensemble, on free
// loopback ports, each in its own temporary directory, and returns once every
// server serves. [Start] does the same for one test and stops the servers at
// its cleanup, first printing their logs when the test failed:
//
//	func TestSomething(t *testing.T) {
//		zk := zktest.Start(t, zktest.Nodes(3))
//		// connect to zk.Servers() ...
//		if err := zk.Kill(zk.Leader()); err != nil {
//			t.Fatal(err)
//		}
//	}
//
// A TestMain that shares one server between tests uses New and Close:
//
//	zk, err := zktest.New()
//	if err != nil { ... }
//	code := m.Run()
//	zk.Close()
//
// The servers are Java processes. zktest finds ZooKeeper through the
// ZOOKEEPER_HOME environment variable (an unpacked release: jars in it and in
// its lib directory), else through ZOOKEEPER_VERSION: a release number
// (default [DefaultVersion]) installed in [CacheDir] by
// scripts/install-zookeeper, which resolves releases from the Maven registry,
// or [Debian] for Debian's package (/usr/share/java/zookeeper.jar, 3.8.0).
// It finds java through ZKTEST_JAVA or else PATH. `make test` runs the install
// script for the versions it tests. [Cluster.Version] reports the release the
// servers run, and a failed test's log names it. Each server runs in its own
// process group and is killed when the test binary dies, so a crashed test
// leaves no JVM behind.
//
// A [Proxy] forwards TCP connections to a server and can stall them
// ([Proxy.Pause]), cut them ([Proxy.Drop]), slow them ([Proxy.Delay]), lose
// a reply and then the connection ([Proxy.DropNextReply]), or show every
// frame ([Proxy.Tap]).
//
// Concurrency: the methods of [Cluster] and [Proxy] are safe for concurrent
// use. Operations on one member of a cluster run one at a time.
package zktest
