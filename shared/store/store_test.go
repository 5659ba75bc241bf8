package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dunlin"
	"dunlin/shared/apperr"
	"dunlin/shared/auth"
	"dunlin/shared/billing"
	"dunlin/shared/cfntemplate"
	"dunlin/shared/civil"
	"dunlin/shared/idempotency"
	"dunlin/shared/ids"
	"dunlin/shared/localstack"
	"dunlin/shared/store"
	"dunlin/shared/testenv"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func newCustomer(ext string) *billing.Customer {
	return &billing.Customer{
		ID: ids.New("cus_", time.Now()), ExternalID: ext, Name: "Acme GmbH", Email: "ap@acme.example",
		CC: []string{"cfo@acme.example"}, Language: "en", Timezone: "Europe/Berlin", Currency: "EUR",
		PaymentTermsDays: 30, CreatedAt: t0, UpdatedAt: t0, Version: 1,
	}
}

func newInvoice(customerID, number string, due string) *billing.Invoice {
	return &billing.Invoice{
		ID: ids.New("inv_", time.Now()), CustomerID: customerID, Number: number, Currency: "EUR",
		Total: 10000, Balance: 10000, IssuedOn: civil.MustParse("2026-11-01"), DueOn: civil.MustParse(due),
		Timezone: "Europe/Berlin", State: billing.StateOpen, CreatedAt: t0, UpdatedAt: t0, Version: 1,
	}
}

func wantCode(t *testing.T, err error, code apperr.Code, field string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != code || e.Field != field {
		t.Fatalf("got error %v; want code %s field %q", err, code, field)
	}
}

func TestCustomerRoundTripAndExternalIDLookup(t *testing.T) {
	t.Parallel()
	ctx, s := context.Background(), testenv.NewStore(t)
	c := newCustomer("ERP-1")
	limit := int64(500000)
	c.CreditLimit = &limit
	if err := s.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetCustomer(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != c.Name || got.Email != c.Email || len(got.CC) != 1 || *got.CreditLimit != limit || !got.CreatedAt.Equal(t0) || got.Version != 1 {
		t.Errorf("round trip changed the customer: %+v", got)
	}
	byExt, err := s.GetCustomerByExternalID(ctx, "ERP-1")
	if err != nil || byExt.ID != c.ID {
		t.Fatalf("by external id: %v, %v", byExt, err)
	}
	_, err = s.GetCustomer(ctx, ids.New("cus_", time.Now()))
	wantCode(t, err, apperr.NotFound, "")
	_, err = s.GetCustomerByExternalID(ctx, "nope")
	wantCode(t, err, apperr.NotFound, "")
}

func TestDuplicateExternalIDIsAConflictAndWritesNothing(t *testing.T) {
	t.Parallel()
	ctx, s := context.Background(), testenv.NewStore(t)
	if err := s.CreateCustomer(ctx, newCustomer("ERP-7")); err != nil {
		t.Fatal(err)
	}
	dup := newCustomer("ERP-7")
	wantCode(t, s.CreateCustomer(ctx, dup), apperr.Conflict, "external_id")
	_, err := s.GetCustomer(ctx, dup.ID)
	wantCode(t, err, apperr.NotFound, "") // the customer half was not written
}

func TestUpdateCustomerIsOptimisticAndMovesTheExternalID(t *testing.T) {
	t.Parallel()
	ctx, s := context.Background(), testenv.NewStore(t)
	c := newCustomer("OLD")
	if err := s.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	next := *c
	next.ExternalID, next.Version = "NEW", 2
	if err := s.UpdateCustomer(ctx, &next, "OLD"); err != nil {
		t.Fatal(err)
	}
	stale := *c
	stale.Name, stale.Version = "Stale writer", 2 // read version 1, like the first writer
	wantCode(t, s.UpdateCustomer(ctx, &stale, "NEW"), apperr.Conflict, "")

	if got, err := s.GetCustomerByExternalID(ctx, "NEW"); err != nil || got.ID != c.ID {
		t.Fatalf("new external id: %v %v", got, err)
	}
	// The old external id is free again.
	if err := s.CreateCustomer(ctx, newCustomer("OLD")); err != nil {
		t.Fatalf("old external id still taken: %v", err)
	}
}

func TestConcurrentInvoicesWithOneNumberExactlyOneWins(t *testing.T) {
	t.Parallel()
	ctx, s := context.Background(), testenv.NewStore(t)
	c := newCustomer("")
	if err := s.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			number := "INV-2026-001"
			if i%2 == 1 {
				number = "inv-2026-001" // same number to an accountant
			}
			errs[i] = s.CreateInvoice(ctx, newInvoice(c.ID, number, "2026-12-01"))
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case apperr.Is(err, apperr.Conflict), apperr.Is(err, apperr.Unavailable):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d creates succeeded, want exactly 1", wins)
	}
	var listed int
	if err := s.ListInvoices(ctx, billing.InvoiceRange{CustomerID: c.ID}, func(*billing.Invoice, string) bool { listed++; return true }); err != nil {
		t.Fatal(err)
	}
	if listed != 1 {
		t.Fatalf("%d invoices stored, want 1 (losers must write nothing)", listed)
	}
}

func TestInvoiceNumberCounterNeverRepeats(t *testing.T) {
	t.Parallel()
	ctx, s := context.Background(), testenv.NewStore(t)
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for range 25 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.NextInvoiceNumber(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[n] {
				t.Errorf("number %d handed out twice", n)
			}
			seen[n] = true
		}()
	}
	wg.Wait()
	if len(seen) != 25 {
		t.Fatalf("got %d distinct numbers", len(seen))
	}
}

func TestListInvoicesByStateAndDueRangeWithCursors(t *testing.T) {
	t.Parallel()
	ctx, s := context.Background(), testenv.NewStore(t)
	a, b := newCustomer(""), newCustomer("")
	for _, c := range []*billing.Customer{a, b} {
		if err := s.CreateCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	dues := []string{"2026-11-01", "2026-11-10", "2026-11-20", "2026-11-25", "2026-12-05", "2026-12-31", "2027-01-15"}
	for i, due := range dues {
		if err := s.CreateInvoice(ctx, newInvoice(a.ID, fmt.Sprintf("A-%d", i), due)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateInvoice(ctx, newInvoice(b.ID, "B-1", "2026-11-05")); err != nil {
		t.Fatal(err)
	}
	voided := newInvoice(a.ID, "A-void", "2026-11-02")
	if err := s.CreateInvoice(ctx, voided); err != nil {
		t.Fatal(err)
	}
	voided.State, voided.Balance, voided.Version = billing.StateVoid, 0, 2
	if err := s.SaveInvoice(ctx, voided); err != nil {
		t.Fatal(err)
	}

	collect := func(r billing.InvoiceRange) (numbers []string) {
		t.Helper()
		if err := s.ListInvoices(ctx, r, func(inv *billing.Invoice, _ string) bool {
			numbers = append(numbers, inv.Number)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return numbers
	}
	cases := []struct {
		name string
		r    billing.InvoiceRange
		want string
	}{
		{"one customer, every state", billing.InvoiceRange{CustomerID: a.ID}, "[A-0 A-1 A-2 A-3 A-4 A-5 A-6 A-void]"},
		{"everyone's open invoices due before a date", billing.InvoiceRange{State: billing.StateOpen, DueBefore: civil.MustParse("2026-11-20")}, "[A-0 B-1 A-1]"},
		{"one customer's open invoices due from a date", billing.InvoiceRange{CustomerID: a.ID, State: billing.StateOpen, DueFrom: civil.MustParse("2026-11-25")}, "[A-3 A-4 A-5 A-6]"},
		{"everyone's invoices, every state", billing.InvoiceRange{}, "[A-0 B-1 A-1 A-2 A-3 A-4 A-5 A-6 A-void]"},
		{"void invoices", billing.InvoiceRange{State: billing.StateVoid}, "[A-void]"},
		{"paid invoices (none)", billing.InvoiceRange{State: billing.StatePaid}, "[]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := fmt.Sprint(collect(c.r)); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}

	t.Run("a cursor resumes after the item it was given with", func(t *testing.T) {
		var cursor string
		var first []string
		_ = s.ListInvoices(ctx, billing.InvoiceRange{CustomerID: a.ID, PageSize: 2}, func(inv *billing.Invoice, next string) bool {
			first = append(first, inv.Number)
			cursor = next
			return len(first) < 3
		})
		rest := collect(billing.InvoiceRange{CustomerID: a.ID, Cursor: cursor})
		if got := fmt.Sprint(append(first, rest...)); got != "[A-0 A-1 A-2 A-3 A-4 A-5 A-6 A-void]" {
			t.Errorf("pages joined = %s", got)
		}
		// A cursor from customer a's listing is refused for customer b's.
		err := s.ListInvoices(ctx, billing.InvoiceRange{CustomerID: b.ID, Cursor: cursor}, func(*billing.Invoice, string) bool { return true })
		wantCode(t, err, apperr.BadRequest, "cursor")
		err = s.ListInvoices(ctx, billing.InvoiceRange{Cursor: "not-a-cursor"}, func(*billing.Invoice, string) bool { return true })
		wantCode(t, err, apperr.BadRequest, "cursor")
	})
}

func TestSaveInvoiceRefusesAStaleVersion(t *testing.T) {
	t.Parallel()
	ctx, s := context.Background(), testenv.NewStore(t)
	c := newCustomer("")
	_ = s.CreateCustomer(ctx, c)
	inv := newInvoice(c.ID, "V-1", "2026-12-01")
	if err := s.CreateInvoice(ctx, inv); err != nil {
		t.Fatal(err)
	}
	stale := *inv
	stale.State, stale.Version = billing.StateVoid, 5 // read a version that never existed
	err := s.SaveInvoice(ctx, &stale)
	wantCode(t, err, apperr.Conflict, "")
	if !errors.Is(err, apperr.ErrLostRace) {
		t.Errorf("a version clash is not marked as a lost race: %v", err)
	}
	got, _ := s.GetInvoice(ctx, inv.ID)
	if got.State != billing.StateOpen || got.Version != 1 {
		t.Fatalf("failed write changed the invoice: %+v", got)
	}
}

func TestKeysAreStoredAsHashesAndRevokeOnce(t *testing.T) {
	t.Parallel()
	ctx, s := context.Background(), testenv.NewStore(t)
	svc := auth.NewService(s, func() time.Time { return t0 })
	token, k, err := svc.Create(ctx, "ops", auth.Collector)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := svc.Authenticate(ctx, token); err != nil || got.ID != k.ID || got.Role != auth.Collector {
		t.Fatalf("Authenticate = %v, %v", got, err)
	}
	first, err := svc.Revoke(ctx, k.ID)
	if err != nil || first.RevokedAt == nil {
		t.Fatalf("revoke: %v %v", first, err)
	}
	svc2 := auth.NewService(s, func() time.Time { return t0.Add(time.Hour) })
	again, err := svc2.Revoke(ctx, k.ID)
	if err != nil || !again.RevokedAt.Equal(*first.RevokedAt) {
		t.Fatalf("second revoke moved the time: %v %v", again.RevokedAt, err)
	}
	_, err = svc.Authenticate(ctx, token)
	wantCode(t, err, apperr.Unauthorized, "")
	_, err = svc.Revoke(ctx, ids.New("key_", time.Now()))
	wantCode(t, err, apperr.NotFound, "")
	keys, err := svc.List(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("List = %v, %v", keys, err)
	}
}

// TestKeyCacheSavesTheReadAndBoundsRevocation: with a cache, a key is
// read once per CacheFor, not per request. Revoked through the same
// service it stops at once; revoked elsewhere (another Lambda instance,
// the CLI), it stops once its entry is CacheFor old. A wrong secret is
// refused from the cache too.
func TestKeyCacheSavesTheReadAndBoundsRevocation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, meter := testenv.NewMeteredStore(t)
	clock := testenv.NewClock(t0)
	here := auth.NewService(s, clock.Now)
	here.CacheFor = 30 * time.Second
	elsewhere := auth.NewService(s, clock.Now)
	token, k, err := here.Create(ctx, "ops", auth.Collector)
	if err != nil {
		t.Fatal(err)
	}
	use := func(svc *auth.Service, token string) (int, error) {
		t.Helper()
		meter.Reset()
		_, err := svc.Authenticate(ctx, token)
		return meter.Snapshot().Total(), err
	}
	if calls, err := use(here, token); err != nil || calls != 2 { // the read, and the first last-used write
		t.Fatalf("first use: %d calls, %v; want 2 calls", calls, err)
	}
	clock.Advance(10 * time.Second)
	if calls, err := use(here, token); err != nil || calls != 0 {
		t.Fatalf("cached use: %d calls, %v; want 0", calls, err)
	}
	id, _, _ := auth.ParseToken(token)
	if calls, err := use(here, "dk_"+id+"_WRONGSECRET"); calls != 0 || !apperr.Is(err, apperr.Unauthorized) {
		t.Fatalf("wrong secret on a cached key: %d calls, %v; want refused without a read", calls, err)
	}
	if _, err := elsewhere.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := use(here, token); err != nil {
		t.Fatalf("revoked elsewhere 10 s into the cache entry: %v; want still accepted until it is 30 s old", err)
	}
	clock.Advance(20 * time.Second)
	if calls, err := use(here, token); calls != 1 || !apperr.Is(err, apperr.Unauthorized) {
		t.Fatalf("revoked elsewhere, entry 30 s old: %d calls, %v; want read again and refused", calls, err)
	}

	token2, k2, err := here.Create(ctx, "ops 2", auth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := use(here, token2); err != nil {
		t.Fatal(err)
	}
	if _, err := here.Revoke(ctx, k2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := use(here, token2); !apperr.Is(err, apperr.Unauthorized) {
		t.Fatalf("revoked here: %v; want refused at once", err)
	}
	if _, err := here.Live(ctx, k2.ID); !apperr.Is(err, apperr.Unauthorized) {
		t.Fatalf("session of a key revoked here: %v; want refused at once", err)
	}

	// Without a cache every request reads the key.
	token3, _, err := elsewhere.Create(ctx, "ops 3", auth.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if calls, err := use(elsewhere, token3); err != nil || calls < 1 {
			t.Fatalf("uncached: %d calls, %v; want a read each time", calls, err)
		}
	}
}

func TestIdempotencyClaimIsExclusiveUntilExpiry(t *testing.T) {
	t.Parallel()
	ctx, s := context.Background(), testenv.NewStore(t)
	idem := s.Idempotency()
	rec := &idempotency.Record{Scope: "key_1", Key: "abc", RequestHash: "h1", CreatedAt: t0, ExpiresAt: t0.Add(idempotency.TTL)}
	if _, claimed, err := idem.Claim(ctx, rec); err != nil || !claimed {
		t.Fatalf("first claim: %v %v", claimed, err)
	}
	existing, claimed, err := idem.Claim(ctx, rec)
	if err != nil || claimed || existing.Done || existing.RequestHash != "h1" {
		t.Fatalf("second claim: %+v %v %v", existing, claimed, err)
	}
	rec.Done, rec.Status, rec.Body = true, 201, []byte(`{"id":"x"}`)
	if err := idem.Complete(ctx, rec); err != nil {
		t.Fatal(err)
	}
	existing, _, _ = idem.Claim(ctx, rec)
	if !existing.Done || existing.Status != 201 || string(existing.Body) != `{"id":"x"}` {
		t.Fatalf("completed record = %+v", existing)
	}
	// Another client's key with the same value is a different record.
	other := *rec
	other.Scope = "key_2"
	if _, claimed, _ := idem.Claim(ctx, &other); !claimed {
		t.Fatal("keys of different clients collided")
	}
	// A day later the key is forgotten even if TTL deletion has not run.
	later := *rec
	later.CreatedAt, later.ExpiresAt = t0.Add(25*time.Hour), t0.Add(49*time.Hour)
	if _, claimed, err := idem.Claim(ctx, &later); err != nil || !claimed {
		t.Fatalf("expired record still blocks: %v %v", claimed, err)
	}
}

// The service refuses to void an invoice with money paid on it, and the
// refusal is a business conflict, returned at once rather than retried.
func TestAPaidInvoiceCannotBeVoided(t *testing.T) {
	t.Parallel()
	ctx, s := context.Background(), testenv.NewStore(t)
	svc, err := billing.NewService(s, billing.Firm{Timezone: "UTC", DefaultCurrency: "EUR", DefaultTermsDays: 30}, func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	c := newCustomer("")
	_ = s.CreateCustomer(ctx, c)
	inv := newInvoice(c.ID, "P-1", "2026-12-01")
	if err := s.CreateInvoice(ctx, inv); err != nil {
		t.Fatal(err)
	}
	inv.State, inv.Balance, inv.Version = billing.StatePaid, 0, 2
	if err := s.SaveInvoice(ctx, inv); err != nil {
		t.Fatal(err)
	}
	_, err = svc.VoidInvoice(ctx, inv.ID, "wrong customer")
	wantCode(t, err, apperr.Conflict, "")
	if errors.Is(err, apperr.ErrLostRace) {
		t.Errorf("a business conflict was treated as a race and retried: %v", err)
	}
	if got, _ := s.GetInvoice(ctx, inv.ID); got.State != billing.StatePaid {
		t.Fatalf("a paid invoice was voided: %+v", got)
	}
}

// A table kept on disk from before an index was added gets the index when
// the local stack starts again.
func TestEnsureTableAddsIndexesALocalTableLacks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := localstack.LocalDynamoDB(testenv.DynamoDBEndpoint(t))
	tpl, err := cfntemplate.Parse(dunlin.Template)
	if err != nil {
		t.Fatal(err)
	}
	def, err := tpl.Table("Table")
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("old-%d", time.Now().UnixNano())
	old := store.CreateTableInput(def, name)
	old.GlobalSecondaryIndexes = old.GlobalSecondaryIndexes[:len(old.GlobalSecondaryIndexes)-1] // as before the last index
	used := map[string]bool{}
	for _, k := range old.KeySchema {
		used[*k.AttributeName] = true
	}
	for _, g := range old.GlobalSecondaryIndexes {
		for _, k := range g.KeySchema {
			used[*k.AttributeName] = true
		}
	}
	old.AttributeDefinitions = slices.DeleteFunc(old.AttributeDefinitions, func(a types.AttributeDefinition) bool { return !used[*a.AttributeName] })
	if _, err := db.CreateTable(ctx, old); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &name}) })
	if err := store.EnsureTable(ctx, db, dunlin.Template, "Table", name); err != nil {
		t.Fatal(err)
	}
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(desc.Table.GlobalSecondaryIndexes); n != len(store.Schema.Indexes) {
		t.Errorf("%d indexes after EnsureTable, want %d", n, len(store.Schema.Indexes))
	}
}
