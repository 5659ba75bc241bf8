package cost

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// Prices is the price list an estimate assumes: USD list prices in one
// region, on-demand, without the AWS Free Tier (see AlwaysFree for the
// allowances that never expire). The JSON form overrides the defaults
// field by field (dunlin cost --prices FILE).
type Prices struct {
	Region string `json:"region"`
	AsOf   string `json:"as_of"` // the date the prices were read

	DynamoDBWritePerMillion   float64 `json:"dynamodb_write_per_million"`    // on-demand write request units
	DynamoDBReadPerMillion    float64 `json:"dynamodb_read_per_million"`     // on-demand read request units
	DynamoDBStoragePerGBMonth float64 `json:"dynamodb_storage_per_gb_month"` // Standard table class, table and indexes
	DynamoDBPITRPerGBMonth    float64 `json:"dynamodb_pitr_per_gb_month"`    // point-in-time recovery (continuous backups), table size

	LambdaArmPerGBSecond     float64 `json:"lambda_arm_per_gb_second"`    // arm64 duration, billed per 1 ms
	LambdaRequestsPerMillion float64 `json:"lambda_requests_per_million"` // invocations

	HTTPAPIPerMillion float64 `json:"http_api_per_million"` // API Gateway HTTP API, first 300 million a month (per 512 KB)

	SESPerThousand float64 `json:"ses_per_thousand"` // outbound email, per recipient, pay as you go

	SchedulerFreeInvocations float64 `json:"scheduler_free_invocations"` // EventBridge Scheduler: invocations a month in the price at no charge
	SchedulerPerMillion      float64 `json:"scheduler_per_million"`      // beyond those

	SSMStandardParameter float64 `json:"ssm_standard_parameter"` // standard parameters, standard throughput: no charge
	KMSPerTenThousand    float64 `json:"kms_per_ten_thousand"`   // KMS requests (SecureString reads decrypt with aws/ssm)

	LogsIngestionPerGB    float64 `json:"logs_ingestion_per_gb"`     // CloudWatch Logs, Standard class
	LogsStoragePerGBMonth float64 `json:"logs_storage_per_gb_month"` // CloudWatch Logs archive
	MetricPerMonth        float64 `json:"metric_per_month"`          // CloudWatch custom metric (first 10,000), prorated by the hour
	AlarmPerMonth         float64 `json:"alarm_per_month"`           // CloudWatch alarm, standard resolution
	DataTransferOutPerGB  float64 `json:"data_transfer_out_per_gb"`  // to the internet, first 10 TB
}

// DefaultPrices are the us-east-1 list prices read on 2 December 2026.
// DynamoDB on-demand throughput is priced after AWS's 50% cut of
// 1 November 2024. SES is the pay-as-you-go rate (no pricing plan); an
// account on a plan pays that plan's rate.
func DefaultPrices() Prices {
	return Prices{
		Region: "us-east-1",
		AsOf:   "2026-12-02",

		DynamoDBWritePerMillion:   0.625,
		DynamoDBReadPerMillion:    0.125,
		DynamoDBStoragePerGBMonth: 0.25,
		DynamoDBPITRPerGBMonth:    0.20,

		LambdaArmPerGBSecond:     0.0000133334,
		LambdaRequestsPerMillion: 0.20,

		HTTPAPIPerMillion: 1.00,

		SESPerThousand: 0.10,

		SchedulerFreeInvocations: 14_000_000,
		SchedulerPerMillion:      1.00,

		SSMStandardParameter: 0,
		KMSPerTenThousand:    0.03,

		LogsIngestionPerGB:    0.50,
		LogsStoragePerGBMonth: 0.03,
		MetricPerMonth:        0.30,
		AlarmPerMonth:         0.10,
		DataTransferOutPerGB:  0.09,
	}
}

// PriceItem is one entry of a price list, for printing.
type PriceItem struct {
	Service string  `json:"service"`
	Item    string  `json:"item"`
	Price   float64 `json:"price"`
	Unit    string  `json:"unit"`
	Source  string  `json:"source"`
}

// List is the price list as printed next to a bill, each price with the
// page it comes from.
func (p Prices) List() []PriceItem {
	const (
		ddb       = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
		lambda    = "https://aws.amazon.com/lambda/pricing/"
		apigw     = "https://aws.amazon.com/api-gateway/pricing/"
		ses       = "https://aws.amazon.com/ses/pricing/"
		scheduler = "https://aws.amazon.com/eventbridge/pricing/"
		ssm       = "https://aws.amazon.com/systems-manager/pricing/"
		kms       = "https://aws.amazon.com/kms/pricing/"
		logs      = "https://aws.amazon.com/cloudwatch/pricing/"
		transfer  = "https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer"
	)
	return []PriceItem{
		{"DynamoDB", "on-demand write request units", p.DynamoDBWritePerMillion, "USD per million", ddb},
		{"DynamoDB", "on-demand read request units", p.DynamoDBReadPerMillion, "USD per million", ddb},
		{"DynamoDB", "storage, Standard class", p.DynamoDBStoragePerGBMonth, "USD per GB-month", ddb},
		{"DynamoDB", "point-in-time recovery", p.DynamoDBPITRPerGBMonth, "USD per GB-month", ddb},
		{"Lambda", "arm64 duration", p.LambdaArmPerGBSecond, "USD per GB-second", lambda},
		{"Lambda", "requests", p.LambdaRequestsPerMillion, "USD per million", lambda},
		{"API Gateway", "HTTP API requests (first 300 million)", p.HTTPAPIPerMillion, "USD per million", apigw},
		{"SES", "outbound email (pay as you go)", p.SESPerThousand, "USD per 1,000", ses},
		{"EventBridge Scheduler", fmt.Sprintf("invocations beyond the first %g million a month", p.SchedulerFreeInvocations/1e6), p.SchedulerPerMillion, "USD per million", scheduler},
		{"SSM Parameter Store", "standard parameters, standard throughput", p.SSMStandardParameter, "USD", ssm},
		{"KMS", "requests (SecureString reads, aws/ssm key)", p.KMSPerTenThousand, "USD per 10,000", kms},
		{"CloudWatch Logs", "ingestion, Standard class", p.LogsIngestionPerGB, "USD per GB", logs},
		{"CloudWatch Logs", "storage", p.LogsStoragePerGBMonth, "USD per GB-month", logs},
		{"CloudWatch", "custom metrics (first 10,000)", p.MetricPerMonth, "USD per metric-month", logs},
		{"CloudWatch", "alarms, standard resolution", p.AlarmPerMonth, "USD per alarm-month", logs},
		{"Data transfer", "out to the internet (first 10 TB)", p.DataTransferOutPerGB, "USD per GB", transfer},
	}
}

// ReadPrices reads a JSON price list over the defaults: fields it leaves
// out keep their default. Unknown fields and negative prices are errors.
func ReadPrices(r io.Reader) (Prices, error) {
	p := DefaultPrices()
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Prices{}, fmt.Errorf("price list: %w", err)
	}
	for _, it := range p.List() {
		if it.Price < 0 || math.IsNaN(it.Price) || math.IsInf(it.Price, 0) {
			return Prices{}, fmt.Errorf("price list: %s %s: %v is not a price", it.Service, it.Item, it.Price)
		}
	}
	if p.SchedulerFreeInvocations < 0 {
		return Prices{}, fmt.Errorf("price list: scheduler_free_invocations: %v is negative", p.SchedulerFreeInvocations)
	}
	return p, nil
}

// AlwaysFree are the AWS Free Tier allowances that do not expire, per
// account and month. Estimate leaves them out of the total; the bill
// shows the total with them as a note, for an account running nothing
// else. (The 12-month offers, such as API Gateway's, and the credits
// of accounts opened since July 2025 are not counted.)
type AlwaysFree struct {
	LambdaRequests    float64 // invocations
	LambdaGBSeconds   float64 // x86 and arm64 together
	DynamoDBStorageGB float64
	LogsGB            float64 // ingestion and storage together
	KMSRequests       float64
	DataTransferOutGB float64 // all services together
	Metrics, Alarms   float64 // CloudWatch custom metrics and alarms
}

// DefaultAlwaysFree is the always-free tier as published on
// https://aws.amazon.com/free/ (Lambda, DynamoDB, CloudWatch, KMS) and
// the EC2 pricing page (data transfer out).
func DefaultAlwaysFree() AlwaysFree {
	return AlwaysFree{LambdaRequests: 1_000_000, LambdaGBSeconds: 400_000, DynamoDBStorageGB: 25, LogsGB: 5, KMSRequests: 20_000, DataTransferOutGB: 100,
		Metrics: 10, Alarms: 10}
}
