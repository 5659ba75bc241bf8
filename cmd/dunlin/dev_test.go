package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"dunlin/shared/localstack"
	"dunlin/shared/testenv"
)

// syncBuffer is a bytes.Buffer safe to write from the command and read from the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var keyLine = regexp.MustCompile(`Admin API key\s+(dk_\S+)`)

// startDev runs `dunlin dev` until the returned stop function is called,
// and returns the admin key it printed.
func startDev(t *testing.T, args ...string) (key string, stop func() string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"dev"}, args...), &out, &errs) }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if m := keyLine.FindStringSubmatch(out.String()); m != nil {
			key = m[1]
			break
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("dunlin dev exited: %v\n%s\n%s", err, out.String(), errs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("dunlin dev did not start:\n%s\n%s", out.String(), errs.String())
		}
	}
	return key, func() string {
		cancel() // what Ctrl-C does
		if err := <-done; err != nil {
			t.Errorf("dunlin dev returned %v", err)
		}
		return out.String()
	}
}

func getJSON(t *testing.T, url, key string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func TestDevRunsTheStackAndStopsWhatItStarted(t *testing.T) {
	ddbPort, _ := localstack.FreePort()
	sesPort, _ := localstack.FreePort()
	apiPort, _ := localstack.FreePort()
	args := []string{"--demo", "--data-dir", t.TempDir(),
		"--dynamodb-port", fmt.Sprint(ddbPort), "--ses-port", fmt.Sprint(sesPort), "--addr", fmt.Sprintf("127.0.0.1:%d", apiPort)}
	base := fmt.Sprintf("http://127.0.0.1:%d", apiPort)

	key, stop := startDev(t, args...)
	status, body := getJSON(t, base+"/v1/invoices?status=overdue", key)
	if status != 200 || len(body["data"].([]any)) != 4 {
		t.Fatalf("overdue demo invoices: %d %v", status, body)
	}
	if status, _ := getJSON(t, base+"/v1/customers", "dk_nope"); status != 401 {
		t.Errorf("a bad key got %d", status)
	}
	// The scheduler sweeps at start: one email of every kind within moments,
	// then the firm's digest of the alerts they raised.
	var subjects []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		subjects = subjects[:0]
		for _, e := range testenv.SentEmails(t, fmt.Sprintf("http://127.0.0.1:%d", sesPort)) {
			subjects = append(subjects, e.Subject)
		}
		if len(subjects) >= 6 {
			break
		}
	}
	joined := strings.Join(subjects, "\n")
	if len(subjects) != 6 {
		t.Fatalf("demo emails after the first sweep:\n%s", joined)
	}
	for _, want := range []string{"is due on", "付款提醒", "please pay now", "最后通知", "Action needed: Northwind", "Dunlin digest"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no demo email containing %q in:\n%s", want, joined)
		}
	}
	// A bank feed's signed webhook pays an overdue invoice by its number.
	inv := body["data"].([]any)[0].(map[string]any)
	event, _ := json.Marshal(map[string]any{"id": "dev-evt-1", "type": "payment.succeeded", "payment": map[string]any{
		"id": "dev-txn-1", "amount": inv["balance"], "currency": inv["currency"], "received_on": time.Now().UTC().Format(time.DateOnly), "reference": inv["number"]}})
	req, _ := http.NewRequest("POST", base+"/v1/webhooks/generic", bytes.NewReader(event))
	req.Header.Set("Dunlin-Signature", webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: event, Secret: devGenericSecret}).Header)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("generic webhook: %v %v", res, err)
	}
	if _, got := getJSON(t, base+"/v1/invoices/"+inv["id"].(string), key); got["status"] != "paid" {
		t.Errorf("after the webhook the invoice is %v", got["status"])
	}
	// The dashboard signs in with the printed key.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.PostForm(base+"/app/login", url.Values{"key": {key}})
	if err != nil || res.StatusCode != http.StatusSeeOther || len(res.Cookies()) == 0 {
		t.Fatalf("dashboard sign-in: %v %v", res, err)
	}
	req, _ = http.NewRequest("GET", base+"/app/overview", nil)
	req.AddCookie(res.Cookies()[0])
	if res, err := noRedirect.Do(req); err != nil || res.StatusCode != http.StatusOK {
		t.Errorf("dashboard overview: %v %v", res, err)
	}
	out := stop()
	for _, want := range []string{base + "/app/", base + "/v1/webhooks/stripe", base + "/v1/", fmt.Sprintf("http://127.0.0.1:%d", ddbPort), fmt.Sprintf("http://127.0.0.1:%d", sesPort)} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not say where %s is:\n%s", want, out)
		}
	}
	for _, url := range []string{base + "/v1/customers", fmt.Sprintf("http://127.0.0.1:%d/store", sesPort), fmt.Sprintf("http://127.0.0.1:%d", ddbPort)} {
		if _, err := http.Get(url); err == nil {
			t.Errorf("%s still answers after Ctrl-C", url)
		}
	}

	// Data is kept on disk: a second run reuses the key and adds no demo data twice.
	key2, stop2 := startDev(t, args...)
	defer stop2()
	if key2 != key {
		t.Errorf("the admin key changed between runs")
	}
	status, body = getJSON(t, base+"/v1/invoices", key2)
	if status != 200 || len(body["data"].([]any)) != 6 {
		t.Errorf("after restart: %d, %d invoices, want 6", status, len(body["data"].([]any)))
	}
	// The restart's sweep sends nothing: every demo email went already, and
	// the sends are on disk. (SES local itself starts empty again.)
	time.Sleep(2 * time.Second)
	if n := len(testenv.SentEmails(t, fmt.Sprintf("http://127.0.0.1:%d", sesPort))); n != 0 {
		t.Errorf("%d emails resent after a restart", n)
	}
}

func TestKeysCreatePrintsOneUsableKey(t *testing.T) {
	_, table := testenv.NewTable(t)
	flags := []string{"--table", table, "--dynamodb-endpoint", testenv.DynamoDBEndpoint(t)}
	var out, errs bytes.Buffer
	ctx := context.Background()
	if err := run(ctx, append([]string{"keys", "create", "--role", "viewer", "--name", "auditor"}, flags...), &out, &errs); err != nil {
		t.Fatalf("keys create: %v %s", err, errs.String())
	}
	token := strings.TrimSpace(out.String())
	if strings.Count(out.String(), "\n") != 1 || !strings.HasPrefix(token, "dk_key_") {
		t.Fatalf("keys create printed %q", out.String())
	}
	out.Reset()
	if err := run(ctx, append([]string{"keys", "list"}, flags...), &out, &errs); err != nil || !strings.Contains(out.String(), "auditor") || !strings.Contains(out.String(), "viewer") || strings.Contains(out.String(), token) {
		t.Fatalf("keys list: %v\n%s", err, out.String())
	}
	if err := run(ctx, append([]string{"keys", "create", "--role", "root", "--name", "x"}, flags...), &out, &errs); err == nil {
		t.Error("an unknown role was accepted")
	}
	id := strings.Fields(strings.Split(out.String(), "\n")[1])[0]
	out.Reset()
	if err := run(ctx, append(append([]string{"keys", "revoke"}, flags...), id), &out, &errs); err != nil || !strings.Contains(out.String(), "revoked") {
		t.Fatalf("keys revoke: %v %s", err, out.String())
	}
}
