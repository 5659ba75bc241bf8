package sweep_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"dunlin/shared/billing"
	"dunlin/shared/dunning"
	"dunlin/shared/mailer"
	"dunlin/shared/store"
	"dunlin/shared/sweep"
	"dunlin/shared/testenv"
)

// harness is one test's Dunlin: its own table, a billing service with a
// settable clock, a sweeper sending through SES local, and a mail domain of
// its own so it can pick its emails out of SES local's shared store.
type harness struct {
	t        *testing.T
	store    *store.Store
	bill     *billing.Service
	sweeper  *sweep.Sweeper
	mailer   mailer.Mailer
	settings sweep.Settings
	ses      string
	domain   string
	now      time.Time
}

func allDays() dunning.Window {
	w := dunning.DefaultWindow()
	w.StartHour, w.EndHour = 0, 24
	w.Weekdays = []time.Weekday{0, 1, 2, 3, 4, 5, 6}
	return w
}

func newHarness(t *testing.T, window dunning.Window) *harness {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	h := &harness{t: t, store: testenv.NewStore(t), ses: testenv.SESEndpoint(t), domain: hex.EncodeToString(b[:]) + ".example"}
	var err error
	h.bill, err = billing.NewService(h.store, billing.Firm{Timezone: "Europe/London", DefaultCurrency: "EUR", DefaultTermsDays: 30}, func() time.Time { return h.now })
	if err != nil {
		t.Fatal(err)
	}
	h.bill.SetIndexLag(0) // DynamoDB Local's indexes are never behind
	client := sesv2.New(sesv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(h.ses),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	h.mailer = &mailer.SES{Client: client}
	h.settings = sweep.Settings{
		FirmName: "Dunlin Test Ltd", FirmTimezone: "Europe/London", From: "ar@firm.example", ReplyTo: "ar@firm.example",
		CollectionsEmail: "collections@" + h.domain, Window: window, Shards: store.QueueShards,
		Clock: func() time.Time { return h.now }, // tests own the clock, whatever the real date
		Books: h.bill,
	}
	h.sweeper = sweep.New(h.store, h.mailer, h.settings, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return h
}

// standardWith stores the standard policy, changed by edit, as the default.
func (h *harness) standardWith(edit func(*dunning.Policy)) dunning.Policy {
	h.t.Helper()
	pol := dunning.Standard()
	edit(&pol)
	if err := pol.Validate(); err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.PutPolicy(context.Background(), &pol, time.Now()); err != nil {
		h.t.Fatal(err)
	}
	return pol
}

// customer creates a customer whose address is name@<test domain>.
func (h *harness) customer(name, zone, lang string) *billing.Customer {
	h.t.Helper()
	c, err := h.bill.CreateCustomer(context.Background(), billing.CustomerCreate{Name: name, Email: strings.ToLower(name) + "@" + h.domain, Timezone: zone, Language: lang})
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *harness) invoice(c *billing.Customer, number, issued, due string) *billing.Invoice {
	h.t.Helper()
	total := int64(125000)
	inv, err := h.bill.CreateInvoice(context.Background(), billing.InvoiceCreate{CustomerID: c.ID, Number: number, Total: &total, IssuedOn: issued, DueOn: due, PaymentURL: "https://pay.example.com/" + number})
	if err != nil {
		h.t.Fatal(err)
	}
	return inv
}

// sweepAt runs one sweep at an instant.
func (h *harness) sweepAt(at time.Time) sweep.Summary {
	h.t.Helper()
	h.now = at
	sum, err := h.sweeper.Run(context.Background(), at)
	if err != nil {
		h.t.Fatalf("sweep at %s: %v", at, err)
	}
	return sum
}

// mail returns this test's emails as "to: subject" lines, oldest first.
func (h *harness) mail() []testenv.SentEmail {
	h.t.Helper()
	var out []testenv.SentEmail
	for _, e := range testenv.SentEmails(h.t, h.ses) {
		if slices.ContainsFunc(e.Destination.To, func(a string) bool { return strings.HasSuffix(a, "@"+h.domain) }) {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}

// at is 10:00 local time on a date in a zone.
func at(date, zone string) time.Time {
	loc, _ := time.LoadLocation(zone)
	d, _ := time.ParseInLocation("2006-01-02 15:04", date+" 10:00", loc)
	return d
}
