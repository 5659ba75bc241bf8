package emails

import (
	"regexp"
	"strings"
	"testing"

	"dunlin/shared/dunning"
)

// tagStart is what would open markup: "<" before a letter, "/", "!" or "?".
var tagStart = regexp.MustCompile(`<[a-zA-Z/!?]`)

// FuzzHostileCustomerData: whatever a customer's name, an invoice number
// or a payment link holds, the HTML email carries it escaped: markup in it
// never reaches the email as markup.
func FuzzHostileCustomerData(f *testing.F) {
	f.Add("Acme Ltd", "INV-1", "https://pay.example.com/1")
	f.Add(`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, "javascript:alert(1)")
	f.Add("{{.FirmName}}", "{{template \"x\"}}", "https://x/?a=<b>")
	f.Add("华信贸易 <b>", "发票<1>", "data:text/html,<script>")
	f.Fuzz(func(t *testing.T, name, number, url string) {
		for _, lang := range []string{"en", "zh-CN"} {
			d := Sample(lang)
			d.CustomerName = name
			d.Lines[0].Number = number
			d.Lines[0].PaymentURL = url
			e, err := Render(lang, dunning.Firm, d)
			if err != nil {
				t.Fatalf("render with %q, %q, %q: %v", name, number, url, err)
			}
			for _, v := range []string{name, number} {
				if tagStart.MatchString(v) && strings.Contains(e.HTML, v) {
					t.Fatalf("%q reached the HTML unescaped", v)
				}
			}
			if strings.Contains(e.HTML, `href="javascript:`) || strings.Contains(e.HTML, `href="data:`) {
				t.Fatalf("a script link reached the HTML: %q", url)
			}
		}
	})
}
