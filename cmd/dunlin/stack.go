package main

import (
	"context"
	"flag"

	"dunlin/shared/config"
	"dunlin/shared/store"
)

// stackFlags say which table the admin commands work on: the local stack's
// by default, a deployed one with --aws (AWS credentials from the usual
// chain, DUNLIN_TABLE from the stack's TableName output).
type stackFlags struct {
	table    string
	endpoint string
	region   string
	aws      bool
}

func (f *stackFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.table, "table", envOr("DUNLIN_TABLE", "dunlin"), "DynamoDB table (env DUNLIN_TABLE)")
	fs.StringVar(&f.endpoint, "dynamodb-endpoint", envOr("DUNLIN_DYNAMODB_ENDPOINT", "http://127.0.0.1:8000"), "DynamoDB endpoint of the local stack (env DUNLIN_DYNAMODB_ENDPOINT)")
	fs.StringVar(&f.region, "region", envOr("AWS_REGION", "us-east-1"), "AWS region (env AWS_REGION)")
	fs.BoolVar(&f.aws, "aws", false, "use the table in AWS instead of the local stack")
}

func (f *stackFlags) config() (config.Config, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return cfg, err
	}
	cfg.Table, cfg.Region, cfg.DynamoDBEndpoint = f.table, f.region, f.endpoint
	if f.aws {
		cfg.DynamoDBEndpoint, cfg.SESEndpoint = "", ""
	}
	return cfg, nil
}

func (f *stackFlags) store(ctx context.Context) (*store.Store, error) {
	cfg, err := f.config()
	if err != nil {
		return nil, err
	}
	awsCfg, err := cfg.AWS(ctx)
	if err != nil {
		return nil, err
	}
	return store.New(cfg.DynamoDB(awsCfg), cfg.Table), nil
}
