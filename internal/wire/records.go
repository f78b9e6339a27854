package wire

import "fmt"

// Minimum encoded sizes of vector elements, used to bound counts.
const (
	minACLSize        = 4 + 4 + 4 // perms, two empty strings
	minClientInfoSize = 4 + 4
	statSize          = 68
)

// Append encodes s.
func (s *Stat) Append(b []byte) []byte {
	b = AppendInt64(b, s.Czxid)
	b = AppendInt64(b, s.Mzxid)
	b = AppendInt64(b, s.Ctime)
	b = AppendInt64(b, s.Mtime)
	b = AppendInt32(b, s.Version)
	b = AppendInt32(b, s.Cversion)
	b = AppendInt32(b, s.Aversion)
	b = AppendInt64(b, s.EphemeralOwner)
	b = AppendInt32(b, s.DataLength)
	b = AppendInt32(b, s.NumChildren)
	return AppendInt64(b, s.Pzxid)
}

// Decode reads s from r.
func (s *Stat) Decode(r *Reader) {
	if r.err == nil && len(r.b) < statSize {
		r.short(statSize)
	}
	s.Czxid = r.Int64()
	s.Mzxid = r.Int64()
	s.Ctime = r.Int64()
	s.Mtime = r.Int64()
	s.Version = r.Int32()
	s.Cversion = r.Int32()
	s.Aversion = r.Int32()
	s.EphemeralOwner = r.Int64()
	s.DataLength = r.Int32()
	s.NumChildren = r.Int32()
	s.Pzxid = r.Int64()
}

// Append encodes id.
func (id *ID) Append(b []byte) []byte {
	b = AppendString(b, id.Scheme)
	return AppendString(b, id.ID)
}

// Decode reads id from r.
func (id *ID) Decode(r *Reader) {
	id.Scheme = r.String()
	id.ID = r.String()
}

// Append encodes a.
func (a *ACL) Append(b []byte) []byte {
	b = AppendInt32(b, a.Perms)
	return a.ID.Append(b)
}

// Decode reads a from r.
func (a *ACL) Decode(r *Reader) {
	a.Perms = r.Int32()
	a.ID.Decode(r)
}

// Append encodes c.
func (c *ClientInfo) Append(b []byte) []byte {
	b = AppendString(b, c.AuthScheme)
	return AppendString(b, c.User)
}

// Decode reads c from r.
func (c *ClientInfo) Decode(r *Reader) {
	c.AuthScheme = r.String()
	c.User = r.String()
}

// AppendACLs appends a vector of ACLs; a nil acl is written as null (-1).
func AppendACLs(b []byte, acl []ACL) []byte {
	if acl == nil {
		return AppendInt32(b, -1)
	}
	b = AppendInt32(b, int32(len(acl)))
	for i := range acl {
		b = acl[i].Append(b)
	}
	return b
}

// ACLs reads a vector of ACLs. A null vector decodes as nil, an empty one as
// a non-nil empty slice.
func (r *Reader) ACLs() []ACL {
	n := r.length("acl vector", minACLSize)
	if n < 0 || r.err != nil {
		return nil
	}
	acl := make([]ACL, n)
	for i := range acl {
		acl[i].Decode(r)
	}
	if r.err != nil {
		return nil
	}
	return acl
}

// Append encodes c, followed by the readOnly byte unless NoReadOnlyByte.
func (c *ConnectRequest) Append(b []byte) []byte {
	b = AppendInt32(b, c.ProtocolVersion)
	b = AppendInt64(b, c.LastZxidSeen)
	b = AppendInt32(b, c.Timeout)
	b = AppendInt64(b, c.SessionID)
	b = AppendBuffer(b, c.Passwd)
	if c.NoReadOnlyByte {
		return b
	}
	return AppendBool(b, c.ReadOnly)
}

// Decode reads c from r, with the readOnly byte when r has one left.
func (c *ConnectRequest) Decode(r *Reader) {
	c.ProtocolVersion = r.Int32()
	c.LastZxidSeen = r.Int64()
	c.Timeout = r.Int32()
	c.SessionID = r.Int64()
	c.Passwd = r.Buffer()
	c.ReadOnly, c.NoReadOnlyByte = false, false
	if r.err != nil {
		return
	}
	if r.Len() == 0 {
		c.NoReadOnlyByte = true
		return
	}
	c.ReadOnly = r.Bool()
}

// Append encodes c, followed by the readOnly byte unless NoReadOnlyByte.
func (c *ConnectResponse) Append(b []byte) []byte {
	b = AppendInt32(b, c.ProtocolVersion)
	b = AppendInt32(b, c.Timeout)
	b = AppendInt64(b, c.SessionID)
	b = AppendBuffer(b, c.Passwd)
	if c.NoReadOnlyByte {
		return b
	}
	return AppendBool(b, c.ReadOnly)
}

// Decode reads c from r, with the readOnly byte when r has one left.
func (c *ConnectResponse) Decode(r *Reader) {
	c.ProtocolVersion = r.Int32()
	c.Timeout = r.Int32()
	c.SessionID = r.Int64()
	c.Passwd = r.Buffer()
	c.ReadOnly, c.NoReadOnlyByte = false, false
	if r.err != nil {
		return
	}
	if r.Len() == 0 {
		c.NoReadOnlyByte = true
		return
	}
	c.ReadOnly = r.Bool()
}

// Append encodes h.
func (h *RequestHeader) Append(b []byte) []byte {
	b = AppendInt32(b, h.Xid)
	return AppendInt32(b, int32(h.Op))
}

// Decode reads h from r.
func (h *RequestHeader) Decode(r *Reader) {
	h.Xid = r.Int32()
	h.Op = OpCode(r.Int32())
}

// Append encodes h.
func (h *ReplyHeader) Append(b []byte) []byte {
	b = AppendInt32(b, h.Xid)
	b = AppendInt64(b, h.Zxid)
	return AppendInt32(b, int32(h.Err))
}

// Decode reads h from r.
func (h *ReplyHeader) Decode(r *Reader) {
	h.Xid = r.Int32()
	h.Zxid = r.Int64()
	h.Err = ErrCode(r.Int32())
}

// Append encodes c.
func (c *CreateRequest) Append(b []byte) []byte {
	b = AppendString(b, c.Path)
	b = AppendBuffer(b, c.Data)
	b = AppendACLs(b, c.ACL)
	return AppendInt32(b, c.Flags)
}

// Decode reads c from r.
func (c *CreateRequest) Decode(r *Reader) {
	c.Path = r.String()
	c.Data = r.Buffer()
	c.ACL = r.ACLs()
	c.Flags = r.Int32()
}

// Append encodes c.
func (c *CreateTTLRequest) Append(b []byte) []byte {
	b = AppendString(b, c.Path)
	b = AppendBuffer(b, c.Data)
	b = AppendACLs(b, c.ACL)
	b = AppendInt32(b, c.Flags)
	return AppendInt64(b, c.TTL)
}

// Decode reads c from r.
func (c *CreateTTLRequest) Decode(r *Reader) {
	c.Path = r.String()
	c.Data = r.Buffer()
	c.ACL = r.ACLs()
	c.Flags = r.Int32()
	c.TTL = r.Int64()
}

// Append encodes c.
func (c *CreateResponse) Append(b []byte) []byte { return AppendString(b, c.Path) }

// Decode reads c from r.
func (c *CreateResponse) Decode(r *Reader) { c.Path = r.String() }

// Append encodes c.
func (c *Create2Response) Append(b []byte) []byte {
	b = AppendString(b, c.Path)
	return c.Stat.Append(b)
}

// Decode reads c from r.
func (c *Create2Response) Decode(r *Reader) {
	c.Path = r.String()
	c.Stat.Decode(r)
}

// Append encodes d.
func (d *DeleteRequest) Append(b []byte) []byte {
	b = AppendString(b, d.Path)
	return AppendInt32(b, d.Version)
}

// Decode reads d from r.
func (d *DeleteRequest) Decode(r *Reader) {
	d.Path = r.String()
	d.Version = r.Int32()
}

// Append encodes e.
func (e *ExistsRequest) Append(b []byte) []byte {
	b = AppendString(b, e.Path)
	return AppendBool(b, e.Watch)
}

// Decode reads e from r.
func (e *ExistsRequest) Decode(r *Reader) {
	e.Path = r.String()
	e.Watch = r.Bool()
}

// Append encodes e.
func (e *ExistsResponse) Append(b []byte) []byte { return e.Stat.Append(b) }

// Decode reads e from r.
func (e *ExistsResponse) Decode(r *Reader) { e.Stat.Decode(r) }

// Append encodes g.
func (g *GetDataRequest) Append(b []byte) []byte {
	b = AppendString(b, g.Path)
	return AppendBool(b, g.Watch)
}

// Decode reads g from r.
func (g *GetDataRequest) Decode(r *Reader) {
	g.Path = r.String()
	g.Watch = r.Bool()
}

// Append encodes g.
func (g *GetDataResponse) Append(b []byte) []byte {
	b = AppendBuffer(b, g.Data)
	return g.Stat.Append(b)
}

// Decode reads g from r. Data aliases r's input.
func (g *GetDataResponse) Decode(r *Reader) {
	g.Data = r.Buffer()
	g.Stat.Decode(r)
}

// Append encodes s.
func (s *SetDataRequest) Append(b []byte) []byte {
	b = AppendString(b, s.Path)
	b = AppendBuffer(b, s.Data)
	return AppendInt32(b, s.Version)
}

// Decode reads s from r.
func (s *SetDataRequest) Decode(r *Reader) {
	s.Path = r.String()
	s.Data = r.Buffer()
	s.Version = r.Int32()
}

// Append encodes s.
func (s *SetDataResponse) Append(b []byte) []byte { return s.Stat.Append(b) }

// Decode reads s from r.
func (s *SetDataResponse) Decode(r *Reader) { s.Stat.Decode(r) }

// Append encodes g.
func (g *GetACLRequest) Append(b []byte) []byte { return AppendString(b, g.Path) }

// Decode reads g from r.
func (g *GetACLRequest) Decode(r *Reader) { g.Path = r.String() }

// Append encodes g.
func (g *GetACLResponse) Append(b []byte) []byte {
	b = AppendACLs(b, g.ACL)
	return g.Stat.Append(b)
}

// Decode reads g from r.
func (g *GetACLResponse) Decode(r *Reader) {
	g.ACL = r.ACLs()
	g.Stat.Decode(r)
}

// Append encodes s.
func (s *SetACLRequest) Append(b []byte) []byte {
	b = AppendString(b, s.Path)
	b = AppendACLs(b, s.ACL)
	return AppendInt32(b, s.Version)
}

// Decode reads s from r.
func (s *SetACLRequest) Decode(r *Reader) {
	s.Path = r.String()
	s.ACL = r.ACLs()
	s.Version = r.Int32()
}

// Append encodes s.
func (s *SetACLResponse) Append(b []byte) []byte { return s.Stat.Append(b) }

// Decode reads s from r.
func (s *SetACLResponse) Decode(r *Reader) { s.Stat.Decode(r) }

// Append encodes g.
func (g *GetChildrenRequest) Append(b []byte) []byte {
	b = AppendString(b, g.Path)
	return AppendBool(b, g.Watch)
}

// Decode reads g from r.
func (g *GetChildrenRequest) Decode(r *Reader) {
	g.Path = r.String()
	g.Watch = r.Bool()
}

// Append encodes g.
func (g *GetChildrenResponse) Append(b []byte) []byte { return AppendStrings(b, g.Children) }

// Decode reads g from r.
func (g *GetChildrenResponse) Decode(r *Reader) { g.Children = r.Strings() }

// Append encodes g.
func (g *GetChildren2Response) Append(b []byte) []byte {
	b = AppendStrings(b, g.Children)
	return g.Stat.Append(b)
}

// Decode reads g from r.
func (g *GetChildren2Response) Decode(r *Reader) {
	g.Children = r.Strings()
	g.Stat.Decode(r)
}

// Append encodes s.
func (s *SyncRequest) Append(b []byte) []byte { return AppendString(b, s.Path) }

// Decode reads s from r.
func (s *SyncRequest) Decode(r *Reader) { s.Path = r.String() }

// Append encodes s.
func (s *SyncResponse) Append(b []byte) []byte { return AppendString(b, s.Path) }

// Decode reads s from r.
func (s *SyncResponse) Decode(r *Reader) { s.Path = r.String() }

// Append encodes c.
func (c *CheckVersionRequest) Append(b []byte) []byte {
	b = AppendString(b, c.Path)
	return AppendInt32(b, c.Version)
}

// Decode reads c from r.
func (c *CheckVersionRequest) Decode(r *Reader) {
	c.Path = r.String()
	c.Version = r.Int32()
}

// Append encodes h.
func (h *MultiHeader) Append(b []byte) []byte {
	b = AppendInt32(b, int32(h.Type))
	b = AppendBool(b, h.Done)
	return AppendInt32(b, int32(h.Err))
}

// Decode reads h from r.
func (h *MultiHeader) Decode(r *Reader) {
	h.Type = OpCode(r.Int32())
	h.Done = r.Bool()
	h.Err = ErrCode(r.Int32())
}

// Append encodes e.
func (e *ErrorResponse) Append(b []byte) []byte { return AppendInt32(b, int32(e.Err)) }

// Decode reads e from r.
func (e *ErrorResponse) Decode(r *Reader) { e.Err = ErrCode(r.Int32()) }

// multiEnd is the header that ends the op list of a multi request or
// response.
var multiEnd = MultiHeader{Type: -1, Done: true, Err: -1}

// multiRequestRecord returns a new zero request record for an op that may
// appear in a multi or multiRead, or nil.
func multiRequestRecord(op OpCode) Record {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer:
		return new(CreateRequest)
	case OpCreateTTL:
		return new(CreateTTLRequest)
	case OpDelete:
		return new(DeleteRequest)
	case OpSetData:
		return new(SetDataRequest)
	case OpCheck:
		return new(CheckVersionRequest)
	case OpGetData:
		return new(GetDataRequest)
	case OpGetChildren:
		return new(GetChildrenRequest)
	}
	return nil
}

// Append encodes m: a MultiHeader{op, false, -1} and the request record for
// each op, then MultiHeader{-1, true, -1}. An op whose Req is nil is written
// with a zero record of its type.
func (m *MultiRequest) Append(b []byte) []byte {
	for _, op := range m.Ops {
		h := MultiHeader{Type: op.Op, Err: -1}
		b = h.Append(b)
		req := op.Req
		if req == nil {
			req = multiRequestRecord(op.Op)
		}
		if req != nil {
			b = req.Append(b)
		}
	}
	return multiEnd.Append(b)
}

// Decode reads m from r. An op type that cannot appear in a multi, an op
// header whose error is not -1 or an end header other than {-1, true, -1}
// is an error wrapping ErrBadRecord.
func (m *MultiRequest) Decode(r *Reader) {
	m.Ops = nil
	for r.err == nil {
		var h MultiHeader
		h.Decode(r)
		if r.err != nil {
			break
		}
		if h.Done {
			if h != multiEnd {
				r.fail(fmt.Errorf("%w: multi end header {%d, true, %d}, want {-1, true, -1}", ErrBadRecord, h.Type, h.Err))
			}
			return
		}
		if h.Err != -1 {
			r.fail(fmt.Errorf("%w: multi op header error %d, want -1", ErrBadRecord, h.Err))
			break
		}
		req := multiRequestRecord(h.Type)
		if req == nil {
			r.fail(fmt.Errorf("%w: op %v cannot appear in a multi", ErrBadRecord, h.Type))
			break
		}
		req.Decode(r)
		m.Ops = append(m.Ops, MultiOp{Op: h.Type, Req: req})
	}
	m.Ops = nil
}

// Append encodes res as a multi result: its header, then the body its Op
// calls for. A nil Stat is written as a zero Stat.
func (res *MultiResult) Append(b []byte) []byte {
	h := MultiHeader{Type: res.Op, Err: res.Err}
	b = h.Append(b)
	var zero Stat
	st := res.Stat
	if st == nil {
		st = &zero
	}
	switch res.Op {
	case OpCreate:
		b = AppendString(b, res.Path)
	case OpCreate2:
		b = AppendString(b, res.Path)
		b = st.Append(b)
	case OpSetData:
		b = st.Append(b)
	case OpGetData:
		b = AppendBuffer(b, res.Data)
		b = st.Append(b)
	case OpGetChildren:
		b = AppendStrings(b, res.Children)
	case OpError:
		b = AppendInt32(b, int32(res.Err))
	}
	return b
}

// decode reads the body of a result whose header h has been read, and
// reports whether h's type is known.
func (res *MultiResult) decode(r *Reader, h MultiHeader) bool {
	*res = MultiResult{Op: h.Type, Err: h.Err}
	switch h.Type {
	case OpCreate:
		res.Path = r.String()
	case OpCreate2:
		res.Path = r.String()
		res.Stat = new(Stat)
		res.Stat.Decode(r)
	case OpDelete, OpCheck:
	case OpSetData:
		res.Stat = new(Stat)
		res.Stat.Decode(r)
	case OpGetData:
		res.Data = r.Buffer()
		res.Stat = new(Stat)
		res.Stat.Decode(r)
	case OpGetChildren:
		res.Children = r.Strings()
	case OpError:
		if e := ErrCode(r.Int32()); r.err == nil && e != h.Err {
			r.fail(fmt.Errorf("%w: multi error result: header says %d, body %d", ErrBadRecord, h.Err, e))
		}
	default:
		return false
	}
	return true
}

// Append encodes m: each result, then MultiHeader{-1, true, -1}.
func (m *MultiResponse) Append(b []byte) []byte {
	for i := range m.Results {
		b = m.Results[i].Append(b)
	}
	return multiEnd.Append(b)
}

// Decode reads m from r. An unknown result type, an error result whose
// header and body disagree, or an end header other than {-1, true, -1} is an
// error wrapping ErrBadRecord. Data of a getData result aliases r's input.
func (m *MultiResponse) Decode(r *Reader) {
	m.Results = nil
	for r.err == nil {
		var h MultiHeader
		h.Decode(r)
		if r.err != nil {
			break
		}
		if h.Done {
			if h != multiEnd {
				r.fail(fmt.Errorf("%w: multi end header {%d, true, %d}, want {-1, true, -1}", ErrBadRecord, h.Type, h.Err))
			}
			return
		}
		var res MultiResult
		if !res.decode(r, h) {
			r.fail(fmt.Errorf("%w: unknown multi result type %v", ErrBadRecord, h.Type))
			break
		}
		m.Results = append(m.Results, res)
	}
	m.Results = nil
}

// Append encodes c.
func (c *ReconfigRequest) Append(b []byte) []byte {
	b = AppendString(b, c.JoiningServers)
	b = AppendString(b, c.LeavingServers)
	b = AppendString(b, c.NewMembers)
	return AppendInt64(b, c.CurConfigID)
}

// Decode reads c from r.
func (c *ReconfigRequest) Decode(r *Reader) {
	c.JoiningServers = r.String()
	c.LeavingServers = r.String()
	c.NewMembers = r.String()
	c.CurConfigID = r.Int64()
}

// Append encodes s.
func (s *SetWatches) Append(b []byte) []byte {
	b = AppendInt64(b, s.RelativeZxid)
	b = AppendStrings(b, s.DataWatches)
	b = AppendStrings(b, s.ExistWatches)
	return AppendStrings(b, s.ChildWatches)
}

// Decode reads s from r.
func (s *SetWatches) Decode(r *Reader) {
	s.RelativeZxid = r.Int64()
	s.DataWatches = r.Strings()
	s.ExistWatches = r.Strings()
	s.ChildWatches = r.Strings()
}

// Append encodes s.
func (s *SetWatches2) Append(b []byte) []byte {
	b = AppendInt64(b, s.RelativeZxid)
	b = AppendStrings(b, s.DataWatches)
	b = AppendStrings(b, s.ExistWatches)
	b = AppendStrings(b, s.ChildWatches)
	b = AppendStrings(b, s.PersistentWatches)
	return AppendStrings(b, s.PersistentRecursiveWatches)
}

// Decode reads s from r.
func (s *SetWatches2) Decode(r *Reader) {
	s.RelativeZxid = r.Int64()
	s.DataWatches = r.Strings()
	s.ExistWatches = r.Strings()
	s.ChildWatches = r.Strings()
	s.PersistentWatches = r.Strings()
	s.PersistentRecursiveWatches = r.Strings()
}

// Append encodes a.
func (a *AddWatchRequest) Append(b []byte) []byte {
	b = AppendString(b, a.Path)
	return AppendInt32(b, a.Mode)
}

// Decode reads a from r.
func (a *AddWatchRequest) Decode(r *Reader) {
	a.Path = r.String()
	a.Mode = r.Int32()
}

// Append encodes c.
func (c *CheckWatchesRequest) Append(b []byte) []byte {
	b = AppendString(b, c.Path)
	return AppendInt32(b, c.Type)
}

// Decode reads c from r.
func (c *CheckWatchesRequest) Decode(r *Reader) {
	c.Path = r.String()
	c.Type = r.Int32()
}

// Append encodes c.
func (c *RemoveWatchesRequest) Append(b []byte) []byte {
	b = AppendString(b, c.Path)
	return AppendInt32(b, c.Type)
}

// Decode reads c from r.
func (c *RemoveWatchesRequest) Decode(r *Reader) {
	c.Path = r.String()
	c.Type = r.Int32()
}

// Append encodes g.
func (g *GetEphemeralsRequest) Append(b []byte) []byte { return AppendString(b, g.PrefixPath) }

// Decode reads g from r.
func (g *GetEphemeralsRequest) Decode(r *Reader) { g.PrefixPath = r.String() }

// Append encodes g.
func (g *GetEphemeralsResponse) Append(b []byte) []byte { return AppendStrings(b, g.Ephemerals) }

// Decode reads g from r.
func (g *GetEphemeralsResponse) Decode(r *Reader) { g.Ephemerals = r.Strings() }

// Append encodes g.
func (g *GetAllChildrenNumberRequest) Append(b []byte) []byte { return AppendString(b, g.Path) }

// Decode reads g from r.
func (g *GetAllChildrenNumberRequest) Decode(r *Reader) { g.Path = r.String() }

// Append encodes g.
func (g *GetAllChildrenNumberResponse) Append(b []byte) []byte {
	return AppendInt32(b, g.TotalNumber)
}

// Decode reads g from r.
func (g *GetAllChildrenNumberResponse) Decode(r *Reader) { g.TotalNumber = r.Int32() }

// Append encodes w. A nil ClientInfo is written as null (-1).
func (w *WhoAmIResponse) Append(b []byte) []byte {
	if w.ClientInfo == nil {
		return AppendInt32(b, -1)
	}
	b = AppendInt32(b, int32(len(w.ClientInfo)))
	for i := range w.ClientInfo {
		b = w.ClientInfo[i].Append(b)
	}
	return b
}

// Decode reads w from r. A null vector decodes as nil.
func (w *WhoAmIResponse) Decode(r *Reader) {
	w.ClientInfo = nil
	n := r.length("client info vector", minClientInfoSize)
	if n < 0 || r.err != nil {
		return
	}
	w.ClientInfo = make([]ClientInfo, n)
	for i := range w.ClientInfo {
		w.ClientInfo[i].Decode(r)
	}
	if r.err != nil {
		w.ClientInfo = nil
	}
}

// Append encodes a.
func (a *AuthPacket) Append(b []byte) []byte {
	b = AppendInt32(b, a.Type)
	b = AppendString(b, a.Scheme)
	return AppendBuffer(b, a.Auth)
}

// Decode reads a from r.
func (a *AuthPacket) Decode(r *Reader) {
	a.Type = r.Int32()
	a.Scheme = r.String()
	a.Auth = r.Buffer()
}

// Append encodes g.
func (g *GetSASLRequest) Append(b []byte) []byte { return AppendBuffer(b, g.Token) }

// Decode reads g from r.
func (g *GetSASLRequest) Decode(r *Reader) { g.Token = r.Buffer() }

// Append encodes s.
func (s *SetSASLResponse) Append(b []byte) []byte { return AppendBuffer(b, s.Token) }

// Decode reads s from r.
func (s *SetSASLResponse) Decode(r *Reader) { s.Token = r.Buffer() }

// Append encodes w.
func (w *WatcherEvent) Append(b []byte) []byte {
	b = AppendInt32(b, int32(w.Type))
	b = AppendInt32(b, int32(w.State))
	return AppendString(b, w.Path)
}

// Decode reads w from r.
func (w *WatcherEvent) Decode(r *Reader) {
	w.Type = EventType(r.Int32())
	w.State = KeeperState(r.Int32())
	w.Path = r.String()
}

// ResponseFor returns a new zero response record for the reply to a request
// of type op, or nil when that reply has no body (delete, setWatches,
// setWatches2, ping, closeSession, checkWatches, removeWatches, auth) or op
// is unknown. For convenience it also maps OpNotification to a
// *WatcherEvent, OpCreateSession to a *ConnectResponse and OpError to an
// *ErrorResponse.
func ResponseFor(op OpCode) Record {
	switch op {
	case OpCreate:
		return new(CreateResponse)
	case OpCreate2, OpCreateTTL, OpCreateContainer:
		return new(Create2Response)
	case OpExists:
		return new(ExistsResponse)
	case OpGetData, OpReconfig:
		return new(GetDataResponse)
	case OpSetData, OpCheck:
		return new(SetDataResponse)
	case OpGetACL:
		return new(GetACLResponse)
	case OpSetACL:
		return new(SetACLResponse)
	case OpGetChildren:
		return new(GetChildrenResponse)
	case OpGetChildren2:
		return new(GetChildren2Response)
	case OpSync:
		return new(SyncResponse)
	case OpMulti, OpMultiRead:
		return new(MultiResponse)
	case OpSASL:
		return new(SetSASLResponse)
	case OpGetEphemerals:
		return new(GetEphemeralsResponse)
	case OpGetAllChildrenNumber:
		return new(GetAllChildrenNumberResponse)
	case OpAddWatch, OpError:
		return new(ErrorResponse)
	case OpWhoAmI:
		return new(WhoAmIResponse)
	case OpNotification:
		return new(WatcherEvent)
	case OpCreateSession:
		return new(ConnectResponse)
	}
	return nil
}

// RequestFor returns a new zero request record for op, or nil when the
// request has no body (ping, closeSession, whoAmI) or op is unknown or
// server-internal. For convenience it maps OpCreateSession to a
// *ConnectRequest.
func RequestFor(op OpCode) Record {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer:
		return new(CreateRequest)
	case OpCreateTTL:
		return new(CreateTTLRequest)
	case OpDelete:
		return new(DeleteRequest)
	case OpExists:
		return new(ExistsRequest)
	case OpGetData:
		return new(GetDataRequest)
	case OpSetData:
		return new(SetDataRequest)
	case OpGetACL:
		return new(GetACLRequest)
	case OpSetACL:
		return new(SetACLRequest)
	case OpGetChildren, OpGetChildren2:
		return new(GetChildrenRequest)
	case OpSync:
		return new(SyncRequest)
	case OpCheck:
		return new(CheckVersionRequest)
	case OpMulti, OpMultiRead:
		return new(MultiRequest)
	case OpReconfig:
		return new(ReconfigRequest)
	case OpCheckWatches:
		return new(CheckWatchesRequest)
	case OpRemoveWatches:
		return new(RemoveWatchesRequest)
	case OpAuth:
		return new(AuthPacket)
	case OpSetWatches:
		return new(SetWatches)
	case OpSetWatches2:
		return new(SetWatches2)
	case OpSASL:
		return new(GetSASLRequest)
	case OpGetEphemerals:
		return new(GetEphemeralsRequest)
	case OpGetAllChildrenNumber:
		return new(GetAllChildrenNumberRequest)
	case OpAddWatch:
		return new(AddWatchRequest)
	case OpCreateSession:
		return new(ConnectRequest)
	}
	return nil
}
