package wire

// sample is one record value used by the round-trip tests, the benchmarks
// and the fuzz seed corpus.
type sample struct {
	name string
	rec  Record
}

var testStat = Stat{
	Czxid: 0x100000002, Mzxid: 0x100000007, Ctime: 1700000000123, Mtime: 1700000000456,
	Version: 3, Cversion: -2, Aversion: 1, EphemeralOwner: 0x1000abcdef01234,
	DataLength: 5, NumChildren: 2, Pzxid: 0x100000009,
}

var openACL = []ACL{{Perms: PermAll, ID: ID{Scheme: "world", ID: "anyone"}}}

func statPtr() *Stat { s := testStat; return &s }

// requestSamples holds at least one value of every request record.
func requestSamples() []sample {
	return []sample{
		{"connect", &ConnectRequest{LastZxidSeen: 0x10000002a, Timeout: 10000, SessionID: 0x1234, Passwd: make([]byte, 16)}},
		{"connect/readonly", &ConnectRequest{Timeout: 4000, Passwd: []byte{1, 2}, ReadOnly: true}},
		{"connect/no-readonly-byte", &ConnectRequest{Timeout: 4000, Passwd: []byte{}, NoReadOnlyByte: true}},
		{"connect/null-passwd", &ConnectRequest{ProtocolVersion: 0, Timeout: 1, Passwd: nil}},
		{"request-header", &RequestHeader{Xid: 7, Op: OpGetData}},
		{"request-header/ping", &RequestHeader{Xid: XidPing, Op: OpPing}},
		{"create", &CreateRequest{Path: "/a/b", Data: []byte("hello"), ACL: openACL, Flags: ModeEphemeralSequential}},
		{"create/null-data", &CreateRequest{Path: "/a", Data: nil, ACL: openACL}},
		{"create/empty-data", &CreateRequest{Path: "/a", Data: []byte{}, ACL: []ACL{}}},
		{"create/null-acl", &CreateRequest{Path: "/a", Data: []byte("x"), ACL: nil}},
		{"create/many-acl", &CreateRequest{Path: "/ü", Data: []byte{0, 255}, ACL: []ACL{
			{Perms: PermRead, ID: ID{Scheme: "world", ID: "anyone"}},
			{Perms: PermAll, ID: ID{Scheme: "digest", ID: "bob:hash="}},
			{Perms: PermAdmin, ID: ID{Scheme: "", ID: ""}},
		}, Flags: ModeContainer}},
		{"create-ttl", &CreateTTLRequest{Path: "/t", Data: []byte("d"), ACL: openACL, Flags: ModePersistentWithTTL, TTL: 60000}},
		{"delete", &DeleteRequest{Path: "/a", Version: -1}},
		{"exists", &ExistsRequest{Path: "/a", Watch: true}},
		{"exists/no-watch", &ExistsRequest{Path: "", Watch: false}},
		{"get-data", &GetDataRequest{Path: "/a", Watch: true}},
		{"set-data", &SetDataRequest{Path: "/a", Data: []byte("v2"), Version: 4}},
		{"set-data/null", &SetDataRequest{Path: "/a", Data: nil, Version: -1}},
		{"get-acl", &GetACLRequest{Path: "/a"}},
		{"set-acl", &SetACLRequest{Path: "/a", ACL: openACL, Version: 2}},
		{"set-acl/empty", &SetACLRequest{Path: "/a", ACL: []ACL{}, Version: -1}},
		{"get-children", &GetChildrenRequest{Path: "/", Watch: true}},
		{"sync", &SyncRequest{Path: "/a"}},
		{"check", &CheckVersionRequest{Path: "/a", Version: 9}},
		{"multi-header", &MultiHeader{Type: OpCreate, Done: false, Err: -1}},
		{"multi", &MultiRequest{Ops: []MultiOp{
			{Op: OpCreate, Req: &CreateRequest{Path: "/m/1", Data: []byte("x"), ACL: openACL, Flags: ModePersistent}},
			{Op: OpCreate2, Req: &CreateRequest{Path: "/m/2", Data: nil, ACL: openACL, Flags: ModePersistentSequential}},
			{Op: OpCreateContainer, Req: &CreateRequest{Path: "/m/c", Data: []byte{}, ACL: openACL, Flags: ModeContainer}},
			{Op: OpCreateTTL, Req: &CreateTTLRequest{Path: "/m/t", ACL: openACL, Flags: ModePersistentWithTTL, TTL: 1000}},
			{Op: OpDelete, Req: &DeleteRequest{Path: "/m/old", Version: -1}},
			{Op: OpSetData, Req: &SetDataRequest{Path: "/m", Data: []byte("new"), Version: 3}},
			{Op: OpCheck, Req: &CheckVersionRequest{Path: "/m", Version: 4}},
		}}},
		{"multi-read", &MultiRequest{Ops: []MultiOp{
			{Op: OpGetData, Req: &GetDataRequest{Path: "/m"}},
			{Op: OpGetChildren, Req: &GetChildrenRequest{Path: "/m"}},
		}}},
		{"multi/empty", &MultiRequest{}},
		{"reconfig", &ReconfigRequest{JoiningServers: "server.4=127.0.0.1:2888:3888;2181", LeavingServers: "1,2", NewMembers: "", CurConfigID: -1}},
		{"set-watches", &SetWatches{RelativeZxid: 42, DataWatches: []string{"/a", "/b"}, ExistWatches: []string{}, ChildWatches: nil}},
		{"set-watches2", &SetWatches2{RelativeZxid: 43, DataWatches: []string{"/a"}, ExistWatches: []string{"/x"}, ChildWatches: []string{"/"},
			PersistentWatches: []string{"/p"}, PersistentRecursiveWatches: []string{}}},
		{"set-watches2/null", &SetWatches2{}},
		{"add-watch", &AddWatchRequest{Path: "/a", Mode: AddWatchPersistentRecursive}},
		{"check-watches", &CheckWatchesRequest{Path: "/a", Type: WatcherData}},
		{"remove-watches", &RemoveWatchesRequest{Path: "/a", Type: WatcherAny}},
		{"get-ephemerals", &GetEphemeralsRequest{PrefixPath: "/e"}},
		{"get-all-children-number", &GetAllChildrenNumberRequest{Path: "/a"}},
		{"auth", &AuthPacket{Type: 0, Scheme: "digest", Auth: []byte("bob:secret")}},
		{"auth/null", &AuthPacket{Scheme: "x"}},
		{"sasl", &GetSASLRequest{Token: []byte{1, 2, 3}}},
		{"sasl/empty", &GetSASLRequest{Token: []byte{}}},
		{"id", &ID{Scheme: "ip", ID: "10.0.0.0/8"}},
		{"acl", &ACL{Perms: PermRead | PermWrite, ID: ID{Scheme: "auth", ID: ""}}},
	}
}

// responseSamples holds at least one value of every response record.
func responseSamples() []sample {
	return []sample{
		{"connect", &ConnectResponse{Timeout: 10000, SessionID: 0x1000abcdef01234, Passwd: []byte("0123456789abcdef")}},
		{"connect/readonly", &ConnectResponse{Timeout: 4000, SessionID: 1, Passwd: []byte{9}, ReadOnly: true}},
		{"connect/no-readonly-byte", &ConnectResponse{Timeout: 4000, SessionID: 1, Passwd: []byte{}, NoReadOnlyByte: true}},
		{"connect/expired", &ConnectResponse{Passwd: make([]byte, 16)}},
		{"reply-header", &ReplyHeader{Xid: 5, Zxid: 0x100000003, Err: ErrOK}},
		{"reply-header/notification", &ReplyHeader{Xid: XidNotification, Zxid: -1, Err: ErrOK}},
		{"reply-header/error", &ReplyHeader{Xid: 6, Zxid: 0x100000004, Err: ErrNoNode}},
		{"create", &CreateResponse{Path: "/a/seq-0000000001"}},
		{"create2", &Create2Response{Path: "/a/seq-0000000002", Stat: testStat}},
		{"exists", &ExistsResponse{Stat: testStat}},
		{"get-data", &GetDataResponse{Data: []byte("hello"), Stat: testStat}},
		{"get-data/null", &GetDataResponse{Data: nil, Stat: Stat{}}},
		{"get-data/empty", &GetDataResponse{Data: []byte{}, Stat: testStat}},
		{"set-data", &SetDataResponse{Stat: testStat}},
		{"get-acl", &GetACLResponse{ACL: openACL, Stat: testStat}},
		{"get-acl/null", &GetACLResponse{ACL: nil, Stat: testStat}},
		{"set-acl", &SetACLResponse{Stat: testStat}},
		{"get-children", &GetChildrenResponse{Children: []string{"a", "b", "c"}}},
		{"get-children/empty", &GetChildrenResponse{Children: []string{}}},
		{"get-children/null", &GetChildrenResponse{Children: nil}},
		{"get-children2", &GetChildren2Response{Children: []string{"x", ""}, Stat: testStat}},
		{"sync", &SyncResponse{Path: "/a"}},
		{"error", &ErrorResponse{Err: ErrOK}},
		{"multi", &MultiResponse{Results: []MultiResult{
			{Op: OpCreate, Path: "/m/1"},
			{Op: OpCreate2, Path: "/m/2", Stat: statPtr()},
			{Op: OpDelete},
			{Op: OpSetData, Stat: statPtr()},
			{Op: OpCheck},
		}}},
		{"multi/failed", &MultiResponse{Results: []MultiResult{
			{Op: OpError, Err: ErrOK},
			{Op: OpError, Err: ErrNoNode},
			{Op: OpError, Err: ErrRuntimeInconsistency},
		}}},
		{"multi-read", &MultiResponse{Results: []MultiResult{
			{Op: OpGetData, Data: []byte("v"), Stat: statPtr()},
			{Op: OpGetData, Data: nil, Stat: statPtr()},
			{Op: OpGetChildren, Children: []string{"c1", "c2"}},
			{Op: OpGetChildren, Children: []string{}},
			{Op: OpError, Err: ErrNoNode},
		}}},
		{"multi/empty", &MultiResponse{}},
		{"get-ephemerals", &GetEphemeralsResponse{Ephemerals: []string{"/e/1", "/e/2"}}},
		{"get-ephemerals/null", &GetEphemeralsResponse{}},
		{"get-all-children-number", &GetAllChildrenNumberResponse{TotalNumber: 12345}},
		{"who-am-i", &WhoAmIResponse{ClientInfo: []ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}, {AuthScheme: "digest", User: "bob"}}}},
		{"who-am-i/empty", &WhoAmIResponse{ClientInfo: []ClientInfo{}}},
		{"who-am-i/null", &WhoAmIResponse{}},
		{"sasl", &SetSASLResponse{Token: []byte("challenge")}},
		{"sasl/null", &SetSASLResponse{}},
		{"watcher-event", &WatcherEvent{Type: EventNodeDataChanged, State: StateSyncConnected, Path: "/a"}},
		{"watcher-event/none", &WatcherEvent{Type: EventNone, State: StateExpired, Path: ""}},
		{"stat", statPtr()},
		{"client-info", &ClientInfo{AuthScheme: "x509", User: "CN=me"}},
	}
}
