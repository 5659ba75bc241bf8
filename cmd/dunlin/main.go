// Command dunlin is Dunlin's command line: the local stack for development
// and the administration commands that talk straight to the table.
//
//	dunlin dev                     run everything locally (make dev)
//	dunlin sweep [--now T]         run the dunning sweep once
//	dunlin keys create|list|revoke manage API keys
//	dunlin webhook FILE            sign and post a webhook (samples in events/)
//	dunlin cost --customers N      estimate the monthly AWS bill
//	dunlin import FILE...          import customers or invoices (CSV, .xlsx)
//	dunlin export customers        write them out in the columns import reads
//	dunlin customers|invoices      list them from the API (local or deployed)
//	dunlin with-servers -- CMD     run CMD with local DynamoDB and SES (make test)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `dunlin - accounts receivable and dunning

Usage:
  dunlin dev [flags]                       run the whole product locally on 127.0.0.1
  dunlin sweep [--now RFC3339]             run the dunning sweep once, as of an instant
  dunlin email --tone T --language L       render a dunning email with sample data
  dunlin keys create --role ROLE --name N  create an API key and print it
  dunlin keys list                         list API keys
  dunlin keys revoke KEY_ID                revoke an API key
  dunlin webhook [--url U] FILE.json       sign a webhook body (events/) and post it
  dunlin cost --customers N [flags]        estimate the monthly AWS bill
  dunlin import [--dry-run] FILE...        import customers or invoices from CSV or .xlsx files
  dunlin export customers|invoices         write them as CSV or .xlsx (--out FILE.xlsx)
  dunlin customers [--api URL --key K]     list customers from the API (make dev's, or a deployed one)
  dunlin invoices [--status overdue]       list invoices and what is owed on them
  dunlin with-servers -- CMD [ARGS...]     run CMD with DynamoDB Local and SES local started

Run "dunlin COMMAND --help" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		var exit exitError
		if errors.As(err, &exit) {
			os.Exit(int(exit))
		}
		fmt.Fprintln(os.Stderr, "dunlin:", err)
		os.Exit(1)
	}
}

// exitError passes a child command's exit status through.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "dev":
		return runDev(ctx, args[1:], stdout, stderr)
	case "sweep":
		return runSweep(ctx, args[1:], stdout, stderr)
	case "email":
		return runEmail(ctx, args[1:], stdout, stderr)
	case "keys":
		return runKeys(ctx, args[1:], stdout, stderr)
	case "webhook":
		return runWebhook(ctx, args[1:], stdout, stderr)
	case "cost":
		return runCost(ctx, args[1:], stdout, stderr)
	case "import":
		return runImport(ctx, args[1:], stdout, stderr)
	case "export":
		return runExport(ctx, args[1:], stdout, stderr)
	case "customers":
		return runCustomers(ctx, args[1:], stdout, stderr)
	case "invoices":
		return runInvoices(ctx, args[1:], stdout, stderr)
	case "with-servers":
		return runWithServers(ctx, args[1:], stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// envOr returns the environment variable name, or def when it is unset.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
