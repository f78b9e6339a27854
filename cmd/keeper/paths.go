package main

import (
	"fmt"
	"strings"

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
	if err := keeper.ValidatePath(out); err != nil {
		return "", fmt.Errorf("%w (from %q)", err, p)
	}
	return out, nil
}

// badPath returns the error for a malformed path.
func badPath(p, why string) error {
	return fmt.Errorf("%w %q: %s", keeper.ErrInvalidPath, p, why)
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
