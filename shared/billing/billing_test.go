package billing

import (
	"testing"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/civil"
)

func TestStatusAndDaysOverdueFollowTheInvoicesZone(t *testing.T) {
	inv := &Invoice{State: StateOpen, DueOn: civil.MustParse("2026-03-28"), Timezone: "Europe/Berlin"}
	cases := []struct {
		at     string
		status Status
		days   int
	}{
		{"2026-03-28T22:59:00Z", StatusOpen, 0},    // 23:59 on the due date in Berlin (UTC+1)
		{"2026-03-28T23:00:00Z", StatusOverdue, 1}, // midnight: the day after
		{"2026-03-29T21:59:00Z", StatusOverdue, 1}, // 23:59 after the switch to summer time (UTC+2)
		{"2026-03-29T22:00:00Z", StatusOverdue, 2},
		{"2026-04-27T22:00:00Z", StatusOverdue, 31},
	}
	for _, c := range cases {
		now, _ := time.Parse(time.RFC3339, c.at)
		if s, d := inv.Status(now), inv.DaysOverdue(now); s != c.status || d != c.days {
			t.Errorf("at %s: %s/%d, want %s/%d", c.at, s, d, c.status, c.days)
		}
	}
	late, _ := time.Parse(time.RFC3339, "2026-06-01T00:00:00Z")
	for state, want := range map[InvoiceState]Status{StatePaid: StatusPaid, StateVoid: StatusVoid} {
		inv.State = state
		if inv.Status(late) != want || inv.DaysOverdue(late) != 0 {
			t.Errorf("%s invoice: %s/%d", state, inv.Status(late), inv.DaysOverdue(late))
		}
	}
}

func validCustomer() Customer {
	return Customer{Name: " Acme ", Email: "ap@acme.example", Language: "en", Currency: "eur", PaymentTermsDays: 30}
}

func TestValidateCustomerNormalisesAndNamesTheField(t *testing.T) {
	c := validCustomer()
	if err := validateCustomer(&c); err != nil {
		t.Fatal(err)
	}
	if c.Name != "Acme" || c.Currency != "EUR" {
		t.Errorf("not normalised: %q %q", c.Name, c.Currency)
	}
	limit := int64(-5)
	cases := map[string]func(*Customer){
		"name":               func(c *Customer) { c.Name = "   " },
		"email":              func(c *Customer) { c.Email = "ap@" },
		"cc":                 func(c *Customer) { c.CC = make([]string, 11) },
		"language":           func(c *Customer) { c.Language = "de" },
		"timezone":           func(c *Customer) { c.Timezone = "Local" },
		"currency":           func(c *Customer) { c.Currency = "EURO" },
		"credit_limit":       func(c *Customer) { c.CreditLimit = &limit },
		"payment_terms_days": func(c *Customer) { c.PaymentTermsDays = -1 },
		"external_id":        func(c *Customer) { c.ExternalID = string(make([]byte, 129)) },
	}
	for field, breakIt := range cases {
		c := validCustomer()
		breakIt(&c)
		err := validateCustomer(&c)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || e.Field != field {
			t.Errorf("breaking %s gave %v", field, err)
		}
	}
}

func TestPatchRefusesSettingAndClearingTheLimitTogether(t *testing.T) {
	c := validCustomer()
	limit := int64(100)
	err := applyPatch(&c, CustomerPatch{CreditLimit: &limit, ClearCreditLimit: true})
	if e, ok := apperr.As(err); !ok || e.Field != "clear_credit_limit" {
		t.Errorf("got %v", err)
	}
	c = validCustomer()
	c.CreditLimit = &limit
	if err := applyPatch(&c, CustomerPatch{ClearCreditLimit: true}); err != nil || c.CreditLimit != nil {
		t.Errorf("clear: %v %v", err, c.CreditLimit)
	}
}

func TestCollectReportsANextCursorOnlyWhenMoreMatch(t *testing.T) {
	items := []int{1, 2, 3, 4, 5, 6}
	list := func(fn func(*int, string) bool) error {
		for i := range items {
			if !fn(&items[i], string(rune('a'+i))) {
				return nil
			}
		}
		return nil
	}
	even := func(n *int) bool { return *n%2 == 0 }
	p, _ := collect(2, list, even)
	if len(p.Items) != 2 || *p.Items[1] != 4 || p.NextCursor != "d" {
		t.Errorf("first page %v next %q", p.Items, p.NextCursor)
	}
	p, _ = collect(3, list, even)
	if len(p.Items) != 3 || p.NextCursor != "" {
		t.Errorf("exact page has next cursor %q", p.NextCursor)
	}
}
