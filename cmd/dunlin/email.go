package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"dunlin/shared/dunning"
	"dunlin/shared/emails"
)

// runEmail renders a dunning email with sample data, to see the wording:
// dunlin email --tone final --language zh-CN --part html > final.html
func runEmail(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("email", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tone := fs.String("tone", "reminder", "friendly, reminder, firm, final or escalation")
	lang := fs.String("language", "en", "en or zh-CN")
	part := fs.String("part", "text", "text, html or subject")
	if err := fs.Parse(args); err != nil {
		return err
	}
	e, err := emails.Render(*lang, dunning.Tone(*tone), emails.Sample(*lang))
	if err != nil {
		return err
	}
	switch *part {
	case "html":
		_, err = io.WriteString(stdout, e.HTML)
	case "subject":
		_, err = fmt.Fprintln(stdout, e.Subject)
	case "text":
		_, err = fmt.Fprintf(stdout, "Subject: %s\n\n%s", e.Subject, e.Text)
	default:
		return fmt.Errorf("--part must be text, html or subject")
	}
	return err
}
