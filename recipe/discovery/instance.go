package discovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrBadInstance reports instance data that is not a ServiceInstance as
// Curator writes it (malformed JSON, a wrong field type, a payload that
// does not fit the payload type).
var ErrBadInstance = errors.New("discovery: bad instance data")

// ServiceType is Curator's ServiceType: it decides the registration node's
// create mode.
type ServiceType string

// Service types.
const (
	// Dynamic instances are ephemeral nodes (the default).
	Dynamic ServiceType = "DYNAMIC"
	// DynamicSequential instances are ephemeral sequential nodes: the
	// node's name is the id followed by the server's sequence.
	DynamicSequential ServiceType = "DYNAMIC_SEQUENTIAL"
	// Static instances are persistent nodes.
	Static ServiceType = "STATIC"
	// Permanent instances are persistent nodes that Discovery.Close
	// leaves registered (Curator deletes them too, CURATOR-94).
	Permanent ServiceType = "PERMANENT"
)

// IsDynamic reports whether instances of the type are ephemeral.
func (t ServiceType) IsDynamic() bool { return t == Dynamic || t == DynamicSequential }

func (t ServiceType) valid() bool {
	switch t {
	case Dynamic, DynamicSequential, Static, Permanent:
		return true
	}
	return false
}

// Instance is one instance of a service: Curator's ServiceInstance. T is
// the payload's type; use json.RawMessage to read any payload as raw
// JSON.
type Instance[T any] struct {
	// Name is the service's name, ID the instance's id (unique within the
	// service): the node is <basePath>/<Name>/<ID>.
	Name string
	ID   string
	// Address is the host; "" is written as null.
	Address string
	// Port and SSLPort are the ports; 0 is written as null (Curator's
	// Integer fields are null when unset).
	Port    int
	SSLPort int
	// Payload is written as JSON; see the package doc for how it meets
	// Java's @class type tag.
	Payload T
	// RegistrationTimeUTC is the registration time in milliseconds since
	// the epoch, as Curator stores it; Register sets it when it is 0.
	RegistrationTimeUTC int64
	// ServiceType decides the create mode; "" means Dynamic.
	ServiceType ServiceType
	// URISpec is a template for the instance's URI (nil: none).
	URISpec *URISpec
	// Disabled marks an instance that providers skip. Curator's
	// compatible serialization (its default) has no field for it: a
	// disabled instance is written with "enabled":false, which only
	// Curator readers of 2.11 and later accept.
	Disabled bool
}

// RegistrationTime returns RegistrationTimeUTC as a time.
func (i Instance[T]) RegistrationTime() time.Time { return time.UnixMilli(i.RegistrationTimeUTC) }

// BuildURI renders the instance's URISpec (see URISpec.Build); "" when it
// has none.
func (i Instance[T]) BuildURI(vars map[string]any) string {
	if i.URISpec == nil {
		return ""
	}
	return i.URISpec.build(i.uriFields(), vars)
}

func (i Instance[T]) uriFields() map[string]any {
	f := map[string]any{
		fieldName:      i.Name,
		fieldID:        i.ID,
		fieldAddress:   i.Address,
		fieldPort:      "",
		fieldSSLPort:   "",
		fieldRegTime:   i.RegistrationTimeUTC,
		fieldServiceTy: strings.ToLower(string(i.serviceType())),
	}
	if i.Port != 0 {
		f[fieldPort] = i.Port
	}
	if i.SSLPort != 0 {
		f[fieldSSLPort] = i.SSLPort
		f[fieldScheme] = "https"
	}
	return f
}

func (i Instance[T]) serviceType() ServiceType {
	if i.ServiceType == "" {
		return Dynamic
	}
	return i.ServiceType
}

// serializer writes and reads instances in Curator's JSON.
type serializer struct {
	class   string // the payload's @class, when set
	enabled bool   // write "enabled" always (Curator's non-compatible mode)
}

// marshal writes inst as Curator's JsonInstanceSerializer does in its
// default compatible mode: the fields in Curator's order, unset ones as
// null, no "enabled" field unless the instance is disabled (or the
// serializer writes it always).
func marshal[T any](s serializer, inst Instance[T]) ([]byte, error) {
	var b bytes.Buffer
	str := func(v string) {
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // Jackson does not escape <, > and &
		_ = enc.Encode(v)
		b.Truncate(b.Len() - 1) // Encode's newline
	}
	num := func(v int) {
		if v == 0 {
			b.WriteString("null")
			return
		}
		b.WriteString(strconv.Itoa(v))
	}
	payload, err := marshalPayload(s.class, inst.Payload)
	if err != nil {
		return nil, fmt.Errorf("discovery: instance %s: payload: %w", inst.ID, err)
	}
	b.WriteString(`{"name":`)
	str(inst.Name)
	b.WriteString(`,"id":`)
	str(inst.ID)
	b.WriteString(`,"address":`)
	if inst.Address == "" {
		b.WriteString("null")
	} else {
		str(inst.Address)
	}
	b.WriteString(`,"port":`)
	num(inst.Port)
	b.WriteString(`,"sslPort":`)
	num(inst.SSLPort)
	b.WriteString(`,"payload":`)
	b.Write(payload)
	b.WriteString(`,"registrationTimeUTC":`)
	b.WriteString(strconv.FormatInt(inst.RegistrationTimeUTC, 10))
	b.WriteString(`,"serviceType":`)
	str(string(inst.serviceType()))
	b.WriteString(`,"uriSpec":`)
	if inst.URISpec == nil {
		b.WriteString("null")
	} else {
		b.WriteString(`{"parts":[`)
		for k, p := range inst.URISpec.Parts {
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"value":`)
			str(p.Value)
			b.WriteString(`,"variable":`)
			b.WriteString(strconv.FormatBool(p.Variable))
			b.WriteByte('}')
		}
		b.WriteString("]}")
	}
	if s.enabled || inst.Disabled {
		b.WriteString(`,"enabled":`)
		b.WriteString(strconv.FormatBool(!inst.Disabled))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshalPayload writes the payload as JSON and, for a JSON object when a
// class is given, puts "@class" first, as Jackson's
// @JsonTypeInfo(use=CLASS) does.
func marshalPayload(class string, payload any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(payload); err != nil {
		return nil, err
	}
	out := bytes.TrimSpace(b.Bytes())
	if class == "" || len(out) == 0 || out[0] != '{' {
		return out, nil
	}
	cls, _ := json.Marshal(class)
	var w bytes.Buffer
	w.WriteString(`{"@class":`)
	w.Write(cls)
	rest := bytes.TrimSpace(out[1:])
	if len(rest) > 0 && rest[0] != '}' {
		w.WriteByte(',')
	}
	w.Write(rest)
	return w.Bytes(), nil
}

// wireInstance is the JSON shape read back.
type wireInstance struct {
	Name                *string         `json:"name"`
	ID                  *string         `json:"id"`
	Address             *string         `json:"address"`
	Port                *int            `json:"port"`
	SSLPort             *int            `json:"sslPort"`
	Payload             json.RawMessage `json:"payload"`
	RegistrationTimeUTC int64           `json:"registrationTimeUTC"`
	ServiceType         *string         `json:"serviceType"`
	URISpec             *struct {
		Parts []URIPart `json:"parts"`
	} `json:"uriSpec"`
	Enabled *bool `json:"enabled"`
}

// unmarshal reads an instance written by Curator (or by marshal). Unknown
// fields are ignored, as Curator does. The payload is decoded into T; for
// any T but json.RawMessage a top-level "@class" member is dropped first.
func unmarshal[T any](data []byte) (Instance[T], error) {
	var w wireInstance
	var inst Instance[T]
	if err := json.Unmarshal(data, &w); err != nil {
		return inst, fmt.Errorf("%w: %w", ErrBadInstance, err)
	}
	if w.Name == nil || w.ID == nil {
		return inst, fmt.Errorf("%w: no name or id in %.80q", ErrBadInstance, data)
	}
	inst.Name, inst.ID = *w.Name, *w.ID
	if w.Address != nil {
		inst.Address = *w.Address
	}
	if w.Port != nil {
		inst.Port = *w.Port
	}
	if w.SSLPort != nil {
		inst.SSLPort = *w.SSLPort
	}
	inst.RegistrationTimeUTC = w.RegistrationTimeUTC
	inst.ServiceType = Dynamic
	if w.ServiceType != nil {
		inst.ServiceType = ServiceType(*w.ServiceType)
		if !inst.ServiceType.valid() {
			return inst, fmt.Errorf("%w: instance %s: unknown service type %q", ErrBadInstance, inst.ID, *w.ServiceType)
		}
	}
	if w.URISpec != nil {
		inst.URISpec = &URISpec{Parts: w.URISpec.Parts}
	}
	inst.Disabled = w.Enabled != nil && !*w.Enabled
	if err := unmarshalPayload(w.Payload, &inst.Payload); err != nil {
		return inst, fmt.Errorf("%w: instance %s: payload: %w", ErrBadInstance, inst.ID, err)
	}
	return inst, nil
}

func unmarshalPayload[T any](raw json.RawMessage, out *T) error {
	if raw == nil || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	if r, ok := any(out).(*json.RawMessage); ok {
		*r = append(json.RawMessage(nil), raw...)
		return nil
	}
	if raw[0] == '{' {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err == nil {
			if _, ok := m["@class"]; ok {
				delete(m, "@class")
				raw, _ = json.Marshal(m)
			}
		}
	}
	return json.Unmarshal(raw, out)
}

// PayloadClass returns the "@class" type tag of a payload written by Java
// (the Java class name), or "" when it has none.
func PayloadClass(raw json.RawMessage) string {
	var m struct {
		Class string `json:"@class"`
	}
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return ""
	}
	return m.Class
}
