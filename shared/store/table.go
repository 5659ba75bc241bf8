package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dunlin/shared/cfntemplate"
)

// Schema is what this package relies on: the key attributes of the table and
// of each index it queries, and the TTL attribute. A test checks that
// template.yaml declares exactly this, so code and infrastructure cannot drift.
var Schema = struct {
	PK, SK  string
	Indexes map[string][2]string
	TTL     string
}{
	PK: attrPK, SK: attrSK,
	Indexes: map[string][2]string{
		indexByCustomer: {attrGSI1PK, attrGSI1SK},
		indexByKind:     {attrGSI2PK, attrGSI2SK},
		indexWorkQueue:  {attrGSI3PK, attrGSI3SK},
		indexFollowUps:  {attrGSI4PK, attrGSI4SK},
	},
	TTL: attrTTL,
}

// CreateTableInput turns the template's table definition into a CreateTable
// request for the named table.
func CreateTableInput(t *cfntemplate.Table, name string) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingMode(t.BillingMode),
	}
	for _, a := range t.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName), AttributeType: types.ScalarAttributeType(a.AttributeType),
		})
	}
	in.KeySchema = keySchema(t.KeySchema)
	for _, g := range t.GlobalSecondaryIndex {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(g.IndexName),
			KeySchema: keySchema(g.KeySchema),
			Projection: &types.Projection{
				ProjectionType:   types.ProjectionType(g.Projection.ProjectionType),
				NonKeyAttributes: g.Projection.NonKeyAttributes,
			},
		})
	}
	return in
}

func keySchema(ks []cfntemplate.KeySchemaElement) []types.KeySchemaElement {
	out := make([]types.KeySchemaElement, 0, len(ks))
	for _, k := range ks {
		out = append(out, types.KeySchemaElement{AttributeName: aws.String(k.AttributeName), KeyType: types.KeyType(k.KeyType)})
	}
	return out
}

// EnsureTable creates the table from the template's definition unless it
// exists. It is for local servers and tests; in AWS, CloudFormation owns the table.
func EnsureTable(ctx context.Context, db *dynamodb.Client, template []byte, logicalID, name string) error {
	tpl, err := cfntemplate.Parse(template)
	if err != nil {
		return err
	}
	def, err := tpl.Table(logicalID)
	if err != nil {
		return err
	}
	in := CreateTableInput(def, name)
	_, err = db.CreateTable(ctx, in)
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		return addMissingIndexes(ctx, db, in)
	}
	if err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	if err := dynamodb.NewTableExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30e9); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	if def.TimeToLive != nil && def.TimeToLive.Enabled {
		_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName: aws.String(name),
			TimeToLiveSpecification: &types.TimeToLiveSpecification{
				AttributeName: aws.String(def.TimeToLive.AttributeName), Enabled: aws.Bool(true),
			},
		})
		if err != nil {
			return fmt.Errorf("enable TTL on %s: %w", name, err)
		}
	}
	return nil
}

// addMissingIndexes creates the indexes an existing local table lacks (a
// table kept on disk from before an index was added to the template), one
// at a time, as DynamoDB requires.
func addMissingIndexes(ctx context.Context, db *dynamodb.Client, in *dynamodb.CreateTableInput) error {
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName})
	if err != nil {
		return fmt.Errorf("describe table %s: %w", aws.ToString(in.TableName), err)
	}
	have := map[string]bool{}
	for _, g := range desc.Table.GlobalSecondaryIndexes {
		have[aws.ToString(g.IndexName)] = true
	}
	for _, g := range in.GlobalSecondaryIndexes {
		if have[aws.ToString(g.IndexName)] {
			continue
		}
		_, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{
			TableName: in.TableName, AttributeDefinitions: in.AttributeDefinitions,
			GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{
				IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection}}},
		})
		if err != nil {
			return fmt.Errorf("add index %s to %s: %w", aws.ToString(g.IndexName), aws.ToString(in.TableName), err)
		}
	}
	return nil
}
