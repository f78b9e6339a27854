package keeper

import (
	"strconv"
	"time"

	"github.com/keeper-go/keeper/internal/wire"
)

// Stat is a znode's metadata as the server reports it.
type Stat struct {
	Czxid          int64 // zxid of the create
	Mzxid          int64 // zxid of the last data change
	Ctime          int64 // creation time, ms since the epoch (server clock)
	Mtime          int64 // last modification time, ms since the epoch (server clock)
	Version        int32 // data version
	Cversion       int32 // children version
	Aversion       int32 // ACL version
	EphemeralOwner int64 // session id of an ephemeral node's owner, else 0
	DataLength     int32
	NumChildren    int32
	Pzxid          int64 // zxid of the last change to the children
}

// Created returns the creation time on the server's clock.
func (s *Stat) Created() time.Time { return time.UnixMilli(s.Ctime) }

// Modified returns the last modification time on the server's clock.
func (s *Stat) Modified() time.Time { return time.UnixMilli(s.Mtime) }

// Perm is a set of ACL permission bits.
type Perm int32

// Permission bits.
const (
	PermRead   Perm = 1
	PermWrite  Perm = 2
	PermCreate Perm = 4
	PermDelete Perm = 8
	PermAdmin  Perm = 16
	PermAll    Perm = 31
)

// String returns the permissions as zkCli prints them ("cdrwa").
func (p Perm) String() string {
	b := make([]byte, 0, 5)
	for _, x := range []struct {
		bit Perm
		c   byte
	}{{PermCreate, 'c'}, {PermDelete, 'd'}, {PermRead, 'r'}, {PermWrite, 'w'}, {PermAdmin, 'a'}} {
		if p&x.bit != 0 {
			b = append(b, x.c)
		}
	}
	if rest := p &^ PermAll; rest != 0 {
		b = append(b, '+')
		b = strconv.AppendInt(b, int64(rest), 10)
	}
	return string(b)
}

// ACL grants Perms to the identity ID of Scheme ("world" "anyone", "digest"
// "user:hash", "ip" "10.0.0.0/8", "auth" "", "sasl" "user", "x509" "CN=...").
type ACL struct {
	Perms  Perm
	Scheme string
	ID     string
}

// EventType is the kind of a watch event.
type EventType int32

// Event types. The first eight are ZooKeeper's (internal/wire defines
// them); EventResync and EventNotWatching are Keeper's own.
const (
	EventNone                   EventType = EventType(wire.EventNone)
	EventNodeCreated            EventType = EventType(wire.EventNodeCreated)
	EventNodeDeleted            EventType = EventType(wire.EventNodeDeleted)
	EventNodeDataChanged        EventType = EventType(wire.EventNodeDataChanged)
	EventNodeChildrenChanged    EventType = EventType(wire.EventNodeChildrenChanged)
	EventDataWatchRemoved       EventType = EventType(wire.EventDataWatchRemoved)
	EventChildWatchRemoved      EventType = EventType(wire.EventChildWatchRemoved)
	EventPersistentWatchRemoved EventType = EventType(wire.EventPersistentWatchRemoved)

	// EventResync tells a persistent watcher that it was re-armed after a
	// reconnect or on a new session: changes made meanwhile were not
	// reported, so the consumer should re-read what it watches. Err says
	// why (nil after a reconnect, ErrSessionExpired on a new session).
	EventResync EventType = 100
	// EventNotWatching ends a one-shot watch that can no longer fire:
	// its session was lost (Err matches ErrSessionExpired) or the client
	// was closed (ErrClosed).
	EventNotWatching EventType = 101
)

// String returns the event type's name ("NodeCreated").
func (t EventType) String() string {
	switch {
	case wire.EventType(t).Known():
		return wire.EventType(t).String()
	case t == EventResync:
		return "Resync"
	case t == EventNotWatching:
		return "NotWatching"
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// Event is a watch notification. Path is relative to the client's chroot.
type Event struct {
	Type EventType
	Path string
	// Zxid of the change that fired the event, when the server says
	// (ZooKeeper 3.9+); else -1.
	Zxid int64
	// Err is set for EventNotWatching and EventResync events.
	Err error
}

// State is the client's connection state, as Kazoo names them.
type State int32

// Connection states.
const (
	// Connecting: no session has been established yet.
	Connecting State = iota
	// Connected: a read-write session is established.
	Connected
	// ConnectedReadOnly: connected to a read-only server (WithReadOnly).
	ConnectedReadOnly
	// Suspended: the connection dropped; the session may still be alive
	// and the client is reconnecting.
	Suspended
	// Lost: the session is gone for good (expired, confirmed by the server
	// or presumed by the client). A new session follows unless
	// WithNoAutoResession was given.
	Lost
	// Closed: Close was called. Final.
	Closed
)

var stateNames = [...]string{"Connecting", "Connected", "ConnectedReadOnly", "Suspended", "Lost", "Closed"}

// String returns the state's name.
func (s State) String() string {
	if int(s) >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// KeeperState is ZooKeeper's own session state, as the Java client's
// Watcher.Event.KeeperState reports it.
type KeeperState int32

// ZooKeeper keeper states, as internal/wire defines them.
const (
	KeeperDisconnected      KeeperState = KeeperState(wire.StateDisconnected)
	KeeperSyncConnected     KeeperState = KeeperState(wire.StateSyncConnected)
	KeeperAuthFailed        KeeperState = KeeperState(wire.StateAuthFailed)
	KeeperConnectedReadOnly KeeperState = KeeperState(wire.StateConnectedReadOnly)
	KeeperSaslAuthenticated KeeperState = KeeperState(wire.StateSaslAuthenticated)
	KeeperExpired           KeeperState = KeeperState(wire.StateExpired)
	KeeperClosed            KeeperState = KeeperState(wire.StateClosed)
)

// String returns ZooKeeper's name of the state.
func (s KeeperState) String() string {
	if wire.KeeperState(s).Known() {
		return wire.KeeperState(s).String()
	}
	return "KeeperState(" + strconv.Itoa(int(s)) + ")"
}

// StateEvent reports a change of the client's connection state.
type StateEvent struct {
	State State
	// Keeper is ZooKeeper's view of the same change (SyncConnected,
	// Disconnected, Expired, AuthFailed, ...).
	Keeper KeeperState
	// SessionID is the session the event concerns: the new session for
	// Connected, the lost one for Lost.
	SessionID int64
	// Server is the address connected to, for Connected states.
	Server string
	// Err says why, for Suspended, Lost and AuthFailed events.
	Err error
}

// String describes the event on one line: "NodeDataChanged /app/config",
// with " zxid 0x1a" when the server gave the zxid and ": " and the error for
// NotWatching and Resync events.
func (e Event) String() string {
	s := e.Type.String() + " " + e.Path
	if e.Zxid > 0 {
		s += " zxid 0x" + strconv.FormatInt(e.Zxid, 16)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// String describes the state change on one line: "Connected (SyncConnected)
// session 0x1000a2b3c4d0000 server 127.0.0.1:2181", with ": " and the error
// for Suspended, Lost and AuthFailed events.
func (e StateEvent) String() string {
	s := e.State.String() + " (" + e.Keeper.String() + ")"
	if e.SessionID != 0 {
		s += " session 0x" + strconv.FormatUint(uint64(e.SessionID), 16)
	}
	if e.Server != "" {
		s += " server " + e.Server
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}
