package mailevents_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"dunlin/shared/billing"
	"dunlin/shared/mailevents"
	"dunlin/shared/testenv"
)

// sample reads a sample event from events/, addressed to to and tagged
// with the customer, under its own event id.
func sample(t *testing.T, name, id, to, customerID string) events.CloudWatchEvent {
	t.Helper()
	b, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(strings.ReplaceAll(string(b), "REPLACE_WITH_THE_ADDRESS", to), "REPLACE_WITH_A_CUSTOMER_ID", customerID)
	var ev events.CloudWatchEvent
	if err := json.Unmarshal([]byte(s), &ev); err != nil {
		t.Fatal(err)
	}
	ev.ID = id
	return ev
}

// TestSESEventsStopDunningAndReachTheContactLog drives the handler with
// the sample events against DynamoDB Local.
func TestSESEventsStopDunningAndReachTheContactLog(t *testing.T) {
	t.Parallel()
	st := testenv.NewStore(t)
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	bill, err := billing.NewService(st, billing.Firm{Timezone: "UTC", DefaultCurrency: "EUR", DefaultTermsDays: 30}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := bill.CreateCustomer(ctx, billing.CustomerCreate{Name: "Acme", Email: "ap@acme.example", CC: []string{"cfo@acme.example"}})
	if err != nil {
		t.Fatal(err)
	}
	h := mailevents.Handler(bill, slog.New(slog.NewTextHandler(io.Discard, nil)))
	handle := func(ev events.CloudWatchEvent) {
		t.Helper()
		if err := h(ctx, ev); err != nil {
			t.Fatalf("%s: %v", ev.DetailType, err)
		}
	}
	state := func() (*billing.Customer, []billing.Contact, []*billing.Alert) {
		t.Helper()
		got, err := bill.GetCustomer(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		contacts, err := st.ListContacts(ctx, c.ID, 50)
		if err != nil {
			t.Fatal(err)
		}
		alerts, err := bill.ListAlerts(ctx, "", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got, contacts, alerts
	}

	handle(sample(t, "ses-delivery.json", "ev-delivered", "ap@acme.example", c.ID))
	handle(sample(t, "ses-bounce.json", "ev-cc-bounce", "cfo@acme.example", c.ID))
	got, contacts, alerts := state()
	if got.EmailInvalid || len(alerts) != 0 || len(contacts) != 2 {
		t.Fatalf("after a delivery and a CC's bounce: invalid %v, %d alerts, %d contacts; want the address kept, 0, 2", got.EmailInvalid, len(alerts), len(contacts))
	}
	if !strings.Contains(contacts[0].Summary+contacts[1].Summary, "Email delivered to ap@acme.example") {
		t.Errorf("contacts %+v", contacts)
	}

	bounce := sample(t, "ses-bounce.json", "ev-bounce", "AP@acme.example", c.ID)
	handle(bounce)
	handle(bounce) // EventBridge delivers at least once
	handle(sample(t, "ses-complaint.json", "ev-complaint", "ap@acme.example", c.ID))
	got, contacts, alerts = state()
	if !got.EmailInvalid || !strings.Contains(got.EmailError, "hard bounce") || !strings.Contains(got.EmailError, "550 5.1.1") {
		t.Errorf("after a hard bounce: invalid %v, error %q", got.EmailInvalid, got.EmailError)
	}
	if len(alerts) != 1 || alerts[0].Kind != billing.AlertAddressBounced {
		t.Errorf("alerts %+v; want one address_bounced", alerts)
	}
	if len(contacts) != 4 {
		t.Errorf("%d contact entries, want 4 (delivery, CC bounce, bounce once, complaint)", len(contacts))
	}

	// A soft bounce, and an email with no customer tag (the firm's digest),
	// change nothing.
	soft := sample(t, "ses-bounce.json", "ev-soft", "ap@acme.example", c.ID)
	soft.Detail = json.RawMessage(strings.Replace(string(soft.Detail), `"Permanent"`, `"Transient"`, 1))
	handle(soft)
	handle(sample(t, "ses-delivery.json", "ev-digest", "collections@firm.example", ""))
	if _, after, _ := state(); len(after) != 4 {
		t.Errorf("%d contact entries after a soft bounce and an untagged email, want still 4", len(after))
	}

	// A new address deserves a fresh start.
	email := "payables@acme.example"
	if _, err := bill.UpdateCustomer(ctx, c.ID, billing.CustomerPatch{Email: &email}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ = state(); got.EmailInvalid || got.EmailError != "" {
		t.Errorf("after the address changed: invalid %v, error %q", got.EmailInvalid, got.EmailError)
	}
}

// TestParseReadsSESRecords: the fields Dunlin uses, from each sample.
func TestParseReadsSESRecords(t *testing.T) {
	for name, want := range map[string]billing.MailEvent{
		"ses-bounce.json":    {Kind: billing.MailBounced, Recipients: []string{"a@b.example"}, Detail: "General smtp; 550 5.1.1 user unknown"},
		"ses-complaint.json": {Kind: billing.MailComplaint, Recipients: []string{"a@b.example"}, Detail: "abuse"},
		"ses-delivery.json":  {Kind: billing.MailDelivered, Recipients: []string{"a@b.example"}},
	} {
		got, ok, err := mailevents.Parse(sample(t, name, "id-1", "a@b.example", "cus_01M8V34Q80MM2JP8XEQ6BCHWFP"))
		if err != nil || !ok || got.Kind != want.Kind || strings.Join(got.Recipients, ",") != strings.Join(want.Recipients, ",") ||
			got.Detail != want.Detail || got.CustomerID != "cus_01M8V34Q80MM2JP8XEQ6BCHWFP" || got.ID != "id-1" || got.MessageID == "" || got.At.IsZero() {
			t.Errorf("%s: %+v %v %v", name, got, ok, err)
		}
	}
	if _, _, err := mailevents.Parse(events.CloudWatchEvent{ID: "x", Detail: json.RawMessage(`not json`)}); err == nil {
		t.Error("a detail that is not JSON parsed")
	}
}
