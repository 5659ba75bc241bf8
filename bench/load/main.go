// Command load puts a running Dunlin API (make dev's, by default) under
// concurrent clients for a while, mixing reads and writes, then checks that
// every write it was told succeeded is there exactly once, and reports the
// latency percentiles as ratios to the run's own median.
//
//	go run ./bench/load --key dk_key_... [--url http://127.0.0.1:8080] [--clients 100] [--duration 60s]
//
// It exits non-zero on any error answer or lost write.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

type client struct {
	base, key string
	http      *http.Client
}

// call makes one request and returns its status and body.
func (c *client) call(ctx context.Context, method, path, idem string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

type stats struct {
	mu        sync.Mutex
	latencies map[string][]time.Duration // by operation
	errors    []string
}

func (s *stats) add(op string, d time.Duration, status int, err error, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latencies[op] = append(s.latencies[op], d)
	if err != nil || status >= 300 {
		if len(s.errors) < 20 {
			s.errors = append(s.errors, fmt.Sprintf("%s: %d %v %.200s", op, status, err, body))
		} else {
			s.errors = append(s.errors, "")
		}
	}
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "the API's base URL")
	key := flag.String("key", os.Getenv("DUNLIN_KEY"), "an admin API key (env DUNLIN_KEY)")
	clients := flag.Int("clients", 100, "concurrent clients")
	duration := flag.Duration("duration", 60*time.Second, "how long to run")
	customers := flag.Int("customers", 50, "customers to spread the load over")
	flag.Parse()
	if *key == "" {
		fmt.Fprintln(os.Stderr, "load: --key is required (the admin key make dev prints)")
		os.Exit(2)
	}
	if err := run(*base, *key, *clients, *customers, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(base, key string, clients, customers int, duration time.Duration) error {
	c := &client{base: base, key: key, http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}}
	ctx := context.Background()
	runID := fmt.Sprintf("load%d", time.Now().UnixNano()%1e9)

	// The customers the load is spread over.
	var ids []string
	for i := range customers {
		st, body, err := c.call(ctx, "POST", "/v1/customers", "", map[string]any{
			"name": fmt.Sprintf("Load %s %02d", runID, i), "email": fmt.Sprintf("%s-%02d@load.example", runID, i), "external_id": fmt.Sprintf("%s-C%02d", runID, i)})
		if err != nil || st != http.StatusCreated {
			return fmt.Errorf("create customer: %d %v %s", st, err, body)
		}
		var cu struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(body, &cu)
		ids = append(ids, cu.ID)
	}

	s := &stats{latencies: map[string][]time.Duration{}}
	var invoices, payments atomic.Int64
	invoicedBy := make([]atomic.Int64, customers)
	paidBy := make([]atomic.Int64, customers)
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for n := 0; time.Now().Before(deadline); n++ {
				ci := rng.IntN(customers)
				cid := ids[ci]
				op, method, path, idem := "", "GET", "", ""
				var body any
				switch x := rng.IntN(10); {
				case x < 3:
					op, path = "GET customer", "/v1/customers/"+cid
				case x < 5:
					op, path = "GET invoices", "/v1/invoices?customer_id="+cid+"&limit=20"
				case x < 6:
					op, path = "GET credit file", "/v1/customers/"+cid+"/credit"
				case x < 8:
					op, method, path = "POST invoice", "POST", "/v1/invoices"
					idem = fmt.Sprintf("%s-i-%d-%d", runID, w, n)
					body = map[string]any{"customer_id": cid, "total": 10000 + rng.IntN(90000), "external_id": idem}
				default:
					op, method, path = "POST payment", "POST", "/v1/payments"
					idem = fmt.Sprintf("%s-p-%d-%d", runID, w, n)
					body = map[string]any{"customer_id": cid, "amount": 100 + rng.IntN(900), "reference": idem}
				}
				start := time.Now()
				st, rb, err := c.call(ctx, method, path, idem, body)
				s.add(op, time.Since(start), st, err, rb)
				if err == nil && st == http.StatusCreated {
					switch op {
					case "POST invoice":
						invoices.Add(1)
						invoicedBy[ci].Add(1)
					case "POST payment":
						payments.Add(1)
						paidBy[ci].Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()

	// Reconcile: every write the API said it made is there, once.
	lost := 0
	for i, cid := range ids {
		n, err := count(ctx, c, "/v1/invoices?customer_id="+cid+"&limit=200")
		if err != nil {
			return err
		}
		m, err := count(ctx, c, "/v1/payments?customer_id="+cid+"&limit=200")
		if err != nil {
			return err
		}
		if int64(n) != invoicedBy[i].Load() || int64(m) != paidBy[i].Load() {
			lost++
			fmt.Printf("customer %s: %d invoices and %d payments stored, %d and %d acknowledged\n", cid, n, m, invoicedBy[i].Load(), paidBy[i].Load())
		}
	}

	var all []time.Duration
	ops := make([]string, 0, len(s.latencies))
	for op, ds := range s.latencies {
		all = append(all, ds...)
		ops = append(ops, op)
	}
	slices.Sort(ops)
	median := pct(all, 0.5)
	fmt.Printf("%d clients for %s: %d requests (%.0f/s), %d invoices and %d payments written, %d error answers, %d customers with lost or extra writes\n",
		clients, duration, len(all), float64(len(all))/duration.Seconds(), invoices.Load(), payments.Load(), len(s.errors), lost)
	fmt.Printf("%-16s %8s %8s %8s %8s %10s\n", "operation", "requests", "median", "p99", "max", "p99/median")
	for _, op := range append(ops, "all") {
		ds := all
		if op != "all" {
			ds = s.latencies[op]
		}
		p50, p99 := pct(ds, 0.5), pct(ds, 0.99)
		fmt.Printf("%-16s %8d %8s %8s %8s %10.1f\n", op, len(ds), p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), pct(ds, 1).Round(time.Millisecond), float64(p99)/float64(p50))
	}
	fmt.Printf("p99 of all requests is %.1f x the run's median (%s)\n", float64(pct(all, 0.99))/float64(median), median.Round(100*time.Microsecond))
	for _, e := range s.errors {
		if e != "" {
			fmt.Println("error:", e)
		}
	}
	if len(s.errors) > 0 || lost > 0 {
		return errors.New("errors or lost writes")
	}
	return nil
}

// count pages through a list and counts its items.
func count(ctx context.Context, c *client, path string) (int, error) {
	n, cursor := 0, ""
	for {
		p := path
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		st, body, err := c.call(ctx, "GET", p, "", nil)
		if err != nil || st != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %d %v %s", p, st, err, body)
		}
		var page struct {
			Data       []json.RawMessage `json:"data"`
			NextCursor *string           `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return 0, err
		}
		n += len(page.Data)
		if page.NextCursor == nil || *page.NextCursor == "" {
			return n, nil
		}
		cursor = *page.NextCursor
	}
}
