// Package webtest holds the end-to-end tests of keeper web: they build the
// keeper command, start its web server against a real ZooKeeper (zktest)
// and drive a headless Chromium through the page with chromedp. They live
// in a module of their own so that chromedp stays out of the library's and
// the command's go.mod. Without /usr/bin/chromium (or $CHROMIUM) they are
// skipped; make test installs it.
package webtest
