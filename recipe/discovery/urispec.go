package discovery

import (
	"fmt"
	"strings"
)

// The variables a URISpec knows, as Curator's UriSpec names them.
const (
	fieldScheme    = "scheme"
	fieldName      = "name"
	fieldID        = "id"
	fieldAddress   = "address"
	fieldPort      = "port"
	fieldSSLPort   = "ssl-port"
	fieldRegTime   = "registration-time-utc"
	fieldServiceTy = "service-type"
)

// URISpec is Curator's UriSpec: a URI template of literal parts and
// {variable} parts. Instance.BuildURI fills in scheme ("https" when the
// instance has an SSL port, else "http"), name, id, address, port,
// ssl-port, registration-time-utc and service-type (lower case); "[" and
// "]" stand for literal braces.
type URISpec struct {
	Parts []URIPart
}

// URIPart is one part of a URISpec: a literal, or a variable's name.
type URIPart struct {
	Value    string `json:"value"`
	Variable bool   `json:"variable"`
}

// ParseURISpec parses a template such as "{scheme}://{address}:{port}/v1"
// as Curator's UriSpec(String) does (variable names are trimmed). It fails
// on a brace inside a variable, a stray "}" or an unclosed variable.
func ParseURISpec(spec string) (*URISpec, error) {
	u := &URISpec{}
	inside := false
	for len(spec) > 0 {
		i := strings.IndexAny(spec, "{}")
		if i < 0 {
			i = len(spec)
		}
		if i > 0 {
			tok := spec[:i]
			if inside {
				tok = strings.TrimSpace(tok)
			}
			u.Parts = append(u.Parts, URIPart{Value: tok, Variable: inside})
			spec = spec[i:]
			continue
		}
		switch spec[0] {
		case '{':
			if inside {
				return nil, fmt.Errorf("discovery: uri spec: { is not allowed inside a variable")
			}
			inside = true
		case '}':
			if !inside {
				return nil, fmt.Errorf("discovery: uri spec: } must follow {")
			}
			inside = false
		}
		spec = spec[1:]
	}
	if inside {
		return nil, fmt.Errorf("discovery: uri spec: the last variable is not closed")
	}
	return u, nil
}

// String returns the template text again.
func (u *URISpec) String() string {
	var b strings.Builder
	for _, p := range u.Parts {
		if p.Variable {
			b.WriteString("{" + p.Value + "}")
		} else {
			b.WriteString(p.Value)
		}
	}
	return b.String()
}

// Build renders the template with vars only (no instance): scheme is
// "http" unless vars say otherwise, "[" and "]" are braces, and unknown
// variables render as nothing, as in Curator.
func (u *URISpec) Build(vars map[string]any) string { return u.build(nil, vars) }

func (u *URISpec) build(fields, vars map[string]any) string {
	all := map[string]any{"[": "{", "]": "}", fieldScheme: "http"}
	for k, v := range fields {
		all[k] = v
	}
	for k, v := range vars {
		all[k] = v
	}
	var b strings.Builder
	for _, p := range u.Parts {
		if !p.Variable {
			b.WriteString(p.Value)
			continue
		}
		if v, ok := all[p.Value]; ok && v != nil {
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}
