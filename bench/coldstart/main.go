// Command coldstart measures what a cold start of each Lambda function
// costs, against a hello-world baseline measured in the same run:
//
//   - deploy size: the linux/arm64 bootstrap, built exactly as the Makefile
//     and SAM build it, and the zip that holds it (goal: at most 4 MB);
//   - start time: from exec to the function's first request for an event
//     (GET /2018-06-01/runtime/invocation/next) from a local stand-in for
//     the Lambda Runtime API (goal: median at most 1.3 times hello's);
//   - package init time and allocations, from GODEBUG=inittrace=1;
//   - whether the function reaches for the network before it is ready:
//     the cold start must make no call (clients connect lazily).
//
// Run it from the module root:
//
//	go run ./bench/coldstart [--runs 20] [--symbols]
//
// The machines this runs on are shared and noisy, so no time is a result on
// its own: each is reported as a ratio to hello's, and the runs of all the
// functions are interleaved so that a busy moment slows them all alike.
// Times are measured on host-architecture binaries (the arm64 ones cannot
// run here); sizes are those of the arm64 binaries Lambda runs.
//
// --symbols also reports which packages take the room in each arm64 binary,
// to guide shrinking it. Progress goes to stderr; the report, Markdown ready
// for bench/README.md, goes to stdout.
package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"cmp"
	"compress/flate"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"dunlin/shared/cfntemplate"
)

// The functions, in the order their runs take turns. hello is the baseline.
var functions = []string{"api", "sweep", "webhooks", "mailevents", "hello"}

const baseline = "hello"

// pkgOf is the package a function is built from.
func pkgOf(name string) string {
	if name == baseline {
		return "./bench/coldstart/hello"
	}
	return "./functions/" + name
}

// Goals the report checks against.
const (
	goalZipMB      = 4.0
	goalStartRatio = 1.3
)

// nextPath is the request a Lambda runtime makes when it is ready for its
// first event: the end of the cold start as Lambda bills and users feel it.
const nextPath = "/2018-06-01/runtime/invocation/next"

// traceRuns is how many starts of each function are traced.
const traceRuns = 5

// startTimeout bounds one start: far more than any cold start should take.
const startTimeout = 30 * time.Second

// mb is the unit sizes are reported in: Lambda's limits (50 MB zipped,
// 250 MB unzipped) are in units of 2^20 bytes.
const mb = 1 << 20

func main() {
	runs := flag.Int("runs", 20, "starts of each function (interleaved)")
	symbols := flag.Bool("symbols", false, "also report which packages take the room in each binary")
	flag.Parse()
	if *runs < 1 {
		fail(errors.New("--runs must be at least 1"))
	}
	if err := run(*runs, *symbols); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "coldstart:", err)
	os.Exit(1)
}

func progress(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// result is everything measured about one function.
type result struct {
	name    string
	env     []string // the environment Lambda would give it
	arm     string   // the arm64 bootstrap, as deployed
	host    string   // the same, built for this machine
	binSize int64
	zipSize int64

	starts  []time.Duration // exec to first /next, one per run
	init    initSummary
	network []string // connections to the proxy before /next, one line each
	netRuns int      // starts that made any
	others  []string // requests to the Runtime API other than /next

	sizes []sizeRow // with --symbols
}

func run(runs int, symbols bool) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	envs, err := templateEnv(filepath.Join(root, "template.yaml"))
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "coldstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// An empty home, as on Lambda: the SDK must find no ~/.aws/config or
	// credentials file of the developer's.
	home := filepath.Join(tmp, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		return err
	}

	results := make([]*result, len(functions))
	for i, name := range functions {
		r := &result{name: name, env: append(lambdaEnv(name, home), envs[name]...)}
		results[i] = r
		progress("build %s", name)
		r.arm = filepath.Join(tmp, "linux-arm64", name, "bootstrap")
		if err := build(root, r.arm, pkgOf(name), "linux", "arm64", "-s -w"); err != nil {
			return err
		}
		if r.binSize, err = fileSize(r.arm); err != nil {
			return err
		}
		if r.zipSize, err = zipSize(r.arm); err != nil {
			return err
		}
		r.host = filepath.Join(tmp, runtime.GOOS+"-"+runtime.GOARCH, name, "bootstrap")
		if err := build(root, r.host, pkgOf(name), runtime.GOOS, runtime.GOARCH, "-s -w"); err != nil {
			return err
		}
		if symbols {
			// -w alone keeps the symbol table (-s drops it) and drops only
			// DWARF: the code and data are byte for byte those deployed.
			bin := filepath.Join(tmp, "symbols", name, "bootstrap")
			if err := build(root, bin, pkgOf(name), "linux", "arm64", "-w"); err != nil {
				return err
			}
			if r.sizes, err = sizeByPackage(root, bin, pkgOf(name)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}

	// A few starts each with the init trace on, apart from the timed ones
	// (the trace's own writes would be timed too). The first round doubles
	// as the warm-up: the first exec of a new binary pays for reading it
	// from disk. One trace on a busy machine can be far off, so the report
	// takes the median of traceRuns.
	progress("%d interleaved starts of each function with GODEBUG=inittrace=1", traceRuns)
	traces := make([][]initTrace, len(results))
	for range traceRuns {
		for i, r := range results {
			s, err := start(r.host, append(slices.Clip(r.env), "GODEBUG=inittrace=1"))
			if err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			traces[i] = append(traces[i], parseInitTrace(s.stderr))
			r.record(s)
		}
	}
	for i, r := range results {
		r.init = medianInit(traces[i])
	}

	progress("%d interleaved starts of each function", runs)
	for range runs {
		for _, r := range results {
			s, err := start(r.host, r.env)
			if err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			r.starts = append(r.starts, s.toNext)
			r.record(s)
		}
	}

	report(os.Stdout, results, runs, symbols)
	return nil
}

// record keeps what a start saw besides its time.
func (r *result) record(s started) {
	r.network = append(r.network, s.network...)
	if len(s.network) > 0 {
		r.netRuns++
	}
	r.others = append(r.others, s.others...)
}

// moduleRoot is the directory of the go.mod the program runs in.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run from inside the dunlin module: go run ./bench/coldstart")
	}
	return filepath.Dir(gomod), nil
}

// build builds a function as the Makefile's LAMBDA_ENV does; only the target
// platform and the linker flags vary.
func build(root, out, pkg, goos, goarch, ldflags string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch,
		"GOFLAGS=-tags=lambda.norpc -trimpath -buildvcs=false '-ldflags="+ldflags+"'")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s for %s/%s: %w\n%s", pkg, goos, goarch, err, out)
	}
	return nil
}

func fileSize(name string) (int64, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// counter is an io.Writer that only counts.
type counter int64

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }

// zipLevel is the deflate level of the zips measured. SAM CLI zips with
// Python's zipfile, at zlib's default level; Go's compress/flate packs a
// little less tightly than zlib at any level, so its best comes closest:
// about 2% over what SAM uploads (6.85 MB for 6.70). The sizes reported
// err on the large side of the goal, never the small.
const zipLevel = flate.BestCompression

// zipSize is the size of the deployment package: a zip holding only
// bootstrap, executable.
func zipSize(bin string) (int64, error) {
	f, err := os.Open(bin)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n counter
	zw := zip.NewWriter(&n)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, zipLevel)
	})
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(w, f); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return int64(n), nil
}

// lambdaEnv is the environment Lambda itself gives a provided.al2023
// function: its identity, region and the role's temporary credentials (dummy
// here). With credentials in the environment the SDK's default chain stops
// at them, as in AWS; nothing points it at a local endpoint. The process
// inherits nothing from the shell, so no developer setting can leak in.
func lambdaEnv(name, home string) []string {
	fn := "dunlin-" + strings.ToUpper(name[:1]) + name[1:] + "Function-Q1w2E3r4T5y6"
	return []string{
		"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		"HOME=" + home,
		"LAMBDA_TASK_ROOT=/var/task",
		"LAMBDA_RUNTIME_DIR=/var/runtime",
		"_HANDLER=bootstrap",
		"AWS_REGION=eu-west-1",
		"AWS_DEFAULT_REGION=eu-west-1",
		"AWS_LAMBDA_FUNCTION_NAME=" + fn,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + fn,
		"AWS_LAMBDA_LOG_STREAM_NAME=2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
		"AWS_ACCESS_KEY_ID=ASIAQWERTYUIOPASDFGH",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////wEaCWV1LXdlc3QtMSJHMEUCIQD",
	}
}

// deployed holds plausible values for the template's references that have
// no default (the table's generated name, the firm's addresses), and for a
// few parameters a firm in eu-west-1 would set rather than leave at their
// defaults. Any other !Ref takes its parameter's default.
var deployed = map[string]string{
	"Table":            "dunlin-Table-1A2B3C4D5E6F7",
	"SenderEmail":      "receivables@example.co.uk",
	"ReplyToEmail":     "accounts@example.co.uk",
	"CollectionsEmail": "collections@example.co.uk",
	"FirmTimezone":     "Europe/London",
	"DefaultCurrency":  "GBP",
	"HolidayCountry":   "GB",
	"PublicUrl":        "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
	"ConfigurationSet": "ConfigurationSet-a1B2c3D4e5F6",
}

// templateEnv reads each function's environment from template.yaml, as SAM
// deploys it: Globals, then the function's own variables. It is read at run
// time so that the benchmark follows the template; a variable whose value
// it cannot work out is an error, not a silent omission. Functions are keyed
// by the last element of their CodeUri (functions/api/ is "api").
func templateEnv(file string) (map[string][]string, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	t, err := cfntemplate.Parse(src)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	top := doc.Content[0]
	params := cfntemplate.Get(top, "Parameters")
	globals := cfntemplate.Get(top, "Globals", "Function", "Environment", "Variables")

	envs := map[string][]string{}
	for _, f := range t.Functions() {
		res, _ := t.Resource(f.LogicalID)
		vars := map[string]string{}
		for _, m := range []*yaml.Node{globals, cfntemplate.Get(res, "Properties", "Environment", "Variables")} {
			for i := 0; m != nil && i+1 < len(m.Content); i += 2 {
				name, val := m.Content[i].Value, m.Content[i+1]
				v, err := resolve(val, params)
				if err != nil {
					return nil, fmt.Errorf("%s: %s of %s: %w", file, name, f.LogicalID, err)
				}
				vars[name] = v
			}
		}
		var env []string
		for _, k := range slices.Sorted(maps.Keys(vars)) {
			env = append(env, k+"="+vars[k])
		}
		envs[path.Base(strings.TrimSuffix(f.CodeURI, "/"))] = env
	}
	for _, name := range functions {
		if _, ok := envs[name]; !ok && name != baseline {
			return nil, fmt.Errorf("%s: no function with CodeUri functions/%s/", file, name)
		}
	}
	return envs, nil
}

// resolve is the value of a template scalar: a literal, or a !Ref to a
// parameter or resource.
func resolve(n *yaml.Node, params *yaml.Node) (string, error) {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!Ref":
		if v, ok := deployed[n.Value]; ok {
			return v, nil
		}
		if d := cfntemplate.Get(params, n.Value, "Default"); d != nil {
			return d.Value, nil
		}
		return "", fmt.Errorf("!Ref %s has no default: give it a plausible value in bench/coldstart's deployed map", n.Value)
	case n.Kind == yaml.ScalarNode && strings.HasPrefix(n.Tag, "!!"):
		return n.Value, nil
	}
	return "", fmt.Errorf("cannot evaluate %s at line %d: extend bench/coldstart's resolve", n.Tag, n.Line)
}

// started is what one start of a function saw.
type started struct {
	toNext  time.Duration
	stderr  string
	network []string
	others  []string
}

// start runs a bootstrap against a fresh stand-in for the Lambda Runtime
// API and returns when it asks for its first event, having killed it: the
// cold start is over by then, and no event needs serving.
//
// HTTP_PROXY and HTTPS_PROXY point at a listener that records every
// connection: the AWS SDK's and Stripe's HTTP clients honour them, so a
// call made during the cold start (to SSM, STS, or the instance metadata
// endpoint) shows up there instead of leaving the machine. It cannot see a
// dial that bypasses net/http's proxy support.
// The runtime API itself must not go through the proxy: aws-lambda-go
// v1.55 gives its client a transport with no proxy, net/http never proxies
// loopback addresses, and NO_PROXY says so a third time.
func start(bin string, env []string) (started, error) {
	var s started
	api, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return s, err
	}
	proxy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		api.Close()
		return s, err
	}

	var mu sync.Mutex // guards s.others and conns
	next := make(chan time.Time, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		if r.Method == http.MethodGet && r.URL.Path == nextPath {
			select {
			case next <- at:
			default:
			}
			<-r.Context().Done() // hold the request until the process is killed
			return
		}
		mu.Lock()
		s.others = append(s.others, r.Method+" "+r.URL.Path)
		mu.Unlock()
		http.Error(w, "not served by bench/coldstart", http.StatusNotFound)
	})}
	go srv.Serve(api)

	type conn struct {
		at   time.Time
		line string
	}
	var conns []*conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := proxy.Accept()
			if err != nil {
				return
			}
			rec := &conn{at: time.Now()}
			mu.Lock()
			conns = append(conns, rec)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				mu.Lock()
				rec.line = strings.TrimSpace(line) // "CONNECT ssm.eu-west-1.amazonaws.com:443 HTTP/1.1"
				mu.Unlock()
			})
		}
	})

	stop := sync.OnceFunc(func() {
		srv.Close()
		proxy.Close()
		wg.Wait()
	})
	defer stop()

	proxyURL := "http://" + proxy.Addr().String()
	cmd := exec.Command(bin)
	cmd.Env = append(slices.Clip(env),
		"AWS_LAMBDA_RUNTIME_API="+api.Addr().String(),
		"HTTP_PROXY="+proxyURL, "HTTPS_PROXY="+proxyURL, "NO_PROXY=127.0.0.1,localhost")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return s, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var nextAt time.Time
	select {
	case nextAt = <-next:
		s.toNext = nextAt.Sub(t0)
		cmd.Process.Kill()
		<-exited
	case err := <-exited:
		return s, fmt.Errorf("exited before asking for an event (%v)\nstderr:\n%s\nstdout:\n%s", err, withoutInitTrace(stderr.String()), &stdout)
	case <-time.After(startTimeout):
		cmd.Process.Kill()
		<-exited
		return s, fmt.Errorf("no request for an event within %v\nstderr:\n%s", startTimeout, &stderr)
	}
	stop()

	mu.Lock()
	defer mu.Unlock()
	s.stderr = stderr.String()
	for _, c := range conns {
		if c.at.Before(nextAt) {
			s.network = append(s.network, cmp.Or(c.line, "(a connection that sent nothing)"))
		}
	}
	return s, nil
}

// withoutInitTrace drops the init trace from a failed start's stderr, to
// leave the function's own words.
func withoutInitTrace(stderr string) string {
	var b strings.Builder
	for line := range strings.Lines(stderr) {
		if !initLine.MatchString(line) {
			b.WriteString(line)
		}
	}
	return b.String()
}

// initTrace is what GODEBUG=inittrace=1 prints, one line per package with
// an init:
//
//	init dunlin/shared/api @1.2 ms, 0.31 ms clock, 52144 bytes, 612 allocs
type initTrace struct {
	clockMS float64 // in all
	bytes   int64
	allocs  int64
	pkgs    map[string]float64 // clock ms by package
}

var initLine = regexp.MustCompile(`^init (\S+) @[0-9.]+ ms, ([0-9.]+) ms clock, ([0-9]+) bytes, ([0-9]+) allocs`)

func parseInitTrace(stderr string) initTrace {
	t := initTrace{pkgs: map[string]float64{}}
	for line := range strings.Lines(stderr) {
		m := initLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		clock, _ := strconv.ParseFloat(m[2], 64)
		b, _ := strconv.ParseInt(m[3], 10, 64)
		a, _ := strconv.ParseInt(m[4], 10, 64)
		t.clockMS += clock
		t.bytes += b
		t.allocs += a
		t.pkgs[m[1]] += clock
	}
	return t
}

// initSummary is the median of several traces of a function.
type initSummary struct {
	clockMS float64
	bytes   int64 // these two hardly vary from start to start
	allocs  int64
	top     []pkgInit // the five slowest packages, by median clock
}

type pkgInit struct {
	pkg     string
	clockMS float64
}

func medianInit(ts []initTrace) initSummary {
	median := func(v []float64) float64 {
		slices.Sort(v)
		return (v[(len(v)-1)/2] + v[len(v)/2]) / 2
	}
	var totals []float64
	byPkg := map[string][]float64{}
	for _, t := range ts {
		totals = append(totals, t.clockMS)
		for p, c := range t.pkgs {
			byPkg[p] = append(byPkg[p], c)
		}
	}
	last := ts[len(ts)-1]
	s := initSummary{clockMS: median(totals), bytes: last.bytes, allocs: last.allocs}
	for p, c := range byPkg {
		s.top = append(s.top, pkgInit{p, median(c)})
	}
	slices.SortFunc(s.top, func(a, b pkgInit) int {
		return cmp.Or(cmp.Compare(b.clockMS, a.clockMS), strings.Compare(a.pkg, b.pkg))
	})
	s.top = s.top[:min(5, len(s.top))]
	return s
}

// sizeRow is the room a package, or a module, takes in a binary.
type sizeRow struct {
	name   string
	module string
	bytes  int64
	zipped int64 // its bytes deflated on their own
}

// sizeByPackage attributes the bytes of an (unstripped) ELF binary to the
// packages they come from, by symbol: each function's code, each global's
// data. Symbols in .bss take no room in the file and are skipped.
//
// Not every byte has a symbol of its own. The linker does not name type
// descriptors, string data or most constants in .rodata, nor the function
// tables in .gopclntab; those bytes are reported by section. Both grow with
// the code: a package that adds code adds to them too.
//
// Each row's bytes are also deflated on their own, to estimate what it adds
// to the zip; deflated together they come out a little smaller.
func sizeByPackage(root, bin, pkg string) ([]sizeRow, error) {
	modules, err := moduleOf(root, pkg)
	if err != nil {
		return nil, err
	}
	f, err := elf.Open(bin)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return nil, err
	}
	type span struct {
		lo, hi uint64 // offsets in the section
		pkg    string
	}
	inFile := func(sec *elf.Section) bool { return sec.Flags&elf.SHF_ALLOC != 0 && sec.Type != elf.SHT_NOBITS }
	spans := map[*elf.Section][]span{}
	for _, s := range syms {
		if s.Size == 0 || s.Section == elf.SHN_UNDEF || int(s.Section) >= len(f.Sections) {
			continue
		}
		if sec := f.Sections[s.Section]; inFile(sec) {
			spans[sec] = append(spans[sec], span{s.Value - sec.Addr, s.Value - sec.Addr + s.Size, packageOf(s.Name, modules)})
		}
	}

	bytesOf := map[string]*bytes.Buffer{}
	add := func(name string, b []byte) {
		if bytesOf[name] == nil {
			bytesOf[name] = new(bytes.Buffer)
		}
		bytesOf[name].Write(b)
	}
	for _, sec := range f.Sections {
		if !inFile(sec) {
			continue
		}
		d, err := sec.Data()
		if err != nil {
			return nil, err
		}
		unnamed := cmp.Or(sectionContents[sec.Name], "("+sec.Name+" without symbols)")
		ss := spans[sec]
		slices.SortFunc(ss, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
		var end uint64 // of what has been attributed; symbols may overlap
		for _, sp := range ss {
			sp.hi = min(sp.hi, uint64(len(d)))
			if sp.lo > end {
				add(unnamed, d[end:sp.lo])
			}
			if sp.hi > end {
				add(sp.pkg, d[max(sp.lo, end):sp.hi])
				end = sp.hi
			}
		}
		if end < uint64(len(d)) {
			add(unnamed, d[end:])
		}
	}

	var rows []sizeRow
	for p, b := range bytesOf {
		var n counter
		w, _ := flate.NewWriter(&n, zipLevel)
		w.Write(b.Bytes())
		w.Close()
		m, ok := modules[p]
		if !ok {
			m = p // linker tables and data that belong to no package
		}
		rows = append(rows, sizeRow{name: p, module: m, bytes: int64(b.Len()), zipped: int64(n)})
	}
	return rows, nil
}

// sectionContents names what a section's bytes without symbols are.
var sectionContents = map[string]string{
	".gopclntab": "(.gopclntab: function names, line and PC tables)",
	".rodata":    "(.rodata: type descriptors, strings, constants)",
	".data":      "(.data without symbols)",
	".noptrdata": "(.noptrdata without symbols)",
}

// moduleOf maps each package linked into pkg's binary to its module; the
// standard library's packages map to "std".
func moduleOf(root, pkg string) (map[string]string, error) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{with .Module}}{{.Path}}{{else}}std{{end}}", pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOFLAGS=-tags=lambda.norpc")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps %s: %w", pkg, err)
	}
	modules := map[string]string{}
	for line := range strings.Lines(string(out)) {
		if p, m, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			modules[p] = m
		}
	}
	return modules, nil
}

// packageOf is the package a linker symbol belongs to: the longest known
// package path that prefixes its name before a dot. Names look like
//
//	github.com/aws/aws-sdk-go-v2/service/ssm.(*Client).GetParameter
//	type:*dunlin/shared/store.Store
//	go:itab.*net/http.Transport,net/http.RoundTripper
//	slices.SortFunc[go.shape.string]
//
// Type descriptors and itabs go to the package of the type. What fits none
// (the linker's own tables, unnamed types) is bucketed by its prefix.
// linkerTables are symbols named in package runtime that the linker fills
// with tables of the whole program.
var linkerTables = map[string]bool{"runtime.findfunctab": true, "runtime.typelink": true, "runtime.itablink": true}

func packageOf(sym string, known map[string]string) string {
	s := sym
	if rest, ok := strings.CutPrefix(s, "go:itab."); ok {
		s, _, _ = strings.Cut(rest, ",")
	} else if rest, ok := strings.CutPrefix(s, "type:"); ok {
		s = rest
	} else if linkerTables[s] {
		return "(linker tables)"
	} else if s == "go:func.*" {
		return "(go:func.*: stack and GC maps)"
	} else if strings.HasPrefix(s, "go:") {
		return "(other linker data)"
	}
	s = strings.TrimLeft(s, "*[]0123456789")
	if i := strings.IndexAny(s, "[ "); i >= 0 {
		s = s[:i] // type arguments are not the package's own
	}
	best := ""
	for i := range len(s) {
		if s[i] == '.' && len(s[:i]) > len(best) {
			if _, ok := known[s[:i]]; ok {
				best = s[:i]
			}
		}
	}
	if best == "" {
		if strings.HasPrefix(sym, "type:") {
			return "(unnamed types)"
		}
		return "(other)"
	}
	return best
}

// median and p90 of durations, in milliseconds; p90 by nearest rank.
func percentiles(d []time.Duration) (median, p90 float64) {
	s := slices.Clone(d)
	slices.Sort(s)
	ms := func(i int) float64 { return float64(s[i]) / float64(time.Millisecond) }
	n := len(s)
	median = (ms((n-1)/2) + ms(n/2)) / 2
	p90 = ms((9*n+9)/10 - 1)
	return median, p90
}

func report(w io.Writer, results []*result, runs int, symbols bool) {
	var hello float64
	for _, r := range results {
		if r.name == baseline {
			hello, _ = percentiles(r.starts)
		}
	}

	fmt.Fprintf(w, "### Package init (GODEBUG=inittrace=1, median of %d starts each)\n", traceRuns)
	fmt.Fprintln(w)
	for _, r := range results {
		var top []string
		for _, p := range r.init.top {
			top = append(top, fmt.Sprintf("%s %.2f", p.pkg, p.clockMS))
		}
		fmt.Fprintf(w, "- %s: %.2f ms clock, %.2f MB in %d allocs; slowest (ms): %s\n",
			r.name, r.init.clockMS, float64(r.init.bytes)/mb, r.init.allocs, strings.Join(top, ", "))
	}
	for _, r := range results {
		if len(r.others) > 0 {
			slices.Sort(r.others)
			fmt.Fprintf(w, "- %s also asked the Runtime API for: %s\n", r.name, strings.Join(slices.Compact(r.others), ", "))
		}
	}
	fmt.Fprintln(w)

	if symbols {
		for _, r := range results {
			sizeReport(w, r)
		}
	}

	fmt.Fprintln(w, "### Cold start")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| function | binary MB | zipped MB | init ms (inittrace) | start→/next median ms | p90 | ratio to hello | network at init |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---|")
	var missed []string
	for _, r := range results {
		median, p90 := percentiles(r.starts)
		ratio := median / hello
		network := "no"
		if len(r.network) > 0 {
			slices.Sort(r.network)
			network = fmt.Sprintf("**yes**, in %d of %d starts: %s", r.netRuns, runs+traceRuns, strings.Join(slices.Compact(r.network), "; "))
		}
		zipped := float64(r.zipSize) / mb
		fmt.Fprintf(w, "| %s | %.2f | %.2f | %.2f | %.1f | %.1f | %.2f | %s |\n",
			r.name, float64(r.binSize)/mb, zipped, r.init.clockMS, median, p90, ratio, network)
		if zipped > goalZipMB {
			missed = append(missed, fmt.Sprintf("%s zipped %.2f MB > %.0f MB", r.name, zipped, goalZipMB))
		}
		if ratio > goalStartRatio {
			missed = append(missed, fmt.Sprintf("%s start %.2f× hello's > %.1f×", r.name, ratio, goalStartRatio))
		}
		if len(r.network) > 0 {
			missed = append(missed, r.name+" calls the network at init")
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Goals: zipped ≤ %.0f MB, median start ≤ %.1f× hello's, no network at init. ", goalZipMB, goalStartRatio)
	if len(missed) == 0 {
		fmt.Fprintln(w, "All met.")
	} else {
		fmt.Fprintf(w, "Missed: %s.\n", strings.Join(missed, "; "))
	}
	fmt.Fprintf(w, "Sizes: linux/arm64 as deployed (MB = 2^20 bytes). Times: %d interleaved starts each on %s/%s, %d CPUs, %s.\n",
		runs, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Fprintln(w)
	cmdline := "go run ./bench/coldstart"
	if runs != 20 {
		cmdline += fmt.Sprintf(" --runs %d", runs)
	}
	if symbols {
		cmdline += " --symbols"
	}
	fmt.Fprintf(w, "Reproduce: `%s`\n", cmdline)
}

// sizeReport prints the ten packages, and the ten modules, that take the
// most room in a function's binary.
func sizeReport(w io.Writer, r *result) {
	var total, zipped, named int64
	byModule := map[string]*sizeRow{}
	for _, row := range r.sizes {
		total += row.bytes
		zipped += row.zipped
		if !strings.HasPrefix(row.name, "(") {
			named += row.bytes
		}
		m := byModule[row.module]
		if m == nil {
			m = &sizeRow{name: row.module}
			byModule[row.module] = m
		}
		m.bytes += row.bytes
		m.zipped += row.zipped
	}
	table := func(title string, rows []sizeRow) {
		slices.SortFunc(rows, func(a, b sizeRow) int { return cmp.Compare(b.zipped, a.zipped) })
		fmt.Fprintf(w, "| %s | KB | zipped KB | share of zip |\n|---|---:|---:|---:|\n", title)
		for _, row := range rows[:min(10, len(rows))] {
			fmt.Fprintf(w, "| %s | %d | %d | %.1f%% |\n", row.name, row.bytes>>10, row.zipped>>10, 100*float64(row.zipped)/float64(zipped))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "### %s: what takes the room\n\n", r.name)
	fmt.Fprintf(w, "%d KB loaded from the file, %.0f%% of it in symbols of packages; the rest by section, in parentheses. "+
		"\"zipped\" is each row deflated on its own: %d KB in all, against %d KB for the real zip.\n\n",
		total>>10, 100*float64(named)/float64(total), zipped>>10, r.zipSize>>10)
	table("package", slices.Clone(r.sizes))
	var modules []sizeRow
	for _, m := range byModule {
		modules = append(modules, *m)
	}
	table("module", modules)
}
