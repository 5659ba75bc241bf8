// Package testenv gives tests real local servers: DynamoDB Local and SES local.
//
// `make test` starts one of each for the whole run and passes their endpoints
// in DUNLIN_TEST_DYNAMODB_ENDPOINT and DUNLIN_TEST_SES_ENDPOINT. When a
// package is tested on its own (go test ./shared/store), the first test that
// needs a server starts one for that test binary; it dies with the binary.
//
// Each test gets its own table, so tests run in parallel without sharing data.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"dunlin"
	"dunlin/shared/dbmeter"
	"dunlin/shared/localstack"
	"dunlin/shared/store"
)

var (
	once      sync.Once
	endpoints struct{ dynamodb, ses string }
	startErr  error
)

func servers() (dynamodbEndpoint, sesEndpoint string, err error) {
	once.Do(func() {
		endpoints.dynamodb, endpoints.ses = os.Getenv(localstack.EnvTestDynamoDB), os.Getenv(localstack.EnvTestSES)
		if endpoints.dynamodb != "" && endpoints.ses != "" {
			return
		}
		ctx := context.Background()
		home, err := localstack.Home()
		if err != nil {
			startErr = err
			return
		}
		if startErr = localstack.Install(ctx, home, os.Stderr); startErr != nil {
			return
		}
		// Start both, even if only one is missing: a fresh pair is simpler
		// than mixing, and this only happens outside make test.
		ddb, ses, err := localstack.StartFresh(ctx, home)
		if err != nil {
			startErr = err
			return
		}
		endpoints.dynamodb, endpoints.ses = ddb.Endpoint, ses.Endpoint
	})
	return endpoints.dynamodb, endpoints.ses, startErr
}

// DynamoDBEndpoint returns the endpoint of the test DynamoDB Local.
func DynamoDBEndpoint(t testing.TB) string {
	t.Helper()
	ep, _, err := servers()
	if err != nil {
		t.Fatalf("local servers: %v", err)
	}
	return ep
}

// SESEndpoint returns the endpoint of the test SES local.
func SESEndpoint(t testing.TB) string {
	t.Helper()
	_, ep, err := servers()
	if err != nil {
		t.Fatalf("local servers: %v", err)
	}
	return ep
}

// Chromium returns the Chromium the browser tests drive: the one `dunlin
// with-servers` found or installed, else chromium on the PATH. Without one
// the test fails: a browser test that skips proves nothing.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(localstack.EnvTestChromium); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("no chromium: run the tests with make test, which installs it, or apt-get install chromium")
	}
	return p
}

// NewTable creates a table named for the test from template.yaml's
// definition and deletes it when the test ends.
func NewTable(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	return NewTableOn(t, DynamoDBEndpoint(t))
}

// NewTableOn is NewTable on the DynamoDB Local at endpoint.
func NewTableOn(t testing.TB, endpoint string) (*dynamodb.Client, string) {
	t.Helper()
	db := localstack.LocalDynamoDB(endpoint)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := store.EnsureTable(ctx, db, dunlin.Template, "Table", name); err != nil {
		t.Fatalf("create test table: %v", err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return db, name
}

// NewStore is NewTable wrapped in a Store.
func NewStore(t testing.TB) *store.Store {
	t.Helper()
	db, name := NewTable(t)
	return store.New(db, name)
}

// NewMeteredStore is NewStore with every DynamoDB call counted.
func NewMeteredStore(t testing.TB) (*store.Store, *dbmeter.Meter) {
	t.Helper()
	return NewMeteredStoreOn(t, DynamoDBEndpoint(t))
}

// NewMeteredStoreOn is NewMeteredStore on the DynamoDB Local at endpoint.
func NewMeteredStoreOn(t testing.TB, endpoint string) (*store.Store, *dbmeter.Meter) {
	t.Helper()
	_, name := NewTableOn(t, endpoint)
	m := &dbmeter.Meter{}
	return store.New(localstack.LocalDynamoDB(endpoint, m.Option()), name), m
}

// SentEmail is one message in SES local's store.
type SentEmail struct {
	MessageID   string `json:"messageId"`
	From        string `json:"from"`
	ReplyTo     []string
	Destination struct {
		To  []string `json:"to"`
		Cc  []string `json:"cc"`
		Bcc []string `json:"bcc"`
	} `json:"destination"`
	Subject string `json:"subject"`
	Body    struct {
		HTML string `json:"html"`
		Text string `json:"text"`
	} `json:"body"`
	At int64 `json:"at"`
}

// SentEmails reads every message SES local has accepted.
func SentEmails(t testing.TB, endpoint string) []SentEmail {
	t.Helper()
	res, err := http.Get(endpoint + "/store")
	if err != nil {
		t.Fatalf("read SES local store: %v", err)
	}
	defer res.Body.Close()
	var body struct {
		Emails []SentEmail `json:"emails"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("decode SES local store: %v", err)
	}
	return body.Emails
}
