// Package cfntemplate reads the parts of template.yaml that Go code needs:
// the DynamoDB table definition (so DynamoDB Local gets exactly the table AWS
// gets) and the list of functions (so a test can check each one builds).
//
// The template is walked as a yaml.Node tree, which keeps CloudFormation's
// short-form tags (!Ref, !Sub, !GetAtt) instead of failing on them.
package cfntemplate

import (
	"fmt"
	"sort"

	"go.yaml.in/yaml/v3"
)

// Template is a parsed SAM/CloudFormation template.
type Template struct {
	resources map[string]*yaml.Node // logical id -> resource mapping node
	globals   *yaml.Node            // Globals.Function, may be nil
}

// Parse reads a template.
func Parse(src []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("parse template: empty document")
	}
	root := doc.Content[0]
	res := lookup(root, "Resources")
	if res == nil || res.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("parse template: no Resources mapping")
	}
	t := &Template{resources: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(res.Content); i += 2 {
		t.resources[res.Content[i].Value] = res.Content[i+1]
	}
	if g := lookup(root, "Globals"); g != nil {
		t.globals = lookup(g, "Function")
	}
	return t, nil
}

// lookup returns the value of key in a mapping node, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// ResourcesOfType returns the logical ids of resources of a type, sorted.
func (t *Template) ResourcesOfType(typ string) []string {
	var out []string
	for id, r := range t.resources {
		if n := lookup(r, "Type"); n != nil && n.Value == typ {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Resource returns a resource's node, for checks this package does not model.
func (t *Template) Resource(logicalID string) (*yaml.Node, bool) {
	r, ok := t.resources[logicalID]
	return r, ok
}

// Get follows a path of mapping keys from a node: Get(res, "Properties", "CodeUri").
func Get(n *yaml.Node, path ...string) *yaml.Node {
	for _, k := range path {
		n = lookup(n, k)
	}
	return n
}
