package keeper

import (
	"crypto/sha1"
	"encoding/base64"
)

// OpenACL returns ZooKeeper's OPEN_ACL_UNSAFE: everything for anyone.
func OpenACL() []ACL { return []ACL{{Perms: PermAll, Scheme: "world", ID: "anyone"}} }

// ReadACL returns ZooKeeper's READ_ACL_UNSAFE: read for anyone.
func ReadACL() []ACL { return []ACL{{Perms: PermRead, Scheme: "world", ID: "anyone"}} }

// CreatorAll returns ZooKeeper's CREATOR_ALL_ACL: everything for the
// identities the creating session authenticated as (the server rejects it
// with ErrInvalidACL when the session has none).
func CreatorAll() []ACL { return []ACL{{Perms: PermAll, Scheme: "auth", ID: ""}} }

// DigestACL returns an ACL granting perms to the digest user with that
// password: its id is "user:" + base64(sha1("user:password")), as the
// server computes it for AddAuth(ctx, "digest", "user:password").
func DigestACL(perms Perm, user, password string) ACL {
	return ACL{Perms: perms, Scheme: "digest", ID: user + ":" + DigestHash(user, password)}
}

// DigestHash returns base64(sha1(user:password)), the form in which the
// server stores digest credentials.
func DigestHash(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return base64.StdEncoding.EncodeToString(sum[:])
}
