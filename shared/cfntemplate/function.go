package cfntemplate

import "go.yaml.in/yaml/v3"

// Function is an AWS::Serverless::Function with SAM Globals applied.
type Function struct {
	LogicalID     string
	CodeURI       string
	Handler       string
	Runtime       string
	Architectures []string
	BuildMethod   string
}

// Functions returns every serverless function, sorted by logical id.
func (t *Template) Functions() []Function {
	var out []Function
	for _, id := range t.ResourcesOfType("AWS::Serverless::Function") {
		r := t.resources[id]
		props := Get(r, "Properties")
		f := Function{
			LogicalID:     id,
			CodeURI:       t.str(props, "CodeUri"),
			Handler:       t.str(props, "Handler"),
			Runtime:       t.str(props, "Runtime"),
			Architectures: t.list(props, "Architectures"),
		}
		if n := Get(r, "Metadata", "BuildMethod"); n != nil {
			f.BuildMethod = n.Value
		}
		out = append(out, f)
	}
	return out
}

// str reads a scalar property, falling back to Globals.Function as SAM does.
func (t *Template) str(props *yaml.Node, key string) string {
	if n := lookup(props, key); n != nil {
		return n.Value
	}
	if n := lookup(t.globals, key); n != nil {
		return n.Value
	}
	return ""
}

func (t *Template) list(props *yaml.Node, key string) []string {
	n := lookup(props, key)
	if n == nil {
		n = lookup(t.globals, key)
	}
	if n == nil {
		return nil
	}
	var out []string
	_ = n.Decode(&out)
	return out
}
