// Package discovery is service discovery in the layout and format of
// Curator's curator-x-discovery, so that Go and Java services find each
// other: instances are nodes <basePath>/<service name>/<instance id>
// holding Curator's ServiceInstance JSON.
//
// Quick start:
//
//	d, err := discovery.New[json.RawMessage](c, "/services")
//	if err != nil { ... }
//	defer d.Close(ctx)
//	err = d.Register(ctx, discovery.Instance[json.RawMessage]{
//		Name: "api", ID: "go-1", Address: "10.0.0.5", Port: 8080})
//	...
//	p, err := d.NewProvider(ctx, "api")
//	defer p.Close()
//	<-p.Ready()
//	inst, err := p.Instance()
//	url := inst.BuildURI(nil)
//
// # Layout and format
//
// A Dynamic instance (the default) is an ephemeral node, DynamicSequential
// an ephemeral sequential one (named id plus the server's sequence),
// Static and Permanent persistent ones; parents are container nodes. The
// JSON is what Curator's JsonInstanceSerializer writes in its default
// compatible mode: name, id, address, port, sslPort, payload,
// registrationTimeUTC (milliseconds), serviceType and uriSpec, in that
// order, unset ones as null, and no "enabled" field (a disabled instance
// gets "enabled":false; WithEnabledField writes it always). Unknown fields
// are ignored on read.
//
// # Payloads and Java's @class
//
// Curator tags the payload with its Java class (Jackson's
// @JsonTypeInfo(use=CLASS)): an object payload written by Java starts with
// "@class":"com.example.Details"; a String, number or boolean payload is
// written as plain JSON. The rule for Go:
//
//   - Reading: the payload is decoded into T with encoding/json; a
//     top-level "@class" member is dropped first, so a struct or map T sees
//     only the data. With T = json.RawMessage the payload is kept exactly
//     as written (PayloadClass reads its tag).
//   - Writing for a Java reader made for a class (new
//     JsonInstanceSerializer<>(Details.class)): give WithPayloadClass the
//     class name as Java's Class.getName spells it; object payloads then
//     carry that tag and Java loads them as that class.
//   - Writing for a Java reader made for Map.class or Object.class, or a
//     String payload: no tag is needed (none is written by default); Java
//     reads an untagged object as a LinkedHashMap.
//
// # Registration across reconnects
//
// Each registered instance is kept by a persistent.Node: after a
// reconnect Keeper checks that the node still exists and is owned by the
// session; after a new session (an expiry) it creates it again, deleting
// an ephemeral node left by its old session first. Unlike Curator it does
// not delete and re-create every instance at every reconnect, which made
// watchers flap and could loop (CURATOR-320), and it never re-registers an
// instance that was unregistered (CURATOR-146/181). Permanent instances
// stay registered after Close (CURATOR-94).
//
// # Finding instances
//
// QueryForNames, QueryForInstances and QueryForInstance read the server
// directly. A ServiceCache keeps one service's instances current through
// a TreeCache (one persistent recursive watch on ZooKeeper 3.6+) and
// reports each change on a channel. A ServiceProvider picks one instance
// with a Strategy (RoundRobin, Random, Sticky), skipping disabled
// instances, those an instance filter rejects and those noted down with
// NoteError (Curator's DownInstancePolicy: 2 errors within 30s by
// default). URISpec renders Curator's URI templates.
//
// Malformed instance data gives errors matching ErrBadInstance: the
// queries return the other instances and name the bad nodes, a cache
// reports InstanceInvalid and leaves the node out.
//
// Concurrency: every type is safe for concurrent use; events are
// delivered through unbounded, ordered queues, never on the client's
// goroutines.
package discovery
