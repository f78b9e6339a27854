package keeper

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// validatePath checks p with ZooKeeper's rules (PathUtils.validatePath): it
// starts with "/", has no empty, "." or ".." component, no trailing "/"
// (except "/" itself, or before the server's suffix of a sequential create),
// and none of the characters the server rejects.
func validatePath(p string, sequential bool) error {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidPath, p, why)
	}
	if p == "" {
		return bad("empty")
	}
	if p[0] != '/' {
		return bad("must start with /")
	}
	if len(p) == 1 {
		if sequential {
			return nil
		}
		return nil
	}
	if p[len(p)-1] == '/' && !sequential {
		return bad("must not end with /")
	}
	if !utf8.ValidString(p) {
		return bad("not valid UTF-8")
	}
	body := p[1:]
	if sequential && strings.HasSuffix(body, "/") {
		body = body[:len(body)-1]
	}
	for body != "" || strings.HasSuffix(p, "//") {
		comp := body
		if i := strings.IndexByte(body, '/'); i >= 0 {
			comp, body = body[:i], body[i+1:]
			if body == "" {
				return bad("empty component (//)")
			}
		} else {
			body = ""
		}
		switch comp {
		case "":
			return bad("empty component (//)")
		case ".", "..":
			return bad("relative component " + comp)
		}
	}
	for _, r := range p {
		switch {
		case r == 0:
			return bad("contains NUL")
		case r > 0 && r < 0x1f, r > 0x7f && r < 0x9f, r == 0x7f:
			return bad(fmt.Sprintf("contains control character %U", r))
		case r >= 0xd800 && r <= 0xf8ff, r >= 0xfff0 && r <= 0xffff:
			return bad(fmt.Sprintf("contains character %U", r))
		}
	}
	return nil
}

// chroot maps between the client's paths and the server's.
type chroot string

// add prefixes a client path with the chroot.
func (c chroot) add(p string) string {
	if c == "" {
		return p
	}
	if p == "/" {
		return string(c)
	}
	return string(c) + p
}

// strip removes the chroot from a server path. A path outside the chroot
// (such as /zookeeper/config) is returned unchanged; the check respects the
// "/" boundary, so chroot /a never turns /ab/c into b/c.
func (c chroot) strip(p string) string {
	if c == "" {
		return p
	}
	if p == string(c) {
		return "/"
	}
	if strings.HasPrefix(p, string(c)) && len(p) > len(c) && p[len(c)] == '/' {
		return p[len(c):]
	}
	return p
}

// within maps a server path to the client's, reporting false for a path
// outside the chroot (with the "/" boundary: chroot /app holds /app and
// /app/x, not /application).
func (c chroot) within(p string) (string, bool) {
	if c == "" {
		return p, true
	}
	if p == string(c) {
		return "/", true
	}
	if len(p) > len(c) && p[len(c)] == '/' && p[:len(c)] == string(c) {
		return p[len(c):], true
	}
	return "", false
}

// parentPath returns the parent of an absolute path ("/" for top-level nodes).
func parentPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// JoinPath joins a parent path and a child name: JoinPath("/a", "b") is
// "/a/b" and JoinPath("/", "b") is "/b".
func JoinPath(parent, child string) string {
	if parent == "/" || parent == "" {
		return "/" + child
	}
	return parent + "/" + child
}

// ValidatePath checks p with the rules the server applies to a znode path:
// it starts with "/", has no empty, "." or ".." component, does not end with
// "/" (except "/" itself) and holds none of the characters ZooKeeper
// rejects. The error wraps ErrInvalidPath and names the path and the reason.
// Every operation of Client checks its path this way before sending it; use
// path.Dir and path.Base from the standard library to take a valid path
// apart.
func ValidatePath(p string) error { return validatePath(p, false) }

// ValidateSequentialPath is ValidatePath for the path given to a sequential
// create, which may end with "/" (the server appends the sequence number).
func ValidateSequentialPath(p string) error { return validatePath(p, true) }
