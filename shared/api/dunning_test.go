package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"dunlin/shared/auth"
)

func TestDisputeAndResolveTakeAnInvoiceOutOfDunningAndBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	id := f.mustCreate("/v1/invoices", map[string]any{"customer_id": cid, "number": "D-1", "total": 100, "issued_on": "2026-11-01", "due_on": "2026-11-20"})["id"].(string)
	if res := f.Do("POST", "/v1/invoices/"+id+"/dispute", map[string]any{}); res.Status != 422 {
		t.Errorf("dispute without a reason = %d", res.Status)
	}
	res := f.As(f.keys[auth.Collector]).Do("POST", "/v1/invoices/"+id+"/dispute", map[string]any{"reason": "wrong quantity"})
	inv := res.Map(t)
	if res.Status != 200 || inv["disputed"] != true || inv["dispute_reason"] != "wrong quantity" || inv["next_action_on"] != "2026-11-01" {
		t.Fatalf("dispute = %d %v", res.Status, inv)
	}
	// A disputed invoice is not in the dunning preview.
	prev := f.Do("GET", "/v1/dunning/preview?now=2026-11-24T10:00:00Z", nil).Map(t)
	if n := len(prev["emails"].([]any)); n != 0 {
		t.Errorf("preview plans %d emails for a disputed invoice", n)
	}
	res = f.Do("POST", "/v1/invoices/"+id+"/resolve", nil)
	if inv = res.Map(t); res.Status != 200 || inv["disputed"] != false || inv["dispute_reason"] != nil {
		t.Fatalf("resolve = %d %v", res.Status, inv)
	}
	prev = f.Do("GET", "/v1/dunning/preview?now=2026-11-24T10:00:00Z", nil).Map(t)
	emails := prev["emails"].([]any)
	if len(emails) != 1 || !strings.HasPrefix(emails[0].(map[string]any)["subject"].(string), "Reminder") {
		t.Errorf("preview after resolving: %v", prev)
	}
	void := f.mustCreate("/v1/invoices", map[string]any{"customer_id": cid, "number": "D-2", "total": 100})["id"].(string)
	f.Do("POST", "/v1/invoices/"+void+"/void", nil)
	if res := f.Do("POST", "/v1/invoices/"+void+"/dispute", map[string]any{"reason": "x"}); res.Status != 409 {
		t.Errorf("disputing a void invoice = %d", res.Status)
	}
}

func TestPauseAndResumeACustomer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	f.mustCreate("/v1/invoices", map[string]any{"customer_id": cid, "number": "P-1", "total": 100, "issued_on": "2026-11-01", "due_on": "2026-11-20"})
	if res := f.Do("POST", "/v1/customers/"+cid+"/pause", map[string]any{"reason": "x", "until": "2026-01-01"}); res.Status != 422 {
		t.Errorf("pause until a past date = %d", res.Status)
	}
	res := f.Do("POST", "/v1/customers/"+cid+"/pause", map[string]any{"reason": "agreed to pay after audit", "until": "2026-11-30"})
	c := res.Map(t)
	if res.Status != 200 || c["paused"] != true || c["paused_until"] != "2026-11-30" {
		t.Fatalf("pause = %d %v", res.Status, c)
	}
	prev := f.Do("GET", "/v1/dunning/preview?now=2026-11-24T10:00:00Z", nil).Map(t)
	if n := len(prev["emails"].([]any)); n != 0 || prev["summary"].(map[string]any)["skipped"].(map[string]any)["customer_paused"].(float64) != 1 {
		t.Errorf("preview while paused: %v", prev)
	}
	if res := f.Do("POST", "/v1/customers/"+cid+"/resume", nil); res.Status != 200 || res.Map(t)["paused"] != false {
		t.Errorf("resume = %d %s", res.Status, res.Body)
	}
	if res := f.As(f.keys[auth.Integration]).Do("POST", "/v1/customers/"+cid+"/pause", map[string]any{"reason": "x"}); res.Status != 403 {
		t.Errorf("integration keys may not pause dunning: %d", res.Status)
	}
}

func TestPoliciesCanBeWrittenAssignedAndForecast(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	list := f.Do("GET", "/v1/policies", nil).Map(t)["data"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "standard" {
		t.Fatalf("built-in policies = %v", list)
	}
	gentle := map[string]any{"steps": []map[string]any{
		{"name": "nudge", "offset_days": 3, "tone": "reminder", "email": true},
		{"name": "call", "offset_days": 21, "tone": "escalation", "escalate": true},
	}}
	res := f.Do("PUT", "/v1/policies/gentle", gentle)
	if res.Status != 200 || res.Map(t)["weekly_cap"].(float64) != 2 {
		t.Fatalf("put policy = %d %s", res.Status, res.Body)
	}
	bad := map[string]any{"steps": []map[string]any{{"name": "a", "offset_days": 5, "tone": "angry", "email": true}}}
	if res := f.Do("PUT", "/v1/policies/bad", bad); res.Status != 422 {
		t.Errorf("bad tone = %d", res.Status)
	} else if _, field := res.ErrorField(t); field != "steps[0].tone" {
		t.Errorf("bad tone named %q", field)
	}
	if res := f.Do("GET", "/v1/policies/bad", nil); res.Status != 404 {
		t.Errorf("a refused policy was stored: %d", res.Status)
	}
	cid := f.customer(nil)
	if res := f.Do("PATCH", "/v1/customers/"+cid, map[string]any{"policy": "nope"}); res.Status != 422 {
		t.Errorf("unknown policy assigned: %d", res.Status)
	}
	if res := f.Do("PATCH", "/v1/customers/"+cid, map[string]any{"policy": "gentle"}); res.Status != 200 || res.Map(t)["policy"] != "gentle" {
		t.Fatalf("assign = %d %s", res.Status, res.Body)
	}
	f.mustCreate("/v1/invoices", map[string]any{"customer_id": cid, "number": "G-1", "total": 100, "issued_on": "2026-11-01", "due_on": "2026-12-01"})
	f.clock.Set(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC))
	fc := f.Do("GET", "/v1/dunning/forecast?days=30", nil).Map(t)["data"].([]any)
	var got []string
	for _, x := range fc {
		m := x.(map[string]any)
		got = append(got, m["on"].(string)+" "+m["step"].(string))
	}
	// Under "gentle": nudge on Fri Dec 4, call on Tue Dec 22 (window Mon-Fri).
	if strings.Join(got, ",") != "2026-12-04 nudge,2026-12-22 call" {
		t.Errorf("forecast under the assigned policy: %v", got)
	}
	if res := f.Do("GET", "/v1/dunning/forecast?days=0", nil); res.Status != 400 {
		t.Errorf("days=0 = %d", res.Status)
	}
	if res := f.Do("GET", "/v1/dunning/preview?now=tomorrow", nil); res.Status != 400 {
		t.Errorf("now=tomorrow = %d", res.Status)
	}
}

func TestTemplateOverridesAreValidatedPreviewedAndUsed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	base := "/v1/templates/en/reminder"
	res := f.Do("PUT", base, map[string]any{"intro": "Hello {{.NoSuchField}}"})
	if _, field := res.ErrorField(t); res.Status != 422 || field != "intro" {
		t.Errorf("unknown field in intro = %d %s", res.Status, res.Body)
	}
	if res := f.Do("PUT", base, map[string]any{"subject": "{{if}}"}); res.Status != 422 {
		t.Errorf("unparsable subject = %d", res.Status)
	}
	if res := f.As(f.keys[auth.Collector]).Do("PUT", base, map[string]any{"subject": "x"}); res.Status != 403 {
		t.Errorf("a collector changed the wording: %d", res.Status)
	}
	res = f.Do("PUT", base, map[string]any{"subject": "{{.FirmName}}: {{len .Lines}} unpaid"})
	v := res.Map(t)
	if res.Status != 200 || v["phrases"].(map[string]any)["subject"] != "{{.FirmName}}: {{len .Lines}} unpaid" || v["custom"] == nil {
		t.Fatalf("put = %d %v", res.Status, v)
	}
	if v["phrases"].(map[string]any)["intro"] != v["default"].(map[string]any)["intro"] {
		t.Error("an empty phrase did not keep Dunlin's wording")
	}
	prev := f.Do("GET", base+"/preview", nil).Map(t)
	if prev["subject"] != "Example Ltd: 2 unpaid" {
		t.Errorf("preview subject %q", prev["subject"])
	}
	// The sweep uses it.
	cid := f.customer(nil)
	f.mustCreate("/v1/invoices", map[string]any{"customer_id": cid, "number": "T-1", "total": 100, "issued_on": "2026-11-01", "due_on": "2026-11-23"})
	plan := f.Do("GET", "/v1/dunning/preview?now=2026-11-24T10:00:00Z", nil).Map(t)["emails"].([]any)
	if len(plan) != 1 || plan[0].(map[string]any)["subject"] != "Test Firm: 1 unpaid" {
		t.Errorf("the sweep does not use the firm's wording: %v", plan)
	}
	if res := f.Do("DELETE", base, nil); res.Status != 200 || res.Map(t)["custom"] != nil {
		t.Errorf("delete = %d %s", res.Status, res.Body)
	}
	if res := f.Do("GET", "/v1/templates/fr/reminder", nil); res.Status != 404 {
		t.Errorf("unknown language = %d", res.Status)
	}
	if res := f.Do("GET", "/v1/templates/en/angry", nil); res.Status != 404 {
		t.Errorf("unknown tone = %d", res.Status)
	}
}

func TestDraftsAreListedAndApprovedThroughTheAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.Do("PUT", "/v1/policies/careful", map[string]any{"steps": []map[string]any{
		{"name": "ask", "offset_days": 1, "tone": "reminder", "email": true, "requires_approval": true},
	}})
	cid := f.customer(map[string]any{"timezone": "UTC"})
	f.Do("PATCH", "/v1/customers/"+cid, map[string]any{"policy": "careful"})
	f.mustCreate("/v1/invoices", map[string]any{"customer_id": cid, "number": "AP-1", "total": 100, "issued_on": "2026-11-01", "due_on": "2026-11-23"})
	f.clock.Set(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	if _, err := f.server.Sweeper().Run(t.Context(), f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	drafts := f.Do("GET", "/v1/dunning/drafts", nil).Map(t)["data"].([]any)
	if len(drafts) != 1 {
		t.Fatalf("drafts = %v", drafts)
	}
	approve := drafts[0].(map[string]any)["approve_path"].(string)
	if res := f.As(f.keys[auth.Viewer]).Do("POST", approve, nil); res.Status != 403 {
		t.Errorf("a viewer approved: %d", res.Status)
	}
	res := f.As(f.keys[auth.Collector]).Do("POST", approve, nil)
	if res.Status != 200 || res.Map(t)["status"] != "sent" {
		t.Fatalf("approve = %d %s", res.Status, res.Body)
	}
	if res := f.Do("POST", approve, nil); res.Status != 409 {
		t.Errorf("approving twice = %d", res.Status)
	}
	if n := len(f.Do("GET", "/v1/dunning/drafts", nil).Map(t)["data"].([]any)); n != 0 {
		t.Errorf("%d drafts left after approval", n)
	}
}

func TestContactsAreLoggedAndListedNewestFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	if res := f.Do("POST", "/v1/customers/"+cid+"/contacts", map[string]any{"channel": "pigeon", "summary": "x"}); res.Status != 422 {
		t.Errorf("unknown channel = %d", res.Status)
	}
	res := f.As(f.keys[auth.Collector]).Do("POST", "/v1/customers/"+cid+"/contacts", map[string]any{"channel": "phone", "summary": "Promised to pay Friday", "response": true})
	if res.Status != 201 {
		t.Fatalf("log = %d %s", res.Status, res.Body)
	}
	f.clock.Set(f.clock.Now().Add(time.Hour))
	f.Do("POST", "/v1/customers/"+cid+"/contacts", map[string]any{"channel": "note", "summary": "Sent copy invoice"})
	list := f.Do("GET", "/v1/customers/"+cid+"/contacts", nil).Map(t)["data"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["channel"] != "note" {
		t.Errorf("contacts = %v", list)
	}
	if c := f.Do("GET", "/v1/customers/"+cid, nil).Map(t); c["last_response_at"] == nil {
		t.Error("a response did not set last_response_at")
	}
	if res := f.Do("GET", "/v1/customers/"+cid+"/contacts?cursor=x", nil); res.Status != 400 {
		t.Errorf("cursor on contacts = %d", res.Status)
	}
}

func TestContactsRecordDirectionOutcomeReasonAndFollowUp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	path := "/v1/customers/" + cid + "/contacts"
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"channel": "phone", "summary": "x", "reason": "the dog ate it"}, "reason"},
		{map[string]any{"channel": "phone", "summary": "x", "direction": "sideways"}, "direction"},
		{map[string]any{"channel": "phone", "summary": "x", "follow_up_on": "next week"}, "follow_up_on"},
	} {
		res := f.Do("POST", path, tc.body)
		if _, field := res.ErrorField(t); res.Status != 422 || field != tc.field {
			t.Errorf("%v = %d naming %q, want 422 naming %q", tc.body, res.Status, field, tc.field)
		}
	}
	res := f.Do("POST", path, map[string]any{"channel": "phone", "summary": "Called the AP clerk", "direction": "inbound",
		"outcome": "will pay half now", "reason": "cash_flow", "follow_up_on": "2026-12-01", "response": true})
	if res.Status != 201 {
		t.Fatalf("log = %d %s", res.Status, res.Body)
	}
	got := f.get(path)["data"].([]any)
	if len(got) != 1 {
		t.Fatalf("%d contacts (bad input wrote some)", len(got))
	}
	c := got[0].(map[string]any)
	eq(t, "contact", fmt.Sprint(c["direction"], " | ", c["outcome"], " | ", c["reason"], " | ", c["follow_up_on"]), "inbound | will pay half now | cash_flow | 2026-12-01")
}

func TestFollowUpsListWhatIsDueForEachCollector(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	sams := f.customer(map[string]any{"name": "Sam's"})
	kims := f.customer(map[string]any{"name": "Kim's"})
	for id, owner := range map[string]string{sams: "sam@firm.example", kims: "kim@firm.example"} {
		if res := f.Do("PATCH", "/v1/customers/"+id, map[string]any{"owner": owner}); res.Status != 200 {
			t.Fatalf("owner = %d %s", res.Status, res.Body)
		}
	}
	log := func(id, followUp string) {
		body := map[string]any{"channel": "phone", "summary": "called"}
		if followUp != "" {
			body["follow_up_on"] = followUp
		}
		if res := f.Do("POST", "/v1/customers/"+id+"/contacts", body); res.Status != 201 {
			t.Fatalf("contact = %d %s", res.Status, res.Body)
		}
	}
	log(sams, "2026-11-25")
	log(kims, "2026-11-24")
	names := func(path string) []string {
		var out []string
		for _, c := range f.get(path)["data"].([]any) {
			out = append(out, c.(map[string]any)["name"].(string))
		}
		return out
	}
	eq(t, "due today (2026-11-23)", names("/v1/follow-ups"), []string(nil))
	eq(t, "due by the 25th", names("/v1/follow-ups?on=2026-11-25"), []string{"Kim's", "Sam's"})
	eq(t, "Sam's, by the 25th", names("/v1/follow-ups?on=2026-11-25&owner=SAM@firm.example"), []string{"Sam's"})
	eq(t, "customer", fmt.Sprint(f.get("/v1/customers/" + sams)["follow_up_on"]), "2026-11-25")
	// A page at a time.
	first := f.get("/v1/follow-ups?on=2026-11-25&limit=1")
	eq(t, "first page", fmt.Sprint(len(first["data"].([]any)), " ", first["data"].([]any)[0].(map[string]any)["name"]), "1 Kim's")
	second := f.get("/v1/follow-ups?on=2026-11-25&limit=1&cursor=" + first["next_cursor"].(string))
	eq(t, "second page", fmt.Sprint(len(second["data"].([]any)), " ", second["data"].([]any)[0].(map[string]any)["name"], " ", second["next_cursor"]), "1 Sam's <nil>")
	// The follow-up happened: a contact without a new date clears it.
	log(sams, "")
	eq(t, "after Sam called", names("/v1/follow-ups?on=2026-11-30"), []string{"Kim's"})
	if res := f.Do("GET", "/v1/follow-ups?on=soon", nil); res.Status != 400 {
		t.Errorf("on=soon = %d", res.Status)
	}
}

// A grade belongs to one policy at most; grades are A to D.
func TestPoliciesClaimGrades(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	steps := []map[string]any{{"name": "nudge", "offset_days": 3, "tone": "reminder", "email": true}}
	if res := f.Do("PUT", "/v1/policies/gentle", map[string]any{"steps": steps, "grades": []string{"A", "B"}}); res.Status != 200 {
		t.Fatalf("gentle = %d %s", res.Status, res.Body)
	}
	res := f.Do("PUT", "/v1/policies/soft", map[string]any{"steps": steps, "grades": []string{"B"}})
	if code, field := res.ErrorField(t); res.Status != 409 || field != "grades" {
		t.Errorf("a second claim on B = %d %s %s", res.Status, code, field)
	}
	res = f.Do("PUT", "/v1/policies/soft", map[string]any{"steps": steps, "grades": []string{"E"}})
	if _, field := res.ErrorField(t); res.Status != 422 || field != "grades[0]" {
		t.Errorf("grade E = %d %s", res.Status, field)
	}
	// Re-putting the same policy keeps its own claim.
	if res := f.Do("PUT", "/v1/policies/gentle", map[string]any{"steps": steps, "grades": []string{"A"}}); res.Status != 200 {
		t.Errorf("gentle again = %d %s", res.Status, res.Body)
	}
	if res := f.Do("PUT", "/v1/policies/soft", map[string]any{"steps": steps, "grades": []string{"B"}}); res.Status != 200 {
		t.Errorf("B once released = %d %s", res.Status, res.Body)
	}
}
