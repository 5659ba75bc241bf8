package emails

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	texttemplate "text/template"
)

// DigestAlert is one alert as the daily digest lists it.
type DigestAlert struct {
	Kind     string // e.g. promise_broken
	Customer string // the customer's name (or id when it could not be read)
	Message  string
	At       string // when it was raised, firm-local "2006-01-02 15:04"
}

// Digest is the firm's daily digest of new alerts, for its collections
// inbox (in English, like the internal escalation emails).
type Digest struct {
	FirmName string
	Day      string // the firm-local day it covers up to
	Alerts   []DigestAlert
	Open     int // alerts in the digest still open when it was written
}

var (
	digestText = texttemplate.Must(texttemplate.New("digest").Parse(`Dunlin daily digest for {{.FirmName}}, {{.Day}}

{{len .Alerts}} new alert(s) since the last digest{{if .Open}}, {{.Open}} still open{{end}}:
{{range .Alerts}}
- [{{.Kind}}] {{.Customer}}: {{.Message}} ({{.At}}){{end}}

Acknowledge or resolve them with POST /v1/alerts/{id}/acknowledge or /resolve.
`))
	digestHTML = htmltemplate.Must(htmltemplate.New("digest").Parse(`<!doctype html>
<html><body style="font-family:system-ui,sans-serif;color:#1c1917;">
<h2 style="font-size:18px;">Dunlin daily digest for {{.FirmName}}, {{.Day}}</h2>
<p>{{len .Alerts}} new alert(s) since the last digest{{if .Open}}, {{.Open}} still open{{end}}.</p>
<table style="border-collapse:collapse;font-size:14px;">
<tr style="text-align:left;border-bottom:1px solid #a8a29e;"><th style="padding:6px;">Alert</th><th style="padding:6px;">Customer</th><th style="padding:6px;">What happened</th><th style="padding:6px;">When</th></tr>
{{range .Alerts}}<tr style="border-bottom:1px solid #e7e5e4;"><td style="padding:6px;">{{.Kind}}</td><td style="padding:6px;">{{.Customer}}</td><td style="padding:6px;">{{.Message}}</td><td style="padding:6px;white-space:nowrap;">{{.At}}</td></tr>
{{end}}</table>
</body></html>
`))
)

// RenderDigest renders the daily digest. Customer names and messages are
// escaped in the HTML part.
func RenderDigest(d Digest) (*Email, error) {
	var text, html bytes.Buffer
	if err := digestText.Execute(&text, d); err != nil {
		return nil, fmt.Errorf("render digest text: %w", err)
	}
	if err := digestHTML.Execute(&html, d); err != nil {
		return nil, fmt.Errorf("render digest html: %w", err)
	}
	return &Email{Subject: fmt.Sprintf("Dunlin digest %s: %d new alert(s)", d.Day, len(d.Alerts)), Text: text.String(), HTML: html.String()}, nil
}
