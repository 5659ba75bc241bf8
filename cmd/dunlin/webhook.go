package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/stripe/stripe-go/v85/webhook"

	"dunlin/shared/webhooks"
)

// runWebhook signs a webhook body the way Stripe (or the generic scheme)
// does and posts it, so a developer can replay the samples in events/
// against the local stack or a deployed one.
func runWebhook(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dunlin webhook [flags] FILE.json\n\nSigns FILE (a Stripe event or a generic payment event) and posts it.")
		fs.PrintDefaults()
	}
	provider := fs.String("provider", "", "stripe or generic (default: stripe when the file is a Stripe event)")
	base := fs.String("url", envOr("DUNLIN_URL", "http://127.0.0.1:8080"), "base URL of the stack (env DUNLIN_URL)")
	secret := fs.String("secret", "", "signing secret (default: the local stack's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("give one file")
	}
	body, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	if *provider == "" {
		*provider = "generic"
		if bytes.Contains(body, []byte(`"object": "event"`)) || bytes.Contains(body, []byte(`"object":"event"`)) {
			*provider = "stripe"
		}
	}
	header := "Stripe-Signature"
	switch *provider {
	case "stripe":
		if *secret == "" {
			*secret = envOr("DUNLIN_STRIPE_WEBHOOK_SECRETS", devStripeSecret)
		}
	case "generic":
		header = webhooks.GenericSignatureHeader
		if *secret == "" {
			*secret = envOr("DUNLIN_GENERIC_WEBHOOK_SECRETS", devGenericSecret)
		}
	default:
		return fmt.Errorf("--provider %q: want stripe or generic", *provider)
	}
	*secret, _, _ = strings.Cut(*secret, ",") // the first of a rotation list signs
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(*base, "/")+"/v1/webhooks/"+*provider, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(header, webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: *secret}).Header)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	fmt.Fprintf(stdout, "%s %s", res.Status, out)
	if res.StatusCode/100 != 2 {
		return exitError(1)
	}
	return nil
}
