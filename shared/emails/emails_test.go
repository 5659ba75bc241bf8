package emails

import (
	"strings"
	"testing"

	"dunlin/shared/dunning"
)

func sample() Data {
	return Data{
		FirmName: "Dunlin Demo Ltd", CustomerName: "Acme GmbH", CustomerEmail: "ap@acme.example",
		Lines: []Line{
			{Number: "INV-1", IssuedOn: "2026-11-01", DueOn: "2026-12-01", DaysOverdue: 7, Balance: "€1,234.56", PaymentURL: "https://pay.example.com/1"},
			{Number: "INV-2", IssuedOn: "2026-11-05", DueOn: "2026-12-05", DaysOverdue: 3, Balance: "€10.00"},
		},
		Totals: []string{"€1,244.56"},
	}
}

// TestEveryTemplateRendersInBothLanguages renders every tone in every
// language, for one invoice and for several.
func TestEveryTemplateRendersInBothLanguages(t *testing.T) {
	for _, lang := range Languages {
		for _, tone := range dunning.Tones {
			for _, d := range []Data{sample(), {FirmName: "F", CustomerName: "C", Lines: sample().Lines[:1], Totals: []string{"€1,234.56"}}} {
				e, err := Render(lang, tone, d)
				if err != nil {
					t.Fatalf("%s %s: %v", lang, tone, err)
				}
				if e.Subject == "" || strings.Contains(e.Subject, "\n") || strings.Contains(e.Subject, "<no value>") {
					t.Errorf("%s %s subject %q", lang, tone, e.Subject)
				}
				for _, part := range []string{e.HTML, e.Text} {
					for _, want := range []string{"INV-1", "2026-12-01", "€1,234.56"} {
						if !strings.Contains(part, want) {
							t.Errorf("%s %s: a part lacks %q", lang, tone, want)
						}
					}
					if strings.Contains(part, "<no value>") {
						t.Errorf("%s %s: unfilled placeholder", lang, tone)
					}
				}
				if !strings.Contains(e.HTML, `href="https://pay.example.com/1"`) {
					t.Errorf("%s %s: no pay button", lang, tone)
				}
			}
		}
	}
	zh, _ := Render("zh-CN", dunning.Reminder, sample())
	if !strings.Contains(zh.Subject, "逾期") || !strings.Contains(zh.HTML, `lang="zh-CN"`) {
		t.Errorf("Chinese reminder: %q", zh.Subject)
	}
	en, _ := Render("fr", dunning.Friendly, sample())
	if !strings.Contains(en.Subject, "invoices from Dunlin Demo Ltd") {
		t.Errorf("unknown language did not fall back to English: %q", en.Subject)
	}
}

func TestHostileCustomerDataIsEscapedInHTML(t *testing.T) {
	d := sample()
	d.CustomerName = `<script>alert(1)</script>"Bobby"`
	d.Lines[0].Number = `<img src=x onerror=alert(1)>`
	d.Lines[0].PaymentURL = `javascript:alert(1)`
	e, err := Render("en", dunning.Final, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "<img src=x", `href="javascript:`} {
		if strings.Contains(e.HTML, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	if !strings.Contains(e.HTML, "&lt;script&gt;") {
		t.Error("the customer's name is not shown escaped")
	}
}

func TestCheckRefusesIncompleteOrBrokenWording(t *testing.T) {
	c, err := load()
	if err != nil {
		t.Fatal(err)
	}
	clone := func() wording {
		w := wording{}
		for s, keys := range c.words["en"] {
			w[s] = map[string]string{}
			for k, v := range keys {
				w[s][k] = v
			}
		}
		return w
	}
	w := clone()
	delete(w["final"], "subject")
	if Check(w) == nil {
		t.Error("a missing subject was accepted")
	}
	w = clone()
	w["firm"]["intro"] = "{{.NoSuchField}}"
	if Check(w) == nil {
		t.Error("an unknown field was accepted")
	}
	w = clone()
	w["friendly"]["closing"] = "{{if}}"
	if Check(w) == nil {
		t.Error("a template that does not parse was accepted")
	}
}

// TestOverridesCannotMakeRenderingCostWithoutBound: a firm's phrase may
// branch and loop once, but not loop inside a loop (each level multiplies
// the work), call templates (recursion) or render a page of output.
func TestOverridesCannotMakeRenderingCostWithoutBound(t *testing.T) {
	nested := strings.Repeat("{{range $.Lines}}", 20) + "x" + strings.Repeat("{{end}}", 20)
	for name, c := range map[string]struct {
		p    Phrases
		want string // "" when accepted
	}{
		"a loop":             {Phrases{Intro: "{{range .Lines}}{{.Number}} {{end}}"}, ""},
		"branches":           {Phrases{Subject: "{{if .Single}}a{{else}}b{{end}} {{with .BrokenPromise}}{{.Amount}}{{end}}"}, ""},
		"a loop in a branch": {Phrases{Closing: "{{if .Single}}{{range .Lines}}x{{end}}{{end}}"}, ""},
		"nested loops":       {Phrases{Intro: nested}, "intro: a range inside a range"},
		"a loop in an else":  {Phrases{Intro: "{{range .Lines}}{{else}}{{range .Lines}}{{end}}{{end}}"}, "intro: a range inside a range"},
		"recursion":          {Phrases{Closing: `{{define "a"}}{{template "a"}}{{end}}{{template "a"}}`}, "closing: calling another template"},
		"a huge width":       {Phrases{Subject: `{{printf "%900000d" 1}}`}, "subject does not render"},
	} {
		field, err := CheckOverride("en", c.p)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused (%s): %v", name, field, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}
}
