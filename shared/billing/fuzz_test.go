package billing

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"dunlin/shared/money"
)

// FuzzValidateCustomer: validation never panics, and what it accepts is
// clean: a name, an address with an @, a known language, a currency CLDR
// knows, a zone Go can load.
func FuzzValidateCustomer(f *testing.F) {
	f.Add("Acme Ltd", "ap@acme.example", "en", "Europe/Dublin", "eur")
	f.Add("", "", "", "", "")
	f.Add("<script>alert(1)</script>", "a@b", "zh-CN", "../../etc/passwd", "XXX")
	f.Add(strings.Repeat("n", 300), "x@y.z\r\nBcc: victim@example.com", "fr", "Local", "JPY")
	f.Fuzz(func(t *testing.T, name, email, lang, zone, currency string) {
		c := &Customer{Name: name, Email: email, Language: lang, Timezone: zone, Currency: currency}
		if err := validateCustomer(c); err != nil {
			return
		}
		if strings.TrimSpace(c.Name) == "" || !utf8.ValidString(c.Name) {
			t.Errorf("accepted name %q", c.Name)
		}
		if !strings.Contains(c.Email, "@") || strings.ContainsAny(c.Email, "\r\n") {
			t.Errorf("accepted address %q", c.Email)
		}
		if c.Language != "en" && c.Language != "zh-CN" {
			t.Errorf("accepted language %q", c.Language)
		}
		if _, err := money.NormalizeCurrency(c.Currency); err != nil {
			t.Errorf("accepted currency %q", c.Currency)
		}
		if c.Timezone != "" {
			if _, err := time.LoadLocation(c.Timezone); err != nil {
				t.Errorf("accepted zone %q", c.Timezone)
			}
		}
	})
}

// FuzzLocation: any stored zone name gives a usable location.
func FuzzLocation(f *testing.F) {
	for _, s := range []string{"", "UTC", "Asia/Shanghai", "America/New_York", "../x", "Local", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if Location(name) == nil {
			t.Fatalf("Location(%q) is nil", name)
		}
	})
}
