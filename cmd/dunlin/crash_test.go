package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"dunlin/shared/billing"
	"dunlin/shared/dunning"
	"dunlin/shared/store"
	"dunlin/shared/sweep"
	"dunlin/shared/testenv"
)

// TestMain lets the test binary stand in for the dunlin command, so the
// crash test can start real processes and kill them.
func TestMain(m *testing.M) {
	if os.Getenv("DUNLIN_TEST_AS_CLI") == "1" {
		if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestKilledSweepsNeverSendTwice seeds a few hundred customers with an
// email due, then starts `dunlin sweep` as a real process and kills it
// (SIGKILL: no deferred code, no cleanup) at a random moment, 50 times.
// A last run finishes the work and one after the stale-claim time settles
// what the killed runs left. In SES local's store, every customer got at
// most one email, and every customer who got none has a send reported in
// doubt.
func TestKilledSweepsNeverSendTwice(t *testing.T) {
	t.Parallel()
	const customers, kills = 300, 50
	db, table := testenv.NewTable(t)
	st := store.New(db, table)
	now := time.Now().UTC().Truncate(time.Second)
	bill, err := billing.NewService(st, billing.Firm{Timezone: "UTC", DefaultCurrency: "EUR", DefaultTermsDays: 30}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	domain := fmt.Sprintf("crash%d.example", now.UnixNano()%1e9)
	ctx := context.Background()
	testenv.SeedDue(t, bill, customers, func(i int) string { return fmt.Sprintf("c%03d@%s", i, domain) }, now)
	// Every hour and day open, so the window never holds an email back.
	pol := dunning.Standard()
	if err := st.PutPolicy(ctx, &pol, now); err != nil {
		t.Fatal(err)
	}

	ses := testenv.SESEndpoint(t)
	sweepAt := func(at time.Time) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "sweep", "--table", table, "--dynamodb-endpoint", testenv.DynamoDBEndpoint(t), "--ses-endpoint", ses,
			"--now", at.Format(time.RFC3339))
		cmd.Env = append(os.Environ(), "DUNLIN_TEST_AS_CLI=1", "DUNLIN_FIRM_TIMEZONE=UTC", "DUNLIN_SENDER=ar@firm.example",
			"DUNLIN_SEND_HOURS=0-24", "DUNLIN_SEND_DAYS=all", "DUNLIN_DIGEST_HOUR=off", "DUNLIN_SES_MAX_SEND_RATE=0")
		return cmd
	}
	rng := rand.New(rand.NewPCG(5, 6))
	killed := 0
	for range kills {
		cmd := sweepAt(now)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(150+rng.IntN(750)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		if err := cmd.Wait(); err != nil && strings.Contains(err.Error(), "killed") {
			killed++ // died mid-run, not after finishing
		}
	}
	summary := func(at time.Time) sweep.Summary {
		t.Helper()
		cmd := sweepAt(at)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sweep at %s: %v\n%s", at, err, stderr.String())
		}
		var sum sweep.Summary
		if err := json.Unmarshal(out, &sum); err != nil {
			t.Fatalf("sweep output %q: %v", out, err)
		}
		return sum
	}
	finish := summary(now)
	settle := summary(now.Add(dunning.StaleClaim + time.Minute))
	inDoubt := finish.InDoubt + settle.InDoubt

	got := map[string]int{}
	for _, e := range testenv.SentEmails(t, ses) {
		for _, to := range e.Destination.To {
			if strings.HasSuffix(to, "@"+domain) {
				got[to]++
			}
		}
	}
	missing := 0
	for i := range customers {
		to := fmt.Sprintf("c%03d@%s", i, domain)
		switch got[to] {
		case 0:
			missing++
		case 1:
		default:
			t.Errorf("%s got %d emails", to, got[to])
		}
	}
	t.Logf("%d of %d runs killed mid-run; the finishing run sent %d; %d customers emailed once, %d not emailed, %d sends in doubt",
		killed, kills, finish.Sent, customers-missing, missing, inDoubt)
	if killed < 5 {
		t.Errorf("only %d of %d runs were still going when killed: the kills proved little", killed, kills)
	}
	if missing > inDoubt {
		t.Errorf("%d customers got no email but only %d sends are in doubt", missing, inDoubt)
	}
}
