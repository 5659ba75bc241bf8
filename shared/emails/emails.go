// Package emails renders Dunlin's dunning emails: a subject, an HTML part
// and a plain-text part, per tone and per language (en, zh-CN).
//
// The wording lives in templates/<language>.yaml, one entry per tone, each
// phrase a small text/template over Data. The layouts (templates/layout.html
// and layout.txt) place the phrases and the invoice lines. The HTML layout is
// an html/template, so customer names, invoice numbers and links are escaped
// whatever they contain.
package emails

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	"sync"
	texttemplate "text/template"
	"text/template/parse"

	"go.yaml.in/yaml/v3"

	"dunlin/shared/dunning"
)

//go:embed templates
var files embed.FS

// Languages are the languages emails are written in.
var Languages = []string{"en", "zh-CN"}

// Line is one invoice in an email.
type Line struct {
	Number      string
	IssuedOn    string
	DueOn       string
	DaysOverdue int
	Balance     string // formatted for the language, e.g. "€1,234.56"
	Fee         string // a late fee added with this email, formatted; "" if none
	PaymentURL  string
	// Installment, on an installment plan, is which one the line asks
	// for, as "2/3"; DueOn and Balance are then that installment's.
	Installment string
}

// Data is what a template sees.
type Data struct {
	FirmName      string
	CustomerName  string
	CustomerEmail string
	Lines         []Line
	Totals        []string // one per currency, formatted
	// BrokenPromise, when set, is a promise to pay the customer broke;
	// the email says so before its usual text.
	BrokenPromise *Promise
	// StatementURL, when set, is the customer's statement page (signed,
	// for a limited time): open invoices, pay buttons, "I have paid",
	// "I dispute this".
	StatementURL string
}

// Promise is a promise to pay as an email mentions it.
type Promise struct {
	Date   string
	Amount string // formatted
}

// Single reports whether the email is about one invoice.
func (d Data) Single() bool { return len(d.Lines) == 1 }

// First is the first invoice line.
func (d Data) First() Line {
	if len(d.Lines) == 0 {
		return Line{}
	}
	return d.Lines[0]
}

// Email is a rendered message.
type Email struct {
	Subject string
	HTML    string
	Text    string
}

// wording is one language's file.
type wording map[string]map[string]string // section ("labels" or a tone) -> key -> template

var (
	load = sync.OnceValues(loadAll)
	// Tone colours: calm to serious.
	accents = map[dunning.Tone]string{
		dunning.Friendly: "#0f766e", dunning.Reminder: "#1d4ed8", dunning.Firm: "#b45309",
		dunning.Final: "#b91c1c", dunning.Escalation: "#6b21a8",
	}
)

type compiled struct {
	words  map[string]wording
	html   *htmltemplate.Template
	text   *texttemplate.Template
	phrase map[string]*texttemplate.Template // lang/section/key -> template
}

func loadAll() (*compiled, error) {
	c := &compiled{words: map[string]wording{}, phrase: map[string]*texttemplate.Template{}}
	var err error
	if c.html, err = htmltemplate.ParseFS(files, "templates/layout.html"); err != nil {
		return nil, err
	}
	if c.text, err = texttemplate.ParseFS(files, "templates/layout.txt"); err != nil {
		return nil, err
	}
	for _, lang := range Languages {
		b, err := files.ReadFile("templates/" + lang + ".yaml")
		if err != nil {
			return nil, err
		}
		var w wording
		if err := yaml.Unmarshal(b, &w); err != nil {
			return nil, fmt.Errorf("%s.yaml: %w", lang, err)
		}
		if err := Check(w); err != nil {
			return nil, fmt.Errorf("%s.yaml: %w", lang, err)
		}
		c.words[lang] = w
		for section, keys := range w {
			for k, src := range keys {
				t, _ := texttemplate.New(k).Option("missingkey=error").Parse(src) // Check parsed it already
				c.phrase[lang+"/"+section+"/"+k] = t
			}
		}
	}
	return c, nil
}

// Check validates one language's wording: every tone has a subject, intro
// and closing, labels are complete, and every phrase parses and renders
// against sample data. It is also how overrides will be validated on save.
func Check(w wording) error {
	need := map[string][]string{"labels": {"greeting", "invoice", "issued", "due", "overdue", "balance", "fee", "total", "pay", "signature", "footer"}}
	for _, t := range dunning.Tones {
		need[string(t)] = []string{"subject", "intro", "closing"}
	}
	sample := Data{FirmName: "Firm", CustomerName: "Customer", CustomerEmail: "c@example.com",
		Lines: []Line{{Number: "1", IssuedOn: "2026-01-01", DueOn: "2026-01-31", DaysOverdue: 3, Balance: "€1.00"}}}
	for section, keys := range need {
		for _, k := range keys {
			src, ok := w[section][k]
			if !ok || strings.TrimSpace(src) == "" {
				return fmt.Errorf("%s.%s is missing", section, k)
			}
			t, err := texttemplate.New(k).Option("missingkey=error").Parse(src)
			if err != nil {
				return fmt.Errorf("%s.%s: %w", section, k, err)
			}
			if err := t.Execute(&bytes.Buffer{}, sample); err != nil {
				return fmt.Errorf("%s.%s: %w", section, k, err)
			}
		}
	}
	return nil
}

// Phrases are the parts of a tone's email a firm may override.
type Phrases struct {
	Subject string `json:"subject"`
	Intro   string `json:"intro"`
	Closing string `json:"closing"`
}

// Overrides are a firm's own wording for one language, by tone. A missing
// tone or an empty phrase falls back to Dunlin's.
type Overrides map[dunning.Tone]Phrases

func (p Phrases) get(key string) string {
	switch key {
	case "subject":
		return p.Subject
	case "intro":
		return p.Intro
	case "closing":
		return p.Closing
	}
	return ""
}

// Default returns Dunlin's own phrases for a tone in a language.
func Default(lang string, tone dunning.Tone) (Phrases, error) {
	c, err := load()
	if err != nil {
		return Phrases{}, err
	}
	w, ok := c.words[lang]
	if !ok || tone.Severity() == 0 {
		return Phrases{}, fmt.Errorf("no wording for %s/%s", lang, tone)
	}
	t := w[string(tone)]
	return Phrases{Subject: t["subject"], Intro: t["intro"], Closing: t["closing"]}, nil
}

// CheckOverride validates a firm's phrases for one tone: each must parse
// and render against sample data with nothing missing. The error names the
// phrase ("subject", "intro" or "closing").
func CheckOverride(lang string, p Phrases) (field string, err error) {
	for _, k := range []string{"subject", "intro", "closing"} {
		src := p.get(k)
		if src == "" {
			continue
		}
		if len(src) > 4000 {
			return k, fmt.Errorf("%s is longer than 4000 characters", k)
		}
		t, err := texttemplate.New(k).Option("missingkey=error").Parse(src)
		if err != nil {
			return k, fmt.Errorf("%s does not parse: %v", k, err)
		}
		if err := simple(t.Root, 0); err != nil {
			return k, fmt.Errorf("%s: %v", k, err)
		}
		if err := t.Execute(&capped{left: maxPhraseOutput}, Sample(lang)); err != nil {
			return k, fmt.Errorf("%s does not render: %v", k, err)
		}
	}
	return "", nil
}

// maxPhraseOutput bounds what one phrase may render to: a sentence or a
// paragraph, never a page.
const maxPhraseOutput = 16 << 10

// capped is a writer that fails once it has taken its fill.
type capped struct{ left int }

func (c *capped) Write(p []byte) (int, error) {
	if c.left -= len(p); c.left < 0 {
		return 0, fmt.Errorf("it renders to more than %d bytes", maxPhraseOutput)
	}
	return len(p), nil
}

// simple refuses what a phrase has no need of and could make rendering
// cost without bound: a loop inside a loop (each level multiplies the
// work), and calls of other templates (recursion).
func simple(n parse.Node, loops int) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := simple(c, loops); err != nil {
				return err
			}
		}
	case *parse.RangeNode:
		if loops > 0 {
			return fmt.Errorf("a range inside a range is not allowed")
		}
		return branches(&n.BranchNode, loops+1)
	case *parse.IfNode:
		return branches(&n.BranchNode, loops)
	case *parse.WithNode:
		return branches(&n.BranchNode, loops)
	case *parse.TemplateNode:
		return fmt.Errorf("calling another template is not allowed")
	}
	return nil
}

func branches(b *parse.BranchNode, loops int) error {
	if err := simple(b.List, loops); err != nil {
		return err
	}
	return simple(b.ElseList, loops)
}

// Render writes the email for a tone in a language ("en" when unknown).
func Render(lang string, tone dunning.Tone, d Data) (*Email, error) {
	return RenderWith(lang, tone, d, nil)
}

// RenderWith is Render with a firm's overrides for the language.
func RenderWith(lang string, tone dunning.Tone, d Data, ov Overrides) (*Email, error) {
	c, err := load()
	if err != nil {
		return nil, fmt.Errorf("load email templates: %w", err)
	}
	if _, ok := c.words[lang]; !ok {
		lang = "en"
	}
	if tone.Severity() == 0 {
		return nil, fmt.Errorf("unknown tone %q", tone)
	}
	say := func(section, key string) (string, error) {
		var b bytes.Buffer
		t := c.phrase[lang+"/"+section+"/"+key]
		if src := ov[dunning.Tone(section)].get(key); src != "" {
			// Validated on save; parsing again here is microseconds.
			if t, err = texttemplate.New(key).Option("missingkey=error").Parse(src); err != nil {
				return "", fmt.Errorf("%s override %s.%s: %w", lang, section, key, err)
			}
		}
		if err := t.Execute(&b, d); err != nil {
			return "", fmt.Errorf("%s %s.%s: %w", lang, section, key, err)
		}
		return b.String(), nil
	}
	view := map[string]any{"Lang": lang, "Lines": d.Lines, "Totals": d.Totals, "Accent": accents[tone], "StatementURL": d.StatementURL}
	labels := map[string]string{}
	for k := range c.words[lang]["labels"] {
		if labels[k], err = say("labels", k); err != nil {
			return nil, err
		}
	}
	view["Labels"] = labels
	view["Greeting"], view["Signature"], view["Footer"] = labels["greeting"], labels["signature"], labels["footer"]
	view["BrokenPromise"] = labels["broken_promise"] // empty unless d.BrokenPromise is set
	for _, k := range []string{"subject", "intro", "closing"} {
		s, err := say(string(tone), k)
		if err != nil {
			return nil, err
		}
		view[strings.ToUpper(k[:1])+k[1:]] = s
	}
	// A subject is one line whatever the data held.
	subject := strings.Join(strings.Fields(view["Subject"].(string)), " ")
	view["Subject"] = subject
	var html, text bytes.Buffer
	if err := c.html.Execute(&html, view); err != nil {
		return nil, fmt.Errorf("render html: %w", err)
	}
	if err := c.text.Execute(&text, view); err != nil {
		return nil, fmt.Errorf("render text: %w", err)
	}
	return &Email{Subject: subject, HTML: html.String(), Text: text.String()}, nil
}

// Sample is example data for previews of the wording.
func Sample(lang string) Data {
	if lang == "zh-CN" {
		return Data{FirmName: "示例贸易有限公司", CustomerName: "华信贸易有限公司", CustomerEmail: "finance@huaxin.example",
			Lines: []Line{
				{Number: "INV-2026-0117", IssuedOn: "2026-10-15", DueOn: "2026-11-14", DaysOverdue: 14, Balance: "¥8,800.00", PaymentURL: "https://pay.example.com/INV-2026-0117"},
				{Number: "INV-2026-0142", IssuedOn: "2026-10-28", DueOn: "2026-11-27", DaysOverdue: 1, Balance: "¥1,250.00", PaymentURL: "https://pay.example.com/INV-2026-0142"},
			},
			Totals: []string{"¥10,050.00"}}
	}
	return Data{FirmName: "Example Ltd", CustomerName: "Acme Tools GmbH", CustomerEmail: "ap@acme-tools.example",
		Lines: []Line{
			{Number: "INV-2026-0117", IssuedOn: "2026-10-15", DueOn: "2026-11-14", DaysOverdue: 14, Balance: "€8,800.00", PaymentURL: "https://pay.example.com/INV-2026-0117"},
			{Number: "INV-2026-0142", IssuedOn: "2026-10-28", DueOn: "2026-11-27", DaysOverdue: 1, Balance: "€1,250.00", PaymentURL: "https://pay.example.com/INV-2026-0142"},
		},
		Totals: []string{"€10,050.00"}}
}
