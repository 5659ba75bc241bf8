package cfntemplate

import (
	"fmt"
)

// Table is the part of an AWS::DynamoDB::Table that shapes its data: keys,
// indexes and the TTL attribute. Settings that only exist in AWS (point-in-time
// recovery, encryption, deletion protection) are checked by tests on the raw
// template instead.
type Table struct {
	BillingMode          string                 `yaml:"BillingMode"`
	AttributeDefinitions []AttributeDefinition  `yaml:"AttributeDefinitions"`
	KeySchema            []KeySchemaElement     `yaml:"KeySchema"`
	GlobalSecondaryIndex []GlobalSecondaryIndex `yaml:"GlobalSecondaryIndexes"`
	TimeToLive           *struct {
		AttributeName string `yaml:"AttributeName"`
		Enabled       bool   `yaml:"Enabled"`
	} `yaml:"TimeToLiveSpecification"`
}

type AttributeDefinition struct {
	AttributeName string `yaml:"AttributeName"`
	AttributeType string `yaml:"AttributeType"`
}

type KeySchemaElement struct {
	AttributeName string `yaml:"AttributeName"`
	KeyType       string `yaml:"KeyType"`
}

type GlobalSecondaryIndex struct {
	IndexName  string             `yaml:"IndexName"`
	KeySchema  []KeySchemaElement `yaml:"KeySchema"`
	Projection struct {
		ProjectionType   string   `yaml:"ProjectionType"`
		NonKeyAttributes []string `yaml:"NonKeyAttributes"`
	} `yaml:"Projection"`
}

// Table decodes the table resource with the given logical id.
func (t *Template) Table(logicalID string) (*Table, error) {
	r, ok := t.resources[logicalID]
	if !ok {
		return nil, fmt.Errorf("template has no resource %q", logicalID)
	}
	if typ := Get(r, "Type"); typ == nil || typ.Value != "AWS::DynamoDB::Table" {
		return nil, fmt.Errorf("resource %q is not an AWS::DynamoDB::Table", logicalID)
	}
	props := Get(r, "Properties")
	if props == nil {
		return nil, fmt.Errorf("table %q has no Properties", logicalID)
	}
	var tbl Table
	if err := props.Decode(&tbl); err != nil {
		return nil, fmt.Errorf("decode table %q: %w", logicalID, err)
	}
	if len(tbl.KeySchema) == 0 {
		return nil, fmt.Errorf("table %q has no KeySchema", logicalID)
	}
	return &tbl, nil
}
