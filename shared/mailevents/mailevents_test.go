package mailevents_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"dunlin/shared/audit"
	"dunlin/shared/billing"
	"dunlin/shared/mailevents"
	"dunlin/shared/store"
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

// view is a customer as the events left it: the record, its contact log
// and its alerts.
type view struct {
	customer *billing.Customer
	contacts []billing.Contact
	alerts   []*billing.Alert
}

func customerNow(t *testing.T, bill *billing.Service, st *store.Store, id string) view {
	t.Helper()
	ctx := context.Background()
	got, err := bill.GetCustomer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	contacts, err := st.ListContacts(ctx, id, 50)
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := bill.ListAlerts(ctx, "", id)
	if err != nil {
		t.Fatal(err)
	}
	return view{got, contacts, alerts}
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
		v := customerNow(t, bill, st, c.ID)
		return v.customer, v.contacts, v.alerts
	}

	handle(sample(t, "ses-delivery.json", "ev-delivered", "ap@acme.example", c.ID))
	handle(sample(t, "ses-bounce.json", "ev-cc-bounce", "cfo@acme.example", c.ID))
	got, contacts, alerts := state()
	if got.EmailInvalid || len(got.CC) != 0 || len(alerts) != 1 || alerts[0].Ref != "cfo@acme.example" || len(contacts) != 2 {
		t.Fatalf("after a delivery and a CC's bounce: invalid %v, cc %v, alerts %+v, %d contacts; want the address kept, the CC gone, its alert, 2",
			got.EmailInvalid, got.CC, alerts, len(contacts))
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
	if len(alerts) != 2 || alerts[0].Kind != billing.AlertAddressBounced || alerts[1].Kind != billing.AlertAddressBounced {
		t.Errorf("alerts %+v; want two address_bounced, the CC's and the address's", alerts)
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

// TestABouncingCCAddressLeavesTheCCList: a hard bounce or a complaint from
// a CC address takes it off the customer's CC list, once, on the
// customer's version, with an alert, an audit record naming SES's event,
// and a contact-log line naming the address; the customer's own address
// and dunning are untouched.
func TestABouncingCCAddressLeavesTheCCList(t *testing.T) {
	t.Parallel()
	st := testenv.NewStore(t)
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	bill, err := billing.NewService(st, billing.Firm{Timezone: "UTC", DefaultCurrency: "EUR", DefaultTermsDays: 30}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := bill.CreateCustomer(ctx, billing.CustomerCreate{Name: "Beta", Email: "ap@beta.example",
		CC: []string{"cfo@beta.example", "Ops@beta.example", "legal@beta.example"}})
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
	state := func() view {
		t.Helper()
		return customerNow(t, bill, st, c.ID)
	}

	// A complaint from a CC, in other case than the list has it.
	complaint := sample(t, "ses-complaint.json", "ev-cc-complaint", "OPS@beta.example", c.ID)
	handle(complaint)
	handle(complaint) // EventBridge delivers at least once
	v := state()
	if got := strings.Join(v.customer.CC, ","); got != "cfo@beta.example,legal@beta.example" {
		t.Errorf("cc = %s, want Ops removed and the others kept", got)
	}
	if v.customer.EmailInvalid || v.customer.EmailError != "" || v.customer.Version != c.Version+1 {
		t.Errorf("customer: invalid %v, error %q, version %d; want its address untouched, one change", v.customer.EmailInvalid, v.customer.EmailError, v.customer.Version)
	}
	if len(v.alerts) != 1 || v.alerts[0].Kind != billing.AlertAddressBounced || v.alerts[0].Ref != "Ops@beta.example" ||
		!strings.Contains(v.alerts[0].Message, "removed from the customer's CC list: complaint") {
		t.Errorf("alerts %+v; want one address_bounced for Ops@beta.example", v.alerts)
	}
	if len(v.contacts) != 1 || !strings.Contains(v.contacts[0].Summary, "Complaint (marked as spam) from OPS@beta.example (removed from the CC list: Ops@beta.example)") {
		t.Errorf("contacts %+v; want one line naming the removed address", v.contacts)
	}
	var trail []*audit.Record
	if err := st.ListAudit(ctx, c.ID, "", 50, func(r *audit.Record, _ string) bool { trail = append(trail, r); return true }); err != nil {
		t.Fatal(err)
	}
	var ccChange *audit.Change
	for _, r := range trail {
		for i, ch := range r.Changes {
			if ch.Field == "cc" && r.Actor == "system:mailevents" && r.Via == "ses complaint" && r.RequestID == "ev-cc-complaint" {
				ccChange = &r.Changes[i]
			}
		}
	}
	if ccChange == nil || !strings.Contains(string(ccChange.Before), "Ops@beta.example") || strings.Contains(string(ccChange.After), "Ops@") {
		t.Errorf("no audit record of the cc change by SES's complaint: %+v", trail)
	}

	// One bounce naming the customer's address and a CC: both are dealt
	// with, in one change.
	b, err := os.ReadFile("testdata/ses-bounce-address-and-cc.json")
	if err != nil {
		t.Fatal(err)
	}
	var both events.CloudWatchEvent
	body := strings.NewReplacer("REPLACE_WITH_THE_ADDRESS", "ap@beta.example", "REPLACE_WITH_A_CC", "cfo@beta.example", "REPLACE_WITH_A_CUSTOMER_ID", c.ID).Replace(string(b))
	if err := json.Unmarshal([]byte(body), &both); err != nil {
		t.Fatal(err)
	}
	handle(both)
	v = state()
	if got := strings.Join(v.customer.CC, ","); got != "legal@beta.example" || !v.customer.EmailInvalid || v.customer.Version != c.Version+2 {
		t.Errorf("after the bounce: cc %s, invalid %v, version %d; want legal@ alone, the address invalid, two changes in all", got, v.customer.EmailInvalid, v.customer.Version)
	}
	if len(v.alerts) != 3 || len(v.contacts) != 2 || !strings.Contains(v.contacts[0].Summary+v.contacts[1].Summary, "(removed from the CC list: cfo@beta.example): General") {
		t.Errorf("after the bounce: %d alerts, contacts %+v; want 3 alerts and a line naming cfo@", len(v.alerts), v.contacts)
	}

	// A soft bounce and a delivery to a CC remove nothing.
	soft := sample(t, "ses-bounce.json", "ev-cc-soft", "legal@beta.example", c.ID)
	soft.Detail = json.RawMessage(strings.Replace(string(soft.Detail), `"Permanent"`, `"Transient"`, 1))
	handle(soft)
	handle(sample(t, "ses-delivery.json", "ev-cc-delivered", "legal@beta.example", c.ID))
	if v = state(); strings.Join(v.customer.CC, ",") != "legal@beta.example" || len(v.alerts) != 3 {
		t.Errorf("after a soft bounce and a delivery: cc %v, %d alerts", v.customer.CC, len(v.alerts))
	}
}

// TestCCBouncesAtOnceAreAllApplied: bounces of every CC address of one
// customer, recorded concurrently, each remove their address: the
// customer is rewritten on its version, and a writer that lost the race
// reads it again, so no removal undoes another.
func TestCCBouncesAtOnceAreAllApplied(t *testing.T) {
	t.Parallel()
	st := testenv.NewStore(t)
	bill, err := billing.NewService(st, billing.Firm{Timezone: "UTC", DefaultCurrency: "EUR", DefaultTermsDays: 30}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var cc []string
	for i := range 8 {
		cc = append(cc, fmt.Sprintf("cc%d@gamma.example", i))
	}
	c, err := bill.CreateCustomer(ctx, billing.CustomerCreate{Name: "Gamma", Email: "ap@gamma.example", CC: cc})
	if err != nil {
		t.Fatal(err)
	}
	h := mailevents.Handler(bill, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var wg sync.WaitGroup
	errs := make(chan error, len(cc))
	for i, addr := range cc {
		ev := sample(t, "ses-bounce.json", fmt.Sprintf("ev-gamma-%d", i), addr, c.ID)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- h(ctx, ev)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	got, err := bill.GetCustomer(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := bill.ListAlerts(ctx, "", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	contacts, err := st.ListContacts(ctx, c.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.CC) != 0 || got.Version != c.Version+int64(len(cc)) || len(alerts) != len(cc) || len(contacts) != len(cc) || got.EmailInvalid {
		t.Errorf("cc %v, version %d (from %d), %d alerts, %d contacts, invalid %v; want every CC gone, one change, alert and contact each, the address kept",
			got.CC, got.Version, c.Version, len(alerts), len(contacts), got.EmailInvalid)
	}
}
