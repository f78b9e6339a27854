package wire

import "strconv"

var opNames = map[OpCode]string{
	OpNotification:         "notification",
	OpCreate:               "create",
	OpDelete:               "delete",
	OpExists:               "exists",
	OpGetData:              "getData",
	OpSetData:              "setData",
	OpGetACL:               "getACL",
	OpSetACL:               "setACL",
	OpGetChildren:          "getChildren",
	OpSync:                 "sync",
	OpPing:                 "ping",
	OpGetChildren2:         "getChildren2",
	OpCheck:                "check",
	OpMulti:                "multi",
	OpCreate2:              "create2",
	OpReconfig:             "reconfig",
	OpCheckWatches:         "checkWatches",
	OpRemoveWatches:        "removeWatches",
	OpCreateContainer:      "createContainer",
	OpDeleteContainer:      "deleteContainer",
	OpCreateTTL:            "createTTL",
	OpMultiRead:            "multiRead",
	OpAuth:                 "auth",
	OpSetWatches:           "setWatches",
	OpSASL:                 "sasl",
	OpGetEphemerals:        "getEphemerals",
	OpGetAllChildrenNumber: "getAllChildrenNumber",
	OpSetWatches2:          "setWatches2",
	OpAddWatch:             "addWatch",
	OpWhoAmI:               "whoAmI",
	OpCreateSession:        "createSession",
	OpCloseSession:         "closeSession",
	OpError:                "error",
}

// String returns the Java name of op ("create", "getData", ...), or
// "OpCode(n)" for an unknown op.
func (op OpCode) String() string {
	if s, ok := opNames[op]; ok {
		return s
	}
	return "OpCode(" + strconv.Itoa(int(op)) + ")"
}

type errInfo struct{ name, msg string }

var errInfos = map[ErrCode]errInfo{
	ErrOK:                           {"OK", "ok"},
	ErrSystemError:                  {"SystemError", "system error"},
	ErrRuntimeInconsistency:         {"RuntimeInconsistency", "rolled back: an earlier operation of the transaction failed"},
	ErrDataInconsistency:            {"DataInconsistency", "data inconsistency"},
	ErrConnectionLoss:               {"ConnectionLoss", "connection lost: outcome unknown"},
	ErrMarshallingError:             {"MarshallingError", "marshalling error"},
	ErrUnimplemented:                {"Unimplemented", "not implemented by the server"},
	ErrOperationTimeout:             {"OperationTimeout", "operation timed out"},
	ErrBadArguments:                 {"BadArguments", "bad arguments"},
	ErrUnknownSession:               {"UnknownSession", "unknown session"},
	ErrNewConfigNoQuorum:            {"NewConfigNoQuorum", "new configuration has no quorum"},
	ErrReconfigInProgress:           {"ReconfigInProgress", "reconfiguration in progress"},
	ErrAPIError:                     {"APIError", "api error"},
	ErrNoNode:                       {"NoNode", "node does not exist"},
	ErrNoAuth:                       {"NoAuth", "not authorized"},
	ErrBadVersion:                   {"BadVersion", "bad version"},
	ErrNoChildrenForEphemerals:      {"NoChildrenForEphemerals", "ephemeral nodes may not have children"},
	ErrNodeExists:                   {"NodeExists", "node already exists"},
	ErrNotEmpty:                     {"NotEmpty", "node has children"},
	ErrSessionExpired:               {"SessionExpired", "session expired"},
	ErrInvalidCallback:              {"InvalidCallback", "invalid callback"},
	ErrInvalidACL:                   {"InvalidACL", "invalid acl"},
	ErrAuthFailed:                   {"AuthFailed", "authentication failed"},
	ErrSessionMoved:                 {"SessionMoved", "session moved to another server"},
	ErrNotReadOnly:                  {"NotReadOnly", "not allowed on a read-only server"},
	ErrEphemeralOnLocalSession:      {"EphemeralOnLocalSession", "ephemeral node on a local session"},
	ErrNoWatcher:                    {"NoWatcher", "no such watcher"},
	ErrRequestTimeout:               {"RequestTimeout", "request timed out"},
	ErrReconfigDisabled:             {"ReconfigDisabled", "reconfig is disabled"},
	ErrSessionClosedRequireSASLAuth: {"SessionClosedRequireSASLAuth", "session closed: sasl authentication required"},
	ErrQuotaExceeded:                {"QuotaExceeded", "quota exceeded"},
	ErrThrottledOp:                  {"ThrottledOp", "operation throttled by the server"},
}

// String returns the Java name of c ("NoNode", "BadVersion", ...), or
// "ErrCode(n)" for an unknown code.
func (c ErrCode) String() string {
	if e, ok := errInfos[c]; ok {
		return e.name
	}
	return "ErrCode(" + strconv.Itoa(int(c)) + ")"
}

// Message returns a lowercase description of c for error messages ("node
// does not exist"), or "unknown error n" for an unknown code.
func (c ErrCode) Message() string {
	if e, ok := errInfos[c]; ok {
		return e.msg
	}
	return "unknown error " + strconv.Itoa(int(c))
}

var eventNames = map[EventType]string{
	EventNone:                   "None",
	EventNodeCreated:            "NodeCreated",
	EventNodeDeleted:            "NodeDeleted",
	EventNodeDataChanged:        "NodeDataChanged",
	EventNodeChildrenChanged:    "NodeChildrenChanged",
	EventDataWatchRemoved:       "DataWatchRemoved",
	EventChildWatchRemoved:      "ChildWatchRemoved",
	EventPersistentWatchRemoved: "PersistentWatchRemoved",
}

// String returns the Java name of t ("NodeCreated", ...), or
// "EventType(n)" for an unknown type.
func (t EventType) String() string {
	if s, ok := eventNames[t]; ok {
		return s
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

var stateNames = map[KeeperState]string{
	StateUnknown:           "Unknown",
	StateDisconnected:      "Disconnected",
	StateNoSyncConnected:   "NoSyncConnected",
	StateSyncConnected:     "SyncConnected",
	StateAuthFailed:        "AuthFailed",
	StateConnectedReadOnly: "ConnectedReadOnly",
	StateSaslAuthenticated: "SaslAuthenticated",
	StateExpired:           "Expired",
	StateClosed:            "Closed",
}

// String returns the Java name of s ("SyncConnected", ...), or
// "KeeperState(n)" for an unknown state.
func (s KeeperState) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return "KeeperState(" + strconv.Itoa(int(s)) + ")"
}

// Known reports whether c is one of the codes in this package's table.
func (c ErrCode) Known() bool {
	_, ok := errInfos[c]
	return ok
}

// Known reports whether t is one of ZooKeeper's event types.
func (t EventType) Known() bool {
	_, ok := eventNames[t]
	return ok
}

// Known reports whether s is one of ZooKeeper's keeper states.
func (s KeeperState) Known() bool {
	_, ok := stateNames[s]
	return ok
}
