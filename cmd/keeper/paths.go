package main

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/keeper-go/keeper"
)

// resolve returns the absolute znode path of p, relative to the current
// directory cwd when it does not start with "/". "." and ".." components are
// resolved (".." of "/" is "/"), a trailing "/" is dropped. A path that
// ZooKeeper would reject (an empty component, control characters, ...) is a
// usage error that wraps keeper.ErrInvalidPath.
func resolve(cwd, p string) (string, error) {
	if p == "" {
		return cwd, nil
	}
	full := p
	if !strings.HasPrefix(p, "/") {
		full = strings.TrimSuffix(cwd, "/") + "/" + p
	}
	body := strings.TrimSuffix(full[1:], "/")
	var parts []string
	if body != "" {
		for _, comp := range strings.Split(body, "/") {
			switch comp {
			case "":
				return "", badPath(p, "empty component (//)")
			case ".":
			case "..":
				if len(parts) > 0 {
					parts = parts[:len(parts)-1]
				}
			default:
				parts = append(parts, comp)
			}
		}
	}
	out := "/" + strings.Join(parts, "/")
	if err := checkChars(p, out); err != nil {
		return "", err
	}
	return out, nil
}

// badPath returns the error for a malformed path.
func badPath(p, why string) error {
	return fmt.Errorf("%w %q: %s", keeper.ErrInvalidPath, p, why)
}

// checkChars rejects the characters ZooKeeper does not allow in a path.
func checkChars(orig, p string) error {
	if !utf8.ValidString(p) {
		return badPath(orig, "not valid UTF-8")
	}
	for _, r := range p {
		switch {
		case r == 0:
			return badPath(orig, "contains NUL")
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			return badPath(orig, fmt.Sprintf("contains control character %U", r))
		case (r >= 0xd800 && r <= 0xf8ff) || (r >= 0xfff0 && r <= 0xffff):
			return badPath(orig, fmt.Sprintf("contains character %U", r))
		}
	}
	return nil
}

// parentOf returns the parent of an absolute path ("/" for "/").
func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// baseOf returns the last component of an absolute path ("/" for "/").
func baseOf(p string) string {
	if p == "/" {
		return "/"
	}
	return p[strings.LastIndexByte(p, '/')+1:]
}

// relTo returns p relative to root as a path starting with "/" ("/" for root
// itself): relTo("/a", "/a/b") is "/b".
func relTo(root, p string) string {
	if root == "/" {
		return p
	}
	if p == root {
		return "/"
	}
	return strings.TrimPrefix(p, root)
}

// under joins root and a path relative to it (as relTo returns).
func under(root, rel string) string {
	switch {
	case rel == "/":
		return root
	case root == "/":
		return rel
	default:
		return root + rel
	}
}

// within reports whether p is root or below it.
func within(root, p string) bool {
	return root == "/" || p == root || strings.HasPrefix(p, root+"/")
}
